/** Wall-clock timing of GPU work: each sample runs the work and waits until the GPU has finished it. */
import { median } from '../engine/internal.js';

// The engine's median (engine/autotune.ts), for the bench's other files too.
export { median };

export interface Timing {
  /** Median of the timed samples, ms per run. */
  median: number;
  /** The first call (pipeline creation and shader compilation included), ms. */
  first: number;
  /** ms per run of each sample. */
  samples: number[];
  /** Runs recorded back to back in each timed sample (1 unless `minSampleMs` asked for more). */
  runsPerSample: number;
}

export interface TimingOptions {
  warmup: number;
  repeats: number;
  /**
   * Shortest wanted sample, ms: runs shorter than this are repeated back to back within one
   * sample (then divided), so that the fixed cost of one submit-and-wait round trip (~0.1–0.2 ms
   * in Dawn's Node binding, the same for any kernel) does not swamp a short kernel. 0: one run.
   */
  minSampleMs?: number;
}

/** Most runs in one sample. */
const MAX_RUNS_PER_SAMPLE = 64;

/**
 * `run` records the work (returning a clean-up for its outputs); `finish` submits it and resolves
 * when the device has completed it (e.g. queue.onSubmittedWorkDone), so the time is the GPU's.
 * The number of back-to-back runs per sample is fixed from the last warm-up run's time.
 */
export async function timeWork(run: () => (() => void) | Promise<() => void>, finish: () => Promise<void>, options: TimingOptions): Promise<Timing> {
  const sample = async (runs: number) => {
    const started = performance.now();
    // Each run's outputs are released right after it is recorded, as a training step would:
    // queued work keeps its order, so later runs reuse the same buffers safely. A run that must
    // wait (a loss-scaled step reads its overflow flag) is awaited.
    for (let i = 0; i < runs; i++) (await run())();
    await finish();
    return (performance.now() - started) / runs;
  };
  const first = await sample(1);
  let last = first;
  for (let i = 1; i < options.warmup; i++) last = await sample(1);
  const minSampleMs = options.minSampleMs ?? 0;
  const runsPerSample = Math.max(1, Math.min(MAX_RUNS_PER_SAMPLE, Math.ceil(minSampleMs / Math.max(last, 1e-3))));
  const samples: number[] = [];
  for (let i = 0; i < options.repeats; i++) samples.push(await sample(runsPerSample));
  return { median: median(samples), first, samples, runsPerSample };
}

/** Max |a − b| / max |b|, after reordering `b` with `permute` (index in a → index in b). */
export function relativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return a.length !== b.length ? Infinity : diff / Math.max(scale, 1e-30);
}

/** Transpose a row-major array of `shape` by `order` (like numpy.transpose). */
export function permute(data: Float32Array, shape: readonly number[], order: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  const rank = shape.length;
  const strides = new Array<number>(rank);
  for (let d = rank - 1, s = 1; d >= 0; d--) (strides[d] = s), (s *= shape[d]);
  const outShape = order.map((d) => shape[d]);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += index[d] * strides[order[d]];
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}
