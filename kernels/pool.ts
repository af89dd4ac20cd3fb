/**
 * Max pooling over NCHW planes (padding counts as −inf, floor output size, as PyTorch).
 * Forward: one invocation per output (64 per workgroup) scanning its window row by row; the
 * first maximum wins, like PyTorch's CPU kernel; the arg-max (h·W + w within the plane) is
 * stored as an exact float. Backward gathers instead of scattering (no atomics): one invocation
 * per input element sums dY over the ≤ ceil(K/s)² windows that contain it and chose it.
 */
import { LINEAR_GROUP_INDEX, grid, type KernelSpec } from './kernel.js';

const WORKGROUP = 64;

const PARAMS = `struct Params { planes: u32, h: u32, w: u32, oh: u32, ow: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32, total: u32 }`;

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

export const maxPoolForwardKernel: KernelSpec = {
  name: 'maxpool-forward',
  key: '',
  source: () => /* wgsl */ `
${PARAMS}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> ArgMax: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let ox = idx % p.ow;
  let oy = (idx / p.ow) % p.oh;
  let plane = idx / (p.ow * p.oh);
  let base = plane * p.h * p.w;
  var best = 0.0; // replaced by the first in-bounds value (padding never wins)
  var bestIndex = -1;
  var seen = false;
  for (var kh = 0u; kh < p.kh; kh++) {
    let iy = i32(oy * p.sh + kh) - i32(p.ph);
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var kw = 0u; kw < p.kw; kw++) {
      let ix = i32(ox * p.sw + kw) - i32(p.pw);
      if (ix < 0 || ix >= i32(p.w)) { continue; }
      let v = X[base + u32(iy) * p.w + u32(ix)];
      if (!seen || v > best || v != v) {
        best = v;
        bestIndex = iy * i32(p.w) + ix;
        seen = true;
        if (v != v) { break; }
      }
    }
  }
  Y[idx] = best;
  ArgMax[idx] = f32(bestIndex);
}`,
};

export const maxPoolBackwardKernel: KernelSpec = {
  name: 'maxpool-backward',
  key: '',
  source: () => /* wgsl */ `
${PARAMS}
@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> ArgMax: array<f32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (idx >= p.total) { return; }
  let x = i32(idx % p.w);
  let y = i32((idx / p.w) % p.h);
  let plane = idx / (p.w * p.h);
  let me = f32(y * i32(p.w) + x);
  // Windows oy with oy·s − p ≤ y ≤ oy·s − p + K − 1.
  let oy0 = max((y + i32(p.ph) - i32(p.kh) + i32(p.sh)) / i32(p.sh), 0);
  let oy1 = min((y + i32(p.ph)) / i32(p.sh), i32(p.oh) - 1);
  let ox0 = max((x + i32(p.pw) - i32(p.kw) + i32(p.sw)) / i32(p.sw), 0);
  let ox1 = min((x + i32(p.pw)) / i32(p.sw), i32(p.ow) - 1);
  var acc = 0.0;
  for (var oy = oy0; oy <= oy1; oy++) {
    for (var ox = ox0; ox <= ox1; ox++) {
      let o = (plane * p.oh + u32(oy)) * p.ow + u32(ox);
      if (ArgMax[o] == me) { acc += DY[o]; }
    }
  }
  DX[idx] = acc;
}`,
};

export function poolGrid(total: number): [number, number, number] {
  return grid(Math.ceil(total / WORKGROUP));
}
