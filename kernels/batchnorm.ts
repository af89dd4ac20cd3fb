/**
 * BatchNorm2d kernels over NCHW. Per-channel statistics and gradient sums use 256-invocation
 * workgroups per (channel, chunk of its N·H·W values) and a per-channel combine pass; the
 * variance is computed from deviations (two passes per chunk, chunks combined exactly), so it
 * never suffers the cancellation of E[x²] − E[x]². Elementwise kernels (normalize, grad-input)
 * use 256 invocations per workgroup, one element each.
 */
import { LINEAR_GROUP_INDEX, f32Bits, grid, type KernelSpec } from './kernel.js';
import { RELU_FNS, entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

const PARAMS = 'channels: u32, plane: u32, batch: u32, total: u32, eps: u32, momentum: u32, chunks: u32, chunkLength: u32';

/** The uniform words of every BatchNorm kernel, with the chunk plan they encode. */
export function batchNormParams(
  batch: number,
  channels: number,
  plane: number,
  eps: number,
  momentum: number,
  serialMax = BATCHNORM_SERIAL_MAX,
  serialChunksAbove = Number.POSITIVE_INFINITY,
): { params: number[]; chunks: number; serial: boolean } {
  const { chunks, chunkLength, serial } = batchNormChunks(batch, channels, plane, batchNormVec4(plane), serialMax, serialChunksAbove);
  return { params: [channels, plane, batch, batch * channels * plane, f32Bits(eps), f32Bits(momentum), chunks, chunkLength], chunks, serial };
}

const TREE_SUM = (name: string) => `
  scratch[lid] = ${name};
  workgroupBarrier();
  for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) { scratch[lid] += scratch[lid + width]; }
    workgroupBarrier();
  }
  let ${name}Total = scratch[0];
  workgroupBarrier();`;

/**
 * TREE_SUM's additions in its order, by one invocation over its array `lanes` of the workgroup's
 * 256 sums (the `lanes` kernels below): the same result bit for bit, without barriers.
 */
const LANE_TREE = (lanes: string) => `
  for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    for (var l = 0u; l < width; l++) { ${lanes}[l] += ${lanes}[l + width]; }
  }`;

/** How a partial-sum kernel covers a (channel, chunk): see batchNormPartialStatsKernel. */
export type BatchNormSums = 'serial' | 'tree' | 'lanes';

/**
 * Loop of one workgroup over its chunk [start, end) of channel c's N·H·W values (index i); with
 * `vec4`, over vec4s of them (i indexes vec4s; planes and chunk bounds are multiples of 4).
 */
const CHUNK_LOOP = (body: string, vec4: boolean) =>
  vec4
    ? `
  for (var r = start + 4u * lid; r < end; r += ${4 * WORKGROUP}u) {
    let i = ((r / p.plane) * p.channels + c) * (p.plane / 4u) + (r % p.plane) / 4u;
    ${body}
  }`
    : `
  for (var r = start + lid; r < end; r += ${WORKGROUP}u) {
    let i = ((r / p.plane) * p.channels + c) * p.plane + r % p.plane;
    ${body}
  }`;

/**
 * Loop of one invocation over its chunk [start, end) of channel c's values (index i; vec4s of
 * them with `vec4`), image by image so that no value needs a division for its index.
 */
const SERIAL_LOOP = (body: string, vec4: boolean) => `
  for (var n = start / p.plane; n * p.plane < end; n++) {
    // Offset of channel c's plane in image n, minus the values of the images before it.
    let base = (n * p.channels + c) * p.plane - n * p.plane;
    for (var r = max(start, n * p.plane); r < min(end, (n + 1u) * p.plane); r += ${vec4 ? 4 : 1}u) {
      let i = (base + r)${vec4 ? ' / 4u' : ''};
      ${body}
    }
  }`;

/** Accumulator of a sum over the loops above, and its scalar total (the 4 lanes added pairwise). */
const ACC = (name: string, vec4: boolean) => `var ${name} = ${vec4 ? 'vec4f(0.0)' : '0.0'};`;
const TOTAL = (name: string, vec4: boolean) => (vec4 ? `((${name}.x + ${name}.y) + (${name}.z + ${name}.w))` : name);

/**
 * Values per channel up to which one invocation per channel sums them (see
 * batchNormPartialStatsKernel), by default (GPUs); CPU adapters go further (batchNormSettings).
 */
export const BATCHNORM_SERIAL_MAX = 512;

/** How BatchNorm sums and normalizes on an adapter: a function of engine/caps.ts's `software`. */
export interface BatchNormSettings {
  /**
   * Values per channel up to which one invocation per channel sums them, in workgroups of
   * `serialWorkgroup`. GPUs need the parallel chunked sums beyond a few hundred values; on CPU
   * adapters the tree sums' barriers cost more. Serial up to 4096 values was faster still there,
   * but its different rounding of ResNet34_UNet's first BatchNorm flipped near-ties in the
   * max-pool after it and moved the PyTorch-parity gradients of the stem by 2e-2
   * (test/models.test.ts), so CPU adapters stop at 1024.
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
   * tree's additions in the same order — bit-identical without the barriers (CPU adapters);
   * false: the 256-invocation workgroups (GPUs).
   */
  treeInLanes: boolean;
}

export function batchNormSettings(software: boolean): BatchNormSettings {
  // CPU adapters: workgroups of 8 so that a few dozen channels still spread over every core.
  return software
    ? { serialMax: 1024, serialWorkgroup: 8, serialChunksAbove: 8192, elementRun: 4, treeInLanes: true }
    : { serialMax: BATCHNORM_SERIAL_MAX, serialWorkgroup: 64, serialChunksAbove: Number.POSITIVE_INFINITY, elementRun: 1, treeInLanes: false };
}

/** Range [start, end) of chunk `chunk` among channel c's `count` values. */
const CHUNK_BOUNDS = `
  let count = p.batch * p.plane;
  let start = chunk * p.chunkLength;
  let end = min(count, start + p.chunkLength);`;

/** Invocation gid.x: chunk (channel c, chunk) of the one-invocation kernels and its range of the channel's values; returns past the end. */
const SERIAL_RANGE = `
  if (gid.x >= p.channels * p.chunks) { return; }
  let c = gid.x / p.chunks;
  let chunk = gid.x % p.chunks;${CHUNK_BOUNDS}`;

/** Workgroup (channel c = wid.y, chunk = wid.x) and its range of the channel's values. */
const CHUNK_RANGE = `
  let c = wid.y;
  let chunk = wid.x;${CHUNK_BOUNDS}`;

/**
 * Channels hold N·H·W values each (millions at high resolution) and there may be only a few
 * dozen channels: one workgroup per channel would leave most of a GPU idle. Statistics and
 * gradient sums therefore run per (channel, chunk) workgroup, then a per-channel pass combines
 * the chunks. Chunks are sized so that there are about TARGET_GROUPS workgroups. Above
 * `serialChunksAbove` values (CPU adapters), chunks of `serialMax` values are summed by one
 * invocation each instead (no workgroup barriers: on lavapipe each one switches between all of a
 * workgroup's subgroups) and combined the same way.
 */
const TARGET_GROUPS = 512;
const MIN_CHUNK = 4096;

export function batchNormChunks(
  batch: number,
  channels: number,
  plane: number,
  vec4 = false,
  serialMax = BATCHNORM_SERIAL_MAX,
  serialChunksAbove = Number.POSITIVE_INFINITY,
): { chunks: number; chunkLength: number; serial: boolean } {
  const count = batch * plane;
  if (count <= serialMax) return { chunks: 1, chunkLength: count, serial: true };
  if (count > serialChunksAbove) {
    // Whole vec4s per chunk (planes are then multiples of 4, so a vec4 never straddles two images).
    const chunkLength = vec4 ? 4 * Math.max(1, Math.floor(serialMax / 4)) : serialMax;
    return { chunks: Math.ceil(count / chunkLength), chunkLength, serial: true };
  }
  const wanted = Math.max(1, Math.min(Math.ceil(count / MIN_CHUNK), Math.ceil(TARGET_GROUPS / channels)));
  // vec4 loops need chunk bounds on whole vec4s.
  const chunkLength = vec4 ? 4 * Math.ceil(count / wanted / 4) : Math.ceil(count / wanted);
  return { chunks: Math.ceil(count / chunkLength), chunkLength, serial: false };
}

/**
 * Per (channel, chunk): the chunk's mean and M2 = Σ(x − chunk mean)², two passes over the chunk
 * (no cancellation of E[x²] − E[x]²). Writes Partial[(c·chunks + chunk)·2 + {0, 1}]. `sums`:
 * - `tree`: a 256-invocation workgroup per (channel, chunk), strided loops then a tree sum in
 *   workgroup memory (GPUs);
 * - `lanes`: one invocation per (channel, chunk), `serialWorkgroup` per workgroup, replaying the
 *   tree's 256 strided sums and its additions in order — bit-identical to `tree` without its
 *   barriers, which lavapipe pays by switching between all of a workgroup's subgroups;
 * - `serial` (few values per channel, or CPU adapters' serial chunks — batchNormChunks): one
 *   invocation per (channel, chunk) loops over the chunk in order — a 256-invocation tree sum
 *   over 16 values costs far more than the sum.
 */
export function batchNormPartialStatsKernel(sums: BatchNormSums, vec4: boolean, serialWorkgroup = 64): KernelSpec {
  const head = `
${kernelHeader({ params: PARAMS, inputs: [['X', vec4 ? 'vec4f' : 'f32']], outputs: [['Partial', 'f32']] })}`;
  return {
    name: 'batchnorm-partial-stats',
    key: `${sums === 'tree' ? 'chunked' : `${sums}${serialWorkgroup}`}-${vec4 ? 'vec4' : 'scalar'}`,
    source: () =>
      sums === 'lanes'
        ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${SERIAL_RANGE}
  var lanes: array<f32, ${WORKGROUP}>;
  for (var lid = 0u; lid < ${WORKGROUP}u; lid++) {
    ${ACC('s4', vec4)}${CHUNK_LOOP('s4 += X[i];', vec4)}
    lanes[lid] = ${TOTAL('s4', vec4)};
  }${LANE_TREE('lanes')}
  let mean = lanes[0] / f32(end - start);
  for (var lid = 0u; lid < ${WORKGROUP}u; lid++) {
    ${ACC('q4', vec4)}${CHUNK_LOOP('let d = X[i] - mean; q4 += d * d;', vec4)}
    lanes[lid] = ${TOTAL('q4', vec4)};
  }${LANE_TREE('lanes')}
  Partial[gid.x * 2u] = mean;
  Partial[gid.x * 2u + 1u] = lanes[0];
}`
        : sums === 'serial'
        ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${SERIAL_RANGE}
  ${ACC('s', vec4)}${SERIAL_LOOP('s += X[i];', vec4)}
  let mean = ${TOTAL('s', vec4)} / f32(end - start);
  ${ACC('q', vec4)}${SERIAL_LOOP('let d = X[i] - mean; q += d * d;', vec4)}
  Partial[gid.x * 2u] = mean;
  Partial[gid.x * 2u + 1u] = ${TOTAL('q', vec4)};
}`
        : /* wgsl */ `${head}

var<workgroup> scratch: array<f32, ${WORKGROUP}>;

${entryPoint(WORKGROUP, ['wid', 'lid'])} {${CHUNK_RANGE}
  ${ACC('s4', vec4)}${CHUNK_LOOP('s4 += X[i];', vec4)}
  let s = ${TOTAL('s4', vec4)};${TREE_SUM('s')}
  let mean = sTotal / f32(end - start);
  ${ACC('q4', vec4)}${CHUNK_LOOP('let d = X[i] - mean; q4 += d * d;', vec4)}
  let q = ${TOTAL('q4', vec4)};${TREE_SUM('q')}
  if (lid == 0u) {
    let at = (c * p.chunks + chunk) * 2u;
    Partial[at] = mean;
    Partial[at + 1u] = qTotal;
  }
}`,
  };
}

/**
 * Combines a channel's chunk statistics (Chan et al.: M2 = Σ M2_j + Σ n_j·(mean_j − mean)²) into
 * mean[c] and invstd[c] = 1/sqrt(var_biased + eps); with `updateRunning`, also running_mean/var
 * ← (1 − momentum)·running + momentum·batch (running var unbiased, as PyTorch). One invocation
 * per channel.
 */
export function batchNormCombineStatsKernel(updateRunning: boolean): KernelSpec {
  return {
    name: 'batchnorm-combine-stats',
    key: updateRunning ? 'running' : 'plain',
    source: () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['Partial', 'f32']], outputs: [['Mean', 'f32'], ['InvStd', 'f32'], updateRunning ? ['RunMean', 'f32'] : null, updateRunning ? ['RunVar', 'f32'] : null] })}

${entryPoint(64, ['gid'])} {
  let c = gid.x;
  if (c >= p.channels) { return; }
  let count = p.batch * p.plane;
  var total = 0.0;
  for (var j = 0u; j < p.chunks; j++) {
    let n = f32(min(count, (j + 1u) * p.chunkLength) - j * p.chunkLength);
    total += n * Partial[(c * p.chunks + j) * 2u];
  }
  let mean = total / f32(count);
  var m2 = 0.0;
  for (var j = 0u; j < p.chunks; j++) {
    let n = f32(min(count, (j + 1u) * p.chunkLength) - j * p.chunkLength);
    let at = (c * p.chunks + j) * 2u;
    let d = Partial[at] - mean;
    m2 += Partial[at + 1u] + n * d * d;
  }
  Mean[c] = mean;
  InvStd[c] = 1.0 / sqrt(m2 / f32(count) + bitcast<f32>(p.eps));
  ${updateRunning ? `let m = bitcast<f32>(p.momentum);
  RunMean[c] = (1.0 - m) * RunMean[c] + m * mean;
  RunVar[c] = (1.0 - m) * RunVar[c] + m * m2 / f32(count - 1u);` : ''}
}`,
  };
}

/** invstd[c] = 1/sqrt(running_var[c] + eps) (eval mode). One invocation per channel. */
export const batchNormEvalInvStdKernel: KernelSpec = {
  name: 'batchnorm-eval-invstd',
  key: '',
  source: () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['RunVar', 'f32']], outputs: [['InvStd', 'f32']] })}

${entryPoint(64, ['gid'])} {
  if (gid.x < p.channels) { InvStd[gid.x] = 1.0 / sqrt(RunVar[gid.x] + bitcast<f32>(p.eps)); }
}`,
};

/**
 * Elementwise BatchNorm kernels take 4 values per invocation (vec4 loads and stores) when planes
 * are a whole number of vec4s, so the 4 share a channel: the same arithmetic per value, a quarter
 * of the invocations and channel lookups (CPU adapters pay per load).
 */
export function batchNormVec4(plane: number): boolean {
  return plane % 4 === 0;
}

/**
 * Vec4s of one channel per invocation of the elementwise kernels where planes allow it (CPU
 * adapters): the channel's scalars are loaded once for them — lavapipe pays each load lane by
 * lane, and the per-channel ones were 4 of normalize's 5 loads per vec4.
 */
export function batchNormElementRun(plane: number, wanted: number): number {
  return batchNormVec4(plane) && (plane / 4) % wanted === 0 ? wanted : 1;
}

/**
 * The `run` consecutive elements (or vec4s) from index `first` of this invocation, all of channel
 * c, and the per-element `body` (index i) for each; returns past the end.
 */
const ELEMENTS = (vec4: boolean, run: number, perChannel: string, body: string) => `
  let first = (${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid) * ${run}u;
  if (first${vec4 ? ' * 4u' : ''} >= p.total) { return; }
  let c = (first${vec4 ? ' * 4u' : ''} / p.plane) % p.channels;
  ${perChannel}
  ${Array.from({ length: run }, (_, k) => `{
    let i = first + ${k}u;
    ${body}
  }`).join('\n  ')}`;

/**
 * `relu`: BatchNorm followed by ReLU in one kernel (the models' conv → BN → ReLU), its backward
 * masking dY by y > 0 inside the BatchNorm gradient kernels: the same values as the two ops, one
 * pass over the activations fewer each way.
 */
const zeroOf = (vec4: boolean) => (vec4 ? 'vec4f(0.0)' : '0.0');

/** y = (x − mean[c])·invstd[c]·gamma[c] + beta[c] (then ReLU, keeping NaN, with `relu`). */
export function batchNormNormalizeKernel(vec4: boolean, relu = false, run = 1): KernelSpec {
  const value = vec4 ? 'vec4f' : 'f32';
  const normalized = '(X[i] - mean) * invstd * gamma + beta';
  return {
    name: 'batchnorm-normalize',
    key: `${vec4 ? 'vec4' : 'scalar'}${relu ? '-relu' : ''}-run${run}`,
    source: () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['X', value], ['Mean', 'f32'], ['InvStd', 'f32'], ['Gamma', 'f32'], ['Beta', 'f32']], outputs: [['Y', value]] })}
${relu ? RELU_FNS : ''}

${entryPoint(WORKGROUP)} {${ELEMENTS(
      vec4,
      run,
      'let mean = Mean[c]; let invstd = InvStd[c]; let gamma = Gamma[c]; let beta = Beta[c];',
      `Y[i] = ${relu ? `${vec4 ? 'relu4' : 'relu'}(${normalized})` : normalized};`,
    )}
}`,
  };
}

/** Per (channel, chunk): Σ dy and Σ dy·x̂ over the chunk, written to Partial[(c·chunks + chunk)·2 + {0, 1}]; `sums` as batchNormPartialStatsKernel. */
export function batchNormGradPartialKernel(sums: BatchNormSums, vec4: boolean, serialWorkgroup = 64, relu = false): KernelSpec {
  const value = vec4 ? 'vec4f' : 'f32';
  const head = `
${kernelHeader({ params: PARAMS, inputs: [['X', value], ['DY', value], ['Mean', 'f32'], ['InvStd', 'f32'], relu ? ['Y', value] : null], outputs: [['Partial', 'f32']] })}`;
  const body = `let dy = ${relu ? `select(${zeroOf(vec4)}, DY[i], Y[i] > ${zeroOf(vec4)})` : 'DY[i]'}; gb4 += dy; gg4 += dy * (X[i] - mean) * invstd;`;
  return {
    name: 'batchnorm-grad-partial',
    key: `${sums === 'tree' ? 'chunked' : `${sums}${serialWorkgroup}`}-${vec4 ? 'vec4' : 'scalar'}${relu ? '-relu' : ''}`,
    source: () =>
      sums === 'lanes'
        ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${SERIAL_RANGE}
  let mean = Mean[c];
  let invstd = InvStd[c];
  var lanesB: array<f32, ${WORKGROUP}>;
  var lanesG: array<f32, ${WORKGROUP}>;
  for (var lid = 0u; lid < ${WORKGROUP}u; lid++) {
    ${ACC('gb4', vec4)}
    ${ACC('gg4', vec4)}${CHUNK_LOOP(body, vec4)}
    lanesB[lid] = ${TOTAL('gb4', vec4)};
    lanesG[lid] = ${TOTAL('gg4', vec4)};
  }${LANE_TREE('lanesB')}${LANE_TREE('lanesG')}
  Partial[gid.x * 2u] = lanesB[0];
  Partial[gid.x * 2u + 1u] = lanesG[0];
}`
        : sums === 'serial'
        ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${SERIAL_RANGE}
  let mean = Mean[c];
  let invstd = InvStd[c];
  ${ACC('gb4', vec4)}
  ${ACC('gg4', vec4)}${SERIAL_LOOP(body, vec4)}
  Partial[gid.x * 2u] = ${TOTAL('gb4', vec4)};
  Partial[gid.x * 2u + 1u] = ${TOTAL('gg4', vec4)};
}`
        : /* wgsl */ `${head}

var<workgroup> scratch: array<f32, ${WORKGROUP}>;

${entryPoint(WORKGROUP, ['wid', 'lid'])} {${CHUNK_RANGE}
  let mean = Mean[c];
  let invstd = InvStd[c];
  ${ACC('gb4', vec4)}
  ${ACC('gg4', vec4)}${CHUNK_LOOP(body, vec4)}
  let gb = ${TOTAL('gb4', vec4)};
  let gg = ${TOTAL('gg4', vec4)};${TREE_SUM('gb')}${TREE_SUM('gg')}
  if (lid == 0u) {
    let at = (c * p.chunks + chunk) * 2u;
    Partial[at] = gbTotal;
    Partial[at + 1u] = ggTotal;
  }
}`,
  };
}

/** dbeta[c] = Σ_chunks Σ dy, dgamma[c] = Σ_chunks Σ dy·x̂. One invocation per channel. */
export const batchNormGradCombineKernel: KernelSpec = {
  name: 'batchnorm-grad-combine',
  key: '',
  source: () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['Partial', 'f32']], outputs: [['DGamma', 'f32'], ['DBeta', 'f32']] })}

${entryPoint(64, ['gid'])} {
  let c = gid.x;
  if (c >= p.channels) { return; }
  var gb = 0.0;
  var gg = 0.0;
  for (var j = 0u; j < p.chunks; j++) {
    gb += Partial[(c * p.chunks + j) * 2u];
    gg += Partial[(c * p.chunks + j) * 2u + 1u];
  }
  DBeta[c] = gb;
  DGamma[c] = gg;
}`,
};

/**
 * Training: dx = gamma·invstd·(dy − dbeta/M − x̂·dgamma/M) with M = N·H·W; bindings X, DY,
 * Mean, InvStd, Gamma, DGamma, DBeta, DX. Eval (running statistics are constants):
 * dx = gamma·invstd·dy; bindings DY, InvStd, Gamma, DX.
 */
export function batchNormGradInputKernel(training: boolean, vec4: boolean, relu = false, run = 1): KernelSpec {
  const names = [...(training ? ['X', 'DY', 'Mean', 'InvStd', 'Gamma', 'DGamma', 'DBeta'] : ['DY', 'InvStd', 'Gamma']), ...(relu ? ['Y'] : [])];
  const value = vec4 ? 'vec4f' : 'f32';
  const inputs = names.map((name) => [name, ['X', 'DY', 'Y'].includes(name) ? value : 'f32'] as const);
  return {
    name: 'batchnorm-grad-input',
    key: `${training ? 'train' : 'eval'}-${vec4 ? 'vec4' : 'scalar'}${relu ? '-relu' : ''}-run${run}`,
    source: () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs, outputs: [['DX', value]] })}

${entryPoint(WORKGROUP)} {${ELEMENTS(
      vec4,
      run,
      `let invstd = InvStd[c];
  let scale = Gamma[c] * invstd;${training ? '\n  let m = f32(p.batch * p.plane);\n  let mean = Mean[c]; let dbeta = DBeta[c]; let dgamma = DGamma[c];' : ''}`,
      `let dy = ${relu ? `select(${zeroOf(vec4)}, DY[i], Y[i] > ${zeroOf(vec4)})` : 'DY[i]'};
    ${training ? `let xhat = (X[i] - mean) * invstd;\n    DX[i] = scale * (dy - dbeta / m - xhat * dgamma / m);` : 'DX[i] = scale * dy;'}`,
    )}
}`,
  };
}

/** Grid of the elementwise kernels over `total` values (vec4s of them with `vec4`), `run` elements or vec4s per invocation. */
export function batchNormElementGrid(total: number, vec4: boolean, run = 1): [number, number, number] {
  return grid(Math.ceil(total / (vec4 ? 4 : 1) / run / WORKGROUP));
}
