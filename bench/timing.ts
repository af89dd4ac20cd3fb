/** Wall-clock timing of GPU work: each sample runs the work and waits until the GPU has finished it. */

export interface Timing {
  /** Median of the timed samples, ms. */
  median: number;
  /** The first call (pipeline creation and shader compilation included), ms. */
  first: number;
  samples: number[];
}

export interface TimingOptions {
  warmup: number;
  repeats: number;
}

/**
 * `run` records the work (returning a clean-up for its outputs); `finish` submits it and resolves
 * when the device has completed it (e.g. queue.onSubmittedWorkDone), so the time is the GPU's.
 */
export async function timeWork(run: () => () => void, finish: () => Promise<void>, options: TimingOptions): Promise<Timing> {
  const once = async () => {
    const started = performance.now();
    const cleanUp = run();
    await finish();
    const ms = performance.now() - started;
    cleanUp();
    return ms;
  };
  const first = await once();
  for (let i = 1; i < options.warmup; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < options.repeats; i++) samples.push(await once());
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, first, samples };
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
