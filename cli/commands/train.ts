/**
 * `petseg train` — train UNet or ResNet34_UNet on Oxford-IIIT Pet with the lab's arguments.
 * Without --data_path it trains on the built-in synthetic set with a quick preset, so a fresh
 * machine sees the whole pipeline work in minutes.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import * as E from '../../engine/index.js';
import { BASE_CHANNELS, IMG_SIZE, isModelName, MODELS, type ModelName } from '../../models/index.js';
import { splitFingerprint, NodeFolder, ensureSyntheticDataset, RUN_LOG_DIR, openRun, defaultRunName, type OpenedRun, RunFolderInUse, acquireRunLock, claimNewRunFolder, type RunLock, type RunSettings, PRECISIONS, RUN_DEFINING, RUN_FILES, checkTrainOptions, checkWritableFolder, train, type Precision, type TrainOptions } from '../../train/index.js';
import { UsageError, asUsageError, checkNotFolder, flagOf, givenOptions, parseCommandArgs, reportError, type OptionSpec, type ParsedArgs } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  data_path: { type: 'string', help: 'Oxford-IIIT Pet folder (images/, annotations/); omitted: the built-in synthetic set' },
  model: { type: 'string', default: 'UNet', help: `model: ${Object.keys(MODELS).join(' or ')}` },
  epochs: { type: 'integer', default: 100, min: 1, help: "epochs (synthetic preset: 5; with --resume: the run's)" },
  batch_size: { type: 'integer', default: 8, min: 1, help: 'images per step' },
  lr: { type: 'number', default: 1e-3, min: 0, help: 'Adam learning rate' },
  weight_decay: { type: 'number', default: 1e-4, min: 0, help: 'Adam weight decay (L2, as torch.optim.Adam)' },
  img_size: { type: 'integer', default: 256, ...IMG_SIZE, help: 'images are resized to img_size² (synthetic preset: 64)' },
  base_channels: { type: 'integer', default: 64, ...BASE_CHANNELS, help: `UNet width: channels of the first block (synthetic preset: 8; at most ${BASE_CHANNELS.max}, whose widest weight fits the 128 MiB every adapter binds)` },
  mask_threshold: { type: 'number', default: 0.5, min: 0, max: 1, help: 'sigmoid(logit) > threshold is pet' },
  augment: { type: 'boolean', default: false, help: 'random flips and rotation (seeded)' },
  seed: { type: 'integer', default: 0, min: 0, max: 4294967295, help: 'seed of weights, shuffling and augmentation' },
  save_dir: { type: 'string', help: 'run folder for best/last checkpoints and metrics.jsonl, locked while the run trains (default: a new saved_models/<model>-<date>-<time>)' },
  log_dir: { type: 'string', help: "TensorBoard folder (default: <save_dir>/tensorboard; 'none' disables)" },
  resume: { type: 'boolean', default: false, help: 'continue the run in --save_dir from last.safetensors' },
  encoder_weights: { type: 'string', help: "ResNet34_UNet: the encoder's starting weights, a safetensors file with torchvision/timm ResNet34 names" },
  freeze_encoder_epochs: { type: 'integer', default: 0, min: 0, help: 'ResNet34_UNet: train the first N epochs with the encoder (weights and BatchNorm statistics) frozen' },
  encoder_lr: { type: 'number', min: 0, help: "ResNet34_UNet: the encoder's learning rate (default: --lr)" },
  profile: { type: 'integer', default: 0, min: 0, help: 'print the GPU time of every kernel over the first N training steps (needs timestamp-query)' },
  precision: { type: 'string', default: 'fp32', help: `${PRECISIONS.join(' or ')}: mixed runs the convolutions on float16 operands with loss scaling (needs shader-f16)` },
  cache_dir: { type: 'string', help: 'decode cache folder (default: <user cache>/petseg/decoded/<hash of the dataset path>)' },
};

/** What the synthetic preset changes, unless given on the command line. */
const SYNTHETIC_PRESET = { img_size: 64, base_channels: 8, epochs: 5 } as const;
/** The arguments a resumed run takes from its folder (giving a different value is an error; --data_path is compared by content, resumedDataPath), and where its settings hold each. */
const RESUMED_ARGS: [string, (s: Partial<RunSettings>) => unknown][] = RUN_DEFINING.map((field) =>
  field === 'modelOptions' ? ['base_channels', (s) => s.modelOptions?.baseChannels] : [flagOf(field).slice(2), (s) => s[field]],
);

/** The synthetic set lives in the user's cache folder, written once. */
function syntheticRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'petseg', 'synthetic-v1');
}

/**
 * The data a resumed run continues on. Recorded paths are absolute (a relative one, of an earlier
 * version, is taken from the working folder as it was then), so a resume works from any folder;
 * a given --data_path must be the recorded one or hold the same split lists (the dataset moved).
 */
async function resumedDataPath(run: OpenedRun, args: ParsedArgs, given: Set<string>): Promise<string | undefined> {
  const recordedPath = run.manifest?.data?.path ?? run.manifest?.args?.data_path;
  const recorded = typeof recordedPath === 'string' ? resolve(recordedPath) : undefined;
  if (!given.has('data_path')) {
    if (recorded !== undefined && !existsSync(recorded)) throw new UsageError(`--resume: the run's data ${recorded} is not there any more; pass --data_path with the same dataset`);
    return recorded;
  }
  const wanted = resolve(args.data_path as string);
  const fingerprint = run.manifest?.data?.fingerprint;
  const sameData = recorded === wanted || (fingerprint !== undefined && existsSync(wanted) && (await splitFingerprint(new NodeFolder(wanted))) === fingerprint);
  if (!sameData) {
    throw new UsageError(`--resume: the run in ${run.folder.location} was trained on ${recorded ?? 'the built-in synthetic set'}, not ${wanted}; drop --data_path or start a new --save_dir`);
  }
  return wanted;
}

/** For --resume: the run's recorded settings fill what is not given (--epochs too); a given value must agree. */
async function mergeResumedArgs(args: ParsedArgs, given: Set<string>, run: OpenedRun): Promise<void> {
  if (!run.manifest || !run.settings) throw new UsageError(`--resume: ${run.folder.location} holds no finished epoch to resume; drop --resume to start the run`);
  const recorded = run.settings;
  for (const [name, of] of RESUMED_ARGS) {
    const value = of(recorded);
    if (value === undefined) continue;
    const givenValue = name === 'encoder_weights' && typeof args[name] === 'string' ? resolve(args[name] as string) : args[name];
    if (given.has(name) && value !== givenValue) {
      throw new UsageError(`--resume: the run in ${run.folder.location} was trained with --${name} ${String(value)}, not ${String(args[name])}; drop --${name} or start a new --save_dir`);
    }
    args[name] = value as ParsedArgs[string];
  }
  args.data_path = await resumedDataPath(run, args, given);
  if (!given.has('epochs') && recorded.epochs !== undefined) args.epochs = recorded.epochs;
}

/**
 * The run folder, locked for this process: --save_dir, or a new `saved_models/<model>-<time>`
 * (`-2`, `-3`, … when taken). Refused (exit 2) while another process holds it.
 */
function lockRunFolder(args: ParsedArgs, say: (line: string) => void): RunLock {
  const given = args.save_dir as string | undefined;
  const dir = resolve(given ?? 'saved_models');
  try {
    checkWritableFolder(dir, 'saveDir');
  } catch (err) {
    throw asUsageError(err);
  }
  try {
    return given === undefined ? claimNewRunFolder(dir, defaultRunName(String(args.model)), say) : acquireRunLock(dir, say);
  } catch (err) {
    throw err instanceof RunFolderInUse ? new UsageError(err.message) : err;
  }
}

/**
 * The lock goes with the process however it ends: normally, by process.exit (the launcher's
 * child when its parent dies), or by SIGINT, SIGTERM or SIGHUP, which are raised again once it is
 * released so the exit status still tells. A SIGKILL leaves it stale, for the next run to take over.
 * Returns what undoes the hooks.
 */
function releaseWithProcess(lock: RunLock): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals) => {
    lock.release();
    process.kill(process.pid, signal);
  };
  process.once('exit', lock.release);
  for (const signal of signals) process.once(signal, onSignal);
  return () => {
    process.removeListener('exit', lock.release);
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
}

export async function main(argv: string[]): Promise<number> {
  const summary = 'Train a segmentation model on Oxford-IIIT Pet (or the built-in synthetic set) with Adam and BCE, validating every epoch.';
  const args = parseCommandArgs('train', summary, argv, OPTIONS);
  if (typeof args === 'number') return args;
  const given = givenOptions(argv);
  const say = (line: string) => console.log(line);
  let lock: RunLock | null = null;
  let unhook = () => {};
  try {
    const model = args.model as string;
    if (!isModelName(model)) throw new UsageError(`--model ${model} is not a model; choose ${Object.keys(MODELS).join(' or ')}`);
    if (args.resume && !given.has('save_dir')) throw new UsageError('--resume needs the --save_dir of the run to continue');
    if (args.encoder_weights !== undefined) checkNotFolder('encoder_weights', resolve(args.encoder_weights as string), 'a safetensors file');
    // Everything below reads or writes the run folder: it is held from here to the end, and opened once.
    lock = lockRunFolder(args, say);
    unhook = releaseWithProcess(lock);
    const saveDir = lock.dir;
    const logDir = args.log_dir === 'none' ? null : resolve((args.log_dir as string | undefined) ?? join(saveDir, RUN_LOG_DIR));
    const folder = new NodeFolder(saveDir);
    let opened: OpenedRun;
    try {
      opened = await openRun(folder, logDir === join(folder.location, RUN_LOG_DIR) ? folder.folder(RUN_LOG_DIR) : null);
    } catch (err) {
      throw new UsageError(`--save_dir: ${(err as Error).message}`);
    }
    if (args.resume) await mergeResumedArgs(args, given, opened);

    const synthetic = args.data_path === undefined;
    if (synthetic) {
      for (const [name, value] of Object.entries(SYNTHETIC_PRESET)) if (!given.has(name) && !args.resume) args[name] = value;
    }
    if (args.model !== 'UNet' && given.has('base_channels')) throw new UsageError(`--base_channels applies to UNet only, not ${String(args.model)}`);
    let dataPath: string;
    let dataLine: string | null = null;
    if (synthetic) {
      dataPath = syntheticRoot();
      const created = ensureSyntheticDataset(dataPath);
      dataLine = `no --data_path: ${created ? 'wrote' : 'using'} the built-in synthetic set in ${dataPath}; preset ${Object.entries(SYNTHETIC_PRESET)
        .map(([k, v]) => `--${k} ${String(args[k])}${given.has(k) ? '' : ` (preset ${v})`}`)
        .join(' ')}`;
    } else {
      // Recorded absolute, so the run resumes from any working folder.
      dataPath = resolve(args.data_path as string);
      args.data_path = dataPath;
    }
    const modelName = args.model as ModelName;
    const options: TrainOptions = {
      dataPath,
      model: modelName,
      modelOptions: modelName === 'UNet' ? { baseChannels: args.base_channels as number } : {},
      seed: args.seed as number,
      epochs: args.epochs as number,
      lr: args.lr as number,
      weightDecay: args.weight_decay as number,
      batchSize: args.batch_size as number,
      imgSize: args.img_size as number,
      augment: args.augment as boolean,
      maskThreshold: args.mask_threshold as number,
      saveDir,
      logDir,
      resume: args.resume as boolean,
      encoderWeights: args.encoder_weights === undefined ? undefined : resolve(args.encoder_weights as string),
      freezeEncoderEpochs: args.freeze_encoder_epochs as number,
      encoderLr: args.encoder_lr as number | undefined,
      profileSteps: args.profile as number,
      precision: args.precision as Precision,
      cacheDir: args.cache_dir === undefined ? undefined : resolve(args.cache_dir as string),
      runLock: lock,
      opened,
    };
    // Every argument is checked before the device opens or anything is written.
    try {
      await checkTrainOptions(options, opened);
    } catch (err) {
      throw asUsageError(err);
    }

    const runtime = await E.init();
    console.log(`petseg training on ${runtime.adapterName}`);
    if (options.precision === 'mixed' && runtime.caps.software) {
      say('note: this is a CPU adapter, on which --precision mixed is slower than fp32 (the 5-epoch synthetic preset: about 8 minutes on 2 cores); it is meant for GPUs');
    }
    if (dataLine) console.log(dataLine);
    console.log(`run folder ${saveDir}${logDir ? `; TensorBoard: tensorboard --logdir ${logDir}` : ''}`);
    const result = await train(options);
    result.model.dispose();
    console.log(
      `done: best valid loss ${result.best.validLoss.toFixed(4)}, Dice ${result.best.validDice.toFixed(4)} at epoch ${result.best.epoch}; ` +
        `checkpoints ${join(saveDir, RUN_FILES.best)} and ${join(saveDir, RUN_FILES.last)}`,
    );
    return 0;
  } catch (err) {
    return reportError('train', err);
  } finally {
    lock?.release();
    unhook();
  }
}