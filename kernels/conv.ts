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
 * Register tiling: each gather/scatter invocation computes a tile of TILE_C destination channels
 * × TILE_X neighbouring columns (64 invocations per workgroup), so every source value loaded
 * feeds TILE_C multiply-adds and every weight TILE_X. The weight kernels are specialised per
 * kernel size and compute up to TAP_GROUP taps of one (a, b) channel pair per invocation, so the
 * g value and the index arithmetic are shared by the taps (and `weight` also tiles CONV_TILE_C
 * output channels, so each source value feeds all of them). Gather/scatter tiling changes no
 * element's summation order.
 *
 * Variants for CPU adapters: row-vector kernels for rows a whole number of vec4s (3×3/s1/p1
 * gathers and weight gradients, 2×2/s2 conv-transpose, 1×1 weight gradient; equal up to
 * rounding), and subgroup kernels that load a value several lanes need once and broadcast it
 * (gathers, the stride-class scatter, the 2×2 conv-transpose, the row weight gradient;
 * bit-identical to the kernel each extends); see each kernel.
 *
 * `weight` uses one 64-invocation workgroup per (CONV_TILE_C output channels, input channel,
 * chunk), each invocation striding over the chunk of N·Hg·Wg positions, then a shared-memory
 * tree sum; chunks (so that there are enough workgroups) are added by a second pass. `weight-direct` (for few positions, e.g. deep layers at
 * low resolution, where 256 invocations per pair would mostly idle) uses one invocation per
 * channel pair looping over all positions (summed row by row, then rows, for accuracy).
 */
import { LINEAR_GROUP_INDEX, cachedKernel, grid, type KernelSpec } from './kernel.js';

const WORKGROUP = 64;
export const CONV_WEIGHT_WORKGROUP = 64;
/** Destination channels and columns per gather/scatter invocation. */
export const CONV_TILE_C = 4;
export const CONV_TILE_X = 4;
/** Taps per weight-kernel invocation by default (a 3×3 kernel in one pass; 7×7 in six); see AdapterTuning. */
export const CONV_TAP_GROUP = 9;
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

/** Invocations of a gather/scatter launch: one per (n, channel tile, row, column tile). */
export function convTileCount(g: ConvGeometry): number {
  return g.batch * Math.ceil(g.dstChannels / CONV_TILE_C) * g.dstH * Math.ceil(g.dstW / CONV_TILE_X);
}

const columns = [...Array(CONV_TILE_X).keys()];
const channels = [...Array(CONV_TILE_C).keys()];
const vec = (f: (j: number) => string) => `vec4f(${channels.map(f).join(', ')})`;

/**
 * Row-vector 3×3 kernels read a source row as 3 aligned vec4s (left, mid, right): the input of
 * column i at tap kw (i + kw = 0 … 5) is left.w, mid.x … mid.w, right.x.
 */
const ROW_INPUT = ['left.w', 'mid.x', 'mid.y', 'mid.z', 'mid.w', 'right.x'];

/** Row-vector weight gradients: g of column i over the 4 output channels, from their g vec4s g0 … g3. */
const G_COLUMNS = columns.map((i) => `let gc${i} = vec4f(${channels.map((j) => `g${j}[${i}]`).join(', ')});`).join(' ');

/** Direct weight gradients' stores: tap sums acc{t} of the invocation's 4 output channels (a0 + j) for input channel b. */
const directWeightStores = (kernelTaps: number, taps: number[]) =>
  channels
    .map((j) => `if (a0 + ${j}u < p.dstC) {\n    let w${j} = ((a0 + ${j}u) * p.srcC + b) * ${kernelTaps}u;\n    ` + taps.map((t) => `DW[w${j} + ${t}u] = acc${t}[${j}];`).join(' ') + '\n  }')
    .join('\n  ');

/** Row-vector weight gradients: the 3 taps of kernel row kh, `${sum}t += Σ_i gc_i · input(i + kw)`. */
const weightRowTaps = (sum: string, kh: number, indent: string) =>
  [0, 1, 2].map((kw) => `${sum}${kh * 3 + kw} += ${columns.map((i) => `gc${i} * ${ROW_INPUT[i + kw]}`).join(' + ')};`).join(`\n${indent}`);

/**
 * `gather` reads its weights packed by convPackWeightsKernel (one vec4 of destination channels
 * per source channel and tap); `scatter` reads them as stored, w[s, d, kh, kw].
 */
function elementKernel(kind: 'gather' | 'scatter', hasBias: boolean): KernelSpec {
  return cachedKernel(`conv-${kind}`, hasBias ? 'bias' : 'nobias', () => {
    const zero = (name: string) => columns.map((i) => `var ${name}${i} = vec4f(0.0);`).join(' ');
    const body =
      kind === 'gather'
        ? `
    let taps = p.kh * p.kw;
    ${zero('block')}
    for (var s = 0u; s < p.srcC; s++) {
      let srcBase = (n * p.srcC + s) * p.srcH * p.srcW;
      ${zero('window')}
      for (var kh = 0u; kh < p.kh; kh++) {
        let iy = i32(y * p.strideH + kh) - i32(p.padH);
        if (iy < 0 || iy >= i32(p.srcH)) { continue; }
        let rowBase = srcBase + u32(iy) * p.srcW;
        for (var kw = 0u; kw < p.kw; kw++) {
          let wv = Wt[(s * taps + kh * p.kw + kw) * tilesC + d0 / ${CONV_TILE_C}u];
          ${columns
            .map(
              (i) => `{
            let ix = i32((x0 + ${i}u) * p.strideW + kw) - i32(p.padW);
            let v = select(0.0, S[rowBase + u32(clamp(ix, 0, i32(p.srcW) - 1))], ix >= 0 && ix < i32(p.srcW));
            window${i} += v * wv;
          }`,
            )
            .join('\n        ')}
        }
      }
      ${columns.map((i) => `block${i} += window${i};`).join(' ')}
      if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${columns.map((i) => `acc${i} += block${i}; block${i} = vec4f(0.0);`).join(' ')} }
    }
    ${columns.map((i) => `acc${i} += block${i};`).join(' ')}`
        : `
    for (var kh = 0u; kh < p.kh; kh++) {
      let ty = i32(y + p.padH) - i32(kh);
      if (ty < 0 || ty % i32(p.strideH) != 0) { continue; }
      let sy = u32(ty) / p.strideH;
      if (sy >= p.srcH) { continue; }
      for (var kw = 0u; kw < p.kw; kw++) {
        ${columns
          .map(
            (i) => `let tx${i} = i32(x0 + ${i}u + p.padW) - i32(kw);
        let ok${i} = tx${i} >= 0 && tx${i} % i32(p.strideW) == 0 && u32(max(tx${i}, 0)) / p.strideW < p.srcW;
        let sx${i} = min(u32(max(tx${i}, 0)) / p.strideW, p.srcW - 1u);`,
          )
          .join('\n      ')}
        if (!(${columns.map((i) => `ok${i}`).join(' || ')})) { continue; }
        ${zero('block')}
        ${zero('tap')}
        for (var s = 0u; s < p.srcC; s++) {
          let base = ((n * p.srcC + s) * p.srcH + sy) * p.srcW;
          let wo = ((s * p.dstC) * p.kh + kh) * p.kw + kw;
          let wv = ${vec((j) => `Wt[w${j} + wo]`)};
          ${columns.map((i) => `block${i} += select(0.0, S[base + sx${i}], ok${i}) * wv;`).join('\n        ')}
          if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${columns.map((i) => `tap${i} += block${i}; block${i} = vec4f(0.0);`).join(' ')} }
        }
        ${columns.map((i) => `acc${i} += tap${i} + block${i};`).join(' ')}
      }
    }`;
    // Scatter: weight offset of destination channel d0 + j (clamped into range for a partial last tile).
    const weightBase = (j: number) => `let w${j} = min(d0 + ${j}u, p.dstC - 1u) * p.kh * p.kw;`;
    return /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<${kind === 'gather' ? 'vec4f' : 'f32'}>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> D: array<f32>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let tilesX = (p.dstW + ${CONV_TILE_X - 1}u) / ${CONV_TILE_X}u;
  let tilesC = (p.dstC + ${CONV_TILE_C - 1}u) / ${CONV_TILE_C}u;
  let x0 = (idx % tilesX) * ${CONV_TILE_X}u;
  let y = (idx / tilesX) % p.dstH;
  let d0 = ((idx / (tilesX * p.dstH)) % tilesC) * ${CONV_TILE_C}u;
  let n = idx / (tilesX * p.dstH * tilesC);
  ${kind === 'scatter' ? channels.map(weightBase).join('\n  ') : ''}
  let init = ${hasBias ? vec((j) => `Bias[min(d0 + ${j}u, p.dstC - 1u)]`) : 'vec4f(0.0)'};
  ${columns.map((i) => `var acc${i} = init;`).join(' ')}${body}
  ${columns
    .map((i) =>
      channels
        .map((j) => `if (x0 + ${i}u < p.dstW && d0 + ${j}u < p.dstC) { D[((n * p.dstC + d0 + ${j}u) * p.dstH + y) * p.dstW + x0 + ${i}u] = acc${i}[${j}]; }`)
        .join('\n  '),
    )
    .join('\n  ')}
}`;
  });
}

export function convGatherKernel(hasBias: boolean): KernelSpec {
  return elementKernel('gather', hasBias);
}

/** Whether convGather3x3RowsKernel applies: 3×3, stride 1, padding 1, rows a whole number of vec4s. */
export function convGather3x3RowsApplies(g: ConvGeometry): boolean {
  return g.kh === 3 && g.kw === 3 && g.strideH === 1 && g.strideW === 1 && g.padH === 1 && g.padW === 1 && g.srcW % 4 === 0 && g.dstW === g.srcW && g.dstH === g.srcH;
}

/** How convGatherSubgroupKernel reads the inputs of an invocation's 4 columns. */
export type GatherTile = { kind: 'columns' } | { kind: 'row-vectors'; strideW: number; padW: number };

/** The subgroup gather's tile for a layer: row vectors where source rows are whole vec4s. */
export function convGatherTile(g: ConvGeometry): GatherTile {
  return g.srcW % 4 === 0 ? { kind: 'row-vectors', strideW: g.strideW, padW: g.padW } : { kind: 'columns' };
}

/**
 * The gather for the models' most common layer (3×3, stride 1, padding 1) when rows are a whole
 * number of vec4s (W % 4 = 0): an invocation's 4 columns need input columns x0 − 1 … x0 + 4 of
 * each row, read as 3 aligned vec4 loads (left, middle, right) instead of 12 bounds-checked
 * scalar loads — CPU adapters pay per load, not per multiply-add. Same tile and packed weights
 * as the generic gather; taps go straight into the 16-channel block sums (one accumulator level
 * fewer, which lavapipe keeps in registers: 10–30% faster on the larger layers); outputs are
 * stored as vec4 rows.
 */
export function convGather3x3RowsKernel(hasBias: boolean): KernelSpec {
  return cachedKernel('conv-gather-3x3-rows', hasBias ? 'bias' : 'nobias', () => {
    const zero = (name: string) => columns.map((i) => `var ${name}${i} = vec4f(0.0);`).join(' ');
    return /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> S: array<vec4f>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4f>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> D: array<vec4f>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let rowVecs = p.dstW / 4u;
  let tilesC = (p.dstC + ${CONV_TILE_C - 1}u) / ${CONV_TILE_C}u;
  let xq = idx % rowVecs;
  let y = (idx / rowVecs) % p.dstH;
  let d0 = ((idx / (rowVecs * p.dstH)) % tilesC) * ${CONV_TILE_C}u;
  let n = idx / (rowVecs * p.dstH * tilesC);
  let hasLeft = xq > 0u;
  let hasRight = xq + 1u < rowVecs;
  let init = ${hasBias ? vec((j) => `Bias[min(d0 + ${j}u, p.dstC - 1u)]`) : 'vec4f(0.0)'};
  ${columns.map((i) => `var acc${i} = init;`).join(' ')}
  ${zero('block')}
  for (var s = 0u; s < p.srcC; s++) {
    let srcBase = (n * p.srcC + s) * p.srcH * rowVecs + xq;
    for (var kh = 0u; kh < 3u; kh++) {
      let iy = i32(y + kh) - 1;
      if (iy < 0 || iy >= i32(p.srcH)) { continue; }
      let r = srcBase + u32(iy) * rowVecs;
      let mid = S[r];
      let left = select(vec4f(0.0), S[r - select(0u, 1u, hasLeft)], hasLeft);
      let right = select(vec4f(0.0), S[r + select(0u, 1u, hasRight)], hasRight);
      let wBase = (s * 9u + kh * 3u) * tilesC + d0 / ${CONV_TILE_C}u;
      ${[0, 1, 2]
        .map((kw) => `let w${kw} = Wt[wBase + ${kw}u * tilesC];
      ${columns.map((i) => `block${i} += ${ROW_INPUT[i + kw]} * w${kw};`).join(' ')}`)
        .join('\n      ')}
    }
    if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${columns.map((i) => `acc${i} += block${i}; block${i} = vec4f(0.0);`).join(' ')} }
  }
  ${columns.map((i) => `acc${i} += block${i};`).join(' ')}
  ${channels
    .map((j) => `if (d0 + ${j}u < p.dstC) { D[((n * p.dstC + d0 + ${j}u) * p.dstH + y) * rowVecs + xq] = vec4f(${columns.map((i) => `acc${i}[${j}]`).join(', ')}); }`)
    .join('\n  ')}
}`;
  });
}

/** Output channels per invocation of the subgroup row gather: two vec4s. */
export const CONV_SUBGROUP_TILE_C = 8;

/**
 * convGather3x3RowsKernel for CPU adapters with subgroups of a fixed size (lavapipe: 8 lanes, one
 * AVX2 register). lavapipe loads a storage value lane by lane (a bounds check and a branch per
 * lane and component), even when every lane asks for the same address, and half of the row
 * gather's loads are such weights. Here a workgroup shares one tile of CONV_SUBGROUP_TILE_C
 * output channels (its grid row), so each subgroup loads the 18 weight vec4s of an input channel
 * once — one per lane — and `subgroupBroadcast`s them; the freed loads pay for 8 channels per
 * invocation (each input vec4 feeds 8 channels). 2–2.4× faster per layer on lavapipe. Same
 * summation order as convGather3x3RowsKernel (bit-identical results). No lane returns early: a
 * broadcast needs the whole subgroup.
 */
export function convGather3x3RowsSubgroupKernel(hasBias: boolean, subgroupSize: number, workgroupSize: number): KernelSpec {
  return cachedKernel('conv-gather-3x3-rows-subgroup', `${hasBias ? 'bias' : 'nobias'}-${subgroupSize}-${workgroupSize}`, () => {
    const halves = [0, 1];
    const weights = 9 * halves.length;
    const loadsPerLane = Math.ceil(weights / subgroupSize);
    const acc = (h: number, i: number) => `acc${h}_${i}`;
    const block = (h: number, i: number) => `block${h}_${i}`;
    const each = (f: (h: number, i: number) => string, sep = ' ') => halves.flatMap((h) => columns.map((i) => f(h, i))).join(sep);
    const bias = (h: number) => (hasBias ? vec((j) => `Bias[min(d0 + ${4 * h + j}u, p.dstC - 1u)]`) : 'vec4f(0.0)');
    return /* wgsl */ `
enable subgroups;
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> S: array<vec4f>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4f>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> D: array<vec4f>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let rowVecs = p.dstW / 4u;
  let tilesC = (p.dstC + 3u) / 4u;
  let t0 = wid.y * 2u;
  let d0 = t0 * 4u;
  let idx = wid.x * ${workgroupSize}u + lid;
  let pos = min(idx, p.total - 1u);
  let xq = pos % rowVecs;
  let y = (pos / rowVecs) % p.dstH;
  let n = pos / (rowVecs * p.dstH);
  let hasLeft = xq > 0u;
  let hasRight = xq + 1u < rowVecs;
  ${halves.map((h) => `let init${h} = ${bias(h)};`).join(' ')}
  ${each((h, i) => `var ${acc(h, i)} = init${h}; var ${block(h, i)} = vec4f(0.0);`, '\n  ')}
  for (var s = 0u; s < p.srcC; s++) {
    // Weight vec4 f = 2·tap + half of this input channel: lane l loads f = l, l + ${subgroupSize}, ...
    ${Array.from({ length: loadsPerLane }, (_, r) => `let f${r} = ${r * subgroupSize}u + lane;
    let wl${r} = Wt[(s * 9u + min(f${r} / 2u, 8u)) * tilesC + min(t0 + f${r} % 2u, tilesC - 1u)];`).join('\n    ')}
    ${Array.from({ length: weights }, (_, f) => `let w${Math.floor(f / 2)}_${f % 2} = subgroupBroadcast(wl${Math.floor(f / subgroupSize)}, ${f % subgroupSize}u);`).join('\n    ')}
    let srcBase = (n * p.srcC + s) * p.srcH * rowVecs + xq;
    ${[0, 1, 2]
      .map(
        (kh) => `if (y + ${kh}u >= 1u && y + ${kh}u <= p.srcH) {
      let r = srcBase + (y + ${kh}u - 1u) * rowVecs;
      let mid = S[r];
      let left = select(vec4f(0.0), S[r - select(0u, 1u, hasLeft)], hasLeft);
      let right = select(vec4f(0.0), S[r + select(0u, 1u, hasRight)], hasRight);
      ${[0, 1, 2].map((kw) => each((h, i) => `${block(h, i)} += ${ROW_INPUT[i + kw]} * w${kh * 3 + kw}_${h};`)).join('\n      ')}
    }`,
      )
      .join('\n    ')}
    if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${each((h, i) => `${acc(h, i)} += ${block(h, i)}; ${block(h, i)} = vec4f(0.0);`)} }
  }
  ${each((h, i) => `${acc(h, i)} += ${block(h, i)};`)}
  if (idx < p.total) {
    ${halves
      .flatMap((h) => channels.map((j) => `if (d0 + ${4 * h + j}u < p.dstC) { D[((n * p.dstC + d0 + ${4 * h + j}u) * p.dstH + y) * rowVecs + xq] = vec4f(${columns.map((i) => `${acc(h, i)}[${j}]`).join(', ')}); }`))
      .join('\n    ')}
  }
}`;
  });
}

/**
 * The generic gather (any kernel size, stride and padding; rows of any width) with the weight
 * sharing of convGather3x3RowsSubgroupKernel: per input channel and kernel row, each subgroup
 * loads the 2·KW weight vec4s (KW taps × 8 output channels) once and broadcasts them; an
 * invocation computes 4 columns × 8 channels. Specialized on the kernel size (taps unrolled).
 * Keeps convGatherKernel's summation order (a per-channel window, then the 16-channel blocks), so
 * results are bit-identical: summing taps straight into the blocks moved the ResNet stem's output
 * by 7e-7 and, through max-pool and ReLU near-ties, the PyTorch-parity gradients of its first
 * stage by 1e-2.
 *
 * The invocation's 4 outputs (`tile`, chosen by convGatherTile):
 * - `columns`: 4 columns of a row, read as 4·KW bounds-checked scalars per kernel row;
 * - `row-vectors` (source rows a whole number of vec4s): the same 4 columns, their inputs of a
 *   kernel row — columns stride·x0 − pad … stride·(x0 + 3) − pad + KW − 1 — read as the aligned
 *   vec4s that hold them (3 for 3×3/s2/p1, 2 for 1×1/s2, 4 for the 7×7/s2/p3 stem), stride and
 *   padding compiled in: 1.9–2.2× on ResNet's strided layers on lavapipe.
 * Same products and sums in the same order in both layouts (bit-identical).
 */
export function convGatherSubgroupKernel(hasBias: boolean, kh: number, kw: number, subgroupSize: number, workgroupSize: number, tile: GatherTile): KernelSpec {
  const tileKey = tile.kind === 'row-vectors' ? `-rows-s${tile.strideW}p${tile.padW}` : '';
  return cachedKernel('conv-gather-subgroup', `${hasBias ? 'bias' : 'nobias'}-${kh}x${kw}-${subgroupSize}-${workgroupSize}${tileKey}`, () => {
    const halves = [0, 1];
    const weights = 2 * kw;
    const loadsPerLane = Math.ceil(weights / subgroupSize);
    const acc = (h: number, i: number) => `acc${h}_${i}`;
    const block = (h: number, i: number) => `block${h}_${i}`;
    // A 1×1 window's sum is its one product (0 + x = x): it goes straight into the block.
    const single = kh * kw === 1;
    const window = (h: number, i: number) => (single ? `block${h}_${i}` : `window${h}_${i}`);
    const each = (f: (h: number, i: number) => string, sep = ' ') => halves.flatMap((h) => columns.map((i) => f(h, i))).join(sep);
    const bias = (h: number) => (hasBias ? vec((j) => `Bias[min(d0 + ${4 * h + j}u, p.dstC - 1u)]`) : 'vec4f(0.0)');
    const taps = Array.from({ length: kw }, (_, t) => t);
    // Row-vector tiles: input column stride·i − pad + t of the tile, relative to column stride·x0 (vec4 stride·x0/4).
    const vecOf = (i: number, t: number) => (tile.kind === 'row-vectors' ? Math.floor((tile.strideW * i - tile.padW + t) / 4) : 0);
    const rowVecs = Array.from({ length: vecOf(CONV_TILE_X - 1, kw - 1) - vecOf(0, 0) + 1 }, (_, k) => vecOf(0, 0) + k);
    const vecName = (k: number) => (k < 0 ? `vm${-k}` : `v${k}`);
    const input = (i: number, t: number) => {
      if (tile.kind === 'columns') return `select(0.0, S[rowBase + u32(clamp(ix${i} + ${t}, 0, i32(p.srcW) - 1))], ix${i} + ${t} >= 0 && ix${i} + ${t} < i32(p.srcW))`;
      const c = tile.strideW * i - tile.padW + t;
      return `${vecName(vecOf(i, t))}.${'xyzw'[c - 4 * vecOf(i, t)]}`;
    };
    const tapSums = (indent: string) =>
      taps
        .map(
          (t) => `{
${indent}  ${columns.map((i) => `let in${i} = ${input(i, t)};`).join(`\n${indent}  `)}
${indent}  ${each((h, i) => `${window(h, i)} += in${i} * w${t}_${h};`)}
${indent}}`,
        )
        .join(`\n${indent}`);
    const position = `let tilesX = (p.dstW + ${CONV_TILE_X - 1}u) / ${CONV_TILE_X}u;
  let x0 = (pos % tilesX) * ${CONV_TILE_X}u;
  let y = (pos / tilesX) % p.dstH;
  let n = pos / (tilesX * p.dstH);
  ${
    tile.kind === 'row-vectors'
      ? `// The vec4 of the row holding column stride·x0, and the row's vec4 count.
  let xv = i32(x0 / 4u * ${tile.strideW}u);
  let srcVecs = i32(p.srcW / 4u);`
      : columns.map((i) => `let ix${i} = i32((x0 + ${i}u) * p.strideW) - i32(p.padW);`).join('\n  ')
  }`;
    const kernelRow = `let iy = i32(y * p.strideH + kh) - i32(p.padH);
      if (iy >= 0 && iy < i32(p.srcH)) {
        let rowBase = srcBase + u32(iy) * p.srcW;
        ${
          tile.kind === 'row-vectors'
            ? `let rv = rowBase / 4u;
        ${rowVecs.map((k) => `let ${vecName(k)} = select(vec4f(0.0), S[rv + u32(clamp(xv + ${k}, 0, srcVecs - 1))], xv + ${k} >= 0 && xv + ${k} < srcVecs);`).join('\n        ')}`
            : ''
        }
        ${tapSums('        ')}
      }`;
    const store = (h: number, i: number, j: number) =>
      `if (x0 + ${i}u < p.dstW && d0 + ${4 * h + j}u < p.dstC) { D[((n * p.dstC + d0 + ${4 * h + j}u) * p.dstH + y) * p.dstW + x0 + ${i}u] = ${acc(h, i)}[${j}]; }`;
    return /* wgsl */ `
enable subgroups;
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> S: array<${tile.kind === 'row-vectors' ? 'vec4f' : 'f32'}>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4f>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> D: array<f32>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let tilesC = (p.dstC + 3u) / 4u;
  let t0 = wid.y * 2u;
  let d0 = t0 * 4u;
  let idx = wid.x * ${workgroupSize}u + lid;
  let pos = min(idx, p.total - 1u);
  ${position}
  ${halves.map((h) => `let init${h} = ${bias(h)};`).join(' ')}
  ${each((h, i) => `var ${acc(h, i)} = init${h}; var ${block(h, i)} = vec4f(0.0);`, '\n  ')}
  for (var s = 0u; s < p.srcC; s++) {
    let srcBase = (n * p.srcC + s) * p.srcH * p.srcW;
    ${single ? '' : each((h, i) => `var ${window(h, i)} = vec4f(0.0);`)}
    for (var kh = 0u; kh < ${kh}u; kh++) {
      // Weight vec4 f = 2·kw + half of this input channel and kernel row: lane l loads f = l, l + ${subgroupSize}, ...
      ${Array.from({ length: loadsPerLane }, (_, r) => `let f${r} = ${r * subgroupSize}u + lane;
      let wl${r} = Wt[((s * ${kh}u + kh) * ${kw}u + min(f${r} / 2u, ${kw - 1}u)) * tilesC + min(t0 + f${r} % 2u, tilesC - 1u)];`).join('\n      ')}
      ${Array.from({ length: weights }, (_, f) => `let w${Math.floor(f / 2)}_${f % 2} = subgroupBroadcast(wl${Math.floor(f / subgroupSize)}, ${f % subgroupSize}u);`).join('\n      ')}
      ${kernelRow}
    }
    ${single ? '' : each((h, i) => `${block(h, i)} += ${window(h, i)};`)}
    if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${each((h, i) => `${acc(h, i)} += ${block(h, i)}; ${block(h, i)} = vec4f(0.0);`)} }
  }
  ${each((h, i) => `${acc(h, i)} += ${block(h, i)};`)}
  if (idx < p.total) {
    ${halves.flatMap((h) => columns.flatMap((i) => channels.map((j) => store(h, i, j)))).join('\n    ')}
  }
}`;
  });
}

/**
 * The scatter with subgroup-shared weights (CPU adapters with subgroups; conv2d's strided
 * grad-input and conv-transpose's forward outside the exact 2×2 tiling). Outputs are split into
 * stride classes by (y mod strideH, x mod strideW), one class per grid z, so all invocations of
 * a workgroup take the same taps — those whose (class + padding − tap) is a multiple of the
 * stride, a quarter of a 3×3 kernel's at stride 2 — and skip the rest without loads, and an
 * invocation's 4 columns x = xr + strideW·(q + i) read 4 consecutive source columns. Each tap's
 * weights for the CONV_SUBGROUP_TILE_C destination channels of the grid row are loaded once per
 * subgroup (a lane each) and broadcast. Per element the same sums in the same order as
 * convScatterKernel (taps it skips add only zeros there), so results are bit-identical.
 * Launch: convScatterSubgroupLaunch.
 */
export function convScatterSubgroupKernel(hasBias: boolean, subgroupSize: number, workgroupSize: number): KernelSpec {
  return cachedKernel('conv-scatter-subgroup', `${hasBias ? 'bias' : 'nobias'}-${subgroupSize}-${workgroupSize}`, () => {
    const halves = [0, 1];
    const loadsPerLane = Math.ceil(CONV_SUBGROUP_TILE_C / subgroupSize);
    const each = (f: (h: number, i: number) => string, sep = ' ') => halves.flatMap((h) => columns.map((i) => f(h, i))).join(sep);
    const bias = (h: number) => (hasBias ? vec((j) => `Bias[min(d0 + ${4 * h + j}u, p.dstC - 1u)]`) : 'vec4f(0.0)');
    const broadcast = (c: number) => `subgroupBroadcast(wl${Math.floor(c / subgroupSize)}, ${c % subgroupSize}u)`;
    return /* wgsl */ `
enable subgroups;
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> D: array<f32>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let yr = wid.z / p.strideW;
  let xr = wid.z % p.strideW;
  let classRows = (p.dstH + p.strideH - 1u) / p.strideH;
  let tilesX = ((p.dstW + p.strideW - 1u) / p.strideW + ${CONV_TILE_X - 1}u) / ${CONV_TILE_X}u;
  let d0 = wid.y * ${CONV_SUBGROUP_TILE_C}u;
  let idx = wid.x * ${workgroupSize}u + lid;
  let pos = min(idx, p.total - 1u);
  let q0 = (pos % tilesX) * ${CONV_TILE_X}u;
  let y = yr + p.strideH * ((pos / tilesX) % classRows);
  let n = pos / (tilesX * classRows);
  let plane = p.srcH * p.srcW;
  ${halves.map((h) => `let init${h} = ${bias(h)};`).join(' ')}
  ${each((h, i) => `var acc${h}_${i} = init${h};`)}
  for (var kh = 0u; kh < p.kh; kh++) {
    // Same for the whole workgroup: whether this class's rows take tap row kh.
    if ((i32(yr + p.padH) - i32(kh)) % i32(p.strideH) != 0) { continue; }
    let sy = (i32(y + p.padH) - i32(kh)) / i32(p.strideH);
    let rowOk = i32(y + p.padH) >= i32(kh) && sy < i32(p.srcH);
    let rowBase = n * p.srcC * plane + u32(clamp(sy, 0, i32(p.srcH) - 1)) * p.srcW;
    for (var kw = 0u; kw < p.kw; kw++) {
      let tx = i32(xr + p.padW) - i32(kw);
      if (tx % i32(p.strideW) != 0) { continue; }
      let sxFirst = tx / i32(p.strideW) + i32(q0);
      ${columns.map((i) => `let ok${i} = rowOk && sxFirst + ${i} >= 0 && sxFirst + ${i} < i32(p.srcW); let sx${i} = u32(clamp(sxFirst + ${i}, 0, i32(p.srcW) - 1));`).join('\n      ')}
      ${each((h, i) => `var block${h}_${i} = vec4f(0.0); var tap${h}_${i} = vec4f(0.0);`, '\n      ')}
      for (var s = 0u; s < p.srcC; s++) {
        ${Array.from({ length: loadsPerLane }, (_, r) => `let wl${r} = Wt[(s * p.dstC + min(d0 + ${r * subgroupSize}u + lane, p.dstC - 1u)) * p.kh * p.kw + kh * p.kw + kw];`).join('\n        ')}
        ${halves.map((h) => `let w${h} = vec4f(${channels.map((j) => broadcast(4 * h + j)).join(', ')});`).join('\n        ')}
        let base = rowBase + s * plane;
        ${columns.map((i) => `let v${i} = select(0.0, S[base + sx${i}], ok${i});`).join(' ')}
        ${each((h, i) => `block${h}_${i} += v${i} * w${h};`)}
        if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${each((h, i) => `tap${h}_${i} += block${h}_${i}; block${h}_${i} = vec4f(0.0);`)} }
      }
      ${each((h, i) => `acc${h}_${i} += tap${h}_${i} + block${h}_${i};`)}
    }
  }
  if (idx < p.total && y < p.dstH) {
    ${columns.map((i) => `let x${i} = xr + p.strideW * (q0 + ${i}u);`).join(' ')}
    ${halves
      .flatMap((h) =>
        columns.flatMap((i) => channels.map((j) => `if (x${i} < p.dstW && d0 + ${4 * h + j}u < p.dstC) { D[((n * p.dstC + d0 + ${4 * h + j}u) * p.dstH + y) * p.dstW + x${i}] = acc${h}_${i}[${j}]; }`)),
      )
      .join('\n    ')}
  }
}`;
  });
}

/** Launch of convScatterSubgroupKernel: (images × class rows × column tiles) × channel tiles × stride classes. */
export function convScatterSubgroupLaunch(g: ConvGeometry, subgroupSize: number): { params: number[]; workgroupSize: number; workgroups: [number, number, number] } {
  const classCols = Math.ceil(g.dstW / g.strideW);
  const positions = g.batch * Math.ceil(g.dstH / g.strideH) * Math.ceil(classCols / CONV_TILE_X);
  const workgroupSize = Math.min(WORKGROUP, Math.max(subgroupSize, 2 ** Math.ceil(Math.log2(positions))));
  return {
    params: convParams(g, positions),
    workgroupSize,
    workgroups: [Math.ceil(positions / workgroupSize), Math.ceil(g.dstChannels / CONV_SUBGROUP_TILE_C), g.strideH * g.strideW],
  };
}

/** Whether convGatherChannelsSubgroupKernel applies: output rows narrower than a 4-column tile (deep layers' tiny planes). */
export function convGatherChannelsApplies(g: ConvGeometry): boolean {
  return g.dstW < CONV_TILE_X;
}

/**
 * The gather for planes narrower than a 4-column tile (ResNet34_UNet's last stage: 2×2 at 64×64
 * inputs, 1×1 at 32×32), where a column tile is half empty or more and a 4-image batch has a
 * few dozen tiles per channel tile — fewer than lanes. Lanes here are output channels instead:
 * a workgroup is one subgroup computing 4 consecutive outputs of N·OH·OW (each with its own
 * image, row and column) for 8 output channels per lane, 8·subgroupSize per workgroup. The 4·KW
 * inputs of a kernel row are the same for every lane, so each lane loads a few of them and
 * broadcasts them; each lane loads its own channels' weights. Same summation order as
 * convGatherKernel (per input channel a window over the taps, then 16-channel blocks): rows
 * outside the plane add zeros where that kernel skips them, so results are equal.
 * Launch: convGatherChannelsSubgroupLaunch.
 */
export function convGatherChannelsSubgroupKernel(hasBias: boolean, kh: number, kw: number, subgroupSize: number): KernelSpec {
  return cachedKernel('conv-gather-channels-subgroup', `${hasBias ? 'bias' : 'nobias'}-${kh}x${kw}-${subgroupSize}`, () => {
    const halves = [0, 1];
    const inputs = CONV_TILE_X * kw;
    const loadsPerLane = Math.ceil(inputs / subgroupSize);
    const loads = [...Array(loadsPerLane).keys()];
    const acc = (h: number, i: number) => `acc${h}_${i}`;
    const block = (h: number, i: number) => `block${h}_${i}`;
    const window = (h: number, i: number) => `window${h}_${i}`;
    const each = (f: (h: number, i: number) => string, sep = ' ') => halves.flatMap((h) => columns.map((i) => f(h, i))).join(sep);
    const bias = (h: number) => (hasBias ? vec((j) => `Bias[min(d0 + ${4 * h + j}u, p.dstC - 1u)]`) : 'vec4f(0.0)');
    return /* wgsl */ `
enable subgroups;
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4f>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> D: array<f32>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${subgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let tilesC = (p.dstC + 3u) / 4u;
  let t0 = (wid.y * ${subgroupSize}u + lane) * 2u;
  let d0 = t0 * 4u;
  let outputs = p.batch * p.dstH * p.dstW;
  let plane = p.srcH * p.srcW;
  // The workgroup's outputs o = 4·wid.x + i (the last ones clamped), for the stores.
  ${columns.map((i) => `let o${i} = min(wid.x * 4u + ${i}u, outputs - 1u);`).join(' ')}
  // Kernel-row input f = i + 4·tap of the workgroup's outputs (output i, tap column): lane l
  // loads f = l, l + ${subgroupSize}, ...; where it lies is fixed but for the input channel and kernel row.
  ${loads
    .map(
      (r) => `let f${r} = min(${r * subgroupSize}u + lane, ${inputs - 1}u);
  let of${r} = min(wid.x * 4u + f${r} % 4u, outputs - 1u);
  let base${r} = (of${r} / (p.dstH * p.dstW)) * p.srcC * plane;
  let iy${r} = i32(((of${r} / p.dstW) % p.dstH) * p.strideH) - i32(p.padH);
  let ix${r} = i32((of${r} % p.dstW) * p.strideW + f${r} / 4u) - i32(p.padW);
  let colOk${r} = ix${r} >= 0 && ix${r} < i32(p.srcW);`,
    )
    .join('\n  ')}
  ${halves.map((h) => `let init${h} = ${bias(h)};`).join(' ')}
  ${each((h, i) => `var ${acc(h, i)} = init${h}; var ${block(h, i)} = vec4f(0.0);`, '\n  ')}
  for (var s = 0u; s < p.srcC; s++) {
    ${each((h, i) => `var ${window(h, i)} = vec4f(0.0);`)}
    for (var kh = 0u; kh < ${kh}u; kh++) {
      ${loads
        .map(
          (r) => `let y${r} = iy${r} + i32(kh);
      let in${r} = select(0.0, S[base${r} + s * plane + u32(clamp(y${r}, 0, i32(p.srcH) - 1)) * p.srcW + u32(clamp(ix${r}, 0, i32(p.srcW) - 1))], colOk${r} && y${r} >= 0 && y${r} < i32(p.srcH));`,
        )
        .join('\n      ')}
      let wBase = (s * ${kh}u + kh) * ${kw}u * tilesC;
      ${Array.from({ length: kw }, (_, t) =>
        [
          ...halves.map((h) => `let w${t}_${h} = Wt[wBase + ${t}u * tilesC + min(t0 + ${h}u, tilesC - 1u)];`),
          ...columns.map((i) => `let v${t}_${i} = subgroupBroadcast(in${Math.floor((i + 4 * t) / subgroupSize)}, ${(i + 4 * t) % subgroupSize}u);`),
          each((h, i) => `${window(h, i)} += v${t}_${i} * w${t}_${h};`),
        ].join('\n      '),
      ).join('\n      ')}
    }
    ${each((h, i) => `${block(h, i)} += ${window(h, i)};`)}
    if ((s & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${each((h, i) => `${acc(h, i)} += ${block(h, i)}; ${block(h, i)} = vec4f(0.0);`)} }
  }
  ${each((h, i) => `${acc(h, i)} += ${block(h, i)};`)}
  ${halves
    .flatMap((h) =>
      columns.flatMap((i) =>
        channels.map(
          (j) =>
            `if (wid.x * 4u + ${i}u < outputs && d0 + ${4 * h + j}u < p.dstC) { D[(((o${i} / (p.dstH * p.dstW)) * p.dstC + d0 + ${4 * h + j}u) * p.dstH + (o${i} / p.dstW) % p.dstH) * p.dstW + o${i} % p.dstW] = ${acc(h, i)}[${j}]; }`,
        ),
      ),
    )
    .join('\n  ')}
}`;
  });
}

/** Grid of convGatherChannelsSubgroupKernel: 4 outputs per workgroup along x, 8·subgroupSize channels along y. */
export function convGatherChannelsSubgroupLaunch(g: ConvGeometry, subgroupSize: number): { params: number[]; workgroups: [number, number, number] } {
  const groups = Math.ceil((g.batch * g.dstH * g.dstW) / CONV_TILE_X);
  return { params: convParams(g, groups), workgroups: [groups, Math.ceil(g.dstChannels / (CONV_SUBGROUP_TILE_C * subgroupSize)), 1] };
}

/** Grid and workgroup size of the subgroup gathers: `positions` invocations per channel tile, workgroups no larger than the positions (small deep layers). */
export function convSubgroupLaunch(positions: number, dstChannels: number, subgroupSize: number): { total: number; workgroupSize: number; workgroups: [number, number, number] } {
  const workgroupSize = Math.min(WORKGROUP, Math.max(subgroupSize, 2 ** Math.ceil(Math.log2(positions))));
  return { total: positions, workgroupSize, workgroups: [Math.ceil(positions / workgroupSize), Math.ceil(dstChannels / CONV_SUBGROUP_TILE_C), 1] };
}


/**
 * Weights of a gather repacked as [srcC, KH, KW, ceil(dstC/4)] vec4s (zero-padded channels), so
 * the gather loads the 4 destination channels of a tap in one 16-byte read instead of four
 * scattered ones (6–18% faster on lavapipe); weights change every step, so they are packed at
 * each call. `flipped` reads w[s, d, KH−1−kh, KW−1−kw]: conv2d's stride-1 grad-input as a gather
 * over dY (faster than the scatter form). One invocation per (source channel, 4 destination
 * channels) reads those channels' taps — contiguous in either layout — and writes a vec4 per tap:
 * one invocation per value, reading across channels, took 49 ms for a 512×512×3×3 weight on
 * lavapipe, as long as the convolution itself. Launch: convPackWeightsLaunch.
 */
export function convPackWeightsKernel(flipped: boolean): KernelSpec {
  return cachedKernel('conv-pack-weights', flipped ? 'flipped' : 'plain', () => {
    const source = (j: number) => (flipped ? `(s * p.dstC + d${j}) * taps + taps - 1u - t` : `(d${j} * p.srcC + s) * taps + t`);
    return /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> Wt: array<f32>;
@group(0) @binding(1) var<storage, read_write> Packed: array<vec4f>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= p.total) { return; }
  let tilesC = (p.dstC + 3u) / 4u;
  let dq = i % tilesC;
  let s = i / tilesC;
  let taps = p.kh * p.kw;
  ${channels.map((j) => `let d${j} = min(dq * 4u + ${j}u, p.dstC - 1u); let in${j} = dq * 4u + ${j}u < p.dstC;`).join('\n  ')}
  for (var t = 0u; t < taps; t++) {
    Packed[(s * taps + t) * tilesC + dq] = vec4f(${channels.map((j) => `select(0.0, Wt[${source(j)}], in${j})`).join(', ')});
  }
}`;
  });
}

/** Launch of convPackWeightsKernel: one invocation per (source channel, destination-channel quad). */
export function convPackWeightsLaunch(g: ConvGeometry): { params: number[]; workgroups: [number, number, number] } {
  const total = g.srcChannels * Math.ceil(g.dstChannels / 4);
  return { params: convParams(g, total), workgroups: convElementGrid(total) };
}

export function convPackedWeightCount(g: ConvGeometry): number {
  return g.srcChannels * g.kh * g.kw * Math.ceil(g.dstChannels / 4) * 4;
}

export function convScatterKernel(hasBias: boolean): KernelSpec {
  return elementKernel('scatter', hasBias);
}

export function convElementGrid(total: number): [number, number, number] {
  return grid(Math.ceil(total / WORKGROUP));
}

/** The taps [first, first + count) of a kh×kw kernel, as (index, row, column) triples. */
function tapList(kw: number, first: number, count: number): { t: number; kh: number; kw: number }[] {
  return Array.from({ length: count }, (_, i) => ({ t: first + i, kh: Math.floor((first + i) / kw), kw: (first + i) % kw }));
}

/** How a kernel's taps split into weight-kernel passes: [first, count] per pass. */
export function convTapGroups(kh: number, kw: number, groupSize = CONV_TAP_GROUP): [number, number][] {
  const taps = kh * kw;
  const out: [number, number][] = [];
  for (let first = 0; first < taps; first += groupSize) out.push([first, Math.min(groupSize, taps - first)]);
  return out;
}

/**
 * dw[a,b,kh,kw] over g = [N, dstC=A, dstH, dstW] and src = [N, srcC=B, srcH, srcW], for the
 * taps [first, first + count) of a kh×kw kernel; writes `chunks` partial sums per weight
 * element (weight-major). One workgroup per (tile of CONV_TILE_C a's, one b, chunk): each
 * invocation strides over the chunk's positions accumulating CONV_TILE_C × count products (each
 * g value feeds every tap, each src value every a), then a shared-memory tree sums the
 * invocations. total = ceil(A / CONV_TILE_C)·B.
 */
export function convWeightKernel(kh: number, kw: number, first: number, count: number): KernelSpec {
  const taps = tapList(kw, first, count);
  const slots = count * CONV_TILE_C;
  return {
    name: 'conv-weight',
    key: `${kh}x${kw}@${first}+${count}`,
    source: () => /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<array<vec4f, ${CONV_WEIGHT_WORKGROUP}>, ${count}>;

@compute @workgroup_size(${CONV_WEIGHT_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = ${LINEAR_GROUP_INDEX};
  if (group >= p.total * p.chunks) { return; }
  let tile = group / p.chunks;
  let b = tile % p.srcC;
  let a0 = (tile / p.srcC) * ${CONV_TILE_C}u;
  let plane = p.dstH * p.dstW;
  let count = p.batch * plane;
  let start = (group % p.chunks) * p.chunkLength;
  let end = min(start + p.chunkLength, count);
  // g planes of the tile's channels (clamped into range for a partial last tile; not stored).
  ${channels.map((j) => `let ga${j} = min(a0 + ${j}u, p.dstC - 1u) * plane;`).join(' ')}
  ${taps.map(({ t }) => `var acc${t} = vec4f(0.0);`).join(' ')}
  for (var r = start + lid; r < end; r += ${CONV_WEIGHT_WORKGROUP}u) {
    let n = r / plane;
    let yx = r % plane;
    let y = yx / p.dstW;
    let x = yx % p.dstW;
    let gBase = n * p.dstC * plane + yx;
    let gv = ${vec((j) => `G[gBase + ga${j}]`)};
    let srcBase = (n * p.srcC + b) * p.srcH * p.srcW;
    ${taps
      .map(
        ({ t, kh: th, kw: tw }) => `{
      let iy = i32(y * p.strideH + ${th}u) - i32(p.padH);
      let ix = i32(x * p.strideW + ${tw}u) - i32(p.padW);
      if (iy >= 0 && iy < i32(p.srcH) && ix >= 0 && ix < i32(p.srcW)) { acc${t} += gv * S[srcBase + u32(iy) * p.srcW + u32(ix)]; }
    }`,
      )
      .join('\n    ')}
  }
  ${taps.map(({ t }, i) => `partial[${i}][lid] = acc${t};`).join(' ')}
  workgroupBarrier();
  for (var width = ${CONV_WEIGHT_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) { ${taps.map((_, i) => `partial[${i}][lid] += partial[${i}][lid + width];`).join(' ')} }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let chunk = group % p.chunks;
    ${channels
      .map((j) =>
        `if (a0 + ${j}u < p.dstC) {\n      let w${j} = ((a0 + ${j}u) * p.srcC + b) * ${kh * kw}u;\n      ` +
        taps.map(({ t }, i) => `DW[(w${j} + ${t}u) * p.chunks + chunk] = partial[${i}][0][${j}];`).join(' ') +
        '\n    }',
      )
      .join('\n    ')}
  }
}`,
  };
}

/**
 * convWeightKernel for 3×3, stride 1, padding 1 with rows a whole number of vec4s (see
 * convGather3x3RowsApplies), all 9 taps in one pass: an invocation takes 4 neighbouring
 * positions (one vec4 of columns) per step and reads g as 4 vec4s (one per output channel) and
 * the source rows as 3 × 3 aligned vec4s, instead of 4 + 9 scalar loads per position. Same
 * workgroups, chunks (`p.chunkLength` counted in vec4 groups of positions) and tree sum.
 */
export function convWeight3x3RowsKernel(): KernelSpec {
  return cachedKernel('conv-weight-3x3-rows', '', () => {
    const tapIndex = [...Array(9).keys()];
    return /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<vec4f>;
@group(0) @binding(1) var<storage, read> S: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> partial: array<array<vec4f, ${CONV_WEIGHT_WORKGROUP}>, 9>;

@compute @workgroup_size(${CONV_WEIGHT_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let group = ${LINEAR_GROUP_INDEX};
  if (group >= p.total * p.chunks) { return; }
  let tile = group / p.chunks;
  let b = tile % p.srcC;
  let a0 = (tile / p.srcC) * ${CONV_TILE_C}u;
  let rowVecs = p.dstW / 4u;
  let planeVecs = p.dstH * rowVecs;
  let groups = p.batch * planeVecs;
  let start = (group % p.chunks) * p.chunkLength;
  let end = min(start + p.chunkLength, groups);
  // g planes of the tile's channels (clamped into range for a partial last tile; not stored).
  ${channels.map((j) => `let ga${j} = min(a0 + ${j}u, p.dstC - 1u) * planeVecs;`).join(' ')}
  ${tapIndex.map((t) => `var acc${t} = vec4f(0.0);`).join(' ')}
  for (var q = start + lid; q < end; q += ${CONV_WEIGHT_WORKGROUP}u) {
    let n = q / planeVecs;
    let yq = q % planeVecs;
    let y = yq / rowVecs;
    let xq = yq % rowVecs;
    let gBase = n * p.dstC * planeVecs + yq;
    ${channels.map((j) => `let g${j} = G[gBase + ga${j}];`).join(' ')}
    ${G_COLUMNS}
    let srcBase = (n * p.srcC + b) * planeVecs + xq;
    let hasLeft = xq > 0u;
    let hasRight = xq + 1u < rowVecs;
    ${[0, 1, 2]
      .map(
        (kh) => `{
      let iy = i32(y) + ${kh - 1};
      if (iy >= 0 && iy < i32(p.srcH)) {
        let r = srcBase + u32(iy) * rowVecs;
        let mid = S[r];
        let left = select(vec4f(0.0), S[r - select(0u, 1u, hasLeft)], hasLeft);
        let right = select(vec4f(0.0), S[r + select(0u, 1u, hasRight)], hasRight);
        ${weightRowTaps('acc', kh, '        ')}
      }
    }`,
      )
      .join('\n    ')}
  }
  ${tapIndex.map((t) => `partial[${t}][lid] = acc${t};`).join(' ')}
  workgroupBarrier();
  for (var width = ${CONV_WEIGHT_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) { ${tapIndex.map((t) => `partial[${t}][lid] += partial[${t}][lid + width];`).join(' ')} }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let chunk = group % p.chunks;
    ${channels
      .map(
        (j) =>
          `if (a0 + ${j}u < p.dstC) {\n      let w${j} = ((a0 + ${j}u) * p.srcC + b) * 9u;\n      ` +
          tapIndex.map((t) => `DW[(w${j} + ${t}u) * p.chunks + chunk] = partial[${t}][0][${j}];`).join(' ') +
          '\n    }',
      )
      .join('\n    ')}
  }
}`;
  });
}

/** Work-groups of `conv-weight` before chunking (tiles of output channels × input channels). */
export function convWeightTiles(g: ConvGeometry): number {
  return Math.ceil(g.dstChannels / CONV_TILE_C) * g.srcChannels;
}

/**
 * dw with one invocation per (CONV_TILE_C output channels, input channel) looping over all
 * positions (few of them: deep layers at low resolution, where a workgroup per tile would mostly
 * idle); taps as convWeightKernel. total = ceil(A / CONV_TILE_C)·B.
 */
export function convWeightDirectKernel(kh: number, kw: number, first: number, count: number): KernelSpec {
  const taps = tapList(kw, first, count);
  return {
    name: 'conv-weight-direct',
    key: `${kh}x${kw}@${first}+${count}`,
    source: () => /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (tile >= p.total) { return; }
  let b = tile % p.srcC;
  let a0 = (tile / p.srcC) * ${CONV_TILE_C}u;
  let plane = p.dstH * p.dstW;
  ${channels.map((j) => `let ga${j} = min(a0 + ${j}u, p.dstC - 1u) * plane;`).join(' ')}
  // Two-level sum per tap (columns into a row total, rows into the result): error grows with
  // rowLength + rows instead of their product, close to the tree sum of conv-weight.
  ${taps.map(({ t }) => `var acc${t} = vec4f(0.0);`).join(' ')}
  for (var n = 0u; n < p.batch; n++) {
    let srcBase = (n * p.srcC + b) * p.srcH * p.srcW;
    for (var y = 0u; y < p.dstH; y++) {
      let gBase = n * p.dstC * plane + y * p.dstW;
      ${taps.map(({ t }) => `var row${t} = vec4f(0.0);`).join(' ')}
      for (var x = 0u; x < p.dstW; x++) {
        let gv = ${vec((j) => `G[gBase + ga${j} + x]`)};
        ${taps
          .map(
            ({ t, kh: th, kw: tw }) => `{
          let iy = i32(y * p.strideH + ${th}u) - i32(p.padH);
          let ix = i32(x * p.strideW + ${tw}u) - i32(p.padW);
          if (iy >= 0 && iy < i32(p.srcH) && ix >= 0 && ix < i32(p.srcW)) { row${t} += gv * S[srcBase + u32(iy) * p.srcW + u32(ix)]; }
        }`,
          )
          .join('\n        ')}
      }
      ${taps.map(({ t }) => `acc${t} += row${t};`).join(' ')}
    }
  }
  ${directWeightStores(kh * kw, taps.map(({ t }) => t))}
}`,
  };
}

/**
 * convWeightDirectKernel with subgroups (CPU adapters; all taps in one pass): a workgroup is one
 * subgroup for one input channel (grid x), its lanes tiles of 4 output channels (grid y:
 * 4·subgroupSize channels per workgroup), walking every position together. The KH·KW source
 * values of a position are the same for every lane, so each lane loads a few and broadcasts
 * them — ~1 source load per position instead of KH·KW. Same sums in the same order as
 * convWeightDirectKernel (out-of-plane taps add zeros where it skips them). Launch:
 * convWeightDirectSubgroupLaunch.
 */
export function convWeightDirectSubgroupKernel(kh: number, kw: number, subgroupSize: number): KernelSpec {
  return cachedKernel('conv-weight-direct-subgroup', `${kh}x${kw}-${subgroupSize}`, () => {
    const taps = tapList(kw, 0, kh * kw);
    const loads = [...Array(Math.ceil(taps.length / subgroupSize)).keys()];
    return /* wgsl */ `
enable subgroups;
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${subgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let b = wid.x;
  let a0 = (wid.y * ${subgroupSize}u + lane) * ${CONV_TILE_C}u;
  let plane = p.dstH * p.dstW;
  ${channels.map((j) => `let ga${j} = min(a0 + ${j}u, p.dstC - 1u) * plane;`).join(' ')}
  // Tap f = kh·KW + kw of a position: lane l loads f = l, l + ${subgroupSize}, ...
  ${loads.map((r) => `let f${r} = min(${r * subgroupSize}u + lane, ${taps.length - 1}u); let th${r} = f${r} / ${kw}u; let tw${r} = f${r} % ${kw}u;`).join('\n  ')}
  ${taps.map(({ t }) => `var acc${t} = vec4f(0.0);`).join(' ')}
  for (var n = 0u; n < p.batch; n++) {
    let srcBase = (n * p.srcC + b) * p.srcH * p.srcW;
    for (var y = 0u; y < p.dstH; y++) {
      let gBase = n * p.dstC * plane + y * p.dstW;
      ${taps.map(({ t }) => `var row${t} = vec4f(0.0);`).join(' ')}
      for (var x = 0u; x < p.dstW; x++) {
        let gv = ${vec((j) => `G[gBase + ga${j} + x]`)};
        ${loads
          .map(
            (r) => `let iy${r} = i32(y * p.strideH + th${r}) - i32(p.padH);
        let ix${r} = i32(x * p.strideW + tw${r}) - i32(p.padW);
        let sv${r} = select(0.0, S[srcBase + u32(clamp(iy${r}, 0, i32(p.srcH) - 1)) * p.srcW + u32(clamp(ix${r}, 0, i32(p.srcW) - 1))], iy${r} >= 0 && iy${r} < i32(p.srcH) && ix${r} >= 0 && ix${r} < i32(p.srcW));`,
          )
          .join('\n        ')}
        ${taps.map(({ t }) => `row${t} += gv * subgroupBroadcast(sv${Math.floor(t / subgroupSize)}, ${t % subgroupSize}u);`).join('\n        ')}
      }
      ${taps.map(({ t }) => `acc${t} += row${t};`).join(' ')}
    }
  }
  ${directWeightStores(kh * kw, taps.map(({ t }) => t))}
}`;
  });
}

/** Grid of convWeightDirectSubgroupKernel: input channels along x, 4·subgroupSize output channels along y. */
export function convWeightDirectSubgroupLaunch(g: ConvGeometry, subgroupSize: number): { params: number[]; workgroups: [number, number, number] } {
  return { params: convParams(g, g.srcChannels), workgroups: [g.srcChannels, Math.ceil(g.dstChannels / (CONV_TILE_C * subgroupSize)), 1] };
}

/**
 * convWeightDirectKernel for 3×3, stride 1, padding 1 with rows a whole number of vec4s (see
 * convGather3x3RowsApplies): each step takes 4 neighbouring positions, reading g as 4 vec4s and
 * the source rows as 3 × 3 aligned vec4s (as convWeight3x3RowsKernel) instead of 4 + 9
 * bounds-checked scalar loads per position — 13 loads per 4 positions instead of 52. Sums a row
 * of positions, then rows, per tap. Same launch as convWeightDirectKernel.
 */
export function convWeight3x3RowsDirectKernel(): KernelSpec {
  return cachedKernel('conv-weight-3x3-rows-direct', '', () => rowsDirectWeightSource(0));
}

/**
 * convWeight3x3RowsDirectKernel with the source reads shared across a subgroup (CPU adapters with
 * subgroups): a workgroup is one subgroup whose lanes take consecutive tiles of 4 output channels
 * for the same input channel (grid: output-channel tiles / lanes × input channels), so at every
 * step all lanes need the same 3 × 3 source vec4s; each lane loads one or two of them and
 * `subgroupBroadcast`s them: 4 + ⌈9 / lanes⌉ loads per 4 positions instead of 13. Same sums in
 * the same order (bit-identical). Launch: convWeight3x3RowsDirectSubgroupLaunch.
 */
export function convWeight3x3RowsDirectSubgroupKernel(subgroupSize: number): KernelSpec {
  return cachedKernel('conv-weight-3x3-rows-direct-subgroup', `${subgroupSize}`, () => rowsDirectWeightSource(subgroupSize));
}

/** WGSL of the two kernels above: one invocation per (output-channel tile, input channel) walking every position; `subgroupSize` 0 for the plain one. */
function rowsDirectWeightSource(subgroupSize: number): string {
  const tapIndex = [...Array(9).keys()];
  const shared = subgroupSize > 0;
  const loadsPerLane = shared ? Math.ceil(9 / subgroupSize) : 0;
  const broadcast = (f: number) => `subgroupBroadcast(sl${Math.floor(f / subgroupSize)}, ${f % subgroupSize}u)`;
  // The tile and input channel of this invocation, and (shared) which source vec4s its lane loads.
  const invocation = shared
    ? `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let b = wid.y;
  let aTiles = (p.dstC + ${CONV_TILE_C - 1}u) / ${CONV_TILE_C}u;
  let aTile = wid.x * ${subgroupSize}u + lane;
  let a0 = min(aTile, aTiles - 1u) * ${CONV_TILE_C}u;
  // Entries f = l, l + ${subgroupSize}, … (row f / 3, column f % 3) of the 3 × 3 source neighbourhood this lane loads.
  ${Array.from({ length: loadsPerLane }, (_, r) => `let f${r} = min(${r * subgroupSize}u + lane, 8u);`).join(' ')}`
    : `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (tile >= p.total) { return; }
  let b = tile % p.srcC;
  let a0 = (tile / p.srcC) * ${CONV_TILE_C}u;`;
  // Kernel row kh's left, mid and right vec4s and its taps: the shared kernel broadcasts them
  // outside the row test (a broadcast needs the whole subgroup; the test is uniform there anyway).
  const kernelRow = (kh: number) => {
    const inRange = `y + ${kh}u >= 1u && y + ${kh}u <= p.srcH`;
    return shared
      ? `{
          let left = select(vec4f(0.0), ${broadcast(kh * 3)}, hasLeft);
          let mid = ${broadcast(kh * 3 + 1)};
          let right = select(vec4f(0.0), ${broadcast(kh * 3 + 2)}, hasRight);
          if (${inRange}) {
            ${weightRowTaps('row', kh, '            ')}
          }
        }`
      : `if (${inRange}) {
          let r = srcBase + (y + ${kh}u - 1u) * rowVecs + xq;
          let mid = S[r];
          let left = select(vec4f(0.0), S[r - select(0u, 1u, hasLeft)], hasLeft);
          let right = select(vec4f(0.0), S[r + select(0u, 1u, hasRight)], hasRight);
          ${weightRowTaps('row', kh, '          ')}
        }`;
  };
  const stores = directWeightStores(9, tapIndex);
  return /* wgsl */ `
${shared ? 'enable subgroups;' : ''}
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<vec4f>;
@group(0) @binding(1) var<storage, read> S: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${shared ? subgroupSize : WORKGROUP})
${invocation}
  let rowVecs = p.dstW / 4u;
  let planeVecs = p.dstH * rowVecs;
  // g planes of the tile's channels (clamped into range for a partial last tile; not stored).
  ${channels.map((j) => `let ga${j} = min(a0 + ${j}u, p.dstC - 1u) * planeVecs;`).join(' ')}
  ${tapIndex.map((t) => `var acc${t} = vec4f(0.0);`).join(' ')}
  for (var n = 0u; n < p.batch; n++) {
    let srcBase = (n * p.srcC + b) * planeVecs;
    let gBase = n * p.dstC * planeVecs;
    for (var y = 0u; y < p.dstH; y++) {
      ${tapIndex.map((t) => `var row${t} = vec4f(0.0);`).join(' ')}
      for (var xq = 0u; xq < rowVecs; xq++) {
        let yq = y * rowVecs + xq;
        ${channels.map((j) => `let g${j} = G[gBase + ga${j} + yq];`).join(' ')}
        ${G_COLUMNS}
        ${Array.from({ length: loadsPerLane }, (_, r) => `let sl${r} = S[srcBase + u32(clamp(i32(y + f${r} / 3u) - 1, 0, i32(p.srcH) - 1)) * rowVecs + u32(clamp(i32(xq + f${r} % 3u) - 1, 0, i32(rowVecs) - 1))];`).join('\n        ')}
        let hasLeft = xq > 0u;
        let hasRight = xq + 1u < rowVecs;
        ${[0, 1, 2].map(kernelRow).join('\n        ')}
      }
      ${tapIndex.map((t) => `acc${t} += row${t};`).join(' ')}
    }
  }
  ${shared ? `if (aTile < aTiles) {\n  ${stores}\n  }` : stores}
}`;
}

/** Launch of convWeight3x3RowsDirectSubgroupKernel: (output-channel tiles / lanes) × input channels, one subgroup each. */
export function convWeight3x3RowsDirectSubgroupLaunch(g: ConvGeometry, subgroupSize: number): { params: number[]; workgroups: [number, number, number] } {
  return { params: convParams(g, 0), workgroups: [Math.ceil(Math.ceil(g.dstChannels / CONV_TILE_C) / subgroupSize), g.srcChannels, 1] };
}

/** Whether convWeight1x1RowsKernel applies: 1×1, stride 1, no padding, planes a whole number of vec4s. */
export function convWeight1x1RowsApplies(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0 && (g.dstH * g.dstW) % 4 === 0;
}

/**
 * Weight gradient of a 1×1, stride-1 convolution (UNet's head) on CPU adapters: dw[a, b] is the
 * dot product of g's channel a and the source's channel b over every position, so one invocation
 * per (a, b) reads both planes as vec4s (2 loads per 4 positions), summing blocks of 64 vec4s,
 * blocks per image, images, then the 4 lanes (error growing with their sizes' sum, not product). The generic kernels tile 4 output channels, 3 of them idle for
 * the head's single channel, and reduce through workgroup memory (4× slower than TF.js there).
 * total = A·B.
 */
export function convWeight1x1RowsKernel(): KernelSpec {
  return cachedKernel('conv-weight-1x1-rows', '', () => /* wgsl */ `
${PARAMS_STRUCT}
@group(0) @binding(0) var<storage, read> G: array<vec4f>;
@group(0) @binding(1) var<storage, read> S: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> DW: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let pair = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (pair >= p.total) { return; }
  let b = pair % p.srcC;
  let a = pair / p.srcC;
  let planeVecs = p.dstH * p.dstW / 4u;
  var total = vec4f(0.0);
  for (var n = 0u; n < p.batch; n++) {
    let gBase = (n * p.dstC + a) * planeVecs;
    let sBase = (n * p.srcC + b) * planeVecs;
    var image = vec4f(0.0);
    var block = vec4f(0.0);
    for (var q = 0u; q < planeVecs; q++) {
      block += G[gBase + q] * S[sBase + q];
      if ((q & 63u) == 63u) { image += block; block = vec4f(0.0); }
    }
    total += image + block;
  }
  DW[pair] = (total.x + total.y) + (total.z + total.w);
}`);
}

/** Positions per weight up to which `conv-weight-direct` is used. */
export const CONV_WEIGHT_DIRECT_MAX_POSITIONS = 2048;

/**
 * conv-transpose2d forward when stride = kernel size and there is no padding (UNet's 2×2/s2),
 * for CPU adapters: Y[m, pixel] = Σ_k W[k, m]·X[k, pixel] with m = (co, kh, kw) — every output
 * comes from one (m, pixel), so unlike the scatter form there are no taps to test and skip.
 * Each invocation computes 4 consecutive m × 4 consecutive input pixels of one image (weights and
 * inputs both load as 4 contiguous values), summing channels in blocks as the other kernels.
 * total = N · ceil(M / 4) · ceil(H·W / 4).
 */
export function convTransposeTiledKernel(kh: number, kw: number, hasBias: boolean): KernelSpec {
  const taps = kh * kw;
  const lanes = [...Array(4).keys()];
  return {
    name: 'conv-transpose-tiled',
    key: `${kh}x${kw}-${hasBias ? 'bias' : 'nobias'}`,
    source: () => /* wgsl */ `
struct Params { M: u32, K: u32, plane: u32, W: u32, total: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> Y: array<f32>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let pixelTiles = (p.plane + 3u) / 4u;
  let mTiles = (p.M + 3u) / 4u;
  let cStart = (idx % pixelTiles) * 4u;
  let mStart = ((idx / pixelTiles) % mTiles) * 4u;
  let n = idx / (pixelTiles * mTiles);
  // Clamped indices for a partial last tile; those lanes are computed but never stored.
  ${lanes.map((j) => `let m${j} = min(mStart + ${j}u, p.M - 1u); let c${j} = min(cStart + ${j}u, p.plane - 1u);`).join('\n  ')}
  let xBase = n * p.K * p.plane;
  ${lanes.map((j) => `var acc${j} = vec4f(0.0); var block${j} = vec4f(0.0);`).join('\n  ')}
  for (var k = 0u; k < p.K; k++) {
    let w = vec4f(${lanes.map((j) => `Wt[k * p.M + m${j}]`).join(', ')});
    let row = xBase + k * p.plane;
    ${lanes.map((j) => `block${j} += X[row + c${j}] * w;`).join('\n    ')}
    if ((k & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${lanes.map((j) => `acc${j} += block${j}; block${j} = vec4f(0.0);`).join(' ')} }
  }
  let outW = p.W * ${kw}u;
  let outPlane = p.plane * ${taps}u;
  let couts = p.M / ${taps}u;
  ${lanes
    .map(
      (j) => `if (cStart + ${j}u < p.plane) {
    let total = acc${j} + block${j};
    let oy = (c${j} / p.W) * ${kh}u;
    let ox = (c${j} % p.W) * ${kw}u;
    ${lanes
      .map(
        (i) => `if (mStart + ${i}u < p.M) {
      let co = m${i} / ${taps}u;
      let t = m${i} % ${taps}u;
      Y[((n * couts + co) * outPlane) + (oy + t / ${kw}u) * outW + ox + t % ${kw}u] = total[${i}]${hasBias ? ' + Bias[co]' : ''};
    }`,
      )
      .join('\n    ')}
  }`,
    )
    .join('\n  ')}
}`,
  };
}

/** Whether convTranspose2x2RowsKernel applies: 2×2 tiling (see convTransposeTilesExactly) and input rows a whole number of vec4s. */
export function convTranspose2x2RowsApplies(g: ConvGeometry): boolean {
  return g.kh === 2 && g.kw === 2 && g.srcW % 4 === 0;
}

/**
 * convTransposeTiledKernel for UNet's 2×2/s2 up-convolution when input rows are a whole number
 * of vec4s: an invocation's 4 rows are the 4 taps of one output channel and its 4 pixels 4
 * neighbours of one row, so each input channel costs one vec4 load of weights and one of
 * inputs (not 8 scalar loads), and the 2 × 8 outputs are stored as 4 aligned vec4s. Same
 * launch, sums and order as the scalar kernel.
 */
export function convTranspose2x2RowsKernel(hasBias: boolean): KernelSpec {
  return cachedKernel('conv-transpose-2x2-rows', hasBias ? 'bias' : 'nobias', () => {
    const lanes = [0, 1, 2, 3];
    // Output row a (0, 1) of the 4 pixels: columns 2x … 2x + 7 = taps (a, 0), (a, 1) of pixels 0 … 3.
    const rowVec = (a: number, half: number) => `vec4f(total${2 * half}[${2 * a}], total${2 * half}[${2 * a + 1}], total${2 * half + 1}[${2 * a}], total${2 * half + 1}[${2 * a + 1}])`;
    return /* wgsl */ `
struct Params { M: u32, K: u32, plane: u32, W: u32, total: u32 }
@group(0) @binding(0) var<storage, read> X: array<vec4f>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4f>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> Y: array<vec4f>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let pixelTiles = p.plane / 4u;
  let mTiles = p.M / 4u;
  let cq = idx % pixelTiles;
  let co = (idx / pixelTiles) % mTiles;
  let n = idx / (pixelTiles * mTiles);
  ${lanes.map((j) => `var acc${j} = vec4f(0.0); var block${j} = vec4f(0.0);`).join('\n  ')}
  for (var k = 0u; k < p.K; k++) {
    let w = Wt[k * mTiles + co];
    let x = X[(n * p.K + k) * pixelTiles + cq];
    ${lanes.map((j) => `block${j} += x[${j}] * w;`).join('\n    ')}
    if ((k & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${lanes.map((j) => `acc${j} += block${j}; block${j} = vec4f(0.0);`).join(' ')} }
  }
  ${lanes.map((j) => `let total${j} = acc${j} + block${j}${hasBias ? ' + vec4f(Bias[co])' : ''};`).join('\n  ')}
  // Output [N, Cout, 2H, 2W] in vec4s: a channel is 4·plane floats = plane vec4s, a row W / 2.
  let c = cq * 4u;
  let rowVecs = p.W / 2u;
  let top = (n * mTiles + co) * p.plane + (c / p.W) * 2u * rowVecs + (c % p.W) / 2u;
  ${[0, 1].map((a) => `Y[top + ${a === 0 ? '' : 'rowVecs + '}0u] = ${rowVec(a, 0)};\n  Y[top + ${a === 0 ? '' : 'rowVecs + '}1u] = ${rowVec(a, 1)};`).join('\n  ')}
}`;
  });
}

/** Output channels per invocation of convTranspose2x2RowsSubgroupKernel. */
export const CONV_TRANSPOSE_SUBGROUP_TILE_C = 8;

/**
 * convTranspose2x2RowsKernel with the weight sharing of convGather3x3RowsSubgroupKernel: a
 * workgroup's grid row is a tile of CONV_TRANSPOSE_SUBGROUP_TILE_C output channels, whose 2×2
 * weight vec4s for an input channel each subgroup loads once (one per lane) and broadcasts, so
 * one input vec4 (4 pixels) feeds every channel of the tile (×4 taps). Same sums and order as the
 * other 2×2 kernels, so bit-identical results.
 * Launch: convTranspose2x2RowsSubgroupLaunch.
 */
export function convTranspose2x2RowsSubgroupKernel(hasBias: boolean, subgroupSize: number, workgroupSize: number): KernelSpec {
  return cachedKernel('conv-transpose-2x2-rows-subgroup', `${hasBias ? 'bias' : 'nobias'}-${subgroupSize}-${workgroupSize}`, () => {
    const lanes = [0, 1, 2, 3];
    const outs = Array.from({ length: CONV_TRANSPOSE_SUBGROUP_TILE_C }, (_, c) => c);
    const loadsPerLane = Math.ceil(outs.length / subgroupSize);
    const rowVec = (c: number, a: number, half: number) =>
      `vec4f(total${c}_${2 * half}[${2 * a}], total${c}_${2 * half}[${2 * a + 1}], total${c}_${2 * half + 1}[${2 * a}], total${c}_${2 * half + 1}[${2 * a + 1}])`;
    return /* wgsl */ `
enable subgroups;
struct Params { M: u32, K: u32, plane: u32, W: u32, total: u32 }
@group(0) @binding(0) var<storage, read> X: array<vec4f>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4f>;
${hasBias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> Y: array<vec4f>;
@group(0) @binding(${hasBias ? 4 : 3}) var<uniform> p: Params;

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let pixelTiles = p.plane / 4u;
  let channels = p.M / 4u;
  let idx = wid.x * ${workgroupSize}u + lid;
  let pos = min(idx, p.total - 1u);
  let cq = pos % pixelTiles;
  let n = pos / pixelTiles;
  let co0 = wid.y * ${outs.length}u;
  ${outs.map((c) => lanes.map((j) => `var acc${c}_${j} = vec4f(0.0); var block${c}_${j} = vec4f(0.0);`).join(' ')).join('\n  ')}
  for (var k = 0u; k < p.K; k++) {
    ${Array.from({ length: loadsPerLane }, (_, r) => `let wl${r} = Wt[k * channels + min(co0 + ${r * subgroupSize}u + lane, channels - 1u)];`).join('\n    ')}
    let x = X[(n * p.K + k) * pixelTiles + cq];
    ${outs
      .map(
        (c) => `{
      let w = subgroupBroadcast(wl${Math.floor(c / subgroupSize)}, ${c % subgroupSize}u);
      ${lanes.map((j) => `block${c}_${j} += x[${j}] * w;`).join(' ')}
    }`,
      )
      .join('\n    ')}
    if ((k & ${BLOCK - 1}u) == ${BLOCK - 1}u) { ${outs.map((c) => lanes.map((j) => `acc${c}_${j} += block${c}_${j}; block${c}_${j} = vec4f(0.0);`).join(' ')).join(' ')} }
  }
  if (idx < p.total) {
    let c = cq * 4u;
    let rowVecs = p.W / 2u;
    ${outs
      .map(
        (c) => `if (co0 + ${c}u < channels) {
      let co = co0 + ${c}u;
      ${lanes.map((j) => `let total${c}_${j} = acc${c}_${j} + block${c}_${j}${hasBias ? ' + vec4f(Bias[co])' : ''};`).join(' ')}
      let top = (n * channels + co) * p.plane + (c / p.W) * 2u * rowVecs + (c % p.W) / 2u;
      ${[0, 1].map((a) => `Y[top + ${a === 0 ? '' : 'rowVecs + '}0u] = ${rowVec(c, a, 0)};\n      Y[top + ${a === 0 ? '' : 'rowVecs + '}1u] = ${rowVec(c, a, 1)};`).join('\n      ')}
    }`,
      )
      .join('\n    ')}
  }
}`;
  });
}

/** Launch of convTranspose2x2RowsSubgroupKernel: (images × pixel quads) × output-channel tiles. */
export function convTranspose2x2RowsSubgroupLaunch(g: ConvGeometry, subgroupSize: number): { params: number[]; workgroupSize: number; workgroups: [number, number, number] } {
  const plane = g.srcH * g.srcW;
  const positions = g.batch * (plane / 4);
  const workgroupSize = Math.min(WORKGROUP, Math.max(subgroupSize, 2 ** Math.ceil(Math.log2(positions))));
  return {
    params: [g.dstChannels * 4, g.srcChannels, plane, g.srcW, positions],
    workgroupSize,
    workgroups: [Math.ceil(positions / workgroupSize), Math.ceil(g.dstChannels / CONV_TRANSPOSE_SUBGROUP_TILE_C), 1],
  };
}

export function convTransposeTiledLaunch(g: ConvGeometry): { params: number[]; workgroups: [number, number, number] } {
  const M = g.dstChannels * g.kh * g.kw;
  const plane = g.srcH * g.srcW;
  const total = g.batch * Math.ceil(M / 4) * Math.ceil(plane / 4);
  return { params: [M, g.srcChannels, plane, g.srcW, total], workgroups: grid(Math.ceil(total / WORKGROUP)) };
}
