/** The convolution kernels, by concern: geometry, implicit GEMMs (GPUs), direct, row-vector and subgroup kernels (CPU adapters), and the planner that chooses among them. */
export * from './geometry.js';
export * from './gemm-tiles.js';
export * from './gemm.js';
export * from './direct.js';
export * from './rows.js';
export * from './subgroup.js';
export * from './plan.js';
