/**
 * The autotuner: for every convolution a piece of work runs that has more than one candidate
 * kernel (kernels/conv/plan.ts) and no tuned choice yet, measure each candidate's GPU time on this
 * adapter on operands of the real shape, keep the fastest, and persist the table
 * (engine/tune-store.ts) so the next process starts tuned. Call it before the work itself, e.g.
 * before the first training step (train/tune.ts does this for a model); nothing is tuned
 * implicitly, so the same table gives the same kernels and the same values.
 *
 * A measurement must be right where kernels take tens of microseconds and timestamps may be
 * rounded to 65.536 µs (Dawn's default, and browsers'):
 * - each candidate first runs as a warm-up whose time is not kept (first use pays for pipeline
 *   and driver caches and for memory touched first) but sizes its samples;
 * - a sample repeats the launch until it lasts SAMPLE_MS, many quanta of any timer;
 * - the time kept is the median of SAMPLES samples — but a candidate whose first sample is
 *   RACE_FACTOR times slower than the best median so far is not sampled further, and one whose
 *   long warm-up is WARMUP_RACE_FACTOR times slower is not sampled at all;
 * - the operands are filled on the GPU (no host random numbers at full shape).
 * Timing stops when the runtime's budget (InitOptions.autotuneBudget) is spent: what is left runs
 * the planner's first candidate, is reported as untuned and is tuned by a later run.
 */
import { fillGrid, noiseKernel, noiseParams } from '../kernels/fill.js';
import type { ConvPlan } from '../kernels/conv/index.js';
import { noGrad } from './autograd.js';
import type { TuneRequest } from './conv-tuner.js';
import { cast } from './ops/cast.js';
import { convCandidates, runConvPlan, type ConvOperands } from './ops/conv.js';
import { getRuntime } from './runtime.js';
import { Tensor } from './tensor.js';

/** Shortest timed sample, ms: 30 quanta of a 65.536 µs timer. */
const SAMPLE_MS = 2;
/** Timed samples per candidate (their median is kept). */
const SAMPLES = 3;
/** Most launches in one sample. */
export const MAX_RUNS_PER_SAMPLE = 256;
/** A candidate whose first sample is this much slower than the best so far is not sampled again. */
const RACE_FACTOR = 1.5;
/**
 * A candidate whose warm-up alone — long enough to read (≥ SAMPLE_MS) — is this much slower than
 * the best so far is not sampled at all: first use (pipeline compilation happens before the timed
 * pass) does not double a run of milliseconds.
 */
const WARMUP_RACE_FACTOR = 2;

/** A convolution shape {@link autotune} tuned: its key, the kernel kept, each candidate's time. */
export interface TunedChoice {
  key: string;
  /** The candidate kept. */
  kernel: string;
  /** GPU milliseconds per run of each candidate timed, in the planner's order: the median of its samples (one sample, or its warm-up, for a candidate raced out). */
  times: Record<string, number>;
  /** Launches per timed sample of each candidate. */
  runsPerSample: Record<string, number>;
}

/** What one {@link autotune} call did: the shapes it tuned, those left untuned, and its seconds. */
export interface AutotuneReport {
  /** Choices made now (already-tuned shapes are not timed again). */
  tuned: TunedChoice[];
  /** Convolutions left untuned because the runtime's budget was spent: they run the planner's first candidate. */
  untuned: number;
  /** Wall-clock seconds spent. */
  seconds: number;
}

/** Options of {@link autotune}: the timer it measures candidates with. */
export interface AutotuneOptions {
  /** GPU milliseconds of the work `record` dispatches; default: the runtime's timeGpu. Tests pass a coarse or fake timer. */
  timer?: (record: () => void) => Promise<number>;
}

/** Noise in [-1, 1) made on the GPU, of the tuned direction's operand type (a bias is f32). */
function noise(shape: number[], seed: number, half: boolean): Tensor {
  const values = Tensor.empty(shape);
  if (values.size > 0) getRuntime().dispatch({ kernel: noiseKernel, inputs: [], outputs: [values.buffer], params: noiseParams(values.size, seed), workgroups: fillGrid(values.size) });
  if (!half) return values;
  const converted = cast(values, 'float16');
  values.dispose();
  return converted;
}

/** Operands of each role of the request's direction (kernels/conv/plan.ts says which is which). */
function operandsFor(request: TuneRequest): ConvOperands {
  const g = request.layer;
  const half = request.operands === 'f16';
  const x = () => noise([g.batch, g.srcChannels, g.srcH, g.srcW], 1, half);
  const y = () => noise([g.batch, g.dstChannels, g.dstH, g.dstW], 2, half);
  const conv = () => noise([g.dstChannels, g.srcChannels, g.kh, g.kw], 3, half);
  const transposed = () => noise([g.srcChannels, g.dstChannels, g.kh, g.kw], 3, half);
  const bias = request.hasBias ? noise([g.dstChannels], 4, false) : null;
  switch (request.direction) {
    case 'forward':
      return { src: x(), weight: conv(), bias };
    case 'grad-input':
      return { src: y(), weight: conv() };
    case 'grad-weight':
      return { src: x(), grad: y() };
    case 'transpose-forward':
      return { src: x(), weight: transposed(), bias };
    case 'transpose-grad-input':
      return { src: y(), weight: transposed() };
    case 'transpose-grad-weight':
      return { src: y(), grad: x() };
  }
}

/** Median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

type Timer = NonNullable<AutotuneOptions['timer']>;

/**
 * Per-run GPU time of `plan` (see the top of this file), or a first sample only when it exceeds
 * `raceMs`; null when the budget ran out first.
 */
async function measure(plan: ConvPlan, operands: ConvOperands, timer: Timer, raceMs: number, hasBudget: () => boolean): Promise<{ ms: number; runs: number } | null> {
  const run = (runs: number) =>
    timer(() => {
      for (let i = 0; i < runs; i++) runConvPlan(plan, operands).dispose();
    });
  /** More runs per sample after a total of `ms` over `runs` (a coarse timer may read 0). */
  const grow = (runs: number, ms: number) => Math.min(MAX_RUNS_PER_SAMPLE, ms > 0 ? Math.ceil(runs * Math.max(2, (1.25 * SAMPLE_MS) / ms)) : runs * 16);
  // Warm-up; its time (an overestimate) sizes the sample.
  let runs = 1;
  let ms = await run(1);
  if (ms >= SAMPLE_MS && ms > (WARMUP_RACE_FACTOR / RACE_FACTOR) * raceMs) return { ms, runs };
  while (ms < SAMPLE_MS && runs < MAX_RUNS_PER_SAMPLE) {
    if (!hasBudget()) return null;
    runs = grow(runs, ms);
    ms = await run(runs);
  }
  const samples: number[] = [];
  while (samples.length < SAMPLES) {
    if (!hasBudget()) return null;
    const total = await run(runs);
    // Far shorter than the (first-use inflated) sizing run: too short to trust; size again and start over.
    if (total < SAMPLE_MS / 2 && runs < MAX_RUNS_PER_SAMPLE) {
      runs = grow(runs, total);
      samples.length = 0;
      continue;
    }
    samples.push(total / runs);
    if (samples[0] > raceMs) break;
  }
  return { ms: median(samples), runs };
}

/**
 * Runs `record` — synchronous GPU work, e.g. a model's forward and backward on a batch of the
 * real shape — to find the convolutions it performs, then tunes those not tuned yet, within what
 * is left of the runtime's budget. Without autotuning (init({ autotune: false }) or
 * $PETSEG_AUTOTUNE=0) it does nothing and records nothing.
 */
export async function autotune(record: () => void, options: AutotuneOptions = {}): Promise<AutotuneReport> {
  const runtime = getRuntime();
  const started = performance.now();
  const timer: Timer = options.timer ?? ((work) => runtime.timeGpu(work));
  const requests = runtime.tuner.discover(record);
  await runtime.sync();
  const tuned: TunedChoice[] = [];
  let untuned = 0;
  let clock = performance.now();
  const hasBudget = () => {
    const now = performance.now();
    runtime.tuner.spend(now - clock);
    clock = now;
    return runtime.tuner.remainingMs > 0;
  };
  for (const request of requests) {
    if (!hasBudget()) {
      untuned++;
      continue;
    }
    const plans = convCandidates(request.direction, request.layer, request.hasBias, request.operands);
    const operands = noGrad(() => operandsFor(request));
    const times: Record<string, number> = {};
    const runsPerSample: Record<string, number> = {};
    let complete = true;
    try {
      for (const plan of plans) {
        const best = Math.min(Infinity, ...Object.values(times));
        const measured = await measure(plan, operands, timer, RACE_FACTOR * best, hasBudget);
        if (!measured) {
          complete = false;
          break;
        }
        times[plan.kernel] = measured.ms;
        runsPerSample[plan.kernel] = measured.runs;
      }
    } finally {
      for (const t of Object.values(operands) as (Tensor | null | undefined)[]) t?.dispose();
    }
    if (!complete) {
      untuned++;
      continue;
    }
    // The fastest; on a tie the planner's earlier (preferred) candidate.
    const kernel = plans.reduce((best, plan) => (times[plan.kernel] < times[best.kernel] ? plan : best)).kernel;
    runtime.tuner.set(request.key, kernel);
    tuned.push({ key: request.key, kernel, times, runsPerSample });
  }
  hasBudget();
  if (tuned.length > 0) await runtime.tuner.persist();
  return { tuned, untuned, seconds: (performance.now() - started) / 1000 };
}

/** The line a command prints after tuning (null when nothing was tuned or left untuned). */
export function describeAutotune(report: AutotuneReport): string | null {
  const parts: string[] = [];
  if (report.tuned.length) parts.push(`autotuned ${report.tuned.length} convolution shapes in ${report.seconds.toFixed(1)} s (kept for this adapter; PETSEG_AUTOTUNE=0 turns it off)`);
  if (report.untuned) {
    parts.push(
      `${report.untuned} convolution shapes left untuned: the autotune budget of ${getRuntime().tuner.budgetSeconds} s is spent, so they run the planner's first kernel (a later run tunes them; PETSEG_AUTOTUNE_BUDGET=<seconds> raises the budget)`,
    );
  }
  return parts.length ? parts.join('; ') : null;
}
