/**
 * How the tests judge values: {@link finiteDifferenceGrads} checks each reference backward
 * independently of it, and {@link relativeError} compares GPU results with the reference.
 * Must hold: both in float64; relativeError is norm-wise (max |a − b| / max |b|) and NaN-hostile.
 */
import { RefTensor, type RefOp } from './tensor.js';

/** Derivatives by central differences at some elements of one input. */
export interface FiniteDifferences {
  /** Flat indices of the elements checked. */
  indices: number[];
  /** The derivative at each of them. */
  values: number[];
}

/**
 * Derivatives of sum(op(inputs) · grad) by central differences in float64: an independent check
 * of each reference backward. Each input is checked at every element, or at `maxElements` of
 * them spread evenly from its first to its last — a backward's code is the same for every
 * element, and each one costs two forwards. The default step keeps the rounding error,
 * about 1e-16 · |objective| / step, well below 1e-6 of derivatives as small as a mean's over
 * 16k elements, and the truncation error, about step², below it too.
 */
export function finiteDifferenceGrads(op: RefOp, inputs: RefTensor[], grad: RefTensor, options: { step?: number; maxElements?: number } = {}): FiniteDifferences[] {
  const { step = 1e-5, maxElements = Infinity } = options;
  const objective = (xs: RefTensor[]) => {
    const out = op.forward(xs);
    let acc = 0;
    for (let i = 0; i < out.data.length; i++) acc += out.data[i] * grad.data[i];
    return acc;
  };
  return inputs.map((input, which) => {
    const indices = spread(input.data.length, maxElements);
    const values = indices.map((i) => {
      const plus = inputs.map((x, j) => (j === which ? x.map((v, k) => (k === i ? v + step : v)) : x));
      const minus = inputs.map((x, j) => (j === which ? x.map((v, k) => (k === i ? v - step : v)) : x));
      return (objective(plus) - objective(minus)) / (2 * step);
    });
    return { indices, values };
  });
}

/** min(n, m) indices of [0, n), evenly spread, the first and the last among them. */
function spread(n: number, m: number): number[] {
  if (n <= m) return Array.from({ length: n }, (_, i) => i);
  if (m <= 1) return [0];
  return Array.from({ length: m }, (_, k) => Math.round((k * (n - 1)) / (m - 1)));
}

/** max |a − b| / max |b| (norm-wise relative error; 0 when both are all zeros). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`relativeError: lengths ${actual.length} and ${expected.length} differ`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (Number.isNaN(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}
