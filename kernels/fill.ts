/**
 * Fill a buffer with one value. Launch layout: 256 invocations per workgroup, one element each,
 * 2-D grid past 65535 workgroups.
 */
import { LINEAR_GROUP_INDEX, f32Bits, grid, type KernelSpec } from './kernel.js';

const WORKGROUP = 256;

export const fillKernel: KernelSpec = {
  name: 'fill',
  key: '',
  source: () => /* wgsl */ `
struct Params { n: u32, value: u32 }
@group(0) @binding(0) var<storage, read_write> O: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
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
