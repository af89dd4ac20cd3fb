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

/** Every kernel family the engine can launch (names as in the pipeline cache). */
export const KERNEL_FAMILIES = ['elementwise', 'fill', 'reduce-sum', 'slice-copy', 'matmul'] as const;
