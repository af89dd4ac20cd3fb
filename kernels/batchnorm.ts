/**
 * BatchNorm2d kernels over NCHW. Per-channel statistics use one 256-invocation workgroup per
 * channel striding over its N·H·W values: first the mean, then Σ(x − mean)² — two passes over
 * the data, so the variance never suffers the cancellation of E[x²] − E[x]². Elementwise kernels
 * (normalize, grad-input) use 256 invocations per workgroup, one element each.
 */
import { LINEAR_GROUP_INDEX, f32Bits, grid, type KernelSpec } from './kernel.js';

const WORKGROUP = 256;

const PARAMS = `struct Params { channels: u32, plane: u32, batch: u32, total: u32, eps: u32, momentum: u32, pad0: u32, pad1: u32 }`;

export function batchNormParams(batch: number, channels: number, plane: number, eps: number, momentum: number): number[] {
  return [channels, plane, batch, batch * channels * plane, f32Bits(eps), f32Bits(momentum), 0, 0];
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

const CHANNEL_LOOP = (body: string) => `
  for (var r = lid; r < count; r += ${WORKGROUP}u) {
    let i = ((r / p.plane) * p.channels + c) * p.plane + r % p.plane;
    ${body}
  }`;

/**
 * Batch statistics: mean[c], invstd[c] = 1/sqrt(var_biased + eps); with `updateRunning`, also
 * running_mean/var ← (1 − momentum)·running + momentum·batch (running var unbiased, as PyTorch).
 */
export function batchNormStatsKernel(updateRunning: boolean): KernelSpec {
  return {
    name: 'batchnorm-stats',
    key: updateRunning ? 'running' : 'plain',
    source: () => /* wgsl */ `
${PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> InvStd: array<f32>;
${updateRunning ? `@group(0) @binding(3) var<storage, read_write> RunMean: array<f32>;
@group(0) @binding(4) var<storage, read_write> RunVar: array<f32>;` : ''}
@group(0) @binding(${updateRunning ? 5 : 3}) var<uniform> p: Params;

var<workgroup> scratch: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let count = p.batch * p.plane;
  var s = 0.0;${CHANNEL_LOOP('s += X[i];')}${TREE_SUM('s')}
  let mean = sTotal / f32(count);
  var q = 0.0;${CHANNEL_LOOP('let d = X[i] - mean; q += d * d;')}${TREE_SUM('q')}
  if (lid == 0u) {
    let variance = qTotal / f32(count);
    Mean[c] = mean;
    InvStd[c] = 1.0 / sqrt(variance + bitcast<f32>(p.eps));
    ${updateRunning ? `let m = bitcast<f32>(p.momentum);
    RunMean[c] = (1.0 - m) * RunMean[c] + m * mean;
    RunVar[c] = (1.0 - m) * RunVar[c] + m * qTotal / f32(count - 1u);` : ''}
  }
}`,
  };
}

/** invstd[c] = 1/sqrt(running_var[c] + eps) (eval mode). One invocation per channel. */
export const batchNormEvalInvStdKernel: KernelSpec = {
  name: 'batchnorm-eval-invstd',
  key: '',
  source: () => /* wgsl */ `
${PARAMS}
@group(0) @binding(0) var<storage, read> RunVar: array<f32>;
@group(0) @binding(1) var<storage, read_write> InvStd: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.channels) { InvStd[gid.x] = 1.0 / sqrt(RunVar[gid.x] + bitcast<f32>(p.eps)); }
}`,
};

/** y = (x − mean[c])·invstd[c]·gamma[c] + beta[c]. */
export const batchNormNormalizeKernel: KernelSpec = {
  name: 'batchnorm-normalize',
  key: '',
  source: () => /* wgsl */ `
${PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Mean: array<f32>;
@group(0) @binding(2) var<storage, read> InvStd: array<f32>;
@group(0) @binding(3) var<storage, read> Gamma: array<f32>;
@group(0) @binding(4) var<storage, read> Beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.total) { return; }
  let c = (i / p.plane) % p.channels;
  Y[i] = (X[i] - Mean[c]) * InvStd[c] * Gamma[c] + Beta[c];
}`,
};

/** dgamma[c] = Σ dy·x̂, dbeta[c] = Σ dy, one workgroup per channel. */
export const batchNormGradReduceKernel: KernelSpec = {
  name: 'batchnorm-grad-reduce',
  key: '',
  source: () => /* wgsl */ `
${PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> Mean: array<f32>;
@group(0) @binding(3) var<storage, read> InvStd: array<f32>;
@group(0) @binding(4) var<storage, read_write> DGamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> DBeta: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

var<workgroup> scratch: array<f32, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let mean = Mean[c];
  let invstd = InvStd[c];
  let count = p.batch * p.plane;
  var gb = 0.0;
  var gg = 0.0;${CHANNEL_LOOP('gb += DY[i]; gg += DY[i] * (X[i] - mean) * invstd;')}${TREE_SUM('gb')}${TREE_SUM('gg')}
  if (lid == 0u) {
    DBeta[c] = gbTotal;
    DGamma[c] = ggTotal;
  }
}`,
};

/**
 * Training: dx = gamma·invstd·(dy − dbeta/M − x̂·dgamma/M) with M = N·H·W; bindings X, DY,
 * Mean, InvStd, Gamma, DGamma, DBeta, DX. Eval (running statistics are constants):
 * dx = gamma·invstd·dy; bindings DY, InvStd, Gamma, DX.
 */
export function batchNormGradInputKernel(training: boolean): KernelSpec {
  const names = training ? ['X', 'DY', 'Mean', 'InvStd', 'Gamma', 'DGamma', 'DBeta'] : ['DY', 'InvStd', 'Gamma'];
  const bindings = names.map((name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`).join('\n');
  return {
    name: 'batchnorm-grad-input',
    key: training ? 'train' : 'eval',
    source: () => /* wgsl */ `
${PARAMS}
${bindings}
@group(0) @binding(${names.length}) var<storage, read_write> DX: array<f32>;
@group(0) @binding(${names.length + 1}) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.total) { return; }
  let c = (i / p.plane) % p.channels;
  let scale = Gamma[c] * InvStd[c];
  ${
    training
      ? `let m = f32(p.batch * p.plane);
  let xhat = (X[i] - Mean[c]) * InvStd[c];
  DX[i] = scale * (DY[i] - DBeta[c] / m - xhat * DGamma[c] / m);`
      : 'DX[i] = scale * DY[i];'
  }
}`,
  };
}

export function batchNormElementGrid(total: number): [number, number, number] {
  return grid(Math.ceil(total / WORKGROUP));
}
