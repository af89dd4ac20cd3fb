/**
 * One file for the three GEMMs (gather/scatter, weight gradient, exact-tiling conv-transpose):
 * they are one kernel — the same tiles, staging and register blocking — with different operand
 * maps, which are easiest to check against each other side by side.
 *
 * The convolutions as implicit GEMMs (GPUs), on the tiles of gemm-tiles.ts. The `gather` pattern:
 *
 *   D[m, col] = Σ_k A[m, k] · B[k, col] (+ bias[m]),  m = destination channel,
 *   col = (n, y, x) destination pixel,  k = (s, kh, kw) source channel and tap,
 *   A[m, k] = w[m, s, kh, kw]  (flipped: w[s, m, KH−1−kh, KW−1−kw]),
 *   B[k, col] = src[n, s, y·st+kh−p, x·st+kw−p]  (0 outside the source; never materialised).
 *
 * The `scatter` pattern (conv2d grad-input with stride > 1, conv-transpose forward) is the same
 * GEMM with A[m, k] = w[s, m, kh, kw] and B[k, col] = src[n, s, (y+p−kh)/st, (x+p−kw)/st] where
 * both divisions are exact (0 elsewhere): with stride st only 1/st² of B is non-zero, but the
 * GEMM still beats the direct scatter kernel by far on a GPU.
 *
 * Every GEMM is specialized on its block shape (GEMM_TILES), which the planner picks per layer,
 * and on its operands' type: `half` GEMMs (mixed precision, engine/autocast.ts) read float16
 * sources and weights (each value widened exactly to f32 as it is staged), accumulate in f32
 * and write f32 results.
 */
import { grid, kernelFamily, LINEAR_GROUP_INDEX, type KernelSpec } from '../kernel.js';
import { entryPoint, kernelHeader } from '../wgsl.js';
import type { ConvGeometry } from './geometry.js';
import { GEMM_TILES, THREADS, TILE_K, blockOrigin, blockSize, pipelinedSteps, registerStaging, tileCode, unrolled, type GemmTile, type GemmTileName } from './gemm-tiles.js';

const GEMM = kernelFamily('conv-gemm');
const WEIGHT_GEMM = kernelFamily('conv-weight-gemm');
const TRANSPOSE_GEMM = kernelFamily('conv-transpose-gemm');

const tileKey = (t: GemmTile) => `${t.ty * t.rows}x${t.tx * t.cols}`;

/** How a GEMM reads its float operands: the binding's element type, a load widened to f32, and the key suffix. */
function operandType(half: boolean) {
  return {
    element: half ? 'f16' : 'f32',
    load: (expr: string) => (half ? `f32(${expr})` : expr),
    enable: half ? ['f16'] : [],
    key: half ? '-f16' : '',
  };
}

export interface GemmLaunch {
  kernel: KernelSpec;
  params: number[];
  workgroups: [number, number, number];
}

/**
 * Which convolution the GEMM computes: `gather`, conv2d forward and conv-transpose grad-input;
 * `flipped`, conv2d's stride-1 grad-input (a gather with the flipped, transposed kernel);
 * `scatter`, conv2d grad-input at any stride and conv-transpose forward.
 */
export type ConvGemmPattern = 'gather' | 'flipped' | 'scatter';

/** The gather / scatter convolutions as an implicit GEMM. */
export function convGemmLaunch(g: ConvGeometry, hasBias: boolean, pattern: ConvGemmPattern, tileName: GemmTileName, half = false): GemmLaunch {
  const cols = g.batch * g.dstH * g.dstW;
  const tile = GEMM_TILES[tileName];
  const c = blockSize(tile);
  const tilesN = Math.ceil(cols / c.tileN);
  return {
    kernel: convGemmKernel(g, tile, hasBias, pattern, half),
    params: [g.dstChannels, g.srcChannels, g.srcH, g.srcW, g.dstH, g.dstW, g.strideH, g.strideW, g.padH, g.padW, cols, tilesN],
    workgroups: grid(Math.ceil(g.dstChannels / c.tileM) * tilesN),
  };
}

function convGemmKernel(g: ConvGeometry, tile: GemmTile, hasBias: boolean, pattern: ConvGemmPattern, half: boolean): KernelSpec {
  const type = operandType(half);
  return GEMM.spec(`${g.kh}x${g.kw}-${tileKey(tile)}-${hasBias ? 'bias' : 'nobias'}-${pattern}${pattern === 'scatter' ? `-s${g.strideH}x${g.strideW}` : ''}${type.key}`, () => {
    const c = tileCode(tile);
    const { kh: KH, kw: KW, strideH: SH, strideW: SW } = g;
    const taps = KH * KW;
    const groupsN = c.tileN / 4;
    const aIndex = { gather: `m * K + k`, flipped: `(s * p.M + m) * ${taps}u + ${taps - 1}u - t`, scatter: `(s * p.M + m) * ${taps}u + t` }[pattern];
    const scatter = pattern === 'scatter';
    /**
     * Source row/column of lane l at tap offset (dy, dx) and whether it exists. Gather: iy{l} is
     * y·st − p and the source row iy{l} + dy. Scatter: iy{l} is y + p and the source row
     * (iy{l} − dy) / st when exact (strides are compiled in, so the divisions are cheap).
     */
    const source = (l: number) =>
      scatter
        ? `let ny = iy${l} - dy;
        let nx = ix${l} - dx;
        let sy = ny / ${SH};
        let sx = nx / ${SW};
        if (ok${l} && k < K && ny >= 0 && nx >= 0 && ny == sy * ${SH} && nx == sx * ${SW} && sy < i32(p.srcH) && sx < i32(p.srcW)) {`
        : `let sy = iy${l} + dy;
        let sx = ix${l} + dx;
        if (ok${l} && k < K && sy >= 0 && sy < i32(p.srcH) && sx >= 0 && sx < i32(p.srcW)) {`;
    // A groups: k = e % TILE_K (contiguous weights across neighbouring invocations), 4 rows e / TILE_K.
    const A = registerStaging(
      'A',
      c.groupsA,
      (r, e, k0) => `let k = ${k0} + ${e} % ${TILE_K}u;
        let s = k / ${taps}u;
        let t = k % ${taps}u;
        let m0 = mBase + (${e} / ${TILE_K}u) * 4u;
        ${unrolled((q) => `{ let m = m0 + ${q}u; if (k < K && m < p.M) { rA${r}[${q}] = ${type.load(`Wt[${aIndex}]`)}; } else { rA${r}[${q}] = 0.0; } }`)}`,
      (e) => `(${e} % ${TILE_K}u) * ${c.tileM / 4}u + ${e} / ${TILE_K}u`,
    );
    // B groups: this invocation's four columns (stageGroup = e % groupsN), row k = e / groupsN.
    const B = registerStaging(
      'B',
      c.groupsB,
      (r, e, k0) => `let k = ${k0} + ${e} / ${groupsN}u;
        let s = k / ${taps}u;
        let t = k % ${taps}u;
        let dy = i32(t / ${KW}u);
        let dx = i32(t % ${KW}u);
        let plane0 = s * p.srcH * p.srcW;
        ${c.lanes
          .map(
            (l) => `{
        ${source(l)}
          rB${r}[${l}] = ${type.load(`S[base${l} + plane0 + u32(sy) * p.srcW + u32(sx)]`)};
        } else { rB${r}[${l}] = 0.0; }
        }`,
          )
          .join('\n      ')}`,
      (e) => e,
    );
    return /* wgsl */ `
${kernelHeader({
  enable: type.enable,
  params: `M: u32, srcC: u32, srcH: u32, srcW: u32, dstH: u32, dstW: u32,
  strideH: u32, strideW: u32, padH: u32, padW: u32, cols: u32, tilesN: u32,`,
  inputs: [['S', type.element], ['Wt', type.element], hasBias ? ['Bias', 'f32'] : null],
  outputs: [['D', 'f32']],
})}

${c.staging}

${entryPoint(THREADS)} {
  ${blockOrigin(c.tileM, c.tileN)}
  let K = p.srcC * ${taps}u;
  let plane = p.dstH * p.dstW;

  // The four columns of B this invocation stages (always the same group), decomposed once.
  let stageGroup = lid % ${groupsN}u;
  ${c.lanes
    .map(
      (l) => `let col${l} = colBase + stageGroup * 4u + ${l}u;
  let ok${l} = col${l} < p.cols;
  let pixel${l} = min(col${l}, p.cols - 1u) % plane;
  let iy${l} = ${scatter ? `i32(pixel${l} / p.dstW + p.padH)` : `i32((pixel${l} / p.dstW) * p.strideH) - i32(p.padH)`};
  let ix${l} = ${scatter ? `i32(pixel${l} % p.dstW + p.padW)` : `i32((pixel${l} % p.dstW) * p.strideW) - i32(p.padW)`};
  let base${l} = (min(col${l}, p.cols - 1u) / plane) * p.srcC * p.srcH * p.srcW;`,
    )
    .join('\n  ')}

  ${c.declare((i) => (hasBias ? `vec4f(Bias[min(mBase + ${c.row(i)}, p.M - 1u)])` : 'vec4f(0.0)'))}

  ${A.declare} ${B.declare}
  ${pipelinedSteps('0u', 'K', (k0) => `${A.fetch(k0)}\n    ${B.fetch(k0)}`, `${A.store}\n    ${B.store}`, c.multiply)}

  ${c.colGroups
    .map((h) =>
      c.lanes
        .map(
          (l) => `{
    let col = colBase + ${c.col(h, l)};
    if (col < p.cols) {
      let out = (col / plane) * p.M * plane + col % plane;
      ${c.rowsIdx.map((i) => `if (mBase + ${c.row(i)} < p.M) { D[out + (mBase + ${c.row(i)}) * plane] = acc${i}_${h}[${l}]; }`).join('\n      ')}
    }
  }`,
        )
        .join('\n  '),
    )
    .join('\n  ')}
}`;
  });
}

/** Workgroups the weight-gradient GEMM aims for (tiles × chunks), enough to fill a large GPU. */
const WEIGHT_GEMM_TARGET_GROUPS = 1024;
/** Fewest positions per chunk (shorter ones would spend more on the partial sums than they save). */
const WEIGHT_GEMM_MIN_CHUNK = 256;

/**
 * The `weight` convolution (conv grad-weight) as an implicit GEMM:
 *
 *   dw[a, col] = Σ_k G[a, k] · B[k, col],  k = (n, y, x) position of g, col = (b, kh, kw),
 *   B[k, col] = src[n, b, y·st+kh−p, x·st+kw−p]  (0 outside the source).
 *
 * Tiles, staging and register blocking as the forward GEMM. k runs over every position of the
 * batch (up to millions) while dw is small, so k is split into `chunks` ranges, one workgroup
 * per (tile, chunk), each writing its partial sums (layout [weight, chunk]) for a second pass to
 * add (1 chunk: written in place); chunks are chosen so that there are enough workgroups to fill
 * the GPU.
 */
export function convWeightGemmLaunch(g: ConvGeometry, tileName: GemmTileName, half = false): GemmLaunch & { chunks: number } {
  const N = g.srcChannels * g.kh * g.kw;
  const tile = GEMM_TILES[tileName];
  const c = blockSize(tile);
  const positions = g.batch * g.dstH * g.dstW;
  const tilesN = Math.ceil(N / c.tileN);
  const tiles = Math.ceil(g.dstChannels / c.tileM) * tilesN;
  const wanted = Math.min(Math.ceil(WEIGHT_GEMM_TARGET_GROUPS / tiles), Math.ceil(positions / WEIGHT_GEMM_MIN_CHUNK));
  // Whole TILE_K steps per chunk, and no empty chunk.
  const chunkLength = Math.ceil(positions / Math.max(1, wanted) / TILE_K) * TILE_K;
  const chunks = Math.ceil(positions / chunkLength);
  return {
    kernel: convWeightGemmKernel(g.kh, g.kw, tile, half),
    chunks,
    params: [g.dstChannels, g.srcChannels, g.srcH, g.srcW, g.dstH, g.dstW, g.strideH, g.strideW, g.padH, g.padW, positions, chunkLength, tilesN, tiles, chunks],
    workgroups: grid(tiles * chunks),
  };
}

function convWeightGemmKernel(KH: number, KW: number, tile: GemmTile, half: boolean): KernelSpec {
  const type = operandType(half);
  return WEIGHT_GEMM.spec(`${KH}x${KW}-${tileKey(tile)}${type.key}`, () => {
    const c = tileCode(tile);
    const taps = KH * KW;
    // Both tiles are staged with k = lid % TILE_K (contiguous positions across neighbouring
    // invocations), so this invocation's position is decomposed once per step; 4 rows / columns
    // per group at e / TILE_K.
    const A = registerStaging(
      'A',
      c.groupsA,
      (r, e) => `let m0 = mBase + (${e} / ${TILE_K}u) * 4u;
        ${unrolled((q) => `{ let m = m0 + ${q}u; if (kOk && m < p.M) { rA${r}[${q}] = ${type.load('G[gBase + m * plane]')}; } else { rA${r}[${q}] = 0.0; } }`)}`,
      (e) => `(${e} % ${TILE_K}u) * ${c.tileM / 4}u + ${e} / ${TILE_K}u`,
    );
    const B = registerStaging(
      'B',
      c.groupsB,
      (r, e) => `let col0 = colBase + (${e} / ${TILE_K}u) * 4u;
        ${unrolled(
          (q) => `{
          let col = col0 + ${q}u;
          let t = col % ${taps}u;
          let iy = iy0 + i32(t / ${KW}u);
          let ix = ix0 + i32(t % ${KW}u);
          if (kOk && col < N && iy >= 0 && iy < i32(p.srcH) && ix >= 0 && ix < i32(p.srcW)) {
            rB${r}[${q}] = ${type.load(`S[((sBase + col / ${taps}u) * p.srcH + u32(iy)) * p.srcW + u32(ix)]`)};
          } else { rB${r}[${q}] = 0.0; }
        }`,
        )}`,
      (e) => `(${e} % ${TILE_K}u) * ${c.tileN / 4}u + ${e} / ${TILE_K}u`,
    );
    const fetch = (k0: string) => `{
        let k = ${k0} + lid % ${TILE_K}u;
        let kOk = k < kEnd;
        let pos = min(k, p.positions - 1u);
        let n = pos / plane;
        let pixel = pos % plane;
        let iy0 = i32((pixel / p.gW) * p.strideH) - i32(p.padH);
        let ix0 = i32((pixel % p.gW) * p.strideW) - i32(p.padW);
        let gBase = n * p.M * plane + pixel;
        let sBase = n * p.srcC;
        ${A.fetch(k0)}
        ${B.fetch(k0)}
      }`;
    return /* wgsl */ `
${kernelHeader({
  enable: type.enable,
  params: `M: u32, srcC: u32, srcH: u32, srcW: u32, gH: u32, gW: u32,
  strideH: u32, strideW: u32, padH: u32, padW: u32, positions: u32, chunkLength: u32,
  tilesN: u32, tiles: u32, chunks: u32,`,
  inputs: [['G', type.element], ['S', type.element]],
  outputs: [['DW', 'f32']],
})}

${c.staging}

${entryPoint(THREADS)} {
  let group = ${LINEAR_GROUP_INDEX};
  if (group >= p.tiles * p.chunks) { return; }
  let chunk = group / p.tiles;
  let tile = group % p.tiles;
  let mBase = (tile / p.tilesN) * ${c.tileM}u;
  let colBase = (tile % p.tilesN) * ${c.tileN}u;
  let N = p.srcC * ${taps}u;
  let plane = p.gH * p.gW;
  let kStart = chunk * p.chunkLength;
  let kEnd = min(p.positions, kStart + p.chunkLength);

  ${c.declare(() => 'vec4f(0.0)')}

  ${A.declare} ${B.declare}
  ${pipelinedSteps('kStart', 'kEnd', fetch, `${A.store}\n    ${B.store}`, c.multiply)}

  ${c.colGroups
    .map((h) =>
      c.lanes
        .map(
          (l) => `{
    let col = colBase + ${c.col(h, l)};
    if (col < N) {
      ${c.rowsIdx.map((i) => `if (mBase + ${c.row(i)} < p.M) { DW[((mBase + ${c.row(i)}) * N + col) * p.chunks + chunk] = acc${i}_${h}[${l}]; }`).join('\n      ')}
    }
  }`,
        )
        .join('\n  '),
    )
    .join('\n  ')}
}`;
  });
}

/**
 * conv-transpose2d forward when the kernel tiles the output exactly (stride = kernel size, no
 * padding or output padding — UNet's 2×2/s2 up-convolution; plan.ts tilesExactly) as a plain GEMM:
 *
 *   Y[m, col] = Σ_k W[k, m] · X[k, col] (+ bias),  k = input channel, col = (n, y, x) input
 *   pixel, m = (co, a, b) output channel and tap, stored at y·KH + a, x·KW + b.
 *
 * Every output element comes from exactly one (m, col), so no accumulation across launches is
 * needed. Tiles, staging and register blocking as the conv GEMM.
 */
export function convTransposeGemmLaunch(g: ConvGeometry, hasBias: boolean, tileName: GemmTileName, half = false): GemmLaunch {
  const M = g.dstChannels * g.kh * g.kw;
  const plane = g.srcH * g.srcW;
  const cols = g.batch * plane;
  const tile = GEMM_TILES[tileName];
  const c = blockSize(tile);
  const tilesN = Math.ceil(cols / c.tileN);
  return {
    kernel: convTransposeGemmKernel(g.kh, g.kw, tile, hasBias, half),
    params: [M, g.srcChannels, plane, g.srcW, cols, tilesN],
    workgroups: grid(Math.ceil(M / c.tileM) * tilesN),
  };
}

function convTransposeGemmKernel(KH: number, KW: number, tile: GemmTile, hasBias: boolean, half: boolean): KernelSpec {
  const type = operandType(half);
  return TRANSPOSE_GEMM.spec(`${KH}x${KW}-${tileKey(tile)}-${hasBias ? 'bias' : 'nobias'}${type.key}`, () => {
    const c = tileCode(tile);
    const taps = KH * KW;
    const groupsM = c.tileM / 4;
    const groupsN = c.tileN / 4;
    // W[k, m] is contiguous along m: neighbouring invocations take neighbouring groups of 4 rows.
    const A = registerStaging(
      'A',
      c.groupsA,
      (r, e, k0) => `let k = ${k0} + ${e} / ${groupsM}u;
        let m0 = mBase + (${e} % ${groupsM}u) * 4u;
        ${unrolled((q) => `{ let m = m0 + ${q}u; if (k < p.K && m < p.M) { rA${r}[${q}] = ${type.load('Wt[k * p.M + m]')}; } else { rA${r}[${q}] = 0.0; } }`)}`,
      (e) => e,
    );
    // X groups: this invocation's four columns (stageGroup = e % groupsN), row k = e / groupsN.
    const B = registerStaging(
      'B',
      c.groupsB,
      (r, e, k0) => `let k = ${k0} + ${e} / ${groupsN}u;
        ${c.lanes.map((l) => `if (ok${l} && k < p.K) { rB${r}[${l}] = ${type.load(`X[x${l} + k * p.plane]`)}; } else { rB${r}[${l}] = 0.0; }`).join('\n      ')}`,
      (e) => e,
    );
    return /* wgsl */ `
${kernelHeader({
  enable: type.enable,
  params: 'M: u32, K: u32, plane: u32, W: u32, cols: u32, tilesN: u32',
  inputs: [['X', type.element], ['Wt', type.element], hasBias ? ['Bias', 'f32'] : null],
  outputs: [['Y', 'f32']],
})}

${c.staging}

${entryPoint(THREADS)} {
  ${blockOrigin(c.tileM, c.tileN)}

  // The four columns of X this invocation stages (always the same group), decomposed once.
  let stageGroup = lid % ${groupsN}u;
  ${c.lanes
    .map(
      (l) => `let ok${l} = colBase + stageGroup * 4u + ${l}u < p.cols;
  let base${l} = min(colBase + stageGroup * 4u + ${l}u, p.cols - 1u);
  let x${l} = (base${l} / p.plane) * p.K * p.plane + base${l} % p.plane;`,
    )
    .join('\n  ')}

  ${c.declare(() => 'vec4f(0.0)')}

  ${A.declare} ${B.declare}
  ${pipelinedSteps('0u', 'p.K', (k0) => `${A.fetch(k0)}\n    ${B.fetch(k0)}`, `${A.store}\n    ${B.store}`, c.multiply)}

  let outW = p.W * ${KW}u;
  let outPlane = p.plane * ${taps}u;
  ${c.rowsIdx
    .map(
      (i) => `{
    let m = mBase + ${c.row(i)};
    if (m < p.M) {
      let co = m / ${taps}u;
      let t = m % ${taps}u;
      ${hasBias ? 'let bias = Bias[co];' : ''}
      ${c.colGroups
        .map((h) =>
          c.lanes
            .map(
              (l) => `{
        let col = colBase + ${c.col(h, l)};
        if (col < p.cols) {
          let pixel = col % p.plane;
          let oy = (pixel / p.W) * ${KH}u + t / ${KW}u;
          let ox = (pixel % p.W) * ${KW}u + t % ${KW}u;
          Y[((col / p.plane) * (p.M / ${taps}u) + co) * outPlane + oy * outW + ox] = acc${i}_${h}[${l}]${hasBias ? ' + bias' : ''};
        }
      }`,
            )
            .join('\n      '),
        )
        .join('\n      ')}
    }
  }`,
    )
    .join('\n  ')}
}`;
  });
}
