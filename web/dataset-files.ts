/**
 * The Oxford-IIIT Pet dataset in the page, as a ReadableFolder (train/storage.ts) the training
 * loop reads exactly as Node reads a folder on disk:
 * - a picked or dropped folder (its File objects; the dataset is wherever
 *   `annotations/trainval.txt` is inside it);
 * - the official `images.tar.gz` and `annotations.tar.gz`, unpacked into the Origin Private File
 *   System by train/tar.ts (the same reader, and the same refusals, as `petseg download`);
 * - the built-in synthetic set, written into the Origin Private File System.
 *
 * Each dataset has a record in `datasets/<id>/` (dataset.json; for a picked folder also its split
 * lists and every file's size and time), so a run can resume after a reload from the decoded
 * cache without the folder being picked again; its images are read again only if the cache is
 * gone, and then the page asks for the folder.
 */
import { SPLIT_FILES, readSplit, splitNames, type Entry, type FileInfo, type Folder, type ReadableFolder, readText, sha256Hex, BUILTIN_SYNTHETIC, syntheticDatasetFiles, unpackTarGz } from '../train/browser.js';

/** A dataset the page can train on: where it is read from, and its record's id. */
export interface PageDataset {
  id: string;
  /** Shown in messages (the picked folder's name, "archives", "synthetic set"). */
  name: string;
  data: ReadableFolder;
  images: number;
}

interface DatasetRecord {
  name: string;
  kind: 'folder' | 'archives' | 'synthetic';
  images: number;
}

/** Images the dataset lists: trainval, and test where there is a list (the real sample has none). */
async function listedImages(data: ReadableFolder): Promise<number> {
  const trainval = (await readSplit(data, 'train')).length + (await readSplit(data, 'valid')).length;
  const test = await data.read(SPLIT_FILES[1]);
  return trainval + (test ? splitNames(new TextDecoder().decode(test), 'test').length : 0);
}

/** Folder entries implied by a set of file paths. */
function entriesUnder(paths: Iterable<string>, folder: string): Entry[] | null {
  const prefix = folder ? `${folder}/` : '';
  const seen = new Map<string, Entry>();
  let any = false;
  for (const path of paths) {
    if (!path.startsWith(prefix)) continue;
    any = true;
    const rest = path.slice(prefix.length).split('/');
    if (!seen.has(rest[0])) seen.set(rest[0], { name: rest[0], kind: rest.length > 1 ? 'folder' : 'file' });
  }
  return any || folder === '' ? [...seen.values()] : null;
}

/** A picked or dropped folder's files, by their path below the dataset. */
class FilesFolder implements ReadableFolder {
  constructor(
    readonly location: string,
    private readonly files: ReadonlyMap<string, File>,
  ) {}

  async read(path: string): Promise<Uint8Array | null> {
    const file = this.files.get(path);
    if (!file) {
      if (entriesUnder(this.files.keys(), path)?.length) throw new Error(`${this.location}/${path}: a folder, not a file`);
      return null;
    }
    try {
      return new Uint8Array(await file.arrayBuffer());
    } catch (err) {
      throw new Error(`${this.location}/${path}: cannot be read (${(err as Error).message}); pick the folder again`);
    }
  }

  async stat(path: string): Promise<FileInfo | null> {
    const file = this.files.get(path);
    if (file) return { kind: 'file', size: file.size, modified: file.lastModified };
    return entriesUnder(this.files.keys(), path) ? { kind: 'folder', size: 0, modified: 0 } : null;
  }

  async list(path: string): Promise<Entry[] | null> {
    return entriesUnder(this.files.keys(), path);
  }
}

/**
 * A picked folder's dataset after a reload: its split lists and file sizes and times, as recorded
 * when it was picked, but no image bytes — enough for the decoded cache to be found again.
 */
class RecordedFolder implements ReadableFolder {
  constructor(
    readonly location: string,
    private readonly splits: ReadonlyMap<string, Uint8Array>,
    private readonly stats: ReadonlyMap<string, [number, number]>,
  ) {}

  async read(path: string): Promise<Uint8Array | null> {
    const split = this.splits.get(path);
    if (split) return split;
    if (this.stats.has(path)) throw new Error(`${this.location}/${path}: the images of a folder picked before the page was reloaded are not at hand; pick the dataset folder again`);
    return null;
  }

  async stat(path: string): Promise<FileInfo | null> {
    const s = this.stats.get(path);
    if (s) return { kind: 'file', size: s[0], modified: s[1] };
    if (this.splits.has(path)) return { kind: 'file', size: this.splits.get(path)!.length, modified: 0 };
    return entriesUnder([...this.stats.keys(), ...this.splits.keys()], path) ? { kind: 'folder', size: 0, modified: 0 } : null;
  }

  async list(path: string): Promise<Entry[] | null> {
    return entriesUnder([...this.stats.keys(), ...this.splits.keys()], path);
  }
}

/** `files` (relative paths as the browser gives them, e.g. `oxford-iiit-pet/images/a.jpg`) below the folder that holds annotations/trainval.txt. */
export function datasetFiles(files: readonly { path: string; file: File }[], picked: string): Map<string, File> {
  const list = files.find((f) => f.path === SPLIT_FILES[0] || f.path.endsWith(`/${SPLIT_FILES[0]}`));
  if (!list) {
    throw new Error(`${picked}: not the Oxford-IIIT Pet layout (no annotations/trainval.txt inside); pick the folder that holds images/ and annotations/, or drop images.tar.gz and annotations.tar.gz`);
  }
  const root = list.path.slice(0, list.path.length - SPLIT_FILES[0].length);
  return new Map(files.filter((f) => f.path.startsWith(root)).map((f) => [f.path.slice(root.length), f.file]));
}

/** Record a picked folder (split lists, every file's size and time) and return it as a dataset. */
export async function pickedDataset(datasets: Folder, name: string, files: ReadonlyMap<string, File>): Promise<PageDataset> {
  const data = new FilesFolder(name, files);
  const lists = await Promise.all(SPLIT_FILES.map(async (f) => await data.read(f)));
  const id = `folder-${(await sha256Hex(`${name}\n${lists.map((l) => (l ? new TextDecoder().decode(l) : 'missing')).join('\n')}`)).slice(0, 16)}`;
  const images = await listedImages(data);
  const record = datasets.folder(id);
  const stats: Record<string, [number, number]> = {};
  for (const [path, file] of files) if (path.startsWith('images/') || path.startsWith('annotations/trimaps/')) stats[path] = [file.size, file.lastModified];
  for (const [i, f] of SPLIT_FILES.entries()) if (lists[i]) await record.write(f, lists[i]!);
  await record.write('files.json', JSON.stringify(stats));
  await record.write('dataset.json', JSON.stringify({ name, kind: 'folder', images } satisfies DatasetRecord));
  return { id, name, data, images };
}

/**
 * Unpack the official archives (any order; annotations first is fine) into `datasets/<id>/files`,
 * once: the id comes from their names, sizes and times. `progress` gets bytes read of the total.
 */
export async function archiveDataset(datasets: Folder, archives: readonly File[], progress: (done: number, total: number) => void): Promise<PageDataset> {
  const wanted = ['images.tar.gz', 'annotations.tar.gz'];
  const names = archives.map((a) => a.name).sort();
  if (names.join() !== [...wanted].sort().join()) {
    throw new Error(`drop the two official archives, images.tar.gz and annotations.tar.gz (got ${names.join(', ') || 'nothing'})`);
  }
  const id = `archives-${(await sha256Hex(archives.map((a) => `${a.name}:${a.size}:${a.lastModified}`).sort().join('\n'))).slice(0, 16)}`;
  const record = datasets.folder(id);
  const files = record.folder('files');
  const done = await readText(record, 'dataset.json');
  if (!done) {
    const total = archives.reduce((n, a) => n + a.size, 0);
    let read = 0;
    for (const archive of archives) {
      async function* chunks(): AsyncIterable<Uint8Array> {
        const reader = archive.stream().getReader();
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) return;
          read += value.length;
          progress(read, total);
          yield value;
        }
      }
      await unpackTarGz(chunks(), archive.name, (path, bytes) => files.write(path, bytes));
    }
    const images = await listedImages(files);
    await record.write('dataset.json', JSON.stringify({ name: 'Oxford-IIIT Pet (archives)', kind: 'archives', images } satisfies DatasetRecord));
  }
  return restoredDataset(datasets, id) as Promise<PageDataset>;
}

/** The built-in synthetic set (as `petseg train` without --data_path: 200 trainval, 40 test), written once. */
export async function syntheticDataset(datasets: Folder): Promise<PageDataset> {
  const id = 'synthetic-v1';
  const record = datasets.folder(id);
  if (!(await readText(record, 'dataset.json'))) {
    const { files } = syntheticDatasetFiles({ ...BUILTIN_SYNTHETIC, imageFormat: 'png' });
    for (const [path, bytes] of files) await record.folder('files').write(path, bytes);
    await record.write('dataset.json', JSON.stringify({ name: 'the built-in synthetic set', kind: 'synthetic', images: BUILTIN_SYNTHETIC.trainval + BUILTIN_SYNTHETIC.test } satisfies DatasetRecord));
  }
  return (await restoredDataset(datasets, id))!;
}

/** A dataset recorded earlier (a reload), or null when there is no record. */
export async function restoredDataset(datasets: Folder, id: string): Promise<PageDataset | null> {
  const record = datasets.folder(id);
  const text = await readText(record, 'dataset.json');
  if (!text) return null;
  const info = JSON.parse(text) as DatasetRecord;
  if (info.kind !== 'folder') return { id, name: info.name, data: record.folder('files'), images: info.images };
  const splits = new Map<string, Uint8Array>();
  for (const f of SPLIT_FILES) {
    const bytes = await record.read(f);
    if (bytes) splits.set(f, bytes);
  }
  const stats = new Map(Object.entries(JSON.parse((await readText(record, 'files.json')) ?? '{}') as Record<string, [number, number]>));
  return { id, name: info.name, data: new RecordedFolder(info.name, splits, stats), images: info.images };
}

/** Everything traversable below dropped items: their files, by path. */
export async function droppedFiles(items: DataTransferItemList): Promise<{ path: string; file: File }[]> {
  const out: { path: string; file: File }[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      out.push({ path: `${prefix}${entry.name}`, file: await new Promise<File>((done, fail) => (entry as FileSystemFileEntry).file(done, fail)) });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((done, fail) => reader.readEntries(done, fail));
      if (!batch.length) break;
      for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
    }
  };
  const entries = [...items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  for (const entry of entries) await walk(entry, '');
  return out;
}
