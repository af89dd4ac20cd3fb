/**
 * `petseg sweep --save_dir DIR --model UNet,ResNet34_UNet --lr 1e-3,1e-4 …` — a grid over `train`
 * arguments given as comma lists, each configuration an ordinary run folder under DIR, trained
 * one after another and scored on the test split (experiments/sweep.ts). Everything is checked
 * before the first run starts; a bad argument is one line and exit code 2.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MODEL_ARGUMENTS, configurations, inShard, parseGrid, parseShard } from '../../experiments/grid.js';
import { checkSweepFolder, configurationState, runSweep, trainArguments, type SweepPlan } from '../../experiments/sweep.js';
import { MODELS } from '../../models/index.js';
import { SPLIT_FILES } from '../../train/index.js';
import { UsageError, givenOptions, parseCommandArgs, reportError, type OptionSpec } from './args.js';
import { OPTIONS as TRAIN_OPTIONS } from './train.js';

/** train's options that are the sweep's own business: its folder (one per run, under --save_dir), resuming (automatic), the data and caches (one for all). */
const NOT_SWEPT = new Set(['save_dir', 'resume', 'data_path', 'log_dir', 'cache_dir']);

/** The train options a sweep takes as comma lists, with train's checks (grid.ts parses each item with train's spec). */
const SWEPT_OPTIONS: Record<string, OptionSpec> = Object.fromEntries(Object.entries(TRAIN_OPTIONS).filter(([name]) => !NOT_SWEPT.has(name)));

export const OPTIONS: Record<string, OptionSpec> = {
  save_dir: { type: 'string', help: 'the sweep folder: sweep.json and one run folder per configuration, named after what varies (required)' },
  data_path: { type: 'string', help: 'Oxford-IIIT Pet folder, one for every run; omitted: the built-in synthetic set (with train\'s preset)' },
  ...Object.fromEntries(
    Object.entries(SWEPT_OPTIONS).map(([name, spec]) => [name, { type: 'string', help: `${spec.help}${spec.default === undefined ? '' : ` (train's default: ${spec.default})`}; a comma list sweeps it` } satisfies OptionSpec]),
  ),
  log_dir: { type: 'string', help: "TensorBoard: one folder per run under this one ('none' disables; default: each run's own tensorboard/)" },
  cache_dir: { type: 'string', help: 'decode cache folder for every run (default: train\'s)' },
  test: { type: 'boolean', default: true, help: 'score each best checkpoint on the test split into its run folder (evaluation.json)' },
  shard: { type: 'string', default: '1/1', help: 'i/n: run every n-th configuration from the i-th, so n processes share one --save_dir' },
  dry_run: { type: 'boolean', default: false, help: 'list the configurations, where each stands and its train command, and run nothing' },
};

const SUMMARY = 'Train every configuration of a grid of train arguments (comma lists), one run folder each, resuming where a sweep stopped; then score each on the test split.';

/**
 * A train boolean written bare (`--augment`) means true, as for train; the sweep reads it as text
 * (it may be a list, `--augment false,true`), so the bare form gets its value here.
 */
function withBareBooleans(argv: readonly string[]): string[] {
  return argv.map((arg, i) => {
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : '';
    const next = argv[i + 1];
    return SWEPT_OPTIONS[name]?.type === 'boolean' && (next === undefined || next.startsWith('--')) ? `${arg}=true` : arg;
  });
}

/** The dataset's layout as far as a sweep needs it before anything runs (train checks the rest at its start). */
function checkData(dataPath: string, test: boolean): void {
  if (!existsSync(dataPath) || !statSync(dataPath).isDirectory()) throw new UsageError(`--data_path ${dataPath} is not a folder (the Oxford-IIIT Pet folder; fetch it with \`petseg download\`)`);
  const [trainval, testList] = SPLIT_FILES;
  if (!existsSync(join(dataPath, trainval))) throw new UsageError(`--data_path ${dataPath} has no ${trainval}; expected the Oxford-IIIT Pet layout`);
  if (test && !existsSync(join(dataPath, testList))) throw new UsageError(`--data_path ${dataPath} has no test split (${testList}) to score the runs on; add one, or pass --test no`);
}

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('sweep', SUMMARY, withBareBooleans(argv), OPTIONS);
  if (typeof args === 'number') return args;
  const say = (line: string) => console.log(line);
  try {
    if (args.save_dir === undefined) throw new UsageError('--save_dir is required: the folder that holds the sweep (sweep.json and a run folder per configuration)');
    const given = givenOptions(argv);
    const values = Object.fromEntries([...given].filter((name) => name in SWEPT_OPTIONS).map((name) => [name, args[name] as string]));
    const grid = parseGrid(values, SWEPT_OPTIONS);
    const models = grid.varying.model ?? [grid.shared.model ?? 'UNet'];
    for (const model of models) if (!(model in MODELS)) throw new UsageError(`--model ${model} is not a model; choose ${Object.keys(MODELS).join(' or ')}`);
    for (const [name, only] of Object.entries(MODEL_ARGUMENTS)) {
      if (given.has(name) && !models.some((m) => only.includes(m))) throw new UsageError(`--${name} applies to ${only.join(', ')} only, and the sweep has no such --model`);
    }
    const plan: SweepPlan = {
      saveDir: resolve(args.save_dir as string),
      dataPath: args.data_path === undefined ? undefined : resolve(args.data_path as string),
      cacheDir: args.cache_dir === undefined ? undefined : resolve(args.cache_dir as string),
      logDir: args.log_dir === undefined || args.log_dir === 'none' ? (args.log_dir as string | undefined) : resolve(args.log_dir as string),
      test: args.test as boolean,
      shard: parseShard(args.shard as string),
      grid,
      configurations: configurations(grid),
    };
    if (plan.dataPath !== undefined) checkData(plan.dataPath, plan.test);
    for (const config of plan.configurations) {
      const model = config.args.model ?? 'UNet';
      const stride = MODELS[model as keyof typeof MODELS].stride;
      if (config.args.img_size !== undefined && Number(config.args.img_size) % stride !== 0) {
        throw new UsageError(`--img_size ${config.args.img_size} must be a multiple of ${stride} for ${model} (configuration ${config.name})`);
      }
      if (config.args.encoder_weights !== undefined && !existsSync(resolve(config.args.encoder_weights))) throw new UsageError(`--encoder_weights ${config.args.encoder_weights} does not exist`);
    }
    checkSweepFolder(plan);
    if (args.dry_run) {
      say(`sweep: ${plan.configurations.length} configurations in ${plan.saveDir}${plan.shard.count > 1 ? `; * marks shard ${plan.shard.index}/${plan.shard.count}'s` : ''}`);
      plan.configurations.forEach((config, position) => {
        say(`${plan.shard.count > 1 && inShard(position, plan.shard) ? '*' : ' '} [${position + 1}/${plan.configurations.length}] ${config.name}: ${configurationState(plan, config)}`);
        say(`      petseg train ${trainArguments(plan, config, false).join(' ')}`);
      });
      return 0;
    }
    return await runSweep(plan, say);
  } catch (err) {
    return reportError('sweep', err);
  }
}
