/**
 * The lab's training loop on petseg: Adam + BCE-with-logits, per-epoch validation, the best
 * checkpoint by validation loss and the last one (with optimizer state, for an exact resume),
 * metrics.jsonl, TensorBoard scalars and example images, and a progress bar. The parts: the run
 * folder's lock (run-lock.ts), the folder and its per-epoch transaction (run-folder.ts), one epoch
 * (epoch.ts), validation (evaluate.ts), recording (record.ts); this file checks the options,
 * resolves the run and loops.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Module } from '../engine/nn/module.js';
import { checkThreshold } from '../engine/ops/metrics.js';
import { GradScaler, type GradScalerOptions } from '../engine/grad-scaler.js';
import { Adam } from '../engine/optim.js';
import { getRuntime } from '../engine/runtime.js';
import { loadCheckpoint, loadOptimizerState } from '../models/checkpoint.js';
import { checkEncoderWeights, loadEncoderWeights, type EncoderWeightsInfo } from '../models/encoder-weights.js';
import { ResNet34UNet } from '../models/resnet34-unet.js';
import { createModel, MODELS, type ModelName, type ModelOptions } from '../models/registry.js';
import { decodeCacheDir, loadSplitCached } from './cache.js';
import { readSplit, splitFingerprint } from './dataset.js';
import { trainEpoch } from './epoch.js';
import { evaluateSamples } from './evaluate.js';
import type { ProgressStream } from './progress.js';
import { recordEpoch, type Best, type EpochRecord } from './record.js';
import { RUN_FILES, foreignEntries, readCommittedRun, recoverRunFolder, type RunManifest } from './run-folder.js';
import { acquireRunLock, type RunLock } from './run-lock.js';
import { SummaryWriter } from './tfevents.js';
import { describeAutotune } from '../engine/autotune.js';
import { autotuneModel } from './tune.js';

export { RUN_FILES } from './run-folder.js';
export { evaluateSamples, type Evaluation } from './evaluate.js';
export type { EpochRecord } from './record.js';

export const PRECISIONS = ['fp32', 'mixed'] as const;
export type Precision = (typeof PRECISIONS)[number];

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
  /** Continue the run in saveDir from its last finished epoch. */
  resume: boolean;
  /** ResNet34_UNet: start the encoder from these weights (safetensors, torchvision/timm names; models/encoder-weights.ts). */
  encoderWeights?: string;
  /** ResNet34_UNet: the first N epochs train with the encoder frozen (weights and BatchNorm statistics); default 0. */
  freezeEncoderEpochs?: number;
  /** ResNet34_UNet: the encoder's learning rate (default lr). */
  encoderLr?: number;
  /** Profile the first N training steps of this run per kernel and print the table (needs timestamp-query). */
  profileSteps?: number;
  /** `mixed`: convolutions on float16 operands under autocast with dynamic loss scaling (needs shader-f16); default `fp32`. */
  precision?: Precision;
  /** Mixed precision: the loss scaler's settings (default GradScaler's: 2^16, ×2 after 2000 clean steps, ×0.5 on overflow). */
  lossScale?: GradScalerOptions;
  /** Decode cache folder (default: decodeCacheDir(dataPath), under the user's cache folder). */
  cacheDir?: string;
  /** The lock on saveDir, when the caller took it already (the CLI does, before the device opens); otherwise train() holds one for its call. */
  runLock?: RunLock;
  /** Recorded in every checkpoint (the CLI's arguments). */
  args?: Record<string, unknown>;
  /** Validation images drawn into TensorBoard each epoch (default 4). */
  exampleImages?: number;
  /** Progress output (default process.stdout). */
  out?: ProgressStream;
  warn?: (line: string) => void;
  /** Called after each epoch is committed (e.g. to watch memory or progress). */
  onEpoch?: (record: EpochRecord) => void;
}

export interface TrainResult {
  /** Epochs run by this call (a resumed run lists only the new ones). */
  history: EpochRecord[];
  /** The best epoch of the whole run, as recorded in best.safetensors. */
  best: Best;
  model: Module;
}

function checkOptions(o: TrainOptions): void {
  checkThreshold(o.maskThreshold, '--mask_threshold');
  if (o.precision !== undefined && !PRECISIONS.includes(o.precision)) throw new RangeError(`--precision ${String(o.precision)} is not a precision; choose ${PRECISIONS.join(' or ')}`);
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
  if (!(Number.isSafeInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) throw new RangeError(`--seed must be an integer in [0, 4294967295], got ${o.seed}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new RangeError(`--lr must be positive, got ${o.lr}`);
  if (!(o.weightDecay >= 0)) throw new RangeError(`--weight_decay must be ≥ 0, got ${o.weightDecay}`);
  const encoderOptions = [o.encoderWeights !== undefined && '--encoder_weights', (o.freezeEncoderEpochs ?? 0) !== 0 && '--freeze_encoder_epochs', o.encoderLr !== undefined && '--encoder_lr'].filter(Boolean);
  if (o.model !== 'ResNet34_UNet' && encoderOptions.length) throw new RangeError(`${encoderOptions.join(', ')}: only ResNet34_UNet has a pretrained encoder; pass --model ResNet34_UNet or drop ${encoderOptions.length > 1 ? 'them' : 'it'}`);
  const freeze = o.freezeEncoderEpochs ?? 0;
  if (!(Number.isInteger(freeze) && freeze >= 0)) throw new RangeError(`--freeze_encoder_epochs must be an integer ≥ 0, got ${freeze}`);
  if (o.encoderLr !== undefined && !(o.encoderLr >= 0 && Number.isFinite(o.encoderLr))) throw new RangeError(`--encoder_lr must be ≥ 0, got ${o.encoderLr}`);
}

/** `dir` exists as a writable folder, or can be made: its nearest existing ancestor is a writable folder. `what` names the argument in messages. */
export function checkWritableFolder(dir: string, what: string): void {
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

/** Host memory the decoded splits take (RGB + mask bytes per pixel), which must fit comfortably. */
function checkDecodedSize(o: TrainOptions): void {
  const images = readSplit(o.dataPath, 'train').length + readSplit(o.dataPath, 'valid').length;
  const bytes = images * o.imgSize * o.imgSize * 4;
  if (bytes > totalmem() / 2) {
    const gb = (v: number) => `${(v / 2 ** 30).toFixed(1)} GB`;
    throw new RangeError(`--img_size ${o.imgSize}: ${images} decoded images would take ${gb(bytes)}, more than half of this machine's ${gb(totalmem())}; lower --img_size`);
  }
}

/**
 * Every check of the options that needs no GPU — values, the dataset layout and the memory its
 * decoded images take, the run folder (writable; holding a finished epoch only with resume, on
 * the same data; nothing but petseg's files otherwise) — so that a command can refuse bad input
 * before it opens a device or writes anything. train() runs it too, holding the folder's lock.
 */
export function checkTrainOptions(o: TrainOptions): void {
  checkOptions(o);
  checkDecodedSize(o);
  checkWritableFolder(o.saveDir, '--save_dir');
  if (o.logDir) checkWritableFolder(o.logDir, '--log_dir');
  const committed = existsSync(o.saveDir) ? readCommittedRun(o.saveDir) : null;
  if (committed && !o.resume) {
    throw new Error(`${o.saveDir} already holds a run (finished epoch ${committed.epoch}); pass --resume to continue it, or choose another --save_dir`);
  }
  if (o.resume && !committed) throw new Error(`--resume: ${o.saveDir} holds no finished epoch to resume; run without --resume to start it`);
  if (!committed) {
    const foreign = foreignEntries(o.saveDir, o.logDir);
    if (foreign.length) {
      const listed = `${foreign.slice(0, 4).join(', ')}${foreign.length > 4 ? `, … (${foreign.length})` : ''}`;
      throw new Error(`--save_dir ${o.saveDir} holds files petseg did not write (${listed}) and no petseg run; choose an empty or new folder`);
    }
  }
  // Runs of earlier versions recorded no fingerprint: nothing to compare.
  if (committed?.data && committed.data.fingerprint !== splitFingerprint(o.dataPath)) {
    throw new Error(`--resume: the split lists of ${resolve(o.dataPath)} differ from those of ${committed.data.path}, which the run in ${o.saveDir} trained on; resume on the run's data or start a new --save_dir`);
  }
  if (o.encoderWeights !== undefined && !committed) checkEncoderWeights(o.encoderWeights); // a resumed run has them in its checkpoint
  if (committed && committed.epoch >= o.epochs) {
    throw new RangeError(`--resume: ${o.saveDir} has already trained ${committed.epoch} epochs; pass --epochs greater than ${committed.epoch} to train further`);
  }
}

/** Adam over the model's parameters; ResNet34_UNet's encoder as its own group (its own learning rate). */
function makeOptimizer(model: Module, o: TrainOptions): Adam {
  const settings = { lr: o.lr, weightDecay: o.weightDecay };
  if (!(model instanceof ResNet34UNet)) return new Adam(model.parameters(), settings);
  const { encoder, decoder } = model.parameterGroups();
  return new Adam([{ params: encoder, lr: o.encoderLr ?? o.lr }, { params: decoder }], settings);
}

interface ResolvedRun {
  model: Module;
  optimizer: Adam;
  /** Mixed precision's loss scaler, restored on resume. */
  scaler?: GradScaler;
  startEpoch: number;
  best: Best;
  encoderWeights?: EncoderWeightsInfo;
}

/** The model, optimizer and best epoch a run continues from (one checkpoint read), or fresh ones. */
function resolveRun(o: TrainOptions, committed: RunManifest | null, stepsPerEpoch: number, say: (line: string) => void): ResolvedRun {
  if (!committed) {
    const model = createModel(o.model, { ...o.modelOptions, seed: o.seed });
    let encoderWeights: EncoderWeightsInfo | undefined;
    if (o.encoderWeights !== undefined) {
      encoderWeights = loadEncoderWeights(model as ResNet34UNet, o.encoderWeights);
      say(`encoder weights from ${o.encoderWeights} (sha256 ${encoderWeights.sha256.slice(0, 12)}…)`);
    }
    return { model, optimizer: makeOptimizer(model, o), scaler: o.precision === 'mixed' ? new GradScaler(o.lossScale) : undefined, startEpoch: 0, best: { epoch: 0, valid_loss: Infinity, valid_dice: NaN }, encoderWeights };
  }
  const lastFile = join(o.saveDir, RUN_FILES.last);
  const { model, info } = loadCheckpoint(lastFile, o.model);
  const optimizer = makeOptimizer(model, o);
  const optimizerFile = join(o.saveDir, RUN_FILES.optimizer);
  const scalerState = loadOptimizerState(optimizerFile, optimizer, model);
  let scaler: GradScaler | undefined;
  if (o.precision === 'mixed') {
    scaler = new GradScaler(o.lossScale);
    if (scalerState) scaler.loadState(scalerState);
  }
  const epoch = info.epoch ?? 0;
  const steps = optimizer.state().step;
  // Steps a loss scaler skipped were batches trained without an optimizer step.
  const batches = steps + (scalerState?.skippedSteps ?? 0);
  // The files are committed together, so they agree; a mismatch means --batch_size or the data changed.
  if (epoch !== committed.epoch || batches !== epoch * stepsPerEpoch || (committed.steps >= 0 && steps !== committed.steps)) {
    model.dispose();
    optimizer.dispose();
    throw new Error(
      `--resume: ${o.saveDir} finished epoch ${committed.epoch} after ${committed.steps >= 0 ? committed.steps : steps} steps, but ${epoch} epochs of batch ${o.batchSize} over this data take ${epoch * stepsPerEpoch} steps; ` +
        'resume with the run\'s --batch_size and data',
    );
  }
  say(`resuming ${lastFile} after epoch ${epoch} (best valid loss ${committed.best.valid_loss.toFixed(4)} at epoch ${committed.best.epoch})`);
  return { model, optimizer, scaler, startEpoch: epoch, best: committed.best, encoderWeights: info.encoderWeights };
}

/**
 * Train as the lab does; see TrainOptions. The run folder is locked for the whole call (run-lock.ts;
 * RunFolderInUse while another process trains in it). Throws DatasetError / RangeError / Error
 * with a one-line message on bad input.
 */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const out = o.out ?? process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  if (o.runLock && o.runLock.dir !== o.saveDir) throw new Error(`train: the lock given is for ${o.runLock.dir}, not the run folder ${o.saveDir}`);
  if (!o.runLock) checkWritableFolder(o.saveDir, '--save_dir');
  const lock = o.runLock ?? acquireRunLock(o.saveDir, say);
  try {
    return await trainLocked(o, out, say);
  } finally {
    if (!o.runLock) lock.release();
  }
}

async function trainLocked(o: TrainOptions, out: ProgressStream, say: (line: string) => void): Promise<TrainResult> {
  checkTrainOptions(o);
  const mixed = o.precision === 'mixed';
  if (mixed && !getRuntime().caps.f16) throw new Error(`--precision mixed needs the adapter's shader-f16 feature, which ${getRuntime().adapterName} does not offer; use --precision fp32`);
  const warn = o.warn ?? ((line: string) => console.warn(line));
  // Finish or undo an interrupted commit, drop leftovers of crashed runs.
  const committed = recoverRunFolder(o.saveDir, o.logDir);

  const cacheDir = o.cacheDir ?? decodeCacheDir(o.dataPath);
  const load = (split: 'train' | 'valid') => {
    const decoding = (images: number) => say(`${split}: decoding ${images} images (once; the decode cache is ${cacheDir})`);
    const { samples, fromCache } = loadSplitCached(o.dataPath, split, o.imgSize, { cacheDir, warn, decoding });
    say(`${split}: ${samples.length} images ${fromCache ? '(decode cache)' : '(decoded and cached)'}`);
    return samples;
  };
  const trainSamples = load('train');
  const validSamples = load('valid');
  const stepsPerEpoch = Math.ceil(trainSamples.length / o.batchSize);
  const run = resolveRun(o, committed, stepsPerEpoch, say);
  const { model, optimizer, scaler } = run;
  let best = run.best;

  // The convolution kernels of this run's shapes, measured once per adapter (engine/autotune.ts)
  // before the first step, so every step of this run and of a resumed one runs the same kernels.
  // A short last batch borrows the full batches' choices (engine/conv-tuner.ts).
  const tuned = describeAutotune(await autotuneModel(model, [[o.batchSize, 3, o.imgSize, o.imgSize]], true, mixed));
  if (tuned) say(tuned);

  const writer = o.logDir ? new SummaryWriter(o.logDir, committed?.tensorboard ?? undefined) : null;
  const context = {
    saveDir: o.saveDir,
    model,
    optimizer,
    scaler,
    writer,
    info: { model: o.model, options: { ...o.modelOptions, seed: o.seed }, args: o.args, ...(run.encoderWeights ? { encoderWeights: run.encoderWeights } : {}) },
    data: { path: resolve(o.dataPath), fingerprint: splitFingerprint(o.dataPath) },
    validSamples,
    imgSize: o.imgSize,
    maskThreshold: o.maskThreshold,
    say,
  };
  const history: EpochRecord[] = [];
  model.train();
  try {
    for (let epoch = run.startEpoch + 1; epoch <= o.epochs; epoch++) {
      const started = performance.now();
      if (model instanceof ResNet34UNet) model.freezeEncoder(epoch <= (o.freezeEncoderEpochs ?? 0));
      const trained = await trainEpoch(model, optimizer, trainSamples, { ...o, scaler, profileSteps: epoch === run.startEpoch + 1 ? o.profileSteps : 0 }, epoch, out);
      const keep = writer ? Math.min(o.exampleImages ?? 4, validSamples.length) : 0;
      const valid = await evaluateSamples(model, validSamples, { batchSize: o.batchSize, size: o.imgSize, threshold: o.maskThreshold, keepLogits: keep, mixed });
      const recorded = await recordEpoch(context, epoch, o.epochs, trained, valid, (performance.now() - started) / 1000, best);
      best = recorded.best;
      history.push(recorded.record);
      o.onEpoch?.(recorded.record);
    }
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    writer?.close();
    optimizer.dispose();
  }
  return { history, best, model };
}
