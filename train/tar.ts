/**
 * Unpacking a .tar.gz the same way in Node (`petseg download`) and in a page (the dropped
 * official archives): gzip inflated by fflate, the tar stream read block by block, each regular
 * file handed over whole. What must hold, whatever the archive holds:
 * - no entry lands outside the target folder: absolute names, `..` segments, drive letters and
 *   backslashes are refused (safeArchivePath), links are skipped;
 * - memory stays bounded by the largest single file (at most MAX_FILE_BYTES), not the archive.
 * ustar names with their prefix, GNU long names (`L`) and pax `path` records are understood.
 */
import { Gunzip } from 'fflate';
import { concatBytes } from './storage.js';

/** Largest single file an archive may hold (the dataset's largest is a few MB). */
export const MAX_FILE_BYTES = 256 * 2 ** 20;

/** An archive entry that cannot be unpacked safely; the message names the archive and the entry. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/**
 * The entry's path relative to the target folder, '/'-separated, without `./` or empty segments;
 * null for the folder itself. Throws for a name that would leave the folder.
 */
export function safeArchivePath(name: string, archive: string): string | null {
  if (name.includes('\\') || /^[a-zA-Z]:/.test(name) || name.startsWith('/') || name.includes('\0')) {
    throw new ArchiveError(`${archive}: the entry '${name}' would be written outside the target folder`);
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveError(`${archive}: the entry '${name}' would be written outside the target folder`);
  return parts.length ? parts.join('/') : null;
}

const BLOCK = 512;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0) === -1 ? bytes.length : bytes.indexOf(0)));
const octal = (bytes: Uint8Array) => {
  const s = text(bytes).trim();
  return s ? parseInt(s, 8) : 0;
};

/** pax records `LEN key=value\n`: the `path` value, if any. */
function paxPath(bytes: Uint8Array): string | undefined {
  const all = new TextDecoder().decode(bytes);
  for (const line of all.split('\n')) {
    const eq = line.indexOf('=');
    const space = line.indexOf(' ');
    if (space > 0 && eq > space && line.slice(space + 1, eq) === 'path') return line.slice(eq + 1);
  }
  return undefined;
}

/** What the tar reader hands over: a file's path (already checked) and bytes. */
export type FileSink = (path: string, bytes: Uint8Array) => Promise<void>;

interface TarEntry {
  /** Where a regular file goes (checked); null: an entry whose data is skipped (a link, a folder, metadata). */
  path: string | null;
  type: string;
  data: Uint8Array;
  filled: number;
  /** Bytes of padding after the data, to the next 512-byte block. */
  padding: number;
}

/**
 * Reads a tar stream pushed in chunks of any size. Files are collected whole (up to
 * MAX_FILE_BYTES) and passed to `sink` in archive order; folders are implied by paths.
 */
class TarReader {
  private pending = new Uint8Array(0);
  private entry: TarEntry | null = null;
  private longName: string | undefined;
  private paxName: string | undefined;
  private ended = false;
  files = 0;

  constructor(
    private readonly archive: string,
    private readonly sink: FileSink,
  ) {}

  async push(chunk: Uint8Array): Promise<void> {
    if (this.ended) return;
    // What is left of this chunk is copied into `pending` below, so the chunk itself is never kept.
    const bytes = this.pending.length ? concatBytes([this.pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const e = this.entry;
      if (e) {
        const take = Math.min(e.data.length - e.filled, bytes.length - at);
        e.data.set(bytes.subarray(at, at + take), e.filled);
        e.filled += take;
        at += take;
        const skip = e.filled < e.data.length ? 0 : Math.min(e.padding, bytes.length - at);
        e.padding -= skip;
        at += skip;
        if (e.filled < e.data.length || e.padding > 0) break;
        this.entry = null;
        await this.finish(e);
        continue;
      }
      if (bytes.length - at < BLOCK) break;
      const header = bytes.subarray(at, at + BLOCK);
      at += BLOCK;
      if (header.every((b) => b === 0)) {
        this.ended = true;
        break;
      }
      this.entry = this.begin(header);
    }
    this.pending = bytes.slice(at);
  }

  private begin(header: Uint8Array): TarEntry {
    const type = String.fromCharCode(header[156] || 0x30);
    const size = octal(header.subarray(124, 136));
    const prefix = text(header.subarray(345, 500));
    const name = this.paxName ?? this.longName ?? (prefix ? `${prefix}/${text(header.subarray(0, 100))}` : text(header.subarray(0, 100)));
    if (type !== 'L' && type !== 'x' && type !== 'g') {
      this.longName = undefined;
      this.paxName = undefined;
    }
    if (size > MAX_FILE_BYTES) throw new ArchiveError(`${this.archive}: the entry '${name}' is ${size} bytes, more than the ${MAX_FILE_BYTES} a dataset file may have`);
    const regular = type === '0' || type === '\0' || type === '7';
    // Regular files and folders are checked; links, devices and the like are skipped with their data.
    const path = regular || type === '5' ? safeArchivePath(name, this.archive) : null;
    return { path: regular ? path : null, type, data: new Uint8Array(size), filled: 0, padding: Math.ceil(size / BLOCK) * BLOCK - size };
  }

  private async finish(e: TarEntry): Promise<void> {
    if (e.type === 'L') this.longName = text(e.data);
    else if (e.type === 'x') this.paxName = paxPath(e.data);
    else if (e.path !== null) {
      await this.sink(e.path, e.data);
      this.files++;
    }
  }

  /** The stream is over: an entry cut short means a truncated archive. */
  end(): void {
    if (this.entry) throw new ArchiveError(`${this.archive}: the archive ends inside '${this.entry.path ?? 'an entry'}' (truncated)`);
  }
}

/**
 * Unpack a .tar.gz read as chunks (a file's stream) into `sink`; returns how many files it held.
 * Throws ArchiveError naming the archive for a damaged or unsafe one.
 */
export async function unpackTarGz(chunks: AsyncIterable<Uint8Array>, archive: string, sink: FileSink): Promise<number> {
  const tar = new TarReader(archive, sink);
  const inflated: Uint8Array[] = [];
  let failure: unknown = null;
  const gunzip = new Gunzip((data) => inflated.push(data));
  const drain = async () => {
    while (inflated.length) await tar.push(inflated.shift()!);
  };
  try {
    for await (const chunk of chunks) {
      gunzip.push(chunk);
      await drain();
    }
    gunzip.push(new Uint8Array(0), true);
    await drain();
  } catch (err) {
    failure = err;
  }
  if (failure instanceof ArchiveError) throw failure;
  if (failure) throw new ArchiveError(`${archive}: not a readable .tar.gz (${(failure as Error).message})`);
  tar.end();
  return tar.files;
}
