/**
 * What every kernel file exports: a specification the runtime compiles once per (name, key) and
 * a dispatch shape. Binding convention shared by all kernels: read-only storage inputs first,
 * then read-write outputs, then (when the kernel has parameters) one uniform buffer of u32 words.
 */

export interface KernelSpec {
  /** Kernel family, e.g. `binary`. */
  readonly name: string;
  /** Specialization within the family (op, rank, flags); with `name` it keys the pipeline cache. */
  readonly key: string;
  /** WGSL source; called only when the pipeline is not cached yet. */
  readonly source: () => string;
}

const specs = new Map<string, KernelSpec>();

/**
 * The spec of kernel (name, key), made once: ops ask for their kernel at every launch, so
 * `source` — the WGSL generation — must not run then; the runtime calls it when it first
 * compiles the pipeline.
 */
export function cachedKernel(name: string, key: string, source: () => string): KernelSpec {
  const id = `${name}|${key}`;
  let spec = specs.get(id);
  if (!spec) specs.set(id, (spec = { name, key, source }));
  return spec;
}

/** Highest tensor rank the strided kernels are specialised for. */
export const MAX_RANK = 8;

/** Largest workgroup count per grid dimension that WebGPU guarantees. */
export const MAX_GROUPS_PER_DIM = 65535;

/**
 * A 2-D grid of `groups` workgroups (WebGPU caps each dimension at 65535). Kernels recover the
 * linear workgroup index with {@link LINEAR_GROUP_INDEX} and must bounds-check the tail.
 */
export function grid(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS_PER_DIM) return [Math.max(groups, 1), 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS_PER_DIM);
  return [Math.ceil(groups / y), y, 1];
}

/** WGSL expression of the linear workgroup index for a grid made by {@link grid}. */
export const LINEAR_GROUP_INDEX = '(wid.x + wid.y * nwg.x)';

const bitsF32 = new Float32Array(1);
const bitsU32 = new Uint32Array(bitsF32.buffer);

/** Bit pattern of an f32, for passing floats through the u32 parameter block. */
export function f32Bits(value: number): number {
  bitsF32[0] = value;
  return bitsU32[0];
}
