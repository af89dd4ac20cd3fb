/**
 * A Folder (train/storage.ts) in the browser's Origin Private File System, which survives a
 * reload: run folders, decode caches and unpacked datasets. Writes go through
 * `createWritable()`, whose bytes replace the file only when it closes, so a file is replaced
 * whole; `rename` is `move()` where the browser has it, else a whole-file copy and a removal
 * (the run folder's recovery repeats either). A full quota is one line saying so.
 */
import type { Entry, FileInfo, Folder } from '../train/browser.js';

type MovableHandle = FileSystemFileHandle & { move?: (dir: FileSystemDirectoryHandle, name: string) => Promise<void> };

const errorName = (err: unknown) => (err as DOMException)?.name;
const missing = (err: unknown) => errorName(err) === 'NotFoundError' || errorName(err) === 'TypeMismatchError';

/** The origin's private file system, or a one-line error where the browser has none. */
export async function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  if (!navigator.storage?.getDirectory) throw new Error("this browser has no Origin Private File System (navigator.storage.getDirectory); use a recent Chrome, Edge or Firefox");
  return navigator.storage.getDirectory();
}

export class OpfsFolder implements Folder {
  constructor(
    private readonly root: FileSystemDirectoryHandle,
    /** This folder's path under the origin's root ('' for the root). */
    private readonly base: string,
  ) {}

  get location(): string {
    return `opfs:/${this.base}`;
  }

  private parts(path: string): string[] {
    return [...this.base.split('/'), ...path.split('/')].filter(Boolean);
  }

  /** The folder holding `path`'s last part, made when `create`; null when missing. */
  private async parent(path: string, create: boolean): Promise<{ dir: FileSystemDirectoryHandle; name: string } | null> {
    const parts = this.parts(path);
    let dir = this.root;
    try {
      for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create });
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
    return { dir, name: parts[parts.length - 1] ?? '' };
  }

  private async directory(path: string, create = false): Promise<FileSystemDirectoryHandle | null> {
    let dir = this.root;
    try {
      for (const part of this.parts(path)) dir = await dir.getDirectoryHandle(part, { create });
      return dir;
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  }

  private async file(path: string): Promise<FileSystemFileHandle | null> {
    const at = await this.parent(path, false);
    if (!at) return null;
    try {
      return await at.dir.getFileHandle(at.name);
    } catch (err) {
      if (errorName(err) === 'TypeMismatchError') throw new Error(`${this.location}/${path}: a folder, not a file`);
      if (missing(err)) return null;
      throw err;
    }
  }

  private failure(path: string, err: unknown): Error {
    const quota = errorName(err) === 'QuotaExceededError';
    return new Error(`cannot write ${this.location}/${path} (${quota ? "the browser's storage quota for this page is full: free space or delete old runs" : (err as Error).message})`);
  }

  async read(path: string): Promise<Uint8Array | null> {
    const handle = await this.file(path);
    return handle ? new Uint8Array(await (await handle.getFile()).arrayBuffer()) : null;
  }

  async stat(path: string): Promise<FileInfo | null> {
    if (await this.directory(path)) return { kind: 'folder', size: 0, modified: 0 };
    const handle = await this.file(path);
    if (!handle) return null;
    const file = await handle.getFile();
    return { kind: 'file', size: file.size, modified: file.lastModified };
  }

  async list(path: string): Promise<Entry[] | null> {
    const dir = await this.directory(path);
    if (!dir) return null;
    const entries: Entry[] = [];
    for await (const [name, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
      entries.push({ name, kind: handle.kind === 'directory' ? 'folder' : 'file' });
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async write(path: string, bytes: Uint8Array | string): Promise<void> {
    try {
      const at = (await this.parent(path, true))!;
      const writable = await (await at.dir.getFileHandle(at.name, { create: true })).createWritable();
      await writable.write(typeof bytes === 'string' ? bytes : (bytes as Uint8Array<ArrayBuffer>));
      await writable.close();
    } catch (err) {
      throw this.failure(path, err);
    }
  }

  async append(path: string, bytes: Uint8Array): Promise<void> {
    try {
      const at = (await this.parent(path, true))!;
      const handle = await at.dir.getFileHandle(at.name, { create: true });
      const size = (await handle.getFile()).size;
      const writable = await handle.createWritable({ keepExistingData: true });
      await writable.seek(size);
      await writable.write(bytes as Uint8Array<ArrayBuffer>);
      await writable.close();
    } catch (err) {
      throw this.failure(path, err);
    }
  }

  async truncate(path: string, length: number): Promise<void> {
    const handle = await this.file(path);
    if (!handle || (await handle.getFile()).size <= length) return;
    const writable = await handle.createWritable({ keepExistingData: true });
    await writable.truncate(length);
    await writable.close();
  }

  async rename(from: string, to: string): Promise<void> {
    const source = (await this.file(from)) as MovableHandle | null;
    if (!source) throw new Error(`cannot rename ${this.location}/${from}: no such file`);
    const target = (await this.parent(to, true))!;
    if (source.move) {
      await source.move(target.dir, target.name);
      return;
    }
    await this.write(to, new Uint8Array(await (await source.getFile()).arrayBuffer()));
    await this.remove(from);
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const at = await this.parent(path, false);
    if (!at) return;
    try {
      await at.dir.removeEntry(at.name, { recursive: options.recursive ?? false });
    } catch (err) {
      // Missing, or a folder that is not empty (kept, as a file system's rmdir would).
      if (missing(err) || errorName(err) === 'InvalidModificationError') return;
      throw err;
    }
  }

  folder(path: string): Folder {
    return new OpfsFolder(this.root, this.parts(path).join('/'));
  }
}
