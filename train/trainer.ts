/**
 * The training loop (loop.ts) in Node: the run folder, the dataset, the decode cache and the
 * TensorBoard folder as folders on disk (node-folder.ts), the run folder locked for the run's
 * life (run-lock.ts). `checkTrainOptions` refuses bad input before a device opens or anything is
 * written; `train` runs the lab's loop.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { hostname, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { GradScalerOptions } from '../engine/grad-scaler.js';
import { checkEncoderWeights, loadEncoderWeights } from '../models/encoder-weights.js';
import { readSplit, splitFingerprint } from './dataset.js';
import { checkResume, trainRun, type RunIO, type TrainResult } from './loop.js';
import { NodeFolder, decodeCacheDir } from './node-folder.js';
import type { ProgressStream } from './progress.js';
import type { EpochRecord } from './record.js';
import { RUN_LOG_DIR, foreignEntries, openRun, type OpenedRun } from './run-folder.js';
import { acquireRunLock, type RunLock } from './run-lock.js';
import { OptionError, checkSettings, type Precision, type RunSettings } from './settings.js';
import type { Folder } from './storage.js';

export { RUN_FILES } from './run-folder.js';
export { evaluateSamples, type Evaluation } from './evaluate.js';
export { PRECISIONS, type Precision } from './settings.js';
export type { EpochRecord } from './record.js';
export type { TrainResult } from './loop.js';

/** The run's settings (settings.ts) with the paths, the lock and the options of Node's command line. */
export interface TrainOptions extends Omit<RunSettings, 'precision' | 'freezeEncoderEpochs' | 'encoderLr' | 'encoderWeights'> {
  dataPath: string;
  saveDir: string;
  /** TensorBoard folder; null: no event file. */
  logDir: string | null;
  /** Continue the run in saveDir from its last finished epoch. */
  resume: boolean;
  /** Models with an encoder (ResNet34_UNet): start it from this file (safetensors, torchvision/timm names; models/encoder-weights.ts). */
  encoderWeights?: string;
  /** Models with an encoder: the first N epochs train with it frozen (weights and BatchNorm statistics); default 0. */
  freezeEncoderEpochs?: number;
  /** Models with an encoder: its learning rate (default lr). */
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
  /** The run folder as the caller opened it (under runLock) and checked with checkTrainOptions, so both are done once; otherwise train() does them. */
  opened?: OpenedRun;
  /** Validation images drawn into TensorBoard each epoch (default 4). */
  exampleImages?: number;
  /** Progress output (default process.stdout). */
  out?: ProgressStream;
  warn?: (line: string) => void;
  /** Called after each epoch is committed (e.g. to watch memory or progress). */
  onEpoch?: (record: EpochRecord) => void;
}

/** The settings that define the run (settings.ts), out of the options. */
export function runSettings(o: TrainOptions): RunSettings {
  return {
    model: o.model,
    modelOptions: o.modelOptions,
    seed: o.seed,
    epochs: o.epochs,
    lr: o.lr,
    weightDecay: o.weightDecay,
    batchSize: o.batchSize,
    imgSize: o.imgSize,
    augment: o.augment,
    maskThreshold: o.maskThreshold,
    precision: o.precision ?? 'fp32',
    freezeEncoderEpochs: o.freezeEncoderEpochs ?? 0,
    ...(o.encoderLr !== undefined ? { encoderLr: o.encoderLr } : {}),
    ...(o.encoderWeights !== undefined ? { encoderWeights: resolve(o.encoderWeights) } : {}),
  };
}

/** `dir` exists as a writable folder, or can be made: its nearest existing ancestor is a writable folder. `field` names the option. */
export function checkWritableFolder(dir: string, field: string): void {
  let at = dir;
  while (!existsSync(at)) {
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  if (!statSync(at).isDirectory()) throw new OptionError(`{${field}} ${dir}: ${at} is a file, not a folder; choose another {${field}}`);
  try {
    accessSync(at, constants.W_OK);
  } catch {
    throw new OptionError(`{${field}} ${dir}: ${at} is not writable; choose another {${field}}`);
  }
}

/** Host memory the decoded splits take (RGB + mask bytes per pixel), which must fit comfortably. */
async function checkDecodedSize(o: TrainOptions, data: NodeFolder): Promise<void> {
  const images = (await readSplit(data, 'train')).length + (await readSplit(data, 'valid')).length;
  const bytes = images * o.imgSize * o.imgSize * 4;
  if (bytes > totalmem() / 2) {
    const gb = (v: number) => `${(v / 2 ** 30).toFixed(1)} GB`;
    throw new OptionError(`{imgSize} ${o.imgSize}: ${images} decoded images would take ${gb(bytes)}, more than half of this machine's ${gb(totalmem())}; lower {imgSize}`);
  }
}

/** The run's own TensorBoard folder, when logDir is it (openRun cleans only that one). */
function ownLogs(o: TrainOptions, folder: NodeFolder): Folder | null {
  return o.logDir !== null && resolve(o.logDir) === join(folder.location, RUN_LOG_DIR) ? folder.folder(RUN_LOG_DIR) : null;
}

/**
 * Every check of the options that needs no GPU — values, the dataset layout and the memory its
 * decoded images take, the run folder (writable; holding a finished epoch only with resume, on
 * the same data and settings; nothing but petseg's files otherwise) — so that a command can refuse
 * bad input before it opens a device or writes anything. `opened`: the run folder as opened under
 * its lock (without it, only the values, the data and the folders' permissions are checked).
 */
export async function checkTrainOptions(o: TrainOptions, opened?: OpenedRun): Promise<void> {
  const settings = runSettings(o);
  checkSettings(settings);
  const data = new NodeFolder(o.dataPath);
  await checkDecodedSize(o, data);
  checkWritableFolder(o.saveDir, 'saveDir');
  if (o.logDir) checkWritableFolder(o.logDir, 'logDir');
  if (!opened) return;
  const committed = opened.manifest;
  if (committed && !o.resume) {
    throw new OptionError(`${o.saveDir} already holds a run (finished epoch ${committed.epoch}); pass {resume} to continue it, or choose another {saveDir}`);
  }
  if (o.resume && !committed) throw new OptionError(`{resume}: ${o.saveDir} holds no finished epoch to resume; run without {resume} to start it`);
  if (!committed) {
    const logFolder = o.logDir !== null && dirname(resolve(o.logDir)) === resolve(o.saveDir) ? resolve(o.logDir).slice(resolve(o.saveDir).length + 1) : null;
    const foreign = await foreignEntries(opened.folder, logFolder);
    if (foreign.length) {
      const listed = `${foreign.slice(0, 4).join(', ')}${foreign.length > 4 ? `, … (${foreign.length})` : ''}`;
      throw new OptionError(`{saveDir} ${o.saveDir} holds files petseg did not write (${listed}) and no petseg run; choose an empty or new folder`);
    }
    if (o.encoderWeights !== undefined) checkEncoderWeights(o.encoderWeights); // a resumed run has them in its checkpoint
  }
  checkResume(settings, opened, { label: data.location, fingerprint: await splitFingerprint(data) });
}

/**
 * Train as the lab does; see TrainOptions. The run folder is locked for the whole call (run-lock.ts;
 * RunFolderInUse while another process trains in it). Throws OptionError / DatasetError with a
 * one-line message naming the option on bad input.
 */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const out = o.out ?? process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  if (o.runLock && o.runLock.dir !== resolve(o.saveDir)) throw new Error(`train: the lock given is for ${o.runLock.dir}, not the run folder ${o.saveDir}`);
  if (!o.runLock) checkWritableFolder(o.saveDir, 'saveDir');
  const lock = o.runLock ?? acquireRunLock(o.saveDir, say);
  try {
    const folder = new NodeFolder(o.saveDir);
    const opened = o.opened ?? (await openRun(folder, ownLogs(o, folder)));
    if (!o.opened) await checkTrainOptions(o, opened);
    const io: RunIO = {
      run: opened,
      data: new NodeFolder(o.dataPath),
      dataLabel: resolve(o.dataPath),
      cache: new NodeFolder(o.cacheDir ?? decodeCacheDir(o.dataPath)),
      events: o.logDir === null ? null : new NodeFolder(o.logDir),
      writer: { host: hostname(), pid: process.pid },
      loadEncoder: o.encoderWeights === undefined ? undefined : (model) => loadEncoderWeights(model, o.encoderWeights!),
      lossScale: o.lossScale,
      profileSteps: o.profileSteps,
      exampleImages: o.exampleImages,
      out,
      warn: o.warn,
      onEpoch: o.onEpoch && ((record) => o.onEpoch!(record)),
    };
    return await trainRun(runSettings(o), io);
  } finally {
    if (!o.runLock) lock.release();
  }
}
