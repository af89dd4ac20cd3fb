/// <reference types="@webgpu/types" preserve="true" />
/**
 * The runtime owns the device, the buffer pool, the pipeline cache and the command encoder.
 *
 * Dispatches are recorded into one open compute pass and submitted together at readback, at
 * `flush()` (step end) or after {@link AUTO_FLUSH_DISPATCHES} dispatches — not once per op.
 *
 * Longer than ~400 lines because every way work reaches the GPU — dispatch, upload, readback,
 * timed passes, profiled passes — must share the one encoder and pass state kept here; init()
 * and its options sit at the end.
 */
import { batchNormSettings, type BatchNormSettings } from '../kernels/batchnorm/plan.js';
import { convPlans, type ConvStrategy, type PlannerOptions } from '../kernels/conv/index.js';
import type { KernelSpec } from '../kernels/kernel.js';
import { BufferPool, boundSize, type PoolStats, type PooledBuffer } from './buffer-pool.js';
import { capsFor, capsFromEnvironment, type AdapterCaps } from './caps.js';
import { GpuProfiler, type ProfileReport } from './profiler.js';
import { ConvTuner, kernelVersion } from './conv-tuner.js';
import { describeAdapter, requestGpu, type AdapterReport, type GpuHandle, type RequestGpuOptions } from './device.js';
import { defaultCacheDir, fileTuneStore } from './tune-store.js';

/** Usage of every tensor buffer: read/written by kernels, copied for readback and upload. */
export const TENSOR_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
const STAGING_USAGE = 0x1 /* MAP_READ */ | 0x8; /* COPY_DST */
const UNIFORM_USAGE = 0x40; /* UNIFORM */
const QUERY_RESOLVE_USAGE = 0x200 /* QUERY_RESOLVE */ | 0x4; /* COPY_SRC */
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

/** One kernel launch: its buffers, bound in order (inputs, then outputs), parameters and grid. */
export interface Dispatch {
  kernel: KernelSpec;
  inputs: PooledBuffer[];
  outputs: PooledBuffer[];
  /** u32 words of the kernel's parameter block, if it has one. */
  params?: ArrayLike<number>;
  workgroups: [number, number, number];
  /** Floating-point operations the launch performs, where known (the profiler reports GFLOP/s). */
  flops?: number;
}

/** The buffer pool's statistics, and the runtime's caches, dispatches and submits (memoryStats). */
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

/** Bytes for messages: exact, so that two different sizes never read the same. */
function formatBytes(bytes: number): string {
  return bytes < 2 ** 20 ? `${bytes} bytes` : `${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes} bytes)`;
}

/**
 * The engine's WebGPU runtime, made by {@link init}: the device, buffer pool, pipeline cache and
 * the one command encoder that every dispatch, upload and readback goes through.
 */
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

  /** While tracing: `name|key` of every dispatch (traceDispatches). */
  private trace: string[] | null = null;
  /** Dispatches are being recorded into a timed pass (timeGpu), which must not be split by an automatic flush. */
  private timing = false;
  private timestamps: { querySet: GPUQuerySet; resolve: PooledBuffer } | null = null;
  /** While profiling (startProfile): every dispatch in a timestamped pass of its own. */
  private profiler: GpuProfiler | null = null;

  readonly device: GPUDevice;
  readonly adapterReport: AdapterReport;
  /** What the adapter is and can do (engine/caps.ts), with init()'s `caps` overrides. */
  readonly caps: AdapterCaps;
  /** How kernels are chosen, fixed at init() (RuntimeSettings). */
  readonly settings: RuntimeSettings;
  /** The convolution autotuner's table (engine/autotune.ts fills it). */
  readonly tuner: ConvTuner;
  /** Held so the GPU instance and adapter live as long as the device. */
  readonly handle: GpuHandle;

  constructor(handle: GpuHandle, config: { caps: AdapterCaps; settings: RuntimeSettings; tuner: ConvTuner }) {
    this.handle = handle;
    this.device = handle.device;
    this.adapterReport = handle.report;
    this.caps = config.caps;
    this.settings = config.settings;
    this.tuner = config.tuner;
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

  /** A buffer for `bytes` of tensor data (contents undefined), no larger than the adapter binds. */
  allocate(bytes: number): PooledBuffer {
    const request = Math.max(bytes, 4);
    const limit = this.caps.maxBufferBytes;
    // The size checked is the size bound: the pool's buffer, not the bytes asked for.
    const bound = boundSize(request, limit);
    if (bound > limit) {
      throw new RangeError(`a tensor of ${formatBytes(bytes)} needs a buffer of ${formatBytes(bound)}, more than the ${formatBytes(limit)} this adapter binds at most; use a smaller batch or input size`);
    }
    return this.pool.acquire(request, TENSOR_USAGE, limit);
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
    const bytes = this.profiler ? buffers.reduce((n, b) => n + b.byteSize, 0) : 0;
    const pass = this.profiler ? this.profiler.beginPass(this.endPass(), cached.key, d.workgroups, bytes, d.flops ?? 0) : this.computePass();
    pass.setPipeline(cached.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    if (this.profiler) {
      pass.end();
      this.pass = null;
    }
    this.dispatchCount++;
    this.trace?.push(`${d.kernel.name}|${d.kernel.key}`);
    if (++this.pendingCommands >= AUTO_FLUSH_DISPATCHES && !this.timing) this.flush();
  }

  /** Runs `record` (synchronous: it only records GPU work) and returns `name|key` of every kernel it dispatched, in order. */
  traceDispatches(record: () => void): string[] {
    const outer = this.trace;
    this.trace = [];
    try {
      record();
      return this.trace;
    } finally {
      outer?.push(...this.trace);
      this.trace = outer;
    }
  }

  /**
   * Milliseconds the GPU spends on the work `record` dispatches (it must not read anything back):
   * between timestamps written around its own compute pass where the adapter has
   * `timestamp-query`, else the wall-clock time of a submit-and-wait (which adds the round trip).
   */
  async timeGpu(record: () => void): Promise<number> {
    this.checkAlive();
    if (this.profiler) throw new Error('timeGpu: not while a profile is running');
    this.flush();
    if (!this.caps.timestampQuery) {
      const started = performance.now();
      record();
      await this.sync();
      return performance.now() - started;
    }
    this.timestamps ??= {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 }),
      resolve: this.pool.acquire(16, QUERY_RESOLVE_USAGE),
    };
    const { querySet, resolve } = this.timestamps;
    this.encoder = this.device.createCommandEncoder();
    this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    this.timing = true;
    try {
      record();
    } finally {
      this.timing = false;
    }
    if (!this.pass) throw new Error('timeGpu: the timed work flushed its own pass (it read a value back)');
    this.endPass().resolveQuerySet(querySet, 0, 2, resolve.buffer, 0);
    const words = await this.readRaw(resolve, 16);
    const [begin, end] = new BigUint64Array(words.buffer, words.byteOffset, 2);
    return Number(end - begin) / 1e6;
  }

  /**
   * Start timing every dispatch on the GPU (engine/profiler.ts) until stopProfile(). Needs
   * `timestamp-query` (caps.timestampQuery); adds a pass per launch, so a profiled step runs a
   * little slower than an unprofiled one.
   */
  startProfile(): void {
    this.checkAlive();
    if (!this.caps.timestampQuery) throw new Error(`profiling needs the timestamp-query feature, which ${this.adapterName} lacks; time whole steps instead`);
    if (this.profiler) throw new Error('startProfile: a profile is already running');
    this.flush();
    this.profiler = new GpuProfiler(this.device);
  }

  /** Stop profiling; waits for the profiled work and returns its per-kernel report. */
  async stopProfile(): Promise<ProfileReport> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('stopProfile: no profile is running');
    this.profiler = null;
    try {
      const timestamps: BigUint64Array[] = [];
      for (const { set, count } of profiler.querySets()) {
        const resolve = this.pool.acquire(count * 8, QUERY_RESOLVE_USAGE);
        try {
          this.endPass().resolveQuerySet(set, 0, count, resolve.buffer, 0);
          const raw = await this.readRaw(resolve, count * 8);
          timestamps.push(new BigUint64Array(raw.buffer, raw.byteOffset, count));
        } finally {
          this.pool.release(resolve);
        }
      }
      return profiler.report(timestamps);
    } finally {
      profiler.destroy();
    }
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
    const raw = await this.readRaw(entry, bytes);
    return new Float32Array(raw.buffer, raw.byteOffset, bytes / 4);
  }

  private async readRaw(entry: PooledBuffer, bytes: number): Promise<Uint8Array> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(size, STAGING_USAGE);
    entry.lastUseEpoch = this.epoch;
    this.endPass().copyBufferToBuffer(entry.buffer, 0, staging.buffer, 0, size);
    this.pendingCommands++;
    this.flush();
    try {
      await staging.buffer.mapAsync(MAP_MODE_READ, 0, size);
      const out = new Uint8Array(size);
      out.set(new Uint8Array(staging.buffer.getMappedRange(0, size)));
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
    this.timestamps?.querySet.destroy();
    this.profiler?.destroy();
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

/** How kernels are chosen, fixed when the runtime starts. */
export interface RuntimeSettings {
  readonly conv: Readonly<PlannerOptions>;
  readonly batchNorm: Readonly<BatchNormSettings>;
}

/**
 * Options of {@link init}: which kernels may run, autotuning and its persisted table, adapter
 * overrides, or a device already acquired.
 */
export interface InitOptions extends RequestGpuOptions {
  /**
   * Which convolution kernels may run (kernels/conv/plan.ts): `auto`, every candidate, the
   * adapter's own family first (the direct kernels on CPU adapters, implicit GEMMs on GPUs);
   * `gemm` or `direct`, only that family. Default: $PETSEG_CONV, else `auto`.
   */
  conv?: ConvStrategy;
  /**
   * Use the convolution kernels autotune() measured fastest on this adapter (persisted), and let
   * autotune() measure. false: always the planner's first candidate, as in a fresh process with
   * no table. Default: false when $PETSEG_AUTOTUNE is `0`, `off` or `false`, else true.
   */
  autotune?: boolean;
  /** Folder of the persisted autotune table (Node). Default: $PETSEG_CACHE_DIR, else <user cache>/petseg; null: not persisted. */
  cacheDir?: string | null;
  /** Candidate kernels never to plan, by name (what removing one costs: `npm run bench -- --ablate`). */
  exclude?: readonly string[];
  /** Describe the adapter differently from what it reports, e.g. `{ software: false }` for GPU kernel choices on a CPU adapter. */
  caps?: Partial<AdapterCaps>;
  /** BatchNorm's sum and element settings instead of the adapter's (kernels/batchnorm/plan.ts). */
  batchNorm?: Partial<BatchNormSettings>;
  /**
   * Seconds this runtime's autotune() calls may spend timing in all; convolutions left when it
   * is spent run the planner's first candidate and are tuned by a later run. Default:
   * $PETSEG_AUTOTUNE_BUDGET, else 120.
   */
  autotuneBudget?: number;
  /** An adapter and device already acquired (a device shared with another library, or a stand-in) instead of requesting one. */
  gpu?: GpuHandle;
}

/** Default seconds of autotuning per runtime (InitOptions.autotuneBudget). */
const DEFAULT_AUTOTUNE_BUDGET = 120;

function resolveBudget(option: number | undefined): number {
  const raw = environment('PETSEG_AUTOTUNE_BUDGET');
  const value = option ?? (raw === undefined || raw === '' ? DEFAULT_AUTOTUNE_BUDGET : Number(raw));
  if (!(value >= 0)) throw new RangeError(`petseg: the autotune budget must be seconds ≥ 0, got '${option ?? raw}' (option autotuneBudget or $PETSEG_AUTOTUNE_BUDGET)`);
  return value;
}

/** An adapter's identity in the autotune table: the same hardware, driver and capabilities share choices. */
function adapterId(report: AdapterReport, caps: AdapterCaps): string {
  return `${[report.vendor, report.architecture, report.device, report.description].join('/')} [${report.backend}, subgroups ${caps.subgroupSize}, ${caps.software ? 'software' : 'hardware'}]`;
}

function environment(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}

function resolveStrategy(option: ConvStrategy | undefined): ConvStrategy {
  const value = option ?? environment('PETSEG_CONV') ?? 'auto';
  if (value !== 'auto' && value !== 'gemm' && value !== 'direct') throw new RangeError(`petseg: conv strategy must be auto, gemm or direct, got '${value}' (option conv or $PETSEG_CONV)`);
  return value;
}

async function start(options: InitOptions): Promise<Runtime> {
  const conv = resolveStrategy(options.conv);
  const autotune = options.autotune ?? !/^(0|off|false)$/i.test(environment('PETSEG_AUTOTUNE') ?? '');
  const budget = resolveBudget(options.autotuneBudget);
  const envCaps = capsFromEnvironment(environment('PETSEG_CAPS'));
  const handle = options.gpu ?? (await requestGpu(options));
  const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && handle.report.runtime === 'node (dawn)';
  const cacheDir = options.cacheDir === undefined ? (inNode ? await defaultCacheDir() : null) : options.cacheDir;
  const store = autotune && cacheDir !== null ? await fileTuneStore(cacheDir) : null;
  const caps: AdapterCaps = Object.freeze({ ...capsFor(handle.report), ...envCaps, ...options.caps });
  const settings: RuntimeSettings = Object.freeze({
    conv: Object.freeze({ strategy: conv, exclude: new Set(options.exclude ?? []) }),
    batchNorm: Object.freeze({ ...batchNormSettings(caps.software), ...options.batchNorm }),
  });
  const id = adapterId(handle.report, caps);
  const kernels = autotune ? kernelVersion((direction, layer, hasBias, operands) => convPlans(direction, layer, caps, hasBias, settings.conv, operands), caps.f16 ? ['f32', 'f16'] : ['f32']) : '';
  const persisted = store ? await store.load(id, kernels) : {};
  const tuner = new ConvTuner({ enabled: autotune, adapterId: id, kernels, store, persisted, budgetSeconds: budget });
  return new Runtime(handle, { caps, settings, tuner });
}

let current: Runtime | null = null;
let pending: Promise<Runtime> | null = null;

/** Acquire the WebGPU device (once) and make it the engine's runtime; options apply to the first call after shutdown(). */
export async function init(options: InitOptions = {}): Promise<Runtime> {
  if (current) return current;
  pending ??= start(options).then((runtime) => (current = runtime));
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
