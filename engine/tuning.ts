/**
 * Kernel parameters that depend on the adapter, chosen once when the runtime starts. Defaults
 * suit lavapipe and real GPUs; SwiftShader (Chrome's software WebGPU) needs smaller kernels, and
 * CPU adapters run convolutions with the direct kernel rather than the implicit GEMM.
 */
import type { AdapterReport } from './device.js';
import { BATCHNORM_SERIAL_MAX } from '../kernels/batchnorm.js';
import { CONV_TAP_GROUP } from '../kernels/conv.js';
import type { GemmTileName } from '../kernels/conv-gemm.js';

export interface AdapterTuning {
  /** Taps of a conv weight-gradient kernel per pass (its 4-channel accumulators per tap are the kernel's size). */
  convTapGroup: number;
  /**
   * How conv2d forward, the grad-inputs computed as a gather and the weight gradients run:
   * `gemm`, the implicit GEMMs of kernels/conv-gemm.ts that stage tiles in workgroup memory
   * (GPUs), or `direct`, the register-tiled kernels of kernels/conv.ts (CPU adapters).
   */
  conv: 'gemm' | 'direct';
  /** Block shape of the implicit GEMMs: `auto` picks one per layer (kernels/conv-gemm.ts gemmTileFor). */
  gemmTile: GemmTileName | 'auto';
  /**
   * Subgroup size of the direct kernels that share weight loads across a subgroup (kernels/conv.ts
   * convGather3x3RowsSubgroupKernel); 0: not used. Set on CPU adapters whose subgroups have one
   * fixed size (lavapipe: 8), since the kernels are specialized on it. Not on SwiftShader, whose
   * shader compiler is super-linear in live values (see below); GPUs run the implicit GEMMs.
   */
  subgroupSize: number;
  /**
   * BatchNorm statistics and gradient sums: values per channel up to which one invocation per
   * channel sums them (kernels/batchnorm.ts), in workgroups of `batchNormSerialWorkgroup`. GPUs
   * need the parallel chunked sums beyond a few hundred values; on CPU adapters their tree sums'
   * barriers cost more (4×64×16×16 forward+backward on lavapipe: 7.6 → 2.0 ms serial). Serial up
   * to 4096 values was faster still, but its different rounding of ResNet34_UNet's first
   * BatchNorm flipped near-ties in the max-pool after it and moved the PyTorch-parity gradients of
   * the stem by 2e-2 (test/models.test.ts), so CPU adapters stop at 1024.
   */
  batchNormSerialMax: number;
  batchNormSerialWorkgroup: number;
  /**
   * Above this many values per channel, BatchNorm sums serial chunks of `batchNormSerialMax`
   * values, one invocation each, instead of the 256-invocation tree sums (kernels/batchnorm.ts):
   * CPU adapters, whose barriers cost more than the sums (1.6–2.8× per forward+backward on
   * lavapipe at 8×16×128×128 … 8×128×16×16). Not at 8192 values and fewer, where the tree sums'
   * rounding is kept: at the model parity fixtures' 2×64×64, any change of BatchNorm's rounding
   * flips near-tied ReLU and max-pool masks and moves the float64-referenced gradients of UNet-64
   * and ResNet34_UNet by 5e-3–2e-2 (PyTorch's own float32 moves them by up to 1e-2). GPUs: never.
   */
  batchNormSerialChunksAbove: number;
  /**
   * Vec4s of one channel per invocation of BatchNorm's normalize and grad-input kernels, where
   * planes hold a multiple of that many (kernels/batchnorm.ts batchNormElementRun): CPU adapters
   * 4 (the channel's scalars loaded once for them), GPUs 1.
   */
  batchNormElementRun: number;
  /**
   * BatchNorm's chunked tree sums (between `batchNormSerialMax` and `batchNormSerialChunksAbove`
   * values per channel) by one invocation per chunk, replaying the 256 lanes' sums and the tree's
   * additions in the same order — bit-identical without the barriers (CPU adapters); false: the
   * 256-invocation workgroups (GPUs).
   */
  batchNormTreeInLanes: boolean;
}

export function isSwiftShader(report: AdapterReport): boolean {
  return /swiftshader/i.test(`${report.architecture} ${report.description}`);
}

/** CPU implementations of WebGPU (lavapipe, SwiftShader), where workgroup memory and barriers cost more than they save. */
export function isSoftwareAdapter(report: AdapterReport): boolean {
  return report.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(`${report.architecture} ${report.description} ${report.device}`);
}

export function tuningFor(report: AdapterReport): AdapterTuning {
  // The implicit GEMM runs 2–4× slower than the direct kernel on lavapipe, and ≈ 5–10× faster on an H100.
  // SwiftShader's shader compiler is super-linear in these accumulators: the 3×3 weight-gradient
  // kernel compiles in 0.45 s with 5 taps, 1.6 s with 7 and 51 s with 9 (lavapipe: 30 ms).
  return {
    convTapGroup: isSwiftShader(report) ? 5 : CONV_TAP_GROUP,
    conv: isSoftwareAdapter(report) ? 'direct' : 'gemm',
    gemmTile: 'auto',
    subgroupSize: isSoftwareAdapter(report) && !isSwiftShader(report) ? fixedSubgroupSize(report) : 0,
    // CPU adapters: workgroups of 8 so that a few dozen channels still spread over every core.
    batchNormSerialMax: isSoftwareAdapter(report) ? 1024 : BATCHNORM_SERIAL_MAX,
    batchNormSerialWorkgroup: isSoftwareAdapter(report) ? 8 : 64,
    batchNormSerialChunksAbove: isSoftwareAdapter(report) ? 8192 : Number.POSITIVE_INFINITY,
    batchNormElementRun: isSoftwareAdapter(report) ? 4 : 1,
    batchNormTreeInLanes: isSoftwareAdapter(report),
  };
}

/** The adapter's subgroup size if subgroups are enabled and always that size (a divisor of 64), else 0. */
export function fixedSubgroupSize(report: AdapterReport): number {
  const size = report.subgroupMinSize;
  return report.features.includes('subgroups') && size >= 4 && size === report.subgroupMaxSize && 64 % size === 0 ? size : 0;
}
