/**
 * Fused Adam / AdamW update of one parameter tensor: gradient (+ L2 weight decay for Adam),
 * both moment updates, bias correction and the parameter step in one pass, PyTorch's order of
 * operations (torch.optim.Adam, single-tensor path):
 *   g ← g + wd·p (Adam) | p ← p·(1 − lr·wd) (AdamW)
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   p ← p − stepSize · m / (sqrt(v) / sqrt(1 − β2^t) + eps),  stepSize = lr / (1 − β1^t)
 * Host-side scalars (step size, bias corrections, 1 − β) are computed in double, as PyTorch.
 * The scalars that change every step (lr, step size, bias correction) come from a small storage
 * buffer written once per step and shared by every parameter's launch, so each launch's
 * parameter block and bind group stay the same from step to step (and are reused).
 * Every launch also checks its gradient: a NaN or ±Inf value lowers `Flag[0]` to the step's
 * number (atomicMin), so the first step with a non-finite gradient is known after any number of
 * steps from one read — a check that costs no extra pass over the gradients.
 * Launch layout: 256 invocations per workgroup, one element each (four: see adamKernel).
 */
import { LINEAR_GROUP_INDEX, f32Bits, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

const ADAM = kernelFamily('adam');

export interface AdamConstants {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamStepScalars {
  lr: number;
  stepSize: number;
  biasCorrection2Sqrt: number;
  /** The step's number (1, 2, …), recorded in Flag when its gradient is not finite. */
  index: number;
}

/** Flag's value while no step had a non-finite gradient. */
export const ADAM_ALL_FINITE = 0xffffffff;

/**
 * `vec4`: 4 values per invocation (vec4 loads and stores) for tensors of a multiple of 4 values;
 * the same arithmetic per value.
 */
export function adamKernel(decoupled: boolean, vec4: boolean): KernelSpec {
  const value = vec4 ? 'vec4f' : 'f32';
  return ADAM.spec(`${decoupled ? 'adamw' : 'adam'}-${vec4 ? 'vec4' : 'scalar'}`, () => /* wgsl */ `
struct Step { lr: f32, stepSize: f32, bc2Sqrt: f32, index: u32 }
${kernelHeader({
  params: 'total: u32, beta1: u32, beta2: u32, eps: u32, weightDecay: u32, oneMinusBeta1: u32, oneMinusBeta2: u32',
  inputs: [['G', value], ['step', 'Step']],
  outputs: [['P', value], ['M', value], ['V', value], ['Flag', 'atomic<u32>']],
})}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i${vec4 ? ' * 4u' : ''} >= p.total) { return; }
  let beta1 = bitcast<f32>(p.beta1);
  let beta2 = bitcast<f32>(p.beta2);
  let wd = bitcast<f32>(p.weightDecay);
  var param = P[i];
  var g = G[i];
  // All exponent bits set: NaN or ±Inf.
  if (${vec4 ? 'any((bitcast<vec4u>(g) & vec4u(0x7f800000u)) == vec4u(0x7f800000u))' : '(bitcast<u32>(g) & 0x7f800000u) == 0x7f800000u'}) { atomicMin(&Flag[0], step.index); }
  ${decoupled ? 'param = param * (1.0 - step.lr * wd);' : 'g = g + wd * param;'}
  let m = beta1 * M[i] + bitcast<f32>(p.oneMinusBeta1) * g;
  let v = beta2 * V[i] + bitcast<f32>(p.oneMinusBeta2) * g * g;
  M[i] = m;
  V[i] = v;
  let denom = sqrt(v) / step.bc2Sqrt + bitcast<f32>(p.eps);
  P[i] = param - step.stepSize * (m / denom);
}`);
}

export function adamParams(total: number, c: AdamConstants): number[] {
  // 1 − β is formed in double on the host and rounded once, as PyTorch does with Python floats.
  return [total, ...[c.beta1, c.beta2, c.eps, c.weightDecay, 1 - c.beta1, 1 - c.beta2].map(f32Bits)];
}

/** The per-step storage block (in the kernel's Step order: three f32, then the u32 index). */
export function adamStepValues(s: AdamStepScalars): Float32Array {
  const out = Float32Array.of(s.lr, s.stepSize, s.biasCorrection2Sqrt, 0);
  new Uint32Array(out.buffer)[3] = s.index;
  return out;
}

/** Whether a tensor of `total` values takes the vec4 kernel. */
export function adamVec4(total: number): boolean {
  return total % 4 === 0;
}

export function adamGrid(total: number): [number, number, number] {
  return grid(Math.ceil(total / (adamVec4(total) ? 4 : 1) / WORKGROUP));
}
