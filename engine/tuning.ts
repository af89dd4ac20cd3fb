/**
 * Kernel parameters that depend on the adapter, chosen once when the runtime starts. Defaults
 * suit lavapipe and real GPUs; SwiftShader (Chrome's software WebGPU) needs smaller kernels.
 */
import type { AdapterReport } from './device.js';
import { CONV_TAP_GROUP } from '../kernels/conv.js';

export interface AdapterTuning {
  /** Taps of a conv weight-gradient kernel per pass (its 4-channel accumulators per tap are the kernel's size). */
  convTapGroup: number;
}

export function isSwiftShader(report: AdapterReport): boolean {
  return /swiftshader/i.test(`${report.architecture} ${report.description}`);
}

export function tuningFor(report: AdapterReport): AdapterTuning {
  // SwiftShader's shader compiler is super-linear in these accumulators: the 3×3 weight-gradient
  // kernel compiles in 0.45 s with 5 taps, 1.6 s with 7 and 51 s with 9 (lavapipe: 30 ms).
  return { convTapGroup: isSwiftShader(report) ? 5 : CONV_TAP_GROUP };
}
