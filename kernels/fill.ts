/**
 * Fill a buffer with one value. Launch layout: 256 invocations per workgroup, one element each,
 * 2-D grid past 65535 workgroups.
 */
import { LINEAR_GROUP_INDEX, f32Bits, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

export const fillKernel: KernelSpec = kernelFamily('fill').spec('', () => /* wgsl */ `
${kernelHeader({ params: 'n: u32, value: u32', inputs: [], outputs: [['O', 'f32']] })}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i < p.n) { O[i] = bitcast<f32>(p.value); }
}`);

export function fillParams(n: number, value: number): number[] {
  return [n, f32Bits(value)];
}

export function fillGrid(n: number): [number, number, number] {
  return grid(Math.ceil(n / WORKGROUP));
}

/**
 * Fill a buffer with noise in [-1, 1) hashed from each index and a seed (a PCG-style integer
 * hash): ordinary finite values made on the GPU, for work whose values do not matter but whose
 * cost does (the autotuner's operands). Same launch layout as fillKernel.
 */
export const noiseKernel: KernelSpec = kernelFamily('fill-noise').spec('', () => /* wgsl */ `
${kernelHeader({ params: 'n: u32, seed: u32', inputs: [], outputs: [['O', 'f32']] })}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.n) { return; }
  var h = (i ^ p.seed) * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  h = (h >> 22u) ^ h;
  O[i] = f32(h >> 8u) / 8388608.0 - 1.0;
}`);

export function noiseParams(n: number, seed: number): number[] {
  return [n, seed >>> 0];
}
