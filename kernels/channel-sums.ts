/**
 * Per-channel sums, for any kernel that reduces each channel of a tensor: BatchNorm's statistics
 * and gradient sums (batchnorm/sums.ts), and what a GroupNorm or LayerNorm kernel would need.
 *
 * The tensor is seen as [batch, channels, plane]: channel c's values are the `batch` runs of
 * `plane` contiguous values starting at (n·channels + c)·plane, `batch·plane` values in all —
 * NCHW with plane = H·W for BatchNorm; a GroupNorm would pass its input as [1, N·groups,
 * (C/groups)·H·W], each (image, group) one channel. With `vec4` (planes a whole number of vec4s)
 * the loops index vec4s of values.
 *
 * A channel's values are split into chunks (channelChunks), so that a few dozen channels of
 * millions of values still spread over a whole GPU: one kernel writes each (channel, chunk)'s
 * sums, and a per-channel pass of the caller's combines the chunks. A (channel, chunk) is summed
 * by one of three methods (ChannelSumMethod), each a composition of the WGSL pieces below:
 *
 * - `tree` (GPUs): a workgroup of CHANNEL_SUM_WORKGROUP invocations per (channel, chunk);
 *   WORKGROUP_CHUNK, then per sum `sumAccumulator`, `workgroupChunkLoop` (each invocation's
 *   strided share of the chunk), `let s = sumTotal(…)` and `workgroupTreeSum('s')` (leaves
 *   `sTotal`; needs TREE_SCRATCH at module scope).
 * - `lanes` (CPU adapters): the tree's sums by one invocation per (channel, chunk):
 *   INVOCATION_CHUNK, then `for (var lid = 0u; lid < CHANNEL_SUM_WORKGROUP; lid++)` the same
 *   accumulator and `workgroupChunkLoop`, each lane's total stored in a private
 *   `array<f32, CHANNEL_SUM_WORKGROUP>`, then `replayedTreeSum(array)` (leaves the sum in element
 *   0) — the tree's additions in its order, bit-identical to `tree` without its barriers, which
 *   lavapipe pays by switching between all of a workgroup's subgroups.
 * - `serial` (few values per channel, or serial chunks): one invocation per (channel, chunk)
 *   sums it in order: INVOCATION_CHUNK, `sumAccumulator`, `serialChunkLoop`, `sumTotal`. A
 *   256-invocation tree over 16 values costs far more than the sum.
 *
 * The pieces read `channels`, `plane`, `batch`, `chunks` and `chunkLength` from the kernel's
 * parameter block `p` (in any order); channelChunks gives the last two. A (channel, chunk)'s sums
 * belong at index c·chunks + chunk, which is `gid.x` of the one-invocation methods.
 */

/** Invocations of a `tree` workgroup, and the lanes whose sums `lanes` replays. */
export const CHANNEL_SUM_WORKGROUP = 256;

/** How a kernel sums a (channel, chunk): see the module comment. */
export type ChannelSumMethod = 'serial' | 'tree' | 'lanes';

/** Where a kernel stops summing with the chunked tree: settings of the caller's, per adapter. */
export interface ChannelSumLimits {
  /** Values per channel up to which one invocation sums the whole channel (one `serial` chunk). */
  serialMax: number;
  /** Above this many values per channel, `serial` chunks of `serialMax` values; never: Infinity. */
  serialChunksAbove: number;
}

export interface ChannelChunks {
  chunks: number;
  /** Values per chunk; the last chunk of a channel holds the rest. */
  chunkLength: number;
  /** Whether the chunks are summed by the `serial` method (else `tree` or its replay, `lanes`). */
  serial: boolean;
}

/** Chunked tree sums aim at about this many workgroups over all channels... */
const TARGET_GROUPS = 512;
/** ...with chunks of at least this many values (fewer workgroups where channels are short). */
const MIN_CHUNK = 4096;

/**
 * How a channel of `count` values is split into chunks: one serial chunk up to `serialMax`
 * values, serial chunks of `serialMax` values above `serialChunksAbove`, otherwise chunks for
 * the tree sums, about TARGET_GROUPS workgroups over `channels` channels. With `vec4`, chunk
 * bounds fall on whole vec4s (planes are then multiples of 4, so no vec4 straddles two images).
 */
export function channelChunks(count: number, channels: number, vec4: boolean, limits: ChannelSumLimits): ChannelChunks {
  const { serialMax, serialChunksAbove } = limits;
  if (count <= serialMax) return { chunks: 1, chunkLength: count, serial: true };
  if (count > serialChunksAbove) {
    const chunkLength = vec4 ? 4 * Math.max(1, Math.floor(serialMax / 4)) : serialMax;
    return { chunks: Math.ceil(count / chunkLength), chunkLength, serial: true };
  }
  const wanted = Math.max(1, Math.min(Math.ceil(count / MIN_CHUNK), Math.ceil(TARGET_GROUPS / channels)));
  const chunkLength = vec4 ? 4 * Math.ceil(count / wanted / 4) : Math.ceil(count / wanted);
  return { chunks: Math.ceil(count / chunkLength), chunkLength, serial: false };
}

/**
 * Workgroups of a kernel summing every (channel, chunk) by `method`: one per (chunk, channel) for
 * `tree` (wid.x, wid.y), one invocation per (channel, chunk) in workgroups of `serialWorkgroup`
 * otherwise.
 */
export function channelSumWorkgroups(method: ChannelSumMethod, channels: number, chunks: number, serialWorkgroup: number): [number, number, number] {
  return method === 'tree' ? [chunks, channels, 1] : [Math.ceil((channels * chunks) / serialWorkgroup), 1, 1];
}

/** Range [start, end) of chunk `chunk` among channel c's `count` values. */
const CHUNK_BOUNDS = `
  let count = p.batch * p.plane;
  let start = chunk * p.chunkLength;
  let end = min(count, start + p.chunkLength);`;

/** `tree`: the workgroup's channel c = wid.y and chunk = wid.x, and its range [start, end) of the channel's values. */
export const WORKGROUP_CHUNK = `
  let c = wid.y;
  let chunk = wid.x;${CHUNK_BOUNDS}`;

/** `lanes` and `serial`: invocation gid.x's channel c and chunk, and its range [start, end); returns past the last chunk. */
export const INVOCATION_CHUNK = `
  if (gid.x >= p.channels * p.chunks) { return; }
  let c = gid.x / p.chunks;
  let chunk = gid.x % p.chunks;${CHUNK_BOUNDS}`;

/** A sum's accumulator, `var name` (a vec4f with `vec4`: the loops add vec4s of values). */
export const sumAccumulator = (name: string, vec4: boolean) => `var ${name} = ${vec4 ? 'vec4f(0.0)' : '0.0'};`;

/** The f32 total of an accumulator: with `vec4`, its 4 lanes added pairwise. */
export const sumTotal = (name: string, vec4: boolean) => (vec4 ? `((${name}.x + ${name}.y) + (${name}.z + ${name}.w))` : name);

/**
 * Invocation `lid`'s share of the chunk [start, end) of channel c: every CHANNEL_SUM_WORKGROUP-th
 * value (vec4) from `start + lid`, `body` run with the index i of each.
 */
export const workgroupChunkLoop = (body: string, vec4: boolean) =>
  vec4
    ? `
  for (var r = start + 4u * lid; r < end; r += ${4 * CHANNEL_SUM_WORKGROUP}u) {
    let i = ((r / p.plane) * p.channels + c) * (p.plane / 4u) + (r % p.plane) / 4u;
    ${body}
  }`
    : `
  for (var r = start + lid; r < end; r += ${CHANNEL_SUM_WORKGROUP}u) {
    let i = ((r / p.plane) * p.channels + c) * p.plane + r % p.plane;
    ${body}
  }`;

/**
 * The whole chunk [start, end) of channel c in order, `body` run with the index i of each value
 * (vec4), image by image so that no value needs a division for its index.
 */
export const serialChunkLoop = (body: string, vec4: boolean) => `
  for (var n = start / p.plane; n * p.plane < end; n++) {
    // Offset of channel c's plane in image n, minus the values of the images before it.
    let base = (n * p.channels + c) * p.plane - n * p.plane;
    for (var r = max(start, n * p.plane); r < min(end, (n + 1u) * p.plane); r += ${vec4 ? 4 : 1}u) {
      let i = (base + r)${vec4 ? ' / 4u' : ''};
      ${body}
    }
  }`;

/** `tree`'s workgroup memory, at module scope. */
export const TREE_SCRATCH = `var<workgroup> scratch: array<f32, ${CHANNEL_SUM_WORKGROUP}>;`;

/** `tree`: the workgroup's sum of each invocation's `name`, as `let ${name}Total` in every invocation. */
export const workgroupTreeSum = (name: string) => `
  scratch[lid] = ${name};
  workgroupBarrier();
  for (var width = ${CHANNEL_SUM_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) { scratch[lid] += scratch[lid + width]; }
    workgroupBarrier();
  }
  let ${name}Total = scratch[0];
  workgroupBarrier();`;

/**
 * `lanes`: workgroupTreeSum's additions in its order, by one invocation over its array `lanes`
 * of the CHANNEL_SUM_WORKGROUP lanes' sums; the sum is left in `lanes[0]`, bit for bit the
 * workgroup's.
 */
export const replayedTreeSum = (lanes: string) => `
  for (var width = ${CHANNEL_SUM_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    for (var l = 0u; l < width; l++) { ${lanes}[l] += ${lanes}[l + width]; }
  }`;
