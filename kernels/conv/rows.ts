/**
 * Row-vector kernels (CPU adapters pay per load, not per multiply-add): where rows are a whole
 * number of vec4s, inputs are read as aligned vec4s instead of bounds-checked scalars — the 3×3
 * s1/p1 gather and weight gradient, the 1×1 weight gradient. Same launches as the direct kernels
 * they replace (direct.ts), equal up to rounding.
 */
import { LINEAR_GROUP_INDEX, kernelFamily, type KernelSpec } from '../kernel.js';
import { entryPoint, kernelHeader } from '../wgsl.js';
import { BLOCK, CONV_PARAMS, TILE_C, WORKGROUP, channels, columns, directWeightStores, vec } from './geometry.js';

const GATHER_3X3 = kernelFamily('conv-gather-3x3-rows');
const WEIGHT_3X3 = kernelFamily('conv-weight-3x3-rows');
const WEIGHT_1X1 = kernelFamily('conv-weight-1x1-rows');

/**
 * Row-vector 3×3 kernels read a source row as 3 aligned vec4s (left, mid, right): the input of
 * column i at tap kw (i + kw = 0 … 5) is left.w, mid.x … mid.w, right.x.
 */
export const ROW_INPUT = ['left.w', 'mid.x', 'mid.y', 'mid.z', 'mid.w', 'right.x'];

/** Row-vector weight gradients: g of column i over the 4 output channels, from their g vec4s g0 … g3. */
export const G_COLUMNS = columns.map((i) => `let gc${i} = vec4f(${channels.map((j) => `g${j}[${i}]`).join(', ')});`).join(' ');

/** Row-vector weight gradients: the 3 taps of kernel row kh, `${sum}t += Σ_i gc_i · input(i + kw)`. */
export const weightRowTaps = (sum: string, kh: number, indent: string) =>
  [0, 1, 2].map((kw) => `${sum}${kh * 3 + kw} += ${columns.map((i) => `gc${i} * ${ROW_INPUT[i + kw]}`).join(' + ')};`).join(`\n${indent}`);

/**
 * The gather for the models' most common layer (3×3, stride 1, padding 1) when rows are a whole
 * number of vec4s (W % 4 = 0): an invocation's 4 columns need input columns x0 − 1 … x0 + 4 of
 * each row, read as 3 aligned vec4 loads (left, middle, right) instead of 12 bounds-checked
 * scalar loads — CPU adapters pay per load, not per multiply-add. Same tile and packed weights
 * as the generic gather; taps go straight into the 16-channel block sums (one accumulator level
 * fewer, which lavapipe keeps in registers); outputs are stored as vec4 rows.
 */
export function convGather3x3RowsKernel(hasBias: boolean): KernelSpec {
  return GATHER_3X3.spec(hasBias ? 'bias' : 'nobias', () => {
    const zero = (name: string) => columns.map((i) => `var ${name}${i} = vec4f(0.0);`).join(' ');
    return /* wgsl */ `
${kernelHeader({ params: CONV_PARAMS, inputs: [['S', 'vec4f'], ['Wt', 'vec4f'], hasBias ? ['Bias', 'f32'] : null], outputs: [['D', 'vec4f']] })}

${entryPoint(WORKGROUP)} {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let rowVecs = p.dstW / 4u;
  let tilesC = (p.dstC + ${TILE_C - 1}u) / ${TILE_C}u;
  let xq = idx % rowVecs;
  let y = (idx / rowVecs) % p.dstH;
  let d0 = ((idx / (rowVecs * p.dstH)) % tilesC) * ${TILE_C}u;
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
      let wBase = (s * 9u + kh * 3u) * tilesC + d0 / ${TILE_C}u;
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

/**
 * convWeightKernel for 3×3, stride 1, padding 1 with rows a whole number of vec4s (see
 * geometry.ts isRows3x3), all 9 taps in one pass: an invocation takes 4 neighbouring
 * positions (one vec4 of columns) per step and reads g as 4 vec4s (one per output channel) and
 * the source rows as 3 × 3 aligned vec4s, instead of 4 + 9 scalar loads per position. Same
 * workgroups, chunks (`p.chunkLength` counted in vec4 groups of positions) and tree sum.
 */
export function convWeight3x3RowsKernel(): KernelSpec {
  return WEIGHT_3X3.spec('', () => {
    const tapIndex = [...Array(9).keys()];
    return /* wgsl */ `
${kernelHeader({ params: CONV_PARAMS, inputs: [['G', 'vec4f'], ['S', 'vec4f']], outputs: [['DW', 'f32']] })}

var<workgroup> partial: array<array<vec4f, ${WORKGROUP}>, 9>;

${entryPoint(WORKGROUP)} {
  let group = ${LINEAR_GROUP_INDEX};
  if (group >= p.total * p.chunks) { return; }
  let tile = group / p.chunks;
  let b = tile % p.srcC;
  let a0 = (tile / p.srcC) * ${TILE_C}u;
  let rowVecs = p.dstW / 4u;
  let planeVecs = p.dstH * rowVecs;
  let groups = p.batch * planeVecs;
  let start = (group % p.chunks) * p.chunkLength;
  let end = min(start + p.chunkLength, groups);
  // g planes of the tile's channels (clamped into range for a partial last tile; not stored).
  ${channels.map((j) => `let ga${j} = min(a0 + ${j}u, p.dstC - 1u) * planeVecs;`).join(' ')}
  ${tapIndex.map((t) => `var acc${t} = vec4f(0.0);`).join(' ')}
  for (var q = start + lid; q < end; q += ${WORKGROUP}u) {
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
  for (var width = ${WORKGROUP / 2}u; width > 0u; width = width / 2u) {
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

/**
 * Weight gradient of a 1×1, stride-1 convolution (UNet's head) on CPU adapters: dw[a, b] is the
 * dot product of g's channel a and the source's channel b over every position, so one invocation
 * per (a, b) reads both planes as vec4s (2 loads per 4 positions), summing blocks of 64 vec4s,
 * blocks per image, images, then the 4 lanes (error growing with their sizes' sum, not
 * product). The generic kernels tile 4 output channels, 3 of them idle for the head's single
 * channel, and reduce through workgroup memory.
 * total = A·B.
 */
export function convWeight1x1RowsKernel(): KernelSpec {
  return WEIGHT_1X1.spec('', () => /* wgsl */ `
${kernelHeader({ params: CONV_PARAMS, inputs: [['G', 'vec4f'], ['S', 'vec4f']], outputs: [['DW', 'f32']] })}

${entryPoint(WORKGROUP)} {
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
