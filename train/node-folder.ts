/**
 * A Folder (train/storage.ts) on Node's file system. Writes go to `<name>.tmp-<pid>-<ms>` beside
 * the file, are fsync'd when durable, and are renamed over it, so a file is replaced whole; a
 * failed write removes its temporary file. Errors name the file, and a full disk says so.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, truncate } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { temporaryPath } from '../models/checkpoint.js';
import type { Entry, FileInfo, Folder } from './storage.js';

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** "cannot write FILE (ENOSPC: the disk is full)" and the like. */
export function writeError(path: string, err: unknown): Error {
  const c = code(err);
  return new Error(`cannot write ${path} (${c ?? (err as Error).message}${c === 'ENOSPC' ? ': the disk is full' : ''})`);
}

/** A {@link Folder} on Node's file system at `location`; write() replaces a file whole. */
export class NodeFolder implements Folder {
  readonly location: string;

  constructor(location: string) {
    this.location = resolve(location);
  }

  private path(path: string): string {
    return path ? join(this.location, path) : this.location;
  }

  async read(path: string): Promise<Uint8Array | null> {
    const file = this.path(path);
    try {
      return new Uint8Array(await readFile(file));
    } catch (err) {
      if (code(err) === 'ENOENT') return null;
      if (code(err) === 'EISDIR') throw new Error(`${file}: a folder, not a file`);
      throw new Error(`${file}: cannot be read (${code(err) ?? (err as Error).message})`);
    }
  }

  async stat(path: string): Promise<FileInfo | null> {
    try {
      const s = await stat(this.path(path));
      return { kind: s.isDirectory() ? 'folder' : 'file', size: s.size, modified: s.mtimeMs };
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return null;
      throw err;
    }
  }

  async list(path: string): Promise<Entry[] | null> {
    try {
      const entries = await readdir(this.path(path), { withFileTypes: true });
      return entries.map((e) => ({ name: e.name, kind: e.isDirectory() ? 'folder' : 'file' }));
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return null;
      throw err;
    }
  }

  async write(path: string, bytes: Uint8Array | string, options: { durable?: boolean } = {}): Promise<void> {
    const file = this.path(path);
    const temporary = temporaryPath(file);
    try {
      await mkdir(dirname(file), { recursive: true });
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(bytes);
        if (options.durable) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    } catch (err) {
      await rm(temporary, { force: true });
      throw writeError(file, err);
    }
  }

  async append(path: string, bytes: Uint8Array): Promise<void> {
    const file = this.path(path);
    try {
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, bytes);
      const handle = await open(file, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw writeError(file, err);
    }
  }

  async truncate(path: string, length: number): Promise<void> {
    const info = await this.stat(path);
    if (info && info.size > length) await truncate(this.path(path), length);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.path(from), this.path(to));
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const target = this.path(path);
    if (options.recursive) return rm(target, { recursive: true, force: true });
    try {
      await rm(target);
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      if (code(err) !== 'EISDIR' && code(err) !== 'ERR_FS_EISDIR') throw err;
      try {
        await rmdir(target);
      } catch (inner) {
        if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(code(inner) ?? '')) throw inner;
      }
    }
  }

  folder(path: string): Folder {
    return new NodeFolder(this.path(path));
  }
}

/**
 * petseg's folder in the user's cache: $PETSEG_CACHE_DIR, else $XDG_CACHE_HOME/petseg, else
 * ~/.cache/petseg — the folder engine/tune-store.ts's defaultCacheDir names (that one is async,
 * for the browser bundle).
 */
export function userCacheDir(): string {
  return process.env.PETSEG_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'petseg');
}

/** The default decode cache of a dataset: `<user cache>/petseg/decoded/<sha256 of its absolute path, 16 hex>`. */
export function decodeCacheDir(root: string): string {
  return join(userCacheDir(), 'decoded', createHash('sha256').update(resolve(root)).digest('hex').slice(0, 16));
}
