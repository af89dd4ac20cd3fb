/**
 * Which BatchNorm kernels run a call, and with which parameters: pure functions of the adapter's
 * settings (batchNormSettings, from engine/caps.ts's `software`; init({ batchNorm }) overrides
 * them) and the shapes, as conv/plan.ts is for convolutions. The kernels are in sums.ts
 * (per-channel statistics and gradient sums) and elementwise.ts (normalize, grad-input).
 */
import { channelChunks, channelSumWorkgroups, type ChannelSumMethod } from '../channel-sums.js';
import { f32Bits } from '../kernel.js';

/** Fields of every BatchNorm kernel's parameter block, in the order batchNormPlan writes them. */
export const BATCHNORM_PARAMS = 'channels: u32, plane: u32, batch: u32, total: u32, eps: u32, momentum: u32, chunks: u32, chunkLength: u32';

/** How BatchNorm sums and normalizes on an adapter. */
export interface BatchNormSettings {
  /**
   * Values per channel up to which one invocation per channel sums them, in workgroups of
   * `serialWorkgroup`. GPUs need the parallel chunked sums beyond a few hundred values; on CPU
   * adapters the tree sums' barriers cost more. CPU adapters stop at 1024: a larger bound rounds
   * ResNet34_UNet's first BatchNorm differently, and its PyTorch-parity gradients
   * (test/models.test.ts) do not survive that (the near-tied max-pool after it flips).
   */
  serialMax: number;
  serialWorkgroup: number;
  /**
   * Above this many values per channel, serial chunks of `serialMax` values, one invocation each,
   * instead of the 256-invocation tree sums (CPU adapters, whose barriers cost more than the
   * sums). Not at 8192 values and fewer, where the tree sums' rounding is kept: at the model
   * parity fixtures' 2×64×64, any change of BatchNorm's rounding flips near-tied ReLU and
   * max-pool masks and moves the float64-referenced gradients of UNet-64 and ResNet34_UNet by
   * 5e-3–2e-2 (PyTorch's own float32 moves them by up to 1e-2). GPUs: never.
   */
  serialChunksAbove: number;
  /** Vec4s of one channel per invocation of the normalize and grad-input kernels, where planes hold a multiple of that many (batchNormElementRun): CPU adapters 4 (the channel's scalars loaded once for them), GPUs 1. */
  elementRun: number;
  /**
   * The chunked tree sums by one invocation per chunk, replaying the 256 lanes' sums and the
   * tree's additions in the same order — bit-identical without the barriers (CPU adapters,
   * channel-sums.ts's `lanes`); false: the 256-invocation workgroups (GPUs, `tree`).
   */
  treeInLanes: boolean;
}

/** Values per channel up to which one invocation per channel sums them on GPUs. */
const BATCHNORM_SERIAL_MAX = 512;

export function batchNormSettings(software: boolean): BatchNormSettings {
  // CPU adapters: workgroups of 8 so that a few dozen channels still spread over every core.
  return software
    ? { serialMax: 1024, serialWorkgroup: 8, serialChunksAbove: 8192, elementRun: 4, treeInLanes: true }
    : { serialMax: BATCHNORM_SERIAL_MAX, serialWorkgroup: 64, serialChunksAbove: Number.POSITIVE_INFINITY, elementRun: 1, treeInLanes: false };
}

/**
 * Every BatchNorm kernel takes 4 values per invocation (vec4 loads and stores) when planes are a
 * whole number of vec4s, so the 4 share a channel: the same arithmetic per value, a quarter of
 * the invocations and channel lookups (CPU adapters pay per load).
 */
function batchNormVec4(plane: number): boolean {
  return plane % 4 === 0;
}

/**
 * Vec4s of one channel per invocation of the elementwise kernels: `wanted` where planes hold a
 * multiple of that many vec4s, else 1. The channel's scalars are loaded once for them —
 * lavapipe pays each load lane by lane, and the per-channel ones were 4 of normalize's 5 loads
 * per vec4.
 */
export function batchNormElementRun(plane: number, wanted: number): number {
  return batchNormVec4(plane) && (plane / 4) % wanted === 0 ? wanted : 1;
}

/** The kernels and parameters of one batchNorm2d call (forward and backward share them). */
export interface BatchNormPlan {
  /** The parameter block of every kernel of the call (fields BATCHNORM_PARAMS). */
  params: number[];
  /** Chunks per channel: the partial-sum kernels write [channels, chunks, 2] values. */
  chunks: number;
  /** How the partial-sum kernels sum a (channel, chunk). */
  sums: ChannelSumMethod;
  /** Invocations per workgroup of the `serial` and `lanes` partial-sum kernels. */
  serialWorkgroup: number;
  /** Workgroups of the partial-sum kernels. */
  sumWorkgroups: [number, number, number];
  /** Planes of whole vec4s (batchNormVec4). */
  vec4: boolean;
  /** Elements (vec4s) of one channel per invocation of normalize and grad-input (batchNormElementRun). */
  run: number;
}

/** The plan of batchNorm2d over x [batch, channels, H, W] with plane = H·W, on an adapter with `settings`. */
export function batchNormPlan(batch: number, channels: number, plane: number, eps: number, momentum: number, settings: BatchNormSettings): BatchNormPlan {
  const vec4 = batchNormVec4(plane);
  const { chunks, chunkLength, serial } = channelChunks(batch * plane, channels, vec4, settings);
  const sums: ChannelSumMethod = serial ? 'serial' : settings.treeInLanes ? 'lanes' : 'tree';
  return {
    params: [channels, plane, batch, batch * channels * plane, f32Bits(eps), f32Bits(momentum), chunks, chunkLength],
    chunks,
    sums,
    serialWorkgroup: settings.serialWorkgroup,
    sumWorkgroups: channelSumWorkgroups(sums, channels, chunks, settings.serialWorkgroup),
    vec4,
    run: batchNormElementRun(plane, settings.elementRun),
  };
}
