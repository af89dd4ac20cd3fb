/** Reshape (a view), concat, narrow and split. */
import { sliceCopyGrid, sliceCopyKernel, sliceCopyParams, sliceCopyVec4, type SliceCopy } from '../../kernels/slice-copy.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { formatShape, normalizeAxis, resolveReshape, splitAtAxis } from '../shape.js';
import { Tensor } from '../tensor.js';
import { zeros } from './creation.js';

function launchSliceCopy(src: Tensor, dst: Tensor, copy: SliceCopy): void {
  if (copy.outer * copy.length * copy.inner === 0) return;
  getRuntime().dispatch({
    kernel: sliceCopyKernel(sliceCopyVec4(copy)),
    inputs: [src.buffer],
    outputs: [dst.buffer],
    params: sliceCopyParams(copy),
    workgroups: sliceCopyGrid(copy),
  });
}

/** Same storage, new shape (one dim may be -1). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = resolveReshape(x.shape, shape);
  const out = x.viewAs(target);
  if (needsGrad([x])) record('reshape', [x], out, [], (g) => [g.viewAs(x.shape)]);
  return out;
}

/** Join tensors along `axis`; all other dims must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('concat(): needs at least one tensor');
  const first = tensors[0];
  const ax = normalizeAxis(axis, first.rank);
  for (const t of tensors) {
    const ok = t.rank === first.rank && t.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!ok) {
      throw new Error(`concat(): shapes ${tensors.map((u) => formatShape(u.shape)).join(', ')} differ outside axis ${ax}`);
    }
  }
  const sizes = tensors.map((t) => t.shape[ax]);
  const total = sizes.reduce((a, b) => a + b, 0);
  const outShape = first.shape.map((d, i) => (i === ax ? total : d));
  const out = Tensor.empty(outShape);
  const { outer, inner } = splitAtAxis(outShape, ax);
  let offset = 0;
  for (const t of tensors) {
    const length = t.shape[ax];
    launchSliceCopy(t, out, { outer, inner, length, srcMid: length, srcOffset: 0, dstMid: total, dstOffset: offset });
    offset += length;
  }
  if (needsGrad(tensors)) {
    record('concat', tensors, out, [], (g) => {
      let start = 0;
      return tensors.map((t, i) => {
        const piece = t.requiresGrad ? narrowRaw(g, ax, start, sizes[i]) : null;
        start += sizes[i];
        return piece;
      });
    });
  }
  return out;
}

function narrowRaw(x: Tensor, axis: number, start: number, length: number): Tensor {
  const outShape = x.shape.map((d, i) => (i === axis ? length : d));
  const out = Tensor.empty(outShape);
  const { outer, mid, inner } = splitAtAxis(x.shape, axis);
  launchSliceCopy(x, out, { outer, inner, length, srcMid: mid, srcOffset: start, dstMid: length, dstOffset: 0 });
  return out;
}

/** Elements [start, start + length) along `axis`, as a new tensor. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const ax = normalizeAxis(axis, x.rank);
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > x.shape[ax]) {
    throw new Error(`narrow(): [${start}, ${start + length}) is outside axis ${ax} of size ${x.shape[ax]}`);
  }
  const out = narrowRaw(x, ax, start, length);
  if (needsGrad([x])) {
    record('narrow', [x], out, [], (g) => {
      const gx = zeros(x.shape);
      const { outer, mid, inner } = splitAtAxis(x.shape, ax);
      launchSliceCopy(g, gx, { outer, inner, length, srcMid: length, srcOffset: 0, dstMid: mid, dstOffset: start });
      return [gx];
    });
  }
  return out;
}

/**
 * Split along `axis` like torch.split: a number gives chunks of that size (the last may be
 * smaller); an array gives the size of each piece and must add up to the axis size.
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxis(axis, x.rank);
  const dim = x.shape[ax];
  let pieces: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new Error(`split(): chunk size must be a positive integer, got ${sizes}`);
    pieces = [];
    for (let s = 0; s < dim; s += sizes) pieces.push(Math.min(sizes, dim - s));
  } else {
    pieces = [...sizes];
    if (pieces.reduce((a, b) => a + b, 0) !== dim || pieces.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new Error(`split(): sizes [${pieces.join(', ')}] must be non-negative and add up to ${dim} (axis ${ax})`);
    }
  }
  let start = 0;
  return pieces.map((length) => {
    const piece = narrow(x, ax, start, length);
    start += length;
    return piece;
  });
}
