/**
 * Sigmoid + binary cross-entropy on logits, fused and numerically stable:
 *   ℓ = (1 − y)·x + (1 + (pw − 1)·y)·(log1p(e^−|x|) + max(−x, 0))
 * (PyTorch's BCEWithLogits with pos_weight pw), finite for logits of ±100.
 *
 * Forward launch layout: 256 invocations per workgroup, each summing ELEMENTS_PER_INVOCATION
 * strided losses, then a shared-memory tree sum: one partial sum per workgroup, which a
 * reduce-sum pass turns into the mean. Backward: 256 per workgroup, one element each:
 *   dℓ/dx = (1 + (pw − 1)·y)·σ(x) − pw·y, times the upstream gradient / count.
 */
import { LINEAR_GROUP_INDEX, f32Bits, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

export const BCE_WORKGROUP = 256;
export const BCE_ELEMENTS_PER_INVOCATION = 16;
const ELEMENTS_PER_GROUP = BCE_WORKGROUP * BCE_ELEMENTS_PER_INVOCATION;

const PARAMS = 'total: u32, posWeight: u32, invCount: u32, pad: u32';

const HELPERS = `
// log(1 + e) for e in [0, 1], accurate also when e is tiny.
fn log1pSmall(e: f32) -> f32 {
  if (e < 1e-4) { return e * (1.0 - e * (0.5 - e / 3.0)); }
  return log(1.0 + e);
}
fn stableSigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}`;

export function bceParams(total: number, posWeight: number): number[] {
  return [total, f32Bits(posWeight), f32Bits(1 / total), 0];
}

export const bceForwardKernel: KernelSpec = kernelFamily('bce-logits-forward').spec('', () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['X', 'f32'], ['T', 'f32']], outputs: [['Partial', 'f32']] })}
${HELPERS}
var<workgroup> scratch: array<f32, ${BCE_WORKGROUP}>;

${entryPoint(BCE_WORKGROUP)} {
  let group = ${LINEAR_GROUP_INDEX};
  let pw = bitcast<f32>(p.posWeight);
  var acc = 0.0;
  for (var k = 0u; k < ${BCE_ELEMENTS_PER_INVOCATION}u; k++) {
    let i = group * ${ELEMENTS_PER_GROUP}u + k * ${BCE_WORKGROUP}u + lid;
    if (i < p.total) {
      let x = X[i];
      let y = T[i];
      acc += (1.0 - y) * x + (1.0 + (pw - 1.0) * y) * (log1pSmall(exp(-abs(x))) + max(-x, 0.0));
    }
  }
  scratch[lid] = acc;
  workgroupBarrier();
  for (var width = ${BCE_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) { scratch[lid] += scratch[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { Partial[group] = scratch[0]; }
}`);

export const bceBackwardKernel: KernelSpec = kernelFamily('bce-logits-backward').spec('', () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['X', 'f32'], ['T', 'f32'], ['G', 'f32']], outputs: [['DX', 'f32']] })}
${HELPERS}

${entryPoint(BCE_WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${BCE_WORKGROUP}u + lid;
  if (i >= p.total) { return; }
  let pw = bitcast<f32>(p.posWeight);
  let y = T[i];
  DX[i] = ((1.0 + (pw - 1.0) * y) * stableSigmoid(X[i]) - pw * y) * G[0] * bitcast<f32>(p.invCount);
}`);

export function bceForwardGroups(total: number): number {
  return Math.ceil(total / ELEMENTS_PER_GROUP);
}

export function bceForwardGrid(total: number): [number, number, number] {
  return grid(bceForwardGroups(total));
}

export function bceBackwardGrid(total: number): [number, number, number] {
  return grid(Math.ceil(total / BCE_WORKGROUP));
}
