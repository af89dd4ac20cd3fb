/** Whether tensors hold only finite values, checked on the GPU with one read back (kernels/finite.ts). */
import { nonFiniteKernel, nonFiniteLaunch } from '../../kernels/finite.js';
import { getRuntime } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { zeros } from './creation.js';

/** True when no value of `tensors` is NaN or ±Inf. */
export async function allFinite(tensors: Iterable<Tensor>): Promise<boolean> {
  const runtime = getRuntime();
  const flag = zeros([1]);
  try {
    for (const t of tensors) {
      if (t.size === 0) continue;
      const { vec4, n, workgroups } = nonFiniteLaunch(t.size);
      runtime.dispatch({ kernel: nonFiniteKernel(vec4), inputs: [t.buffer], outputs: [flag.buffer], params: [n], workgroups });
    }
    return new Uint32Array((await flag.toArray()).buffer)[0] === 0;
  } finally {
    flag.dispose();
  }
}
