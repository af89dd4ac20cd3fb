/**
 * Checkpoint files (format in checkpoint-format.ts); optimizer state goes to a second file.
 * Writes are atomic.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Adam } from '../engine/optim.js';
import type { Module } from '../engine/nn/module.js';
import { decodeSafetensors, encodeSafetensors } from '../engine/safetensors.js';
import { tensor } from '../engine/ops/creation.js';
import type { Tensor } from '../engine/tensor.js';
import { checkpointInfoOf, decodeCheckpoint, encodeCheckpoint, hostTensors, resolveCheckpointInfo, type CheckpointInfo, type LoadedCheckpoint } from './checkpoint-format.js';

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

/** Save the model's weights and buffers with `info` as metadata. */
export async function saveCheckpoint(path: string, model: Module, info: CheckpointInfo): Promise<void> {
  writeFileAtomic(path, await encodeCheckpoint(model, info));
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read the checkpoint (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function readSafetensors(path: string) {
  return decodeSafetensors(readBytes(path), path);
}

/** A checkpoint's petseg metadata without building the model (null for files exported elsewhere). */
export function readCheckpointInfo(path: string): CheckpointInfo | null {
  return checkpointInfoOf(readSafetensors(path));
}

/** The model a checkpoint file holds, without building it (see resolveCheckpointInfo). */
export function checkpointInfo(path: string, expectModel?: string): CheckpointInfo {
  return resolveCheckpointInfo(readSafetensors(path), path, expectModel);
}

/** Load a checkpoint file (see decodeCheckpoint). */
export function loadCheckpoint(path: string, expectModel?: string): LoadedCheckpoint {
  return decodeCheckpoint(readBytes(path), path, expectModel);
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
