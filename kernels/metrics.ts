/**
 * Segmentation metrics per image, reduced on the GPU so evaluation reads back five numbers per
 * image, not masks. Prediction = sigmoid(logit) > threshold; target = value > 0.5.
 * Output per image: [dice, iou, |P∩G|, |P|, |G|], with dice = 2|P∩G|/(|P|+|G|) and
 * iou = |P∩G|/|P∪G|, both 1 when prediction and target are empty.
 * Launch layout: one 256-invocation workgroup per image striding over its pixels, exact u32
 * counts, shared-memory tree sums.
 */
import { f32Bits, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

export const METRIC_FIELDS = ['dice', 'iou', 'intersection', 'predicted', 'target'] as const;

export const segmentationMetricsKernel: KernelSpec = kernelFamily('segmentation-metrics').spec('', () => /* wgsl */ `
${kernelHeader({ params: 'pixels: u32, threshold: u32', inputs: [['Logits', 'f32'], ['Target', 'f32']], outputs: [['Out', 'f32']] })}

var<workgroup> inter: array<u32, ${WORKGROUP}>;
var<workgroup> pred: array<u32, ${WORKGROUP}>;
var<workgroup> gt: array<u32, ${WORKGROUP}>;

${entryPoint(WORKGROUP, ['wid', 'lid'])} {
  let image = wid.x;
  let threshold = bitcast<f32>(p.threshold);
  var i = 0u;
  var pc = 0u;
  var gc = 0u;
  for (var k = lid; k < p.pixels; k += ${WORKGROUP}u) {
    let x = Logits[image * p.pixels + k];
    let e = exp(-abs(x));
    let prob = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
    let isPred = prob > threshold;
    let isGt = Target[image * p.pixels + k] > 0.5;
    pc += select(0u, 1u, isPred);
    gc += select(0u, 1u, isGt);
    i += select(0u, 1u, isPred && isGt);
  }
  inter[lid] = i;
  pred[lid] = pc;
  gt[lid] = gc;
  workgroupBarrier();
  for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) {
      inter[lid] += inter[lid + width];
      pred[lid] += pred[lid + width];
      gt[lid] += gt[lid + width];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let I = f32(inter[0]);
    let P = f32(pred[0]);
    let G = f32(gt[0]);
    let total = P + G;
    Out[image * 5u] = select(2.0 * I / total, 1.0, total == 0.0);
    Out[image * 5u + 1u] = select(I / (total - I), 1.0, total == 0.0);
    Out[image * 5u + 2u] = I;
    Out[image * 5u + 3u] = P;
    Out[image * 5u + 4u] = G;
  }
}`);

export function segmentationMetricsParams(pixels: number, threshold: number): number[] {
  return [pixels, f32Bits(threshold)];
}
