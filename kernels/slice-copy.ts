/**
 * Copy a slab along one axis between tensors viewed as [outer, mid, inner]: source rows
 * [srcOffset, srcOffset + length) of a source with `srcMid` rows go to rows starting at
 * `dstOffset` of a destination with `dstMid` rows. Serves concat (one launch per input), narrow
 * and narrow's backward. For each of the `outer` indices the slab is one contiguous block of
 * length·inner values in both tensors, so each invocation copies one value — or one vec4 when
 * every block start and length is a multiple of 4 (UNet's skip concats) — with a single
 * division to find its block. Launch layout: 256 invocations per workgroup.
 */
import { LINEAR_GROUP_INDEX, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

const SLICE_COPY = kernelFamily('slice-copy');

export function sliceCopyKernel(vec4: boolean): KernelSpec {
  const unit = vec4 ? 'vec4f' : 'f32';
  return SLICE_COPY.spec(vec4 ? 'vec4' : 'f32', () => /* wgsl */ `
${kernelHeader({ params: 'n: u32, block: u32, srcStride: u32, dstStride: u32, srcStart: u32, dstStart: u32', inputs: [['S', unit]], outputs: [['D', unit]] })}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.n) { return; }
  let o = i / p.block;
  let k = i - o * p.block;
  D[o * p.dstStride + p.dstStart + k] = S[o * p.srcStride + p.srcStart + k];
}`);
}

export interface SliceCopy {
  outer: number;
  inner: number;
  length: number;
  srcMid: number;
  srcOffset: number;
  dstMid: number;
  dstOffset: number;
}

/** Whether the copy can move vec4s: every block start, stride and length a multiple of 4 values. */
export function sliceCopyVec4(c: SliceCopy): boolean {
  return [c.length * c.inner, c.srcMid * c.inner, c.dstMid * c.inner, c.srcOffset * c.inner, c.dstOffset * c.inner].every((v) => v % 4 === 0);
}

export function sliceCopyParams(c: SliceCopy): number[] {
  const unit = sliceCopyVec4(c) ? 4 : 1;
  const block = (c.length * c.inner) / unit;
  return [c.outer * block, block, (c.srcMid * c.inner) / unit, (c.dstMid * c.inner) / unit, (c.srcOffset * c.inner) / unit, (c.dstOffset * c.inner) / unit];
}

export function sliceCopyGrid(c: SliceCopy): [number, number, number] {
  const unit = sliceCopyVec4(c) ? 4 : 1;
  return grid(Math.ceil((c.outer * c.length * c.inner) / unit / WORKGROUP));
}
