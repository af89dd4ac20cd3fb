/**
 * Where the autotuner's choices persist between processes: one JSON file in the user's cache
 * folder, a table per adapter. Node only (the browser keeps choices for the page's lifetime).
 * Each table is kept with the version of the kernels it was measured on (conv-tuner.ts
 * kernelVersion): a table of other kernels is neither used nor kept. The file is replaced
 * atomically (written under a temporary name, then renamed), and choices of other adapters or
 * processes already in it are kept. A file of another format version is replaced without a
 * warning.
 */

/** Tuned kernel per shape key, for one adapter. */
export type TuneTable = Record<string, string>;

export interface TuneStore {
  /** The file, for messages. */
  readonly path: string;
  /** The adapter's table, if it was measured on these kernels (else empty). */
  load(adapterId: string, kernels: string): Promise<TuneTable>;
  /** Adds `table` to the adapter's (replacing it when it was measured on other kernels). */
  save(adapterId: string, kernels: string, table: TuneTable): Promise<void>;
}

/** Version 2: tables carry their kernels' version. */
const VERSION = 2;

interface AdapterTable {
  kernels: string;
  choices: TuneTable;
}

interface TuneFile {
  version: typeof VERSION;
  adapters: Record<string, AdapterTable>;
}

const FILE_NAME = 'autotune.json';
/** A table this large is not one petseg wrote (a model has a few hundred conv shapes at most). */
const MAX_FILE_BYTES = 8 * 2 ** 20;

/** A module name hidden from browser bundlers (they would try to bundle a literal Node-only import). */
function nodeOnly(name: string): string {
  return name;
}

/** petseg's folder in the user cache: $PETSEG_CACHE_DIR, else $XDG_CACHE_HOME/petseg, else ~/.cache/petseg. */
export async function defaultCacheDir(): Promise<string> {
  const { homedir } = (await import(/* @vite-ignore */ nodeOnly('node:os'))) as typeof import('node:os');
  const { join } = (await import(/* @vite-ignore */ nodeOnly('node:path'))) as typeof import('node:path');
  return process.env.PETSEG_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'petseg');
}

const empty = (): TuneFile => ({ version: VERSION, adapters: {} });

/** The file's tables; an empty file for another version; null when it is not a table at all. */
function parse(text: string): TuneFile | null {
  const data = JSON.parse(text) as { version?: unknown; adapters?: unknown } | null;
  if (data && typeof data.version === 'number' && data.version !== VERSION) return empty();
  if (!data || data.version !== VERSION || typeof data.adapters !== 'object' || data.adapters === null) return null;
  for (const table of Object.values(data.adapters) as Partial<AdapterTable>[]) {
    if (typeof table !== 'object' || table === null || typeof table.kernels !== 'string' || typeof table.choices !== 'object' || table.choices === null) return null;
    if (!Object.values(table.choices).every((v) => typeof v === 'string')) return null;
  }
  return data as TuneFile;
}

export async function fileTuneStore(dir: string, warn: (line: string) => void = (line) => console.warn(line)): Promise<TuneStore> {
  const fs = (await import(/* @vite-ignore */ nodeOnly('node:fs/promises'))) as typeof import('node:fs/promises');
  const { join } = (await import(/* @vite-ignore */ nodeOnly('node:path'))) as typeof import('node:path');
  const path = join(dir, FILE_NAME);
  let warned = false;
  const read = async (): Promise<TuneFile> => {
    let text: string;
    try {
      const info = await fs.stat(path);
      if (info.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty();
      return damaged((err as Error).message);
    }
    try {
      return parse(text) ?? damaged('not an autotune table');
    } catch (err) {
      return damaged((err as Error).message);
    }
  };
  const damaged = (why: string): TuneFile => {
    if (!warned) warn(`petseg: ignoring the autotune cache ${path} (${why}); it will be rewritten`);
    warned = true;
    return empty();
  };
  return {
    path,
    async load(adapterId, kernels) {
      const table = (await read()).adapters[adapterId];
      return table?.kernels === kernels ? { ...table.choices } : {};
    },
    async save(adapterId, kernels, choices) {
      const file = await read();
      const kept = file.adapters[adapterId]?.kernels === kernels ? file.adapters[adapterId].choices : {};
      file.adapters[adapterId] = { kernels, choices: { ...kept, ...choices } };
      await fs.mkdir(dir, { recursive: true });
      const temporary = `${path}.tmp-${process.pid}-${Date.now()}`;
      try {
        await fs.writeFile(temporary, `${JSON.stringify(file, null, 1)}\n`);
        await fs.rename(temporary, path);
      } catch (err) {
        await fs.rm(temporary, { force: true });
        // A cache that cannot be written costs the next process a re-tune, nothing else.
        warn(`petseg: could not save the autotune cache ${path}: ${(err as Error).message}`);
      }
    },
  };
}
