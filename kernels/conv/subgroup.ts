/**
 * One file for the five subgroup kernels: they share the technique and the two rules below (the
 * direct kernel's summation order, no early return), which a change to one must keep in all.
 *
 * Subgroup kernels for CPU adapters whose subgroups have one fixed size (lavapipe: 8 lanes, one
 * AVX2 register). lavapipe loads a storage value lane by lane (a bounds check and a branch per
 * lane and component) even when every lane asks for the same address; here a value several
 * lanes need is loaded once, by one lane, and `subgroupBroadcast` to the others, and the loads
 * saved pay for more outputs per invocation. Each kernel keeps the summation order of the direct
 * kernel it extends (direct.ts), so results are bit-identical; no lane returns early (a broadcast
 * needs the whole subgroup).
 */
import { kernelFamily, type KernelSpec } from '../kernel.js';
import { entryPoint, kernelHeader } from '../wgsl.js';
import { BLOCK, CONV_PARAMS, SUBGROUP_TILE_C, TILE_C, TILE_X, channels, columns, convParams, directWeightStores, subgroupWorkgroup, tapList, vec, type ConvGeometry } from './geometry.js';
import { G_COLUMNS, weightRowTaps } from './rows.js';

const GATHER = kernelFamily('conv-gather-subgroup');
const SCATTER = kernelFamily('conv-scatter-subgroup');
const GATHER_CHANNELS = kernelFamily('conv-gather-channels-subgroup');
const WEIGHT_DIRECT = kernelFamily('conv-weight-direct-subgroup');
const WEIGHT_3X3_ROWS_DIRECT = kernelFamily('conv-weight-3x3-rows-direct-subgroup');

/** How convGatherSubgroupKernel reads the inputs of an invocation's 4 columns. */
export type GatherTile = { kind: 'columns' } | { kind: 'row-vectors'; strideW: number; padW: number };

/** The subgroup gather's tile for a layer: row vectors where source rows are whole vec4s. */
export function gatherTile(g: ConvGeometry): GatherTile {
  return g.srcW % 4 === 0 ? { kind: 'row-vectors', strideW: g.strideW, padW: g.padW } : { kind: 'columns' };
}

/**
 * The gather (any kernel size, stride and padding; rows of any width) with shared weights: a
 * workgroup's grid row is a tile of SUBGROUP_TILE_C output channels, and per input channel and
 * kernel row each subgroup loads the tile's 2·KW weight vec4s once (a lane each) and broadcasts
 * them; an invocation computes 4 columns × 8 channels. Specialized on the kernel size (taps
 * unrolled). Keeps convGatherKernel's summation order (a per-channel window, then the
 * 16-channel blocks), so results are bit-identical to it: the ResNet stem's PyTorch-parity
 * gradients go through near-tied max-pool and ReLU masks that any other rounding flips.
 *
 * The invocation's 4 outputs (`tile`, chosen by gatherTile):
 * - `columns`: 4 columns of a row, read as 4·KW bounds-checked scalars per kernel row;
 * - `row-vectors` (source rows a whole number of vec4s): the same 4 columns, their inputs of a
 *   kernel row — columns stride·x0 − pad … stride·(x0 + 3) − pad + KW − 1 — read as the aligned
 *   vec4s that hold them (3 for 3×3/s1/p1 and 3×3/s2/p1, 2 for 1×1/s2, 4 for the 7×7/s2/p3
 *   stem), stride and padding compiled in.
 * Same products and sums in the same order in both layouts (bit-identical).
 */
export function convGatherSubgroupKernel(hasBias: boolean, kh: number, kw: number, subgroupSize: number, workgroupSize: number, tile: GatherTile): KernelSpec {
  const tileKey = tile.kind === 'row-vectors' ? `-rows-s${tile.strideW}p${tile.padW}` : '';
  return GATHER.spec(`${hasBias ? 'bias' : 'nobias'}-${kh}x${kw}-${subgroupSize}-${workgroupSize}${tileKey}`, () => {
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
    const rowVecs = Array.from({ length: vecOf(TILE_X - 1, kw - 1) - vecOf(0, 0) + 1 }, (_, k) => vecOf(0, 0) + k);
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
    const position = `let tilesX = (p.dstW + ${TILE_X - 1}u) / ${TILE_X}u;
  let x0 = (pos % tilesX) * ${TILE_X}u;
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
${kernelHeader({ enable: ['subgroups'], params: CONV_PARAMS, inputs: [['S', tile.kind === 'row-vectors' ? 'vec4f' : 'f32'], ['Wt', 'vec4f'], hasBias ? ['Bias', 'f32'] : null], outputs: [['D', 'f32']] })}

${entryPoint(workgroupSize, ['wid', 'lid', 'lane'])} {
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
 * weights for the SUBGROUP_TILE_C destination channels of the grid row are loaded once per
 * subgroup (a lane each) and broadcast. Per element the same sums in the same order as
 * convScatterKernel (taps it skips add only zeros there), so results are bit-identical.
 * Launch: convScatterSubgroupLaunch.
 */
export function convScatterSubgroupKernel(hasBias: boolean, subgroupSize: number, workgroupSize: number): KernelSpec {
  return SCATTER.spec(`${hasBias ? 'bias' : 'nobias'}-${subgroupSize}-${workgroupSize}`, () => {
    const halves = [0, 1];
    const loadsPerLane = Math.ceil(SUBGROUP_TILE_C / subgroupSize);
    const each = (f: (h: number, i: number) => string, sep = ' ') => halves.flatMap((h) => columns.map((i) => f(h, i))).join(sep);
    const bias = (h: number) => (hasBias ? vec((j) => `Bias[min(d0 + ${4 * h + j}u, p.dstC - 1u)]`) : 'vec4f(0.0)');
    const broadcast = (c: number) => `subgroupBroadcast(wl${Math.floor(c / subgroupSize)}, ${c % subgroupSize}u)`;
    return /* wgsl */ `
${kernelHeader({ enable: ['subgroups'], params: CONV_PARAMS, inputs: [['S', 'f32'], ['Wt', 'f32'], hasBias ? ['Bias', 'f32'] : null], outputs: [['D', 'f32']] })}

${entryPoint(workgroupSize, ['wid', 'lid', 'lane'])} {
  let yr = wid.z / p.strideW;
  let xr = wid.z % p.strideW;
  let classRows = (p.dstH + p.strideH - 1u) / p.strideH;
  let tilesX = ((p.dstW + p.strideW - 1u) / p.strideW + ${TILE_X - 1}u) / ${TILE_X}u;
  let d0 = wid.y * ${SUBGROUP_TILE_C}u;
  let idx = wid.x * ${workgroupSize}u + lid;
  let pos = min(idx, p.total - 1u);
  let q0 = (pos % tilesX) * ${TILE_X}u;
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
  const positions = g.batch * Math.ceil(g.dstH / g.strideH) * Math.ceil(classCols / TILE_X);
  const workgroupSize = subgroupWorkgroup(positions, subgroupSize);
  return {
    params: convParams(g, positions),
    workgroupSize,
    workgroups: [Math.ceil(positions / workgroupSize), Math.ceil(g.dstChannels / SUBGROUP_TILE_C), g.strideH * g.strideW],
  };
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
  return GATHER_CHANNELS.spec(`${hasBias ? 'bias' : 'nobias'}-${kh}x${kw}-${subgroupSize}`, () => {
    const halves = [0, 1];
    const inputs = TILE_X * kw;
    const loadsPerLane = Math.ceil(inputs / subgroupSize);
    const loads = [...Array(loadsPerLane).keys()];
    const acc = (h: number, i: number) => `acc${h}_${i}`;
    const block = (h: number, i: number) => `block${h}_${i}`;
    const window = (h: number, i: number) => `window${h}_${i}`;
    const each = (f: (h: number, i: number) => string, sep = ' ') => halves.flatMap((h) => columns.map((i) => f(h, i))).join(sep);
    const bias = (h: number) => (hasBias ? vec((j) => `Bias[min(d0 + ${4 * h + j}u, p.dstC - 1u)]`) : 'vec4f(0.0)');
    return /* wgsl */ `
${kernelHeader({ enable: ['subgroups'], params: CONV_PARAMS, inputs: [['S', 'f32'], ['Wt', 'vec4f'], hasBias ? ['Bias', 'f32'] : null], outputs: [['D', 'f32']] })}

${entryPoint(subgroupSize, ['wid', 'lane'])} {
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
  const groups = Math.ceil((g.batch * g.dstH * g.dstW) / TILE_X);
  return { params: convParams(g, groups), workgroups: [groups, Math.ceil(g.dstChannels / (SUBGROUP_TILE_C * subgroupSize)), 1] };
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
  return WEIGHT_DIRECT.spec(`${kh}x${kw}-${subgroupSize}`, () => {
    const taps = tapList(kw, 0, kh * kw);
    const loads = [...Array(Math.ceil(taps.length / subgroupSize)).keys()];
    return /* wgsl */ `
${kernelHeader({ enable: ['subgroups'], params: CONV_PARAMS, inputs: [['G', 'f32'], ['S', 'f32']], outputs: [['DW', 'f32']] })}

${entryPoint(subgroupSize, ['wid', 'lane'])} {
  let b = wid.x;
  let a0 = (wid.y * ${subgroupSize}u + lane) * ${TILE_C}u;
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

/**
 * The weight gradient of a 3×3/s1/p1 convolution over rows a whole number of vec4s, one
 * invocation per (4 output channels, input channel) walking every position: a workgroup is one
 * subgroup whose lanes take consecutive tiles of 4 output channels for the same input channel
 * (grid: output-channel tiles / lanes × input channels), so at every step all lanes need the same
 * 3 × 3 source vec4s; each lane loads one or two of them and broadcasts them (4 + ⌈9 / lanes⌉
 * loads per 4 positions instead of 13). Each step takes 4 neighbouring positions, g read as 4
 * vec4s; sums a row of positions, then rows, per tap.
 */
export function convWeight3x3RowsDirectSubgroupKernel(subgroupSize: number): KernelSpec {
  return WEIGHT_3X3_ROWS_DIRECT.spec(`${subgroupSize}`, () => {
    const tapIndex = [...Array(9).keys()];
    const loadsPerLane = Math.ceil(9 / subgroupSize);
    const broadcast = (f: number) => `subgroupBroadcast(sl${Math.floor(f / subgroupSize)}, ${f % subgroupSize}u)`;
    // Kernel row kh's left, mid and right vec4s, broadcast outside the row test (a broadcast
    // needs the whole subgroup; the test is uniform anyway), and its taps.
    const kernelRow = (kh: number) => `{
          let left = select(vec4f(0.0), ${broadcast(kh * 3)}, hasLeft);
          let mid = ${broadcast(kh * 3 + 1)};
          let right = select(vec4f(0.0), ${broadcast(kh * 3 + 2)}, hasRight);
          if (y + ${kh}u >= 1u && y + ${kh}u <= p.srcH) {
            ${weightRowTaps('row', kh, '            ')}
          }
        }`;
    return /* wgsl */ `
${kernelHeader({ enable: ['subgroups'], params: CONV_PARAMS, inputs: [['G', 'vec4f'], ['S', 'vec4f']], outputs: [['DW', 'f32']] })}

${entryPoint(subgroupSize, ['wid', 'lane'])} {
  let b = wid.y;
  let aTiles = (p.dstC + ${TILE_C - 1}u) / ${TILE_C}u;
  let aTile = wid.x * ${subgroupSize}u + lane;
  let a0 = min(aTile, aTiles - 1u) * ${TILE_C}u;
  // Entries f = l, l + ${subgroupSize}, … (row f / 3, column f % 3) of the 3 × 3 source neighbourhood this lane loads.
  ${Array.from({ length: loadsPerLane }, (_, r) => `let f${r} = min(${r * subgroupSize}u + lane, 8u);`).join(' ')}
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
  if (aTile < aTiles) {
  ${directWeightStores(9, tapIndex)}
  }
}`;
  });
}
