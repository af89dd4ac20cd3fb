/**
 * Augmentation applied identically to an image and its mask: random horizontal flip, vertical
 * flip and rotation, drawn from a seeded generator so a run is reproducible (and a resumed run
 * draws what the uninterrupted one would have).
 */
import type { Generator } from '../engine/random.js';
import type { Sample } from './pixels.js';

/** Options of {@link augmentSample}: the probability of each flip and the largest rotation. */
export interface AugmentOptions {
  /** Probability of each flip (default 0.5). */
  flipProbability?: number;
  /** Rotation angle drawn uniformly from [-maxRotation, maxRotation] degrees (default 15). */
  maxRotation?: number;
}

/**
 * An augmented copy of a square sample (size×size×3 image, size×size mask). Rotation resamples
 * the image bilinearly and the mask by nearest neighbour about the centre; pixels rotated in from
 * outside are black and background, as torchvision's RandomRotation fills them.
 */
export function augmentSample(sample: Sample, size: number, gen: Generator, options: AugmentOptions = {}): Sample {
  const p = options.flipProbability ?? 0.5;
  const maxRotation = options.maxRotation ?? 15;
  // Draw every random number up front, whatever is used, so the stream stays aligned.
  const hflipDraw = gen.nextFloat();
  const vflipDraw = gen.nextFloat();
  const angleDraw = gen.nextFloat();
  const hflip = hflipDraw < p;
  const vflip = vflipDraw < p;
  const angle = ((2 * angleDraw - 1) * maxRotation * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const centre = (size - 1) / 2;
  const image = new Uint8Array(size * size * 3);
  const mask = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Inverse map: output pixel → rotated source position → flipped source pixel.
      const dx = x - centre;
      const dy = y - centre;
      let sx = cos * dx + sin * dy + centre;
      let sy = -sin * dx + cos * dy + centre;
      if (hflip) sx = size - 1 - sx;
      if (vflip) sy = size - 1 - sy;
      const out = y * size + x;
      const nx = Math.round(sx);
      const ny = Math.round(sy);
      if (nx >= 0 && nx < size && ny >= 0 && ny < size) mask[out] = sample.mask[ny * size + nx];
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const wx = sx - x0;
      const wy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => (xx >= 0 && xx < size && yy >= 0 && yy < size ? sample.image[(yy * size + xx) * 3 + c] : 0);
        const top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx;
        const bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx;
        image[out * 3 + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return { name: sample.name, image, mask };
}
