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

// ---- layers (issue: kernels) ----

export interface RefConvGeometry {
  stride: [number, number];
  padding: [number, number];
}

/** conv2d: x [N,Ci,H,W], w [Co,Ci,KH,KW], optional bias [Co]. */
function conv2dForward(x: RefTensor, w: RefTensor, b: RefTensor | null, { stride: [sh, sw], padding: [ph, pw] }: RefConvGeometry): RefTensor {
  const [N, Ci, H, W] = x.shape;
  const [Co, , KH, KW] = w.shape;
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  const out = RefTensor.zeros([N, Co, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Co; o++)
      for (let y = 0; y < OH; y++)
        for (let xx = 0; xx < OW; xx++) {
          let acc = b ? b.data[o] : 0;
          for (let i = 0; i < Ci; i++)
            for (let kh = 0; kh < KH; kh++) {
              const iy = y * sh + kh - ph;
              if (iy < 0 || iy >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ix = xx * sw + kw - pw;
                if (ix < 0 || ix >= W) continue;
                acc += x.data[((n * Ci + i) * H + iy) * W + ix] * w.data[((o * Ci + i) * KH + kh) * KW + kw];
              }
            }
          out.data[((n * Co + o) * OH + y) * OW + xx] = acc;
        }
  return out;
}

/** Gradients of conv2d by scattering each output gradient back through its window. */
function conv2dBackward(x: RefTensor, w: RefTensor, g: RefTensor, { stride: [sh, sw], padding: [ph, pw] }: RefConvGeometry): [RefTensor, RefTensor, RefTensor] {
  const [N, Ci, H, W] = x.shape;
  const [Co, , KH, KW] = w.shape;
  const [, , OH, OW] = g.shape;
  const gx = RefTensor.zeros(x.shape);
  const gw = RefTensor.zeros(w.shape);
  const gb = RefTensor.zeros([Co]);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Co; o++)
      for (let y = 0; y < OH; y++)
        for (let xx = 0; xx < OW; xx++) {
          const gv = g.data[((n * Co + o) * OH + y) * OW + xx];
          gb.data[o] += gv;
          for (let i = 0; i < Ci; i++)
            for (let kh = 0; kh < KH; kh++) {
              const iy = y * sh + kh - ph;
              if (iy < 0 || iy >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ix = xx * sw + kw - pw;
                if (ix < 0 || ix >= W) continue;
                const xi = ((n * Ci + i) * H + iy) * W + ix;
                const wi = ((o * Ci + i) * KH + kh) * KW + kw;
                gx.data[xi] += gv * w.data[wi];
                gw.data[wi] += gv * x.data[xi];
              }
            }
        }
  return [gx, gw, gb];
}

/** conv-transpose2d: x [N,Ci,H,W], w [Ci,Co,KH,KW]: every input pixel scatters a weighted kernel. */
function convTranspose2dForward(
  x: RefTensor,
  w: RefTensor,
  b: RefTensor | null,
  { stride: [sh, sw], padding: [ph, pw] }: RefConvGeometry,
  [oph, opw]: [number, number],
): RefTensor {
  const [N, Ci, H, W] = x.shape;
  const [, Co, KH, KW] = w.shape;
  const OH = (H - 1) * sh - 2 * ph + KH + oph;
  const OW = (W - 1) * sw - 2 * pw + KW + opw;
  const out = RefTensor.zeros([N, Co, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Co; o++) for (let k = 0; k < OH * OW; k++) out.data[(n * Co + o) * OH * OW + k] = b ? b.data[o] : 0;
  for (let n = 0; n < N; n++)
    for (let i = 0; i < Ci; i++)
      for (let y = 0; y < H; y++)
        for (let xx = 0; xx < W; xx++) {
          const xv = x.data[((n * Ci + i) * H + y) * W + xx];
          for (let o = 0; o < Co; o++)
            for (let kh = 0; kh < KH; kh++) {
              const oy = y * sh - ph + kh;
              if (oy < 0 || oy >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ox = xx * sw - pw + kw;
                if (ox < 0 || ox >= OW) continue;
                out.data[((n * Co + o) * OH + oy) * OW + ox] += xv * w.data[((i * Co + o) * KH + kh) * KW + kw];
              }
            }
        }
  return out;
}

function convTranspose2dBackward(x: RefTensor, w: RefTensor, g: RefTensor, { stride: [sh, sw], padding: [ph, pw] }: RefConvGeometry): [RefTensor, RefTensor, RefTensor] {
  const [N, Ci, H, W] = x.shape;
  const [, Co, KH, KW] = w.shape;
  const [, , OH, OW] = g.shape;
  const gx = RefTensor.zeros(x.shape);
  const gw = RefTensor.zeros(w.shape);
  const gb = RefTensor.zeros([Co]);
  for (let k = 0; k < g.data.length; k++) gb.data[Math.floor(k / (OH * OW)) % Co] += g.data[k];
  for (let n = 0; n < N; n++)
    for (let i = 0; i < Ci; i++)
      for (let y = 0; y < H; y++)
        for (let xx = 0; xx < W; xx++) {
          const xi = ((n * Ci + i) * H + y) * W + xx;
          for (let o = 0; o < Co; o++)
            for (let kh = 0; kh < KH; kh++) {
              const oy = y * sh - ph + kh;
              if (oy < 0 || oy >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ox = xx * sw - pw + kw;
                if (ox < 0 || ox >= OW) continue;
                const gv = g.data[((n * Co + o) * OH + oy) * OW + ox];
                const wi = ((i * Co + o) * KH + kh) * KW + kw;
                gx.data[xi] += gv * w.data[wi];
                gw.data[wi] += gv * x.data[xi];
              }
            }
        }
  return [gx, gw, gb];
}

/** Per-channel mean and biased variance over N, H, W. */
function channelStats(x: RefTensor): { mean: number[]; variance: number[] } {
  const [N, C, H, W] = x.shape;
  const M = N * H * W;
  const mean = new Array<number>(C).fill(0);
  const variance = new Array<number>(C).fill(0);
  for (let k = 0; k < x.data.length; k++) mean[Math.floor(k / (H * W)) % C] += x.data[k] / M;
  for (let k = 0; k < x.data.length; k++) variance[Math.floor(k / (H * W)) % C] += (x.data[k] - mean[Math.floor(k / (H * W)) % C]) ** 2 / M;
  return { mean, variance };
}

export interface RefBatchNormOptions {
  training: boolean;
  eps: number;
  /** Eval mode: the running statistics. */
  runningMean?: number[];
  runningVar?: number[];
}

/** Running statistics after one training step (momentum update, unbiased variance). */
export function refBatchNormRunningUpdate(x: RefTensor, runningMean: number[], runningVar: number[], momentum: number): { mean: number[]; variance: number[] } {
  const { mean, variance } = channelStats(x);
  const [N, , H, W] = x.shape;
  const M = N * H * W;
  return {
    mean: runningMean.map((r, c) => (1 - momentum) * r + momentum * mean[c]),
    variance: runningVar.map((r, c) => (1 - momentum) * r + (momentum * variance[c] * M) / (M - 1)),
  };
}

function batchNormOp(options: RefBatchNormOptions): RefOp {
  const statsOf = (x: RefTensor) =>
    options.training ? channelStats(x) : { mean: options.runningMean!, variance: options.runningVar! };
  return {
    forward: ([x, gamma, beta]) => {
      const { mean, variance } = statsOf(x);
      const [, C, H, W] = x.shape;
      return x.map((v, k) => {
        const c = Math.floor(k / (H * W)) % C;
        return ((v - mean[c]) / Math.sqrt(variance[c] + options.eps)) * gamma.data[c] + beta.data[c];
      });
    },
    backward: ([x, gamma], g) => {
      const { mean, variance } = statsOf(x);
      const [N, C, H, W] = x.shape;
      const M = N * H * W;
      const invstd = variance.map((v) => 1 / Math.sqrt(v + options.eps));
      const xhat = x.map((v, k) => (v - mean[Math.floor(k / (H * W)) % C]) * invstd[Math.floor(k / (H * W)) % C]);
      const dgamma = RefTensor.zeros([C]);
      const dbeta = RefTensor.zeros([C]);
      for (let k = 0; k < g.data.length; k++) {
        const c = Math.floor(k / (H * W)) % C;
        dgamma.data[c] += g.data[k] * xhat.data[k];
        dbeta.data[c] += g.data[k];
      }
      const dx = g.map((gv, k) => {
        const c = Math.floor(k / (H * W)) % C;
        const scale = gamma.data[c] * invstd[c];
        return options.training ? scale * (gv - dbeta.data[c] / M - (xhat.data[k] * dgamma.data[c]) / M) : scale * gv;
      });
      return [dx, dgamma, dbeta];
    },
  };
}

function maxPoolArgmax(x: RefTensor, k: [number, number], s: [number, number], p: [number, number]): { out: RefTensor; argmax: number[] } {
  const [N, C, H, W] = x.shape;
  const OH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1;
  const OW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
  const out = RefTensor.zeros([N, C, OH, OW]);
  const argmax: number[] = [];
  for (let plane = 0; plane < N * C; plane++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let best = -Infinity;
        let bestIndex = -1;
        for (let kh = 0; kh < k[0]; kh++)
          for (let kw = 0; kw < k[1]; kw++) {
            const iy = oy * s[0] + kh - p[0];
            const ix = ox * s[1] + kw - p[1];
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = x.data[plane * H * W + iy * W + ix];
            if (bestIndex < 0 || v > best) {
              best = v;
              bestIndex = iy * W + ix;
            }
          }
        out.data[(plane * OH + oy) * OW + ox] = best;
        argmax.push(plane * H * W + bestIndex);
      }
  return { out, argmax };
}

const sigmoid64 = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));


/** Reference layers; like `reference`, factories taking the op's attributes. Inputs in op argument order. */
export const referenceLayers = {
  conv2d: (stride: [number, number], padding: [number, number]): RefOp => ({
    forward: ([x, w, b]) => conv2dForward(x, w, b ?? null, { stride, padding }),
    backward: ([x, w, b], g) => conv2dBackward(x, w, g, { stride, padding }).slice(0, b ? 3 : 2),
  }),
  convTranspose2d: (stride: [number, number], padding: [number, number], outputPadding: [number, number] = [0, 0]): RefOp => ({
    forward: ([x, w, b]) => convTranspose2dForward(x, w, b ?? null, { stride, padding }, outputPadding),
    backward: ([x, w, b], g) => convTranspose2dBackward(x, w, g, { stride, padding }).slice(0, b ? 3 : 2),
  }),
  /** Inputs: x, weight (gamma), bias (beta). */
  batchNorm2d: (options: RefBatchNormOptions): RefOp => batchNormOp(options),
  maxPool2d: (kernel: [number, number], stride: [number, number], padding: [number, number]): RefOp => ({
    forward: ([x]) => maxPoolArgmax(x, kernel, stride, padding).out,
    backward: ([x], g) => {
      const { argmax } = maxPoolArgmax(x, kernel, stride, padding);
      const gx = RefTensor.zeros(x.shape);
      argmax.forEach((src, o) => (gx.data[src] += g.data[o]));
      return [gx];
    },
  }),
  /** Inputs: logits, targets; the targets' gradient is not computed (zeros). */
  bceWithLogits: (posWeight = 1): RefOp => ({
    forward: ([x, t]) => {
      let acc = 0;
      for (let i = 0; i < x.data.length; i++) {
        const v = x.data[i];
        const y = t.data[i];
        acc += (1 - y) * v + (1 + (posWeight - 1) * y) * (Math.log1p(Math.exp(-Math.abs(v))) + Math.max(-v, 0));
      }
      return new RefTensor([], Float64Array.of(acc / x.data.length));
    },
    backward: ([x, t], g) => [
      x.map((v, i) => (((1 + (posWeight - 1) * t.data[i]) * sigmoid64(v) - posWeight * t.data[i]) * g.data[0]) / x.data.length),
      RefTensor.zeros(t.shape),
    ],
  }),
};

export interface RefAdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

/** One Adam/AdamW step (PyTorch's formulas) on plain arrays; returns the new p, m, v. */
export function refAdamStep(p: number[], g: number[], m: number[], v: number[], step: number, o: RefAdamOptions): { p: number[]; m: number[]; v: number[] } {
  const stepSize = o.lr / (1 - o.beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - o.beta2 ** step);
  const out = { p: [...p], m: [...m], v: [...v] };
  for (let i = 0; i < p.length; i++) {
    let param = p[i];
    let grad = g[i];
    if (o.decoupled) param *= 1 - o.lr * o.weightDecay;
    else grad += o.weightDecay * param;
    out.m[i] = o.beta1 * m[i] + (1 - o.beta1) * grad;
    out.v[i] = o.beta2 * v[i] + (1 - o.beta2) * grad * grad;
    out.p[i] = param - (stepSize * out.m[i]) / (Math.sqrt(out.v[i]) / bc2Sqrt + o.eps);
  }
  return out;
}

/** Per-image [dice, iou, |P∩G|, |P|, |G|] of sigmoid(logits) > threshold against targets > 0.5. */
export function refSegmentationMetrics(logits: ArrayLike<number>, targets: ArrayLike<number>, images: number, threshold: number): number[][] {
  const pixels = logits.length / images;
  const out: number[][] = [];
  for (let n = 0; n < images; n++) {
    let i = 0;
    let p = 0;
    let g = 0;
    for (let k = n * pixels; k < (n + 1) * pixels; k++) {
      const isP = sigmoid64(logits[k]) > threshold;
      const isG = targets[k] > 0.5;
      p += +isP;
      g += +isG;
      i += +(isP && isG);
    }
    out.push([p + g === 0 ? 1 : (2 * i) / (p + g), p + g === 0 ? 1 : i / (p + g - i), i, p, g]);
  }
  return out;
}
