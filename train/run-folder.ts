/**
 * A run folder that is consistent after a kill at any instant. Each epoch is one transaction:
 *
 *   1. the epoch's files — last.safetensors, last.optim.safetensors, best.safetensors when the
 *      epoch is the best, metrics.jsonl with its line — are written (fsync'd) into `.commit/`;
 *   2. `.commit/run.json`, the manifest, is written under a temporary name and renamed: the
 *      commit point;
 *   3. each staged file is renamed over its final name, then run.json itself, and `.commit/` goes.
 *
 * Opening a folder (recoverRunFolder) finishes a transaction whose manifest exists (every rename
 * is idempotent) and drops one whose manifest does not, so the files always belong to the same
 * epoch: model, optimizer, metrics, best and TensorBoard log (cut back to the length the manifest
 * records). A kill loses at most the epoch in progress. Leftovers of crashed runs — temporary
 * files, staged files, event files of attempts that never committed — are removed on open.
 *
 * petseg deletes only names it writes itself (RUN_FILES, their `.tmp-<pid>-<ms>` forms, the
 * staged files in `.commit/`, `*.petseg` event files in the run's own `tensorboard/`), and only
 * while it holds the folder's lock (run-lock.ts). A folder that holds no run but other files is
 * not one to train into (foreignEntries).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readCheckpointInfo } from '../models/checkpoint.js';
import { isLockFile } from './run-lock.js';
import { isPetsegEventFile } from './tfevents.js';

export const RUN_FILES = {
  best: 'best.safetensors',
  last: 'last.safetensors',
  optimizer: 'last.optim.safetensors',
  metrics: 'metrics.jsonl',
  manifest: 'run.json',
} as const;

const STAGING = '.commit';
const FORMAT = 'petseg-run-v1';
/** The manifest's name while it is written, before the rename that commits. */
const MANIFEST_TEMPORARY = `${RUN_FILES.manifest}.tmp`;
/** The run's own TensorBoard folder (the default --log_dir). */
export const RUN_LOG_DIR = 'tensorboard';

/** A temporary file of petseg's own in the run folder: `<run file>.tmp-<pid>-<ms>` (writeFileAtomic's form). */
const OWN_TEMPORARY = new RegExp(`^(${Object.values(RUN_FILES).map((n) => n.replace(/\./g, '\\.')).join('|')})\\.tmp-\\d+-\\d+$`);

/** What an epoch's commit records: enough to resume the run and check its files against each other. */
export interface RunManifest {
  format: typeof FORMAT;
  epoch: number;
  /** Optimizer steps taken (last.optim.safetensors holds the same count). */
  steps: number;
  best: { epoch: number; valid_loss: number; valid_dice: number };
  /** The training arguments, for --resume. */
  args?: Record<string, unknown>;
  /** The TensorBoard event file and its committed length, or null without TensorBoard. */
  tensorboard: { file: string; bytes: number } | null;
  /** The dataset, absolute, and the fingerprint of its split lists (dataset.ts); absent in runs of earlier versions. */
  data?: { path: string; fingerprint: string };
}

/** One epoch's files, as bytes, for commitEpoch. */
export interface EpochFiles {
  last: Uint8Array;
  optimizer: Uint8Array;
  /** The new best checkpoint, or null when this epoch is not the best. */
  best: Uint8Array | null;
  /** This epoch's metrics.jsonl line (without the newline). */
  metrics: string;
  manifest: RunManifest;
}

/**
 * A test hook: with PETSEG_CRASH_AT=<point>:<epoch> the process kills itself (SIGKILL, as a
 * power cut would stop it) when it reaches that point of that epoch's commit.
 */
export function crashPoint(point: string, epoch: number): void {
  if (process.env.PETSEG_CRASH_AT === `${point}:${epoch}`) process.kill(process.pid, 'SIGKILL');
}

function writeDurably(path: string, bytes: Uint8Array | string): void {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new Error(`cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot write ${path} (${code ?? (err as Error).message}${code === 'ENOSPC' ? ': the disk is full' : ''}); the run folder keeps its last finished epoch`);
  } finally {
    closeSync(fd);
  }
}

function readManifest(path: string): RunManifest {
  let manifest: Partial<RunManifest>;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunManifest>;
  } catch (err) {
    throw new Error(`${path}: not readable as a run manifest (${(err as Error).message}); the run folder is damaged`);
  }
  if (manifest?.format !== FORMAT || !Number.isInteger(manifest.epoch) || !Number.isInteger(manifest.steps) || typeof manifest.best !== 'object') {
    throw new Error(`${path}: not a petseg run manifest; the run folder is damaged`);
  }
  return manifest as RunManifest;
}

/** A run written before manifests existed: its state read off last.safetensors. */
function legacyManifest(dir: string): RunManifest | null {
  const last = join(dir, RUN_FILES.last);
  if (!existsSync(last)) return null;
  const info = readCheckpointInfo(last);
  const m = info?.metrics ?? {};
  return {
    format: FORMAT,
    epoch: info?.epoch ?? 0,
    steps: -1,
    best: { epoch: m.best_epoch ?? 0, valid_loss: m.best_valid_loss ?? Infinity, valid_dice: m.best_valid_dice ?? NaN },
    args: info?.args,
    tensorboard: null,
  };
}

/** The last committed epoch's manifest without changing anything (a pending commit counts as committed); null: none. */
export function readCommittedRun(dir: string): RunManifest | null {
  const pending = join(dir, STAGING, RUN_FILES.manifest);
  if (existsSync(pending)) return readManifest(pending);
  const manifest = join(dir, RUN_FILES.manifest);
  if (existsSync(manifest)) return readManifest(manifest);
  return legacyManifest(dir);
}

/** Step 3 of a commit: move the staged files into place, the manifest last. Idempotent. */
function applyStaged(dir: string, epoch: number): void {
  const staging = join(dir, STAGING);
  for (const name of [RUN_FILES.last, RUN_FILES.optimizer, RUN_FILES.best, RUN_FILES.metrics]) {
    if (existsSync(join(staging, name))) {
      renameSync(join(staging, name), join(dir, name));
      crashPoint(`applied-${name}`, epoch);
    }
  }
  renameSync(join(staging, RUN_FILES.manifest), join(dir, RUN_FILES.manifest));
  clearStaging(dir);
}

/** Remove the staged files of a commit and `.commit/` itself, unless it holds something petseg did not put there. */
function clearStaging(dir: string): void {
  const staging = join(dir, STAGING);
  for (const name of [...Object.values(RUN_FILES), MANIFEST_TEMPORARY]) rmSync(join(staging, name), { force: true });
  try {
    rmdirSync(staging);
  } catch (err) {
    if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
}

/** Write one epoch's files as one transaction (see the top of this file). */
export function commitEpoch(dir: string, files: EpochFiles): void {
  const staging = join(dir, STAGING);
  const epoch = files.manifest.epoch;
  clearStaging(dir);
  mkdirSync(staging, { recursive: true });
  const metricsFile = join(dir, RUN_FILES.metrics);
  const committedLines = existsSync(metricsFile) ? readFileSync(metricsFile, 'utf8') : '';
  const staged: [string, Uint8Array | string][] = [
    [RUN_FILES.last, files.last],
    [RUN_FILES.optimizer, files.optimizer],
    ...(files.best ? [[RUN_FILES.best, files.best] as [string, Uint8Array]] : []),
    [RUN_FILES.metrics, `${committedLines}${files.metrics}\n`],
  ];
  for (const [name, bytes] of staged) {
    writeDurably(join(staging, name), bytes);
    crashPoint(`staged-${name}`, epoch);
  }
  const temporary = join(staging, MANIFEST_TEMPORARY);
  writeDurably(temporary, `${JSON.stringify(files.manifest, null, 1)}\n`);
  renameSync(temporary, join(staging, RUN_FILES.manifest));
  crashPoint('committed', epoch);
  applyStaged(dir, epoch);
}

/**
 * Open a run folder (its lock held): finish or undo an interrupted commit, cut the TensorBoard log
 * back to the committed length, remove petseg's leftovers of crashed runs; returns the committed
 * manifest (null: no epoch finished yet — the folder is then as good as empty).
 */
export function recoverRunFolder(dir: string, logDir: string | null): RunManifest | null {
  if (!existsSync(dir)) return null;
  if (existsSync(join(dir, STAGING, RUN_FILES.manifest))) applyStaged(dir, -1);
  else clearStaging(dir);
  for (const name of readdirSync(dir)) if (OWN_TEMPORARY.test(name)) rmSync(join(dir, name), { force: true });
  const manifest = readCommittedRun(dir);
  // In the run's own log folder every petseg event file but the committed one is an attempt that
  // never finished an epoch (legacy runs, with no file recorded, excepted). A --log_dir elsewhere
  // may be shared with other runs: nothing there is deleted (an attempt's file is harmless).
  if (logDir === join(dir, RUN_LOG_DIR) && existsSync(logDir) && (manifest === null || manifest.tensorboard !== null)) {
    for (const name of readdirSync(logDir)) {
      if (isPetsegEventFile(name) && name !== manifest?.tensorboard?.file) rmSync(join(logDir, name), { force: true });
    }
  }
  return manifest;
}

/**
 * What in `dir` petseg did not write, for a folder that holds no committed run (a run's own files
 * count as foreign there: a metrics.jsonl or best.safetensors without a run is someone else's).
 * Names are relative to `dir`; none when the folder is missing, empty, or holds only petseg's
 * leftovers of runs that never finished an epoch (`logDir`, when a folder of `dir`'s, holding
 * petseg's event files as `tensorboard/` does).
 */
export function foreignEntries(dir: string, logDir: string | null = null): string[] {
  if (!existsSync(dir)) return [];
  const logFolders = new Set([RUN_LOG_DIR, ...(logDir !== null && dirname(logDir) === dir ? [basename(logDir)] : [])]);
  const staged = new Set<string>([...Object.values(RUN_FILES), MANIFEST_TEMPORARY]);
  const foreign: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    // A folder of petseg's: what in it is not petseg's; anything else of that name is foreign.
    const within = (ours: (entry: string) => boolean) => (statSync(path).isDirectory() ? readdirSync(path).filter((e) => !ours(e)).map((e) => `${name}/${e}`) : [name]);
    if (isLockFile(name) || OWN_TEMPORARY.test(name)) continue;
    if (name === STAGING) foreign.push(...within((e) => staged.has(e)));
    else if (logFolders.has(name)) foreign.push(...within(isPetsegEventFile));
    else foreign.push(name);
  }
  return foreign;
}