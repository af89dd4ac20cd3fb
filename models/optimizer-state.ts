/**
 * Adam's state (and a loss scaler's) as a safetensors file beside a checkpoint: the bytes both
 * ways, with no file system (models/checkpoint.ts reads and writes the files in Node).
 */
import type { GradScaler, GradScalerState } from '../engine/grad-scaler.js';
import type { Adam } from '../engine/optim.js';
import type { Module } from '../engine/nn/module.js';
import { decodeSafetensors, encodeSafetensors } from '../engine/safetensors.js';
import { tensor } from '../engine/ops/creation.js';
import type { Tensor } from '../engine/tensor.js';
import { checkFiniteTensors, hostTensors } from './checkpoint-format.js';

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
 * Restores Adam's state from an optimizer file's bytes (`path` names it in messages) into
 * `optimizer`; returns the loss scaler's saved state (a mixed-precision run's), or null.
 */
export function decodeOptimizerState(bytes: Uint8Array, path: string, optimizer: Adam, model: Module): GradScalerState | null {
  checkFiniteTensors(bytes, path);
  const { tensors, metadata } = decodeSafetensors(bytes, path);
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
