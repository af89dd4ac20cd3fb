/**
 * Recording a finished epoch: its metrics record, TensorBoard scalars and example image, the
 * checkpoints and metrics line committed to the run folder as one transaction (run-folder.ts),
 * and the console line. Nothing non-finite is ever written: the model's state is checked on the
 * GPU first, and a NaN validation loss stops the run before anything is committed.
 */
import type { GradScaler } from '../engine/grad-scaler.js';
import { allFinite } from '../engine/ops/finite.js';
import type { Adam } from '../engine/optim.js';
import type { Module } from '../engine/nn/module.js';
import { encodeCheckpoint, type CheckpointInfo } from '../models/checkpoint-format.js';
import { encodeOptimizerState } from '../models/optimizer-state.js';
import type { EpochResult } from './epoch.js';
import { exampleGrid, type Evaluation } from './evaluate.js';
import type { RasterImage, Sample } from './pixels.js';
import { commitEpoch, crashPoint, type RunManifest } from './run-folder.js';
import { DivergedError, divergedMessage, type RunSettings } from './settings.js';
import type { Folder } from './storage.js';
import type { SummaryWriter } from './tfevents.js';

/** One finished epoch. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  /** Mean per-image Dice of the training batches (model in training mode). */
  trainDice: number;
  validLoss: number;
  validDice: number;
  validIou: number;
  validDatasetDice: number;
  seconds: number;
  imagesPerSecond: number;
  /** This epoch set a new best validation loss (best.safetensors was written). */
  best: boolean;
}

/** An epoch as metrics.jsonl holds it: the record with the lab's snake_case names. */
export interface EpochMetrics {
  epoch: number;
  train_loss: number;
  train_dice: number;
  valid_loss: number;
  valid_dice: number;
  valid_iou: number;
  valid_dataset_dice: number;
  seconds: number;
  images_per_second: number;
  best: boolean;
}

/** The record as a metrics.jsonl line. */
export function epochMetrics(r: EpochRecord): EpochMetrics {
  return {
    epoch: r.epoch,
    train_loss: r.trainLoss,
    train_dice: r.trainDice,
    valid_loss: r.validLoss,
    valid_dice: r.validDice,
    valid_iou: r.validIou,
    valid_dataset_dice: r.validDatasetDice,
    seconds: r.seconds,
    images_per_second: r.imagesPerSecond,
    best: r.best,
  };
}

/** The run's best epoch so far: the lowest validation loss. */
export interface Best {
  epoch: number;
  validLoss: number;
  validDice: number;
}

/** A manifest's best (JSON, snake_case) as a Best, and back. */
export const bestOf = (b: RunManifest['best']): Best => ({ epoch: b.epoch, validLoss: b.valid_loss, validDice: b.valid_dice });
const bestJson = (b: Best): RunManifest['best'] => ({ epoch: b.epoch, valid_loss: b.validLoss, valid_dice: b.validDice });

/** What stays the same from epoch to epoch of a run, for recording each. */
export interface RecordContext {
  /** The run folder (opened and locked). */
  folder: Folder;
  model: Module;
  optimizer: Adam;
  /** Mixed precision's loss scaler, saved with the optimizer state. */
  scaler?: GradScaler;
  writer: SummaryWriter | null;
  /** Checkpoint metadata but the epoch and metrics. */
  info: Omit<CheckpointInfo, 'epoch' | 'metrics'>;
  /** Recorded in the manifest: the run's settings, its data (for --resume) and the adapter. */
  settings: RunSettings;
  data: NonNullable<RunManifest['data']>;
  adapter: string;
  validSamples: readonly Sample[];
  say(line: string): void;
}

/** One finished epoch: how it trained and validated, and how long it took. */
export interface EpochOutcome {
  epoch: number;
  train: EpochResult;
  valid: Evaluation & { logits?: Float32Array };
  seconds: number;
}

/** Rows of [input | truth | prediction] of the first validation images (when their logits were kept), as RGB. */
function validationGrid(c: RecordContext, valid: EpochOutcome['valid']): { raster: RasterImage; png: Uint8Array } | null {
  if (!valid.logits) return null;
  const size = c.settings.imgSize;
  const keep = Math.floor(valid.logits.length / (size * size));
  return exampleGrid(c.validSamples.slice(0, keep), valid.logits, size, c.settings.maskThreshold);
}

/**
 * Record a finished epoch; returns its record, the run's best after it and the validation grid
 * (when the validation kept logits).
 */
export async function recordEpoch(c: RecordContext, outcome: EpochOutcome, best: Best): Promise<{ record: EpochRecord; best: Best; grid: RasterImage | null }> {
  const { epoch, train, valid, seconds } = outcome;
  const epochs = c.settings.epochs;
  if (!Number.isFinite(valid.loss)) throw new DivergedError(divergedMessage(epoch, `the validation loss is ${valid.loss}`, c.optimizer.lr));
  if (!(await allFinite(c.model.stateDict().values()))) {
    throw new DivergedError(divergedMessage(epoch, "the model's weights or BatchNorm statistics are no longer finite", c.optimizer.lr));
  }
  const improved = valid.loss < best.validLoss;
  const nextBest: Best = improved ? { epoch, validLoss: valid.loss, validDice: valid.dice } : best;
  const record: EpochRecord = {
    epoch,
    trainLoss: train.loss,
    trainDice: train.dice,
    validLoss: valid.loss,
    validDice: valid.dice,
    validIou: valid.iou,
    validDatasetDice: valid.datasetDice,
    seconds,
    imagesPerSecond: train.images / seconds,
    best: improved,
  };
  const line = epochMetrics(record);
  const metrics = {
    ...Object.fromEntries(Object.entries(line).filter(([, v]) => typeof v === 'number')),
    best_epoch: nextBest.epoch,
    best_valid_loss: nextBest.validLoss,
    best_valid_dice: nextBest.validDice,
  } as Record<string, number>;
  const info = { ...c.info, epoch, metrics };
  const grid = validationGrid(c, valid);
  const last = await encodeCheckpoint(c.model, info);
  const optimizer = await encodeOptimizerState(c.optimizer, c.model, c.scaler);
  if (c.writer) {
    const w = c.writer;
    w.addScalar('loss/train', record.trainLoss, epoch);
    w.addScalar('loss/valid', record.validLoss, epoch);
    w.addScalar('dice/train', record.trainDice, epoch);
    w.addScalar('dice/valid', record.validDice, epoch);
    w.addScalar('dice/valid_dataset', record.validDatasetDice, epoch);
    w.addScalar('iou/valid', record.validIou, epoch);
    if (c.scaler) w.addScalar('amp/loss_scale', c.scaler.scale, epoch);
    if (grid) w.addImage('valid/input_truth_prediction', grid.png, grid.raster.width, grid.raster.height, epoch);
    await w.flush();
    crashPoint('tensorboard-written', epoch);
  }
  await commitEpoch(c.folder, {
    last,
    optimizer,
    best: improved ? last : null,
    metrics: JSON.stringify(line),
    manifest: { format: 'petseg-run-v1', epoch, steps: c.optimizer.state().step, best: bestJson(nextBest), settings: c.settings, tensorboard: c.writer?.position ?? null, data: c.data, adapter: c.adapter },
  });
  c.say(
    `epoch ${epoch}/${epochs}  train loss ${record.trainLoss.toFixed(4)} dice ${record.trainDice.toFixed(4)}  ` +
      `valid loss ${record.validLoss.toFixed(4)} dice ${record.validDice.toFixed(4)} (dataset ${record.validDatasetDice.toFixed(4)}) iou ${record.validIou.toFixed(4)}  ` +
      `${seconds.toFixed(1)} s, ${record.imagesPerSecond.toFixed(1)} img/s${c.scaler ? `  loss scale ${c.scaler.scale} (${c.scaler.skippedSteps} steps skipped)` : ''}${improved ? '  *best' : ''}`,
  );
  return { record, best: nextBest, grid: grid?.raster ?? null };
}
