/**
 * The direct convolution kernels: plain WGSL for any geometry, the fallback of every pattern
 * (geometry.ts) on CPU adapters. Register tiling: each gather/scatter invocation computes TILE_C
 * destination channels × TILE_X neighbouring columns, so every source value loaded feeds TILE_C
 * multiply-adds and every weight TILE_X; tiling changes no element's summation order. The weight
 * kernels are specialised per kernel size and compute a range of taps of one (a, b) channel pair
 * tile per invocation, sharing the g value and the index arithmetic among the taps:
 * `weight` uses one workgroup per (output-channel tile, input channel, chunk of positions) and a
 * workgroup tree sum, chunks added by a second pass; `weight-direct` (few positions) one
 * invocation per channel pair tile looping over every position.
 */
import { LINEAR_GROUP_INDEX, grid, kernelFamily, type KernelSpec } from '../kernel.js';
import { entryPoint, kernelHeader } from '../wgsl.js';
import { BLOCK, CONV_PARAMS, TILE_C, TILE_X, WORKGROUP, channels, columns, convParams, directGrid, directWeightStores, tapList, vec, type ConvGeometry } from './geometry.js';

const GATHER_SCATTER = { gather: kernelFamily('conv-gather'), scatter: kernelFamily('conv-scatter') };
const PACK_WEIGHTS = kernelFamily('conv-pack-weights');
const WEIGHT = kernelFamily('conv-weight');
const WEIGHT_DIRECT = kernelFamily('conv-weight-direct');
const TRANSPOSE_TILED = kernelFamily('conv-transpose-tiled');

/**
 * `gather` reads its weights packed by convPackWeightsKernel (one vec4 of destination channels
 * per source channel and tap); `scatter` reads them as stored, w[s, d, kh, kw].
 */
function gatherScatterKernel(kind: 'gather' | 'scatter', hasBias: boolean): KernelSpec {
  return GATHER_SCATTER[kind].spec(hasBias ? 'bias' : 'nobias', () => {
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
          let wv = Wt[(s * taps + kh * p.kw + kw) * tilesC + d0 / ${TILE_C}u];
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
${kernelHeader({ params: CONV_PARAMS, inputs: [['S', 'f32'], ['Wt', kind === 'gather' ? 'vec4f' : 'f32'], hasBias ? ['Bias', 'f32'] : null], outputs: [['D', 'f32']] })}

${entryPoint(WORKGROUP)} {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let tilesX = (p.dstW + ${TILE_X - 1}u) / ${TILE_X}u;
  let tilesC = (p.dstC + ${TILE_C - 1}u) / ${TILE_C}u;
  let x0 = (idx % tilesX) * ${TILE_X}u;
  let y = (idx / tilesX) % p.dstH;
  let d0 = ((idx / (tilesX * p.dstH)) % tilesC) * ${TILE_C}u;
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

/** The gather for any kernel, stride and padding (reads weights packed by convPackWeightsKernel). */
export function convGatherKernel(hasBias: boolean): KernelSpec {
  return gatherScatterKernel('gather', hasBias);
}

/** The scatter for any kernel, stride and padding. */
export function convScatterKernel(hasBias: boolean): KernelSpec {
  return gatherScatterKernel('scatter', hasBias);
}

/**
 * Weights of a gather repacked as [srcC, KH, KW, ceil(dstC/4)] vec4s (zero-padded channels), so
 * the gather loads the 4 destination channels of a tap in one 16-byte read instead of four
 * scattered ones; weights change every step, so they are packed at each call. `flipped` reads
 * w[s, d, KH−1−kh, KW−1−kw]: conv2d's stride-1 grad-input as a gather over dY. One invocation per
 * (source channel, 4 destination channels) reads those channels' taps — contiguous in either
 * layout — and writes a vec4 per tap (one invocation per value would read across channels, as
 * slowly as the convolution itself). Launch: packWeightsLaunch.
 */
export function convPackWeightsKernel(flipped: boolean): KernelSpec {
  return PACK_WEIGHTS.spec(flipped ? 'flipped' : 'plain', () => {
    const source = (j: number) => (flipped ? `(s * p.dstC + d${j}) * taps + taps - 1u - t` : `(d${j} * p.srcC + s) * taps + t`);
    return /* wgsl */ `
${kernelHeader({ params: CONV_PARAMS, inputs: [['Wt', 'f32']], outputs: [['Packed', 'vec4f']] })}

${entryPoint(WORKGROUP)} {
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
export function packWeightsLaunch(g: ConvGeometry): { params: number[]; workgroups: [number, number, number] } {
  const total = g.srcChannels * Math.ceil(g.dstChannels / 4);
  return { params: convParams(g, total), workgroups: directGrid(total) };
}

/** Floats of the packed weights. */
export function packedWeightCount(g: ConvGeometry): number {
  return g.srcChannels * g.kh * g.kw * Math.ceil(g.dstChannels / 4) * 4;
}

/**
 * dw[a,b,kh,kw] over g = [N, dstC=A, dstH, dstW] and src = [N, srcC=B, srcH, srcW], for the
 * taps [first, first + count) of a kh×kw kernel; writes `chunks` partial sums per weight
 * element (weight-major). One workgroup per (tile of TILE_C a's, one b, chunk): each
 * invocation strides over the chunk's positions accumulating TILE_C × count products (each
 * g value feeds every tap, each src value every a), then a shared-memory tree sums the
 * invocations. total = ceil(A / TILE_C)·B.
 */
export function convWeightKernel(kh: number, kw: number, first: number, count: number): KernelSpec {
  return WEIGHT.spec(`${kh}x${kw}@${first}+${count}`, () => {
    const taps = tapList(kw, first, count);
    const slots = count * TILE_C;
    return /* wgsl */ `
${kernelHeader({ params: CONV_PARAMS, inputs: [['G', 'f32'], ['S', 'f32']], outputs: [['DW', 'f32']] })}

var<workgroup> partial: array<array<vec4f, ${WORKGROUP}>, ${count}>;

${entryPoint(WORKGROUP)} {
  let group = ${LINEAR_GROUP_INDEX};
  if (group >= p.total * p.chunks) { return; }
  let tile = group / p.chunks;
  let b = tile % p.srcC;
  let a0 = (tile / p.srcC) * ${TILE_C}u;
  let plane = p.dstH * p.dstW;
  let count = p.batch * plane;
  let start = (group % p.chunks) * p.chunkLength;
  let end = min(start + p.chunkLength, count);
  // g planes of the tile's channels (clamped into range for a partial last tile; not stored).
  ${channels.map((j) => `let ga${j} = min(a0 + ${j}u, p.dstC - 1u) * plane;`).join(' ')}
  ${taps.map(({ t }) => `var acc${t} = vec4f(0.0);`).join(' ')}
  for (var r = start + lid; r < end; r += ${WORKGROUP}u) {
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
  for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
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
}`;
  });
}

/**
 * dw with one invocation per (TILE_C output channels, input channel) looping over all
 * positions (few of them: deep layers at low resolution, where a workgroup per tile would mostly
 * idle); taps as convWeightKernel. total = ceil(A / TILE_C)·B.
 */
export function convWeightDirectKernel(kh: number, kw: number, first: number, count: number): KernelSpec {
  return WEIGHT_DIRECT.spec(`${kh}x${kw}@${first}+${count}`, () => {
    const taps = tapList(kw, first, count);
    return /* wgsl */ `
${kernelHeader({ params: CONV_PARAMS, inputs: [['G', 'f32'], ['S', 'f32']], outputs: [['DW', 'f32']] })}

${entryPoint(WORKGROUP)} {
  let tile = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (tile >= p.total) { return; }
  let b = tile % p.srcC;
  let a0 = (tile / p.srcC) * ${TILE_C}u;
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
}`;
  });
}

/** Positions per weight up to which the planner prefers the one-invocation-per-weight kernels (few positions: deep layers at low resolution). */
export const WEIGHT_DIRECT_MAX_POSITIONS = 2048;

/** Workgroups convWeightKernel aims for (chunking positions), enough to fill a GPU. */
const WEIGHT_TARGET_GROUPS = 256;

/** Chunks of positions of convWeightKernel (and its row-vector form): enough workgroups, each chunk at least 16 positions per invocation. */
export function weightChunks(g: ConvGeometry): number {
  const tiles = Math.ceil(g.dstChannels / TILE_C) * g.srcChannels;
  return Math.max(1, Math.min(Math.ceil((g.batch * g.dstH * g.dstW) / (16 * WORKGROUP)), Math.ceil(WEIGHT_TARGET_GROUPS / tiles)));
}

/**
 * conv-transpose2d forward when stride = kernel size and there is no padding (UNet's 2×2/s2),
 * for CPU adapters: Y[m, pixel] = Σ_k W[k, m]·X[k, pixel] with m = (co, kh, kw) — every output
 * comes from one (m, pixel), so unlike the scatter form there are no taps to test and skip.
 * Each invocation computes 4 consecutive m × 4 consecutive input pixels of one image (weights and
 * inputs both load as 4 contiguous values), summing channels in blocks as the other kernels.
 * total = N · ceil(M / 4) · ceil(H·W / 4).
 */
export function convTransposeTiledKernel(kh: number, kw: number, hasBias: boolean): KernelSpec {
  return TRANSPOSE_TILED.spec(`${kh}x${kw}-${hasBias ? 'bias' : 'nobias'}`, () => {
    const taps = kh * kw;
    const lanes = [...Array(4).keys()];
    return /* wgsl */ `
${kernelHeader({ params: 'M: u32, K: u32, plane: u32, W: u32, total: u32', inputs: [['X', 'f32'], ['Wt', 'f32'], hasBias ? ['Bias', 'f32'] : null], outputs: [['Y', 'f32']] })}

${entryPoint(WORKGROUP)} {
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
}`;
  });
}

/** Launch of convTransposeTiledKernel. */
export function transposeTiledLaunch(g: ConvGeometry): { params: number[]; workgroups: [number, number, number] } {
  const M = g.dstChannels * g.kh * g.kw;
  const plane = g.srcH * g.srcW;
  const total = g.batch * Math.ceil(M / 4) * Math.ceil(plane / 4);
  return { params: [M, g.srcChannels, plane, g.srcW, total], workgroups: grid(Math.ceil(total / WORKGROUP)) };
}
