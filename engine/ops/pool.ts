/** Max pooling (like torch.nn.functional.max_pool2d, ceil_mode false, dilation 1). */
import {
  maxPool2x2RowsApplies,
  maxPool2x2RowsBackwardKernel,
  maxPool2x2RowsForwardKernel,
  maxPoolBackwardKernel,
  maxPoolForwardKernel,
  poolGrid,
  poolParams,
  type PoolGeometry,
} from '../../kernels/pool.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import type { Pair } from './conv.js';

/**
 * Options of {@link maxPool2d}: the window, its stride (default: the window) and padding
 * (default 0, at most half the window).
 */
export interface MaxPool2dOptions {
  kernelSize: Pair;
  /** Defaults to kernelSize. */
  stride?: Pair;
  padding?: Pair;
}

function pair(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/**
 * The maximum of each window of x [N,C,H,W] (like torch.nn.functional.max_pool2d, ceil_mode false,
 * dilation 1); the gradient goes to each window's arg-max.
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  const [kh, kw] = pair(options.kernelSize);
  const [sh, sw] = pair(options.stride ?? options.kernelSize);
  const [ph, pw] = pair(options.padding ?? 0);
  if (x.rank !== 4) throw new Error(`maxPool2d: needs x [N,C,H,W], got ${formatShape(x.shape)}`);
  if (![kh, kw, sh, sw].every((v) => Number.isInteger(v) && v >= 1) || ![ph, pw].every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error('maxPool2d: kernel size and stride must be positive integers, padding non-negative');
  }
  if (ph > kh / 2 || pw > kw / 2) throw new Error('maxPool2d: padding must be at most half the kernel size');
  const [N, C, H, W] = x.shape;
  if (H * W >= 2 ** 24) throw new Error('maxPool2d: planes of 2^24 pixels or more are not supported (arg-max stored as float)');
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`maxPool2d: input ${formatShape(x.shape)} is smaller than the ${kh}×${kw} window`);
  const geometry: PoolGeometry = { planes: N * C, h: H, w: W, oh: OH, ow: OW, kh, kw, sh, sw, ph, pw };
  const out = Tensor.empty([N, C, OH, OW]);
  // Inference stores only the maxima; training also the arg-max the backward reads.
  const argmax = needsGrad([x]) ? Tensor.empty([N, C, OH, OW]) : null;
  const runtime = getRuntime();
  // 2×2/s2 over rows of vec4s (UNet's pool): 2 outputs per invocation forward, 4 inputs backward.
  const rows = maxPool2x2RowsApplies(geometry);
  if (out.size > 0) {
    const total = rows ? out.size / 2 : out.size;
    const kernel = rows ? maxPool2x2RowsForwardKernel(argmax !== null) : maxPoolForwardKernel(geometry, argmax !== null);
    runtime.dispatch({ kernel, inputs: [x.buffer], outputs: argmax ? [out.buffer, argmax.buffer] : [out.buffer], params: poolParams(geometry, total), workgroups: poolGrid(total) });
  }
  if (argmax) {
    record('maxPool2d', [x], out, [argmax], (g, [sargmax]) => {
      const dx = Tensor.empty(x.shape);
      if (dx.size > 0) {
        const total = rows ? dx.size / 4 : N * C * Math.ceil(H / sh) * Math.ceil(W / sw);
        runtime.dispatch({ kernel: rows ? maxPool2x2RowsBackwardKernel : maxPoolBackwardKernel(geometry), inputs: [g.buffer, sargmax.buffer], outputs: [dx.buffer], params: poolParams(geometry, total), workgroups: poolGrid(total) });
      }
      return [dx];
    });
    argmax.dispose();
  }
  return out;
}
