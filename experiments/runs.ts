/**
 * Reading run folders as `petseg train` leaves them (the protocol at the top of
 * train/run-folder.ts), without opening or changing them: the committed manifest `run.json`
 * (or, while a commit is being applied, the staged one in `.commit/`, whose files are then the
 * committed ones), `metrics.jsonl`, and the sweep's `evaluation.json`. Runs of earlier versions —
 * no manifest, only last.safetensors's metadata; no train Dice; no adapter — read too, with what
 * they lack left undefined.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensorsHeader, checkpointMetadata } from '../models/index.js';
import { EVALUATION_FILE, RUN_FILES } from '../train/index.js';

const readCheckpointMetadata = (path: string) => checkpointMetadata(readSafetensorsHeader(path), path);

/** At the root of a sweep's --save_dir: its grid and configurations (sweep.ts). */
export const SWEEP_FILE = 'sweep.json';

/** Where a commit stages its files (train/run-folder.ts, which keeps the name to itself). */
const STAGING = '.commit';
const { manifest: MANIFEST, metrics: METRICS, last: LAST } = RUN_FILES;

/** One epoch's line of metrics.jsonl (fields of earlier versions may be missing). */
export interface EpochLine {
  epoch: number;
  train_loss?: number;
  train_dice?: number;
  valid_loss?: number;
  valid_dice?: number;
  valid_iou?: number;
  valid_dataset_dice?: number;
  seconds?: number;
  images_per_second?: number;
  best?: boolean;
}

/** What a run folder's last committed epoch says. */
export interface RunState {
  dir: string;
  /** The last committed epoch. */
  epoch: number;
  best: { epoch: number; valid_loss: number; valid_dice: number };
  /** The training arguments, snake_case as on the command line (run.json's, else the checkpoint's). */
  args: Record<string, unknown>;
  /** The dataset, absolute where the run recorded it so; undefined when unknown. */
  dataPath: string | undefined;
  /** The adapter the run trained on, where run.json records it. */
  adapter: string | undefined;
}

/** The test scores of a run's best checkpoint (evaluation.json): `petseg infer --json`'s object. */
export interface TestEvaluation {
  split: string;
  images: number;
  dice: number;
  iou: number;
  dataset_dice: number;
  loss: number;
  /** The best checkpoint's epoch it scored (stale once a longer training moved the best). */
  epoch: number | null;
  model_path: string;
  data_path: string;
  adapter?: string;
}

/** A file of the committed epoch: the staged copy while a committed transaction is being applied, else the folder's. */
function committedFile(dir: string, name: string): string {
  const staged = join(dir, STAGING, name);
  return existsSync(join(dir, STAGING, MANIFEST)) && existsSync(staged) ? staged : join(dir, name);
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

/** Whether `dir` holds a run with a finished epoch (a manifest, or a run of an earlier version's last checkpoint). */
export function isRunFolder(dir: string): boolean {
  return existsSync(join(dir, MANIFEST)) || existsSync(join(dir, STAGING, MANIFEST)) || existsSync(join(dir, LAST));
}

/**
 * The run's committed state, or null when no epoch finished yet. A manifest being renamed into
 * place as it is read is read again (the commit's renames are atomic: one of the two names holds it).
 */
export function readRun(dir: string): RunState | null {
  for (let attempt = 0; ; attempt++) {
    try {
      return readRunOnce(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 2) throw err;
    }
  }
}

function readRunOnce(dir: string): RunState | null {
  const manifestFile = committedFile(dir, MANIFEST);
  const checkpointArgs = () => readCheckpointMetadata(committedFile(dir, LAST))?.args ?? {};
  if (existsSync(manifestFile)) {
    const m = readJson(manifestFile) as { epoch?: unknown; best?: RunState['best']; args?: Record<string, unknown>; data?: { path?: string }; adapter?: unknown };
    if (!Number.isInteger(m.epoch) || typeof m.best !== 'object' || m.best === null) throw new Error(`${manifestFile}: not a petseg run manifest`);
    // Runs that record their settings rather than the CLI's arguments still carry them, snake_case, in each checkpoint.
    const args = m.args ?? checkpointArgs();
    return { dir, epoch: m.epoch as number, best: m.best, args, dataPath: m.data?.path ?? dataArg(args), adapter: typeof m.adapter === 'string' ? m.adapter : undefined };
  }
  const last = join(dir, LAST);
  if (!existsSync(last)) return null;
  const info = readCheckpointMetadata(last);
  const metrics = info?.metrics ?? {};
  const args = info?.args ?? {};
  return {
    dir,
    epoch: info?.epoch ?? 0,
    best: { epoch: metrics.best_epoch ?? 0, valid_loss: metrics.best_valid_loss ?? NaN, valid_dice: metrics.best_valid_dice ?? NaN },
    args,
    dataPath: dataArg(args),
    adapter: undefined,
  };
}

/** A recorded --data_path; a relative one (earlier versions) is taken from the working folder, as `train --resume` takes it. */
function dataArg(args: Record<string, unknown>): string | undefined {
  return typeof args.data_path === 'string' ? resolve(args.data_path) : undefined;
}

/** The committed epochs' metrics, in order ([] without metrics.jsonl); a damaged line is an error naming the file. */
export function readMetrics(dir: string): EpochLine[] {
  const file = committedFile(dir, METRICS);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as EpochLine;
      } catch {
        throw new Error(`${file}: line ${i + 1} is not JSON; the run folder is damaged`);
      }
    });
}

/** evaluation.json, or null when the run has none (or it cannot be read: it is then computed again). */
export function readEvaluation(dir: string): TestEvaluation | null {
  const file = join(dir, EVALUATION_FILE);
  if (!existsSync(file)) return null;
  try {
    const e = readJson(file) as TestEvaluation;
    return typeof e.dice === 'number' ? e : null;
  } catch {
    return null;
  }
}

/** Whether `evaluation` scored the run's present best checkpoint. */
export function evaluationIsCurrent(run: RunState, evaluation: TestEvaluation | null): evaluation is TestEvaluation {
  return evaluation !== null && evaluation.epoch === run.best.epoch;
}

/** Subfolders of `dir` that hold runs, sorted by name. */
export function runSubfolders(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isDirectory() && isRunFolder(path))
    .sort();
}
