/**
 * The Oxford-IIIT Pet layout: images/NAME.jpg, annotations/trimaps/NAME.png,
 * annotations/trainval.txt and annotations/test.txt. Splits as the lab: train = trainval lines
 * whose index % 10 != 0, valid = index % 10 == 0, test = test.txt. Trimap 1 (pet) and 3
 * (border) → 1, 2 (background) → 0. Images become size×size RGB, masks size×size {0, 1}.
 *
 * The dataset is read through a ReadableFolder (train/storage.ts): a folder on disk in Node, a
 * picked folder or unpacked archives in a browser — the same rules either way.
 */
import { ImageDecodeError, decodeImage } from './images.js';
import { resizeBilinear, resizeNearest, type Sample } from './pixels.js';
import { OptionError } from './settings.js';
import { concatBytes, sha256Hex, type ReadableFolder } from './storage.js';

/** The lab's splits: train and valid from trainval.txt (every 10th line valid), test = test.txt. */
export type Split = 'train' | 'valid' | 'test';

/** A fatal problem with the dataset as a whole (wrong folder, missing split file, empty split). */
export class DatasetError extends OptionError {
  constructor(template: string) {
    super(template);
    this.name = 'DatasetError';
  }
}

const LAYOUT_HINT =
  'expected the Oxford-IIIT Pet layout (images/, annotations/trimaps/, annotations/trainval.txt, annotations/test.txt); ' +
  'fetch it with `petseg download`, or omit {dataPath} to use the built-in synthetic set';

/** The split lists, as the dataset holds them. */
export const SPLIT_FILES = ['annotations/trainval.txt', 'annotations/test.txt'] as const;

const splitFile = (split: Split) => (split === 'test' ? SPLIT_FILES[1] : SPLIT_FILES[0]);
/** The path of image `name` in the dataset folder. */
export const imagePath = (name: string) => `images/${name}.jpg`;
/** The path of image `name`'s trimap in the dataset folder. */
export const trimapPath = (name: string) => `annotations/trimaps/${name}.png`;

/** A split's names from its list's text, in file order (the lab's rule: every 10th trainval line is valid). */
export function splitNames(text: string, split: Split): string[] {
  const names = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(/\s+/)[0]);
  return split === 'test' ? names : names.filter((_, i) => (split === 'valid' ? i % 10 === 0 : i % 10 !== 0));
}

/** Image names of a split, in file order. */
export async function readSplit(data: ReadableFolder, split: Split): Promise<string[]> {
  const root = await data.stat('');
  if (!root || root.kind !== 'folder') throw new DatasetError(`{dataPath} ${data.location} is not a folder; ${LAYOUT_HINT}`);
  const file = splitFile(split);
  const text = await data.read(file);
  if (text === null) throw new DatasetError(`${data.location}/${file} is missing: ${LAYOUT_HINT}`);
  const selected = splitNames(new TextDecoder().decode(text), split);
  if (selected.length === 0) throw new DatasetError(`${data.location}/${file} lists no images for the ${split} split`);
  return selected;
}

/**
 * The dataset's identity, recorded with a run so a resume on other data is refused: the sha256 of
 * its split lists (trainval.txt and test.txt, "missing" for an absent one), which fix every split.
 */
export async function splitFingerprint(data: ReadableFolder): Promise<string> {
  const parts: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const file of SPLIT_FILES) {
    parts.push(encoder.encode(`${file.slice('annotations/'.length)}\n`), (await data.read(file)) ?? encoder.encode('missing'), encoder.encode('\n'));
  }
  return sha256Hex(concatBytes(parts));
}

/** A file of the dataset, or an ImageDecodeError naming it (a sample to skip, not a failure). */
async function readSampleFile(data: ReadableFolder, path: string, missing: string): Promise<Uint8Array> {
  let bytes: Uint8Array | null;
  try {
    bytes = await data.read(path);
  } catch (err) {
    throw new ImageDecodeError((err as Error).message);
  }
  if (bytes === null) throw new ImageDecodeError(`${data.location}/${path}: ${missing}`);
  return bytes;
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

/** One image and its trimap, resized; throws ImageDecodeError (naming the file) when unusable. */
export async function loadSample(data: ReadableFolder, name: string, size: number): Promise<Sample> {
  const imageFile = `${data.location}/${imagePath(name)}`;
  const trimapFile = `${data.location}/${trimapPath(name)}`;
  const imageBytes = await readSampleFile(data, imagePath(name), 'image missing');
  const trimapBytes = await readSampleFile(data, trimapPath(name), `trimap missing for image ${name}`);
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

/** The samples {@link loadSamples} could load, and those it skipped with the reason. */
export interface LoadedSamples {
  samples: Sample[];
  /** Samples left out, with the reason. */
  skipped: { name: string; reason: string }[];
}

/**
 * Options of {@link loadSamples}: where warnings go (default: console.warn), and a progress
 * callback.
 */
export interface LoadOptions {
  warn?: (line: string) => void;
  /** After each image: how many are done of how many (a page shows it). */
  progress?: (done: number, total: number) => void;
}

/** Load the named samples, skipping unusable ones with one warning line each (never failing mid-way). */
export async function loadSamples(data: ReadableFolder, names: readonly string[], size: number, options: LoadOptions = {}): Promise<LoadedSamples> {
  const warn = options.warn ?? ((line: string) => console.warn(line));
  const out: LoadedSamples = { samples: [], skipped: [] };
  for (const [i, name] of names.entries()) {
    try {
      out.samples.push(await loadSample(data, name, size));
    } catch (err) {
      if (!(err instanceof ImageDecodeError)) throw err;
      out.skipped.push({ name, reason: err.message });
      warn(`warning: skipping ${name}: ${err.message}`);
    }
    options.progress?.(i + 1, names.length);
  }
  if (out.samples.length === 0) throw new DatasetError(`no usable images among the ${names.length} listed in ${data.location}`);
  return out;
}

/** Load a split (see loadSamples). */
export async function loadSplit(data: ReadableFolder, split: Split, size: number, options: LoadOptions = {}): Promise<Sample[]> {
  return (await loadSamples(data, await readSplit(data, split), size, options)).samples;
}
