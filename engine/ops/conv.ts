/**
 * conv2d and conv-transpose2d (NCHW), forward and backward: argument checks and autograd here;
 * which kernels run each direction is the planner's (kernels/conv/plan.ts) and the autotuner's
 * (engine/autotune.ts) choice.
 *
 * Mixed precision (engine/autocast.ts, or any float16 operand): every direction reads float16
 * operands — the input and weight rounded once in the forward and saved so, dY rounded in the
 * backward — and writes float32, so the layer's output and its gradients are float32.
 */
import { convPlans, type ConvDirection, type ConvGeometry, type ConvOperandType, type ConvPlan } from '../../kernels/conv/index.js';
import { tableKeys } from '../conv-tuner.js';
import { isAutocasting } from '../autocast.js';
import { needsGrad, noGrad, record } from '../autograd.js';
import { getRuntime, type Runtime } from '../runtime.js';
import { formatShape, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { zeros } from './creation.js';
import { sum } from './reduce.js';

/** A size for both spatial dims, or [height, width] (like PyTorch's int or tuple arguments). */
export type Pair = number | readonly [number, number];

function pair(v: Pair | undefined, fallback: number, what: string): [number, number] {
  const out: [number, number] = v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!out.every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`${what} must be non-negative integers, got ${JSON.stringify(v)}`);
  return out;
}

/** The tensors a direction's kernels read (kernels/conv/plan.ts says which is which). */
export interface ConvOperands {
  src: Tensor;
  weight?: Tensor;
  grad?: Tensor;
  bias?: Tensor | null;
}

interface PlannedConv {
  plans: ConvPlan[];
  /** The autotuner's table keys (conv-tuner.ts tableKeys): the direction, the bucketed shape and the candidates' names. */
  keys: string[];
}

/** Plans by exact direction and geometry, per runtime: a training step asks for the same ones every step. */
const planCache = new WeakMap<Runtime, Map<string, PlannedConv>>();

function planned(runtime: Runtime, direction: ConvDirection, layer: ConvGeometry, hasBias: boolean, operands: ConvOperandType): PlannedConv {
  let cache = planCache.get(runtime);
  if (!cache) planCache.set(runtime, (cache = new Map()));
  const id = `${direction}|${Object.values(layer).join(',')}|${hasBias}|${operands}`;
  let entry = cache.get(id);
  if (!entry) {
    const plans = convPlans(direction, layer, runtime.caps, hasBias, runtime.settings.conv, operands);
    cache.set(id, (entry = { plans, keys: tableKeys(direction, layer, plans) }));
  }
  return entry;
}

/** The candidate plans of one direction, preferred first (the autotuner times them). */
export function convCandidates(direction: ConvDirection, layer: ConvGeometry, hasBias: boolean, operands: ConvOperandType = 'f32'): readonly ConvPlan[] {
  return planned(getRuntime(), direction, layer, hasBias, operands).plans;
}

const DTYPE_OF: Record<ConvOperandType, Tensor['dtype']> = { f32: 'float32', f16: 'float16' };

/** Runs one plan on the operands; returns its result. `flops`, for the profiler, is credited to the launch that writes the result. */
export function runConvPlan(plan: ConvPlan, operands: ConvOperands, flops?: number): Tensor {
  const runtime = getRuntime();
  // A weight gradient over no positions (an empty batch) is zero.
  if (operands.grad?.size === 0) return zeros(plan.shape);
  const out = Tensor.empty(plan.chunks > 1 ? [sizeOf(plan.shape), plan.chunks] : plan.shape);
  if (out.size === 0) return out;
  const packed = plan.packed > 0 ? Tensor.empty([plan.packed]) : null;
  const buffer = (role: string) => {
    const t = role === 'out' ? out : role === 'packed' ? packed : operands[role as keyof ConvOperands];
    if (!t) throw new Error(`conv plan ${plan.kernel}: no ${role} operand`);
    // The bias and the kernels' own buffers are float32 in every plan.
    const dtype = role === 'src' || role === 'weight' || role === 'grad' ? DTYPE_OF[plan.operands] : 'float32';
    if (t.dtype !== dtype) throw new Error(`internal: conv plan ${plan.kernel} reads a ${dtype} ${role}, got ${t.dtype}`);
    return t.storage.buffer;
  };
  const last = plan.launches.map((l) => l.output).lastIndexOf('out');
  plan.launches.forEach((launch, i) => {
    runtime.dispatch({ kernel: launch.kernel, inputs: launch.inputs.map(buffer), outputs: [buffer(launch.output)], params: launch.params, workgroups: launch.workgroups, flops: i === last ? flops : undefined });
  });
  packed?.dispose();
  if (plan.chunks === 1) return out;
  // Per-chunk partial sums [result, chunks]: add them up.
  const summed = sum(out, 1);
  out.dispose();
  const result = summed.viewAs(plan.shape);
  summed.dispose();
  return result;
}

/** While convKernelsUsed runs: the candidates chosen. */
let used: Set<string> | null = null;

/** Runs `record` (synchronous GPU work) and returns the candidate kernels its convolutions ran (kernels/conv/plan.ts names). */
export function convKernelsUsed(record: () => void): Set<string> {
  const outer = used;
  used = new Set();
  try {
    record();
    return used;
  } finally {
    for (const k of used) outer?.add(k);
    used = outer;
  }
}

/** One direction of a convolution layer: the tuned plan, or the planner's first. The operands' type is `src`'s. */
function runConv(direction: ConvDirection, layer: ConvGeometry, operands: ConvOperands): Tensor {
  const runtime = getRuntime();
  const hasBias = Boolean(operands.bias);
  const type: ConvOperandType = operands.src.dtype === 'float16' ? 'f16' : 'f32';
  const { keys, plans } = planned(runtime, direction, layer, hasBias, type);
  runtime.tuner.note({ key: keys[0], direction, layer, hasBias, operands: type }, plans.length);
  const plan = runtime.tuner.choose(keys, plans);
  used?.add(plan.kernel);
  // Every direction of a layer does the same multiply-adds: one per weight tap per position of the convolution's strided side.
  const positions = direction.startsWith('transpose') ? layer.srcH * layer.srcW : layer.dstH * layer.dstW;
  return runConvPlan(plan, operands, 2 * layer.batch * layer.srcChannels * layer.dstChannels * layer.kh * layer.kw * positions);
}

/** Options of {@link conv2d}: stride (default 1) and zero padding (default 0), per spatial dim. */
export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
}

function conv2dGeometry(xShape: readonly number[], weightShape: readonly number[], options: Conv2dOptions): ConvGeometry {
  const [sh, sw] = pair(options.stride, 1, 'conv2d stride');
  const [ph, pw] = pair(options.padding, 0, 'conv2d padding');
  if (sh === 0 || sw === 0) throw new Error('conv2d: stride must be at least 1');
  if (xShape.length !== 4 || weightShape.length !== 4 || weightShape[1] !== xShape[1]) {
    throw new Error(`conv2d: needs x [N,Cin,H,W] and weight [Cout,Cin,KH,KW], got ${formatShape(xShape)} and ${formatShape(weightShape)}`);
  }
  const [N, Cin, H, W] = xShape;
  const [Cout, , KH, KW] = weightShape;
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`conv2d: input ${formatShape(xShape)} is smaller than the ${KH}×${KW} kernel with padding ${ph},${pw}`);
  return { batch: N, srcChannels: Cin, srcH: H, srcW: W, dstChannels: Cout, dstH: OH, dstW: OW, kh: KH, kw: KW, strideH: sh, strideW: sw, padH: ph, padW: pw };
}

/** Whether a convolution on these operands runs in mixed precision: inside autocast(), or given any float16 operand. */
function mixed(tensors: readonly Tensor[]): boolean {
  return isAutocasting() || tensors.some((t) => t.dtype === 'float16');
}

/** Operands of the convolution's type, for the duration of `run`: copies made here are released after. */
function withOperands<T>(half: boolean, tensors: readonly Tensor[], run: (operands: Tensor[]) => T): T {
  const dtype = half ? 'float16' : 'float32';
  const converted = tensors.map((t) => (t.dtype === dtype ? t : noGrad(() => cast(t, dtype))));
  try {
    return run(converted);
  } finally {
    converted.forEach((t, i) => t !== tensors[i] && t.dispose());
  }
}

/** The backward of both convolutions: each needed gradient from dY (rounded to the forward's operand type), all float32. */
function convBackward(direction: 'conv2d' | 'convTranspose2d', layer: ConvGeometry, half: boolean, wants: { x: boolean; weight: boolean; bias: boolean | null }) {
  const [gradInput, gradWeight]: ConvDirection[] = direction === 'conv2d' ? ['grad-input', 'grad-weight'] : ['transpose-grad-input', 'transpose-grad-weight'];
  return (g: Tensor, [sx, sw]: Tensor[]) =>
    withOperands(half, [g], ([dy]) => {
      const gx = wants.x ? runConv(gradInput, layer, { src: dy, weight: sw }) : null;
      // conv2d's weight gradient sums x against dY; conv-transpose's sums dY against x.
      const gw = wants.weight ? runConv(gradWeight, layer, direction === 'conv2d' ? { src: sx, grad: dy } : { src: dy, grad: sx }) : null;
      const gb = wants.bias ? sum(g, [0, 2, 3]) : null;
      return wants.bias === null ? [gx, gw] : [gx, gw, gb];
    });
}

/** conv2d's gradient with respect to its input x of shape `xShape`, from dY (like torch.nn.grad.conv2d_input). */
export function conv2dGradInput(dy: Tensor, weight: Tensor, xShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  const layer = conv2dGeometry(xShape, weight.shape, options);
  return withOperands(mixed([dy, weight]), [dy, weight], ([src, w]) => runConv('grad-input', layer, { src, weight: w }));
}

/** conv2d's gradient with respect to a weight of shape `weightShape`, from dY and x (like torch.nn.grad.conv2d_weight). */
export function conv2dGradWeight(dy: Tensor, x: Tensor, weightShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  const layer = conv2dGeometry(x.shape, weightShape, options);
  return withOperands(mixed([dy, x]), [x, dy], ([src, grad]) => runConv('grad-weight', layer, { src, grad }));
}

/** 2-D convolution: x [N,Cin,H,W], weight [Cout,Cin,KH,KW], bias [Cout] (like torch.nn.functional.conv2d). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const layer = conv2dGeometry(x.shape, weight.shape, options);
  const Cout = layer.dstChannels;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout || bias.dtype !== 'float32')) throw new Error(`conv2d: bias must be float32 [${Cout}], got ${bias.dtype} ${formatShape(bias.shape)}`);
  const half = mixed([x, weight]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return withOperands(half, [x, weight], ([sx, sw]) => {
    const out = runConv('forward', layer, { src: sx, weight: sw, bias });
    if (needsGrad(inputs)) record('conv2d', inputs, out, [sx, sw], convBackward('conv2d', layer, half, { x: x.requiresGrad, weight: weight.requiresGrad, bias: bias ? bias.requiresGrad : null }));
    return out;
  });
}

/**
 * Options of {@link convTranspose2d}: conv2d's, and PyTorch's output_padding (default 0, less than
 * the stride), which adds to the output's height and width.
 */
export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/**
 * Transposed 2-D convolution: x [N,Cin,H,W], weight [Cin,Cout,KH,KW], bias [Cout]; output size
 * (H−1)·stride − 2·padding + KH + outputPadding (like torch.nn.functional.conv_transpose2d).
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  const [sh, sw] = pair(options.stride, 1, 'convTranspose2d stride');
  const [ph, pw] = pair(options.padding, 0, 'convTranspose2d padding');
  const [oph, opw] = pair(options.outputPadding, 0, 'convTranspose2d outputPadding');
  if (sh === 0 || sw === 0) throw new Error('convTranspose2d: stride must be at least 1');
  if (oph >= sh || opw >= sw) throw new Error('convTranspose2d: outputPadding must be smaller than stride');
  if (x.rank !== 4 || weight.rank !== 4 || weight.shape[0] !== x.shape[1]) {
    throw new Error(`convTranspose2d: needs x [N,Cin,H,W] and weight [Cin,Cout,KH,KW], got ${formatShape(x.shape)} and ${formatShape(weight.shape)}`);
  }
  const [N, Cin, H, W] = x.shape;
  const [, Cout, KH, KW] = weight.shape;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout || bias.dtype !== 'float32')) throw new Error(`convTranspose2d: bias must be float32 [${Cout}], got ${bias.dtype} ${formatShape(bias.shape)}`);
  const OH = (H - 1) * sh - 2 * ph + KH + oph;
  const OW = (W - 1) * sw - 2 * pw + KW + opw;
  if (OH < 1 || OW < 1) throw new Error(`convTranspose2d: padding ${ph},${pw} leaves no output for input ${formatShape(x.shape)}`);
  const layer: ConvGeometry = { batch: N, srcChannels: Cin, srcH: H, srcW: W, dstChannels: Cout, dstH: OH, dstW: OW, kh: KH, kw: KW, strideH: sh, strideW: sw, padH: ph, padW: pw };
  const half = mixed([x, weight]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return withOperands(half, [x, weight], ([sx, sw_]) => {
    const out = runConv('transpose-forward', layer, { src: sx, weight: sw_, bias });
    if (needsGrad(inputs)) record('convTranspose2d', inputs, out, [sx, sw_], convBackward('convTranspose2d', layer, half, { x: x.requiresGrad, weight: weight.requiresGrad, bias: bias ? bias.requiresGrad : null }));
    return out;
  });
}
