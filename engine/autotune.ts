/**
 * The autotuner: for every convolution a piece of work runs that has more than one candidate
 * kernel (kernels/conv/plan.ts) and no tuned choice yet, time each candidate once on this adapter
 * (GPU time, from timestamp queries where the adapter has them) on random operands of the real
 * shape, keep the fastest, and persist the table (engine/tune-store.ts) so the next process
 * starts tuned. Call it before the work itself, e.g. before the first training step
 * (train/tune.ts does this for a model); nothing is tuned implicitly, so the same table gives the
 * same kernels and the same values.
 */
import type { ConvPlan } from '../kernels/conv/index.js';
import { noGrad } from './autograd.js';
import type { TuneRequest } from './conv-tuner.js';
import { cast } from './ops/cast.js';
import { randn } from './ops/creation.js';
import { convCandidates, runConvPlan, type ConvOperands } from './ops/conv.js';
import { getRuntime } from './runtime.js';
import type { Tensor } from './tensor.js';

export interface TunedChoice {
  key: string;
  /** The candidate kept. */
  kernel: string;
  /** GPU milliseconds of one run of each candidate timed, in the planner's order. */
  times: Record<string, number>;
}

export interface AutotuneReport {
  /** Choices made now (already-tuned shapes are not timed again). */
  tuned: TunedChoice[];
  /** Wall-clock seconds spent timing. */
  seconds: number;
}

/** Random operands (seeded: tuning leaves the default generator alone) of each role of the request's direction, of its type (a bias is f32). */
function operandsFor(request: TuneRequest): ConvOperands {
  const g = request.layer;
  const random = (shape: number[]) => {
    const values = randn(shape, { seed: 1 });
    if (request.operands === 'f32') return values;
    const half = cast(values, 'float16');
    values.dispose();
    return half;
  };
  const x = [g.batch, g.srcChannels, g.srcH, g.srcW];
  const y = [g.batch, g.dstChannels, g.dstH, g.dstW];
  const conv = [g.dstChannels, g.srcChannels, g.kh, g.kw];
  const transposed = [g.srcChannels, g.dstChannels, g.kh, g.kw];
  const bias = request.hasBias ? randn([g.dstChannels], { seed: 1 }) : null;
  switch (request.direction) {
    case 'forward':
      return { src: random(x), weight: random(conv), bias };
    case 'grad-input':
      return { src: random(y), weight: random(conv) };
    case 'grad-weight':
      return { src: random(x), grad: random(y) };
    case 'transpose-forward':
      return { src: random(x), weight: random(transposed), bias };
    case 'transpose-grad-input':
      return { src: random(y), weight: random(transposed) };
    case 'transpose-grad-weight':
      return { src: random(y), grad: random(x) };
  }
}

/**
 * GPU time of one run of `plan`. With timestamps the kernels' compilation (at pipeline creation,
 * before anything is submitted) is outside the timed pass; without, one untimed run compiles them.
 */
async function timePlan(plan: ConvPlan, operands: ConvOperands): Promise<number> {
  const runtime = getRuntime();
  const once = () => runConvPlan(plan, operands).dispose();
  if (!runtime.caps.timestampQuery) once();
  return runtime.timeGpu(once);
}

/**
 * Runs `record` — synchronous GPU work, e.g. a model's forward and backward on a batch of the
 * real shape — to find the convolutions it performs, then tunes those not tuned yet. Without
 * autotuning (init({ autotune: false }) or $PETSEG_AUTOTUNE=0) it does nothing and records nothing.
 */
export async function autotune(record: () => void): Promise<AutotuneReport> {
  const runtime = getRuntime();
  const started = performance.now();
  const requests = runtime.tuner.discover(record);
  await runtime.sync();
  const tuned: TunedChoice[] = [];
  for (const request of requests) {
    const plans = convCandidates(request.direction, request.layer, request.hasBias, request.operands);
    const operands = noGrad(() => operandsFor(request));
    const times: Record<string, number> = {};
    try {
      for (const plan of plans) times[plan.kernel] = await timePlan(plan, operands);
    } finally {
      for (const t of Object.values(operands) as (Tensor | null | undefined)[]) t?.dispose();
    }
    // The fastest; on a tie the planner's earlier (preferred) candidate.
    const kernel = plans.reduce((best, plan) => (times[plan.kernel] < times[best.kernel] ? plan : best)).kernel;
    runtime.tuner.set(request.key, kernel);
    tuned.push({ key: request.key, kernel, times });
  }
  if (tuned.length > 0) await runtime.tuner.persist();
  return { tuned, seconds: (performance.now() - started) / 1000 };
}
