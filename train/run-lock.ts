/**
 * One process at a time in a run folder. `run.lock` holds its owner's pid, host and start time
 * for the life of the run, so two trainings — a second `train`, a `--resume` of a run still
 * going, a sweep's workers — never write the same folder.
 *
 * The interface is acquire → release and nothing else, so the run folder can later sit behind a
 * storage interface (the file system in Node, the Origin Private File System in a browser).
 *
 * - Taking the lock is atomic: the record is written to a temporary file and hard-linked to
 *   `run.lock`, which fails when the name exists, so no reader ever sees a half-written lock.
 * - A lock whose process no longer runs on this host (killed, power cut) is stale: it is moved
 *   aside, checked to still be the one found stale (another process may have taken it over in
 *   between; it is then put back), and taken over with a line saying so.
 * - A lock of another host cannot be checked and counts as held.
 */
import { linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { LOCK_FILE } from './run-folder.js';

/** A run folder held by this process. */
export interface RunLock {
  /** The run folder. */
  readonly dir: string;
  /**
   * Give the folder up: the lock file goes, and so does the folder when taking the lock made it
   * and nothing was written into it since. Idempotent.
   */
  release(): void;
}

/** The run folder is held by another process (or the same one, for another run). */
export class RunFolderInUse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderInUse';
  }
}

interface LockRecord {
  pid: number;
  host: string;
  since: string;
}

/** Lock files this process holds, so a second run in the same process is refused rather than taking its own lock over. */
const held = new Set<string>();

function readRecord(path: string): LockRecord | 'missing' | 'damaged' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const r = JSON.parse(text) as Partial<LockRecord> | null;
    if (r && Number.isSafeInteger(r.pid) && typeof r.host === 'string' && typeof r.since === 'string') return r as LockRecord;
  } catch {
    // not JSON: damaged, below
  }
  return 'damaged';
}

/** Whether the lock's process still runs (a process of another host counts as running: it cannot be checked). */
function alive(r: LockRecord): boolean {
  if (r.host !== hostname()) return true;
  // Our own pid in a lock this process does not hold (lockFolder checks that first): an earlier
  // process's, whose pid was reused (a restarted container's first process, say).
  if (r.pid === process.pid) return false;
  try {
    process.kill(r.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it exists, under another user
  }
}

function sameRecord(a: LockRecord | 'missing' | 'damaged', b: LockRecord): boolean {
  return typeof a === 'object' && a.pid === b.pid && a.host === b.host && a.since === b.since;
}

/**
 * Move a stale lock out of the way, unless another process took it over first; true when the
 * name is free for a new attempt.
 */
function removeStale(path: string, stale: LockRecord): boolean {
  const aside = `${path}.stale-${process.pid}-${Date.now()}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true; // gone already
    throw err;
  }
  if (sameRecord(readRecord(aside), stale)) {
    rmSync(aside, { force: true });
    return true;
  }
  // A fresh lock was moved: put it back (link fails only if yet another process took the name since).
  try {
    linkSync(aside, path);
  } finally {
    rmSync(aside, { force: true });
  }
  return false;
}

/** Take the lock of an existing folder; `made`: the topmost folder this call created (removed on release when left empty). */
function lockFolder(dir: string, made: string | undefined, say: (line: string) => void): RunLock {
  const path = join(dir, LOCK_FILE);
  if (held.has(path)) throw new RunFolderInUse(`${dir} is in use by this process (pid ${process.pid}) for another run; choose another --save_dir`);
  const mine: LockRecord = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const staged = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(staged, `${JSON.stringify(mine)}\n`);
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        linkSync(staged, path);
        held.add(path);
        return { dir, release: () => release(path, mine, dir, made) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock the run folder: ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      const holder = readRecord(path);
      if (holder === 'missing') continue;
      if (holder === 'damaged') throw new RunFolderInUse(`${path} is not a lock petseg can read (damaged?); if no petseg process uses ${dir}, delete it`);
      if (alive(holder)) {
        const where = holder.host === hostname() ? '' : ` on host ${holder.host}`;
        throw new RunFolderInUse(`${dir} is in use by pid ${holder.pid}${where} since ${holder.since}; wait for it to finish or choose another --save_dir${where ? ` (if nothing runs there, delete ${path})` : ''}`);
      }
      if (removeStale(path, holder)) say(`took over the lock of ${dir} from pid ${holder.pid} (since ${holder.since}), which is no longer running`);
    }
    throw new RunFolderInUse(`${dir}: other processes keep taking its lock ${path}; try again`);
  } finally {
    rmSync(staged, { force: true });
  }
}

function release(path: string, mine: LockRecord, dir: string, made: string | undefined): void {
  if (!held.delete(path)) return;
  if (sameRecord(readRecord(path), mine)) rmSync(path, { force: true });
  if (made === undefined) return;
  // Folders this lock made and nothing filled, innermost first: a refused or failed run leaves no trace.
  for (let at = dir; ; at = dirname(at)) {
    try {
      if (readdirSync(at).length) return;
      rmdirSync(at);
    } catch {
      return; // gone, or filled meanwhile
    }
    if (at === made) return;
  }
}

/** Lock the run folder `dir` (made if missing) for this process; throws RunFolderInUse while another process holds it. */
export function acquireRunLock(dir: string, say: (line: string) => void): RunLock {
  const made = mkdirSync(dir, { recursive: true });
  return lockFolder(dir, made, say);
}

/**
 * Make and lock a new run folder `<parent>/<name>`, or `<name>-2`, `<name>-3`, … where the name is
 * taken (each try makes the folder exclusively, so parallel runs never share one).
 */
export function claimNewRunFolder(parent: string, name: string, say: (line: string) => void): RunLock {
  const madeParent = mkdirSync(parent, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(parent, n === 1 ? name : `${name}-${n}`);
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    return lockFolder(dir, madeParent ?? dir, say);
  }
}
