/**
 * The one view of storage the training system has: a folder of files, with '/'-separated paths
 * relative to it. Node's is the file system (train/node-folder.ts); a browser's is the Origin
 * Private File System (web/opfs-folder.ts); a dataset picked in a browser is a read-only one
 * (web/dataset-files.ts). No Node module is imported here or by anything built on it, so the
 * training loop bundles for the browser.
 *
 * What every implementation must hold:
 * - `write` replaces the file as a whole (a reader sees the old or the new bytes, never a mix) and
 *   with `durable` returns only once the bytes are on stable storage;
 * - `rename` replaces its target in one step: the commit point of a run folder (run-folder.ts);
 * - failures are errors whose message names the file and, for a full disk or quota, says so.
 */

/** What a folder entry is. */
export type EntryKind = 'file' | 'folder';

/** One entry of a folder's listing (ReadableFolder.list): its name, and file or folder. */
export interface Entry {
  name: string;
  kind: EntryKind;
}

/** What is at a path (ReadableFolder.stat): file or folder, size in bytes, last modification. */
export interface FileInfo {
  kind: EntryKind;
  size: number;
  /** Last modification, ms since the epoch. */
  modified: number;
}

/** A folder's files for reading (a dataset: its split lists, images and trimaps). */
export interface ReadableFolder {
  /** Where it is, for messages (a path, or what the user picked). */
  readonly location: string;
  /** The file's bytes; null when there is no such file. A folder or an unreadable entry at `path` is an error naming it. */
  read(path: string): Promise<Uint8Array | null>;
  /** What is at `path`, or null. */
  stat(path: string): Promise<FileInfo | null>;
  /** The entries of the folder at `path` ('' for this one), or null when there is none. */
  list(path: string): Promise<Entry[] | null>;
}

/** A folder petseg writes: a run folder, a decode cache, a TensorBoard log folder. */
export interface Folder extends ReadableFolder {
  /** Replace (or create, with its parent folders) the file at `path`. */
  write(path: string, bytes: Uint8Array | string, options?: { durable?: boolean }): Promise<void>;
  /** Add bytes at the end of the file at `path` (created if missing), durably. */
  append(path: string, bytes: Uint8Array): Promise<void>;
  /** Cut the file at `path` to `length` bytes (no-op when it is shorter or missing). */
  truncate(path: string, length: number): Promise<void>;
  /** Move a file over `to` in one step (replacing it). */
  rename(from: string, to: string): Promise<void>;
  /** Remove a file, or an empty folder; no-op when there is none. `recursive`: a folder and everything in it. */
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** The folder at `path` as a Folder of its own (made on first write). */
  folder(path: string): Folder;
}

/** The file at `path` as text (UTF-8), or null. */
export async function readText(folder: ReadableFolder, path: string): Promise<string | null> {
  const bytes = await folder.read(path);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

/** The SHA-256 of `data` (a string as UTF-8), in hex: Web Crypto, so the same in Node and the page. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** `parts` one after another in one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((offset, p) => (all.set(p, offset), offset + p.length), 0);
  return all;
}
