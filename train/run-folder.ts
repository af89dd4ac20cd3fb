/**
 * A run folder that is consistent after a kill at any instant, on any Folder (train/storage.ts:
 * the file system in Node, the Origin Private File System in a browser). Each epoch is one
 * transaction:
 *
 *   1. the epoch's files — last.safetensors, last.optim.safetensors, best.safetensors when the
 *      epoch is the best, metrics.jsonl with its line — are written durably into `.commit/`;
 *   2. `.commit/run.json`, the manifest, is written under a temporary name and renamed: the
 *      commit point;
 *   3. each staged file is renamed over its final name, then run.json itself, and `.commit/` goes.
 *
 * Opening a folder (openRun) finishes a transaction whose manifest exists (every rename is
 * idempotent) and drops one whose manifest does not, so the files always belong to the same
 * epoch: model, optimizer, metrics, best and TensorBoard log (cut back to the length the manifest
 * records). A kill loses at most the epoch in progress. Leftovers of crashed runs — temporary
 * files, staged files, event files of attempts that never committed — are removed on open.
 *
 * petseg deletes only names it writes itself (RUN_FILES, their `.tmp-<pid>-<ms>` forms, the
 * staged files in `.commit/`, `*.petseg` event files in the run's own `tensorboard/`), and only
 * while the caller holds the folder's lock (Node: run-lock.ts; a browser: Web Locks). A folder
 * that holds no run but other files is not one to train into (foreignEntries).
 */
import { safetensorsHeaderOf } from '../engine/safetensors.js';
import { checkpointMetadata } from '../models/checkpoint-format.js';
import { settingsFromLabArgs, type RunSettings } from './settings.js';
import type { Folder } from './storage.js';
import { isPetsegEventFile } from './tfevents.js';

/**
 * The files of a run folder petseg writes: the best and last checkpoints, Adam's state, the metrics
 * log and the manifest.
 */
export const RUN_FILES = {
  best: 'best.safetensors',
  last: 'last.safetensors',
  optimizer: 'last.optim.safetensors',
  metrics: 'metrics.jsonl',
  manifest: 'run.json',
} as const;

/** The best checkpoint's scores on the test split (`petseg sweep`), written once training is done: petseg's too. */
export const EVALUATION_FILE = 'evaluation.json';

const STAGING = '.commit';
const FORMAT = 'petseg-run-v1';
/** The manifest's name while it is written, before the rename that commits. */
const MANIFEST_TEMPORARY = `${RUN_FILES.manifest}.tmp`;
/** The run's own TensorBoard folder (the default --log_dir). */
export const RUN_LOG_DIR = 'tensorboard';
/** The lock of a run folder in Node (run-lock.ts); a browser locks with Web Locks instead. */
export const LOCK_FILE = 'run.lock';

/** The lock and its own transient files (`run.lock.tmp-…` while taken, `run.lock.stale-…` while a stale one is moved aside): petseg's, never foreign. */
/** A new run's default folder name, `<model>-YYYYMMDD-HHMMSS` in local time: the CLI and the page name runs alike. */
export function defaultRunName(model: string, date = new Date()): string {
  const pad = (v: number) => String(v).padStart(2, '0');
  return `${model}-${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

export function isLockFile(name: string): boolean {
  return name === LOCK_FILE || /^run\.lock\.(tmp|stale)-\d+-\d+$/.test(name);
}

/** A temporary file of petseg's own: `<run file>.tmp-<pid>-<ms>` (the form every Folder's write uses). */
const OWN_TEMPORARY = new RegExp(`^(${[...Object.values(RUN_FILES), EVALUATION_FILE].map((n) => n.replace(/\./g, '\\.')).join('|')})\\.tmp-\\d+-\\d+$`);

/** What an epoch's commit records: enough to resume the run and check its files against each other. */
export interface RunManifest {
  format: typeof FORMAT;
  epoch: number;
  /** Optimizer steps taken (last.optim.safetensors holds the same count). */
  steps: number;
  best: { epoch: number; valid_loss: number; valid_dice: number };
  /** What defines the run (settings.ts); absent in runs of earlier versions, which recorded `args`. */
  settings?: RunSettings;
  /** The CLI's arguments, as runs of earlier versions recorded them. */
  args?: Record<string, unknown>;
  /** The TensorBoard event file and its committed length, or null without TensorBoard. */
  tensorboard: { file: string; bytes: number } | null;
  /** The dataset (an absolute path, or a label) and the fingerprint of its split lists (dataset.ts); absent in runs of earlier versions. */
  data?: { path: string; fingerprint: string };
  /** The adapter the run trained on, in one line (the last one, for a resumed run). */
  adapter?: string;
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

/** A run folder opened by openRun: its committed state, read once and passed down. */
export interface OpenedRun {
  folder: Folder;
  /** The last committed epoch's manifest; null: no epoch finished yet. */
  manifest: RunManifest | null;
  /** The run's settings as recorded (those of an earlier version's run: as far as its arguments say). */
  settings: Partial<RunSettings> | null;
}

/**
 * A test hook: with PETSEG_CRASH_AT=<point>:<epoch> the process kills itself (SIGKILL, as a
 * power cut would stop it) when it reaches that point of that epoch's commit. Node only.
 */
export function crashPoint(point: string, epoch: number): void {
  if (typeof process !== 'undefined' && process.env?.PETSEG_CRASH_AT === `${point}:${epoch}`) process.kill(process.pid, 'SIGKILL');
}

function parseManifest(bytes: Uint8Array, where: string): RunManifest {
  let manifest: Partial<RunManifest>;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes)) as Partial<RunManifest>;
  } catch (err) {
    throw new Error(`${where}: not readable as a run manifest (${(err as Error).message}); the run folder is damaged`);
  }
  if (manifest?.format !== FORMAT || !Number.isInteger(manifest.epoch) || !Number.isInteger(manifest.steps) || typeof manifest.best !== 'object') {
    throw new Error(`${where}: not a petseg run manifest; the run folder is damaged`);
  }
  return manifest as RunManifest;
}

const at = (folder: Folder, path: string) => `${folder.location}/${path}`;

/** A run written before manifests existed: its state read off last.safetensors. */
async function legacyManifest(folder: Folder): Promise<RunManifest | null> {
  const bytes = await folder.read(RUN_FILES.last);
  if (!bytes) return null;
  const where = at(folder, RUN_FILES.last);
  const info = checkpointMetadata(safetensorsHeaderOf(bytes, where), where);
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
export async function readCommittedRun(folder: Folder): Promise<RunManifest | null> {
  for (const path of [`${STAGING}/${RUN_FILES.manifest}`, RUN_FILES.manifest]) {
    const bytes = await folder.read(path);
    if (bytes) return parseManifest(bytes, at(folder, path));
  }
  return legacyManifest(folder);
}

/** The settings a manifest records, or as far as an earlier version's arguments give them. */
export function recordedSettings(manifest: RunManifest): Partial<RunSettings> {
  return manifest.settings ?? settingsFromLabArgs(manifest.args ?? {});
}

/** Step 3 of a commit: move the staged files into place, the manifest last. Idempotent. */
async function applyStaged(folder: Folder, epoch: number): Promise<void> {
  for (const name of [RUN_FILES.last, RUN_FILES.optimizer, RUN_FILES.best, RUN_FILES.metrics]) {
    if (await folder.stat(`${STAGING}/${name}`)) {
      await folder.rename(`${STAGING}/${name}`, name);
      crashPoint(`applied-${name}`, epoch);
    }
  }
  await folder.rename(`${STAGING}/${RUN_FILES.manifest}`, RUN_FILES.manifest);
  await clearStaging(folder);
}

/** Remove the staged files of a commit (and their temporary forms) and `.commit/` itself, unless it holds something petseg did not put there. */
async function clearStaging(folder: Folder): Promise<void> {
  const entries = await folder.list(STAGING);
  if (entries === null) return;
  for (const { name } of entries) {
    if ((Object.values(RUN_FILES) as string[]).includes(name) || name === MANIFEST_TEMPORARY || OWN_TEMPORARY.test(name)) await folder.remove(`${STAGING}/${name}`);
  }
  await folder.remove(STAGING); // an empty folder only: a user's file in it stays, and so does the folder
}

/** Write one epoch's files as one transaction (see the top of this file). */
export async function commitEpoch(folder: Folder, files: EpochFiles): Promise<void> {
  const epoch = files.manifest.epoch;
  await clearStaging(folder);
  const committedLines = (await folder.read(RUN_FILES.metrics)) ?? new Uint8Array(0);
  const staged: [string, Uint8Array | string][] = [
    [RUN_FILES.last, files.last],
    [RUN_FILES.optimizer, files.optimizer],
    ...(files.best ? [[RUN_FILES.best, files.best] as [string, Uint8Array]] : []),
    [RUN_FILES.metrics, `${new TextDecoder().decode(committedLines)}${files.metrics}\n`],
  ];
  for (const [name, bytes] of staged) {
    await folder.write(`${STAGING}/${name}`, bytes, { durable: true });
    crashPoint(`staged-${name}`, epoch);
  }
  await folder.write(`${STAGING}/${MANIFEST_TEMPORARY}`, `${JSON.stringify(files.manifest, null, 1)}\n`, { durable: true });
  await folder.rename(`${STAGING}/${MANIFEST_TEMPORARY}`, `${STAGING}/${RUN_FILES.manifest}`);
  crashPoint('committed', epoch);
  await applyStaged(folder, epoch);
}

/**
 * Open a run folder (its lock held): finish or undo an interrupted commit, cut the TensorBoard log
 * back to the committed length, remove petseg's leftovers of crashed runs, and read the committed
 * state once. `logs`: the run's own TensorBoard folder when it uses one (every petseg event file
 * there but the committed one is an attempt that never finished an epoch); a --log_dir elsewhere
 * may be shared with other runs, and nothing there is deleted.
 */
export async function openRun(folder: Folder, logs: Folder | null = null): Promise<OpenedRun> {
  if (await folder.stat(`${STAGING}/${RUN_FILES.manifest}`)) await applyStaged(folder, -1);
  else await clearStaging(folder);
  for (const { name } of (await folder.list('')) ?? []) if (OWN_TEMPORARY.test(name)) await folder.remove(name);
  const manifest = await readCommittedRun(folder);
  // Legacy runs, with no event file recorded, keep theirs.
  if (logs && (manifest === null || manifest.tensorboard !== null)) {
    for (const { name } of (await logs.list('')) ?? []) {
      if (isPetsegEventFile(name) && name !== manifest?.tensorboard?.file) await logs.remove(name);
    }
  }
  return { folder, manifest, settings: manifest && recordedSettings(manifest) };
}

/**
 * What in the folder petseg did not write, for a folder that holds no committed run (a run's own
 * files count as foreign there: a metrics.jsonl or best.safetensors without a run is someone
 * else's). Names are relative to the folder; none when it is missing, empty, or holds only
 * petseg's leftovers of runs that never finished an epoch (`logFolder`: the name of a
 * TensorBoard folder inside it, holding petseg's event files as `tensorboard/` does).
 */
export async function foreignEntries(folder: Folder, logFolder: string | null = null): Promise<string[]> {
  const logFolders = new Set([RUN_LOG_DIR, ...(logFolder !== null ? [logFolder] : [])]);
  const staged = new Set<string>([...Object.values(RUN_FILES), MANIFEST_TEMPORARY]);
  const foreign: string[] = [];
  for (const { name, kind } of (await folder.list('')) ?? []) {
    // A folder of petseg's: what in it is not petseg's; anything else of that name is foreign.
    const within = async (ours: (entry: string) => boolean) => (kind === 'folder' ? ((await folder.list(name)) ?? []).filter((e) => !ours(e.name)).map((e) => `${name}/${e.name}`) : [name]);
    if (isLockFile(name) || OWN_TEMPORARY.test(name)) continue;
    if (name === STAGING) foreign.push(...(await within((e) => staged.has(e) || OWN_TEMPORARY.test(e))));
    else if (logFolders.has(name)) foreign.push(...(await within(isPetsegEventFile)));
    else foreign.push(name);
  }
  return foreign;
}
