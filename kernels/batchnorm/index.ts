/** BatchNorm2d's kernels, by concern: the plan (which kernels on which adapter), the per-channel sums, the elementwise kernels. */
export * from './plan.js';
export * from './sums.js';
export * from './elementwise.js';
