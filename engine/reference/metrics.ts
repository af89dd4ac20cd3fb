/**
 * The segmentation-metrics reference: per-image Dice, IoU and the counts behind them
 * ({@link refSegmentationMetrics}).
 * Must hold: a pixel is predicted when sigmoid(logit) > threshold and is foreground when its
 * target > 0.5; an image with neither scores 1.
 */
import { sigmoid } from './tensor.js';

/** Per-image [dice, iou, |P∩G|, |P|, |G|] of sigmoid(logits) > threshold against targets > 0.5. */
export function refSegmentationMetrics(logits: ArrayLike<number>, targets: ArrayLike<number>, images: number, threshold: number): number[][] {
  const pixels = logits.length / images;
  const out: number[][] = [];
  for (let n = 0; n < images; n++) {
    let i = 0;
    let p = 0;
    let g = 0;
    for (let k = n * pixels; k < (n + 1) * pixels; k++) {
      const isP = sigmoid(logits[k]) > threshold;
      const isG = targets[k] > 0.5;
      p += +isP;
      g += +isG;
      i += +(isP && isG);
    }
    out.push([p + g === 0 ? 1 : (2 * i) / (p + g), p + g === 0 ? 1 : i / (p + g - i), i, p, g]);
  }
  return out;
}
