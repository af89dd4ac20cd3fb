/**
 * A synthetic dataset in the official Oxford-IIIT Pet layout (drawn by synthetic-pets.ts): JPEG
 * images, PNG trimaps and the split lists, as files to write anywhere — a folder in Node
 * (synthetic.ts), the Origin Private File System in the page. Deterministic for a seed.
 */
import jpeg from 'jpeg-js';
import { Generator } from '../engine/random.js';
import { encodePng } from './png.js';
import { drawSyntheticPet } from './synthetic-pets.js';

/**
 * Options of a synthetic dataset ({@link syntheticDatasetFiles}): how many trainval and test
 * images, their size, the seed and the image format.
 */
export interface SyntheticOptions {
  /** Lines in trainval.txt (the lab splits them 9:1 into train and valid). */
  trainval?: number;
  test?: number;
  /** Image side in pixels (images are square; the loader resizes anyway). */
  size?: number;
  seed?: number;
  /**
   * How images are stored: JPEG (quality 92, as the real set), or PNG under the same `.jpg` names
   * (the real set has such files too) where jpeg-js's encoder cannot run — it needs Node's
   * Buffer — as in the page.
   */
  imageFormat?: 'jpeg' | 'png';
}

/** The built-in synthetic set's size: 200 trainval lines (180 train, 20 valid) and 40 test images. */
export const BUILTIN_SYNTHETIC: Required<Omit<SyntheticOptions, 'imageFormat'>> = { trainval: 200, test: 40, size: 96, seed: 0 };

function encodeJpeg(rgb: Uint8Array, size: number): Uint8Array {
  const rgba = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) {
    rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width: size, height: size }, 92).data);
}

/** The dataset's files (relative path, bytes), in order, and the image names by split file. */
export function syntheticDatasetFiles(options: SyntheticOptions = {}): { files: [string, Uint8Array][]; names: { trainval: string[]; test: string[] } } {
  const { trainval = 60, test = 20, size = 96, seed = 0, imageFormat = 'jpeg' } = options;
  const gen = new Generator(seed);
  const files: [string, Uint8Array][] = [];
  const names = { trainval: [] as string[], test: [] as string[] };
  for (const [split, count] of [['trainval', trainval], ['test', test]] as const) {
    for (let k = 0; k < count; k++) {
      const name = `synthetic_${split}_${k + 1}`;
      const { rgb, trimap } = drawSyntheticPet(gen, size);
      files.push([`images/${name}.jpg`, imageFormat === 'png' ? encodePng({ width: size, height: size, channels: 3, data: rgb }) : encodeJpeg(rgb, size)]);
      files.push([`annotations/trimaps/${name}.png`, encodePng({ width: size, height: size, channels: 1, data: trimap })]);
      names[split].push(name);
    }
    // Same line format as the official files: Name class_id species breed_id.
    const lines = names[split].map((n, i) => `${n} ${(i % 2) + 1} ${(i % 2) + 1} 1`);
    files.push([`annotations/${split}.txt`, new TextEncoder().encode(`${lines.join('\n')}\n`)]);
  }
  return { files, names };
}
