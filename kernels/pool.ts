/**
 * Max pooling over NCHW planes (padding counts as −inf, floor output size, as PyTorch).
 * Forward: one invocation per output (64 per workgroup) scanning its window row by row; the
 * first maximum wins, like PyTorch's CPU kernel, and a NaN wins over any number (PyTorch
 * propagates NaN); the arg-max (h·W + w within the plane) is stored as an exact float. Backward
 * gathers instead of scattering (no atomics): one invocation per input element sums dY over the
 * ≤ ceil(K/s)² windows that contain it and chose it. 2×2/s2 pools over rows of vec4s (UNet's)
 * have kernels with 2 outputs / 4 inputs per invocation.
 */
import { LINEAR_GROUP_INDEX, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 64;

const FORWARD = kernelFamily('maxpool-forward');
const BACKWARD = kernelFamily('maxpool-backward');
const ROWS_2X2_FORWARD = kernelFamily('maxpool-2x2-rows-forward');
const ROWS_2X2_BACKWARD = kernelFamily('maxpool-2x2-rows-backward');

const PARAMS = 'planes: u32, h: u32, w: u32, oh: u32, ow: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32, total: u32';

/** NaN test on the bits: WGSL lets compilers assume floats are never NaN, and lavapipe drops v != v. */
const IS_NAN = `fn isNan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }`;

export interface PoolGeometry {
  planes: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

export function poolParams(g: PoolGeometry, total: number): number[] {
  return [g.planes, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, total];
}

/** The window geometry baked into the generic kernels as constants (loops of known trip count unroll). */
function windowKey(g: PoolGeometry): string {
  return `k${g.kh}x${g.kw}s${g.sh}x${g.sw}p${g.ph}x${g.pw}`;
}

const windowConstants = (g: PoolGeometry) =>
  `const KH = ${g.kh}; const KW = ${g.kw}; const SH = ${g.sh}; const SW = ${g.sw}; const PH = ${g.ph}; const PW = ${g.pw};`;

/**
 * Forward for any window; `argMax` false (no gradient needed) stores only the maxima, as
 * inference needs no arg-max.
 */
export function maxPoolForwardKernel(g: PoolGeometry, argMax: boolean): KernelSpec {
  return FORWARD.spec(`${windowKey(g)}${argMax ? '' : '-values'}`, () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['X', 'f32']], outputs: [['Y', 'f32'], argMax ? ['ArgMax', 'f32'] : null] })}
${IS_NAN}
${windowConstants(g)}

${entryPoint(WORKGROUP)} {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let ox = idx % p.ow;
  let oy = (idx / p.ow) % p.oh;
  let plane = idx / (p.ow * p.oh);
  let base = plane * p.h * p.w;
  let y0 = i32(oy) * SH - PH;
  let x0 = i32(ox) * SW - PW;
  var best = 0.0; // replaced by the first in-bounds value (padding never wins)
  var bestIndex = -1;
  for (var kh = 0; kh < KH; kh++) {
    let iy = y0 + kh;
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var kw = 0; kw < KW; kw++) {
      let ix = x0 + kw;
      if (ix < 0 || ix >= i32(p.w)) { continue; }
      let v = X[base + u32(iy * i32(p.w) + ix)];
      if (bestIndex < 0 || (!isNan(best) && (v > best || isNan(v)))) {
        best = v;
        bestIndex = iy * i32(p.w) + ix;
      }
    }
  }
  Y[idx] = best;
  ${argMax ? 'ArgMax[idx] = f32(bestIndex);' : ''}
}`);
}

/**
 * Backward for any window: an invocation takes an SH×SW block of inputs, loads the arg-max and
 * dY of every window that can hold one of them once, and gives each input the sum of the dY of
 * the windows that chose it (in window order, as a per-input gather would; a window chose an
 * input only if it holds it). total = planes · ceil(H / SH) · ceil(W / SW).
 */
export function maxPoolBackwardKernel(g: PoolGeometry): KernelSpec {
  // Windows along an axis that can hold a block of S inputs: ceil((K + S − 1) / S).
  const ny = Math.ceil((g.kh + g.sh - 1) / g.sh);
  const nx = Math.ceil((g.kw + g.sw - 1) / g.sw);
  return BACKWARD.spec(windowKey(g), () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['DY', 'f32'], ['ArgMax', 'f32']], outputs: [['DX', 'f32']] })}
${windowConstants(g)}
const NY = ${ny}; const NX = ${nx};

${entryPoint(WORKGROUP)} {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let bw = (p.w + ${g.sw - 1}u) / ${g.sw}u;
  let bh = (p.h + ${g.sh - 1}u) / ${g.sh}u;
  let y0 = i32((idx / bw) % bh) * SH;
  let x0 = i32(idx % bw) * SW;
  let plane = idx / (bw * bh);
  // The first window whose last row reaches y0: oy·SH − PH + KH − 1 ≥ y0.
  let oy0 = (y0 + PH - KH + SH) / SH;
  let ox0 = (x0 + PW - KW + SW) / SW;
  var chosen: array<f32, ${ny * nx}>;
  var dy: array<f32, ${ny * nx}>;
  for (var ty = 0; ty < NY; ty++) {
    for (var tx = 0; tx < NX; tx++) {
      let oy = oy0 + ty;
      let ox = ox0 + tx;
      var at = -1.0;
      var d = 0.0;
      if (oy >= 0 && oy < i32(p.oh) && ox >= 0 && ox < i32(p.ow)) {
        let o = (plane * p.oh + u32(oy)) * p.ow + u32(ox);
        at = ArgMax[o];
        d = DY[o];
      }
      chosen[ty * NX + tx] = at;
      dy[ty * NX + tx] = d;
    }
  }
  for (var dy0 = 0; dy0 < SH; dy0++) {
    let y = y0 + dy0;
    if (y >= i32(p.h)) { break; }
    for (var dx0 = 0; dx0 < SW; dx0++) {
      let x = x0 + dx0;
      if (x >= i32(p.w)) { break; }
      let me = f32(y * i32(p.w) + x);
      var acc = 0.0;
      for (var t = 0; t < NY * NX; t++) {
        if (chosen[t] == me) { acc += dy[t]; }
      }
      DX[(plane * p.h + u32(y)) * p.w + u32(x)] = acc;
    }
  }
}`);
}

/** Whether the 2×2/s2 row kernels apply: 2×2 windows, stride 2, no padding, rows a whole number of vec4s. */
export function maxPool2x2RowsApplies(g: PoolGeometry): boolean {
  return g.kh === 2 && g.kw === 2 && g.sh === 2 && g.sw === 2 && g.ph === 0 && g.pw === 0 && g.w % 4 === 0;
}

/**
 * maxPoolForwardKernel for UNet's 2×2/s2 pool when rows are a whole number of vec4s: an
 * invocation reads one vec4 from each of the window's two rows — the windows of 2 outputs — and
 * stores 2 outputs (and, with `argMax`, 2 arg-maxes) as vec2s (2 loads for 2 outputs instead of
 * 8). Same window order, first maximum and NaN rule as the generic kernel. total = planes · OH · W / 4.
 */
export function maxPool2x2RowsForwardKernel(argMax: boolean): KernelSpec {
  return ROWS_2X2_FORWARD.spec(argMax ? '' : 'values', () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['X', 'vec4f']], outputs: [['Y', 'vec2f'], argMax ? ['ArgMax', 'vec2f'] : null] })}
${IS_NAN}

// The window's values in scan order (row 0: x, y; row 1: z, w) and their plane indices: the first
// maximum, or the first NaN.
fn firstMax(v: vec4f, at: vec4i) -> vec2f {
  var best = v.x;
  var bestAt = at.x;
  ${['y', 'z', 'w'].map((c) => `if (!isNan(best) && (v.${c} > best || isNan(v.${c}))) { best = v.${c}; bestAt = at.${c}; }`).join('\n  ')}
  return vec2f(best, f32(bestAt));
}

${entryPoint(WORKGROUP)} {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let rowVecs = p.w / 4u;
  let q = idx % rowVecs;
  let oy = (idx / rowVecs) % p.oh;
  let plane = idx / (rowVecs * p.oh);
  let top = X[(plane * p.h + 2u * oy) * rowVecs + q];
  let bottom = X[(plane * p.h + 2u * oy + 1u) * rowVecs + q];
  let at = i32(2u * oy * p.w + 4u * q);
  let w = i32(p.w);
  let left = firstMax(vec4f(top.x, top.y, bottom.x, bottom.y), vec4i(at, at + 1, at + w, at + w + 1));
  let right = firstMax(vec4f(top.z, top.w, bottom.z, bottom.w), vec4i(at + 2, at + 3, at + w + 2, at + w + 3));
  // Outputs 2q, 2q + 1 of row oy: vec2 (plane · OH + oy) · OW / 2 + q, with OW = W / 2.
  let o = (plane * p.oh + oy) * rowVecs + q;
  Y[o] = vec2f(left.x, right.x);
  ${argMax ? 'ArgMax[o] = vec2f(left.y, right.y);' : ''}
}`);
}

/**
 * maxPoolBackwardKernel for the same 2×2/s2 case: each input is in exactly one window, so an
 * invocation takes 4 inputs of a row (one vec4) from 2 outputs' dY and arg-max (vec2 loads).
 * total = planes · H · W / 4.
 */
export const maxPool2x2RowsBackwardKernel: KernelSpec = ROWS_2X2_BACKWARD.spec('', () => /* wgsl */ `
${kernelHeader({ params: PARAMS, inputs: [['DY', 'vec2f'], ['ArgMax', 'vec2f']], outputs: [['DX', 'vec4f']] })}

${entryPoint(WORKGROUP)} {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let rowVecs = p.w / 4u;
  let q = idx % rowVecs;
  let y = (idx / rowVecs) % p.h;
  let plane = idx / (rowVecs * p.h);
  // The last row of an odd H is in no window.
  if (y >= 2u * p.oh) { DX[idx] = vec4f(0.0); return; }
  let o = (plane * p.oh + y / 2u) * rowVecs + q;
  let dy = DY[o];
  let am = ArgMax[o];
  let me = f32(y * p.w + 4u * q);
  DX[idx] = vec4f(select(0.0, dy.x, am.x == me), select(0.0, dy.x, am.x == me + 1.0), select(0.0, dy.y, am.y == me + 2.0), select(0.0, dy.y, am.y == me + 3.0));
}`);

export function poolGrid(total: number): [number, number, number] {
  return grid(Math.ceil(total / WORKGROUP));
}
