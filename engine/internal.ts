/**
 * petseg/engine/internal — the engine's machinery for petseg's own tests and bench, not its API:
 * the buffer pool, tensor storage, the tape's nodes, in-place ops, the convolution planner's
 * entry points and the kernels' authoring helpers. Names here may change in any release.
 */
export { BufferPool, sizeClass, boundSize } from './buffer-pool.js';
export { Storage, shapesOnly } from './tensor.js';
export { needsGrad, record, GraphNode, type BackwardFn } from './autograd.js';
export { expandTo, assign } from './ops/elementwise.js';
export { checkThreshold } from './ops/metrics.js';
export { convCandidates, convKernelsUsed, runConvPlan, conv2dGradInput, conv2dGradWeight, type ConvOperands } from './ops/conv.js';
export { tuneKey, tableKeys, kernelVersion } from './conv-tuner.js';
export { median } from './autotune.js';
export { kernelFamily, kernelFamilies, grid, MAX_GROUPS_PER_DIM, type KernelSpec, type KernelFamily } from '../kernels/kernel.js';
export { entryPoint, kernelHeader } from '../kernels/wgsl.js';
