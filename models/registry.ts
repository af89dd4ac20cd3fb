/** Models by the lab's names, so the CLI and checkpoints can name them, and what the trainer may ask of them. */
import type { Module } from '../engine/nn/module.js';
import type { AdamParamGroup } from '../engine/optim.js';
import type { Tensor } from '../engine/tensor.js';
import { BASE_CHANNELS, IN_CHANNELS, SEED, withinBound, type Bound } from './limits.js';
import { ResNet34UNet } from './resnet34-unet.js';
import { UNet } from './unet.js';

/** Options a checkpoint records to rebuild the model (JSON-serialisable). */
export type ModelOptions = Record<string, number>;

/**
 * What a model may do for the trainer beyond forward: the trainer asks through these, so it
 * needs no knowledge of any one model.
 */
export interface TrainingHooks {
  /** Adam's parameter groups (a pretrained encoder at its own learning rate); absent: one group of every parameter. */
  optimizerGroups?(lr: { lr: number; encoderLr?: number }): AdamParamGroup[];
  /** Before each epoch (an encoder frozen for the first ones). */
  beforeEpoch?(epoch: number, settings: { freezeEncoderEpochs: number }): void;
  /** The encoder's state by torchvision's names, which pretrained weights are loaded into. */
  encoderState?(): Map<string, Tensor>;
}

/** A model the trainer trains: a Module with the hooks it has. */
export type SegmentationModel = Module & TrainingHooks;

/**
 * A model in {@link MODELS}: its total stride, whether it has a pretrainable encoder, the options
 * it takes, and how to build it.
 */
export interface ModelEntry {
  /** Total stride: input H and W must be multiples of it. */
  stride: number;
  /** It has a pretrained-able encoder (encoderState, optimizerGroups, beforeEpoch). */
  encoder: boolean;
  /** Options each model understands (others are rejected). */
  options: readonly string[];
  create(options: ModelOptions): Module;
}

/** The lab's models by name (UNet, ResNet34_UNet): the names the CLI and checkpoints use. */
export const MODELS = {
  UNet: { stride: UNet.stride, encoder: false, options: ['baseChannels', 'inChannels', 'seed'], create: (o) => new UNet(o) },
  ResNet34_UNet: { stride: ResNet34UNet.stride, encoder: true, options: ['inChannels', 'seed'], create: (o) => new ResNet34UNet(o) },
} satisfies Record<string, ModelEntry>;

/** The name of a model in {@link MODELS}. */
export type ModelName = keyof typeof MODELS;

/** True when `name` is a model of {@link MODELS}. */
export function isModelName(name: string): name is ModelName {
  return Object.prototype.hasOwnProperty.call(MODELS, name);
}

/** Every model option's bound (models/limits.ts): checked before a model is built, whether the value came from an argument or a file. */
const OPTION_BOUNDS: Record<string, Bound> = { baseChannels: BASE_CHANNELS, inChannels: IN_CHANNELS, seed: SEED };

/**
 * A new model `name` built with `options`; an unknown model or option, or a value outside its
 * bound, is refused before anything is built.
 */
export function createModel(name: string, options: ModelOptions = {}): SegmentationModel {
  if (!isModelName(name)) throw new Error(`unknown model '${name}'; choose one of: ${Object.keys(MODELS).join(', ')}`);
  const entry: ModelEntry = MODELS[name];
  const unknown = Object.keys(options).filter((k) => !entry.options.includes(k));
  if (unknown.length) throw new Error(`model ${name} has no option(s) ${unknown.join(', ')} (it takes: ${entry.options.join(', ')})`);
  for (const [key, value] of Object.entries(options)) {
    const bound = OPTION_BOUNDS[key];
    if (!withinBound(value, bound)) throw new Error(`model ${name}: ${key} must be an integer in [${bound.min}, ${bound.max}], got ${JSON.stringify(value)}`);
  }
  return entry.create(options);
}

/** One line per top-level block with its parameter count, and the total (like a --summary). */
export function summarize(name: string, model: Module): string {
  const lines = [`${name}`];
  for (const [child, module] of model.namedChildren()) {
    lines.push(`  ${child.padEnd(12)} ${module.parameterCount().toLocaleString('en-US').padStart(14)}`);
  }
  lines.push(`  ${'total'.padEnd(12)} ${model.parameterCount().toLocaleString('en-US').padStart(14)} parameters`);
  return lines.join('\n');
}
