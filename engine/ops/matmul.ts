/** Matrix product of 2-D tensors. */
import { matmulGrid, matmulKernel } from '../../kernels/matmul.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** C[M,N] = op(A)·op(B); A is stored [K,M] when transA, B is stored [N,K] when transB. Not recorded. */
function matmulRaw(a: Tensor, b: Tensor, transA: boolean, transB: boolean, M: number, N: number, K: number): Tensor {
  const out = Tensor.empty([M, N]);
  if (M * N === 0) return out;
  getRuntime().dispatch({
    kernel: matmulKernel(transA, transB),
    inputs: [a.buffer, b.buffer],
    outputs: [out.buffer],
    params: [M, N, K],
    workgroups: matmulGrid(M, N),
  });
  return out;
}

/** [M,K] · [K,N] → [M,N]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) {
    throw new Error(`matmul(): needs [M,K]·[K,N], got ${formatShape(a.shape)}·${formatShape(b.shape)}`);
  }
  const [M, K] = a.shape;
  const N = b.shape[1];
  const out = matmulRaw(a, b, false, false, M, N, K);
  if (needsGrad([a, b])) {
    record('matmul', [a, b], out, [a, b], (g, [sa, sb]) => [
      // dA = dC·Bᵀ, dB = Aᵀ·dC, read through the transpose flags.
      a.requiresGrad ? matmulRaw(g, sb, false, true, M, K, N) : null,
      b.requiresGrad ? matmulRaw(sa, g, true, false, K, N, M) : null,
    ]);
  }
  return out;
}
