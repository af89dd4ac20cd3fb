/**
 * The `gather` convolution of kernels/conv.ts as an implicit GEMM, for GPUs:
 *
 *   D[m, col] = Σ_k A[m, k] · B[k, col] (+ bias[m]),  m = destination channel,
 *   col = (n, y, x) destination pixel,  k = (s, kh, kw) source channel and tap,
 *   A[m, k] = w[m, s, kh, kw]  (flipped: w[s, m, KH−1−kh, KW−1−kw]),
 *   B[k, col] = src[n, s, y·st+kh−p, x·st+kw−p]  (0 outside the source; never materialised).
 *
 * The `scatter` pattern (conv2d grad-input with stride > 1, conv-transpose forward) is the same
 * GEMM with A[m, k] = w[s, m, kh, kw] and B[k, col] = src[n, s, (y+p−kh)/st, (x+p−kw)/st] where
 * both divisions are exact (0 elsewhere): with stride st only 1/st² of B is non-zero, but the
 * GEMM still runs ~10× faster than the direct scatter kernel on a GPU.
 *
 * A workgroup of 256 invocations computes a tileM × tileN block of D (a {@link GemmTile}); for
 * each step of TILE_K along k it stages the A and B tiles in workgroup memory as vec4s of four
 * rows / four columns (global loads coalesced along whichever index is contiguous in memory),
 * then every invocation multiplies its `rows` × `cols` sub-block in registers: per k it reads
 * rows/4 + cols/4 vec4s from workgroup memory for rows·cols multiply-adds, so larger sub-blocks
 * are less bound by workgroup-memory bandwidth. An invocation's rows and columns come in runs of
 * 4, the runs strided by the thread grid, so neighbouring invocations read neighbouring vec4s.
 */
import type { ConvGeometry } from './conv.js';
import { LINEAR_GROUP_INDEX, cachedKernel, grid, type KernelSpec } from './kernel.js';

const THREADS = 256;
const TILE_K = 16;

/** Block shape of a GEMM workgroup: ty × tx invocations (= 256), each `rows` × `cols` (multiples of 4). */
export interface GemmTile {
  ty: number;
  tx: number;
  rows: number;
  cols: number;
}

export const GEMM_TILES = {
  '16x256': { ty: 4, tx: 64, rows: 4, cols: 4 },
  '32x256': { ty: 4, tx: 64, rows: 8, cols: 4 },
  '64x64': { ty: 16, tx: 16, rows: 4, cols: 4 },
  '64x128': { ty: 16, tx: 16, rows: 4, cols: 8 },
  '128x64': { ty: 16, tx: 16, rows: 8, cols: 4 },
  '128x128': { ty: 16, tx: 16, rows: 8, cols: 8 },
} as const satisfies Record<string, GemmTile>;

export type GemmTileName = keyof typeof GEMM_TILES;

/** Fewest workgroups a launch should have before a smaller block is preferred (a large GPU has ~100+ compute units). */
const MIN_BLOCKS = 256;

/**
 * The block shape for an M × N result: the tallest block M fills (few destination channels
 * would leave most rows of a tall block idle), stepped down while the launch has fewer than
 * MIN_BLOCKS workgroups. The weight-gradient GEMM (`splitK`) fills the GPU by splitting k
 * instead, and its short k ranges per workgroup favour 64 × 128 blocks over 128 × 128 (H100:
 * ~21 vs ~15 TFLOP/s on UNet's large layers). `choice` names a shape to use instead
 * (AdapterTuning.gemmTile).
 */
export function gemmTileFor(M: number, N: number, choice: GemmTileName | 'auto' = 'auto', splitK = false): GemmTile {
  if (choice !== 'auto') return GEMM_TILES[choice];
  if (M <= 16) return GEMM_TILES['16x256'];
  if (M <= 32) return GEMM_TILES['32x256'];
  if (splitK) return GEMM_TILES['64x128'];
  const ladder: GemmTileName[] = M <= 64 ? ['64x128', '64x64'] : ['128x128', '128x64', '64x64'];
  const blocks = (t: GemmTile) => Math.ceil(M / (t.ty * t.rows)) * Math.ceil(N / (t.tx * t.cols));
  return GEMM_TILES[ladder.find((n) => blocks(GEMM_TILES[n]) >= MIN_BLOCKS) ?? ladder[ladder.length - 1]];
}

const blockSize = (t: GemmTile) => ({ tileM: t.ty * t.rows, tileN: t.tx * t.cols });

/** Code-generation helpers for one tile shape. */
function tileCode(t: GemmTile) {
  const tileM = t.ty * t.rows;
  const tileN = t.tx * t.cols;
  const rowsIdx = [...Array(t.rows).keys()];
  const colGroups = [...Array(t.cols / 4).keys()];
  const lanes = [0, 1, 2, 3];
  /** Offset of register row i from the invocation's first row (ty·4), and of column group h from tx·4. */
  const rowOffset = (i: number) => Math.floor(i / 4) * t.ty * 4 + (i % 4);
  const colOffset = (h: number) => h * t.tx * 4;
  return {
    tileM,
    tileN,
    /** Number of vec4s of A (B) per TILE_K step. */
    groupsA: (TILE_K * tileM) / 4,
    groupsB: (TILE_K * tileN) / 4,
    staging: `var<workgroup> As: array<vec4f, ${(TILE_K * tileM) / 4}>;
var<workgroup> Bs: array<vec4f, ${(TILE_K * tileN) / 4}>;`,
    /** Accumulators acc{i}_{h}: register row i, columns of group h (a vec4). */
    declare: (init: (i: number) => string) =>
      `let tx = lid % ${t.tx}u;
  let ty = lid / ${t.tx}u;
  ${rowsIdx.map((i) => colGroups.map((h) => `var acc${i}_${h} = ${init(i)};`).join(' ')).join('\n  ')}`,
    /** Row of register row i relative to mBase. */
    row: (i: number) => `(ty * 4u + ${rowOffset(i)}u)`,
    /** Column of group h, lane l relative to colBase. */
    col: (h: number, l: number) => `(tx * 4u + ${colOffset(h) + l}u)`,
    rowsIdx,
    colGroups,
    lanes,
    /** Multiply the staged TILE_K step into the accumulators. */
    multiply: `for (var step = 0u; step < ${TILE_K}u; step++) {
      ${[...Array(t.rows / 4).keys()].map((g) => `let a${g} = As[step * ${tileM / 4}u + ty + ${g * t.ty}u];`).join(' ')}
      ${colGroups.map((h) => `let b${h} = Bs[step * ${tileN / 4}u + tx + ${h * t.tx}u];`).join(' ')}
      ${rowsIdx.map((i) => colGroups.map((h) => `acc${i}_${h} = fma(vec4f(a${Math.floor(i / 4)}[${i % 4}]), b${h}, acc${i}_${h});`).join(' ')).join('\n      ')}
    }`,
  };
}

/**
 * Software pipelining of the k loop: the global loads of step k + 1 go into registers
 * (`fetch`) before the tiles of step k are multiplied, so their latency hides behind the
 * multiply-adds; `store` then moves them to workgroup memory. `end` must be uniform.
 */
const pipelinedSteps = (start: string, end: string, fetch: (k0: string) => string, store: string, multiply: string) => `var k0 = ${start};
  ${fetch('k0')}
  loop {
    if (k0 >= ${end}) { break; }
    ${store}
    workgroupBarrier();
    let next = k0 + ${TILE_K}u;
    if (next < ${end}) {
      ${fetch('next')}
    }
    ${multiply}
    workgroupBarrier();
    k0 = next;
  }`;

/**
 * The vec4 groups of one operand tile that invocation `lid` stages per step: slot r covers
 * group lid + 256·r (when the tile has fewer than 256 groups, the invocations beyond them
 * stage nothing). Registers r{name}{slot}; `load` assigns one for the step at k0, `place` gives
 * a group's index in the workgroup array {name}s.
 */
function registerStaging(name: string, groups: number, load: (slot: number, e: string, k0: string) => string, place: (e: string) => string) {
  const slots = [...Array(Math.ceil(groups / THREADS)).keys()];
  const guard = (code: string) => (groups < THREADS ? `if (lid < ${groups}u) { ${code} }` : code);
  const e = (slot: number) => `(lid + ${slot * THREADS}u)`;
  return {
    declare: slots.map((r) => `var r${name}${r} = vec4f(0.0);`).join(' '),
    fetch: (k0: string) => slots.map((r) => guard(`{\n      ${load(r, e(r), k0)}\n    }`)).join('\n    '),
    store: slots.map((r) => guard(`${name}s[${place(e(r))}] = r${name}${r};`)).join('\n    '),
  };
}

/** The four lanes of a vec4 written out (constant component indices keep it in registers). */
const unrolled = (lane: (q: number) => string) => [0, 1, 2, 3].map(lane).join('\n      ');

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

const tileKey = (t: GemmTile) => `${t.ty * t.rows}x${t.tx * t.cols}`;

export interface GemmLaunch {
  kernel: KernelSpec;
  params: number[];
  workgroups: [number, number, number];
}

/**
 * Which convolution the GEMM computes: `gather`, conv2d forward; `flipped`, its stride-1
 * grad-input and conv-transpose grad-input (gather with the flipped, transposed kernel);
 * `scatter`, conv2d grad-input at any stride and conv-transpose forward.
 */
export type ConvGemmPattern = 'gather' | 'flipped' | 'scatter';

/** The gather / scatter convolutions of kernels/conv.ts as an implicit GEMM. */
export function convGemmLaunch(g: ConvGeometry, hasBias: boolean, pattern: ConvGemmPattern, choice: GemmTileName | 'auto' = 'auto'): GemmLaunch {
  const cols = g.batch * g.dstH * g.dstW;
  const tile = gemmTileFor(g.dstChannels, cols, choice);
  const c = blockSize(tile);
  const tilesN = Math.ceil(cols / c.tileN);
  return {
    kernel: convGemmKernel(g, tile, hasBias, pattern),
    params: [g.dstChannels, g.srcChannels, g.srcH, g.srcW, g.dstH, g.dstW, g.strideH, g.strideW, g.padH, g.padW, cols, tilesN],
    workgroups: grid(Math.ceil(g.dstChannels / c.tileM) * tilesN),
  };
}

function convGemmKernel(g: ConvGeometry, tile: GemmTile, hasBias: boolean, pattern: ConvGemmPattern): KernelSpec {
  return cachedKernel('conv-gemm', `${g.kh}x${g.kw}-${tileKey(tile)}-${hasBias ? 'bias' : 'nobias'}-${pattern}${pattern === 'scatter' ? `-s${g.strideH}x${g.strideW}` : ''}`, () => {
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
        ${unrolled((q) => `{ let m = m0 + ${q}u; if (k < K && m < p.M) { rA${r}[${q}] = Wt[${aIndex}]; } else { rA${r}[${q}] = 0.0; } }`)}`,
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
          rB${r}[${l}] = S[base${l} + plane0 + u32(sy) * p.srcW + u32(sx)];
        } else { rB${r}[${l}] = 0.0; }
        }`,
          )
          .join('\n      ')}`,
      (e) => e,
    );
    return /* wgsl */ `
struct Params {
  M: u32, srcC: u32, srcH: u32, srcW: u32, dstH: u32, dstW: u32,
  strideH: u32, strideW: u32, padH: u32, padW: u32, cols: u32, tilesN: u32,
}
${gemmBindings('S', 'D', hasBias)}

${c.staging}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
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
 * The `weight` convolution of kernels/conv.ts (conv grad-weight) as an implicit GEMM:
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
export function convWeightGemmLaunch(g: ConvGeometry, choice: GemmTileName | 'auto' = 'auto'): GemmLaunch & { chunks: number } {
  const N = g.srcChannels * g.kh * g.kw;
  const tile = gemmTileFor(g.dstChannels, N, choice, true);
  const c = blockSize(tile);
  const positions = g.batch * g.dstH * g.dstW;
  const tilesN = Math.ceil(N / c.tileN);
  const tiles = Math.ceil(g.dstChannels / c.tileM) * tilesN;
  const wanted = Math.min(Math.ceil(WEIGHT_GEMM_TARGET_GROUPS / tiles), Math.ceil(positions / WEIGHT_GEMM_MIN_CHUNK));
  // Whole TILE_K steps per chunk, and no empty chunk.
  const chunkLength = Math.ceil(positions / Math.max(1, wanted) / TILE_K) * TILE_K;
  const chunks = Math.ceil(positions / chunkLength);
  return {
    kernel: convWeightGemmKernel(g.kh, g.kw, tile),
    chunks,
    params: [g.dstChannels, g.srcChannels, g.srcH, g.srcW, g.dstH, g.dstW, g.strideH, g.strideW, g.padH, g.padW, positions, chunkLength, tilesN, tiles, chunks],
    workgroups: grid(tiles * chunks),
  };
}

function convWeightGemmKernel(KH: number, KW: number, tile: GemmTile): KernelSpec {
  return cachedKernel('conv-weight-gemm', `${KH}x${KW}-${tileKey(tile)}`, () => {
    const c = tileCode(tile);
    const taps = KH * KW;
    // Both tiles are staged with k = lid % TILE_K (contiguous positions across neighbouring
    // invocations), so this invocation's position is decomposed once per step; 4 rows / columns
    // per group at e / TILE_K.
    const A = registerStaging(
      'A',
      c.groupsA,
      (r, e) => `let m0 = mBase + (${e} / ${TILE_K}u) * 4u;
        ${unrolled((q) => `{ let m = m0 + ${q}u; if (kOk && m < p.M) { rA${r}[${q}] = G[gBase + m * plane]; } else { rA${r}[${q}] = 0.0; } }`)}`,
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
            rB${r}[${q}] = S[((sBase + col / ${taps}u) * p.srcH + u32(iy)) * p.srcW + u32(ix)];
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
struct Params {
  M: u32, srcC: u32, srcH: u32, srcW: u32, gH: u32, gW: u32,
  strideH: u32, strideW: u32, padH: u32, padW: u32, positions: u32, chunkLength: u32,
  tilesN: u32, tiles: u32, chunks: u32,
}
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

${c.staging}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
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

/** Whether convTransposeGemmLaunch applies: the kernel tiles the output exactly. */
export function convTransposeTilesExactly(g: ConvGeometry, outputPadding: [number, number]): boolean {
  return g.strideH === g.kh && g.strideW === g.kw && g.padH === 0 && g.padW === 0 && outputPadding[0] === 0 && outputPadding[1] === 0;
}

/**
 * conv-transpose2d forward when the kernel tiles the output exactly (stride = kernel size, no
 * padding or output padding — UNet's 2×2/s2 up-convolution) as a plain GEMM:
 *
 *   Y[m, col] = Σ_k W[k, m] · X[k, col] (+ bias),  k = input channel, col = (n, y, x) input
 *   pixel, m = (co, a, b) output channel and tap, stored at y·KH + a, x·KW + b.
 *
 * Every output element comes from exactly one (m, col), so no accumulation across launches is
 * needed. Tiles, staging and register blocking as the conv GEMM.
 */
export function convTransposeGemmLaunch(g: ConvGeometry, hasBias: boolean, choice: GemmTileName | 'auto' = 'auto'): GemmLaunch {
  const M = g.dstChannels * g.kh * g.kw;
  const plane = g.srcH * g.srcW;
  const cols = g.batch * plane;
  const tile = gemmTileFor(M, cols, choice);
  const c = blockSize(tile);
  const tilesN = Math.ceil(cols / c.tileN);
  return {
    kernel: convTransposeGemmKernel(g.kh, g.kw, tile, hasBias),
    params: [M, g.srcChannels, plane, g.srcW, cols, tilesN],
    workgroups: grid(Math.ceil(M / c.tileM) * tilesN),
  };
}

function convTransposeGemmKernel(KH: number, KW: number, tile: GemmTile, hasBias: boolean): KernelSpec {
  return cachedKernel('conv-transpose-gemm', `${KH}x${KW}-${tileKey(tile)}-${hasBias ? 'bias' : 'nobias'}`, () => {
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
        ${unrolled((q) => `{ let m = m0 + ${q}u; if (k < p.K && m < p.M) { rA${r}[${q}] = Wt[k * p.M + m]; } else { rA${r}[${q}] = 0.0; } }`)}`,
      (e) => e,
    );
    // X groups: this invocation's four columns (stageGroup = e % groupsN), row k = e / groupsN.
    const B = registerStaging(
      'B',
      c.groupsB,
      (r, e, k0) => `let k = ${k0} + ${e} / ${groupsN}u;
        ${c.lanes.map((l) => `if (ok${l} && k < p.K) { rB${r}[${l}] = X[x${l} + k * p.plane]; } else { rB${r}[${l}] = 0.0; }`).join('\n      ')}`,
      (e) => e,
    );
    return /* wgsl */ `
struct Params { M: u32, K: u32, plane: u32, W: u32, cols: u32, tilesN: u32 }
${gemmBindings('X', 'Y', hasBias)}

${c.staging}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
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
