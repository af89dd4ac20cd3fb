/**
 * Plain-TypeScript CPU reference of every engine op and layer, forward and backward, in float64
 * (`petseg/engine/reference`). It is the test oracle for the WGSL kernels, and its backwards are
 * themselves checked against finite differences ({@link finiteDifferenceGrads}).
 * Files by concern: tensor (RefTensor, RefOp, broadcasting, sigmoid), ops (the op table), layers
 * (the layer table, BatchNorm's running update), optim (Adam), metrics (Dice/IoU), checks
 * (finite differences, relative error). This barrel is the public surface; nothing else is.
 */
export { RefTensor, refSumTo, type RefOp } from './tensor.js';
export { reference, type ReferenceOpName } from './ops.js';
export { finiteDifferenceGrads, relativeError, type FiniteDifferences } from './checks.js';
export { referenceLayers, refBatchNormRunningUpdate, type RefConvGeometry, type RefBatchNormOptions } from './layers.js';
export { refAdamStep, type RefAdamOptions } from './optim.js';
export { refSegmentationMetrics } from './metrics.js';
