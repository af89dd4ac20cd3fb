/**
 * What defines a run — the lab's arguments as the library names them — and the errors that name
 * them. A run records its settings once, in its manifest (run-folder.ts); a resume reads them
 * back from there. Checkpoints carry them as the lab's snake_case `args` (labArgs), for
 * inference and for PyTorch users, and are never read back to resume.
 *
 * Messages name option fields by template, `{lr}`: a library user reads `lr`, the command line
 * renders its flag, `--lr` (cli/commands/args.ts).
 */
import { BASE_CHANNELS, IMG_SIZE, SEED, withinBound } from '../models/limits.js';
import { MODELS, isModelName, type ModelName, type ModelOptions } from '../models/registry.js';

/**
 * The training precisions: `fp32`, or `mixed` (float16 convolution operands under autocast, with
 * dynamic loss scaling).
 */
export const PRECISIONS = ['fp32', 'mixed'] as const;
/** One of {@link PRECISIONS}. */
export type Precision = (typeof PRECISIONS)[number];

/**
 * What defines a run: the lab's arguments under the library's names, recorded once in the run's
 * manifest and read back from there to resume.
 */
export interface RunSettings {
  model: ModelName;
  /** Model options other than the seed (e.g. { baseChannels: 8 }). */
  modelOptions: ModelOptions;
  seed: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  batchSize: number;
  imgSize: number;
  augment: boolean;
  maskThreshold: number;
  /** `mixed`: convolutions on float16 operands under autocast with dynamic loss scaling (needs shader-f16). */
  precision: Precision;
  /** Models with an encoder (ResNet34_UNet): the first N epochs train with it frozen. */
  freezeEncoderEpochs: number;
  /** Models with an encoder: its learning rate (default lr). */
  encoderLr?: number;
  /** Models with an encoder: where its starting weights came from, for the record. */
  encoderWeights?: string;
}

/**
 * A bad option or input, with a message that names options by template: `{lr}`. `message` shows
 * the fields (`lr`); render() shows them however a caller names them (the CLI: `--lr`).
 */
export class OptionError extends Error {
  constructor(readonly template: string) {
    super(renderTemplate(template, (field) => field));
    this.name = 'OptionError';
  }

  render(name: (field: string) => string): string {
    return renderTemplate(this.template, name);
  }
}

function renderTemplate(template: string, name: (field: string) => string): string {
  return template.replace(/\{(\w+)\}/g, (_, field: string) => name(field));
}

/** A finished epoch's checks failed because a value went NaN or infinite. */
export class DivergedError extends OptionError {
  constructor(template: string) {
    super(template);
    this.name = 'DivergedError';
  }
}

export function divergedMessage(epoch: number, what: string, lr: number): string {
  return `training diverged at epoch ${epoch}: ${what}; lower {lr} (now ${lr}) — the run folder keeps its last finished epoch`;
}

/** The settings' values, checked without a GPU or a file (the first thing a run does). */
export function checkSettings(s: RunSettings): void {
  if (!isModelName(s.model)) throw new OptionError(`{model} ${String(s.model)} is not a model; choose ${Object.keys(MODELS).join(' or ')}`);
  if (!PRECISIONS.includes(s.precision)) throw new OptionError(`{precision} ${String(s.precision)} is not a precision; choose ${PRECISIONS.join(' or ')}`);
  if (!(typeof s.maskThreshold === 'number' && s.maskThreshold >= 0 && s.maskThreshold <= 1)) throw new OptionError(`{maskThreshold} must be in [0, 1], got ${s.maskThreshold}`);
  for (const [name, value] of [['epochs', s.epochs], ['batchSize', s.batchSize]] as const) {
    if (!(Number.isInteger(value) && value >= 1)) throw new OptionError(`{${name}} must be an integer ≥ 1, got ${value}`);
  }
  if (!withinBound(s.imgSize, IMG_SIZE)) throw new OptionError(`{imgSize} must be an integer in [${IMG_SIZE.min}, ${IMG_SIZE.max}], got ${s.imgSize}`);
  const stride = MODELS[s.model].stride;
  if (s.imgSize % stride !== 0) throw new OptionError(`{imgSize} ${s.imgSize} must be a multiple of ${stride} for ${s.model} (e.g. ${Math.max(stride, Math.round(s.imgSize / stride) * stride)})`);
  if (s.modelOptions.baseChannels !== undefined && !withinBound(s.modelOptions.baseChannels, BASE_CHANNELS)) {
    throw new OptionError(`{baseChannels} must be an integer in [${BASE_CHANNELS.min}, ${BASE_CHANNELS.max}], got ${s.modelOptions.baseChannels}`);
  }
  if (!withinBound(s.seed, SEED)) throw new OptionError(`{seed} must be an integer in [0, 4294967295], got ${s.seed}`);
  if (!(s.lr > 0 && Number.isFinite(s.lr))) throw new OptionError(`{lr} must be positive, got ${s.lr}`);
  if (!(s.weightDecay >= 0 && Number.isFinite(s.weightDecay))) throw new OptionError(`{weightDecay} must be ≥ 0, got ${s.weightDecay}`);
  if (!(Number.isInteger(s.freezeEncoderEpochs) && s.freezeEncoderEpochs >= 0)) throw new OptionError(`{freezeEncoderEpochs} must be an integer ≥ 0, got ${s.freezeEncoderEpochs}`);
  if (s.encoderLr !== undefined && !(s.encoderLr >= 0 && Number.isFinite(s.encoderLr))) throw new OptionError(`{encoderLr} must be ≥ 0, got ${s.encoderLr}`);
  const encoderOptions = [s.encoderWeights !== undefined && '{encoderWeights}', s.freezeEncoderEpochs !== 0 && '{freezeEncoderEpochs}', s.encoderLr !== undefined && '{encoderLr}'].filter(Boolean);
  if (!MODELS[s.model].encoder && encoderOptions.length) {
    const names = Object.entries(MODELS).filter(([, m]) => m.encoder).map(([n]) => n);
    throw new OptionError(`${encoderOptions.join(', ')}: only ${names.join(', ')} has a pretrained encoder; pass {model} ${names[0]} or drop ${encoderOptions.length > 1 ? 'them' : 'it'}`);
  }
}

/** Settings recorded one to one as the lab's snake_case arguments: field, argument, JSON type. */
const LAB_ARGS: [keyof RunSettings, string, 'number' | 'boolean' | 'string'][] = [
  ['model', 'model', 'string'],
  ['epochs', 'epochs', 'number'],
  ['batchSize', 'batch_size', 'number'],
  ['lr', 'lr', 'number'],
  ['weightDecay', 'weight_decay', 'number'],
  ['imgSize', 'img_size', 'number'],
  ['maskThreshold', 'mask_threshold', 'number'],
  ['augment', 'augment', 'boolean'],
  ['seed', 'seed', 'number'],
  ['precision', 'precision', 'string'],
  ['freezeEncoderEpochs', 'freeze_encoder_epochs', 'number'],
  ['encoderLr', 'encoder_lr', 'number'],
  ['encoderWeights', 'encoder_weights', 'string'],
];

/** The settings as the lab's snake_case arguments, recorded in every checkpoint with the data's label. */
export function labArgs(s: RunSettings, data: string): Record<string, unknown> {
  const args: Record<string, unknown> = { data_path: data };
  for (const [field, arg] of LAB_ARGS) if (s[field] !== undefined && (field !== 'freezeEncoderEpochs' || MODELS[s.model].encoder)) args[arg] = s[field];
  if (s.modelOptions.baseChannels !== undefined) args.base_channels = s.modelOptions.baseChannels;
  return args;
}

/**
 * The settings a run of an earlier version recorded as the CLI's arguments (run.json `args`, or
 * last.safetensors's metadata), where they are there; a resume fills the rest from its options.
 */
export function settingsFromLabArgs(args: Record<string, unknown>): Partial<RunSettings> {
  const out: Partial<RunSettings> = {};
  for (const [field, arg, type] of LAB_ARGS) if (typeof args[arg] === type) (out as Record<string, unknown>)[field] = args[arg];
  if (typeof args.base_channels === 'number' && (args.model ?? 'UNet') === 'UNet') out.modelOptions = { baseChannels: args.base_channels };
  return out;
}

/** The fields a resumed run must keep: every setting but the epochs to train to. */
export const RUN_DEFINING: readonly (keyof RunSettings)[] = ['model', 'modelOptions', 'seed', 'lr', 'weightDecay', 'batchSize', 'imgSize', 'augment', 'maskThreshold', 'precision', 'freezeEncoderEpochs', 'encoderLr', 'encoderWeights'];

/** The first run-defining field on which two settings differ, or null. */
export function firstDifference(a: Partial<RunSettings>, b: Partial<RunSettings>): keyof RunSettings | null {
  for (const key of RUN_DEFINING) {
    if (!(key in a) || !(key in b)) continue;
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return key;
  }
  return null;
}
