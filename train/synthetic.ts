/**
 * A synthetic dataset in the official Oxford-IIIT Pet layout (drawn by synthetic-pets.ts): JPEG
 * images and PNG trimaps. Deterministic for a seed; used by the tests and as the main job's
 * built-in default.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { Generator } from '../engine/random.js';
import { encodePng } from './png.js';
import { drawSyntheticPet } from './synthetic-pets.js';

export interface SyntheticOptions {
  /** Lines in trainval.txt (the lab splits them 9:1 into train and valid). */
  trainval?: number;
  test?: number;
  /** Image side in pixels (images are square; the loader resizes anyway). */
  size?: number;
  seed?: number;
}

/** Write the dataset under `root` (created if needed); returns the image names by split file. */
export function writeSyntheticDataset(root: string, options: SyntheticOptions = {}): { trainval: string[]; test: string[] } {
  const { trainval = 60, test = 20, size = 96, seed = 0 } = options;
  const gen = new Generator(seed);
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'annotations', 'trimaps'), { recursive: true });
  const names = { trainval: [] as string[], test: [] as string[] };
  for (const [split, count] of [['trainval', trainval], ['test', test]] as const) {
    for (let k = 0; k < count; k++) {
      const name = `synthetic_${split}_${k + 1}`;
      const { rgb, trimap } = drawSyntheticPet(gen, size);
      const rgba = new Uint8Array(size * size * 4);
      for (let i = 0; i < size * size; i++) {
        rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
        rgba[i * 4 + 3] = 255;
      }
      writeFileSync(join(root, 'images', `${name}.jpg`), jpeg.encode({ data: rgba, width: size, height: size }, 92).data);
      writeFileSync(join(root, 'annotations', 'trimaps', `${name}.png`), encodePng({ width: size, height: size, channels: 1, data: trimap }));
      names[split].push(name);
    }
    // Same line format as the official files: Name class_id species breed_id.
    const lines = names[split].map((n, i) => `${n} ${(i % 2) + 1} ${(i % 2) + 1} 1`);
    writeFileSync(join(root, 'annotations', `${split}.txt`), `${lines.join('\n')}\n`);
  }
  return names;
}

/** The built-in synthetic set's size: 200 trainval lines (180 train, 20 valid) and 40 test images. */
export const BUILTIN_SYNTHETIC: Required<SyntheticOptions> = { trainval: 200, test: 40, size: 96, seed: 0 };

/**
 * Write the built-in synthetic set to `root` unless it is there; returns whether it was written.
 * Written to a temporary sibling and renamed, so an interrupted run never leaves half a set.
 */
export function ensureSyntheticDataset(root: string, options: Required<SyntheticOptions> = BUILTIN_SYNTHETIC): boolean {
  const marker = join(root, 'petseg-synthetic.json');
  if (existsSync(marker)) return false;
  const temporary = `${root}.tmp-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  writeSyntheticDataset(temporary, options);
  writeFileSync(join(temporary, 'petseg-synthetic.json'), `${JSON.stringify(options)}\n`);
  mkdirSync(dirname(root), { recursive: true });
  rmSync(root, { recursive: true, force: true });
  renameSync(temporary, root);
  return true;
}
