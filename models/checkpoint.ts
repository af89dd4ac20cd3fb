/**
 * Checkpoint files (format in checkpoint-format.ts); optimizer state goes to a second file.
 * Writes are atomic.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { GradScaler, GradScalerState } from '../engine/grad-scaler.js';
import type { Adam } from '../engine/optim.js';
import type { Module } from '../engine/nn/module.js';
import { parseSafetensorsHeader, safetensorsHeaderLength, type SafetensorsHeader } from '../engine/safetensors.js';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointInfo, type LoadedCheckpoint } from './checkpoint-format.js';
import { decodeOptimizerState, encodeOptimizerState } from './optimizer-state.js';

export { decodeOptimizerState, encodeOptimizerState } from './optimizer-state.js';

/** The temporary file an atomic write of `path` goes to first: `<path>.tmp-<pid>-<ms>`, a form run folders recognise as petseg's own. */
export function temporaryPath(path: string): string {
  return `${path}.tmp-${process.pid}-${Date.now()}`;
}

/** Write `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const temporary = temporaryPath(path);
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

/** Load a checkpoint file (see decodeCheckpoint). */
export function loadCheckpoint(path: string, expectModel?: string): LoadedCheckpoint {
  return decodeCheckpoint(readCheckpointBytes(path), path, expectModel);
}

/** Writes Adam's state, and `scaler`'s if given, to `path` atomically (encodeOptimizerState). */
export async function saveOptimizerState(path: string, optimizer: Adam, model: Module, scaler?: GradScaler): Promise<void> {
  writeFileAtomic(path, await encodeOptimizerState(optimizer, model, scaler));
}

/** Restores Adam's state from the file at `path` (decodeOptimizerState). */
export function loadOptimizerState(path: string, optimizer: Adam, model: Module): GradScalerState | null {
  return decodeOptimizerState(readCheckpointBytes(path), path, optimizer, model);
}
