/**
 * What the adapter is and can do, as one immutable value chosen when the runtime starts. Every
 * kernel choice (kernels/conv/plan.ts, kernels/batchnorm/plan.ts) is a pure function of it and of
 * the shapes, so a choice can be tested without a GPU and changed only through init() options.
 */
import type { AdapterReport } from './device.js';

/**
 * What the adapter is and can do, as far as kernel choices depend on it: immutable, fixed when the
 * runtime starts (Runtime.caps).
 */
export interface AdapterCaps {
  /** A CPU implementation of WebGPU (lavapipe, SwiftShader): workgroup memory and barriers cost more than they save there. */
  readonly software: boolean;
  /** The subgroup size, when subgroups are enabled and always that size (a divisor of 64); else 0. */
  readonly subgroupSize: number;
  /** `shader-f16` is enabled. */
  readonly f16: boolean;
  /** `timestamp-query` is enabled: GPU-side timing of passes (the autotuner). */
  readonly timestampQuery: boolean;
  /**
   * How many live values the shader compiler handles in reasonable time. `small`: SwiftShader,
   * whose compiler is super-linear in them (a 9-tap weight gradient takes it tens of seconds), so
   * kernels with many accumulators are not planned there.
   */
  readonly compilerBudget: 'small' | 'large';
  readonly maxWorkgroupStorageBytes: number;
  readonly maxBufferBytes: number;
}

export function isSwiftShader(report: AdapterReport): boolean {
  return /swiftshader/i.test(`${report.architecture} ${report.description}`);
}

/** CPU implementations of WebGPU (lavapipe, SwiftShader). */
export function isSoftwareAdapter(report: AdapterReport): boolean {
  return report.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(`${report.architecture} ${report.description} ${report.device}`);
}

/** The adapter's subgroup size if subgroups are enabled and always that size (a divisor of 64), else 0. */
export function fixedSubgroupSize(report: AdapterReport): number {
  const size = report.subgroupMinSize;
  return report.features.includes('subgroups') && size >= 4 && size === report.subgroupMaxSize && 64 % size === 0 ? size : 0;
}

/**
 * $PETSEG_CAPS: `gpu` describes any adapter as a GPU (`software: false`, a large compiler
 * budget), so a CPU adapter runs the kernels the planner chooses for GPUs — how the suite tests
 * them without one; empty or unset: the adapter as it is. init()'s `caps` option applies after.
 */
export function capsFromEnvironment(value: string | undefined): Partial<AdapterCaps> {
  if (!value) return {};
  if (value === 'gpu') return { software: false, compilerBudget: 'large' };
  throw new RangeError(`$PETSEG_CAPS must be 'gpu' or empty, got '${value}'`);
}

/**
 * The {@link AdapterCaps} of the adapter `report` describes, as it reports itself; $PETSEG_CAPS
 * and init()'s `caps` override them after.
 */
export function capsFor(report: AdapterReport): AdapterCaps {
  return Object.freeze({
    software: isSoftwareAdapter(report),
    subgroupSize: fixedSubgroupSize(report),
    f16: report.features.includes('shader-f16'),
    timestampQuery: report.features.includes('timestamp-query'),
    compilerBudget: isSwiftShader(report) ? 'small' : 'large',
    maxWorkgroupStorageBytes: report.limits.maxComputeWorkgroupStorageSize ?? 16384,
    maxBufferBytes: Math.min(report.limits.maxBufferSize ?? 2 ** 28, report.limits.maxStorageBufferBindingSize ?? 2 ** 27),
  });
}
