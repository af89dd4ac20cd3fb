/**
 * Fetch and unpack the official Oxford-IIIT Pet archives: resumable downloads (HTTP Range onto a
 * `.part` file), size and MD5 verification before the file takes its final name, and extraction
 * by tar.ts — the page unpacks dropped archives with the same reader and the same refusals of
 * entries that would land outside the folder.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ArchiveError, unpackTarGz } from './tar.js';

/** An archive to download: its file name, URL, and the MD5 (and size, when known) it must have. */
export interface Archive {
  /** File name in the data folder. */
  name: string;
  url: string;
  /** Expected MD5 of the whole file (hex). */
  md5: string;
  /** Expected size in bytes, when known (the server's length is checked as well). */
  bytes?: number;
}

/** The dataset's official archives (MD5s as published with the dataset and pinned by torchvision). */
export const OXFORD_PET_ARCHIVES: readonly Archive[] = [
  { name: 'images.tar.gz', url: 'https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz', md5: '5c4f3ee8e5d25df40f4fd59a7f44e54c', bytes: 791_918_971 },
  { name: 'annotations.tar.gz', url: 'https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz', md5: '95a8c909bbe2e81eed6a22bccdf3f68f' },
];

/** A download that failed or did not verify; its message says what to do next. */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** Progress of one archive's download, reported after every chunk received. */
export interface DownloadProgress {
  name: string;
  received: number;
  /** Total bytes, or null when the server does not say. */
  total: number | null;
  /** Bytes already on disk from an earlier, interrupted attempt. */
  resumedFrom: number;
}

/** The MD5 of the file at `path`, as lowercase hex. */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Download `archive` to `<dir>/<name>` unless a verified copy is there. An interrupted download
 * continues from its `.part` file; a checksum mismatch deletes the `.part` and throws.
 */
export async function downloadArchive(archive: Archive, dir: string, onProgress: (p: DownloadProgress) => void = () => {}): Promise<{ path: string; downloaded: boolean }> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, archive.name);
  if (existsSync(path)) {
    if ((await md5File(path)) === archive.md5) return { path, downloaded: false };
    throw new DownloadError(`${path} exists but its MD5 is not ${archive.md5}; delete it and run again`);
  }
  const part = `${path}.part`;
  let start = existsSync(part) ? statSync(part).size : 0;
  if (archive.bytes !== undefined && start > archive.bytes) {
    rmSync(part);
    start = 0;
  }
  let response: Response;
  try {
    response = await fetch(archive.url, { headers: start > 0 ? { Range: `bytes=${start}-` } : {} });
  } catch (err) {
    throw new DownloadError(`cannot reach ${archive.url} (${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}); check the connection and run again — the download resumes`);
  }
  if (response.status === 416 && start > 0) {
    // The .part already holds the whole file.
    await response.body?.cancel();
  } else if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    throw new DownloadError(`${archive.url}: HTTP ${response.status} ${response.statusText}`);
  } else {
    if (response.status === 200) start = 0; // the server ignored the range: start over
    const length = response.headers.get('content-length');
    const total = length === null ? (archive.bytes ?? null) : start + Number(length);
    if (archive.bytes !== undefined && total !== null && total !== archive.bytes) {
      await response.body?.cancel();
      throw new DownloadError(`${archive.url} is ${total} bytes, expected ${archive.bytes}; is the URL right?`);
    }
    const fd = openSync(part, start > 0 ? 'a' : 'w');
    let received = start;
    try {
      if (response.body) {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          writeSync(fd, chunk);
          received += chunk.length;
          onProgress({ name: archive.name, received, total, resumedFrom: start });
        }
      }
    } catch (err) {
      throw new DownloadError(`download of ${archive.url} broke off at ${received} bytes (${(err as Error).message}); run again to resume`);
    } finally {
      closeSync(fd);
    }
    if (total !== null && received !== total) {
      throw new DownloadError(`download of ${archive.url} ended at ${received} of ${total} bytes; run again to resume`);
    }
  }
  const size = statSync(part).size;
  if (archive.bytes !== undefined && size !== archive.bytes) {
    rmSync(part);
    throw new DownloadError(`${part} is ${size} bytes, expected ${archive.bytes}; deleted it, run again`);
  }
  const md5 = await md5File(part);
  if (md5 !== archive.md5) {
    rmSync(part);
    throw new DownloadError(`${archive.name}: MD5 ${md5} is not the expected ${archive.md5}; deleted the download, run again`);
  }
  renameSync(part, path);
  return { path, downloaded: true };
}

/** Unpack a .tar.gz into `dir` once (a marker file records it). */
export async function extractArchive(file: string, dir: string): Promise<boolean> {
  const marker = `${file}.extracted`;
  if (existsSync(marker)) return false;
  try {
    await unpackTarGz(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>, file, async (path, bytes) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), bytes);
    });
  } catch (err) {
    const why = err instanceof ArchiveError ? err.message.slice(file.length + 2) : (err as Error).message;
    throw new DownloadError(`cannot extract ${file} (${why}); delete it and run again`);
  }
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return true;
}

/** Download and extract every archive into `dir` (the Oxford-IIIT Pet layout when they are the official ones). */
export async function downloadDataset(
  dir: string,
  options: { archives?: readonly Archive[]; onProgress?: (p: DownloadProgress) => void; log?: (line: string) => void } = {},
): Promise<void> {
  const log = options.log ?? console.log;
  for (const archive of options.archives ?? OXFORD_PET_ARCHIVES) {
    const { path, downloaded } = await downloadArchive(archive, dir, options.onProgress);
    log(`${archive.name}: ${downloaded ? 'downloaded and verified' : 'already here and verified'} (MD5 ${archive.md5})`);
    if (await extractArchive(path, dir)) log(`${archive.name}: extracted into ${dir}`);
  }
}
