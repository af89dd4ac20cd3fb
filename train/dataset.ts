/**
 * The Oxford-IIIT Pet layout: images/NAME.jpg, annotations/trimaps/NAME.png,
 * annotations/trainval.txt and annotations/test.txt. Splits as the lab: train = trainval lines
 * whose index % 10 != 0, valid = index % 10 == 0, test = test.txt. Trimap 1 (pet) and 3
 * (border) → 1, 2 (background) → 0. Images become size×size RGB, masks size×size {0, 1}.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ImageDecodeError, decodeImage } from './images.js';
import { resizeBilinear, resizeNearest, type Sample } from './pixels.js';

export type Split = 'train' | 'valid' | 'test';

/** A fatal problem with the dataset as a whole (wrong folder, missing split file, empty split). */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

const LAYOUT_HINT =
  'expected the Oxford-IIIT Pet layout (images/, annotations/trimaps/, annotations/trainval.txt, annotations/test.txt); ' +
  'fetch it with `petseg download`, or omit --data_path to use the built-in synthetic set';

function splitFile(root: string, split: Split): string {
  return join(root, 'annotations', split === 'test' ? 'test.txt' : 'trainval.txt');
}

/** Image names of a split, in file order. */
export function readSplit(root: string, split: Split): string[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`--data_path ${root} is not a folder; ${LAYOUT_HINT}`);
  const file = splitFile(root, split);
  if (!existsSync(file)) throw new DatasetError(`${file} is missing: ${LAYOUT_HINT}`);
  const names = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(/\s+/)[0]);
  const selected = split === 'test' ? names : names.filter((_, i) => (split === 'valid' ? i % 10 === 0 : i % 10 !== 0));
  if (selected.length === 0) throw new DatasetError(`${file} lists no images for the ${split} split`);
  return selected;
}

/**
 * The dataset's identity, recorded with a run so a resume on other data is refused: the sha256 of
 * its split lists (trainval.txt and test.txt, "missing" for an absent one), which fix every split.
 */
export function splitFingerprint(root: string): string {
  const hash = createHash('sha256');
  for (const name of ['trainval.txt', 'test.txt']) {
    const file = join(root, 'annotations', name);
    hash.update(`${name}\n`).update(existsSync(file) ? readFileSync(file) : 'missing').update('\n');
  }
  return hash.digest('hex');
}

/**
 * An image or trimap file's bytes. What cannot be read as a file — a folder, a dangling link, a
 * loop, no permission — is an ImageDecodeError naming it, so it is skipped like a damaged image.
 */
export function readImageFile(file: string, missing = 'image missing'): Uint8Array {
  try {
    if (statSync(file).isDirectory()) throw new ImageDecodeError(`${file}: a folder, not an image file`);
    return readFileSync(file);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(`${file}: ${code === 'ENOENT' ? missing : `cannot be read (${code ?? (err as Error).message})`}`);
  }
}

/** Trimap values to the binary pet mask: 1 (pet) and 3 (border) → 1, 2 (background) → 0. */
export function trimapToMask(trimap: Uint8Array, file: string): Uint8Array {
  const mask = new Uint8Array(trimap.length);
  for (let i = 0; i < trimap.length; i++) {
    const v = trimap[i];
    if (v === 1 || v === 3) mask[i] = 1;
    else if (v !== 2) throw new ImageDecodeError(`${file}: trimap value ${v} at pixel ${i}; trimaps hold only 1 (pet), 2 (background) and 3 (border)`);
  }
  return mask;
}

/** Load one image and its trimap, resized; throws ImageDecodeError (naming the file) when unusable. */
export function loadSample(root: string, name: string, size: number): Sample {
  const imageFile = join(root, 'images', `${name}.jpg`);
  const trimapFile = join(root, 'annotations', 'trimaps', `${name}.png`);
  const imageBytes = readImageFile(imageFile);
  const trimapBytes = readImageFile(trimapFile, `trimap missing for image ${name}`);
  const image = decodeImage(imageBytes, imageFile, 3);
  const trimap = decodeImage(trimapBytes, trimapFile, 1);
  if (image.width !== trimap.width || image.height !== trimap.height) {
    throw new ImageDecodeError(`${trimapFile}: trimap is ${trimap.width}×${trimap.height} but the image is ${image.width}×${image.height}`);
  }
  const mask = trimapToMask(trimap.data, trimapFile);
  return {
    name,
    image: resizeBilinear(image, size, size).data,
    mask: resizeNearest({ ...trimap, data: mask }, size, size).data,
  };
}

export interface LoadedSamples {
  samples: Sample[];
  /** Samples left out, with the reason. */
  skipped: { name: string; reason: string }[];
}

/** Load the named samples, skipping unusable ones with one warning line each (never failing mid-way). */
export function loadSamples(root: string, names: readonly string[], size: number, warn: (line: string) => void = console.warn): LoadedSamples {
  const out: LoadedSamples = { samples: [], skipped: [] };
  for (const name of names) {
    try {
      out.samples.push(loadSample(root, name, size));
    } catch (err) {
      if (!(err instanceof ImageDecodeError)) throw err;
      out.skipped.push({ name, reason: err.message });
      warn(`warning: skipping ${name}: ${err.message}`);
    }
  }
  if (out.samples.length === 0) throw new DatasetError(`no usable images among the ${names.length} listed in ${root}`);
  return out;
}

/** Load a split (see loadSamples). */
export function loadSplit(root: string, split: Split, size: number, warn: (line: string) => void = console.warn): Sample[] {
  return loadSamples(root, readSplit(root, split), size, warn).samples;
}
