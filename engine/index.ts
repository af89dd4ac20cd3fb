/// <reference types="@webgpu/types" preserve="true" />
/**
 * petseg/engine — GPU tensors on WebGPU with a tape-based autograd.
 *
 * ```ts
 * import { init, randn, tidy } from 'petseg/engine';
 * await init();
 * const w = randn([3, 1], { seed: 0, requiresGrad: true });
 * const loss = tidy(() => x.matmul(w).sub(y).relu().mean());
 * loss.backward();
 * console.log(await w.grad!.toArray());
 * ```
 */
export { init, getRuntime, shutdown, Runtime, type InitOptions, type RuntimeSettings, type RuntimeStats, type Dispatch } from './runtime.js';
export { requestGpu, describeAdapter, NoWebGPUAdapterError, type AdapterReport, type GpuHandle, type RequestGpuOptions, type SubgroupMatrixConfig } from './device.js';
export { DAWN_DEFAULTS, DawnOptionsError } from './dawn-options.js';
export { capsFor, capsFromEnvironment, type AdapterCaps } from './caps.js';
export { describeRuntime, formatRuntimeInfo, type RuntimeInfo } from './info.js';
export { formatProfile, type KernelProfile, type ProfileReport } from './profiler.js';
export { autotune, describeAutotune, type AutotuneOptions, type AutotuneReport, type TunedChoice } from './autotune.js';
export type { ConvDirection, ConvStrategy } from '../kernels/conv/index.js';
export type { PoolStats, PooledBuffer } from './buffer-pool.js';
export { Tensor, isTensor, type TensorOptions, type DType } from './tensor.js';
export { autocast, isAutocasting } from './autocast.js';
export { cast } from './ops/cast.js';
export { backward, noGrad, isGradEnabled, type BackwardOptions } from './autograd.js';
export { tidy, keep, untracked } from './scope.js';
export { Generator, manualSeed, defaultGenerator } from './random.js';
export { tensor, scalar, full, zeros, ones, randn, rand, type RandomOptions } from './ops/creation.js';
export { add, sub, rsub, mul, div, neg, relu, leakyRelu, sigmoid, exp, log, clone } from './ops/elementwise.js';
export { sum, mean, sumTo } from './ops/reduce.js';
export { reshape, concat, narrow, split } from './ops/layout.js';
export { matmul } from './ops/matmul.js';
export { conv2d, convTranspose2d, type Conv2dOptions, type ConvTranspose2dOptions, type Pair } from './ops/conv.js';
export { batchNorm2d, type BatchNormOptions } from './ops/batchnorm.js';
export { maxPool2d, type MaxPool2dOptions } from './ops/pool.js';
export { bceWithLogits, type BceOptions } from './ops/loss.js';
export { segmentationMetrics, summarizeMetrics, type MetricSummary } from './ops/metrics.js';
export { allFinite } from './ops/finite.js';
export { Adam, type AdamOptions, type AdamState } from './optim.js';
export { GradScaler, type GradScalerOptions, type GradScalerState } from './grad-scaler.js';
export { encodeSafetensors, decodeSafetensors, SafetensorsError, type Safetensors, type SafetensorsTensor, type SafetensorsDtype } from './safetensors.js';
export { Module, Conv2d, ConvTranspose2d, BatchNorm2d, MaxPool2d, ReLU, LeakyReLU, Sequential, ModuleList, type StateDict, type StateDtype, type ConvOptions } from './nn/index.js';
/** Shape arithmetic of the ops and the CPU reference: sizes, strides, NumPy broadcasting, axes. */
export * as shapes from './shape.js';

import { getRuntime } from './runtime.js';
import type { RuntimeStats } from './runtime.js';

/** Allocator and execution statistics of the current runtime (live/pooled bytes, buffers created, ...). */
export function memoryStats(): RuntimeStats {
  return getRuntime().stats();
}

/** Start memoryStats().peakLiveBytes over from the bytes live now. */
export function resetPeakMemory(): void {
  getRuntime().pool.resetPeak();
}

/** Submit all recorded GPU work now (e.g. at the end of a training step). */
export function flush(): void {
  getRuntime().flush();
}

/** Submit and wait for the GPU to finish. */
export async function sync(): Promise<void> {
  await getRuntime().sync();
}
