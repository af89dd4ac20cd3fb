/**
 * The runtime owns the device, the buffer pool, the pipeline cache and the command encoder.
 *
 * Dispatches are recorded into one open compute pass and submitted together at readback, at
 * `flush()` (step end) or after {@link AUTO_FLUSH_DISPATCHES} dispatches — not once per op.
 */
import { BufferPool, type PoolStats, type PooledBuffer } from './buffer-pool.js';
import { describeAdapter, requestGpu, type AdapterReport, type GpuHandle, type RequestGpuOptions } from './device.js';
import type { KernelSpec } from '../kernels/kernel.js';
import { tuningFor, type AdapterTuning } from './tuning.js';

/** Usage of every tensor buffer: read/written by kernels, copied for readback and upload. */
export const TENSOR_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
const STAGING_USAGE = 0x1 /* MAP_READ */ | 0x8; /* COPY_DST */
const UNIFORM_USAGE = 0x40; /* UNIFORM */
const MAP_MODE_READ = 0x1;

/** Bound on the commands held back in one encoder, so the GPU starts on long graphs early. */
const AUTO_FLUSH_DISPATCHES = 128;
/** Bound on cached parameter blocks (they are tiny; shapes repeat every step). */
const MAX_UNIFORMS = 8192;
/**
 * Bound on cached bind groups. A training step binds the same pooled buffers to the same
 * pipelines every step, and creating a bind group costs far more than encoding the dispatch.
 */
const MAX_BIND_GROUPS = 16384;

export interface Dispatch {
  kernel: KernelSpec;
  inputs: PooledBuffer[];
  outputs: PooledBuffer[];
  /** u32 words of the kernel's parameter block, if it has one. */
  params?: ArrayLike<number>;
  workgroups: [number, number, number];
}

export interface RuntimeStats extends PoolStats {
  pipelines: number;
  dispatches: number;
  submits: number;
  uniformBlocks: number;
  /** Cached bind groups, and dispatches that reused one. */
  bindGroups: number;
  bindGroupReuses: number;
}

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** `name|key`, the cache key (also the prefix of its bind groups' keys). */
  key: string;
}

interface UniformBlock {
  buffer: GPUBuffer;
  id: number;
}

export class Runtime {
  readonly pool: BufferPool;
  private readonly pipelines = new Map<string, CachedPipeline>();
  private readonly uniforms = new Map<string, UniformBlock>();
  private nextUniformId = 0;
  /** Keyed by pipeline, bound buffer ids and parameter block; dropped whenever a bound buffer may have been destroyed. */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private bindGroupReuses = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingCommands = 0;
  /** Increments at every submit; buffers used since the last submit carry the current value. */
  private epoch = 0;
  private dispatchCount = 0;
  private submitCount = 0;
  private deviceError: Error | null = null;
  private destroyed = false;

  readonly device: GPUDevice;
  readonly adapterReport: AdapterReport;
  /** Adapter-dependent kernel parameters (see tuning.ts); properties may be changed, e.g. by tests. */
  readonly tuning: AdapterTuning;
  /** Held so the GPU instance and adapter live as long as the device. */
  readonly handle: GpuHandle;

  constructor(handle: GpuHandle) {
    this.handle = handle;
    this.device = handle.device;
    this.adapterReport = handle.report;
    this.tuning = tuningFor(handle.report);
    const device = handle.device;
    this.pool = new BufferPool(device, () => this.bindGroups.clear());
    device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message;
      this.deviceError ??= new Error(`WebGPU error: ${message}`);
    });
    void device.lost.then((info) => {
      if (!this.destroyed) this.deviceError ??= new Error(`WebGPU device lost: ${info.message} (${info.reason})`);
    });
  }

  get adapterName(): string {
    return describeAdapter(this.adapterReport);
  }

  /** A buffer for `bytes` of tensor data (contents undefined). */
  allocate(bytes: number): PooledBuffer {
    return this.pool.acquire(Math.max(bytes, 4), TENSOR_USAGE);
  }

  release(entry: PooledBuffer): void {
    this.pool.release(entry);
  }

  private pipeline(kernel: KernelSpec): CachedPipeline {
    const cacheKey = `${kernel.name}|${kernel.key}`;
    let cached = this.pipelines.get(cacheKey);
    if (!cached) {
      const module = this.device.createShaderModule({ label: cacheKey, code: kernel.source() });
      const pipeline = this.device.createComputePipeline({
        label: cacheKey,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      cached = { pipeline, layout: pipeline.getBindGroupLayout(0), key: cacheKey };
      this.pipelines.set(cacheKey, cached);
    }
    return cached;
  }

  private uniform(words: ArrayLike<number>): UniformBlock {
    let key = '';
    for (let i = 0; i < words.length; i++) key += `${words[i] >>> 0},`;
    let block = this.uniforms.get(key);
    if (!block) {
      const data = Uint32Array.from(words);
      if (this.uniforms.size >= MAX_UNIFORMS) this.dropUniforms();
      // Immutable once written, so no ordering hazard with queued work: written at creation.
      const buffer = this.device.createBuffer({
        size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
        usage: UNIFORM_USAGE,
        mappedAtCreation: true,
      });
      new Uint32Array(buffer.getMappedRange()).set(data);
      buffer.unmap();
      block = { buffer, id: this.nextUniformId++ };
      this.uniforms.set(key, block);
    }
    return block;
  }

  private dropUniforms(): void {
    // Blocks may be referenced by unsubmitted commands: submit them before destroying.
    this.flush();
    for (const block of this.uniforms.values()) block.buffer.destroy();
    this.uniforms.clear();
    this.bindGroups.clear();
  }

  private bindGroup(pipeline: CachedPipeline, buffers: PooledBuffer[], uniform: UniformBlock | null): GPUBindGroup {
    const key = `${pipeline.key}|${buffers.map((b) => b.id).join(',')}|${uniform?.id ?? ''}`;
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroupReuses++;
      return group;
    }
    const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({ binding, resource: { buffer: b.buffer, size: b.byteSize } }));
    if (uniform) entries.push({ binding: entries.length, resource: { buffer: uniform.buffer } });
    group = this.device.createBindGroup({ layout: pipeline.layout, entries });
    if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
    this.bindGroups.set(key, group);
    return group;
  }

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  dispatch(d: Dispatch): void {
    this.checkAlive();
    const cached = this.pipeline(d.kernel);
    const buffers = [...d.inputs, ...d.outputs];
    for (const b of buffers) b.lastUseEpoch = this.epoch;
    const bindGroup = this.bindGroup(cached, buffers, d.params ? this.uniform(d.params) : null);
    const pass = this.computePass();
    pass.setPipeline(cached.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    this.dispatchCount++;
    if (++this.pendingCommands >= AUTO_FLUSH_DISPATCHES) this.flush();
  }

  /** Copy host data into a buffer, after any queued work that still reads the buffer's old contents. */
  upload(entry: PooledBuffer, data: Float32Array, byteOffset = 0): void {
    this.checkAlive();
    if (entry.lastUseEpoch === this.epoch && this.pendingCommands > 0) this.flush();
    this.device.queue.writeBuffer(entry.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const commands = this.encoder.finish();
    this.encoder = null;
    this.device.queue.submit([commands]);
    this.pendingCommands = 0;
    this.epoch++;
    this.submitCount++;
  }

  /** Submit and wait until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwDeviceError();
  }

  /** Read `bytes` from the start of a tensor buffer (submits pending work first). */
  async read(entry: PooledBuffer, bytes: number): Promise<Float32Array> {
    this.checkAlive();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(size, STAGING_USAGE);
    entry.lastUseEpoch = this.epoch;
    this.endPass().copyBufferToBuffer(entry.buffer, 0, staging.buffer, 0, size);
    this.pendingCommands++;
    this.flush();
    try {
      await staging.buffer.mapAsync(MAP_MODE_READ, 0, size);
      const out = new Float32Array(bytes / 4);
      out.set(new Float32Array(staging.buffer.getMappedRange(0, size), 0, bytes / 4));
      staging.buffer.unmap();
      return out;
    } catch (err) {
      this.throwDeviceError();
      throw err;
    } finally {
      this.pool.release(staging);
      this.throwDeviceError();
    }
  }

  /** `name|key` of every kernel compiled so far, in compile order: which kernels an op ran on this adapter. */
  compiledKernels(): string[] {
    return [...this.pipelines.keys()];
  }

  stats(): RuntimeStats {
    return {
      ...this.pool.getStats(),
      pipelines: this.pipelines.size,
      dispatches: this.dispatchCount,
      submits: this.submitCount,
      uniformBlocks: this.uniforms.size,
      bindGroups: this.bindGroups.size,
      bindGroupReuses: this.bindGroupReuses,
    };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    this.pool.destroyAll();
    for (const block of this.uniforms.values()) block.buffer.destroy();
    this.uniforms.clear();
    this.bindGroups.clear();
    this.device.destroy();
  }

  private checkAlive(): void {
    if (this.destroyed) throw new Error('petseg runtime was destroyed; call init() again');
    this.throwDeviceError();
  }

  private throwDeviceError(): void {
    if (this.deviceError) {
      const err = this.deviceError;
      this.deviceError = null;
      throw err;
    }
  }
}

let current: Runtime | null = null;
let pending: Promise<Runtime> | null = null;

/** Acquire the WebGPU device (once) and make it the engine's runtime. */
export async function init(options: RequestGpuOptions = {}): Promise<Runtime> {
  if (current) return current;
  pending ??= requestGpu(options).then((handle) => (current = new Runtime(handle)));
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

/** The runtime made by {@link init}; throws if there is none yet. */
export function getRuntime(): Runtime {
  if (!current) throw new Error('petseg: no WebGPU runtime yet — call `await init()` before creating tensors.');
  return current;
}

/** Destroy the runtime and its device; tensors made on it become unusable. */
export function shutdown(): void {
  current?.destroy();
  current = null;
}
