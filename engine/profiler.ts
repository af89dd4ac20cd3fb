/**
 * A per-kernel GPU profiler on `timestamp-query`: while it runs, the runtime records every
 * dispatch in a compute pass of its own with timestamps written at the pass's start and end, so
 * each launch's GPU time is measured where it runs, across any number of submits and readbacks.
 * Launches are grouped by kernel (name and key) and launch grid — the grid stands for the shape,
 * since a kernel's parameters live in its uniform block. Bandwidth is the bytes of the buffers a
 * launch binds over its time: an estimate (a kernel may read a buffer twice or part of it), good
 * for ranking, not for roofline claims. Convolution launches also carry their floating-point
 * operations (2 per multiply-add), credited to the launch that writes the result, for GFLOP/s.
 */

/** One kernel-and-grid row of a profile, sorted by total time. */
export interface KernelProfile {
  kernel: string;
  /** The launch grid, [x, y, z] workgroups. */
  grid: string;
  calls: number;
  totalMs: number;
  /** Of the profile's summed kernel time. */
  share: number;
  /** Bound bytes per second, in GB/s (see the top of this file). */
  gbPerSecond: number;
  /** Achieved GFLOP/s where the launch's operations are known (convolutions), else 0. */
  gflopsPerSecond: number;
}

/**
 * A per-kernel GPU profile (Runtime.stopProfile()): one row per kernel and launch grid, slowest
 * first, with the summed GPU time and the number of launches.
 */
export interface ProfileReport {
  kernels: KernelProfile[];
  /** Sum of every launch's GPU time. */
  kernelMs: number;
  dispatches: number;
}

/** Timestamps per query set (two per launch). */
const QUERIES_PER_SET = 4096;

interface Launch {
  kernel: string;
  grid: string;
  bytes: number;
  flops: number;
}

export class GpuProfiler {
  private readonly sets: GPUQuerySet[] = [];
  private readonly launches: Launch[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** A compute pass for one launch, its start and end timestamped. */
  beginPass(encoder: GPUCommandEncoder, kernel: string, workgroups: readonly number[], bytes: number, flops: number): GPUComputePassEncoder {
    const index = (this.launches.length * 2) % QUERIES_PER_SET;
    if (index === 0) this.sets.push(this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET }));
    this.launches.push({ kernel, grid: `${workgroups[0]}×${workgroups[1] ?? 1}×${workgroups[2] ?? 1}`, bytes, flops });
    return encoder.beginComputePass({ timestampWrites: { querySet: this.sets[this.sets.length - 1], beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 } });
  }

  /** The query sets and how many timestamps each holds, for resolving. */
  querySets(): { set: GPUQuerySet; count: number }[] {
    const total = this.launches.length * 2;
    return this.sets.map((set, i) => ({ set, count: Math.min(QUERIES_PER_SET, total - i * QUERIES_PER_SET) }));
  }

  /** The report from the resolved timestamps (one array per query set, in order). */
  report(timestamps: BigUint64Array[]): ProfileReport {
    const rows = new Map<string, KernelProfile & { bytes: number; flops: number }>();
    let kernelMs = 0;
    this.launches.forEach((launch, i) => {
      const set = timestamps[Math.floor((i * 2) / QUERIES_PER_SET)];
      const at = (i * 2) % QUERIES_PER_SET;
      // Timestamps may be coarse or (rarely) out of order between passes: a negative span counts 0.
      const ms = Math.max(0, Number(set[at + 1] - set[at]) / 1e6);
      kernelMs += ms;
      const key = `${launch.kernel} ${launch.grid}`;
      const row = rows.get(key) ?? { kernel: launch.kernel, grid: launch.grid, calls: 0, totalMs: 0, share: 0, gbPerSecond: 0, gflopsPerSecond: 0, bytes: 0, flops: 0 };
      row.calls++;
      row.totalMs += ms;
      row.bytes += launch.bytes;
      row.flops += launch.flops;
      rows.set(key, row);
    });
    const kernels = [...rows.values()]
      .map(({ bytes, flops, ...row }) => {
        const perNs = (v: number) => (row.totalMs > 0 ? v / (row.totalMs * 1e6) : 0);
        return { ...row, share: kernelMs > 0 ? row.totalMs / kernelMs : 0, gbPerSecond: perNs(bytes), gflopsPerSecond: perNs(flops) };
      })
      .sort((a, b) => b.totalMs - a.totalMs);
    return { kernels, kernelMs, dispatches: this.launches.length };
  }

  destroy(): void {
    for (const set of this.sets) set.destroy();
  }
}

/** A profile as a text table: the `top` rows by time, then the rest summed. */
export function formatProfile(report: ProfileReport, top = 20, wallMs?: number): string {
  const lines = [
    `${report.dispatches} launches, ${report.kernelMs.toFixed(2)} ms of kernel time${wallMs === undefined ? '' : ` in ${wallMs.toFixed(2)} ms of wall time`}`,
    'kernel | grid | calls | total ms | share | GB/s (bound bytes) | GFLOP/s',
  ];
  for (const k of report.kernels.slice(0, top)) {
    lines.push(`${k.kernel} | ${k.grid} | ${k.calls} | ${k.totalMs.toFixed(3)} | ${(100 * k.share).toFixed(1)}% | ${k.gbPerSecond.toFixed(1)} | ${k.gflopsPerSecond > 0 ? k.gflopsPerSecond.toFixed(1) : '—'}`);
  }
  const rest = report.kernels.slice(top);
  if (rest.length) {
    const ms = rest.reduce((s, k) => s + k.totalMs, 0);
    lines.push(`(${rest.length} more) | | ${rest.reduce((s, k) => s + k.calls, 0)} | ${ms.toFixed(3)} | ${(100 * (report.kernelMs > 0 ? ms / report.kernelMs : 0)).toFixed(1)}% |`);
  }
  return lines.join('\n');
}
