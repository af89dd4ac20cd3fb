/** Sums and means over chosen axes. */
import { REDUCE_CHUNK, REDUCE_SERIAL_MAX, reduceGrid, reduceKernel, reduceParams, type ReducePlan } from '../../kernels/reduce.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { broadcastAxes, normalizeAxes, reducedShape, sameShape, sizeOf, stridesOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { full } from './creation.js';
import { expandTo } from './elementwise.js';

/** Merge neighbouring axes of one group (both kept or both reduced): less index arithmetic per element. */
function mergedDims(shape: Shape, strides: readonly number[], axes: readonly number[]): { shape: number[]; strides: number[] } {
  const outShape: number[] = [];
  const outStrides: number[] = [];
  let previous = -2;
  for (const axis of axes) {
    if (axis === previous + 1 && outShape.length > 0) {
      outShape[outShape.length - 1] *= shape[axis];
      outStrides[outStrides.length - 1] = strides[axis];
    } else {
      outShape.push(shape[axis]);
      outStrides.push(strides[axis]);
    }
    previous = axis;
  }
  return { shape: outShape, strides: outStrides };
}

function launchReduce(x: Tensor, out: Tensor, plan: ReducePlan): void {
  const serial = plan.chunks === 1 && sizeOf(plan.redShape) <= REDUCE_SERIAL_MAX;
  getRuntime().dispatch({
    kernel: reduceKernel(plan.keptShape.length, plan.redShape.length, serial),
    inputs: [x.buffer],
    outputs: [out.buffer],
    params: reduceParams(plan),
    workgroups: reduceGrid(sizeOf(plan.keptShape), plan.chunks, serial),
  });
}

/** Sum over `axes` times `scale`, not recorded. */
function reduceSum(x: Tensor, axes: readonly number[], keepDim: boolean, scale: number): Tensor {
  const outShape = reducedShape(x.shape, axes, keepDim);
  const outCount = sizeOf(outShape);
  const redCount = sizeOf(axes.map((a) => x.shape[a]));
  if (outCount === 0) return Tensor.empty(outShape);
  if (redCount === 0) return full(outShape, scale === 1 ? 0 : NaN);
  if (axes.length === 0) return expandTo(x, outShape, scale);

  const strides = stridesOf(x.shape);
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const kept = mergedDims(x.shape, strides, keptAxes);
  const red = mergedDims(x.shape, strides, axes);
  const out = Tensor.empty(outShape);
  // Few outputs over long ranges: split each range into chunks, then add the partial sums.
  const chunks = outCount < 1024 ? Math.min(Math.ceil(redCount / REDUCE_CHUNK), 4096) : 1;
  if (chunks === 1) {
    launchReduce(x, out, { keptShape: kept.shape, keptStrides: kept.strides, redShape: red.shape, redStrides: red.strides, chunks: 1, scale });
    return out;
  }
  const partial = Tensor.empty([outCount, chunks]);
  launchReduce(x, partial, { keptShape: kept.shape, keptStrides: kept.strides, redShape: red.shape, redStrides: red.strides, chunks, scale: 1 });
  launchReduce(partial, out, { keptShape: [outCount], keptStrides: [chunks], redShape: [chunks], redStrides: [1], chunks: 1, scale });
  partial.dispose();
  return out;
}

function reduction(op: 'sum' | 'mean', x: Tensor, axesArg: number | readonly number[] | undefined, keepDim: boolean): Tensor {
  const axes = normalizeAxes(axesArg, x.rank);
  const count = sizeOf(axes.map((a) => x.shape[a]));
  const scale = op === 'mean' ? 1 / count : 1;
  const out = reduceSum(x, axes, keepDim, scale);
  if (needsGrad([x])) {
    const keptShape = reducedShape(x.shape, axes, true);
    record(op, [x], out, [], (g) => {
      const g2 = g.viewAs(keptShape);
      const gx = expandTo(g2, x.shape, scale);
      g2.dispose();
      return [gx];
    });
  }
  return out;
}

/** Sum over `axes` (all when omitted), like torch.sum(x, dim, keepdim). */
export function sum(x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor {
  return reduction('sum', x, axes, keepDim);
}

/** Mean over `axes` (all when omitted), like torch.mean(x, dim, keepdim). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDim = false): Tensor {
  return reduction('mean', x, axes, keepDim);
}

/** Sum of all elements times `scale`, as a 0-d tensor. Not recorded (for fused ops' own nodes). */
export function scaledSum(x: Tensor, scale: number): Tensor {
  return reduceSum(x, normalizeAxes(undefined, x.rank), false, scale);
}

/** Sum a broadcast gradient back to `shape` (a new handle when nothing was broadcast). Not recorded. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g.viewAs(shape);
  const axes = broadcastAxes(shape, g.shape);
  const summed = reduceSum(g, axes, true, 1);
  const out = summed.viewAs(shape);
  summed.dispose();
  return out;
}
