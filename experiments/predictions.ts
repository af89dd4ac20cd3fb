/**
 * A prediction grid — input | truth | prediction | overlay, one row per test image — for one
 * run's best checkpoint, as a PNG. The masks come from `petseg infer --images` (the engine on the
 * adapter, in a child process, as a user would get them: at each image's own resolution); the
 * truth is the image's trimap (1 pet and 3 border are pet). Every cell is CELL_WIDTH × CELL_HEIGHT,
 * the image scaled to fit inside it (white around), so the columns line up.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SPLIT_FILES, decodeImage, encodePng, imagePath, resizeBilinear, resizeNearest, splitNames, trimapPath, type RasterImage } from '../train/index.js';
import { inferJson } from './commands.js';

const CELL_WIDTH = 160;
const CELL_HEIGHT = 128;
const GAP = 4;
/** The grid's columns, left to right, and where each starts (for a heading above the PNG). */
export const GRID_COLUMNS = { names: ['input', 'truth', 'prediction', 'overlay'], width: CELL_WIDTH, gap: GAP } as const;
const COLUMNS = GRID_COLUMNS.names.length;

/** One row's record, written beside the PNG. */
export interface PredictionRow {
  image: string;
  trimap: string;
  /** Dice of the predicted mask against the trimap at the image's resolution (null: the trimap has another size). */
  dice: number | null;
  width: number;
  height: number;
}

/** The first `count` names of the dataset's test split (annotations/test.txt, first word of each line), as the loader reads it. */
export function testImageNames(dataPath: string, count: number): string[] {
  return splitNames(readFileSync(join(dataPath, SPLIT_FILES[1]), 'utf8'), 'test').slice(0, count);
}

function gray(mask: RasterImage): RasterImage {
  const rgb = new Uint8Array(mask.width * mask.height * 3);
  for (let i = 0; i < mask.width * mask.height; i++) rgb.fill(mask.data[i], i * 3, i * 3 + 3);
  return { width: mask.width, height: mask.height, channels: 3, data: rgb };
}

function dice(predicted: Uint8Array, truth: Uint8Array): number {
  let both = 0;
  let sum = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = predicted[i] ? 1 : 0;
    const t = truth[i] ? 1 : 0;
    both += p & t;
    sum += p + t;
  }
  return sum === 0 ? 1 : (2 * both) / sum;
}

/** Draw `image` scaled to fit the cell at (left, top) of `canvas`, centred. */
function pasteCell(canvas: RasterImage, image: RasterImage, left: number, top: number, nearest: boolean): void {
  const scale = Math.min(CELL_WIDTH / image.width, CELL_HEIGHT / image.height);
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const fitted = nearest ? resizeNearest(image, width, height) : resizeBilinear(image, width, height);
  const x0 = left + Math.floor((CELL_WIDTH - width) / 2);
  const y0 = top + Math.floor((CELL_HEIGHT - height) / 2);
  const rgb = fitted.channels === 3 ? fitted : gray(fitted);
  for (let y = 0; y < height; y++) canvas.data.set(rgb.data.subarray(y * width * 3, (y + 1) * width * 3), ((y0 + y) * canvas.width + x0) * 3);
}

/**
 * Segment the images with the checkpoint and draw the grid; returns the PNG and one record per
 * row. Throws (naming the command) when infer fails.
 */
export async function predictionGrid(checkpoint: string, dataPath: string, names: readonly string[]): Promise<{ png: Uint8Array; rows: PredictionRow[] }> {
  const out = mkdtempSync(join(tmpdir(), 'petseg-report-'));
  try {
    const files = names.map((name) => join(dataPath, imagePath(name)));
    const args = [`--model_path=${checkpoint}`, `--out=${out}`, '--json', '--images', ...files];
    const printed = await inferJson<{ images?: { image: string; mask: string; overlay: string }[] }>(args, (result) => `petseg infer --model_path ${checkpoint} --images … exited with code ${result.code ?? result.signal}`);
    const written = printed.images ?? [];
    const rows: PredictionRow[] = [];
    const width = COLUMNS * (CELL_WIDTH + GAP) - GAP;
    const height = Math.max(1, written.length * (CELL_HEIGHT + GAP) - GAP);
    const canvas: RasterImage = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(255) };
    for (const item of written) {
      const name = names[files.indexOf(item.image)];
      const trimapFile = join(dataPath, trimapPath(name));
      const image = decodeImage(readFileSync(item.image), item.image, 3);
      const trimap = decodeImage(readFileSync(trimapFile), trimapFile, 1);
      const truth = new Uint8Array(trimap.data.length);
      for (let p = 0; p < truth.length; p++) truth[p] = trimap.data[p] === 1 || trimap.data[p] === 3 ? 255 : 0;
      const mask = decodeImage(readFileSync(item.mask), item.mask, 1);
      const overlay = decodeImage(readFileSync(item.overlay), item.overlay, 3);
      const sameSize = trimap.width === mask.width && trimap.height === mask.height;
      const top = rows.length * (CELL_HEIGHT + GAP);
      const truthImage: RasterImage = { width: trimap.width, height: trimap.height, channels: 1, data: truth };
      [image, truthImage, mask, overlay].forEach((cell, column) => pasteCell(canvas, cell, column * (CELL_WIDTH + GAP), top, cell.channels === 1));
      rows.push({ image: item.image, trimap: trimapFile, dice: sameSize ? dice(mask.data, truth) : null, width: image.width, height: image.height });
    }
    return { png: encodePng(canvas), rows };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
