/**
 * Checkpoints as safetensors with PyTorch key names (loadable by
 * `safetensors.torch.load_file` + `load_state_dict(strict=True)` on models/pytorch/definitions.py)
 * and petseg metadata — model name and options, epoch, metrics, training arguments — so that
 * inference needs only the file. Optimizer state goes to a second file. Writes are atomic.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Adam } from '../engine/optim.js';
import type { Module } from '../engine/nn/module.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../engine/safetensors.js';
import { tensor } from '../engine/ops/creation.js';
import type { Tensor } from '../engine/tensor.js';
import { createModel, isModelName, MODELS, type ModelName, type ModelOptions } from './registry.js';

export const CHECKPOINT_FORMAT = 'petseg-checkpoint-v1';

export interface CheckpointInfo {
  model: ModelName;
  options: ModelOptions;
  epoch?: number;
  metrics?: Record<string, number>;
  /** The training arguments (CLI options) that produced the weights. */
  args?: Record<string, unknown>;
}

/** Write `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const temporary = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = openSync(temporary, 'w');
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

async function hostTensors(entries: Iterable<[string, Tensor]>, dtypes: ReadonlyMap<string, string> = new Map()): Promise<Map<string, SafetensorsTensor>> {
  const out = new Map<string, SafetensorsTensor>();
  for (const [name, t] of entries) {
    out.set(name, { dtype: dtypes.get(name) === 'I64' ? 'I64' : 'F32', shape: [...t.shape], data: await t.toArray() });
  }
  return out;
}

/** Save the model's weights and buffers with `info` as metadata. */
export async function saveCheckpoint(path: string, model: Module, info: CheckpointInfo): Promise<void> {
  const tensors = await hostTensors(model.stateDict(), model.stateDtypes());
  const metadata = { format: CHECKPOINT_FORMAT, model: info.model, petseg: JSON.stringify(info) };
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

function readSafetensors(path: string) {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read the checkpoint (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}

/** Options of a checkpoint that carries no petseg metadata (e.g. exported from PyTorch), read off its shapes. */
function inferOptions(model: ModelName, tensors: ReadonlyMap<string, SafetensorsTensor>): ModelOptions {
  if (model !== 'UNet') return {};
  const first = tensors.get('encoders.0.block.0.weight');
  return first ? { baseChannels: first.shape[0], inChannels: first.shape[1] } : {};
}

export interface LoadedCheckpoint {
  model: Module;
  info: CheckpointInfo;
}

/** A checkpoint's petseg metadata without building the model (null for files exported elsewhere). */
export function readCheckpointInfo(path: string): CheckpointInfo | null {
  const { metadata } = readSafetensors(path);
  return metadata.petseg ? (JSON.parse(metadata.petseg) as CheckpointInfo) : null;
}

/**
 * Rebuild the model a checkpoint was saved from and load its weights. `expectModel` (e.g. the
 * CLI's --model) must agree with the file's metadata; files without petseg metadata need it.
 */
export function loadCheckpoint(path: string, expectModel?: string): LoadedCheckpoint {
  const { tensors, metadata } = readSafetensors(path);
  let info: CheckpointInfo;
  if (metadata.petseg) {
    info = JSON.parse(metadata.petseg) as CheckpointInfo;
    if (expectModel && expectModel !== info.model) {
      throw new Error(`${path}: this checkpoint holds a ${info.model} model, not ${expectModel}; pass --model ${info.model} or another file`);
    }
  } else {
    if (!expectModel) {
      throw new Error(`${path}: no petseg metadata (exported elsewhere?); say which model it is: --model ${Object.keys(MODELS).join(' or --model ')}`);
    }
    if (!isModelName(expectModel)) throw new Error(`unknown model '${expectModel}'; choose one of: ${Object.keys(MODELS).join(', ')}`);
    info = { model: expectModel, options: inferOptions(expectModel, tensors) };
  }
  const model = createModel(info.model, info.options);
  const state = new Map([...tensors].map(([name, t]) => [name, tensor(t.data, t.shape)] as [string, Tensor]));
  try {
    model.loadStateDict(state);
  } catch (err) {
    model.dispose();
    throw new Error(`${path}: not a checkpoint of ${info.model} ${JSON.stringify(info.options)} — ${(err as Error).message.replace(/^loadStateDict: /, '')}`);
  } finally {
    for (const t of state.values()) t.dispose();
  }
  return { model, info };
}

/** Adam's step and moments, keyed `<parameter>.exp_avg` / `.exp_avg_sq` by the model's parameter names. */
export async function saveOptimizerState(path: string, optimizer: Adam, model: Module): Promise<void> {
  const names = model.namedParameters().map(([name]) => name);
  const state = optimizer.state();
  if (names.length !== state.m.length) throw new Error('saveOptimizerState: optimizer and model have different parameters');
  const entries: [string, Tensor][] = [];
  names.forEach((name, i) => entries.push([`${name}.exp_avg`, state.m[i]], [`${name}.exp_avg_sq`, state.v[i]]));
  const metadata = { format: 'petseg-adam-v1', step: String(state.step), lr: String(optimizer.lr) };
  writeFileAtomic(path, encodeSafetensors(await hostTensors(entries), metadata));
}

export function loadOptimizerState(path: string, optimizer: Adam, model: Module): void {
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== 'petseg-adam-v1') throw new Error(`${path}: not a petseg optimizer state file`);
  const names = model.namedParameters().map(([name]) => name);
  const missing = names.flatMap((n) => [`${n}.exp_avg`, `${n}.exp_avg_sq`]).filter((k) => !tensors.has(k));
  if (missing.length) throw new Error(`${path}: optimizer state does not fit this model; missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  const m = names.map((n) => tensor(tensors.get(`${n}.exp_avg`)!.data, tensors.get(`${n}.exp_avg`)!.shape));
  const v = names.map((n) => tensor(tensors.get(`${n}.exp_avg_sq`)!.data, tensors.get(`${n}.exp_avg_sq`)!.shape));
  try {
    optimizer.loadState({ step: Number(metadata.step), m, v });
  } finally {
    for (const t of [...m, ...v]) t.dispose();
  }
}
