/**
 * Plain-TypeScript CPU reference of every engine op, forward and backward, in float64.
 * It is the test oracle for the WGSL kernels, and its backwards are themselves checked against
 * finite differences ({@link finiteDifferenceGrads}). Clarity over speed: straight loops only.
 */
import { broadcastShapes, normalizeAxes, normalizeAxis, reducedShape, sizeOf, splitAtAxis, stridesOf, type Shape } from './shape.js';

export class RefTensor {
  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
  ) {
    if (data.length !== sizeOf(shape)) throw new Error(`RefTensor: ${data.length} values for shape [${shape}]`);
  }

  static from(data: ArrayLike<number>, shape: Shape): RefTensor {
    return new RefTensor([...shape], Float64Array.from(data));
  }

  static zeros(shape: Shape): RefTensor {
    return new RefTensor([...shape], new Float64Array(sizeOf(shape)));
  }

  map(f: (v: number, i: number) => number): RefTensor {
    return new RefTensor(this.shape, this.data.map(f));
  }
}

/** One op: forward, and the gradients of its inputs given the output's gradient. */
export interface RefOp {
  forward(inputs: RefTensor[]): RefTensor;
  backward(inputs: RefTensor[], grad: RefTensor): RefTensor[];
}

/** Index of `outIndex` (of `outShape`) in a tensor of `shape` broadcast to it. */
function broadcastIndex(outIndex: number, outShape: Shape, shape: Shape): number {
  const strides = stridesOf(shape);
  const offset = outShape.length - shape.length;
  let rem = outIndex;
  let index = 0;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const c = rem % outShape[d];
    rem = Math.floor(rem / outShape[d]);
    const sd = d - offset;
    if (sd >= 0 && shape[sd] !== 1) index += c * strides[sd];
  }
  return index;
}

/** Sum `g` (of a broadcast shape) back onto `shape`. */
export function refSumTo(g: RefTensor, shape: Shape): RefTensor {
  const out = RefTensor.zeros(shape);
  for (let i = 0; i < g.data.length; i++) out.data[broadcastIndex(i, g.shape, shape)] += g.data[i];
  return out;
}

function binaryForward(a: RefTensor, b: RefTensor, f: (x: number, y: number) => number): RefTensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const out = RefTensor.zeros(shape);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = f(a.data[broadcastIndex(i, shape, a.shape)], b.data[broadcastIndex(i, shape, b.shape)]);
  }
  return out;
}

/** Binary op with broadcasting; `partials` gives (d/da, d/db) at one point. */
function binaryOp(f: (x: number, y: number) => number, partials: (x: number, y: number) => [number, number]): RefOp {
  return {
    forward: ([a, b]) => binaryForward(a, b, f),
    backward: ([a, b], g) => {
      const ga = RefTensor.zeros(g.shape);
      const gb = RefTensor.zeros(g.shape);
      for (let i = 0; i < g.data.length; i++) {
        const [da, db] = partials(a.data[broadcastIndex(i, g.shape, a.shape)], b.data[broadcastIndex(i, g.shape, b.shape)]);
        ga.data[i] = g.data[i] * da;
        gb.data[i] = g.data[i] * db;
      }
      return [refSumTo(ga, a.shape), refSumTo(gb, b.shape)];
    },
  };
}

/** Unary op; `derivative` at one input value. */
function unaryOp(f: (x: number) => number, derivative: (x: number) => number): RefOp {
  return {
    forward: ([x]) => x.map(f),
    backward: ([x], g) => [g.map((gv, i) => gv * derivative(x.data[i]))],
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function reduceOp(axesArg: number | readonly number[] | undefined, keepDim: boolean, mean: boolean): RefOp {
  return {
    forward: ([x]) => {
      const axes = normalizeAxes(axesArg, x.shape.length);
      const count = sizeOf(axes.map((a) => x.shape[a]));
      const keptShape = reducedShape(x.shape, axes, true);
      const out = refSumTo(x, keptShape);
      return new RefTensor(reducedShape(x.shape, axes, keepDim), mean ? out.data.map((v) => v / count) : out.data);
    },
    backward: ([x], g) => {
      const axes = normalizeAxes(axesArg, x.shape.length);
      const count = sizeOf(axes.map((a) => x.shape[a]));
      const keptShape = reducedShape(x.shape, axes, true);
      const out = RefTensor.zeros(x.shape);
      for (let i = 0; i < out.data.length; i++) {
        out.data[i] = g.data[broadcastIndex(i, x.shape, keptShape)] / (mean ? count : 1);
      }
      return [out];
    },
  };
}

function slab(x: RefTensor, axis: number, start: number, length: number): RefTensor {
  const { outer, mid, inner } = splitAtAxis(x.shape, axis);
  const shape = x.shape.map((d, i) => (i === axis ? length : d));
  const out = RefTensor.zeros(shape);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < length; r++) {
      for (let k = 0; k < inner; k++) out.data[(o * length + r) * inner + k] = x.data[(o * mid + start + r) * inner + k];
    }
  }
  return out;
}

function matmulRef(a: RefTensor, b: RefTensor, transA: boolean, transB: boolean): RefTensor {
  const M = transA ? a.shape[1] : a.shape[0];
  const K = transA ? a.shape[0] : a.shape[1];
  const N = transB ? b.shape[0] : b.shape[1];
  const out = RefTensor.zeros([M, N]);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        acc += (transA ? a.data[k * M + i] : a.data[i * K + k]) * (transB ? b.data[j * K + k] : b.data[k * N + j]);
      }
      out.data[i * N + j] = acc;
    }
  }
  return out;
}

/** Reference ops by name; ops with attributes are factories. */
export const reference = {
  add: (): RefOp => binaryOp((x, y) => x + y, () => [1, 1]),
  sub: (): RefOp => binaryOp((x, y) => x - y, () => [1, -1]),
  mul: (): RefOp => binaryOp((x, y) => x * y, (x, y) => [y, x]),
  div: (): RefOp => binaryOp((x, y) => x / y, (x, y) => [1 / y, -x / (y * y)]),
  addScalar: (s: number): RefOp => unaryOp((x) => x + s, () => 1),
  subScalar: (s: number): RefOp => unaryOp((x) => x - s, () => 1),
  rsubScalar: (s: number): RefOp => unaryOp((x) => s - x, () => -1),
  mulScalar: (s: number): RefOp => unaryOp((x) => x * s, () => s),
  divScalar: (s: number): RefOp => unaryOp((x) => x / s, () => 1 / s),
  neg: (): RefOp => unaryOp((x) => -x, () => -1),
  relu: (): RefOp => unaryOp((x) => Math.max(x, 0), (x) => (x > 0 ? 1 : 0)),
  sigmoid: (): RefOp => unaryOp(sigmoid, (x) => sigmoid(x) * (1 - sigmoid(x))),
  exp: (): RefOp => unaryOp(Math.exp, Math.exp),
  log: (): RefOp => unaryOp(Math.log, (x) => 1 / x),
  sum: (axes?: number | readonly number[], keepDim = false): RefOp => reduceOp(axes, keepDim, false),
  mean: (axes?: number | readonly number[], keepDim = false): RefOp => reduceOp(axes, keepDim, true),
  reshape: (shape: readonly number[]): RefOp => ({
    forward: ([x]) => new RefTensor([...shape], x.data.slice()),
    backward: ([x], g) => [new RefTensor(x.shape, g.data.slice())],
  }),
  concat: (axis: number): RefOp => ({
    forward: (xs) => {
      const ax = normalizeAxis(axis, xs[0].shape.length);
      const total = xs.reduce((s, x) => s + x.shape[ax], 0);
      const shape = xs[0].shape.map((d, i) => (i === ax ? total : d));
      const out = RefTensor.zeros(shape);
      const { outer, inner } = splitAtAxis(shape, ax);
      let offset = 0;
      for (const x of xs) {
        const len = x.shape[ax];
        for (let o = 0; o < outer; o++) {
          for (let r = 0; r < len; r++) {
            for (let k = 0; k < inner; k++) out.data[(o * total + offset + r) * inner + k] = x.data[(o * len + r) * inner + k];
          }
        }
        offset += len;
      }
      return out;
    },
    backward: (xs, g) => {
      const ax = normalizeAxis(axis, xs[0].shape.length);
      let offset = 0;
      return xs.map((x) => {
        const piece = slab(g, ax, offset, x.shape[ax]);
        offset += x.shape[ax];
        return piece;
      });
    },
  }),
  narrow: (axis: number, start: number, length: number): RefOp => ({
    forward: ([x]) => slab(x, normalizeAxis(axis, x.shape.length), start, length),
    backward: ([x], g) => {
      const ax = normalizeAxis(axis, x.shape.length);
      const { outer, mid, inner } = splitAtAxis(x.shape, ax);
      const out = RefTensor.zeros(x.shape);
      for (let o = 0; o < outer; o++) {
        for (let r = 0; r < length; r++) {
          for (let k = 0; k < inner; k++) out.data[(o * mid + start + r) * inner + k] = g.data[(o * length + r) * inner + k];
        }
      }
      return [out];
    },
  }),
  matmul: (): RefOp => ({
    forward: ([a, b]) => matmulRef(a, b, false, false),
    backward: ([a, b], g) => [matmulRef(g, b, false, true), matmulRef(a, g, true, false)],
  }),
};

export type ReferenceOpName = keyof typeof reference;

/**
 * Gradients of sum(op(inputs) · grad) by central differences in float64: an independent check
 * of each reference backward.
 */
export function finiteDifferenceGrads(op: RefOp, inputs: RefTensor[], grad: RefTensor, step = 1e-6): RefTensor[] {
  const objective = (xs: RefTensor[]) => {
    const out = op.forward(xs);
    let acc = 0;
    for (let i = 0; i < out.data.length; i++) acc += out.data[i] * grad.data[i];
    return acc;
  };
  return inputs.map((input, which) => {
    const result = RefTensor.zeros(input.shape);
    for (let i = 0; i < input.data.length; i++) {
      const plus = inputs.map((x, j) => (j === which ? x.map((v, k) => (k === i ? v + step : v)) : x));
      const minus = inputs.map((x, j) => (j === which ? x.map((v, k) => (k === i ? v - step : v)) : x));
      result.data[i] = (objective(plus) - objective(minus)) / (2 * step);
    }
    return result;
  });
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
