/**
 * Checkpoint files (format in checkpoint-format.ts); optimizer state goes to a second file.
 * Writes are atomic.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { GradScaler, GradScalerState } from '../engine/grad-scaler.js';
import type { Adam } from '../engine/optim.js';
import type { Module } from '../engine/nn/module.js';
import { decodeSafetensors, encodeSafetensors, parseSafetensorsHeader, safetensorsHeaderLength, type SafetensorsHeader } from '../engine/safetensors.js';
import { tensor } from '../engine/ops/creation.js';
import type { Tensor } from '../engine/tensor.js';
import { checkFiniteTensors, checkpointInfoOf, decodeCheckpoint, encodeCheckpoint, hostTensors, resolveCheckpointInfo, type CheckpointInfo, type LoadedCheckpoint } from './checkpoint-format.js';

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
    throw new Error(`cannot write ${path} (${why(err)}${(err as NodeJS.ErrnoException).code === 'ENOSPC' ? ': the disk is full' : ''}); the previous file, if any, is unchanged`);
  }
}

/** Save the model's weights and buffers with `info` as metadata. */
export async function saveCheckpoint(path: string, model: Module, info: CheckpointInfo): Promise<void> {
  writeFileAtomic(path, await encodeCheckpoint(model, info));
}

/** Node's error code, or the message, for "cannot read/write FILE (…)" lines. */
function why(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** A checkpoint file's bytes; a folder in its place is named as such. */
export function readCheckpointBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new Error(`${path} is a folder, not a checkpoint file; pass a .safetensors file (e.g. saved_models/<run>/best.safetensors)`);
    throw new Error(`${path}: cannot read the checkpoint (${why(err)})`);
  }
}

/** A safetensors file whose float tensors are all finite (checkFiniteTensors). */
function readSafetensors(path: string) {
  const bytes = readCheckpointBytes(path);
  checkFiniteTensors(bytes, path);
  return decodeSafetensors(bytes, path);
}

/** A safetensors file's header alone: the length, then the JSON, read without the tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot read the checkpoint (${why(err)})`);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new Error(`${path} is a folder, not a checkpoint file; pass a .safetensors file (e.g. saved_models/<run>/best.safetensors)`);
    const size = stat.size;
    const first8 = new Uint8Array(8);
    readSync(fd, first8, 0, Math.min(8, size), 0);
    const length = safetensorsHeaderLength(first8, size, path);
    const json = new Uint8Array(length);
    readSync(fd, json, 0, length, 8);
    return parseSafetensorsHeader(json, size, path);
  } finally {
    closeSync(fd);
  }
}

/** A checkpoint's petseg metadata without building the model (null for files exported elsewhere); reads the header only. */
export function readCheckpointInfo(path: string): CheckpointInfo | null {
  return checkpointInfoOf(readSafetensorsHeader(path), path);
}

/** The model a checkpoint file holds, checked against its header without building it or reading its data (see resolveCheckpointInfo). */
export function checkpointInfo(path: string, expectModel?: string): CheckpointInfo {
  return resolveCheckpointInfo(readSafetensorsHeader(path), path, expectModel);
}

/** Load a checkpoint file (see decodeCheckpoint). */
export function loadCheckpoint(path: string, expectModel?: string): LoadedCheckpoint {
  return decodeCheckpoint(readCheckpointBytes(path), path, expectModel);
}

/** The model's name of each of the optimizer's parameters, in the optimizer's order. */
function optimizerNames(optimizer: Adam, model: Module): string[] {
  const names = new Map(model.namedParameters().map(([name, t]) => [t, name]));
  return optimizer.params.map((p) => {
    const name = names.get(p);
    if (name === undefined) throw new Error('optimizer state: the optimizer holds a parameter that is not in the model');
    return name;
  });
}

/**
 * Adam's state as safetensors bytes, keyed `<parameter>.exp_avg` / `.exp_avg_sq` by the model's
 * parameter names; the step count, the groups' learning rates and, where parameters were stepped
 * differently (frozen for a while), each one's step count in the metadata.
 */
export async function encodeOptimizerState(optimizer: Adam, model: Module, scaler?: GradScaler): Promise<Uint8Array> {
  const names = optimizerNames(optimizer, model);
  const state = optimizer.state();
  const entries: [string, Tensor][] = [];
  names.forEach((name, i) => entries.push([`${name}.exp_avg`, state.m[i]], [`${name}.exp_avg_sq`, state.v[i]]));
  const metadata: Record<string, string> = { format: 'petseg-adam-v1', step: String(state.step), lr: JSON.stringify(optimizer.groups.map((g) => g.lr)) };
  if (state.paramSteps) metadata.param_steps = JSON.stringify(Object.fromEntries(names.map((n, i) => [n, state.paramSteps![i]])));
  if (scaler) metadata.grad_scaler = JSON.stringify(scaler.state());
  return encodeSafetensors(await hostTensors(entries), metadata);
}

export async function saveOptimizerState(path: string, optimizer: Adam, model: Module, scaler?: GradScaler): Promise<void> {
  writeFileAtomic(path, await encodeOptimizerState(optimizer, model, scaler));
}

/** A saved GradScaler state (metadata `grad_scaler`), checked. */
function scalerState(path: string, text: string): GradScalerState {
  let state: Partial<Record<keyof GradScalerState, unknown>>;
  try {
    state = JSON.parse(text) as typeof state;
  } catch {
    throw new Error(`${path}: damaged optimizer state (grad_scaler is not JSON)`);
  }
  const { scale, growthTracker, skippedSteps } = state ?? {};
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!(typeof scale === 'number' && scale > 0 && Number.isFinite(scale)) || !count(growthTracker) || !count(skippedSteps)) {
    throw new Error(`${path}: damaged optimizer state (grad_scaler ${text.slice(0, 80)})`);
  }
  return { scale, growthTracker: growthTracker as number, skippedSteps: skippedSteps as number };
}

/**
 * Restores Adam's state into `optimizer`; returns the loss scaler's saved state (a mixed-precision
 * run's), or null.
 */
export function loadOptimizerState(path: string, optimizer: Adam, model: Module): GradScalerState | null {
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== 'petseg-adam-v1') throw new Error(`${path}: not a petseg optimizer state file`);
  const names = optimizerNames(optimizer, model);
  const missing = names.flatMap((n) => [`${n}.exp_avg`, `${n}.exp_avg_sq`]).filter((k) => !tensors.has(k));
  if (missing.length) throw new Error(`${path}: optimizer state does not fit this model; missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  let paramSteps: number[] | undefined;
  if (metadata.param_steps !== undefined) {
    let steps: Record<string, unknown>;
    try {
      steps = JSON.parse(metadata.param_steps) as Record<string, unknown>;
    } catch {
      throw new Error(`${path}: damaged optimizer state (param_steps is not JSON)`);
    }
    paramSteps = names.map((n) => {
      const t = steps?.[n];
      if (!Number.isSafeInteger(t) || (t as number) < 0) throw new Error(`${path}: damaged optimizer state (no step count for ${n})`);
      return t as number;
    });
  }
  const m = names.map((n) => tensor(tensors.get(`${n}.exp_avg`)!.data, tensors.get(`${n}.exp_avg`)!.shape));
  const v = names.map((n) => tensor(tensors.get(`${n}.exp_avg_sq`)!.data, tensors.get(`${n}.exp_avg_sq`)!.shape));
  const scaler = metadata.grad_scaler === undefined ? null : scalerState(path, metadata.grad_scaler);
  try {
    optimizer.loadState({ step: Number(metadata.step), m, v, paramSteps });
  } finally {
    for (const t of [...m, ...v]) t.dispose();
  }
  return scaler;
}
