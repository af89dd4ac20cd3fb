/**
 * C[M,N] = op(A) · op(B), where op transposes when its flag is set (A stored [K,M], B stored
 * [N,K]), so the backward needs no transpose copies. Launch layout: 16×16 invocations per
 * workgroup, one output element each; the workgroup stages 16×16 tiles of A and B in shared
 * memory per step along K (zero-padded at the edges, so any M, N, K works).
 */
import { kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const TILE = 16;

const MATMUL = kernelFamily('matmul');

export function matmulKernel(transA: boolean, transB: boolean): KernelSpec {
  return MATMUL.spec(`${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`, () => /* wgsl */ `
${kernelHeader({ params: 'M: u32, N: u32, K: u32', inputs: [['A', 'f32'], ['B', 'f32']], outputs: [['C', 'f32']] })}

var<workgroup> tileA: array<array<f32, ${TILE}>, ${TILE}>;
var<workgroup> tileB: array<array<f32, ${TILE}>, ${TILE}>;

fn loadA(r: u32, k: u32) -> f32 {
  if (r >= p.M || k >= p.K) { return 0.0; }
  return A[${transA ? 'k * p.M + r' : 'r * p.K + k'}];
}
fn loadB(k: u32, c: u32) -> f32 {
  if (k >= p.K || c >= p.N) { return 0.0; }
  return B[${transB ? 'c * p.K + k' : 'k * p.N + c'}];
}

${entryPoint(`${TILE}, ${TILE}`, ['wid', 'lid3'])} {
  let row = wid.y * ${TILE}u + lid.y;
  let col = wid.x * ${TILE}u + lid.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.K; k0 += ${TILE}u) {
    tileA[lid.y][lid.x] = loadA(row, k0 + lid.x);
    tileB[lid.y][lid.x] = loadB(k0 + lid.y, col);
    workgroupBarrier();
    for (var k = 0u; k < ${TILE}u; k++) { acc += tileA[lid.y][k] * tileB[k][lid.x]; }
    workgroupBarrier();
  }
  if (row < p.M && col < p.N) { C[row * p.N + col] = acc; }
}`);
}

export function matmulGrid(M: number, N: number): [number, number, number] {
  const x = Math.ceil(N / TILE);
  const y = Math.ceil(M / TILE);
  if (x > 65535 || y > 65535) throw new Error(`matmul of ${M}×${N} outputs exceeds the dispatch grid`);
  return [Math.max(x, 1), Math.max(y, 1), 1];
}
