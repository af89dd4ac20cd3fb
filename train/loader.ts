/**
 * Batches: a seeded shuffle per epoch, host-side assembly (optional augmentation, ImageNet
 * normalisation to NCHW float32) and upload. The trainer uploads batch i+1 right after
 * submitting batch i's step, so the host work and the copy overlap the GPU's work.
 */
import { tensor } from '../engine/ops/creation.js';
import { Generator } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { augmentSample } from './augment.js';
import { normalizeImage, type Sample } from './pixels.js';

/** A generator for one purpose of one epoch, so an epoch's draws do not depend on earlier epochs (exact resume). */
export function epochGenerator(seed: number, epoch: number, purpose: 'shuffle' | 'augment'): Generator {
  return new Generator((Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch, 0x85ebca6b) ^ (purpose === 'shuffle' ? 0x1b873593 : 0x5bd1e995)) >>> 0);
}

/** A Fisher–Yates permutation of 0..n-1. */
export function shuffledOrder(n: number, gen: Generator): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = gen.nextUint32() % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** One batch on the GPU: normalised images and binary masks, and the samples they came from. */
export interface Batch {
  /** [n, 3, size, size], normalised. */
  images: Tensor;
  /** [n, 1, size, size] in {0, 1}. */
  masks: Tensor;
  /** The samples in the batch, in order. */
  samples: Sample[];
}

/**
 * Options of {@link BatchLoader}: batch size, image size, sample order and the augmentation
 * generator (none: no augmentation).
 */
export interface BatchLoaderOptions {
  batchSize: number;
  size: number;
  /** Sample order (default: as given). */
  order?: readonly number[];
  /** Augment each sample with draws from this generator (in batch order). */
  augment?: Generator;
}

/**
 * Batches of samples in a given order: load(i) assembles batch i on the host (augmented,
 * normalised to NCHW) and uploads it.
 */
export class BatchLoader {
  readonly length: number;
  private readonly order: readonly number[];

  constructor(
    private readonly samples: readonly Sample[],
    private readonly options: BatchLoaderOptions,
  ) {
    if (!(options.batchSize >= 1)) throw new RangeError(`batch size must be ≥ 1, got ${options.batchSize}`);
    this.order = options.order ?? samples.map((_, i) => i);
    this.length = Math.ceil(this.order.length / options.batchSize);
  }

  /** Assemble batch `index` on the host and upload it. Call in increasing order when augmenting (the draws are sequential). */
  load(index: number): Batch {
    const { batchSize, size, augment } = this.options;
    const picked = this.order.slice(index * batchSize, (index + 1) * batchSize).map((i) => this.samples[i]);
    const batch = augment ? picked.map((s) => augmentSample(s, size, augment)) : picked;
    const plane = size * size;
    const images = new Float32Array(batch.length * 3 * plane);
    const masks = new Float32Array(batch.length * plane);
    batch.forEach((s, i) => {
      normalizeImage(s.image, size, images.subarray(i * 3 * plane, (i + 1) * 3 * plane));
      for (let p = 0; p < plane; p++) masks[i * plane + p] = s.mask[p];
    });
    return {
      images: tensor(images, [batch.length, 3, size, size]),
      masks: tensor(masks, [batch.length, 1, size, size]),
      samples: batch,
    };
  }
}

/** Frees a batch's image and mask tensors. */
export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.masks.dispose();
}
