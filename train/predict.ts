/**
 * Inference on single image files: each is decoded (any of JPEG/PNG/GIF, by content), resized to
 * the model's input size, segmented, and the logits resized back to the image's own resolution,
 * so the mask and overlay PNGs line up with the original pixels.
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Module } from '../engine/nn/module.js';
import { checkThreshold } from '../engine/ops/metrics.js';
import { writeFileAtomic } from '../models/checkpoint.js';
import { ImageDecodeError } from './images.js';
import { decodeImage, encodePng } from './images.js';
import { readFileSync, statSync } from 'node:fs';
import { segmentAtFullSize } from './segment.js';

/**
 * What {@link predictFile} wrote for one image: the input, its mask and overlay PNGs, the image's
 * size, and the fraction of its pixels that are pet.
 */
export interface PredictedFile {
  image: string;
  mask: string;
  overlay: string;
  width: number;
  height: number;
  petFraction: number;
}

/**
 * The output name of each input file: its name without the extension, with `-2`, `-3`, … added
 * (in input order) where two inputs would otherwise share one (`a/cat.jpg b/cat.jpg`, `cat.jpg
 * cat.png`), so no result overwrites another.
 */
export function uniqueStems(files: readonly string[]): string[] {
  const used = new Set<string>();
  return files.map((file) => {
    const stem = basename(file, extname(file));
    let name = stem;
    for (let n = 2; used.has(name); n++) name = `${stem}-${n}`;
    used.add(name);
    return name;
  });
}

/**
 * Segment a file and write `<stem>_mask.png` and `<stem>_overlay.png` into `outDir` at the
 * image's resolution (`stem`: the file's name without its extension, unless given — see
 * uniqueStems). Unreadable files (a folder, a dangling link, damaged data) throw ImageDecodeError
 * naming the file (the caller decides whether to skip). Each output appears whole or not at all
 * (written under a temporary name, then renamed): a full disk leaves no truncated image, and its
 * error names the file.
 */
/**
 * A photo file's bytes. What cannot be read as a file — a folder, a dangling link, a loop, no
 * permission — is an ImageDecodeError naming it, so it is skipped like a damaged image.
 */
function readImageFile(file: string): Uint8Array {
  try {
    if (statSync(file).isDirectory()) throw new ImageDecodeError(`${file}: a folder, not a file`);
    return readFileSync(file);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(`${file}: ${code === 'ENOENT' ? 'image missing' : `cannot be read (${code ?? (err as Error).message})`}`);
  }
}

/**
 * Segments the image file `file` and writes `<stem>_mask.png` and `<stem>_overlay.png`, at the
 * image's own size, into `outDir`.
 */
export async function predictFile(model: Module, file: string, options: { size: number; threshold: number; outDir: string; stem?: string }): Promise<PredictedFile> {
  checkThreshold(options.threshold, 'maskThreshold');
  const image = decodeImage(readImageFile(file), file, 3);
  const { mask, overlay, petFraction } = await segmentAtFullSize(model, image, options.size, options.threshold);
  mkdirSync(options.outDir, { recursive: true });
  const stem = options.stem ?? basename(file, extname(file));
  const maskFile = join(options.outDir, `${stem}_mask.png`);
  const overlayFile = join(options.outDir, `${stem}_overlay.png`);
  writeFileAtomic(maskFile, encodePng(mask));
  writeFileAtomic(overlayFile, encodePng(overlay));
  return { image: file, mask: maskFile, overlay: overlayFile, width: image.width, height: image.height, petFraction };
}
