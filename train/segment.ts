/**
 * Segmenting one decoded image, shared by the CLI and the web page: resize to the model's input
 * size, run the model, and turn the logits back into a mask and an overlay at the image's own
 * resolution.
 */
import { noGrad } from '../engine/autograd.js';
import type { Module } from '../engine/nn/module.js';
import { tensor } from '../engine/ops/creation.js';
import { tidy } from '../engine/scope.js';
import { normalizeImage, resizeBilinear, resizeMap, type RasterImage } from './pixels.js';

/** Logits of one RGB image at the model's input size (model in eval mode). */
export async function segmentImage(model: Module, image: RasterImage, size: number): Promise<Float32Array> {
  const input = tensor(normalizeImage(resizeBilinear(image, size, size).data, size), [1, 3, size, size]);
  try {
    // tidy: the layers' intermediate activations go back to the pool at once, not at garbage collection.
    const logits = tidy(() => noGrad(() => model.forward(input)));
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


/** Segment an image and return mask and overlay at its own resolution (logits resized back bilinearly, then thresholded). */
export async function segmentAtFullSize(model: Module, image: RasterImage, size: number, threshold: number): Promise<ReturnType<typeof maskAndOverlay>> {
  const logits = await segmentImage(model, image, size);
  return maskAndOverlay(image, resizeMap(logits, size, image.width, image.height), threshold);
}
