/** Shape arithmetic shared by ops and the CPU reference. */
import { MAX_RANK } from '../kernels/kernel.js';

export { MAX_RANK };

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkShape(shape: Shape, what = 'shape'): void {
  if (!Array.isArray(shape)) throw new Error(`${what} must be an array of sizes, got ${String(shape)}`);
  if (shape.length > MAX_RANK) throw new Error(`${what} ${formatShape(shape)} has rank ${shape.length}; at most ${MAX_RANK} is supported`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what} ${formatShape(shape)} must hold non-negative integers`);
  }
}

/** Row-major strides of a contiguous tensor. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** NumPy broadcasting: align trailing dims; each pair must be equal or contain a 1. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides to read `shape` as if broadcast to `outShape` (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => {
    const d = i - offset;
    return d < 0 || shape[d] === 1 ? 0 : own[d];
  });
}

/** Axes of `outShape` along which `shape` was broadcast (to sum a gradient back). */
export function broadcastAxes(shape: Shape, outShape: Shape): number[] {
  const offset = outShape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < outShape.length; i++) {
    const d = i - offset;
    if (d < 0 || (shape[d] === 1 && outShape[i] !== 1)) axes.push(i);
  }
  return axes;
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for a tensor of rank ${rank}`);
  return a;
}

/** Sorted, unique, non-negative axes; `undefined` means all. */
export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = [...new Set(list.map((a) => normalizeAxis(a, rank)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new Error(`axes [${list.join(', ')}] repeat an axis`);
  return out;
}

/** Shape after reducing `axes` (kept as 1 or dropped). */
export function reducedShape(shape: Shape, axes: readonly number[], keepDim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDim) out.push(1);
  });
  return out;
}

/** Resolve one `-1` in a reshape target. */
export function resolveReshape(from: Shape, to: Shape): number[] {
  const size = sizeOf(from);
  const unknown = to.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`reshape to ${formatShape(to)}: only one dimension can be -1`);
  const known = sizeOf(to.filter((d) => d !== -1));
  if (unknown === 1 && (known === 0 || size % known !== 0)) {
    throw new Error(`cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(to)}`);
  }
  const out = to.map((d) => (d === -1 ? size / known : d));
  checkShape(out, 'reshape target');
  if (sizeOf(out) !== size) {
    throw new Error(`cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(to)}`);
  }
  return out;
}

/** View a tensor as [outer, mid, inner] around `axis`. */
export function splitAtAxis(shape: Shape, axis: number): { outer: number; mid: number; inner: number } {
  return {
    outer: sizeOf(shape.slice(0, axis)),
    mid: shape[axis],
    inner: sizeOf(shape.slice(axis + 1)),
  };
}
