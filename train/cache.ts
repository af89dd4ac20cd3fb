/**
 * Decode-once cache: the first load of a split at a size writes its resized uint8 images and
 * masks to one binary file; later epochs and runs read that file and decode no JPEG. The file's
 * name carries a hash of the size and of every source file's name, size and modification time,
 * so editing, adding or removing an image or trimap invalidates it.
 *
 * Layout: "PSGCACHE1\n", u32 header length, JSON header {size, names, skipped}, then all images
 * (N·size·size·3 bytes), then all masks (N·size·size bytes).
 *
 * The cache is a Folder of its own (train/storage.ts): in Node under the user's cache folder, one
 * per dataset (node-folder.ts decodeCacheDir), never in the dataset itself, which may be shared
 * or read-only; in a browser in the Origin Private File System.
 */
import { imagePath, loadSamples, readSplit, trimapPath, type Split } from './dataset.js';
import type { Sample } from './pixels.js';
import { sha256Hex, type Folder, type ReadableFolder } from './storage.js';

const MAGIC = 'PSGCACHE1\n';

interface CacheHeader {
  size: number;
  names: string[];
  /** Samples left out, with the reason (warned again on every load). */
  skipped: { name: string; reason: string }[];
}

async function sourceFingerprint(data: ReadableFolder, names: string[], size: number): Promise<string> {
  const lines = [`size=${size}`];
  for (const name of names) {
    for (const path of [imagePath(name), trimapPath(name)]) {
      const info = await data.stat(path);
      lines.push(`${data.location}/${path}:${info ? `${info.size}:${info.modified}` : 'missing'}`);
    }
  }
  return (await sha256Hex(`${lines.join('\n')}\n`)).slice(0, 16);
}

/**
 * A split loaded by {@link loadSplitCached}: its samples, the cache file, and whether they came
 * from it (false: decoded now).
 */
export interface CachedSplit {
  samples: Sample[];
  /** Where the cache file is, for messages. */
  cacheFile: string;
  fromCache: boolean;
}

/**
 * Options of {@link loadSplitCached}: where warnings go (default: console.warn), and callbacks
 * about a decode on a cache miss.
 */
export interface CacheOptions {
  warn?: (line: string) => void;
  /** Told how many images are about to be decoded (a cache miss), so a long decode is announced. */
  decoding?: (images: number) => void;
  /** After each image decoded: how many are done of how many. */
  progress?: (done: number, total: number) => void;
}

/** Load a split of `data` through the cache in `cache` (null: decode, keep nothing). */
export async function loadSplitCached(data: ReadableFolder, split: Split, size: number, cache: Folder | null, options: CacheOptions = {}): Promise<CachedSplit> {
  const warn = options.warn ?? ((line: string) => console.warn(line));
  const names = await readSplit(data, split);
  const name = `${split}-${size}-${await sourceFingerprint(data, names, size)}.bin`;
  const cacheFile = cache ? `${cache.location}/${name}` : '(no cache)';
  const bytes = cache ? await cache.read(name).catch(() => null) : null;
  if (bytes) {
    const cached = parseCache(bytes, size);
    if (cached) {
      for (const s of cached.header.skipped) warn(`warning: skipping ${s.name}: ${s.reason}`);
      return { samples: cached.samples, cacheFile, fromCache: true };
    }
    warn(`warning: the decode cache ${cacheFile} is damaged; decoding the images again to rebuild it`);
  }
  options.decoding?.(names.length);
  const { samples, skipped } = await loadSamples(data, names, size, { warn, progress: options.progress });
  if (cache) {
    try {
      await cache.write(name, encodeCache(samples, skipped, size));
    } catch (err) {
      warn(`warning: could not write the decode cache ${cacheFile} (${(err as Error).message}); continuing without it`);
    }
  }
  return { samples, cacheFile, fromCache: false };
}

function encodeCache(samples: Sample[], skipped: CacheHeader['skipped'], size: number): Uint8Array {
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
  return bytes;
}

/** The cached split, or null when the bytes are not a whole, well-formed cache of this size (it is then rebuilt). */
function parseCache(bytes: Uint8Array, size: number): { header: CacheHeader; samples: Sample[] } | null {
  try {
    if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) return null;
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
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
