/**
 * Bounds on a model's size and its input, shared by the command line's arguments and by the
 * checkpoint metadata that stands in for them: a file may not ask for what an argument may not
 * (a tensor past the device's or a typed array's limits).
 */

/** An inclusive integer range an argument must lie in. */
export interface Bound {
  min: number;
  max: number;
}

/** Input side in pixels (4096² is 16.8 MP per image; the decoded splits are checked against host memory too). */
export const IMG_SIZE: Bound = { min: 16, max: 4096 };

/**
 * UNet's width, the channels of its first block. Its widest weight, the bottleneck's 3×3
 * convolution of 16·c → 16·c channels, is (16·c)²·9 floats: at 120, 126.6 MiB, within the
 * 128 MiB storage binding every WebGPU adapter offers (lavapipe offers no more); the network is
 * then about 440 MB.
 */
export const BASE_CHANNELS: Bound = { min: 1, max: 120 };

/** Image channels a model reads (the pipeline feeds RGB; a file exported elsewhere may differ). */
export const IN_CHANNELS: Bound = { min: 1, max: 16 };

/** Seeds are uint32. */
export const SEED: Bound = { min: 0, max: 0xffffffff };

/** Whether `value` is an integer within `bound`. */
export function withinBound(value: unknown, bound: Bound): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= bound.min && value <= bound.max;
}
