/**
 * Every kernel family: one file per family (a folder for convolutions and BatchNorm), each
 * declaring its families with `kernelFamily` (kernel.ts) and exporting KernelSpec factories (WGSL
 * source + specialization key, made once per key) and their launch-shape helpers. Importing this
 * module loads them all, so `kernelFamilies()` then lists every family the engine can launch.
 */
export * from './kernel.js';
export * from './elementwise.js';
export * from './fill.js';
export * from './reduce.js';
export * from './slice-copy.js';
export * from './matmul.js';
export * from './conv/index.js';
export * from './channel-sums.js';
export * from './batchnorm/index.js';
export * from './pool.js';
export * from './bce.js';
export * from './adam.js';
export * from './metrics.js';
export * from './finite.js';
export * from './cast.js';
