/**
 * The reference layer table {@link referenceLayers} (conv2d, conv-transpose2d, BatchNorm, max-pool,
 * BCE with logits), with the convolution geometry and BatchNorm's running-statistics update
 * ({@link refBatchNormRunningUpdate}).
 * Must hold: NCHW layouts and PyTorch's semantics (conv weights [Co,Ci,KH,KW], conv-transpose
 * weights [Ci,Co,KH,KW], biased batch variance in the forward, unbiased in the running update,
 * max-pool ties to the first maximum); every backward is the exact gradient of its forward.
 * Both convolutions enumerate their products once, as taps (conv-transpose2d's are conv2d's with
 * input and output swapped), and their forward and backward both walk those taps.
 */
import type { Shape } from '../shape.js';
import { RefTensor, sigmoid, type RefOp } from './tensor.js';

/** A reference convolution's stride and zero padding, [height, width] each. */
export interface RefConvGeometry {
  stride: [number, number];
  padding: [number, number];
}

/** Calls `tap(xi, wi, oi)` for each product a convolution adds: input element xi times weight element wi into output element oi. */
type ConvTaps = (tap: (xi: number, wi: number, oi: number) => void) => void;

/** conv2d's output shape: x [N,Ci,H,W], w [Co,Ci,KH,KW]. */
function conv2dOutputShape([N, , H, W]: Shape, [Co, , KH, KW]: Shape, { stride: [sh, sw], padding: [ph, pw] }: RefConvGeometry): Shape {
  return [N, Co, Math.floor((H + 2 * ph - KH) / sh) + 1, Math.floor((W + 2 * pw - KW) / sw) + 1];
}

/** conv2d's taps: x [N,Ci,H,W], w [Co,Ci,KH,KW], out [N,Co,OH,OW]; each output's window in turn (n, o, oy, ox, then ci, kh, kw). */
function conv2dTaps([N, Ci, H, W]: Shape, [Co, , KH, KW]: Shape, [, , OH, OW]: Shape, { stride: [sh, sw], padding: [ph, pw] }: RefConvGeometry): ConvTaps {
  return (tap) => {
    for (let n = 0; n < N; n++)
      for (let o = 0; o < Co; o++)
        for (let y = 0; y < OH; y++)
          for (let xx = 0; xx < OW; xx++) {
            const oi = ((n * Co + o) * OH + y) * OW + xx;
            for (let i = 0; i < Ci; i++)
              for (let kh = 0; kh < KH; kh++) {
                const iy = y * sh + kh - ph;
                if (iy < 0 || iy >= H) continue;
                for (let kw = 0; kw < KW; kw++) {
                  const ix = xx * sw + kw - pw;
                  if (ix < 0 || ix >= W) continue;
                  tap(((n * Ci + i) * H + iy) * W + ix, ((o * Ci + i) * KH + kh) * KW + kw, oi);
                }
              }
          }
  };
}

/** conv-transpose2d's output shape: x [N,Ci,H,W], w [Ci,Co,KH,KW]. */
function convTranspose2dOutputShape([N, , H, W]: Shape, [, Co, KH, KW]: Shape, { stride: [sh, sw], padding: [ph, pw] }: RefConvGeometry, [oph, opw]: [number, number]): Shape {
  return [N, Co, (H - 1) * sh - 2 * ph + KH + oph, (W - 1) * sw - 2 * pw + KW + opw];
}

/**
 * conv-transpose2d's taps: x [N,Ci,H,W], w [Ci,Co,KH,KW], out [N,Co,OH,OW]. They are conv2d's taps
 * with input and output swapped (w read as a conv2d weight from Co to Ci channels), so every input
 * pixel scatters a weighted kernel (n, ci, iy, ix, then o, kh, kw).
 */
function convTranspose2dTaps(x: Shape, w: Shape, out: Shape, geometry: RefConvGeometry): ConvTaps {
  return (tap) => conv2dTaps(out, w, x, geometry)((outIndex, wi, xi) => tap(xi, wi, outIndex));
}

/** A convolution's output of `shape` [N,C,H,W]: bias[c] (or 0) in channel c, plus every tap's product. */
function convForward(x: RefTensor, w: RefTensor, b: RefTensor | null, shape: Shape, taps: ConvTaps): RefTensor {
  const [, C, H, W] = shape;
  const out = RefTensor.zeros(shape);
  const [od, xd, wd] = [out.data, x.data, w.data];
  if (b) for (let k = 0; k < od.length; k++) od[k] = b.data[Math.floor(k / (H * W)) % C];
  taps((xi, wi, oi) => (od[oi] += xd[xi] * wd[wi]));
  return out;
}

/** Gradients of a convolution's x, w and bias: each output gradient scattered back through its taps; the bias's is g summed per channel. */
function convBackward(x: RefTensor, w: RefTensor, g: RefTensor, taps: ConvTaps): [RefTensor, RefTensor, RefTensor] {
  const [, C, H, W] = g.shape;
  const gx = RefTensor.zeros(x.shape);
  const gw = RefTensor.zeros(w.shape);
  const gb = RefTensor.zeros([C]);
  for (let k = 0; k < g.data.length; k++) gb.data[Math.floor(k / (H * W)) % C] += g.data[k];
  const [gxd, gwd, gd, xd, wd] = [gx.data, gw.data, g.data, x.data, w.data];
  taps((xi, wi, oi) => {
    gxd[xi] += gd[oi] * wd[wi];
    gwd[wi] += gd[oi] * xd[xi];
  });
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

/**
 * Attributes of the reference batchNorm2d: training (batch statistics, biased variance) or eval
 * (the running statistics given), and eps.
 */
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

/** Reference layers; like `reference`, factories taking the op's attributes. Inputs in op argument order. */
export const referenceLayers = {
  /** Inputs: x, weight, optional bias. */
  conv2d: (stride: [number, number], padding: [number, number]): RefOp => {
    const geometry = { stride, padding };
    return {
      forward: ([x, w, b]) => {
        const shape = conv2dOutputShape(x.shape, w.shape, geometry);
        return convForward(x, w, b ?? null, shape, conv2dTaps(x.shape, w.shape, shape, geometry));
      },
      backward: ([x, w, b], g) => convBackward(x, w, g, conv2dTaps(x.shape, w.shape, g.shape, geometry)).slice(0, b ? 3 : 2),
    };
  },
  /** Inputs: x, weight, optional bias. */
  convTranspose2d: (stride: [number, number], padding: [number, number], outputPadding: [number, number] = [0, 0]): RefOp => {
    const geometry = { stride, padding };
    return {
      forward: ([x, w, b]) => {
        const shape = convTranspose2dOutputShape(x.shape, w.shape, geometry, outputPadding);
        return convForward(x, w, b ?? null, shape, convTranspose2dTaps(x.shape, w.shape, shape, geometry));
      },
      backward: ([x, w, b], g) => convBackward(x, w, g, convTranspose2dTaps(x.shape, w.shape, g.shape, geometry)).slice(0, b ? 3 : 2),
    };
  },
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
      x.map((v, i) => (((1 + (posWeight - 1) * t.data[i]) * sigmoid(v) - posWeight * t.data[i]) * g.data[0]) / x.data.length),
      RefTensor.zeros(t.shape),
    ],
  }),
};
