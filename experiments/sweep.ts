/**
 * `petseg sweep`: every configuration of a grid trained as an ordinary run folder under the
 * sweep's --save_dir, one after another, then its best checkpoint scored on the test split.
 *
 * What must hold, and how:
 * - A sweep started again continues where it stopped: a run trained to its epochs and evaluated
 *   is skipped; a run with finished epochs is continued with `train --resume` (exact: the
 *   trainer's resume is bit for bit); a folder with none is trained from the start. The state is
 *   the run folders themselves (their committed manifests), never a record of the sweep's own
 *   that a kill could leave behind.
 * - Several processes may share one sweep folder (`--shard i/n` splits the configurations; two
 *   unsharded sweeps simply race): a run folder is locked by whoever trains in it (run.lock), a
 *   `train` refused because another process holds it (exit code 2, "is in use by pid …") is
 *   skipped with a line, and the test evaluation is done holding the same lock, after checking
 *   again under it that nobody did it meanwhile. So no configuration is trained or evaluated twice.
 * - sweep.json at the root records the grid and the configurations; a sweep of other arguments
 *   is refused there (a longer --epochs is allowed: it continues every run).
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../cli/commands/args.js';
import { EVALUATION_FILE, RUN_FILES, RunFolderInUse, SPLIT_FILES, acquireRunLock, writeFileAtomic } from '../train/index.js';
import { inferJson, runCommand, stopChildren } from './commands.js';
import { inShard, type Configuration, type Grid } from './grid.js';
import { SWEEP_FILE, evaluationIsCurrent, isRunFolder, readEvaluation, readRun, type RunState, type TestEvaluation } from './runs.js';

export interface SweepPlan {
  saveDir: string;
  /** The dataset, absolute; undefined: train's built-in synthetic set. */
  dataPath: string | undefined;
  cacheDir: string | undefined;
  /** 'none' (no TensorBoard), a folder holding one log folder per run, or undefined (each run's own). */
  logDir: string | undefined;
  /** Score each best checkpoint on the test split. */
  test: boolean;
  shard: { index: number; count: number };
  grid: Grid;
  configurations: Configuration[];
}

/** sweep.json: what `report` and a later sweep read. */
export interface SweepRecord {
  format: 'petseg-sweep-v1';
  data_path: string | null;
  varying: Record<string, string[]>;
  shared: Record<string, string>;
  configurations: Configuration[];
}

const SWEEP_FORMAT = 'petseg-sweep-v1';

function recordOf(plan: SweepPlan): SweepRecord {
  return { format: SWEEP_FORMAT, data_path: plan.dataPath ?? null, varying: plan.grid.varying, shared: plan.grid.shared, configurations: plan.configurations };
}

/** sweep.json of `dir`, or null where there is none; a file that is not one is an error naming it. */
export function readSweepRecord(dir: string): SweepRecord | null {
  const file = join(dir, SWEEP_FILE);
  if (!existsSync(file)) return null;
  let record: Partial<SweepRecord>;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as Partial<SweepRecord>;
  } catch (err) {
    throw new UsageError(`${file} is not readable as a sweep record (${(err as Error).message}); delete it only if the folder holds no sweep`);
  }
  if (record.format !== SWEEP_FORMAT || !Array.isArray(record.configurations)) throw new UsageError(`${file} is not a petseg sweep record`);
  return record as SweepRecord;
}

/** The grid as compared between two sweeps of one folder: everything but a shared --epochs. */
function comparable(r: Pick<SweepRecord, 'data_path' | 'varying' | 'shared'>): string {
  const shared = Object.fromEntries(Object.entries(r.shared).filter(([name]) => name !== 'epochs'));
  return JSON.stringify({ data: r.data_path, varying: r.varying, shared });
}

function describeGrid(r: Pick<SweepRecord, 'data_path' | 'varying' | 'shared'>): string {
  const parts = [...Object.entries(r.varying).map(([n, v]) => `--${n} ${v.join(',')}`), ...Object.entries(r.shared).map(([n, v]) => `--${n} ${v}`)];
  return `${parts.join(' ') || 'no arguments'} on ${r.data_path ?? 'the built-in synthetic set'}`;
}

/**
 * --save_dir, checked before anything runs: a new or empty folder, or one holding this sweep
 * (the same grid; its sweep.json is rewritten for a longer --epochs). Another sweep's folder, a
 * run folder, or a folder of other files is refused.
 */
export function checkSweepFolder(plan: SweepPlan): void {
  const dir = plan.saveDir;
  // Writable: the folder, or the nearest one above it that exists (the sweep makes the rest).
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (!statSync(existing).isDirectory()) throw new UsageError(`--save_dir ${dir}: ${existing} is a file, not a folder; choose another --save_dir`);
  try {
    accessSync(existing, constants.W_OK);
  } catch {
    throw new UsageError(`--save_dir ${dir}: ${existing} is not writable; choose another --save_dir`);
  }
  if (existing !== dir) return;
  if (isRunFolder(dir)) throw new UsageError(`--save_dir ${dir} is a run folder; a sweep needs a folder of its own (its runs go into subfolders)`);
  // Listed before sweep.json is read: a sweep started at the same moment writes sweep.json (under
  // a temporary name, then renamed) before any run folder, so what is listed is either its
  // temporary file or comes with a sweep.json read below.
  const entries = readdirSync(dir);
  const recorded = readSweepRecord(dir);
  if (recorded) {
    if (comparable(recorded) !== comparable(recordOf(plan))) {
      throw new UsageError(`--save_dir ${dir} holds another sweep (${describeGrid(recorded)}); give the same arguments to continue it, or choose another --save_dir`);
    }
    return;
  }
  const others = entries.filter((name) => name !== SWEEP_FILE && !name.startsWith(`${SWEEP_FILE}.tmp-`));
  if (others.length) throw new UsageError(`--save_dir ${dir} holds files and no ${SWEEP_FILE} (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}); choose an empty or new folder`);
}

/** The epochs a configuration trains to: its --epochs, else what its run recorded (train's default or preset). */
function targetEpochs(config: Configuration, run: RunState): number {
  const recorded = run.args.epochs;
  return config.args.epochs !== undefined ? Number(config.args.epochs) : typeof recorded === 'number' ? recorded : run.epoch;
}

/** `train`'s arguments for a configuration: a new run, or `--resume` of its folder (every argument given again, so train refuses a mismatch). */
export function trainArguments(plan: SweepPlan, config: Configuration, resume: boolean): string[] {
  const dir = join(plan.saveDir, config.name);
  const args = [`--save_dir=${dir}`, ...(resume ? ['--resume'] : [])];
  if (plan.dataPath !== undefined) args.push(`--data_path=${plan.dataPath}`);
  for (const [name, value] of Object.entries(config.args)) args.push(`--${name}=${value}`);
  if (plan.logDir !== undefined) args.push(`--log_dir=${plan.logDir === 'none' ? 'none' : join(plan.logDir, config.name)}`);
  if (plan.cacheDir !== undefined) args.push(`--cache_dir=${plan.cacheDir}`);
  return args;
}

/** Where a configuration stands, from its run folder. */
export function configurationState(plan: SweepPlan, config: Configuration): string {
  const dir = join(plan.saveDir, config.name);
  const run = readRun(dir);
  if (!run) return 'not started';
  const target = targetEpochs(config, run);
  if (run.epoch < target) return `epoch ${run.epoch} of ${target} finished; resumes`;
  if (!plan.test) return 'trained';
  return evaluationIsCurrent(run, readEvaluation(dir)) ? 'trained and evaluated' : 'trained; evaluation due';
}

/** The best checkpoint's scores on the test split of `dataPath`: `petseg infer --json`, with the adapter. */
async function scoreBest(run: RunState, dataPath: string, cacheDir: string | undefined): Promise<TestEvaluation> {
  const args = [`--model_path=${join(run.dir, RUN_FILES.best)}`, `--data_path=${dataPath}`, '--json', ...(cacheDir !== undefined ? [`--cache_dir=${cacheDir}`] : [])];
  return inferJson<TestEvaluation>(args, (result) => (result.signal ? `the test evaluation was stopped (${result.signal})` : `petseg infer ${args.join(' ')} exited with code ${result.code}`));
}

export type EvaluationOutcome =
  | { kind: 'evaluated'; evaluation: TestEvaluation }
  | { kind: 'current'; evaluation: TestEvaluation }
  | { kind: 'in use'; line: string }
  | { kind: 'not trained' }
  | { kind: 'no data'; line: string };

/**
 * Score a trained run's best checkpoint on the test split into its evaluation.json (atomically),
 * holding the run folder's lock; one already current is kept. A folder another process holds is
 * left to it. The data is the run's own unless `dataPath` is given (a dataset that moved).
 */
export async function evaluateRun(dir: string, data: { dataPath?: string; cacheDir?: string }, say: (line: string) => void): Promise<EvaluationOutcome> {
  let lock;
  try {
    lock = acquireRunLock(dir, say);
  } catch (err) {
    if (err instanceof RunFolderInUse) return { kind: 'in use', line: err.message };
    throw err;
  }
  process.once('exit', lock.release);
  try {
    const run = readRun(dir);
    if (!run || !existsSync(join(dir, RUN_FILES.best))) return { kind: 'not trained' };
    const present = readEvaluation(dir);
    if (evaluationIsCurrent(run, present)) return { kind: 'current', evaluation: present };
    const dataPath = data.dataPath ?? run.dataPath;
    if (dataPath === undefined || !existsSync(join(dataPath, SPLIT_FILES[1]))) {
      return { kind: 'no data', line: `${dataPath === undefined ? 'the run records no dataset' : `${dataPath} has no test split (${SPLIT_FILES[1]})`}; pass --data_path with the test split` };
    }
    const evaluation = await scoreBest(run, dataPath, data.cacheDir);
    writeFileAtomic(join(dir, EVALUATION_FILE), new TextEncoder().encode(`${JSON.stringify(evaluation, null, 1)}\n`));
    return { kind: 'evaluated', evaluation };
  } finally {
    lock.release();
    process.removeListener('exit', lock.release);
  }
}

type Outcome = 'trained' | 'resumed' | 'done before' | 'skipped' | 'failed' | 'stopped';

/** Run the sweep's configurations of this shard; returns the exit code (1 when a run failed). */
export async function runSweep(plan: SweepPlan, say: (line: string) => void): Promise<number> {
  mkdirSync(plan.saveDir, { recursive: true });
  const record = recordOf(plan);
  if (JSON.stringify(readSweepRecord(plan.saveDir)) !== JSON.stringify(record)) {
    writeFileAtomic(join(plan.saveDir, SWEEP_FILE), new TextEncoder().encode(`${JSON.stringify(record, null, 1)}\n`));
  }
  let stopping: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    stopping = signal;
    stopChildren(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  const outcomes: Outcome[] = [];
  const total = plan.configurations.length;
  try {
    for (const [position, config] of plan.configurations.entries()) {
      if (!inShard(position, plan.shard)) continue;
      const label = `sweep: [${position + 1}/${total}] ${config.name}`;
      const outcome = await runConfiguration(plan, config, label, say, () => stopping !== null);
      outcomes.push(outcome);
      if (outcome === 'stopped') break;
    }
  } finally {
    for (const signal of signals) process.removeListener(signal, onSignal);
  }
  if (stopping) {
    say(`sweep: stopped by ${stopping}; run the same command again to continue`);
    process.kill(process.pid, stopping);
    return 1;
  }
  const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
  const shard = plan.shard.count > 1 ? `shard ${plan.shard.index}/${plan.shard.count} (${outcomes.length} of ${total} configurations)` : `${total} configurations`;
  say(
    `sweep: ${shard} in ${plan.saveDir}: ${count('trained')} trained, ${count('resumed')} resumed, ${count('done before')} done before, ` +
      `${count('skipped')} skipped (another process's), ${count('failed')} failed; next: petseg report ${plan.saveDir} --out ${join(plan.saveDir, 'report')}`,
  );
  return count('failed') ? 1 : 0;
}

async function runConfiguration(plan: SweepPlan, config: Configuration, label: string, say: (line: string) => void, stopped: () => boolean): Promise<Outcome> {
  const dir = join(plan.saveDir, config.name);
  let outcome: Outcome = 'done before';
  try {
    const run = readRun(dir);
    const target = run ? targetEpochs(config, run) : undefined;
    if (!run || run.epoch < target!) {
      say(run ? `${label}: resuming from epoch ${run.epoch} to ${target}` : `${label}: training`);
      const result = await runCommand('train', trainArguments(plan, config, run !== null));
      if (result.signal || stopped()) return 'stopped';
      const inUse = /^train: (.* is in use by pid .*)$/m.exec(result.stderr);
      if (result.code === 2 && inUse) {
        say(`${label}: skipped: ${inUse[1]}`);
        return 'skipped';
      }
      if (result.code !== 0) {
        // Refused because another process trained it between our look and our start ("already holds a run"): theirs.
        const now = readRun(dir);
        if (result.code !== 2 || !now || now.epoch < targetEpochs(config, now)) {
          say(`${label}: failed: petseg train exited with code ${result.code} (its line is above); the sweep goes on`);
          return 'failed';
        }
        say(`${label}: another process trained it meanwhile`);
        outcome = 'skipped';
      } else {
        outcome = run ? 'resumed' : 'trained';
      }
    }
    if (!plan.test) return outcome;
    const evaluated = await evaluateRun(dir, { cacheDir: plan.cacheDir }, say);
    if (stopped()) return 'stopped';
    if (evaluated.kind === 'in use') {
      // Another process is scoring it (it found the run finished first): the training, if ours, still counts.
      say(`${label}: its test score is left to another process: ${evaluated.line}`);
      return outcome === 'done before' ? 'skipped' : outcome;
    }
    if (evaluated.kind === 'not trained') throw new Error(`${dir} holds no best checkpoint to evaluate`);
    if (evaluated.kind === 'no data') throw new Error(`cannot score it on the test split: ${evaluated.line}`);
    if (evaluated.kind === 'evaluated') say(`${label}: test Dice ${evaluated.evaluation.dice.toFixed(4)} over ${evaluated.evaluation.images} images (epoch ${evaluated.evaluation.epoch}) → ${join(dir, EVALUATION_FILE)}`);
    else if (outcome === 'done before') say(`${label}: done before (trained and evaluated)`);
    return outcome;
  } catch (err) {
    if (stopped()) return 'stopped';
    say(`${label}: failed: ${(err as Error).message}; the sweep goes on`);
    return 'failed';
  }
}
