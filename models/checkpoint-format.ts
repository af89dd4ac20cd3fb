/**
 * The checkpoint format, without files (so the web page can use it): safetensors with PyTorch key
 * names (loadable by `safetensors.torch.load_file` + `load_state_dict(strict=True)` on
 * models/pytorch/definitions.py) and petseg metadata — model name and options, epoch, metrics,
 * training arguments — so that inference needs only the file. A file is untrusted input: its
 * metadata gets the bounds the command line's arguments get (limits.ts), checked before anything
 * is allocated, and tensors holding NaN or ±Inf are refused, naming the tensor.
 */
import type { Module } from '../engine/nn/module.js';
import { tensor } from '../engine/ops/creation.js';
import { encodeSafetensors, readSafetensorsTensor, safetensorsHeaderOf, type Safetensors, type SafetensorsHeader, type SafetensorsTensor } from '../engine/safetensors.js';
import { formatShape, sameShape } from '../engine/shape.js';
import { shapesOnly, type Tensor } from '../engine/tensor.js';
import { IMG_SIZE, withinBound } from './limits.js';
import { createModel, isModelName, MODELS, type ModelName, type ModelOptions } from './registry.js';

/** The `format` a petseg checkpoint's safetensors metadata carries. */
export const CHECKPOINT_FORMAT = 'petseg-checkpoint-v1';

/**
 * A checkpoint's petseg metadata: the model and its options, and optionally the epoch, metrics,
 * training arguments and pretrained encoder weights that produced it.
 */
export interface CheckpointInfo {
  model: ModelName;
  options: ModelOptions;
  epoch?: number;
  metrics?: Record<string, number>;
  /** The training arguments (CLI options) that produced the weights. */
  args?: Record<string, unknown>;
  /** The pretrained encoder weights the run started from (ResNet34_UNet with --encoder_weights). */
  encoderWeights?: { file: string; sha256: string };
}

/**
 * A checkpoint rebuilt ({@link decodeCheckpoint}, loadCheckpoint): the model with its weights
 * loaded, and its metadata.
 */
export interface LoadedCheckpoint {
  model: Module;
  info: CheckpointInfo;
}

/** The input size a checkpoint was trained at (its --img_size, checked by checkpointMetadata), else the lab's 256. */
export function trainedImageSize(info: CheckpointInfo): number {
  return (info.args?.img_size as number | undefined) ?? 256;
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
function inferOptions(model: ModelName, shapes: ReadonlyMap<string, { shape: number[] }>): ModelOptions {
  if (model !== 'UNet') return {};
  const first = shapes.get('encoders.0.block.0.weight');
  return first && first.shape.length === 4 ? { baseChannels: first.shape[0], inChannels: first.shape[1] } : {};
}

/**
 * The petseg metadata of a checkpoint's header as recorded, not checked against its tensors (null
 * for files exported elsewhere); throws, naming `source`, when it is not valid JSON.
 */
export function checkpointMetadata(file: Pick<Safetensors, 'metadata'>, source = 'checkpoint'): CheckpointInfo | null {
  if (file.metadata.format === 'petseg-adam-v1') {
    throw new Error(`${source}: this is Adam's optimizer state (last.optim.safetensors), not a model; pass last.safetensors or best.safetensors`);
  }
  if (!file.metadata.petseg) return null;
  let info: unknown;
  try {
    info = JSON.parse(file.metadata.petseg);
  } catch {
    throw new Error(`${source}: its petseg metadata is not valid JSON (damaged file?)`);
  }
  const i = info as Partial<CheckpointInfo> | null;
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(i) || typeof i!.model !== 'string' || (i!.options !== undefined && !isObject(i!.options)) || (i!.args !== undefined && !isObject(i!.args))) {
    throw new Error(`${source}: its petseg metadata does not describe a model (damaged file?)`);
  }
  // What stands in for an argument is bounded as the argument is; the options are checked where the model is built (registry.ts).
  const size = i!.args?.img_size;
  if (size !== undefined && !withinBound(size, IMG_SIZE)) {
    throw new Error(`${source}: its metadata's img_size ${JSON.stringify(size)} is not an integer in [${IMG_SIZE.min}, ${IMG_SIZE.max}] (damaged file?)`);
  }
  if (i!.epoch !== undefined && !(Number.isSafeInteger(i!.epoch) && i!.epoch >= 0)) throw new Error(`${source}: its metadata's epoch ${JSON.stringify(i!.epoch)} is not a count (damaged file?)`);
  return { ...i, options: i!.options ?? {} } as CheckpointInfo;
}

/**
 * How a file's tensors (name → shape) differ from the state a model expects: expected names it
 * lacks (but those `optional` matches), names it has that are not expected (but those `ignored`
 * matches), and expected names whose shape differs.
 */
export function stateMismatch(
  expected: ReadonlyMap<string, readonly number[]>,
  entries: ReadonlyMap<string, { shape: readonly number[] }>,
  allow: { optional?: RegExp; ignored?: RegExp } = {},
): { missing: string[]; unexpected: string[]; misshaped: { key: string; shape: readonly number[]; expected: readonly number[] }[] } {
  return {
    missing: [...expected.keys()].filter((k) => !entries.has(k) && !allow.optional?.test(k)),
    unexpected: [...entries.keys()].filter((k) => !expected.has(k) && !allow.ignored?.test(k)),
    misshaped: [...expected]
      .filter(([k, shape]) => entries.has(k) && !sameShape(entries.get(k)!.shape, shape))
      .map(([key, shape]) => ({ key, shape: entries.get(key)!.shape, expected: shape })),
  };
}

/**
 * The model a file holds — its petseg metadata, or `expectModel` for files exported elsewhere
 * (which must agree with the metadata when both exist) — checked against the header before
 * anything is allocated: the model's state (its shapes computed without memory, shapesOnly) must
 * be exactly the file's tensors, name for name and shape for shape.
 */
export function checkpointInfo(header: Pick<SafetensorsHeader, 'metadata' | 'entries'>, source: string, expectModel?: string): CheckpointInfo {
  let info = checkpointMetadata(header, source);
  if (info) {
    if (!isModelName(info.model)) throw new Error(`${source}: holds an unknown model '${info.model}'; petseg has ${Object.keys(MODELS).join(' and ')}`);
    if (expectModel && expectModel !== info.model) {
      throw new Error(`${source}: this checkpoint holds a ${info.model} model, not ${expectModel}; pass --model ${info.model} or another file`);
    }
  } else {
    if (!expectModel) {
      throw new Error(`${source}: no petseg metadata (exported elsewhere?); say which model it is: --model ${Object.keys(MODELS).join(' or --model ')}`);
    }
    if (!isModelName(expectModel)) throw new Error(`unknown model '${expectModel}'; choose one of: ${Object.keys(MODELS).join(', ')}`);
    info = { model: expectModel, options: inferOptions(expectModel, header.entries) };
  }
  const size = info.args?.img_size as number | undefined;
  const stride = MODELS[info.model].stride;
  if (size !== undefined && size % stride !== 0) throw new Error(`${source}: its metadata's img_size ${size} is not a multiple of ${stride}, as ${info.model} needs (damaged file?)`);
  let expected: Map<string, readonly number[]>;
  try {
    expected = new Map([...shapesOnly(() => createModel(info.model, info.options)).stateDict()].map(([k, t]) => [k, t.shape]));
  } catch (err) {
    throw new Error(`${source}: its metadata describes no buildable ${info.model} (${(err as Error).message})`);
  }
  const describe = (keys: string[]) => `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? `, … (${keys.length})` : ''}`;
  const mismatch = stateMismatch(expected, header.entries);
  const { missing, unexpected } = mismatch;
  const misshaped = mismatch.misshaped.map((m) => `${m.key} ${formatShape(m.shape)} (expected ${formatShape(m.expected)})`);
  const problems = [
    missing.length ? `missing ${describe(missing)}` : '',
    unexpected.length ? `unexpected ${describe(unexpected)}` : '',
    misshaped.length ? `wrong shapes ${describe(misshaped)}` : '',
  ].filter(Boolean);
  if (problems.length) throw new Error(`${source}: not a checkpoint of ${info.model} ${JSON.stringify(info.options)} — ${problems.join('; ')}`);
  return info;
}

/** Refuse a safetensors buffer whose float tensors hold NaN or ±Inf (a diverged run's, or damaged), naming the first such tensor; reads in place. */
export function checkFiniteTensors(bytes: Uint8Array, source: string, header: SafetensorsHeader = safetensorsHeaderOf(bytes, source)): void {
  for (const [name, entry] of header.entries) {
    if (entry.dtype !== 'F32') continue; // integer counters are finite by construction
    const view = new DataView(bytes.buffer, bytes.byteOffset + header.dataStart + entry.begin, entry.end - entry.begin);
    let bad = 0;
    for (let at = 0; at < view.byteLength; at += 4) if (!Number.isFinite(view.getFloat32(at, true))) bad++;
    if (bad) throw new Error(`${source}: tensor ${name} holds ${bad} NaN or ±Inf value${bad > 1 ? 's' : ''} (from a diverged run, or damaged); petseg loads only finite tensors`);
  }
}

/**
 * A checkpoint's bytes checked without building anything: the header, the model its metadata (or
 * `expectModel`) names against the header's tensors, and every tensor finite. Returns its header
 * and model description.
 */
function inspectCheckpoint(bytes: Uint8Array, source: string, expectModel?: string): { header: SafetensorsHeader; info: CheckpointInfo } {
  const header = safetensorsHeaderOf(bytes, source);
  const info = checkpointInfo(header, source, expectModel);
  checkFiniteTensors(bytes, source, header);
  return { header, info };
}

/**
 * Rebuild the model a checkpoint was saved from and load its weights. `source` names the file in
 * messages. `expectModel` (e.g. the CLI's --model) must agree with the metadata; files without
 * petseg metadata need it. Everything is checked (inspectCheckpoint) before the model is built.
 */
export function decodeCheckpoint(bytes: Uint8Array, source: string, expectModel?: string): LoadedCheckpoint {
  const { header, info } = inspectCheckpoint(bytes, source, expectModel);
  const model = createModel(info.model, info.options);
  const state = new Map([...header.entries].map(([name, entry]) => [name, tensor(readSafetensorsTensor(bytes, header, entry), entry.shape)] as [string, Tensor]));
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
