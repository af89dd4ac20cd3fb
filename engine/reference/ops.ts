/**
 * The reference op table {@link reference}: elementwise, reduction, layout and matmul ops, each a
 * factory taking the op's attributes and returning its forward and backward ({@link RefOp}).
 * Must hold: every backward is the exact gradient of its forward (checked against finite
 * differences in test/ops.test.ts); plain loops, clarity over speed.
 */
import { broadcastShapes, normalizeAxes, normalizeAxis, reducedShape, sizeOf, splitAtAxis } from '../shape.js';
import { RefTensor, broadcastIndex, refSumTo, sigmoid, type RefOp } from './tensor.js';

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

/** The `length` slices of `x` from `start` along `axis`. */
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
  leakyRelu: (slope: number): RefOp => unaryOp((x) => (x > 0 ? x : slope * x), (x) => (x > 0 ? 1 : slope)),
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

/** The name of an op in the {@link reference} table. */
export type ReferenceOpName = keyof typeof reference;
