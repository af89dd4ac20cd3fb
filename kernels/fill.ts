/**
 * Fill a buffer with one value. Launch layout: 256 invocations per workgroup, one element each,
 * 2-D grid past 65535 workgroups.
 */
import { LINEAR_GROUP_INDEX, f32Bits, grid, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

export const fillKernel: KernelSpec = {
  name: 'fill',
  key: '',
  source: () => /* wgsl */ `
${kernelHeader({ params: 'n: u32, value: u32', inputs: [], outputs: [['O', 'f32']] })}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i < p.n) { O[i] = bitcast<f32>(p.value); }
}`,
};

export function fillParams(n: number, value: number): number[] {
  return [n, f32Bits(value)];
}

export function fillGrid(n: number): [number, number, number] {
  return grid(Math.ceil(n / WORKGROUP));
}
