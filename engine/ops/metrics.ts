/** Segmentation metrics computed on the GPU. */
import { METRIC_FIELDS, segmentationMetricsKernel, segmentationMetricsParams } from '../../kernels/metrics.js';
import { getRuntime } from '../runtime.js';
import { formatShape, sameShape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Throws a RangeError unless 0 ≤ threshold ≤ 1. */
export function checkThreshold(threshold: number, name = 'mask threshold'): void {
  if (!(typeof threshold === 'number' && threshold >= 0 && threshold <= 1)) {
    throw new RangeError(`${name} must be in [0, 1], got ${threshold}`);
  }
}

/**
 * Per-image [dice, iou, |P∩G|, |P|, |G|] as an [N, 5] tensor, for logits and targets of shape
 * [N, ...] (e.g. [N,1,H,W]). Prediction = sigmoid(logit) > threshold; target = value > 0.5;
 * an empty prediction of an empty target scores 1. Not differentiable.
 */
export function segmentationMetrics(logits: Tensor, targets: Tensor, threshold = 0.5): Tensor {
  checkThreshold(threshold);
  if (!sameShape(logits.shape, targets.shape) || logits.rank < 1) {
    throw new Error(`segmentationMetrics: logits ${formatShape(logits.shape)} and targets ${formatShape(targets.shape)} must have the same shape [N, ...]`);
  }
  const images = logits.shape[0];
  const out = Tensor.empty([images, METRIC_FIELDS.length]);
  if (images > 0) {
    getRuntime().dispatch({
      kernel: segmentationMetricsKernel,
      inputs: [logits.buffer, targets.buffer],
      outputs: [out.buffer],
      params: segmentationMetricsParams(logits.size / images, threshold),
      workgroups: [images, 1, 1],
    });
  }
  return out;
}

/**
 * Segmentation metrics of a set of images ({@link summarizeMetrics}): mean per-image Dice and IoU,
 * dataset-wide Dice, and both per image.
 */
export interface MetricSummary {
  images: number;
  /** Mean of per-image Dice (the primary figure). */
  dice: number;
  /** Mean of per-image IoU. */
  iou: number;
  /** Dice over all pixels of all images: 2Σ|P∩G| / (Σ|P| + Σ|G|). */
  datasetDice: number;
  perImage: { dice: number; iou: number }[];
}

/** Read an [N, 5] metrics tensor back and summarise it. */
export async function summarizeMetrics(metrics: Tensor): Promise<MetricSummary> {
  const v = await metrics.toArray();
  const n = metrics.shape[0];
  const perImage = Array.from({ length: n }, (_, i) => ({ dice: v[i * 5], iou: v[i * 5 + 1] }));
  let inter = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    inter += v[i * 5 + 2];
    total += v[i * 5 + 3] + v[i * 5 + 4];
  }
  const mean = (key: 'dice' | 'iou') => (n ? perImage.reduce((s, m) => s + m[key], 0) / n : NaN);
  return { images: n, dice: mean('dice'), iou: mean('iou'), datasetDice: total === 0 ? 1 : (2 * inter) / total, perImage };
}
