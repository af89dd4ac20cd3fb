/**
 * The machinery the implicit GEMMs of gemm.ts share: block shapes, register blocking, operand
 * staging in workgroup memory and the software-pipelined k loop. A workgroup of 256 invocations
 * computes a tileM × tileN block of D (a {@link GemmTile}); for each step of TILE_K along k it
 * stages the A and B tiles in workgroup memory as vec4s of four rows / four columns (global
 * loads coalesced along whichever index is contiguous in memory), then every invocation
 * multiplies its `rows` × `cols` sub-block in registers: per k it reads rows/4 + cols/4 vec4s
 * from workgroup memory for rows·cols multiply-adds, so larger sub-blocks are less bound by
 * workgroup-memory bandwidth. An invocation's rows and columns come in runs of 4, the runs
 * strided by the thread grid, so neighbouring invocations read neighbouring vec4s.
 */
import { LINEAR_GROUP_INDEX } from '../kernel.js';

/** Invocations per GEMM workgroup, and the k depth of one staged step. */
export const THREADS = 256;
export const TILE_K = 16;

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
 * The block shape for an M × N result when nothing is tuned: the tallest block M fills (few
 * destination channels would leave most rows of a tall block idle), stepped down while the
 * launch has fewer than MIN_BLOCKS workgroups. The weight-gradient GEMM (`splitK`) fills the GPU
 * by splitting k instead, and its short k ranges per workgroup favour 64 × 128 blocks. The
 * autotuner (engine/autotune.ts) times the other shapes too.
 */
export function gemmTileFor(M: number, N: number, splitK = false): GemmTileName {
  if (M <= 16) return '16x256';
  if (M <= 32) return '32x256';
  if (splitK) return '64x128';
  const ladder: GemmTileName[] = M <= 64 ? ['64x128', '64x64'] : ['128x128', '128x64', '64x64'];
  const blocks = (t: GemmTile) => Math.ceil(M / (t.ty * t.rows)) * Math.ceil(N / (t.tx * t.cols));
  return ladder.find((n) => blocks(GEMM_TILES[n]) >= MIN_BLOCKS) ?? ladder[ladder.length - 1];
}

export const blockSize = (t: GemmTile) => ({ tileM: t.ty * t.rows, tileN: t.tx * t.cols });

/** Workgroup memory a block shape stages per k step (A and B tiles of f32): within the adapter's maxComputeWorkgroupStorageSize or not planned. */
export const stagingBytes = (t: GemmTile) => TILE_K * (t.ty * t.rows + t.tx * t.cols) * 4;

/** Code-generation helpers for one tile shape. */
export function tileCode(t: GemmTile) {
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
export const pipelinedSteps = (start: string, end: string, fetch: (k0: string) => string, store: string, multiply: string) => `var k0 = ${start};
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
export function registerStaging(name: string, groups: number, load: (slot: number, e: string, k0: string) => string, place: (e: string) => string) {
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
export const unrolled = (lane: (q: number) => string) => [0, 1, 2, 3].map(lane).join('\n      ');

/** The workgroup's block of D: rows from mBase, columns from colBase (a grid made by `grid`). */
export const blockOrigin = (tileM: number, tileN: number) => `let group = ${LINEAR_GROUP_INDEX};
  let tilesM = (p.M + ${tileM - 1}u) / ${tileM}u;
  if (group >= tilesM * p.tilesN) { return; }
  let mBase = (group / p.tilesN) * ${tileM}u;
  let colBase = (group % p.tilesN) * ${tileN}u;`;
