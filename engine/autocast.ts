/**
 * Mixed precision for convolutions, as torch.autocast: inside `autocast(fn)`, conv2d and
 * convTranspose2d (and so the Conv2d / ConvTranspose2d layers) round their input and weight to
 * float16 and run the f16 GEMM kernels, which accumulate and write in f32. Every other op, the
 * parameters, the gradients and the optimizer stay float32 (BatchNorm statistics, the loss).
 * Only the forward is scoped: a backward follows the types its forward saved.
 */
import { getRuntime } from './runtime.js';

let active = false;

/**
 * Runs `fn` with convolutions in mixed precision (`enabled` false: in float32, also inside an
 * outer autocast). Needs the adapter's `shader-f16`.
 */
export function autocast<T>(fn: () => T, enabled = true): T {
  if (enabled && !getRuntime().caps.f16) {
    throw new Error(`mixed precision needs the adapter's shader-f16 feature, which ${getRuntime().adapterName} does not offer; use float32`);
  }
  const outer = active;
  active = enabled;
  try {
    return fn();
  } finally {
    active = outer;
  }
}

/** Inside an enabled autocast(). */
export function isAutocasting(): boolean {
  return active;
}
