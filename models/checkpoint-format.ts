/**
 * The checkpoint format, without files (so the web page can use it): safetensors with PyTorch key
 * names (loadable by `safetensors.torch.load_file` + `load_state_dict(strict=True)` on
 * models/pytorch/definitions.py) and petseg metadata — model name and options, epoch, metrics,
 * training arguments — so that inference needs only the file.
 */
import type { Module } from '../engine/nn/module.js';
import { decodeSafetensors, encodeSafetensors, type Safetensors, type SafetensorsTensor } from '../engine/safetensors.js';
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

export interface LoadedCheckpoint {
  model: Module;
  info: CheckpointInfo;
}

/** The input size a checkpoint was trained at (its --img_size), else the lab's 256. */
export function trainedImageSize(info: CheckpointInfo): number {
  const size = info.args?.img_size;
  return typeof size === 'number' ? size : 256;
}

/** Download tensors to the host as safetensors entries (F32, or I64 where `dtypes` says so). */
export async function hostTensors(entries: Iterable<[string, Tensor]>, dtypes: ReadonlyMap<string, string> = new Map()): Promise<Map<string, SafetensorsTensor>> {
  const out = new Map<string, SafetensorsTensor>();
  for (const [name, t] of entries) {
    out.set(name, { dtype: dtypes.get(name) === 'I64' ? 'I64' : 'F32', shape: [...t.shape], data: await t.toArray() });
  }
  return out;
}

/** The model's weights and buffers with `info` as metadata, as safetensors bytes. */
export async function encodeCheckpoint(model: Module, info: CheckpointInfo): Promise<Uint8Array> {
  const tensors = await hostTensors(model.stateDict(), model.stateDtypes());
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, model: info.model, petseg: JSON.stringify(info) });
}

/** Options of a checkpoint that carries no petseg metadata (e.g. exported from PyTorch), read off its shapes. */
function inferOptions(model: ModelName, tensors: ReadonlyMap<string, SafetensorsTensor>): ModelOptions {
  if (model !== 'UNet') return {};
  const first = tensors.get('encoders.0.block.0.weight');
  return first ? { baseChannels: first.shape[0], inChannels: first.shape[1] } : {};
}

/** A decoded file's petseg metadata (null for files exported elsewhere). */
export function checkpointInfoOf(file: Safetensors): CheckpointInfo | null {
  return file.metadata.petseg ? (JSON.parse(file.metadata.petseg) as CheckpointInfo) : null;
}

/** The model a decoded file holds: its petseg metadata, or `expectModel` for files exported elsewhere (which must agree with the metadata when both exist). */
export function resolveCheckpointInfo(file: Safetensors, source: string, expectModel?: string): CheckpointInfo {
  let info = checkpointInfoOf(file);
  if (info) {
    if (expectModel && expectModel !== info.model) {
      throw new Error(`${source}: this checkpoint holds a ${info.model} model, not ${expectModel}; pass --model ${info.model} or another file`);
    }
  } else {
    if (!expectModel) {
      throw new Error(`${source}: no petseg metadata (exported elsewhere?); say which model it is: --model ${Object.keys(MODELS).join(' or --model ')}`);
    }
    if (!isModelName(expectModel)) throw new Error(`unknown model '${expectModel}'; choose one of: ${Object.keys(MODELS).join(', ')}`);
    info = { model: expectModel, options: inferOptions(expectModel, file.tensors) };
  }
  return info;
}

/**
 * Rebuild the model a checkpoint was saved from and load its weights. `source` names the file in
 * messages. `expectModel` (e.g. the CLI's --model) must agree with the metadata; files without
 * petseg metadata need it.
 */
export function decodeCheckpoint(bytes: Uint8Array, source: string, expectModel?: string): LoadedCheckpoint {
  const file = decodeSafetensors(bytes, source);
  const info = resolveCheckpointInfo(file, source, expectModel);
  const model = createModel(info.model, info.options);
  const state = new Map([...file.tensors].map(([name, t]) => [name, tensor(t.data, t.shape)] as [string, Tensor]));
  try {
    model.loadStateDict(state);
  } catch (err) {
    model.dispose();
    throw new Error(`${source}: not a checkpoint of ${info.model} ${JSON.stringify(info.options)} — ${(err as Error).message.replace(/^loadStateDict: /, '')}`);
  } finally {
    for (const t of state.values()) t.dispose();
  }
  return { model, info };
}
