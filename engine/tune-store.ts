/**
 * Where the autotuner's choices persist between processes: one JSON file in the user's cache
 * folder, a table per adapter. Node only (the browser keeps choices for the page's lifetime).
 * The file is replaced atomically (written under a temporary name, then renamed), and choices of
 * other adapters or processes already in it are kept.
 */

/** Tuned kernel per shape key, for one adapter. */
export type TuneTable = Record<string, string>;

export interface TuneStore {
  /** The file, for messages. */
  readonly path: string;
  load(adapterId: string): Promise<TuneTable>;
  save(adapterId: string, table: TuneTable): Promise<void>;
}

interface TuneFile {
  version: 1;
  adapters: Record<string, TuneTable>;
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

function parse(text: string): TuneFile | null {
  const data = JSON.parse(text) as Partial<TuneFile> | null;
  if (!data || data.version !== 1 || typeof data.adapters !== 'object' || data.adapters === null) return null;
  for (const table of Object.values(data.adapters)) {
    if (typeof table !== 'object' || table === null || !Object.values(table).every((v) => typeof v === 'string')) return null;
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
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, adapters: {} };
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
    return { version: 1, adapters: {} };
  };
  return {
    path,
    async load(adapterId) {
      return { ...((await read()).adapters[adapterId] ?? {}) };
    },
    async save(adapterId, table) {
      const file = await read();
      file.adapters[adapterId] = { ...(file.adapters[adapterId] ?? {}), ...table };
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
