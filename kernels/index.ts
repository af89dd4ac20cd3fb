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
export * from './conv.js';
export * from './conv-gemm.js';
export * from './batchnorm.js';
export * from './pool.js';
export * from './bce.js';
export * from './adam.js';
export * from './metrics.js';

/** Every kernel family the engine can launch (names as in the pipeline cache). */
export const KERNEL_FAMILIES = [
  'elementwise', 'fill', 'reduce-sum', 'slice-copy', 'matmul',
  'conv-gather', 'conv-scatter', 'conv-weight', 'conv-weight-direct', 'conv-gemm', 'conv-weight-gemm', 'conv-transpose-gemm',
  'batchnorm-partial-stats', 'batchnorm-combine-stats', 'batchnorm-eval-invstd', 'batchnorm-normalize',
  'batchnorm-grad-partial', 'batchnorm-grad-combine', 'batchnorm-grad-input',
  'maxpool-forward', 'maxpool-backward', 'bce-logits-forward', 'bce-logits-backward', 'adam', 'segmentation-metrics',
] as const;
