/**
 * Decode-once cache: the first load of a split at a size writes its resized uint8 images and
 * masks to one binary file; later epochs and runs read that file and decode no JPEG. The file's
 * name carries a hash of the size and of every source file's name, size and mtime, so editing,
 * adding or removing an image or trimap invalidates it.
 *
 * Layout: "PSGCACHE1\n", u32 header length, JSON header {size, names, skipped}, then all images
 * (N·size·size·3 bytes), then all masks (N·size·size bytes).
 *
 * The files live in the user's cache folder, one folder per dataset (decodeCacheDir), never in
 * the dataset itself, which may be shared or read-only.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../models/checkpoint.js';
import { loadSamples, readSplit, type Split } from './dataset.js';
import type { Sample } from './pixels.js';

const MAGIC = 'PSGCACHE1\n';

interface CacheHeader {
  size: number;
  names: string[];
  /** Samples left out, with the reason (warned again on every load). */
  skipped: { name: string; reason: string }[];
}

function sourceFingerprint(root: string, names: string[], size: number): string {
  const hash = createHash('sha256').update(`size=${size}\n`);
  for (const name of names) {
    for (const file of [join(root, 'images', `${name}.jpg`), join(root, 'annotations', 'trimaps', `${name}.png`)]) {
      const st = existsSync(file) ? statSync(file) : null;
      hash.update(`${file}:${st ? `${st.size}:${st.mtimeMs}` : 'missing'}\n`);
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * petseg's folder in the user's cache: $PETSEG_CACHE_DIR, else $XDG_CACHE_HOME/petseg, else
 * ~/.cache/petseg — the folder engine/tune-store.ts's defaultCacheDir names (that one is async,
 * for the browser bundle; this module is Node's only).
 */
export function userCacheDir(): string {
  return process.env.PETSEG_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'petseg');
}

/** The default decode cache of a dataset: `<user cache>/petseg/decoded/<sha256 of its absolute path, 16 hex>`. */
export function decodeCacheDir(root: string): string {
  return join(userCacheDir(), 'decoded', createHash('sha256').update(resolve(root)).digest('hex').slice(0, 16));
}

export interface CachedSplit {
  samples: Sample[];
  cacheFile: string;
  fromCache: boolean;
}

/** Load a split through the cache in `cacheDir` (default: decodeCacheDir(root)). */
export function loadSplitCached(
  root: string,
  split: Split,
  size: number,
  /** `decoding`: told how many images are about to be decoded (a cache miss), so a long decode is announced. */
  options: { cacheDir?: string; warn?: (line: string) => void; decoding?: (images: number) => void } = {},
): CachedSplit {
  const warn = options.warn ?? console.warn;
  const names = readSplit(root, split);
  const cacheDir = options.cacheDir ?? decodeCacheDir(root);
  const cacheFile = join(cacheDir, `${split}-${size}-${sourceFingerprint(root, names, size)}.bin`);
  if (existsSync(cacheFile)) {
    const cached = readCache(cacheFile, size);
    if (cached) {
      for (const s of cached.header.skipped) warn(`warning: skipping ${s.name}: ${s.reason}`);
      return { samples: cached.samples, cacheFile, fromCache: true };
    }
    warn(`warning: the decode cache ${cacheFile} is damaged; decoding the images again to rebuild it`);
  }
  options.decoding?.(names.length);
  const { samples, skipped } = loadSamples(root, names, size, warn);
  const header = new TextEncoder().encode(JSON.stringify({ size, names: samples.map((s) => s.name), skipped } satisfies CacheHeader));
  const plane = size * size;
  const bytes = new Uint8Array(MAGIC.length + 4 + header.length + samples.length * plane * 4);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(MAGIC.length, header.length, true);
  bytes.set(header, MAGIC.length + 4);
  const imagesAt = MAGIC.length + 4 + header.length;
  samples.forEach((s, i) => {
    bytes.set(s.image, imagesAt + i * plane * 3);
    bytes.set(s.mask, imagesAt + samples.length * plane * 3 + i * plane);
  });
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileAtomic(cacheFile, bytes);
  } catch (err) {
    warn(`warning: could not write the decode cache ${cacheFile} (${(err as Error).message}); continuing without it`);
  }
  return { samples, cacheFile, fromCache: false };
}

/** The cached split, or null when the file is not a whole, well-formed cache of this size (it is then rebuilt). */
function readCache(file: string, size: number): { header: CacheHeader; samples: Sample[] } | null {
  try {
    const bytes = new Uint8Array(readFileSync(file));
    if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) return null;
    const headerLength = new DataView(bytes.buffer).getUint32(MAGIC.length, true);
    if (MAGIC.length + 4 + headerLength > bytes.length) return null;
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength))) as CacheHeader;
    if (header?.size !== size || !Array.isArray(header.names) || !Array.isArray(header.skipped)) return null;
    const plane = size * size;
    const n = header.names.length;
    const imagesAt = MAGIC.length + 4 + headerLength;
    if (bytes.length !== imagesAt + n * plane * 4) return null;
    const samples = header.names.map((name, i) => ({
      name,
      image: bytes.slice(imagesAt + i * plane * 3, imagesAt + (i + 1) * plane * 3),
      mask: bytes.slice(imagesAt + n * plane * 3 + i * plane, imagesAt + n * plane * 3 + (i + 1) * plane),
    }));
    return { header, samples };
  } catch {
    return null;
  }
}
