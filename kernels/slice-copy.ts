/**
 * Copy a slab along one axis between tensors viewed as [outer, mid, inner]: source rows
 * [srcOffset, srcOffset + length) of a source with `srcMid` rows go to rows starting at
 * `dstOffset` of a destination with `dstMid` rows. Serves concat (one launch per input), narrow
 * and narrow's backward. Launch layout: 256 invocations per workgroup, one copied element each.
 */
import { LINEAR_GROUP_INDEX, grid, type KernelSpec } from './kernel.js';

const WORKGROUP = 256;

export const sliceCopyKernel: KernelSpec = {
  name: 'slice-copy',
  key: '',
  source: () => /* wgsl */ `
struct Params { n: u32, length: u32, inner: u32, srcMid: u32, dstMid: u32, srcOffset: u32, dstOffset: u32 }
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.n) { return; }
  let k = i % p.inner;
  let row = (i / p.inner) % p.length;
  let o = i / (p.inner * p.length);
  D[(o * p.dstMid + p.dstOffset + row) * p.inner + k] = S[(o * p.srcMid + p.srcOffset + row) * p.inner + k];
}`,
};

export interface SliceCopy {
  outer: number;
  inner: number;
  length: number;
  srcMid: number;
  srcOffset: number;
  dstMid: number;
  dstOffset: number;
}

export function sliceCopyParams(c: SliceCopy): number[] {
  return [c.outer * c.length * c.inner, c.length, c.inner, c.srcMid, c.dstMid, c.srcOffset, c.dstOffset];
}

export function sliceCopyGrid(c: SliceCopy): [number, number, number] {
  return grid(Math.ceil((c.outer * c.length * c.inner) / WORKGROUP));
}
