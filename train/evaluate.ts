/**
 * Validation: a model's loss and segmentation metrics over samples (eval mode, no gradients),
 * and the TensorBoard example image of input, ground truth and prediction.
 */
import { noGrad } from '../engine/autograd.js';
import { autocast } from '../engine/autocast.js';
import type { Module } from '../engine/nn/module.js';
import { concat } from '../engine/ops/layout.js';
import { bceWithLogits } from '../engine/ops/loss.js';
import { checkThreshold, segmentationMetrics, summarizeMetrics, type MetricSummary } from '../engine/ops/metrics.js';
import { getRuntime } from '../engine/runtime.js';
import { tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { encodePng } from './images.js';
import { BatchLoader, disposeBatch, type Batch } from './loader.js';
import type { RasterImage, Sample } from './pixels.js';

/**
 * A model's evaluation on a set of samples ({@link evaluateSamples}): the mean BCE loss and the
 * segmentation metrics.
 */
export interface Evaluation extends MetricSummary {
  /** Mean BCE over all pixels. */
  loss: number;
}

/** Loss and segmentation metrics of `model` (in eval mode) on samples; optionally keeps the first logits. */
export async function evaluateSamples(
  model: Module,
  samples: readonly Sample[],
  /** `mixed`: the convolutions in mixed precision (under autocast), as the run trains. */
  options: { batchSize: number; size: number; threshold: number; keepLogits?: number; mixed?: boolean },
): Promise<Evaluation & { logits?: Float32Array }> {
  checkThreshold(options.threshold, 'maskThreshold');
  const wasTraining = model.training;
  model.eval();
  const loader = new BatchLoader(samples, { batchSize: options.batchSize, size: options.size });
  const losses: Tensor[] = [];
  const metrics: Tensor[] = [];
  const kept: Tensor[] = [];
  let keptCount = 0;
  try {
    let next: Batch | null = loader.load(0);
    for (let b = 0; b < loader.length; b++) {
      const batch: Batch = next!;
      const keepThis = keptCount < (options.keepLogits ?? 0);
      const out = noGrad(() =>
        tidy(() => {
          const logits = autocast(() => model.forward(batch.images), options.mixed ?? false);
          return {
            loss: bceWithLogits(logits, batch.masks).mul(batch.samples.length),
            metrics: segmentationMetrics(logits, batch.masks, options.threshold),
            logits: keepThis ? logits : null,
          };
        }),
      );
      losses.push(out.loss);
      metrics.push(out.metrics);
      if (out.logits) {
        kept.push(out.logits);
        keptCount += batch.samples.length;
      }
      getRuntime().flush();
      next = b + 1 < loader.length ? loader.load(b + 1) : null;
      disposeBatch(batch);
    }
    const all = metrics.length === 1 ? metrics[0] : concat(metrics, 0);
    const summary = await summarizeMetrics(all);
    if (all !== metrics[0]) all.dispose();
    let lossSum = 0;
    for (const l of losses) lossSum += await l.item();
    let logits: Float32Array | undefined;
    if (kept.length) {
      const joined = kept.length === 1 ? kept[0] : concat(kept, 0);
      // Whole batches were kept: only the first keepLogits samples are asked for.
      logits = (await joined.toArray()).slice(0, (options.keepLogits ?? 0) * options.size * options.size);
      if (joined !== kept[0]) joined.dispose();
    }
    return { ...summary, loss: lossSum / samples.length, logits };
  } finally {
    for (const t of [...losses, ...metrics, ...kept]) t.dispose();
    model.train(wasTraining);
  }
}

/** Rows of [input | ground truth | prediction] for the first samples, as one RGB image and its PNG. */
export function exampleGrid(samples: readonly Sample[], logits: Float32Array, size: number, threshold: number): { raster: RasterImage; png: Uint8Array } {
  const rows = Math.min(samples.length, Math.floor(logits.length / (size * size)));
  const width = 3 * size;
  const data = new Uint8Array(rows * size * width * 3);
  const cut = Math.log(threshold / (1 - threshold)); // sigmoid(z) > t ⇔ z > logit(t)
  for (let r = 0; r < rows; r++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = y * size + x;
        const row = (r * size + y) * width;
        const gt = samples[r].mask[p] ? 255 : 0;
        const pred = logits[r * size * size + p] > cut ? 255 : 0;
        for (let c = 0; c < 3; c++) {
          data[(row + x) * 3 + c] = samples[r].image[p * 3 + c];
          data[(row + size + x) * 3 + c] = gt;
          data[(row + 2 * size + x) * 3 + c] = pred;
        }
      }
    }
  }
  const raster: RasterImage = { width, height: rows * size, channels: 3, data };
  return { raster, png: encodePng(raster) };
}
