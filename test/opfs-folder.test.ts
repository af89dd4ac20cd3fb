/**
 * The page's Origin Private File System folder (web/opfs-folder.ts) on an in-memory stand-in of
 * the File System Access handles: a run folder's commit protocol works on it (with and without
 * `move()`), an interrupted commit is finished on open, and a full quota is one line naming the
 * file with nothing committed lost. The real thing runs in Chromium (test/browser.test.ts).
 */
import { describe, expect, test } from 'vitest';
import { EVALUATION_FILE, RUN_FILES, commitEpoch, openRun, readCommittedRun, type RunManifest } from '../train/run-folder.js';
import { OpfsFolder } from '../web/opfs-folder.js';

type Node = { kind: 'file'; bytes: Uint8Array; modified: number } | { kind: 'directory'; children: Map<string, Node> };

const domError = (name: string) => Object.assign(new Error(name), { name });

/** An in-memory FileSystemDirectoryHandle: what OpfsFolder uses of it, no more. `quota` bytes in all. */
function directory(node: Extract<Node, { kind: 'directory' }>, fs: { used: number; quota: number; move: boolean }): FileSystemDirectoryHandle {
  const fileHandle = (parent: Extract<Node, { kind: 'directory' }>, name: string, file: Extract<Node, { kind: 'file' }>) => ({
    kind: 'file',
    name,
    getFile: async () => new File([file.bytes as Uint8Array<ArrayBuffer>], name, { lastModified: file.modified }),
    createWritable: async (options: { keepExistingData?: boolean } = {}) => {
      let data = options.keepExistingData ? file.bytes.slice() : new Uint8Array(0);
      let at = 0;
      return {
        seek: async (position: number) => void (at = position),
        truncate: async (length: number) => void (data = data.slice(0, length)),
        write: async (chunk: Uint8Array | string) => {
          const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
          if (fs.used + bytes.length > fs.quota) throw domError('QuotaExceededError');
          const grown = new Uint8Array(Math.max(data.length, at + bytes.length));
          grown.set(data);
          grown.set(bytes, at);
          data = grown;
          at += bytes.length;
        },
        // The swap file replaces the file only on close.
        close: async () => {
          fs.used += data.length - file.bytes.length;
          file.bytes = data;
          file.modified = Date.now();
        },
      };
    },
    ...(fs.move
      ? {
          move: async (dir: FileSystemDirectoryHandle & { node: Extract<Node, { kind: 'directory' }> }, to: string) => {
            parent.children.delete(name);
            dir.node.children.set(to, file);
          },
        }
      : {}),
  });
  return {
    kind: 'directory',
    node,
    getDirectoryHandle: async (name: string, options: { create?: boolean } = {}) => {
      let child = node.children.get(name);
      if (!child && options.create) node.children.set(name, (child = { kind: 'directory', children: new Map() }));
      if (!child) throw domError('NotFoundError');
      if (child.kind !== 'directory') throw domError('TypeMismatchError');
      return directory(child, fs);
    },
    getFileHandle: async (name: string, options: { create?: boolean } = {}) => {
      let child = node.children.get(name);
      if (!child && options.create) node.children.set(name, (child = { kind: 'file', bytes: new Uint8Array(0), modified: Date.now() }));
      if (!child) throw domError('NotFoundError');
      if (child.kind !== 'file') throw domError('TypeMismatchError');
      return fileHandle(node, name, child);
    },
    removeEntry: async (name: string, options: { recursive?: boolean } = {}) => {
      const child = node.children.get(name);
      if (!child) throw domError('NotFoundError');
      if (child.kind === 'directory' && child.children.size && !options.recursive) throw domError('InvalidModificationError');
      node.children.delete(name);
    },
    entries: async function* () {
      for (const [name, child] of node.children) yield [name, { kind: child.kind }];
    },
  } as unknown as FileSystemDirectoryHandle;
}

function opfs(options: { quota?: number; move?: boolean } = {}) {
  const root: Extract<Node, { kind: 'directory' }> = { kind: 'directory', children: new Map() };
  const fs = { used: 0, quota: options.quota ?? Infinity, move: options.move ?? true };
  return { folder: new OpfsFolder(directory(root, fs), ''), fs };
}

const manifest = (epoch: number): RunManifest => ({ format: 'petseg-run-v1', epoch, steps: epoch * 3, best: { epoch, valid_loss: 1 / epoch, valid_dice: 0.5 }, tensorboard: null });
const files = (epoch: number) => ({ last: new Uint8Array(100).fill(epoch), optimizer: new Uint8Array(50).fill(epoch), best: epoch === 1 ? new Uint8Array(100).fill(epoch) : null, metrics: `{"epoch":${epoch}}`, manifest: manifest(epoch) });

describe('the Origin Private File System folder', () => {
  test.each([true, false])('a run folder commits epochs on it (move() %s) and reads them back', async (move) => {
    const { folder } = opfs({ move });
    const run = folder.folder('runs/UNet-1');
    expect((await openRun(run)).manifest).toBeNull();
    await commitEpoch(run, files(1));
    await commitEpoch(run, files(2));
    expect(await readCommittedRun(run)).toEqual(manifest(2));
    expect(new TextDecoder().decode((await run.read(RUN_FILES.metrics))!)).toBe('{"epoch":1}\n{"epoch":2}\n');
    expect((await run.read(RUN_FILES.best))![0]).toBe(1);
    expect((await run.list(''))!.map((e) => e.name)).toEqual([RUN_FILES.best, RUN_FILES.last, RUN_FILES.optimizer, RUN_FILES.metrics, RUN_FILES.manifest].sort());
    expect(await run.stat(EVALUATION_FILE)).toBeNull();
    expect((await folder.stat('runs'))!.kind).toBe('folder');
  });

  test('a commit interrupted after its commit point is finished on open; one before it is dropped', async () => {
    const { folder } = opfs();
    const run = folder.folder('run');
    await commitEpoch(run, files(1));
    // Staged and committed (the manifest in .commit/), not yet applied: as a reload would leave it.
    await run.write('.commit/last.safetensors', new Uint8Array(100).fill(2));
    await run.write('.commit/run.json', JSON.stringify(manifest(2)));
    expect((await openRun(run)).manifest).toEqual(manifest(2));
    expect((await run.read(RUN_FILES.last))![0]).toBe(2);
    expect(await run.list('.commit')).toBeNull();
    // Staged without its manifest: dropped.
    await run.write('.commit/last.safetensors', new Uint8Array(100).fill(3));
    expect((await openRun(run)).manifest!.epoch).toBe(2);
    expect((await run.read(RUN_FILES.last))![0]).toBe(2);
  });

  test('a full quota is one line naming the file; the run keeps its last finished epoch', async () => {
    const { folder, fs } = opfs();
    const run = folder.folder('runs/full');
    await commitEpoch(run, files(1));
    fs.quota = fs.used + 120;
    await expect(commitEpoch(run, files(2))).rejects.toThrow(/^cannot write opfs:\/runs\/full\/\.commit\/last\.optim\.safetensors \(the browser's storage quota for this page is full: free space or delete old runs\)$/);
    expect((await openRun(run)).manifest).toEqual(manifest(1));
    expect((await run.read(RUN_FILES.last))![0]).toBe(1);
  });
});
