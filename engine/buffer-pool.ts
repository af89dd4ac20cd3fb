/// <reference types="@webgpu/types" preserve="true" />
/**
 * Reuses GPU buffers by size class and usage, so a training step allocates nothing once warm.
 *
 * Sizes are rounded up to one of four classes per power of two (at most 25% slack), so a tensor
 * of a slightly different size can still reuse a buffer. A released buffer remembers the
 * submission epoch it was last used in: the runtime must not `writeBuffer` into it before that
 * work is submitted (queue writes jump ahead of unsubmitted commands).
 */

/** What the pool holds and has done: live and free buffers and bytes, buffers created, reuses. */
export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  /** Bytes of those buffers (their size class, not the bytes asked for). */
  liveBytes: number;
  /** Released buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Buffers ever created by the pool (grows only when reuse fails). */
  createdBuffers: number;
  /** Acquisitions served from the pool. */
  reusedBuffers: number;
  /** Highest liveBytes seen. */
  peakLiveBytes: number;
}

/** A GPU buffer of the pool: its size class, usage and the submission epoch it was last used in. */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** Unique per pool, for caches keyed by buffer (bind groups). */
  readonly id: number;
  readonly byteSize: number;
  readonly usage: GPUBufferUsageFlags;
  /** Submission epoch of the last command that referenced the buffer. */
  lastUseEpoch: number;
}

const MIN_CLASS_BYTES = 256;

/** Smallest size class holding `bytes`: 256 B, then 4 steps per octave (1, 1.25, 1.5, 1.75 × 2^k). */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const step = octave / 4;
  const rounded = Math.ceil(bytes / step) * step;
  // Keep every size a multiple of 16 bytes (vec4 access, copy alignment).
  return Math.ceil(rounded / 16) * 16;
}

/**
 * The bytes of the buffer that serves a request for `bytes`: its size class, or — where the class
 * would pass `limit` (the largest buffer the adapter binds) but the request does not — the
 * request rounded up to 16 bytes, so that every size the adapter can bind is served.
 */
export function boundSize(bytes: number, limit: number): number {
  const size = sizeClass(bytes);
  return size <= limit ? size : Math.ceil(bytes / 16) * 16;
}

/** The runtime's allocator: GPU buffers reused by size class and usage (the top of this file). */
export class BufferPool {
  private readonly free = new Map<string, PooledBuffer[]>();
  private readonly live = new Set<PooledBuffer>();
  private stats: PoolStats = {
    liveBuffers: 0,
    liveBytes: 0,
    pooledBuffers: 0,
    pooledBytes: 0,
    createdBuffers: 0,
    reusedBuffers: 0,
    peakLiveBytes: 0,
  };

  private nextId = 0;

  /** `onDestroy` runs whenever the pool destroys buffers, so that caches holding them can be dropped. */
  constructor(
    private readonly device: GPUDevice,
    private readonly onDestroy: () => void = () => {},
  ) {}

  /** A buffer of at least `bytes` (see boundSize for `limit`). */
  acquire(bytes: number, usage: GPUBufferUsageFlags, limit = Infinity): PooledBuffer {
    const byteSize = boundSize(bytes, limit);
    const key = `${usage}:${byteSize}`;
    let entry = this.free.get(key)?.pop();
    if (entry) {
      this.stats.pooledBuffers--;
      this.stats.pooledBytes -= byteSize;
      this.stats.reusedBuffers++;
    } else {
      const buffer = this.device.createBuffer({ size: byteSize, usage });
      entry = { buffer, id: this.nextId++, byteSize, usage, lastUseEpoch: -1 };
      this.stats.createdBuffers++;
    }
    this.live.add(entry);
    this.stats.liveBuffers++;
    this.stats.liveBytes += byteSize;
    this.stats.peakLiveBytes = Math.max(this.stats.peakLiveBytes, this.stats.liveBytes);
    return entry;
  }

  release(entry: PooledBuffer): void {
    if (!this.live.delete(entry)) throw new Error('BufferPool.release: buffer is not live (released twice?)');
    this.stats.liveBuffers--;
    this.stats.liveBytes -= entry.byteSize;
    const key = `${entry.usage}:${entry.byteSize}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    // Kept in descending id order so that acquire() pops the lowest id: a training step that
    // makes the same requests every time then gets the same buffers in the same roles, whatever
    // order the previous step released them in, and the runtime's bind groups can be reused.
    let at = list.length;
    while (at > 0 && list[at - 1].id < entry.id) at--;
    list.splice(at, 0, entry);
    this.stats.pooledBuffers++;
    this.stats.pooledBytes += entry.byteSize;
  }

  /** Destroy every pooled (free) buffer, returning its memory to the device. */
  purge(): void {
    for (const list of this.free.values()) for (const entry of list) entry.buffer.destroy();
    this.free.clear();
    this.onDestroy();
    this.stats.pooledBuffers = 0;
    this.stats.pooledBytes = 0;
  }

  /** Destroy everything, live buffers included (the device is going away). */
  destroyAll(): void {
    this.purge();
    for (const entry of this.live) entry.buffer.destroy();
    this.live.clear();
    this.onDestroy();
    this.stats.liveBuffers = 0;
    this.stats.liveBytes = 0;
  }

  /** Start the peak over from what is live now (like torch.cuda.reset_peak_memory_stats). */
  resetPeak(): void {
    this.stats.peakLiveBytes = this.stats.liveBytes;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }
}
