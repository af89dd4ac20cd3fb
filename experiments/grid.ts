/**
 * A sweep's grid: `train` arguments given as comma lists (`--lr 1e-3,1e-4 --model UNet,ResNet34_UNet`),
 * the others shared, expanded into configurations. Each configuration is one ordinary `petseg
 * train` run whose folder is named after what varies (`model-UNet_augment-true_lr-0.001`), so
 * the names must be stable — the same arguments in any order name the same folders, which is how
 * a sweep started again finds its runs — filesystem-safe and readable.
 */
import { basename, extname } from 'node:path';
import { UsageError, parseArgs, type OptionSpec } from '../cli/commands/args.js';
import { MODELS, type ModelEntry } from '../models/index.js';

/** The models (of MODELS) that `takes`. */
const modelsWhere = (takes: (entry: ModelEntry) => boolean): string[] => Object.entries(MODELS as Record<string, ModelEntry>).filter(([, entry]) => takes(entry)).map(([name]) => name);
const withEncoder = modelsWhere((m) => m.encoder);

/** Arguments that mean something to some models only: a configuration of another model drops them (train refuses them there). */
export const MODEL_ARGUMENTS: Readonly<Record<string, readonly string[]>> = {
  base_channels: modelsWhere((m) => m.options.includes('baseChannels')),
  encoder_weights: withEncoder,
  freeze_encoder_epochs: withEncoder,
  encoder_lr: withEncoder,
};

/** Whether the argument `name` applies to `model` (a model-specific one to its models only). */
export function appliesTo(name: string, model: string): boolean {
  return MODEL_ARGUMENTS[name]?.includes(model) ?? true;
}

/** One run of the sweep: its folder name and its `train` arguments (name → canonical value). */
export interface Configuration {
  name: string;
  args: Record<string, string>;
}

/** The grid as given: each swept argument's values (in the order given) and the shared ones. */
export interface Grid {
  /** Arguments with more than one value, in `train`'s option order. */
  varying: Record<string, string[]>;
  /** Arguments with one value, given to every run (where they apply). */
  shared: Record<string, string>;
}

/**
 * One value of a `train` option in canonical form, checked as `train` parses it: numbers as
 * JavaScript prints them (`1e-3` → `0.001`), booleans as true/false, strings as given.
 */
function canonicalValue(name: string, raw: string, spec: OptionSpec): string {
  const parsed = parseArgs([`--${name}=${raw}`], { [name]: spec });
  if (typeof parsed !== 'object') throw new UsageError(`--${name}: '${raw}' is not a value`);
  return String(parsed[name]);
}

/**
 * The grid of the swept options given (`values`: option → its raw text, a comma list or one
 * value). Every value is checked as `train` checks it; an empty item or a value listed twice is
 * refused, so each configuration is a different run.
 */
export function parseGrid(values: Record<string, string>, trainOptions: Record<string, OptionSpec>): Grid {
  const varying: Record<string, string[]> = {};
  const shared: Record<string, string> = {};
  for (const name of Object.keys(trainOptions)) {
    const raw = values[name];
    if (raw === undefined) continue;
    const items = raw.split(',').map((item) => item.trim());
    if (items.some((item) => item === '')) throw new UsageError(`--${name} '${raw}' has an empty item; separate values with single commas, e.g. --${name} a,b`);
    const canonical = items.map((item) => canonicalValue(name, item, trainOptions[name]));
    const twice = canonical.find((v, i) => canonical.indexOf(v) !== i);
    if (twice !== undefined) throw new UsageError(`--${name} lists ${twice} twice; give each value once`);
    if (canonical.length === 1) shared[name] = canonical[0];
    else varying[name] = canonical;
  }
  return { varying, shared };
}

/** A value as a folder-name part: a file's base name for paths, and only [A-Za-z0-9._+-] (anything else becomes '-'). */
function namepart(name: string, value: string): string {
  const shown = name === 'encoder_weights' ? basename(value, extname(value)) : value;
  return shown.replace(/[^A-Za-z0-9._+-]/g, '-');
}

/**
 * Every configuration of the grid, the last varying option changing fastest. An argument that
 * does not apply to a configuration's model is left out of its arguments and name, and the
 * configurations that leave equal are one (UNet's --base_channels 8,16 with ResNet34_UNet: one
 * ResNet34_UNet run). The default model (UNet) counts when --model is not given.
 */
export function configurations(grid: Grid): Configuration[] {
  let combos: Record<string, string>[] = [{}];
  for (const [name, values] of Object.entries(grid.varying)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  const sameArgs = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  const byName = new Map<string, Configuration>();
  for (const combo of combos) {
    const all = { ...grid.shared, ...combo };
    const model = all.model ?? 'UNet';
    const args = Object.fromEntries(Object.entries(all).filter(([name]) => appliesTo(name, model)));
    const parts = Object.keys(grid.varying)
      .filter((name) => name in args)
      .map((name) => `${name}-${namepart(name, args[name])}`);
    const name = parts.length ? parts.join('_') : 'run';
    const taken = byName.get(name);
    if (!taken) byName.set(name, { name, args });
    else if (!sameArgs(taken.args, args)) throw new UsageError(`two configurations would share the run folder ${name}; give values that differ in letters or digits (e.g. other file names for --encoder_weights)`);
  }
  return [...byName.values()];
}

/** `--shard i/n`: 1-based index and count. */
export function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!(count >= 1 && index >= 1 && index <= count)) throw new UsageError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 1/2 and 2/2 for two processes), got '${text}'`);
  return { index, count };
}

/** Whether configuration `position` (0-based) is shard `shard`'s: every n-th, starting at the i-th. */
export function inShard(position: number, shard: { index: number; count: number }): boolean {
  return position % shard.count === shard.index - 1;
}
