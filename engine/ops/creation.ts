/** Tensors made from host data, constants and seeded random numbers. */
import { fillGrid, fillKernel, fillParams } from '../../kernels/fill.js';
import { Generator, defaultGenerator } from '../random.js';
import { getRuntime } from '../runtime.js';
import { checkShape, formatShape, sizeOf, type Shape } from '../shape.js';
import { Tensor, makingShapesOnly, type TensorOptions } from '../tensor.js';

type Nested = number | readonly Nested[];

function flattenNested(data: readonly Nested[]): { values: number[]; shape: number[] } {
  const shape: number[] = [];
  let level: Nested = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = (level as readonly Nested[])[0];
  }
  const values = (data as unknown[]).flat(Infinity) as number[];
  if (values.length !== sizeOf(shape) || values.some((v) => typeof v !== 'number')) {
    throw new Error(`tensor(): nested arrays must be rectangular and hold numbers (inferred shape ${formatShape(shape)})`);
  }
  return { values, shape };
}

/**
 * A tensor from host data: a typed or plain array with a shape, or nested arrays (shape inferred).
 * `tensor([[1, 2], [3, 4]])`, `tensor(new Float32Array(6), [2, 3])`.
 */
export function tensor(data: ArrayLike<number> | readonly Nested[], shape?: Shape, options: TensorOptions = {}): Tensor {
  let values: ArrayLike<number>;
  let resolved: number[];
  if (shape === undefined && Array.isArray(data)) {
    ({ values, shape: resolved } = flattenNested(data as readonly Nested[]));
  } else {
    values = data as ArrayLike<number>;
    resolved = shape ? [...shape] : [values.length];
  }
  checkShape(resolved);
  if (values.length !== sizeOf(resolved)) {
    throw new Error(`tensor(): ${values.length} values do not fill shape ${formatShape(resolved)} (${sizeOf(resolved)} elements)`);
  }
  const out = Tensor.empty(resolved);
  out.requiresGrad = options.requiresGrad ?? false;
  if (makingShapesOnly()) return out;
  const host = values instanceof Float32Array ? values : Float32Array.from(values);
  if (host.length > 0) getRuntime().upload(out.buffer, host);
  return out;
}

/** A one-element tensor of shape []. */
export function scalar(value: number, options: TensorOptions = {}): Tensor {
  return tensor([value], [], options);
}

/** A tensor of `shape` with every element `value`, filled on the GPU (like torch.full). */
export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  checkShape(shape);
  const out = Tensor.empty(shape);
  out.requiresGrad = options.requiresGrad ?? false;
  if (out.size > 0 && !makingShapesOnly()) {
    getRuntime().dispatch({ kernel: fillKernel, inputs: [], outputs: [out.buffer], params: fillParams(out.size, value), workgroups: fillGrid(out.size) });
  }
  return out;
}

/** A tensor of `shape` filled with 0 (like torch.zeros). */
export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of `shape` filled with 1 (like torch.ones). */
export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/**
 * Options of {@link randn} and {@link rand}: a seed for this call alone, or the generator to draw
 * from (default: the default generator).
 */
export interface RandomOptions extends TensorOptions {
  /** Seed for this call alone; without it the default generator (see manualSeed) advances. */
  seed?: number;
  generator?: Generator;
}

function generatorFor(options: RandomOptions): Generator {
  if (options.seed !== undefined) return new Generator(options.seed);
  return options.generator ?? defaultGenerator;
}

/** Normal(mean, std) samples, deterministic for a seed on every platform. */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape(shape);
  if (makingShapesOnly()) return full(shape, 0, options);
  const data = generatorFor(options).fillNormal(new Float32Array(sizeOf(shape)), options.mean ?? 0, options.std ?? 1);
  return tensor(data, shape, options);
}

/** Uniform samples in [low, high), deterministic for a seed on every platform. */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape(shape);
  if (makingShapesOnly()) return full(shape, 0, options);
  const data = generatorFor(options).fillUniform(new Float32Array(sizeOf(shape)), options.low ?? 0, options.high ?? 1);
  return tensor(data, shape, options);
}
