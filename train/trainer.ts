/**
 * The lab's training loop on petseg: Adam + BCE-with-logits, per-epoch validation, the best
 * checkpoint by validation loss and the last one (with optimizer state, for an exact resume),
 * metrics.jsonl, TensorBoard scalars and example images, and a progress bar.
 */
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import type { Module } from '../engine/nn/module.js';
import { concat } from '../engine/ops/layout.js';
import { bceWithLogits } from '../engine/ops/loss.js';
import { checkThreshold, segmentationMetrics, summarizeMetrics, type MetricSummary } from '../engine/ops/metrics.js';
import { Adam } from '../engine/optim.js';
import { getRuntime } from '../engine/runtime.js';
import { tidy } from '../engine/scope.js';
import type { Tensor } from '../engine/tensor.js';
import { loadCheckpoint, loadOptimizerState, readCheckpointInfo, saveCheckpoint, saveOptimizerState } from '../models/checkpoint.js';
import { createModel, MODELS, type ModelName, type ModelOptions } from '../models/registry.js';
import { loadSplitCached } from './cache.js';
import { readSplit } from './dataset.js';
import type { Sample } from './pixels.js';
import { encodePng } from './images.js';
import { BatchLoader, disposeBatch, epochGenerator, shuffledOrder, type Batch } from './loader.js';
import { ProgressBar, type ProgressStream } from './progress.js';
import { SummaryWriter } from './tfevents.js';
import { autotuneModel } from './tune.js';

export const RUN_FILES = {
  best: 'best.safetensors',
  last: 'last.safetensors',
  optimizer: 'last.optim.safetensors',
  metrics: 'metrics.jsonl',
} as const;

export interface TrainOptions {
  dataPath: string;
  model: ModelName;
  /** Model options other than the seed (e.g. { baseChannels: 8 }). */
  modelOptions: ModelOptions;
  seed: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  batchSize: number;
  imgSize: number;
  augment: boolean;
  maskThreshold: number;
  saveDir: string;
  /** TensorBoard folder; null: no event file. */
  logDir: string | null;
  /** Continue the run in saveDir from last.safetensors. */
  resume: boolean;
  /** Decode cache folder (default: `<dataPath>/.petseg-cache`). */
  cacheDir?: string;
  /** Recorded in every checkpoint (the CLI's arguments). */
  args?: Record<string, unknown>;
  /** Validation images drawn into TensorBoard each epoch (default 4). */
  exampleImages?: number;
  /** Progress output (default process.stdout). */
  out?: ProgressStream;
  warn?: (line: string) => void;
}

export interface EpochRecord {
  epoch: number;
  train_loss: number;
  /** Mean per-image Dice of the training batches (model in training mode). */
  train_dice: number;
  valid_loss: number;
  valid_dice: number;
  valid_iou: number;
  valid_dataset_dice: number;
  seconds: number;
  images_per_second: number;
  /** This epoch set a new best validation loss (best.safetensors was written). */
  best: boolean;
}

export interface TrainResult {
  /** Epochs run by this call (a resumed run lists only the new ones). */
  history: EpochRecord[];
  /** The best epoch of the whole run, as recorded in best.safetensors. */
  best: { epoch: number; valid_loss: number; valid_dice: number };
  model: Module;
}

export interface Evaluation extends MetricSummary {
  /** Mean BCE over all pixels. */
  loss: number;
}

/** Loss and segmentation metrics of `model` (in eval mode) on samples; optionally keeps the first logits. */
export async function evaluateSamples(
  model: Module,
  samples: readonly Sample[],
  options: { batchSize: number; size: number; threshold: number; keepLogits?: number },
): Promise<Evaluation & { logits?: Float32Array }> {
  checkThreshold(options.threshold, '--mask_threshold');
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
          const logits = model.forward(batch.images);
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
      logits = await joined.toArray();
      if (joined !== kept[0]) joined.dispose();
    }
    return { ...summary, loss: lossSum / samples.length, logits };
  } finally {
    for (const t of [...losses, ...metrics, ...kept]) t.dispose();
    model.train(wasTraining);
  }
}

/** Rows of [input | ground truth | prediction] for the first samples, as one RGB image. */
function exampleGrid(samples: readonly Sample[], logits: Float32Array, size: number, threshold: number): { png: Uint8Array; width: number; height: number } {
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
  return { png: encodePng({ width, height: rows * size, channels: 3, data }), width, height: rows * size };
}

function checkOptions(o: TrainOptions): void {
  checkThreshold(o.maskThreshold, '--mask_threshold');
  const stride = MODELS[o.model].stride;
  if (o.imgSize % stride !== 0) {
    throw new RangeError(`--img_size ${o.imgSize} must be a multiple of ${stride} for ${o.model} (e.g. ${Math.max(stride, Math.round(o.imgSize / stride) * stride)})`);
  }
  for (const [name, value, min] of [
    ['--epochs', o.epochs, 1],
    ['--batch_size', o.batchSize, 1],
    ['--img_size', o.imgSize, 1],
  ] as const) {
    if (!(Number.isInteger(value) && value >= min)) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
  if (!(o.lr > 0)) throw new RangeError(`--lr must be positive, got ${o.lr}`);
  if (!(o.weightDecay >= 0)) throw new RangeError(`--weight_decay must be ≥ 0, got ${o.weightDecay}`);
}

/** A run already in saveDir (from last.safetensors), or null. */
function previousRun(saveDir: string): { epoch: number } | null {
  const last = join(saveDir, RUN_FILES.last);
  if (!existsSync(last)) return null;
  return { epoch: readCheckpointInfo(last)?.epoch ?? 0 };
}

/** `dir` exists as a writable folder, or can be made: its nearest existing ancestor is a writable folder. */
function checkWritableFolder(dir: string, what: string): void {
  let at = dir;
  while (!existsSync(at)) {
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  if (!statSync(at).isDirectory()) throw new Error(`${what} ${dir}: ${at} is a file, not a folder; choose another ${what}`);
  try {
    accessSync(at, constants.W_OK);
  } catch {
    throw new Error(`${what} ${dir}: ${at} is not writable; choose another ${what}`);
  }
}

/**
 * Every check of the options that needs no GPU — values, the dataset layout, the run folder
 * (writable; holding a run only with resume) — so that a command can refuse bad input before
 * it opens a device or writes anything. train() runs it too.
 */
export function checkTrainOptions(o: TrainOptions): void {
  checkOptions(o);
  readSplit(o.dataPath, 'train');
  readSplit(o.dataPath, 'valid');
  checkWritableFolder(o.saveDir, '--save_dir');
  if (o.logDir) checkWritableFolder(o.logDir, '--log_dir');
  const lastFile = join(o.saveDir, RUN_FILES.last);
  const previous = previousRun(o.saveDir);
  if (previous && !o.resume) {
    throw new Error(`${o.saveDir} already holds a run (${RUN_FILES.last} at epoch ${previous.epoch}); pass --resume to continue it, or choose another --save_dir`);
  }
  if (o.resume && !previous) throw new Error(`--resume: ${lastFile} does not exist; nothing to resume (drop --resume to start a run)`);
  if (previous && previous.epoch >= o.epochs) {
    throw new RangeError(`--resume: ${lastFile} has already trained ${previous.epoch} epochs; pass --epochs greater than ${previous.epoch} to train further`);
  }
}

/** Train as the lab does; see TrainOptions. Throws DatasetError / RangeError / Error with a one-line message on bad input. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  checkTrainOptions(o);
  const warn = o.warn ?? ((line: string) => console.warn(line));
  const out = o.out ?? process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  const lastFile = join(o.saveDir, RUN_FILES.last);
  const previous = previousRun(o.saveDir);

  const cacheDir = o.cacheDir ?? join(o.dataPath, '.petseg-cache');
  const load = (split: 'train' | 'valid') => {
    const { samples, fromCache } = loadSplitCached(o.dataPath, split, o.imgSize, { cacheDir, warn });
    say(`${split}: ${samples.length} images ${fromCache ? '(decode cache)' : '(decoded and cached)'}`);
    return samples;
  };
  const trainSamples = load('train');
  const validSamples = load('valid');
  // The run folder is made only once the data is known to load.
  mkdirSync(o.saveDir, { recursive: true });

  let model: Module;
  let startEpoch = 0;
  let best = { epoch: 0, valid_loss: Infinity, valid_dice: NaN };
  if (previous) {
    const loaded = loadCheckpoint(lastFile, o.model);
    model = loaded.model;
    startEpoch = loaded.info.epoch ?? 0;
    const m = loaded.info.metrics ?? {};
    best = { epoch: m.best_epoch ?? 0, valid_loss: m.best_valid_loss ?? Infinity, valid_dice: m.best_valid_dice ?? NaN };
  } else {
    model = createModel(o.model, { ...o.modelOptions, seed: o.seed });
  }
  const optimizer = new Adam(model.parameters(), { lr: o.lr, weightDecay: o.weightDecay });
  const stepsPerEpoch = Math.ceil(trainSamples.length / o.batchSize);
  if (previous) {
    const optimizerFile = join(o.saveDir, RUN_FILES.optimizer);
    loadOptimizerState(optimizerFile, optimizer, model);
    const steps = optimizer.state().step;
    if (steps !== startEpoch * stepsPerEpoch) {
      throw new Error(
        `--resume: ${optimizerFile} holds ${steps} steps but ${RUN_FILES.last} is at epoch ${startEpoch} (${startEpoch * stepsPerEpoch} steps of batch ${o.batchSize} over ${trainSamples.length} images); ` +
          'resume with the same --batch_size and data as the run',
      );
    }
    say(`resuming ${lastFile} after epoch ${startEpoch} (best valid loss ${best.valid_loss.toFixed(4)} at epoch ${best.epoch})`);
  }

  // The convolution kernels of this run's shapes, measured once per adapter (engine/autotune.ts)
  // before the first step, so every step of this run and of a resumed one runs the same kernels.
  const lastBatch = trainSamples.length % o.batchSize;
  const batchShape = (n: number) => [n, 3, o.imgSize, o.imgSize];
  const tuned = await autotuneModel(model, lastBatch ? [batchShape(o.batchSize), batchShape(lastBatch)] : [batchShape(o.batchSize)], true);
  if (tuned.tuned.length) say(`autotuned ${tuned.tuned.length} convolution shapes in ${tuned.seconds.toFixed(1)} s (kept for this adapter; PETSEG_AUTOTUNE=0 turns it off)`);

  const writer = o.logDir ? new SummaryWriter(o.logDir) : null;
  const info = (epoch: number, metrics: Record<string, number>) => ({
    model: o.model,
    options: { ...o.modelOptions, seed: o.seed },
    epoch,
    metrics,
    args: o.args,
  });
  const history: EpochRecord[] = [];
  model.train();
  try {
    for (let epoch = startEpoch + 1; epoch <= o.epochs; epoch++) {
      const started = performance.now();
      const loader = new BatchLoader(trainSamples, {
        batchSize: o.batchSize,
        size: o.imgSize,
        order: shuffledOrder(trainSamples.length, epochGenerator(o.seed, epoch, 'shuffle')),
        augment: o.augment ? epochGenerator(o.seed, epoch, 'augment') : undefined,
      });
      const bar = new ProgressBar(`epoch ${epoch}/${o.epochs}`, out);
      let lossSum = 0;
      let diceSum = 0;
      let seen = 0;
      let pending: { loss: Tensor; metrics: Tensor; n: number } | null = null;
      // Read step b's loss after step b+1 is submitted, so the GPU always has queued work.
      const consume = async (p: { loss: Tensor; metrics: Tensor; n: number }, done: number) => {
        const loss = await p.loss.item();
        const dice = (await summarizeMetrics(p.metrics)).dice;
        p.loss.dispose();
        p.metrics.dispose();
        if (!Number.isFinite(loss)) throw new Error(`training diverged at epoch ${epoch}: loss is ${loss}; try a smaller --lr`);
        lossSum += loss * p.n;
        diceSum += dice * p.n;
        seen += p.n;
        bar.update({ done, total: loader.length, loss: lossSum / seen, dice: diceSum / seen, images: seen });
      };
      let next: Batch | null = loader.load(0);
      for (let b = 0; b < loader.length; b++) {
        const batch: Batch = next!;
        const { loss, metrics } = tidy(() => {
          const logits = model.forward(batch.images);
          return { loss: bceWithLogits(logits, batch.masks), metrics: segmentationMetrics(logits, batch.masks, o.maskThreshold) };
        });
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        getRuntime().flush();
        next = b + 1 < loader.length ? loader.load(b + 1) : null;
        disposeBatch(batch);
        if (pending) await consume(pending, b);
        pending = { loss, metrics, n: batch.samples.length };
      }
      if (pending) await consume(pending, loader.length);
      bar.end();
      optimizer.zeroGrad();

      const keep = Math.min(o.exampleImages ?? 4, validSamples.length);
      const valid = await evaluateSamples(model, validSamples, { batchSize: o.batchSize, size: o.imgSize, threshold: o.maskThreshold, keepLogits: writer ? keep : 0 });
      const seconds = (performance.now() - started) / 1000;
      const improved = valid.loss < best.valid_loss;
      if (improved) best = { epoch, valid_loss: valid.loss, valid_dice: valid.dice };
      const record: EpochRecord = {
        epoch,
        train_loss: lossSum / seen,
        train_dice: diceSum / seen,
        valid_loss: valid.loss,
        valid_dice: valid.dice,
        valid_iou: valid.iou,
        valid_dataset_dice: valid.datasetDice,
        seconds,
        images_per_second: seen / seconds,
        best: improved,
      };
      history.push(record);
      const metrics = {
        ...Object.fromEntries(Object.entries(record).filter(([, v]) => typeof v === 'number')),
        best_epoch: best.epoch,
        best_valid_loss: best.valid_loss,
        best_valid_dice: best.valid_dice,
      } as Record<string, number>;
      // Optimizer state first: a crash between the two writes leaves a step count that --resume rejects, never a silent mismatch.
      await saveOptimizerState(join(o.saveDir, RUN_FILES.optimizer), optimizer, model);
      await saveCheckpoint(lastFile, model, info(epoch, metrics));
      if (improved) await saveCheckpoint(join(o.saveDir, RUN_FILES.best), model, info(epoch, metrics));
      appendFileSync(join(o.saveDir, RUN_FILES.metrics), `${JSON.stringify(record)}\n`);
      if (writer) {
        writer.addScalar('loss/train', record.train_loss, epoch);
        writer.addScalar('loss/valid', record.valid_loss, epoch);
        writer.addScalar('dice/train', record.train_dice, epoch);
        writer.addScalar('dice/valid', record.valid_dice, epoch);
        writer.addScalar('dice/valid_dataset', record.valid_dataset_dice, epoch);
        writer.addScalar('iou/valid', record.valid_iou, epoch);
        if (valid.logits) {
          const grid = exampleGrid(validSamples.slice(0, keep), valid.logits, o.imgSize, o.maskThreshold);
          writer.addImage('valid/input_truth_prediction', grid.png, grid.width, grid.height, epoch);
        }
        writer.flush();
      }
      say(
        `epoch ${epoch}/${o.epochs}  train loss ${record.train_loss.toFixed(4)} dice ${record.train_dice.toFixed(4)}  ` +
          `valid loss ${record.valid_loss.toFixed(4)} dice ${record.valid_dice.toFixed(4)} (dataset ${record.valid_dataset_dice.toFixed(4)}) iou ${record.valid_iou.toFixed(4)}  ` +
          `${seconds.toFixed(1)} s, ${record.images_per_second.toFixed(1)} img/s${improved ? '  *best' : ''}`,
      );
    }
  } finally {
    writer?.close();
    optimizer.dispose();
  }
  return { history, best, model };
}

