/**
 * One training epoch: seeded order and augmentation, forward, BCE with logits, backward, Adam, a
 * progress bar. Batch b + 1 is assembled and uploaded, and step b + 1 submitted, before step b's
 * loss is read back, so the GPU always has queued work. Every step is checked for a non-finite
 * loss (read back anyway) and a non-finite gradient (flagged by the Adam kernels themselves, read
 * with the loss): training stops there with a line naming the step. In mixed precision the
 * convolutions run under autocast and a GradScaler scales the loss; a step whose gradients are
 * not finite is skipped and the scale halved (that is the scaler's work, not divergence), and
 * its check waits for the step's backward before the optimizer runs.
 */
import { autocast } from '../engine/autocast.js';
import type { GradScaler } from '../engine/grad-scaler.js';
import type { Module } from '../engine/nn/module.js';
import { bceWithLogits } from '../engine/ops/loss.js';
import { segmentationMetrics, summarizeMetrics } from '../engine/ops/metrics.js';
import type { Adam } from '../engine/optim.js';
import { formatProfile } from '../engine/profiler.js';
import { getRuntime } from '../engine/runtime.js';
import { tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { BatchLoader, disposeBatch, epochGenerator, shuffledOrder, type Batch } from './loader.js';
import type { Sample } from './pixels.js';
import { ProgressBar, type ProgressStream } from './progress.js';
import { DivergedError, divergedMessage } from './settings.js';

export interface EpochSettings {
  seed: number;
  batchSize: number;
  imgSize: number;
  augment: boolean;
  maskThreshold: number;
  /** The run's epoch count (for the progress label). */
  epochs: number;
  /** Profile this epoch's first N steps per kernel (engine/profiler.ts) and print the table. */
  profileSteps?: number;
  /** Mixed precision: the loss scaler (convolutions under autocast); absent: float32. */
  scaler?: GradScaler;
  /** Checked between steps: once aborted, the epoch stops with a StoppedError (nothing of it is recorded). */
  signal?: AbortSignal;
}

/** A loss scale this small means the gradients stay non-finite however small the loss is made: the run has diverged. */
const MIN_LOSS_SCALE = 2 ** -16;

export interface EpochResult {
  loss: number;
  dice: number;
  images: number;
}

export { DivergedError, divergedMessage } from './settings.js';

/** The step loop stopped because the caller's signal asked it to (the page's Stop button). */
export class StoppedError extends Error {
  constructor() {
    super('training stopped');
    this.name = 'StoppedError';
  }
}

export async function trainEpoch(model: Module, optimizer: Adam, samples: readonly Sample[], s: EpochSettings, epoch: number, out: ProgressStream): Promise<EpochResult> {
  const loader = new BatchLoader(samples, {
    batchSize: s.batchSize,
    size: s.imgSize,
    order: shuffledOrder(samples.length, epochGenerator(s.seed, epoch, 'shuffle')),
    augment: s.augment ? epochGenerator(s.seed, epoch, 'augment') : undefined,
  });
  const bar = new ProgressBar(`epoch ${epoch}/${s.epochs}`, out);
  let lossSum = 0;
  let diceSum = 0;
  let seen = 0;
  const consume = async (p: { loss: Tensor; metrics: Tensor; n: number; step: number }, done: number) => {
    const loss = await p.loss.item();
    const dice = (await summarizeMetrics(p.metrics)).dice;
    p.loss.dispose();
    p.metrics.dispose();
    if (!Number.isFinite(loss)) throw new DivergedError(divergedMessage(epoch, `the loss of step ${p.step} is ${loss}`, optimizer.lr));
    const bad = await optimizer.firstNonFiniteStep();
    if (bad !== null) throw new DivergedError(divergedMessage(epoch, `a gradient of step ${bad} is not finite (NaN or ±Inf)`, optimizer.lr));
    lossSum += loss * p.n;
    diceSum += dice * p.n;
    seen += p.n;
    bar.update({ done, total: loader.length, loss: lossSum / seen, dice: diceSum / seen, images: seen });
  };
  let pending: { loss: Tensor; metrics: Tensor; n: number; step: number } | null = null;
  try {
    let next: Batch | null = loader.load(0);
    const profileSteps = Math.min(s.profileSteps ?? 0, loader.length);
    const profileStarted = performance.now();
    // Without timestamp-query only the steps' wall time can be measured: said so, and training goes on.
    const timestamps = getRuntime().caps.timestampQuery;
    if (profileSteps > 0 && timestamps) getRuntime().startProfile();
    for (let b = 0; b < loader.length; b++) {
      if (s.signal?.aborted) throw new StoppedError();
      const batch: Batch = next!;
      const { scaler } = s;
      const { loss, metrics } = tidy(() => {
        const logits = autocast(() => model.forward(batch.images), scaler !== undefined);
        return { loss: bceWithLogits(logits, batch.masks), metrics: segmentationMetrics(logits, batch.masks, s.maskThreshold) };
      });
      optimizer.zeroGrad();
      if (scaler) {
        await scaler.backwardAndStep(loss, optimizer);
        if (scaler.scale < MIN_LOSS_SCALE) {
          throw new DivergedError(divergedMessage(epoch, `the gradients stayed NaN or ±Inf while the loss scale fell to ${scaler.scale} (step ${optimizer.state().step + scaler.skippedSteps})`, optimizer.lr));
        }
      } else {
        loss.backward();
        optimizer.step();
      }
      getRuntime().flush();
      if (b + 1 === profileSteps) {
        if (timestamps) {
          const report = await getRuntime().stopProfile();
          out.write(`\nprofile of ${profileSteps} training steps (${(report.kernelMs / profileSteps).toFixed(2)} ms of kernel time per step):\n${formatProfile(report, 20, performance.now() - profileStarted)}\n`);
        } else {
          await getRuntime().sync();
          out.write(`\nprofile: ${getRuntime().adapterName} lacks timestamp-query, so no per-kernel times; ${profileSteps} steps took ${(performance.now() - profileStarted).toFixed(1)} ms of wall time\n`);
        }
      }
      next = b + 1 < loader.length ? loader.load(b + 1) : null;
      disposeBatch(batch);
      if (pending) await consume(pending, b);
      pending = { loss, metrics, n: batch.samples.length, step: optimizer.state().step + (s.scaler?.skippedSteps ?? 0) };
    }
    if (pending) await consume(pending, loader.length);
    pending = null;
  } finally {
    pending?.loss.dispose();
    pending?.metrics.dispose();
    bar.end();
    optimizer.zeroGrad();
  }
  return { loss: lossSum / seen, dice: diceSum / seen, images: seen };
}
