/**
 * Direct convolution kernels. Three patterns serve conv2d and conv-transpose2d, forward and
 * backward (NCHW activations, weights [A, B, KH, KW]):
 *
 * - `gather`:  dst[n,d,y,x] = Σ_{s,kh,kw} src[n,s, y·st+kh−p, x·st+kw−p] · w[d,s,kh,kw]   (+ bias[d])
 *              conv2d forward; conv-transpose grad-input.
 * - `scatter`: dst[n,d,y,x] = Σ_{s,kh,kw} src[n,s, (y+p−kh)/st, (x+p−kw)/st] · w[s,d,kh,kw] (+ bias[d])
 *              (only where the division is exact) conv2d grad-input; conv-transpose forward.
 * - `weight`:  dw[a,b,kh,kw] = Σ_{n,y,x} g[n,a,y,x] · src[n,b, y·st+kh−p, x·st+kw−p]
 *              conv2d grad-weight (g = dY, src = X); conv-transpose grad-weight (g = X, src = dY).
 *
 * Launch layouts: gather/scatter use 64 invocations per workgroup, one destination element
 * each (work per invocation: S·KH·KW multiply-adds). `weight` uses one 256-invocation workgroup
 * per (weight element, chunk), each invocation striding over the chunk of N·Hg·Wg positions,
 * then a shared-memory tree sum; chunks (when there are few weights) are added by a second pass.
 * `weight-direct` (for few positions, e.g. deep layers at low resolution, where 256 invocations
 * per weight would mostly idle) uses 64 invocations per workgroup, one weight element each,
 * looping over all N·Hg·Wg positions (summed row by row, then rows, for accuracy).
 */
import { LINEAR_GROUP_INDEX, grid, type KernelSpec } from './kernel.js';

const WORKGROUP = 64;
export const CONV_WEIGHT_WORKGROUP = 256;
/**
 * gather/scatter sum channels in blocks of this many before adding to the total: rounding error
 * then grows with BLOCK + C/BLOCK instead of C (forward activations of a 1024-channel UNet layer
 * sum 9216 products), close to what blocked GEMMs achieve.
 */
const BLOCK = 16;

/** Geometry shared by the three kernels (u32 words in this order). */
export interface ConvGeometry {
  batch: number;
  /** Source channels and size (the tensor read at strided positions for gather/weight). */
  srcChannels: number;
  srcH: number;
  srcW: number;
  /** Destination channels and size (gather/scatter), or the `g` tensor's (weight). */
  dstChannels: number;
  dstH: number;
  dstW: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
}

const PARAMS_STRUCT = `struct Params {
  batch: u32, srcC: u32, srcH: u32, srcW: u32, dstC: u32, dstH: u32, dstW: u32, kh: u32,
  kw: u32, strideH: u32, strideW: u32, padH: u32, padW: u32, total: u32, chunks: u32, chunkLength: u32,
}`;

export function convParams(g: ConvGeometry, total: number, chunks = 1, chunkLength = 0): number[] {
  return [g.batch, g.srcChannels, g.srcH, g.srcW, g.dstChannels, g.dstH, g.dstW, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, total, chunks, chunkLength];
}

function elementKernel(kind: 'gather' | 'scatter', hasBias: boolean): KernelSpec {
  const body =
    kind === 'gather'
      ? `
  var block = 0.0;
  for (var s = 0u; s < p.srcC; s++) {
    let srcBase = (n * p.srcC + s) * p.srcH * p.srcW;
    let wBase = (d * p.srcC + s) * p.kh * p.kw;
    var window = 0.0;
    for (var kh = 0u; kh < p.kh; kh++) {
      let iy = i32(y * p.strideH + kh) - i32(p.padH);
      if (iy < 0 || iy >= i32(p.srcH)) { continue; }
      for (var kw = 0u; kw < p.kw; kw++) {
        let ix = i32(x * p.strideW + kw) - i32(p.padW);
        if (ix < 0 || ix >= i32(p.srcW)) { continue; }
        window += S[srcBase + u32(iy) * p.srcW + u32(ix)] * Wt[wBase + kh * p.kw + kw];
      }
    }
    block += window;
    if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { acc += block; block = 0.0; }
  }
  acc += block;`
      : `
  for (var kh = 0u; kh < p.kh; kh++) {
    let ty = i32(y + p.padH) - i32(kh);
    if (ty < 0 || ty % i32(p.strideH) != 0) { continue; }
    let sy = u32(ty) / p.strideH;
    if (sy >= p.srcH) { continue; }
    for (var kw = 0u; kw < p.kw; kw++) {
      let tx = i32(x + p.padW) - i32(kw);
      if (tx < 0 || tx % i32(p.strideW) != 0) { continue; }
      let sx = u32(tx) / p.strideW;
      if (sx >= p.srcW) { continue; }
      var block = 0.0;
      var tap = 0.0;
      for (var s = 0u; s < p.srcC; s++) {
        block += S[((n * p.srcC + s) * p.srcH + sy) * p.srcW + sx] * Wt[((s * p.dstC + d) * p.kh + kh) * p.kw + kw];
        if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { tap += block; block = 0.0; }
      }
      acc += tap + block;
    }
  }`;
  return {
    name: `conv-${kind}`,
    key: hasBias ? 'bias' : 'nobias',
    source: () => /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> D: array<f32>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let x = idx % p.dstW;
  let y = (idx / p.dstW) % p.dstH;
  let d = (idx / (p.dstW * p.dstH)) % p.dstC;
  let n = idx / (p.dstW * p.dstH * p.dstC);
  var acc = ${hasBias ? 'Bias[d]' : '0.0'};${body}
  D[idx] = acc;
}`,
  };
}

export function convGatherKernel(hasBias: boolean): KernelSpec {
  return elementKernel('gather', hasBias);
}

export function convScatterKernel(hasBias: boolean): KernelSpec {
  return elementKernel('scatter', hasBias);
}

export function convElementGrid(total: number): [number, number, number] {
  return grid(Math.ceil(total / WORKGROUP));
}

/**
 * dw[a,b,kh,kw] over g = [N, dstC=A, dstH, dstW] and src = [N, srcC=B, srcH, srcW]; writes
 * `chunks` partial sums per weight element (weight-major).
 */
export const convWeightKernel: KernelSpec = {
  name: 'conv-weight',
  key: '',
  source: () => /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<f32, ${CONV_WEIGHT_WORKGROUP}>;

@compute @workgroup_size(${CONV_WEIGHT_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = ${LINEAR_GROUP_INDEX};
  if (group >= p.total * p.chunks) { return; }
  let w = group / p.chunks;
  let kw = w % p.kw;
  let kh = (w / p.kw) % p.kh;
  let b = (w / (p.kw * p.kh)) % p.srcC;
  let a = w / (p.kw * p.kh * p.srcC);
  let plane = p.dstH * p.dstW;
  let count = p.batch * plane;
  let start = (group % p.chunks) * p.chunkLength;
  let end = min(start + p.chunkLength, count);
  var acc = 0.0;
  for (var r = start + lid; r < end; r += ${CONV_WEIGHT_WORKGROUP}u) {
    let n = r / plane;
    let y = (r % plane) / p.dstW;
    let x = r % p.dstW;
    let iy = i32(y * p.strideH + kh) - i32(p.padH);
    let ix = i32(x * p.strideW + kw) - i32(p.padW);
    if (iy >= 0 && iy < i32(p.srcH) && ix >= 0 && ix < i32(p.srcW)) {
      acc += G[((n * p.dstC + a) * p.dstH + y) * p.dstW + x] * S[((n * p.srcC + b) * p.srcH + u32(iy)) * p.srcW + u32(ix)];
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var width = ${CONV_WEIGHT_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) { partial[lid] += partial[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { DW[group] = partial[0]; }
}`,
};

/** dw with one invocation per weight element (few positions to sum over). */
export const convWeightDirectKernel: KernelSpec = {
  name: 'conv-weight-direct',
  key: '',
  source: () => /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (w >= p.total) { return; }
  let kw = w % p.kw;
  let kh = (w / p.kw) % p.kh;
  let b = (w / (p.kw * p.kh)) % p.srcC;
  let a = w / (p.kw * p.kh * p.srcC);
  // Two-level sum (rows into a row total, rows into the result): error grows with
  // rowLength + rows instead of their product, close to the tree sum of conv-weight.
  var acc = 0.0;
  for (var n = 0u; n < p.batch; n++) {
    for (var y = 0u; y < p.dstH; y++) {
      let iy = i32(y * p.strideH + kh) - i32(p.padH);
      if (iy < 0 || iy >= i32(p.srcH)) { continue; }
      var row = 0.0;
      for (var x = 0u; x < p.dstW; x++) {
        let ix = i32(x * p.strideW + kw) - i32(p.padW);
        if (ix < 0 || ix >= i32(p.srcW)) { continue; }
        row += G[((n * p.dstC + a) * p.dstH + y) * p.dstW + x] * S[((n * p.srcC + b) * p.srcH + u32(iy)) * p.srcW + u32(ix)];
      }
      acc += row;
    }
  }
  DW[w] = acc;
}`,
};

/** Positions per weight up to which `conv-weight-direct` is used. */
export const CONV_WEIGHT_DIRECT_MAX_POSITIONS = 2048;
