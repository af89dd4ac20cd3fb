/**
 * The kernel registry: one file per kernel family, each exporting a KernelSpec factory (WGSL
 * source + specialization key, cached by the runtime) and its launch-shape helpers.
 */
export * from './kernel.js';
export * from './elementwise.js';
export * from './fill.js';
export * from './reduce.js';
export * from './slice-copy.js';
export * from './matmul.js';
export * from './conv/index.js';
export * from './batchnorm.js';
export * from './pool.js';
export * from './bce.js';
export * from './adam.js';
export * from './metrics.js';
export * from './finite.js';
export * from './cast.js';

/** Every kernel family the engine can launch (names as in the pipeline cache; a test checks the layer kernels against it). */
export const KERNEL_FAMILIES = [
  'elementwise', 'fill', 'fill-noise', 'reduce-sum', 'slice-copy', 'matmul',
  // Convolutions (kernels/conv/): direct, row-vector and subgroup kernels (CPU adapters), implicit GEMMs (GPUs).
  'conv-pack-weights', 'conv-gather', 'conv-gather-3x3-rows', 'conv-gather-subgroup', 'conv-gather-channels-subgroup',
  'conv-scatter', 'conv-scatter-subgroup', 'conv-transpose-tiled',
  'conv-weight', 'conv-weight-direct', 'conv-weight-3x3-rows', 'conv-weight-1x1-rows', 'conv-weight-direct-subgroup', 'conv-weight-3x3-rows-direct-subgroup',
  'conv-gemm', 'conv-weight-gemm', 'conv-transpose-gemm',
  'batchnorm-partial-stats', 'batchnorm-combine-stats', 'batchnorm-eval-invstd', 'batchnorm-normalize',
  'batchnorm-grad-partial', 'batchnorm-grad-combine', 'batchnorm-grad-input',
  'maxpool-forward', 'maxpool-backward', 'maxpool-2x2-rows-forward', 'maxpool-2x2-rows-backward',
  'bce-logits-forward', 'bce-logits-backward', 'adam', 'segmentation-metrics', 'non-finite', 'cast', 'unscale',
] as const;
