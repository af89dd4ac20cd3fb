/**
 * The lab's training loop, the same in Node and in a browser: Adam + BCE-with-logits, per-epoch
 * validation, the best checkpoint by validation loss and the last one (with optimizer state, for
 * an exact resume), metrics.jsonl, TensorBoard scalars and example images, a progress bar. It
 * reads a dataset (a ReadableFolder) and commits each epoch to a run folder opened by the caller
 * (run-folder.ts openRun, under the folder's lock) — the file system in Node (trainer.ts), the
 * Origin Private File System in a browser (web/). Nothing here imports a Node module.
 *
 * The parts: one epoch (epoch.ts), validation (evaluate.ts), recording (record.ts), the run
 * folder's transaction (run-folder.ts); this file checks a run against its folder and loops.
 */
import { describeAutotune } from '../engine/autotune.js';
import { GradScaler, type GradScalerOptions } from '../engine/grad-scaler.js';
import { Adam } from '../engine/optim.js';
import { getRuntime } from '../engine/runtime.js';
import { decodeCheckpoint, type CheckpointInfo } from '../models/checkpoint-format.js';
import type { EncoderWeightsInfo } from '../models/encoder-weights.js';
import { decodeOptimizerState } from '../models/optimizer-state.js';
import { createModel, type SegmentationModel } from '../models/registry.js';
import { loadSplitCached } from './cache.js';
import { splitFingerprint } from './dataset.js';
import { StoppedError, trainEpoch } from './epoch.js';
import { evaluateSamples } from './evaluate.js';
import type { RasterImage, Sample } from './pixels.js';
import type { ProgressStream } from './progress.js';
import { bestOf, recordEpoch, type Best, type EpochRecord } from './record.js';
import { RUN_FILES, type OpenedRun, type RunManifest } from './run-folder.js';
import { OptionError, checkSettings, firstDifference, labArgs, type RunSettings } from './settings.js';
import type { Folder, ReadableFolder } from './storage.js';
import { SummaryWriter, type WriterIdentity } from './tfevents.js';
import { autotuneModel } from './tune.js';

/** Where a run reads and writes, and who hears about it. */
export interface RunIO {
  /** The run folder, opened by the caller (openRun) while it holds the folder's lock. */
  run: OpenedRun;
  /** The dataset: split lists, images and trimaps (dataset.ts). */
  data: ReadableFolder;
  /** How the dataset is recorded with the run: its absolute path in Node, a label in a browser. */
  dataLabel: string;
  /** The decode cache (cache.ts); null: decode every time. */
  cache: Folder | null;
  /** The TensorBoard folder; null: no event file. */
  events: Folder | null;
  /** Names a new event file (tfevents.ts). */
  writer: WriterIdentity;
  /** A fresh run that starts from pretrained encoder weights: loads them into the model. */
  loadEncoder?: (model: SegmentationModel) => EncoderWeightsInfo;
  /** Mixed precision: the loss scaler's settings (default GradScaler's). */
  lossScale?: GradScalerOptions;
  /** Profile the first N training steps per kernel and print the table (needs timestamp-query). */
  profileSteps?: number;
  /** Validation images drawn into TensorBoard (and the grid onEpoch gets) each epoch (default 4). */
  exampleImages?: number;
  /** Progress output (default: none). */
  out?: ProgressStream;
  warn?: (line: string) => void;
  /** Told how many images a split decodes (a cache miss), and how far it got. */
  decoding?: (split: string, done: number, total: number) => void;
  /** Once the data is loaded and the model ready, before the first step. */
  onStart?: () => void;
  /** After each epoch is committed: its record and its validation grid (input | truth | prediction). */
  onEpoch?: (record: EpochRecord, grid: RasterImage | null) => void;
  /** Aborting stops the run between steps; the epoch in progress is not recorded. */
  signal?: AbortSignal;
}

/**
 * What {@link trainRun} returns: the epochs it ran, the run's best epoch, the trained model, and
 * whether it was stopped.
 */
export interface TrainResult {
  /** Epochs run by this call (a resumed run lists only the new ones). */
  history: EpochRecord[];
  /** The best epoch of the whole run, as recorded in best.safetensors. */
  best: Best;
  model: SegmentationModel;
  /** The signal stopped the run before its last epoch. */
  stopped: boolean;
}

const NO_OUTPUT: ProgressStream = { write: () => true, isTTY: false };

/**
 * A run's settings against its folder: a committed run continues only with the same settings,
 * on the same data and to more epochs than it has. `data`: its label and its split lists' fingerprint.
 */
export function checkResume(settings: RunSettings, run: OpenedRun, data: { label: string; fingerprint: string }): void {
  const m = run.manifest;
  if (!m) return;
  const where = run.folder.location;
  const differs = firstDifference(run.settings ?? {}, settings);
  if (differs) {
    const show = (v: unknown) => (typeof v === 'object' ? JSON.stringify(v) : String(v));
    throw new OptionError(`{resume}: the run in ${where} was trained with {${differs}} ${show(run.settings?.[differs])}, not ${show(settings[differs])}; drop {${differs}} or start a new {saveDir}`);
  }
  // Runs of earlier versions recorded no fingerprint: nothing to compare.
  if (m.data && m.data.fingerprint !== data.fingerprint) {
    throw new OptionError(`{resume}: the split lists of ${data.label} differ from those of ${m.data.path}, which the run in ${where} trained on; resume on the run's data or start a new {saveDir}`);
  }
  if (m.epoch >= settings.epochs) throw new OptionError(`{resume}: ${where} has already trained ${m.epoch} epochs; pass {epochs} greater than ${m.epoch} to train further`);
}

interface ResolvedRun {
  model: SegmentationModel;
  optimizer: Adam;
  scaler?: GradScaler;
  startEpoch: number;
  best: Best;
  encoderWeights?: EncoderWeightsInfo;
}

function makeOptimizer(model: SegmentationModel, s: RunSettings): Adam {
  const groups = model.optimizerGroups?.({ lr: s.lr, encoderLr: s.encoderLr });
  return new Adam(groups ?? model.parameters(), { lr: s.lr, weightDecay: s.weightDecay });
}

/** The model, optimizer and best epoch a run continues from (one read of each file), or fresh ones. */
async function resolveRun(s: RunSettings, io: RunIO, stepsPerEpoch: number, say: (line: string) => void): Promise<ResolvedRun> {
  const committed: RunManifest | null = io.run.manifest;
  const mixed = s.precision === 'mixed';
  if (!committed) {
    const model = createModel(s.model, { ...s.modelOptions, seed: s.seed });
    let encoderWeights: EncoderWeightsInfo | undefined;
    if (io.loadEncoder) {
      encoderWeights = io.loadEncoder(model);
      say(`encoder weights from ${s.encoderWeights ?? encoderWeights.file} (sha256 ${encoderWeights.sha256.slice(0, 12)}…)`);
    }
    return { model, optimizer: makeOptimizer(model, s), scaler: mixed ? new GradScaler(io.lossScale) : undefined, startEpoch: 0, best: { epoch: 0, validLoss: Infinity, validDice: NaN }, encoderWeights };
  }
  const folder = io.run.folder;
  const read = async (name: string) => {
    const bytes = await folder.read(name);
    if (!bytes) throw new Error(`${folder.location}/${name} is missing; the run folder is damaged`);
    return bytes;
  };
  const lastFile = `${folder.location}/${RUN_FILES.last}`;
  const { model, info } = decodeCheckpoint(await read(RUN_FILES.last), lastFile, s.model);
  const optimizer = makeOptimizer(model, s);
  const scalerState = decodeOptimizerState(await read(RUN_FILES.optimizer), `${folder.location}/${RUN_FILES.optimizer}`, optimizer, model);
  let scaler: GradScaler | undefined;
  if (mixed) {
    scaler = new GradScaler(io.lossScale);
    if (scalerState) scaler.loadState(scalerState);
  }
  const epoch = info.epoch ?? 0;
  const steps = optimizer.state().step;
  // Steps a loss scaler skipped were batches trained without an optimizer step.
  const batches = steps + (scalerState?.skippedSteps ?? 0);
  // The files are committed together, so they agree; a mismatch means the batch size or the data changed.
  if (epoch !== committed.epoch || batches !== epoch * stepsPerEpoch || (committed.steps >= 0 && steps !== committed.steps)) {
    model.dispose();
    optimizer.dispose();
    throw new OptionError(
      `{resume}: ${folder.location} finished epoch ${committed.epoch} after ${committed.steps >= 0 ? committed.steps : steps} steps, but ${epoch} epochs of batch ${s.batchSize} over this data take ${epoch * stepsPerEpoch} steps; ` +
        "resume with the run's {batchSize} and data",
    );
  }
  say(`resuming ${lastFile} after epoch ${epoch} (best valid loss ${committed.best.valid_loss.toFixed(4)} at epoch ${committed.best.epoch})`);
  return { model, optimizer, scaler, startEpoch: epoch, best: bestOf(committed.best), encoderWeights: info.encoderWeights };
}

/** Train as the lab does (see the top of this file). Throws OptionError (one line naming the option) on bad settings or data. */
export async function trainRun(settings: RunSettings, io: RunIO): Promise<TrainResult> {
  checkSettings(settings);
  const runtime = getRuntime();
  const mixed = settings.precision === 'mixed';
  if (mixed && !runtime.caps.f16) throw new OptionError(`{precision} mixed needs the adapter's shader-f16 feature, which ${runtime.adapterName} does not offer; use {precision} fp32`);
  const out = io.out ?? NO_OUTPUT;
  const say = (line: string) => out.write(`${line}\n`);
  const warn = io.warn ?? ((line: string) => console.warn(line));
  const fingerprint = await splitFingerprint(io.data);
  checkResume(settings, io.run, { label: io.dataLabel, fingerprint });

  const load = async (split: 'train' | 'valid'): Promise<Sample[]> => {
    const decoding = (images: number) => say(`${split}: decoding ${images} images (once; the decode cache is ${io.cache?.location ?? 'off'})`);
    const progress = (done: number, total: number) => io.decoding?.(split, done, total);
    const { samples, fromCache } = await loadSplitCached(io.data, split, settings.imgSize, io.cache, { warn, decoding, progress });
    say(`${split}: ${samples.length} images ${fromCache ? '(decode cache)' : '(decoded and cached)'}`);
    return samples;
  };
  const trainSamples = await load('train');
  const validSamples = await load('valid');
  const stepsPerEpoch = Math.ceil(trainSamples.length / settings.batchSize);
  const run = await resolveRun(settings, io, stepsPerEpoch, say);
  const { model, optimizer, scaler } = run;
  let best = run.best;

  // The convolution kernels of this run's shapes, measured once per adapter (engine/autotune.ts)
  // before the first step, so every step of this run and of a resumed one runs the same kernels.
  // A short last batch borrows the full batches' choices (engine/conv-tuner.ts).
  const tuned = describeAutotune(await autotuneModel(model, [[settings.batchSize, 3, settings.imgSize, settings.imgSize]], true, mixed));
  if (tuned) say(tuned);

  const committed = io.run.manifest;
  const writer = io.events ? await SummaryWriter.open(io.events, io.writer, committed?.tensorboard ?? undefined) : null;
  const info: Omit<CheckpointInfo, 'epoch' | 'metrics'> = {
    model: settings.model,
    options: { ...settings.modelOptions, seed: settings.seed },
    args: labArgs(settings, io.dataLabel),
    ...(run.encoderWeights ? { encoderWeights: run.encoderWeights } : {}),
  };
  const context = { folder: io.run.folder, model, optimizer, scaler, writer, info, settings, data: { path: io.dataLabel, fingerprint }, adapter: runtime.adapterName, validSamples, say };
  const history: EpochRecord[] = [];
  let stopped = false;
  model.train();
  io.onStart?.();
  try {
    for (let epoch = run.startEpoch + 1; epoch <= settings.epochs; epoch++) {
      const started = performance.now();
      model.beforeEpoch?.(epoch, settings);
      const epochSettings = {
        seed: settings.seed,
        batchSize: settings.batchSize,
        imgSize: settings.imgSize,
        augment: settings.augment,
        maskThreshold: settings.maskThreshold,
        epochs: settings.epochs,
        profileSteps: epoch === run.startEpoch + 1 ? io.profileSteps : 0,
        scaler,
        signal: io.signal,
      };
      const trained = await trainEpoch(model, optimizer, trainSamples, epochSettings, epoch, out);
      const keep = writer || io.onEpoch ? Math.min(io.exampleImages ?? 4, validSamples.length) : 0;
      const valid = await evaluateSamples(model, validSamples, { batchSize: settings.batchSize, size: settings.imgSize, threshold: settings.maskThreshold, keepLogits: keep, mixed });
      const recorded = await recordEpoch(context, { epoch, train: trained, valid, seconds: (performance.now() - started) / 1000 }, best);
      best = recorded.best;
      history.push(recorded.record);
      io.onEpoch?.(recorded.record, recorded.grid);
    }
  } catch (err) {
    if (!(err instanceof StoppedError)) {
      model.dispose();
      throw err;
    }
    stopped = true;
  } finally {
    optimizer.dispose();
  }
  return { history, best, model, stopped };
}
