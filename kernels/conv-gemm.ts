/**
 * The `gather` convolution of kernels/conv.ts as an implicit GEMM, for GPUs:
 *
 *   D[m, col] = Σ_k A[m, k] · B[k, col] (+ bias[m]),  m = destination channel,
 *   col = (n, y, x) destination pixel,  k = (s, kh, kw) source channel and tap,
 *   A[m, k] = w[m, s, kh, kw]  (flipped: w[s, m, KH−1−kh, KW−1−kw]),
 *   B[k, col] = src[n, s, y·st+kh−p, x·st+kw−p]  (0 outside the source; never materialised).
 *
 * A workgroup of 256 invocations computes a TILE_M × TILE_N block of D; for each step of
 * TILE_K along k it stages the A and B tiles in workgroup memory (coalesced loads: B along
 * pixels, A along k), then every invocation multiplies 4 rows × 4 columns from them in
 * registers, so each staged value feeds 4 multiply-adds per invocation that reads it. Rows and
 * columns of an invocation are strided by the thread grid, so its shared-memory reads and its
 * stores are contiguous across neighbouring invocations. Two shapes: 64×64 blocks, and 16×256
 * for layers of ≤ 16 destination channels (which would leave most of a 64-row block idle).
 * Sums run per TILE_K step and are then added to the total, which keeps the rounding error
 * close to the blocked direct kernel's.
 */
import type { ConvGeometry } from './conv.js';
import { LINEAR_GROUP_INDEX, grid, type KernelSpec } from './kernel.js';

const THREADS = 256;
const TILE_K = 16;
/** Rows (destination channels) and columns (pixels) per invocation. */
const PER_THREAD = 4;

interface GemmShape {
  /** Invocations along rows and columns: TY × TX = THREADS. */
  ty: number;
  tx: number;
}

const WIDE: GemmShape = { ty: 16, tx: 16 };
const NARROW: GemmShape = { ty: 4, tx: 64 };

function gemmShape(dstChannels: number): GemmShape {
  return dstChannels <= NARROW.ty * PER_THREAD ? NARROW : WIDE;
}

const RANGE = [...Array(PER_THREAD).keys()];

/** The two staged operand tiles in workgroup memory: As[k][m], Bs[k][col]. */
const stagingTiles = (tileM: number, tileN: number) => `var<workgroup> As: array<f32, ${TILE_K * tileM}>;
var<workgroup> Bs: array<f32, ${TILE_K * tileN}>;`;

/**
 * After staging one TILE_K step: every invocation multiplies its 4 rows (ty + TY·i) × 4 columns
 * (tx + TX·j) from the tiles, sums the step in `part`, adds it to `acc`, and waits so the tiles
 * may be restaged.
 */
const multiplyStagedTiles = (tileM: number, tileN: number, ty: number, tx: number) => `workgroupBarrier();
    ${RANGE.map((i) => `var part${i} = vec4f(0.0);`).join(' ')}
    for (var step = 0u; step < ${TILE_K}u; step++) {
      let b = vec4f(${RANGE.map((j) => `Bs[step * ${tileN}u + tx + ${tx * j}u]`).join(', ')});
      ${RANGE.map((i) => `part${i} += As[step * ${tileM}u + ty + ${ty * i}u] * b;`).join('\n      ')}
    }
    ${RANGE.map((i) => `acc${i} += part${i};`).join(' ')}
    workgroupBarrier();`;

/** Bindings of a GEMM whose B operand is `src` and A the weights, with an optional bias. */
const gemmBindings = (src: string, dst: string, hasBias: boolean) => `@group(0) @binding(0) var<storage, read> ${src}: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> ${dst}: array<f32>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;`;

/** The workgroup's block of D: rows from mBase, columns from colBase (a grid made by `grid`). */
const blockOrigin = (tileM: number, tileN: number) => `let group = ${LINEAR_GROUP_INDEX};
  let tilesM = (p.M + ${tileM - 1}u) / ${tileM}u;
  if (group >= tilesM * p.tilesN) { return; }
  let mBase = (group / p.tilesN) * ${tileM}u;
  let colBase = (group % p.tilesN) * ${tileN}u;`;

/** u32 words of the uniform block, in the kernel's Params order. */
export function convGemmParams(g: ConvGeometry): number[] {
  const { tx } = gemmShape(g.dstChannels);
  const cols = g.batch * g.dstH * g.dstW;
  return [g.dstChannels, g.srcChannels, g.srcH, g.srcW, g.dstH, g.dstW, g.strideH, g.strideW, g.padH, g.padW, cols, Math.ceil(cols / (tx * PER_THREAD))];
}

export function convGemmGrid(g: ConvGeometry): [number, number, number] {
  const { ty, tx } = gemmShape(g.dstChannels);
  const cols = g.batch * g.dstH * g.dstW;
  return grid(Math.ceil(g.dstChannels / (ty * PER_THREAD)) * Math.ceil(cols / (tx * PER_THREAD)));
}

export function convGemmKernel(g: ConvGeometry, hasBias: boolean, flipped = false): KernelSpec {
  const { ty, tx } = gemmShape(g.dstChannels);
  const { kh: KH, kw: KW } = g;
  const taps = KH * KW;
  const tileM = ty * PER_THREAD;
  const tileN = tx * PER_THREAD;
  const loadsA = (tileM * TILE_K) / THREADS;
  const loadsB = (tileN * TILE_K) / THREADS;
  const aIndex = flipped ? `(s * p.M + m) * ${taps}u + ${taps - 1}u - t` : `m * K + k`;
  return {
    name: 'conv-gemm',
    key: `${KH}x${KW}-${tileM}x${tileN}-${hasBias ? 'bias' : 'nobias'}${flipped ? '-flipped' : ''}`,
    source: () => /* wgsl */ `
struct Params {
  M: u32, srcC: u32, srcH: u32, srcW: u32, dstH: u32, dstW: u32,
  strideH: u32, strideW: u32, padH: u32, padW: u32, cols: u32, tilesN: u32,
}
${gemmBindings('S', 'D', hasBias)}

${stagingTiles(tileM, tileN)}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${blockOrigin(tileM, tileN)}
  let K = p.srcC * ${taps}u;
  let plane = p.dstH * p.dstW;

  // The one column of B this invocation stages, decomposed once.
  let loadCol = colBase + lid % ${tileN}u;
  let colOk = loadCol < p.cols;
  let col = min(loadCol, p.cols - 1u);
  let pixel = col % plane;
  let iy0 = i32((pixel / p.dstW) * p.strideH) - i32(p.padH);
  let ix0 = i32((pixel % p.dstW) * p.strideW) - i32(p.padW);
  let srcBase = (col / plane) * p.srcC * p.srcH * p.srcW;

  let tx = lid % ${tx}u;
  let ty = lid / ${tx}u;
  ${RANGE.map((i) => `var acc${i} = ${hasBias ? `vec4f(Bias[min(mBase + ty + ${ty * i}u, p.M - 1u)])` : 'vec4f(0.0)'};`).join('\n  ')}

  for (var k0 = 0u; k0 < K; k0 += ${TILE_K}u) {
    for (var r = 0u; r < ${loadsA}u; r++) {
      let kk = lid % ${TILE_K}u;
      let mm = lid / ${TILE_K}u + r * ${THREADS / TILE_K}u;
      let k = k0 + kk;
      let m = mBase + mm;
      var a = 0.0;
      if (k < K && m < p.M) {
        let s = k / ${taps}u;
        let t = k % ${taps}u;
        a = Wt[${aIndex}];
      }
      As[kk * ${tileM}u + mm] = a;
    }
    for (var r = 0u; r < ${loadsB}u; r++) {
      let kk = lid / ${tileN}u + r * ${THREADS / tileN}u;
      let k = k0 + kk;
      let s = k / ${taps}u;
      let t = k % ${taps}u;
      let iy = iy0 + i32(t / ${KW}u);
      let ix = ix0 + i32(t % ${KW}u);
      var b = 0.0;
      if (colOk && k < K && iy >= 0 && iy < i32(p.srcH) && ix >= 0 && ix < i32(p.srcW)) {
        b = S[srcBase + (s * p.srcH + u32(iy)) * p.srcW + u32(ix)];
      }
      Bs[kk * ${tileN}u + lid % ${tileN}u] = b;
    }
    ${multiplyStagedTiles(tileM, tileN, ty, tx)}
  }

  ${RANGE
    .map(
      (j) => `{
    let c = colBase + tx + ${tx * j}u;
    if (c < p.cols) {
      let out = (c / plane) * p.M * plane + c % plane;
      ${RANGE.map((i) => `if (mBase + ty + ${ty * i}u < p.M) { D[out + (mBase + ty + ${ty * i}u) * plane] = acc${i}[${j}]; }`).join('\n      ')}
    }
  }`,
    )
    .join('\n  ')}
}`,
  };
}

/**
 * The `weight` convolution of kernels/conv.ts (conv grad-weight) as an implicit GEMM:
 *
 *   dw[a, col] = Σ_k G[a, k] · B[k, col],  k = (n, y, x) position of g, col = (b, kh, kw),
 *   B[k, col] = src[n, b, y·st+kh−p, x·st+kw−p]  (0 outside the source).
 *
 * Tiles, staging and register blocking as convGemmKernel. k runs over every position of the
 * batch (up to millions) while dw is small, so k is split into `chunks` ranges, one workgroup
 * per (tile, chunk), each writing its partial sums (layout [weight, chunk]) for a second pass to
 * add; chunks are chosen so that there are enough workgroups to fill the GPU.
 */
export function convWeightGemmKernel(g: ConvGeometry): KernelSpec {
  const { ty, tx } = gemmShape(g.dstChannels);
  const { kh: KH, kw: KW } = g;
  const taps = KH * KW;
  const tileM = ty * PER_THREAD;
  const tileN = tx * PER_THREAD;
  return {
    name: 'conv-weight-gemm',
    key: `${KH}x${KW}-${tileM}x${tileN}`,
    source: () => /* wgsl */ `
struct Params {
  M: u32, srcC: u32, srcH: u32, srcW: u32, gH: u32, gW: u32,
  strideH: u32, strideW: u32, padH: u32, padW: u32, positions: u32, chunkLength: u32,
  tilesN: u32, tiles: u32, chunks: u32,
}
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

${stagingTiles(tileM, tileN)}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = ${LINEAR_GROUP_INDEX};
  if (group >= p.tiles * p.chunks) { return; }
  let chunk = group / p.tiles;
  let tile = group % p.tiles;
  let mBase = (tile / p.tilesN) * ${tileM}u;
  let colBase = (tile % p.tilesN) * ${tileN}u;
  let N = p.srcC * ${taps}u;
  let plane = p.gH * p.gW;
  let kStart = chunk * p.chunkLength;
  let kEnd = min(p.positions, kStart + p.chunkLength);

  let kk = lid % ${TILE_K}u;
  let tx = lid % ${tx}u;
  let ty = lid / ${tx}u;
  ${RANGE.map((i) => `var acc${i} = vec4f(0.0);`).join(' ')}

  for (var k0 = kStart; k0 < kEnd; k0 += ${TILE_K}u) {
    // This invocation's position along k for both tiles, decomposed once per step.
    let k = k0 + kk;
    let kOk = k < kEnd;
    let pos = min(k, p.positions - 1u);
    let n = pos / plane;
    let pixel = pos % plane;
    let iy0 = i32((pixel / p.gW) * p.strideH) - i32(p.padH);
    let ix0 = i32((pixel % p.gW) * p.strideW) - i32(p.padW);
    for (var r = 0u; r < ${tileM / 16}u; r++) {
      let mm = lid / ${TILE_K}u + r * ${THREADS / TILE_K}u;
      let m = mBase + mm;
      var a = 0.0;
      if (kOk && m < p.M) { a = G[(n * p.M + m) * plane + pixel]; }
      As[kk * ${tileM}u + mm] = a;
    }
    for (var r = 0u; r < ${tileN / 16}u; r++) {
      let cc = lid / ${TILE_K}u + r * ${THREADS / TILE_K}u;
      let col = colBase + cc;
      let b = col / ${taps}u;
      let t = col % ${taps}u;
      let iy = iy0 + i32(t / ${KW}u);
      let ix = ix0 + i32(t % ${KW}u);
      var v = 0.0;
      if (kOk && col < N && iy >= 0 && iy < i32(p.srcH) && ix >= 0 && ix < i32(p.srcW)) {
        v = S[((n * p.srcC + b) * p.srcH + u32(iy)) * p.srcW + u32(ix)];
      }
      Bs[kk * ${tileN}u + cc] = v;
    }
    ${multiplyStagedTiles(tileM, tileN, ty, tx)}
  }

  ${RANGE
    .map(
      (c) => `{
    let col = colBase + tx + ${tx * c}u;
    if (col < N) {
      ${RANGE.map((i) => `if (mBase + ty + ${ty * i}u < p.M) { DW[((mBase + ty + ${ty * i}u) * N + col) * p.chunks + chunk] = acc${i}[${c}]; }`).join('\n      ')}
    }
  }`,
    )
    .join('\n  ')}
}`,
  };
}

/** Workgroups the weight-gradient GEMM aims for (tiles × chunks), enough to fill a large GPU. */
const WEIGHT_GEMM_TARGET_GROUPS = 1024;
/** Fewest positions per chunk (shorter ones would spend more on the partial sums than they save). */
const WEIGHT_GEMM_MIN_CHUNK = 256;

/** Launch plan of convWeightGemmKernel: partial sums per weight (1: written in place), uniform words, grid. */
export function convWeightGemmPlan(g: ConvGeometry): { chunks: number; params: number[]; workgroups: [number, number, number] } {
  const { ty, tx } = gemmShape(g.dstChannels);
  const positions = g.batch * g.dstH * g.dstW;
  const tilesN = Math.ceil((g.srcChannels * g.kh * g.kw) / (tx * PER_THREAD));
  const tiles = Math.ceil(g.dstChannels / (ty * PER_THREAD)) * tilesN;
  const wanted = Math.min(Math.ceil(WEIGHT_GEMM_TARGET_GROUPS / tiles), Math.ceil(positions / WEIGHT_GEMM_MIN_CHUNK));
  // Whole TILE_K steps per chunk, and no empty chunk.
  const chunkLength = Math.ceil(positions / Math.max(1, wanted) / TILE_K) * TILE_K;
  const chunks = Math.ceil(positions / chunkLength);
  const params = [g.dstChannels, g.srcChannels, g.srcH, g.srcW, g.dstH, g.dstW, g.strideH, g.strideW, g.padH, g.padW, positions, chunkLength, tilesN, tiles, chunks];
  return { chunks, params, workgroups: grid(tiles * chunks) };
}

/**
 * conv-transpose2d forward when the kernel tiles the output exactly (stride = kernel size, no
 * padding or output padding — UNet's 2×2/s2 up-convolution) as a plain GEMM:
 *
 *   Y[m, col] = Σ_k W[k, m] · X[k, col] (+ bias),  k = input channel, col = (n, y, x) input
 *   pixel, m = (co, a, b) output channel and tap, stored at y·KH + a, x·KW + b.
 *
 * Every output element comes from exactly one (m, col), so no accumulation across launches is
 * needed. Tiles, staging and register blocking as convGemmKernel.
 */
export function convTransposeGemmKernel(g: ConvGeometry, hasBias: boolean): KernelSpec {
  const { ty, tx } = gemmShape(g.dstChannels * g.kh * g.kw);
  const { kh: KH, kw: KW } = g;
  const taps = KH * KW;
  const tileM = ty * PER_THREAD;
  const tileN = tx * PER_THREAD;
  return {
    name: 'conv-transpose-gemm',
    key: `${KH}x${KW}-${tileM}x${tileN}-${hasBias ? 'bias' : 'nobias'}`,
    source: () => /* wgsl */ `
struct Params { M: u32, K: u32, plane: u32, W: u32, cols: u32, tilesN: u32 }
${gemmBindings('X', 'Y', hasBias)}

${stagingTiles(tileM, tileN)}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${blockOrigin(tileM, tileN)}

  // This invocation's staged column of X, decomposed once.
  let loadCol = colBase + lid % ${tileN}u;
  let colOk = loadCol < p.cols;
  let col = min(loadCol, p.cols - 1u);
  let xBase = (col / p.plane) * p.K * p.plane + col % p.plane;

  let tx = lid % ${tx}u;
  let ty = lid / ${tx}u;
  ${RANGE.map((i) => `var acc${i} = vec4f(0.0);`).join(' ')}

  for (var k0 = 0u; k0 < p.K; k0 += ${TILE_K}u) {
    for (var r = 0u; r < ${(tileM * TILE_K) / THREADS}u; r++) {
      let mm = lid % ${tileM}u;
      let kk = lid / ${tileM}u + r * ${THREADS / tileM}u;
      let k = k0 + kk;
      let m = mBase + mm;
      var a = 0.0;
      if (k < p.K && m < p.M) { a = Wt[k * p.M + m]; }
      As[kk * ${tileM}u + mm] = a;
    }
    for (var r = 0u; r < ${(tileN * TILE_K) / THREADS}u; r++) {
      let kk = lid / ${tileN}u + r * ${THREADS / tileN}u;
      let k = k0 + kk;
      var b = 0.0;
      if (colOk && k < p.K) { b = X[xBase + k * p.plane]; }
      Bs[kk * ${tileN}u + lid % ${tileN}u] = b;
    }
    ${multiplyStagedTiles(tileM, tileN, ty, tx)}
  }

  let outW = p.W * ${KW}u;
  let outPlane = p.plane * ${taps}u;
  ${RANGE
    .map(
      (i) => `{
    let m = mBase + ty + ${ty * i}u;
    if (m < p.M) {
      let co = m / ${taps}u;
      let t = m % ${taps}u;
      ${hasBias ? 'let bias = Bias[co];' : ''}
      ${RANGE
        .map(
          (j) => `{
        let c = colBase + tx + ${tx * j}u;
        if (c < p.cols) {
          let pixel = c % p.plane;
          let oy = (pixel / p.W) * ${KH}u + t / ${KW}u;
          let ox = (pixel % p.W) * ${KW}u + t % ${KW}u;
          Y[((c / p.plane) * (p.M / ${taps}u) + co) * outPlane + oy * outW + ox] = acc${i}[${j}]${hasBias ? ' + bias' : ''};
        }
      }`,
        )
        .join('\n      ')}
    }
  }`,
    )
    .join('\n  ')}
}`,
  };
}

/** Whether convTransposeGemmKernel applies: the kernel tiles the output exactly. */
export function convTransposeTilesExactly(g: ConvGeometry, outputPadding: [number, number]): boolean {
  return g.strideH === g.kh && g.strideW === g.kw && g.padH === 0 && g.padW === 0 && outputPadding[0] === 0 && outputPadding[1] === 0;
}

export function convTransposeGemmLaunch(g: ConvGeometry): { params: number[]; workgroups: [number, number, number] } {
  const M = g.dstChannels * g.kh * g.kw;
  const { ty, tx } = gemmShape(M);
  const plane = g.srcH * g.srcW;
  const cols = g.batch * plane;
  const tilesN = Math.ceil(cols / (tx * PER_THREAD));
  return { params: [M, g.srcChannels, plane, g.srcW, cols, tilesN], workgroups: grid(Math.ceil(M / (ty * PER_THREAD)) * tilesN) };
}
