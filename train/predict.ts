/**
 * Inference on single image files: each is decoded (any of JPEG/PNG/GIF, by content), resized to
 * the model's input size, segmented, and the logits resized back to the image's own resolution,
 * so the mask and overlay PNGs line up with the original pixels.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import type { Module } from '../engine/nn/module.js';
import { checkThreshold } from '../engine/ops/metrics.js';
import { tensor } from '../engine/ops/creation.js';
import { normalizeImage } from './dataset.js';
import { decodeImage, encodePng, resizeBilinear, type RasterImage } from './images.js';

/** Bilinear resize (half-pixel centres) of a size×size float map to width×height. */
export function resizeMap(map: Float32Array, size: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max(((y + 0.5) * size) / height - 0.5, 0), size - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, size - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max(((x + 0.5) * size) / width - 0.5, 0), size - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, size - 1);
      const wx = fx - x0;
      const top = map[y0 * size + x0] * (1 - wx) + map[y0 * size + x1] * wx;
      const bottom = map[y1 * size + x0] * (1 - wx) + map[y1 * size + x1] * wx;
      out[y * width + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** Logits of one RGB image at the model's input size (model in eval mode). */
export async function segmentImage(model: Module, image: RasterImage, size: number): Promise<Float32Array> {
  const input = tensor(normalizeImage(resizeBilinear(image, size, size).data, size), [1, 3, size, size]);
  try {
    const logits = noGrad(() => model.forward(input));
    try {
      return await logits.toArray();
    } finally {
      logits.dispose();
    }
  } finally {
    input.dispose();
  }
}

/** Pet where sigmoid(logit) > threshold, as 0/255 gray; and the image with pet pixels tinted. */
export function maskAndOverlay(image: RasterImage, logits: Float32Array, threshold: number): { mask: RasterImage; overlay: RasterImage; petFraction: number } {
  const cut = Math.log(threshold / (1 - threshold));
  const pixels = image.width * image.height;
  const mask = new Uint8Array(pixels);
  const overlay = new Uint8Array(pixels * 3);
  const tint = [255, 64, 0];
  let pet = 0;
  for (let i = 0; i < pixels; i++) {
    const isPet = logits[i] > cut;
    mask[i] = isPet ? 255 : 0;
    pet += isPet ? 1 : 0;
    for (let c = 0; c < 3; c++) {
      const v = image.data[i * 3 + c];
      overlay[i * 3 + c] = isPet ? Math.round(0.55 * v + 0.45 * tint[c]) : Math.round(0.6 * v);
    }
  }
  return {
    mask: { width: image.width, height: image.height, channels: 1, data: mask },
    overlay: { width: image.width, height: image.height, channels: 3, data: overlay },
    petFraction: pixels ? pet / pixels : 0,
  };
}

export interface PredictedFile {
  image: string;
  mask: string;
  overlay: string;
  width: number;
  height: number;
  petFraction: number;
}

/**
 * Segment each file and write `<name>_mask.png` and `<name>_overlay.png` into `outDir` at the
 * image's resolution. Unreadable files throw ImageDecodeError naming the file (the caller decides
 * whether to skip).
 */
export async function predictFile(model: Module, file: string, options: { size: number; threshold: number; outDir: string }): Promise<PredictedFile> {
  checkThreshold(options.threshold, '--mask_threshold');
  const image = decodeImage(readFileSync(file), file, 3);
  const logits = await segmentImage(model, image, options.size);
  const full = resizeMap(logits, options.size, image.width, image.height);
  const { mask, overlay, petFraction } = maskAndOverlay(image, full, options.threshold);
  mkdirSync(options.outDir, { recursive: true });
  const stem = basename(file, extname(file));
  const maskFile = join(options.outDir, `${stem}_mask.png`);
  const overlayFile = join(options.outDir, `${stem}_overlay.png`);
  writeFileSync(maskFile, encodePng(mask));
  writeFileSync(overlayFile, encodePng(overlay));
  return { image: file, mask: maskFile, overlay: overlayFile, width: image.width, height: image.height, petFraction };
}
