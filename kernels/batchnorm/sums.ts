/**
 * BatchNorm's per-channel sums over NCHW: statistics (mean and M2 per chunk of a channel's N·H·W
 * values, then a per-channel combine) and the gradient sums (Σ dy and Σ dy·x̂ per chunk, then
 * combined), summed by channel-sums.ts's methods on the chunks batchNormPlan chose. The variance
 * is computed from deviations (two passes per chunk, chunks combined exactly), so it never
 * suffers the cancellation of E[x²] − E[x]², and chunks keep a GPU busy with few channels.
 * The combine kernels run one invocation per channel, 64 per workgroup.
 */
import {
  CHANNEL_SUM_WORKGROUP,
  INVOCATION_CHUNK,
  TREE_SCRATCH,
  WORKGROUP_CHUNK,
  replayedTreeSum,
  serialChunkLoop,
  sumAccumulator,
  sumTotal,
  workgroupChunkLoop,
  workgroupTreeSum,
  type ChannelSumMethod,
} from '../channel-sums.js';
import { kernelFamily, type KernelSpec } from '../kernel.js';
import { entryPoint, kernelHeader } from '../wgsl.js';
import { incomingGradient } from './elementwise.js';
import { BATCHNORM_PARAMS } from './plan.js';

const PARTIAL_STATS = kernelFamily('batchnorm-partial-stats');
const COMBINE_STATS = kernelFamily('batchnorm-combine-stats');
const GRAD_PARTIAL = kernelFamily('batchnorm-grad-partial');

/** The key part of a partial-sum kernel's method: `chunked` (tree), `lanes8`, `serial64`, .... */
const sumsKey = (sums: ChannelSumMethod, serialWorkgroup: number) => (sums === 'tree' ? 'chunked' : `${sums}${serialWorkgroup}`);

/**
 * Per (channel, chunk): the chunk's mean and M2 = Σ(x − chunk mean)², two passes over the chunk
 * (no cancellation of E[x²] − E[x]²), each summed by `sums` (channel-sums.ts; `serialWorkgroup`
 * invocations per workgroup for `lanes` and `serial`). Writes Partial[(c·chunks + chunk)·2 + {0, 1}].
 */
export function batchNormPartialStatsKernel(sums: ChannelSumMethod, vec4: boolean, serialWorkgroup = 64): KernelSpec {
  return PARTIAL_STATS.spec(`${sumsKey(sums, serialWorkgroup)}-${vec4 ? 'vec4' : 'scalar'}`, () => {
    const head = `
${kernelHeader({ params: BATCHNORM_PARAMS, inputs: [['X', vec4 ? 'vec4f' : 'f32']], outputs: [['Partial', 'f32']] })}`;
    return sums === 'lanes'
      ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${INVOCATION_CHUNK}
  var lanes: array<f32, ${CHANNEL_SUM_WORKGROUP}>;
  for (var lid = 0u; lid < ${CHANNEL_SUM_WORKGROUP}u; lid++) {
    ${sumAccumulator('s4', vec4)}${workgroupChunkLoop('s4 += X[i];', vec4)}
    lanes[lid] = ${sumTotal('s4', vec4)};
  }${replayedTreeSum('lanes')}
  let mean = lanes[0] / f32(end - start);
  for (var lid = 0u; lid < ${CHANNEL_SUM_WORKGROUP}u; lid++) {
    ${sumAccumulator('q4', vec4)}${workgroupChunkLoop('let d = X[i] - mean; q4 += d * d;', vec4)}
    lanes[lid] = ${sumTotal('q4', vec4)};
  }${replayedTreeSum('lanes')}
  Partial[gid.x * 2u] = mean;
  Partial[gid.x * 2u + 1u] = lanes[0];
}`
      : sums === 'serial'
      ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${INVOCATION_CHUNK}
  ${sumAccumulator('s', vec4)}${serialChunkLoop('s += X[i];', vec4)}
  let mean = ${sumTotal('s', vec4)} / f32(end - start);
  ${sumAccumulator('q', vec4)}${serialChunkLoop('let d = X[i] - mean; q += d * d;', vec4)}
  Partial[gid.x * 2u] = mean;
  Partial[gid.x * 2u + 1u] = ${sumTotal('q', vec4)};
}`
      : /* wgsl */ `${head}

${TREE_SCRATCH}

${entryPoint(CHANNEL_SUM_WORKGROUP, ['wid', 'lid'])} {${WORKGROUP_CHUNK}
  ${sumAccumulator('s4', vec4)}${workgroupChunkLoop('s4 += X[i];', vec4)}
  let s = ${sumTotal('s4', vec4)};${workgroupTreeSum('s')}
  let mean = sTotal / f32(end - start);
  ${sumAccumulator('q4', vec4)}${workgroupChunkLoop('let d = X[i] - mean; q4 += d * d;', vec4)}
  let q = ${sumTotal('q4', vec4)};${workgroupTreeSum('q')}
  if (lid == 0u) {
    let at = (c * p.chunks + chunk) * 2u;
    Partial[at] = mean;
    Partial[at + 1u] = qTotal;
  }
}`;
  });
}

/**
 * Combines a channel's chunk statistics (Chan et al.: M2 = Σ M2_j + Σ n_j·(mean_j − mean)²) into
 * mean[c] and invstd[c] = 1/sqrt(var_biased + eps); with `updateRunning`, also running_mean/var
 * ← (1 − momentum)·running + momentum·batch (running var unbiased, as PyTorch). One invocation
 * per channel.
 */
export function batchNormCombineStatsKernel(updateRunning: boolean): KernelSpec {
  return COMBINE_STATS.spec(updateRunning ? 'running' : 'plain', () => /* wgsl */ `
${kernelHeader({ params: BATCHNORM_PARAMS, inputs: [['Partial', 'f32']], outputs: [['Mean', 'f32'], ['InvStd', 'f32'], updateRunning ? ['RunMean', 'f32'] : null, updateRunning ? ['RunVar', 'f32'] : null] })}

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
}`);
}

/** invstd[c] = 1/sqrt(running_var[c] + eps) (eval mode). One invocation per channel. */
export const batchNormEvalInvStdKernel: KernelSpec = kernelFamily('batchnorm-eval-invstd').spec('', () => /* wgsl */ `
${kernelHeader({ params: BATCHNORM_PARAMS, inputs: [['RunVar', 'f32']], outputs: [['InvStd', 'f32']] })}

${entryPoint(64, ['gid'])} {
  if (gid.x < p.channels) { InvStd[gid.x] = 1.0 / sqrt(RunVar[gid.x] + bitcast<f32>(p.eps)); }
}`);

/** Per (channel, chunk): Σ dy and Σ dy·x̂ over the chunk, written to Partial[(c·chunks + chunk)·2 + {0, 1}]; `sums` as batchNormPartialStatsKernel. */
export function batchNormGradPartialKernel(sums: ChannelSumMethod, vec4: boolean, serialWorkgroup = 64, relu = false): KernelSpec {
  return GRAD_PARTIAL.spec(`${sumsKey(sums, serialWorkgroup)}-${vec4 ? 'vec4' : 'scalar'}${relu ? '-relu' : ''}`, () => {
    const value = vec4 ? 'vec4f' : 'f32';
    const head = `
${kernelHeader({ params: BATCHNORM_PARAMS, inputs: [['X', value], ['DY', value], ['Mean', 'f32'], ['InvStd', 'f32'], relu ? ['Y', value] : null], outputs: [['Partial', 'f32']] })}`;
    const body = `let dy = ${incomingGradient(vec4, relu)}; gb4 += dy; gg4 += dy * (X[i] - mean) * invstd;`;
    return sums === 'lanes'
      ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${INVOCATION_CHUNK}
  let mean = Mean[c];
  let invstd = InvStd[c];
  var lanesB: array<f32, ${CHANNEL_SUM_WORKGROUP}>;
  var lanesG: array<f32, ${CHANNEL_SUM_WORKGROUP}>;
  for (var lid = 0u; lid < ${CHANNEL_SUM_WORKGROUP}u; lid++) {
    ${sumAccumulator('gb4', vec4)}
    ${sumAccumulator('gg4', vec4)}${workgroupChunkLoop(body, vec4)}
    lanesB[lid] = ${sumTotal('gb4', vec4)};
    lanesG[lid] = ${sumTotal('gg4', vec4)};
  }${replayedTreeSum('lanesB')}${replayedTreeSum('lanesG')}
  Partial[gid.x * 2u] = lanesB[0];
  Partial[gid.x * 2u + 1u] = lanesG[0];
}`
      : sums === 'serial'
      ? /* wgsl */ `${head}

${entryPoint(serialWorkgroup, ['gid'])} {${INVOCATION_CHUNK}
  let mean = Mean[c];
  let invstd = InvStd[c];
  ${sumAccumulator('gb4', vec4)}
  ${sumAccumulator('gg4', vec4)}${serialChunkLoop(body, vec4)}
  Partial[gid.x * 2u] = ${sumTotal('gb4', vec4)};
  Partial[gid.x * 2u + 1u] = ${sumTotal('gg4', vec4)};
}`
      : /* wgsl */ `${head}

${TREE_SCRATCH}

${entryPoint(CHANNEL_SUM_WORKGROUP, ['wid', 'lid'])} {${WORKGROUP_CHUNK}
  let mean = Mean[c];
  let invstd = InvStd[c];
  ${sumAccumulator('gb4', vec4)}
  ${sumAccumulator('gg4', vec4)}${workgroupChunkLoop(body, vec4)}
  let gb = ${sumTotal('gb4', vec4)};
  let gg = ${sumTotal('gg4', vec4)};${workgroupTreeSum('gb')}${workgroupTreeSum('gg')}
  if (lid == 0u) {
    let at = (c * p.chunks + chunk) * 2u;
    Partial[at] = gbTotal;
    Partial[at + 1u] = ggTotal;
  }
}`;
  });
}

/** dbeta[c] = Σ_chunks Σ dy, dgamma[c] = Σ_chunks Σ dy·x̂. One invocation per channel. */
export const batchNormGradCombineKernel: KernelSpec = kernelFamily('batchnorm-grad-combine').spec('', () => /* wgsl */ `
${kernelHeader({ params: BATCHNORM_PARAMS, inputs: [['Partial', 'f32']], outputs: [['DGamma', 'f32'], ['DBeta', 'f32']] })}

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
}`);
