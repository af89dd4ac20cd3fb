/**
 * The page's training demo: a UNet learns synthetic pets drawn in the page, with the same
 * engine, loader, loss and optimizer as `petseg train` (Adam with L2 weight decay,
 * BCE-with-logits, per-image Dice at threshold 0.5).
 */
import type { Module } from '../engine/nn/module.js';
import { bceWithLogits } from '../engine/ops/loss.js';
import { segmentationMetrics, summarizeMetrics } from '../engine/ops/metrics.js';
import { Adam } from '../engine/optim.js';
import { tidy } from '../engine/scope.js';
import type { CheckpointInfo } from '../models/checkpoint-format.js';
import { createModel, MODELS } from '../models/registry.js';
import { BatchLoader, disposeBatch, epochGenerator, shuffledOrder } from '../train/loader.js';
import { syntheticSamples } from '../train/synthetic-pets.js';

export interface TrainDemoOptions {
  size: number;
  baseChannels: number;
  images: number;
  batchSize: number;
  epochs: number;
  lr: number;
  seed: number;
}

export interface TrainDemoStep {
  step: number;
  epoch: number;
  loss: number;
  dice: number;
  imagesPerSecond: number;
}

/** Throws a RangeError naming the field when an option is unusable. */
export function checkTrainDemoOptions(o: TrainDemoOptions): void {
  const stride = MODELS.UNet.stride;
  if (!(Number.isInteger(o.size) && o.size >= stride && o.size % stride === 0)) throw new RangeError(`Image size must be a multiple of ${stride}, got ${o.size}`);
  for (const [name, value] of [['UNet width', o.baseChannels], ['Images', o.images], ['Batch', o.batchSize], ['Epochs', o.epochs]] as const) {
    if (!(Number.isInteger(value) && value >= 1)) throw new RangeError(`${name} must be a whole number ≥ 1, got ${value}`);
  }
  if (!(o.lr > 0)) throw new RangeError(`Learning rate must be positive, got ${o.lr}`);
}

/**
 * Train, calling `onStep` after every step with that step's loss and Dice (read back before the
 * next step, so the chart is live); stops early when `shouldStop()` turns true.
 */
export async function trainOnSyntheticPets(
  o: TrainDemoOptions,
  onStep: (step: TrainDemoStep) => void,
  shouldStop: () => boolean,
): Promise<{ model: Module; info: CheckpointInfo }> {
  checkTrainDemoOptions(o);
  const samples = syntheticSamples(o.images, o.size, o.seed);
  const model = createModel('UNet', { baseChannels: o.baseChannels, seed: o.seed });
  const optimizer = new Adam(model.parameters(), { lr: o.lr, weightDecay: 1e-4 });
  model.train();
  let step = 0;
  let epoch = 0;
  try {
    for (epoch = 1; epoch <= o.epochs && !shouldStop(); epoch++) {
      const order = shuffledOrder(samples.length, epochGenerator(o.seed, epoch, 'shuffle'));
      const loader = new BatchLoader(samples, { batchSize: o.batchSize, size: o.size, order });
      for (let b = 0; b < loader.length && !shouldStop(); b++) {
        const started = performance.now();
        const batch = loader.load(b);
        const { loss, metrics } = tidy(() => {
          const logits = model.forward(batch.images);
          return { loss: bceWithLogits(logits, batch.masks), metrics: segmentationMetrics(logits, batch.masks, 0.5) };
        });
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        const value = await loss.item();
        const { dice } = await summarizeMetrics(metrics);
        loss.dispose();
        metrics.dispose();
        disposeBatch(batch);
        if (!Number.isFinite(value)) throw new Error(`training diverged at step ${step + 1} (loss ${value}); try a smaller learning rate`);
        step++;
        onStep({ step, epoch, loss: value, dice, imagesPerSecond: batch.samples.length / ((performance.now() - started) / 1000) });
      }
    }
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    optimizer.zeroGrad();
  }
  model.eval();
  const info: CheckpointInfo = {
    model: 'UNet',
    options: { baseChannels: o.baseChannels },
    epoch: epoch - 1,
    args: { img_size: o.size, lr: o.lr, batch_size: o.batchSize, seed: o.seed, data_path: 'synthetic (web page)' },
  };
  return { model, info };
}
