/**
 * A synthetic dataset in the official Oxford-IIIT Pet layout: textured "pets" (a body ellipse
 * with a head and two ears, striped or spotted in an animal palette) on textured backgrounds,
 * JPEG images and PNG trimaps (1 pet, 2 background, 3 a border ring, as the real ones).
 * Deterministic for a seed; used by the tests and as the main job's built-in default.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { Generator } from '../engine/random.js';

export interface SyntheticOptions {
  /** Lines in trainval.txt (the lab splits them 9:1 into train and valid). */
  trainval?: number;
  test?: number;
  /** Image side in pixels (images are square; the loader resizes anyway). */
  size?: number;
  seed?: number;
}

interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  angle: number;
}

/** Signed inside-ness: < 1 inside the ellipse. */
function ellipseValue(e: Ellipse, x: number, y: number): number {
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  const dx = x - e.cx;
  const dy = y - e.cy;
  const u = (dx * c + dy * s) / e.rx;
  const v = (-dx * s + dy * c) / e.ry;
  return u * u + v * v;
}

function drawSample(gen: Generator, size: number): { rgb: Uint8Array; trimap: Uint8Array } {
  const r = (lo: number, hi: number) => lo + (hi - lo) * gen.nextFloat();
  const body: Ellipse = { cx: r(0.35, 0.65) * size, cy: r(0.4, 0.65) * size, rx: r(0.18, 0.3) * size, ry: r(0.12, 0.2) * size, angle: r(-0.6, 0.6) };
  const headR = r(0.09, 0.14) * size;
  const side = gen.nextFloat() < 0.5 ? -1 : 1;
  const head: Ellipse = { cx: body.cx + side * body.rx * 0.9, cy: body.cy - body.ry * 0.9, rx: headR, ry: headR * r(0.85, 1.1), angle: 0 };
  const ears: Ellipse[] = [-1, 1].map((k) => ({ cx: head.cx + k * headR * 0.6, cy: head.cy - headR * 0.95, rx: headR * 0.3, ry: headR * 0.5, angle: k * 0.3 }));
  const shapes = [body, head, ...ears];
  const furBase = [r(90, 200), r(60, 150), r(30, 110)];
  const furAlt = furBase.map((v) => v * r(0.3, 0.7));
  const stripes = gen.nextFloat() < 0.5;
  const freq = r(0.08, 0.2);
  const bgBase = [r(40, 220), r(40, 220), r(40, 220)];
  const bgFreq = r(0.02, 0.06);
  const rgb = new Uint8Array(size * size * 3);
  const trimap = new Uint8Array(size * size);
  const border = Math.max(1.5, size / 64);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = Math.min(...shapes.map((e) => ellipseValue(e, x, y)));
      // Distance to the outline, approximately, in pixels (for the trimap's border ring).
      const edge = Math.abs(Math.sqrt(inside) - 1) * Math.min(body.ry, headR);
      const i = y * size + x;
      const noise = (gen.nextFloat() - 0.5) * 30;
      let color: number[];
      if (inside < 1) {
        const pattern = stripes ? Math.sin((x * Math.cos(body.angle) + y * Math.sin(body.angle)) * freq) : Math.sin(x * freq) * Math.sin(y * freq);
        color = pattern > 0.2 ? furAlt : furBase;
        trimap[i] = edge < border ? 3 : 1;
      } else {
        const wave = 25 * Math.sin(x * bgFreq + y * bgFreq * 0.7) + 20 * Math.cos(y * bgFreq * 1.3);
        color = bgBase.map((v) => v + wave);
        trimap[i] = edge < border ? 3 : 2;
      }
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.max(0, Math.min(255, Math.round(color[c] + noise)));
    }
  }
  return { rgb, trimap };
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
      const { rgb, trimap } = drawSample(gen, size);
      const rgba = new Uint8Array(size * size * 4);
      for (let i = 0; i < size * size; i++) {
        rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
        rgba[i * 4 + 3] = 255;
      }
      writeFileSync(join(root, 'images', `${name}.jpg`), jpeg.encode({ data: rgba, width: size, height: size }, 92).data);
      const png = new PNG({ width: size, height: size, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
      png.data = Buffer.from(trimap);
      writeFileSync(join(root, 'annotations', 'trimaps', `${name}.png`), PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }));
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
