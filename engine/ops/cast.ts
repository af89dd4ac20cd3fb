/** Conversion between float32 and float16 tensors (kernels/cast.ts). Gradients stay float32, so the backward passes them through. */
import { castGrid, castKernel } from '../../kernels/cast.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { Tensor, makingShapesOnly, type DType } from '../tensor.js';
import { reshape } from './layout.js';

/** `x` as `dtype` (a view when it already is). float16 needs the adapter's `shader-f16`. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return reshape(x, x.shape);
  const runtime = getRuntime();
  if (dtype === 'float16' && !runtime.caps.f16) throw new Error(`float16 needs the adapter's shader-f16 feature, which ${runtime.adapterName} does not offer`);
  const out = Tensor.empty(x.shape, runtime, dtype);
  if (x.size > 0 && !makingShapesOnly()) {
    runtime.dispatch({ kernel: castKernel(dtype === 'float16' ? 'to-f16' : 'to-f32'), inputs: [x.storage.buffer], outputs: [out.storage.buffer], params: [x.size], workgroups: castGrid(x.size) });
  }
  if (needsGrad([x])) record('cast', [x], out, [], (g) => [g.viewAs(g.shape)]);
  return out;
}
