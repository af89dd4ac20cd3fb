/**
 * Elementwise ops with broadcasting. Each op's backward sits right after its forward.
 */
import { elementwiseGrid, elementwiseKernel, elementwiseParams, type ElementwiseOp } from '../../kernels/elementwise.js';
import { f32Bits } from '../../kernels/kernel.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { broadcastShapes, broadcastStrides, formatShape, sameShape, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { sumTo } from './reduce.js';

/** Launch one elementwise kernel producing a tensor of `outShape` (inputs broadcast to it). */
export function launchElementwise(op: ElementwiseOp, inputs: readonly Tensor[], outShape: Shape, scalar = 0): Tensor {
  const out = Tensor.empty(outShape);
  if (out.size === 0) return out;
  const flat = inputs.every((t) => sameShape(t.shape, outShape));
  const vec4 = flat && out.size % 4 === 0;
  const strides = inputs.map((t) => broadcastStrides(t.shape, outShape));
  getRuntime().dispatch({
    kernel: elementwiseKernel(op, inputs.length as 1 | 2, flat ? 0 : outShape.length, vec4),
    inputs: inputs.map((t) => t.buffer),
    outputs: [out.buffer],
    params: vec4 ? [out.size, f32Bits(scalar)] : elementwiseParams(out.size, scalar, outShape, strides[0], strides[1]),
    workgroups: elementwiseGrid(out.size, vec4),
  });
  return out;
}

function unary(op: ElementwiseOp, x: Tensor, scalar = 0): Tensor {
  return launchElementwise(op, [x], x.shape, scalar);
}

function binary(op: ElementwiseOp, a: Tensor, b: Tensor): Tensor {
  return launchElementwise(op, [a, b], broadcastShapes(a.shape, b.shape));
}

/** Another handle on the gradient's storage (a backward must not return its input tensor itself). */
function passThrough(g: Tensor): Tensor {
  return g.viewAs(g.shape);
}

/** Elementwise a + b with NumPy broadcasting; a number is a scalar operand. */
export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') {
    const out = unary('addScalar', a, b);
    if (needsGrad([a])) record('addScalar', [a], out, [], (g) => [passThrough(g)]);
    return out;
  }
  const out = binary('add', a, b);
  if (needsGrad([a, b])) record('add', [a, b], out, [], (g) => [sumTo(g, a.shape), sumTo(g, b.shape)]);
  return out;
}

/** Elementwise a − b with NumPy broadcasting; a number is a scalar operand. */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') {
    const out = unary('subScalar', a, b);
    if (needsGrad([a])) record('subScalar', [a], out, [], (g) => [passThrough(g)]);
    return out;
  }
  const out = binary('sub', a, b);
  if (needsGrad([a, b])) record('sub', [a, b], out, [], (g) => [sumTo(g, a.shape), sumTo(neg(g), b.shape)]);
  return out;
}

/** `value - x`. */
export function rsub(x: Tensor, value: number): Tensor {
  const out = unary('rsubScalar', x, value);
  if (needsGrad([x])) record('rsubScalar', [x], out, [], (g) => [neg(g)]);
  return out;
}

/** Elementwise a · b with NumPy broadcasting; a number is a scalar operand. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') {
    const out = unary('mulScalar', a, b);
    if (needsGrad([a])) record('mulScalar', [a], out, [], (g) => [unary('mulScalar', g, b)]);
    return out;
  }
  const out = binary('mul', a, b);
  if (needsGrad([a, b])) {
    record('mul', [a, b], out, [a, b], (g, [sa, sb]) => [
      a.requiresGrad ? sumTo(mul(g, sb), sa.shape) : null,
      b.requiresGrad ? sumTo(mul(g, sa), sb.shape) : null,
    ]);
  }
  return out;
}

/** Elementwise a / b with NumPy broadcasting; a number is a scalar operand. */
export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') {
    const out = unary('divScalar', a, b);
    if (needsGrad([a])) record('divScalar', [a], out, [], (g) => [unary('divScalar', g, b)]);
    return out;
  }
  const out = binary('div', a, b);
  if (needsGrad([a, b])) {
    // d(a/b)/db = -(a/b)/b: reuse the output instead of recomputing a/b².
    record('div', [a, b], out, [b, out], (g, [sb, sout]) => [
      a.requiresGrad ? sumTo(div(g, sb), a.shape) : null,
      b.requiresGrad ? sumTo(neg(div(mul(g, sout), sb)), sb.shape) : null,
    ]);
  }
  return out;
}

/** Elementwise −x. */
export function neg(x: Tensor): Tensor {
  const out = unary('neg', x);
  if (needsGrad([x])) record('neg', [x], out, [], (g) => [neg(g)]);
  return out;
}

/** max(x, 0) elementwise (PyTorch's relu; NaN propagates, the gradient at 0 is 0). */
export function relu(x: Tensor): Tensor {
  const out = unary('relu', x);
  if (needsGrad([x])) record('relu', [x], out, [x], (g, [sx]) => [binary('reluBackward', g, sx)]);
  return out;
}

/** x where x > 0, negativeSlope · x elsewhere (PyTorch's leaky_relu; NaN propagates). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  const out = unary('leakyRelu', x, negativeSlope);
  if (needsGrad([x])) record('leakyRelu', [x], out, [x], (g, [sx]) => [launchElementwise('leakyReluBackward', [g, sx], g.shape, negativeSlope)]);
  return out;
}

/** 1 / (1 + e^−x) elementwise, computed without overflow for large |x|. */
export function sigmoid(x: Tensor): Tensor {
  const out = unary('sigmoid', x);
  if (needsGrad([x])) record('sigmoid', [x], out, [out], (g, [y]) => [binary('sigmoidBackward', g, y)]);
  return out;
}

/** e^x elementwise. */
export function exp(x: Tensor): Tensor {
  const out = unary('exp', x);
  if (needsGrad([x])) record('exp', [x], out, [out], (g, [y]) => [mul(g, y)]);
  return out;
}

/** The natural logarithm, elementwise. */
export function log(x: Tensor): Tensor {
  const out = unary('log', x);
  if (needsGrad([x])) record('log', [x], out, [x], (g, [sx]) => [div(g, sx)]);
  return out;
}

/** A copy with its own storage (recorded: gradients flow through). */
export function clone(x: Tensor): Tensor {
  const out = unary('copy', x);
  if (needsGrad([x])) record('clone', [x], out, [], (g) => [passThrough(g)]);
  return out;
}

/** Broadcast `x` to `shape` into new storage, times `scale` (not recorded; used by backward passes). */
export function expandTo(x: Tensor, shape: Shape, scale = 1): Tensor {
  broadcastShapes(x.shape, shape);
  return launchElementwise('mulScalar', [x], shape, scale);
}

/** Copy `source` into `target`'s storage in place (same size). Not recorded. */
export function assign(target: Tensor, source: Tensor): void {
  if (target.size !== source.size) {
    throw new Error(`assign(): source ${formatShape(source.shape)} and target ${formatShape(target.shape)} differ in size`);
  }
  if (target.storage === source.storage || target.size === 0) return;
  const vec4 = target.size % 4 === 0;
  getRuntime().dispatch({
    kernel: elementwiseKernel('copy', 1, 0, vec4),
    inputs: [source.buffer],
    outputs: [target.buffer],
    params: vec4 ? [target.size, 0] : elementwiseParams(target.size, 0, target.shape, []),
    workgroups: elementwiseGrid(target.size, vec4),
  });
}
