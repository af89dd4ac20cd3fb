/**
 * Whether tensors hold only finite values: each launch scans one tensor (four values per
 * invocation where its size allows) and sets `Flag[0]` to 1 where a value has every exponent bit
 * set — NaN or ±Inf, recognised by its bits so that no fast-math assumption folds the test away.
 * Launch layout: 256 invocations per workgroup, 2-D grid past 65535 workgroups.
 */
import { LINEAR_GROUP_INDEX, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

const NON_FINITE = kernelFamily('non-finite');
const UNSCALE = kernelFamily('unscale');

export function nonFiniteKernel(vec4: boolean): KernelSpec {
  return NON_FINITE.spec(vec4 ? 'vec4' : 'scalar', () => /* wgsl */ `
${kernelHeader({ params: 'n: u32', inputs: [['X', vec4 ? 'vec4f' : 'f32']], outputs: [['Flag', 'atomic<u32>']] })}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.n) { return; }
  if (${vec4 ? 'any((bitcast<vec4u>(X[i]) & vec4u(0x7f800000u)) == vec4u(0x7f800000u))' : '(bitcast<u32>(X[i]) & 0x7f800000u) == 0x7f800000u'}) { atomicMax(&Flag[0], 1u); }
}`);
}

/** Invocations and grid of a scan over `size` values. */
export function nonFiniteLaunch(size: number): { vec4: boolean; n: number; workgroups: [number, number, number] } {
  const vec4 = size % 4 === 0;
  const n = vec4 ? size / 4 : size;
  return { vec4, n, workgroups: grid(Math.ceil(n / WORKGROUP)) };
}

/**
 * Loss-scaler unscaling (engine/grad-scaler.ts): multiplies one gradient in place by 1/scale
 * (a power of two: exact unless the result underflows) and sets `Flag[0]` where a value is NaN
 * or ±Inf, as torch's _amp_foreach_non_finite_check_and_unscale_. Launch: as nonFiniteLaunch.
 */
export function unscaleKernel(vec4: boolean): KernelSpec {
  const value = vec4 ? 'vec4f' : 'f32';
  return UNSCALE.spec(vec4 ? 'vec4' : 'scalar', () => /* wgsl */ `
${kernelHeader({ params: 'n: u32, invScale: u32', inputs: [], outputs: [['X', value], ['Flag', 'atomic<u32>']] })}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.n) { return; }
  let x = X[i];
  if (${vec4 ? 'any((bitcast<vec4u>(x) & vec4u(0x7f800000u)) == vec4u(0x7f800000u))' : '(bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u'}) { atomicMax(&Flag[0], 1u); }
  X[i] = x * ${value}(bitcast<f32>(p.invScale));
}`);
}
