/**
 * Shared by `evaluate` (valid split) and `inference` (test split): load a checkpoint (its model
 * type and input size come from its metadata), score a split, print a line or --json.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as E from '../../engine/index.js';
import { readCheckpointBytes, readSafetensorsHeader, checkFiniteTensors, checkpointInfo, decodeCheckpoint, trainedImageSize, type CheckpointInfo, type LoadedCheckpoint, IMG_SIZE, MODELS } from '../../models/index.js';
import { loadSplitCached, readSplit, type Split, NodeFolder, decodeCacheDir, evaluateSamples, autotuneModel } from '../../train/index.js';
import { UsageError, asUsageError, checkNotFolder, type OptionSpec, type ParsedArgs } from './args.js';

export const CHECKPOINT_OPTIONS: Record<string, OptionSpec> = {
  model_path: { type: 'string', help: 'checkpoint (.safetensors) written by `petseg train` (or exported from PyTorch with --model)' },
  model: { type: 'string', help: `model type, when the checkpoint does not record it: ${Object.keys(MODELS).join(' or ')}` },
  img_size: { type: 'integer', ...IMG_SIZE, help: "input size (default: the checkpoint's training --img_size, else 256)" },
  mask_threshold: { type: 'number', default: 0.5, min: 0, max: 1, help: 'sigmoid(logit) > threshold is pet' },
};

export const SPLIT_OPTIONS: Record<string, OptionSpec> = {
  data_path: { type: 'string', help: 'Oxford-IIIT Pet folder (images/, annotations/)' },
  batch_size: { type: 'integer', default: 8, min: 1, help: 'images per forward pass' },
  json: { type: 'boolean', default: false, help: 'print one JSON object instead of a line' },
  cache_dir: { type: 'string', help: "decode cache folder for --data_path's split (default: <user cache>/petseg/decoded/<hash of the dataset path>)" },
};

export interface OpenedModel extends LoadedCheckpoint {
  path: string;
  size: number;
}

/** The checkpoint a command will load, checked without a device: the file, its metadata, its bytes and the input size. */
export interface CheckedCheckpoint {
  path: string;
  info: CheckpointInfo;
  size: number;
  bytes: Uint8Array;
}

/**
 * --model_path (required) and --img_size, checked before any device opens: the header and the
 * metadata first (read alone, so a hostile header costs nothing), then every tensor finite.
 */
export function checkCheckpointArgs(args: ParsedArgs): CheckedCheckpoint {
  if (args.model_path === undefined) throw new UsageError('--model_path is required (a .safetensors checkpoint from `petseg train`, e.g. saved_models/<run>/best.safetensors)');
  const path = resolve(args.model_path as string);
  if (!existsSync(path)) throw new UsageError(`--model_path ${path} does not exist`);
  checkNotFolder('model_path', path, 'a checkpoint file');
  let info: CheckpointInfo;
  let bytes: Uint8Array;
  try {
    info = checkpointInfo(readSafetensorsHeader(path), path, args.model as string | undefined);
    bytes = readCheckpointBytes(path);
    checkFiniteTensors(bytes, path);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const size = (args.img_size as number | undefined) ?? trainedImageSize(info);
  const stride = MODELS[info.model].stride;
  if (size % stride !== 0) throw new UsageError(`--img_size ${size} must be a multiple of ${stride} for ${info.model}`);
  return { path, info, size, bytes };
}

/** Load a checked checkpoint; the model is put in eval mode. */
export function openCheckpoint(checked: CheckedCheckpoint, args: ParsedArgs): OpenedModel {
  const loaded = decodeCheckpoint(checked.bytes, checked.path, args.model as string | undefined);
  loaded.model.eval();
  return { ...loaded, path: checked.path, size: checked.size };
}

/** --data_path (required) and its split, checked before any device opens. */
export async function checkDataArgs(args: ParsedArgs, split: Split): Promise<string> {
  if (args.data_path === undefined) throw new UsageError('--data_path is required (the Oxford-IIIT Pet folder; fetch it with `petseg download`)');
  const dataPath = resolve(args.data_path as string);
  try {
    await readSplit(new NodeFolder(dataPath), split);
  } catch (err) {
    throw asUsageError(err);
  }
  return dataPath;
}

export interface SplitReport {
  split: Split;
  images: number;
  skipped: number;
  dice: number;
  iou: number;
  dataset_dice: number;
  loss: number;
  threshold: number;
  img_size: number;
  model: string;
  model_path: string;
  data_path: string;
  epoch: number | null;
}

/** Score the checkpoint on one split of --data_path. */
export async function evaluateSplit(opened: OpenedModel, args: ParsedArgs, split: Split, dataPath: string): Promise<SplitReport> {
  const warnings: string[] = [];
  const cache = new NodeFolder(args.cache_dir === undefined ? decodeCacheDir(dataPath) : resolve(args.cache_dir as string));
  const { samples } = await loadSplitCached(new NodeFolder(dataPath), split, opened.size, cache, {
    warn: (line) => {
      warnings.push(line);
      console.warn(line);
    },
  });
  const threshold = args.mask_threshold as number;
  const batchSize = args.batch_size as number;
  await autotuneModel(opened.model, [[Math.min(batchSize, Math.max(samples.length, 1)), 3, opened.size, opened.size]], false);
  const result = await evaluateSamples(opened.model, samples, { batchSize, size: opened.size, threshold });
  return {
    split,
    images: result.images,
    skipped: warnings.filter((w) => w.startsWith('warning: skipping')).length,
    dice: result.dice,
    iou: result.iou,
    dataset_dice: result.datasetDice,
    loss: result.loss,
    threshold,
    img_size: opened.size,
    model: opened.info.model,
    model_path: opened.path,
    data_path: dataPath,
    epoch: opened.info.epoch ?? null,
  };
}

export function printReport(report: SplitReport, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(
    `${report.split}: Dice ${report.dice.toFixed(4)} (mean per image; dataset-level ${report.dataset_dice.toFixed(4)}), IoU ${report.iou.toFixed(4)}, ` +
      `BCE ${report.loss.toFixed(4)} over ${report.images} images${report.skipped ? ` (${report.skipped} skipped)` : ''} — ` +
      `${report.model}${report.epoch !== null ? ` epoch ${report.epoch}` : ''} from ${report.model_path}, ${report.img_size}×${report.img_size}, threshold ${report.threshold}`,
  );
}

/** Start WebGPU, printing where it runs unless the output is JSON. */
export async function startRuntime(json: boolean): Promise<void> {
  const runtime = await E.init();
  if (!json) console.log(`petseg on ${runtime.adapterName}`);
}
