/**
 * Tensor: a dtype (float32; float16 for the operands of mixed-precision convolutions), a shape,
 * and contiguous storage in a pooled GPU buffer.
 *
 * Several tensors may share one storage (reshape views, tensors saved for backward); the buffer
 * goes back to the pool when the last of them is disposed.
 */
import type { PooledBuffer } from './buffer-pool.js';
import { backward, type BackwardOptions, type GraphNode } from './autograd.js';
import { getRuntime, type Runtime } from './runtime.js';
import { setTensorCheck, trackTensor } from './scope.js';
import { formatShape, sizeOf } from './shape.js';
import * as elementwise from './ops/elementwise.js';
import * as reduce from './ops/reduce.js';
import * as layout from './ops/layout.js';
import * as creation from './ops/creation.js';
import * as linalg from './ops/matmul.js';
import * as cast from './ops/cast.js';
import { halfValue } from './half.js';

/**
 * A pooled GPU buffer shared by reference count between tensors (views, tensors saved for
 * backward); the buffer goes back to the pool at the last release().
 */
export class Storage {
  private refs = 1;

  constructor(
    readonly runtime: Runtime,
    readonly buffer: PooledBuffer,
  ) {}

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.runtime.release(this.buffer);
  }
}

/** The storage of every tensor made inside shapesOnly(): no memory, nothing to release. */
class NoStorage extends Storage {
  constructor() {
    super(null as unknown as Runtime, null as unknown as PooledBuffer);
  }

  override release(): void {}
}

let shapeOnlyDepth = 0;

/**
 * Runs `make` with tensor creation reduced to shapes: no GPU memory, no uploads, no kernels, no
 * random numbers drawn (and no runtime needed). What a module would hold, e.g. a model's state
 * shapes, can be known this way before anything is allocated; such tensors hold no data.
 */
export function shapesOnly<T>(make: () => T): T {
  shapeOnlyDepth++;
  try {
    return make();
  } finally {
    shapeOnlyDepth--;
  }
}

/** Inside shapesOnly(). */
export function makingShapesOnly(): boolean {
  return shapeOnlyDepth > 0;
}

let nextTensorId = 0;

/** Options of a new tensor: whether it is a leaf that requires grad (PyTorch's requires_grad). */
export interface TensorOptions {
  requiresGrad?: boolean;
}

/**
 * Element types. float16 tensors are what mixed precision (engine/autocast.ts) feeds the f16
 * convolution kernels; the other ops read float32, and gradients are always float32.
 */
export type DType = 'float32' | 'float16';

/** Bytes of storage for `size` elements (float16 storage rounded up to whole 4-byte words, as WebGPU binds them). */
export function storageBytes(size: number, dtype: DType): number {
  return dtype === 'float16' ? Math.ceil(size / 2) * 4 : size * 4;
}

/**
 * An n-dimensional array in a pooled GPU buffer (like torch.Tensor); ops on tensors that require
 * grad are recorded for backward(). dispose(), or the enclosing tidy(), frees its memory.
 */
export class Tensor {
  readonly id = nextTensorId++;
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: DType;
  /** Leaf tensors with requiresGrad receive `.grad` from backward(). */
  requiresGrad: boolean;
  /** Accumulated gradient (leaves only); owned by this tensor. */
  grad: Tensor | null = null;
  private node: GraphNode | null = null;
  private storageRef: Storage | null;

  /** Wraps existing storage (taking over one reference); ops and creation functions call this. */
  constructor(storage: Storage, shape: readonly number[], options: TensorOptions = {}, dtype: DType = 'float32') {
    this.storageRef = storage;
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.dtype = dtype;
    this.requiresGrad = options.requiresGrad ?? false;
    trackTensor(this);
  }

  /** A new tensor with uninitialised storage (kernels fill it). */
  static empty(shape: readonly number[], runtime?: Runtime, dtype: DType = 'float32'): Tensor {
    if (shapeOnlyDepth > 0) return new Tensor(new NoStorage(), shape, {}, dtype);
    const rt = runtime ?? getRuntime();
    return new Tensor(new Storage(rt, rt.allocate(storageBytes(sizeOf(shape), dtype))), shape, {}, dtype);
  }

  get storage(): Storage {
    if (!this.storageRef) throw new Error(`Tensor #${this.id} ${formatShape(this.shape)} was disposed and cannot be used.`);
    return this.storageRef;
  }

  /**
   * The pooled GPU buffer holding the data (first `size` floats), for kernels that read float32.
   * A float16 tensor has none by this name: only the kernels made for it (the f16 convolutions,
   * casts) may bind its storage, through `storage.buffer`.
   */
  get buffer(): PooledBuffer {
    if (this.dtype !== 'float32') throw new Error(`Tensor #${this.id} ${formatShape(this.shape)} is ${this.dtype}; this op reads float32 — convert it with .float()`);
    return this.storage.buffer;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storageRef === null;
  }

  /** True when no recorded op produced this tensor (parameters, inputs). */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** @internal The tape node that produced this tensor. */
  get gradNode(): GraphNode | null {
    return this.node;
  }

  /** @internal Called by autograd.record. */
  attachNode(node: GraphNode): void {
    this.node = node;
    this.requiresGrad = true;
  }

  /** @internal Another handle on the same storage, for a backward that outlives the caller's handle. */
  aliasForBackward(): Tensor {
    return new Tensor(this.storage.retain(), this.shape, {}, this.dtype);
  }

  /** A handle on the same storage with another shape of equal size, outside autograd. */
  viewAs(shape: readonly number[]): Tensor {
    return new Tensor(this.storage.retain(), shape, {}, this.dtype);
  }

  /** @internal Add `g` (ownership taken) into `.grad`. */
  accumulateGrad(g: Tensor): void {
    if (this.isDisposed) {
      g.dispose();
      return;
    }
    if (g.shape.join(',') !== this.shape.join(',')) {
      throw new Error(`internal: gradient ${formatShape(g.shape)} does not match tensor ${formatShape(this.shape)}`);
    }
    if (!this.grad) {
      this.grad = g;
      return;
    }
    const old = this.grad;
    this.grad = old.add(g);
    old.dispose();
    g.dispose();
  }

  /** Release the storage (when no other handle shares it), the graph node and `.grad`. Idempotent. */
  dispose(): void {
    if (!this.storageRef) return;
    this.storageRef.release();
    this.storageRef = null;
    this.node?.release();
    this.node = null;
    this.grad?.dispose();
    this.grad = null;
  }

  /** Dispose `.grad` (before the next backward, like optimizer.zero_grad()). */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** Read the data back (submits pending GPU work); float16 values are widened. */
  async toArray(): Promise<Float32Array> {
    const storage = this.storage;
    if (this.dtype === 'float32') return storage.runtime.read(storage.buffer, this.size * 4);
    if (this.size === 0) return new Float32Array(0);
    const words = await storage.runtime.read(storage.buffer, storageBytes(this.size, this.dtype));
    return Float32Array.from(new Uint16Array(words.buffer, words.byteOffset, this.size), halfValue);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, expected 1`);
    return (await this.toArray())[0];
  }

  backward(grad?: Tensor, options?: BackwardOptions): void {
    backward(this, grad, options);
  }

  /** Same data, cut from the graph. Shares storage. */
  detach(): Tensor {
    return new Tensor(this.storage.retain(), this.shape, {}, this.dtype);
  }

  /** Mark as a leaf that receives gradients (in place). */
  requiresGrad_(flag = true): this {
    if (!this.isLeaf) throw new Error('requiresGrad_(): only leaf tensors can change requiresGrad; use detach() first.');
    this.requiresGrad = flag;
    return this;
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}${this.dtype === 'float32' ? '' : `, ${this.dtype}`}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- ops as methods (PyTorch names); each delegates to engine/ops ----
  add(other: Tensor | number): Tensor {
    return elementwise.add(this, other);
  }
  sub(other: Tensor | number): Tensor {
    return elementwise.sub(this, other);
  }
  mul(other: Tensor | number): Tensor {
    return elementwise.mul(this, other);
  }
  div(other: Tensor | number): Tensor {
    return elementwise.div(this, other);
  }
  neg(): Tensor {
    return elementwise.neg(this);
  }
  relu(): Tensor {
    return elementwise.relu(this);
  }
  leakyRelu(negativeSlope = 0.01): Tensor {
    return elementwise.leakyRelu(this, negativeSlope);
  }
  sigmoid(): Tensor {
    return elementwise.sigmoid(this);
  }
  exp(): Tensor {
    return elementwise.exp(this);
  }
  log(): Tensor {
    return elementwise.log(this);
  }
  sum(axes?: number | readonly number[], keepDim = false): Tensor {
    return reduce.sum(this, axes, keepDim);
  }
  mean(axes?: number | readonly number[], keepDim = false): Tensor {
    return reduce.mean(this, axes, keepDim);
  }
  reshape(shape: readonly number[]): Tensor {
    return layout.reshape(this, shape);
  }
  /** Alias of reshape (storage is always contiguous). */
  view(shape: readonly number[]): Tensor {
    return layout.reshape(this, shape);
  }
  flatten(): Tensor {
    return layout.reshape(this, [this.size]);
  }
  narrow(axis: number, start: number, length: number): Tensor {
    return layout.narrow(this, axis, start, length);
  }
  split(sizes: number | readonly number[], axis = 0): Tensor[] {
    return layout.split(this, sizes, axis);
  }
  matmul(other: Tensor): Tensor {
    return linalg.matmul(this, other);
  }
  clone(): Tensor {
    return elementwise.clone(this);
  }
  /** This tensor as float16 (rounded to nearest even; recorded, its gradient float32). */
  half(): Tensor {
    return cast.cast(this, 'float16');
  }
  /** This tensor as float32. */
  float(): Tensor {
    return cast.cast(this, 'float32');
  }
  onesLike(): Tensor {
    return creation.full(this.shape, 1);
  }
  zerosLike(): Tensor {
    return creation.full(this.shape, 0);
  }
  /** Copy `source`'s values into this tensor's storage (in place, not recorded; for optimizers). */
  assign(source: Tensor): this {
    elementwise.assign(this, source);
    return this;
  }
}

/** True when `value` is a {@link Tensor}. */
export function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}

setTensorCheck(isTensor);
