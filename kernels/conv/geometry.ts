/**
 * What every convolution kernel shares: the geometry, its parameter block, the register tile of
 * the direct kernels and the WGSL fragments they have in common. Three patterns serve conv2d and
 * conv-transpose2d, forward and backward (NCHW activations, weights [A, B, KH, KW]):
 *
 * - `gather`:  dst[n,d,y,x] = Σ_{s,kh,kw} src[n,s, y·st+kh−p, x·st+kw−p] · w[d,s,kh,kw]   (+ bias[d])
 * - `scatter`: dst[n,d,y,x] = Σ_{s,kh,kw} src[n,s, (y+p−kh)/st, (x+p−kw)/st] · w[s,d,kh,kw] (+ bias[d])
 *              (only where the division is exact)
 * - `weight`:  dw[a,b,kh,kw] = Σ_{n,y,x} g[n,a,y,x] · src[n,b, y·st+kh−p, x·st+kw−p]
 *
 * kernels/conv/plan.ts says which direction of which op is which pattern.
 */
import { grid } from '../kernel.js';

/** Geometry shared by the kernels (u32 words in this order). */
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

/** Invocations per workgroup of the direct kernels. */
export const WORKGROUP = 64;
/** Destination channels and columns per gather/scatter invocation (the register tile). */
export const TILE_C = 4;
export const TILE_X = 4;
/** Output channels per invocation of the subgroup kernels: two vec4s. */
export const SUBGROUP_TILE_C = 8;
/**
 * Gathers and scatters sum channels in blocks of this many before adding to the total: rounding
 * error then grows with BLOCK + C/BLOCK instead of C (a 1024-channel UNet layer sums 9216
 * products), close to what blocked GEMMs achieve.
 */
export const BLOCK = 16;

/** Fields of the direct kernels' parameter block, in the order of {@link convParams}. */
export const CONV_PARAMS = `batch: u32, srcC: u32, srcH: u32, srcW: u32, dstC: u32, dstH: u32, dstW: u32, kh: u32,
  kw: u32, strideH: u32, strideW: u32, padH: u32, padW: u32, total: u32, chunks: u32, chunkLength: u32,`;

export function convParams(g: ConvGeometry, total: number, chunks = 1, chunkLength = 0): number[] {
  return [g.batch, g.srcChannels, g.srcH, g.srcW, g.dstChannels, g.dstH, g.dstW, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, total, chunks, chunkLength];
}

/** Invocations of a gather/scatter launch: one per (n, channel tile, row, column tile). */
export function tileCount(g: ConvGeometry): number {
  return g.batch * Math.ceil(g.dstChannels / TILE_C) * g.dstH * Math.ceil(g.dstW / TILE_X);
}

/** Grid of a direct kernel with one invocation per item. */
export function directGrid(items: number): [number, number, number] {
  return grid(Math.ceil(items / WORKGROUP));
}

/** Workgroup size of the subgroup kernels: no larger than the positions (small deep layers), at least a subgroup. */
export function subgroupWorkgroup(positions: number, subgroupSize: number): number {
  return Math.min(WORKGROUP, Math.max(subgroupSize, 2 ** Math.ceil(Math.log2(positions))));
}

/** 3×3, stride 1, padding 1, same size, rows a whole number of vec4s: the row-vector 3×3 kernels apply. */
export function isRows3x3(g: ConvGeometry): boolean {
  return g.kh === 3 && g.kw === 3 && g.strideH === 1 && g.strideW === 1 && g.padH === 1 && g.padW === 1 && g.srcW % 4 === 0 && g.dstW === g.srcW && g.dstH === g.srcH;
}

export const columns = [...Array(TILE_X).keys()];
export const channels = [...Array(TILE_C).keys()];
/** A vec4f of the tile's 4 channels. */
export const vec = (f: (j: number) => string) => `vec4f(${channels.map(f).join(', ')})`;

/** The taps [first, first + count) of a kernel kw wide, as (index, row, column). */
export function tapList(kw: number, first: number, count: number): { t: number; kh: number; kw: number }[] {
  return Array.from({ length: count }, (_, i) => ({ t: first + i, kh: Math.floor((first + i) / kw), kw: (first + i) % kw }));
}

/** How a kernel's taps split into weight-kernel passes of at most `groupSize`: [first, count] per pass. */
export function tapGroups(kh: number, kw: number, groupSize: number): [number, number][] {
  const taps = kh * kw;
  const out: [number, number][] = [];
  for (let first = 0; first < taps; first += groupSize) out.push([first, Math.min(groupSize, taps - first)]);
  return out;
}

/** The direct weight gradients' stores: tap sums acc{t} of the invocation's 4 output channels (a0 + j) for input channel b. */
export const directWeightStores = (kernelTaps: number, taps: number[]) =>
  channels
    .map((j) => `if (a0 + ${j}u < p.dstC) {\n    let w${j} = ((a0 + ${j}u) * p.srcC + b) * ${kernelTaps}u;\n    ` + taps.map((t) => `DW[w${j} + ${t}u] = acc${t}[${j}];`).join(' ') + '\n  }')
    .join('\n  ');
