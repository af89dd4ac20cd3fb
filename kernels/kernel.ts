/**
 * What every kernel file exports: specifications, made through its kernel families' one cache,
 * that the runtime compiles once per (name, key), and dispatch shapes. Binding convention shared
 * by all kernels: read-only storage inputs first, then read-write outputs, then (when the kernel
 * has parameters) one uniform buffer of u32 words.
 */

/** One kernel: its family, its specialization key and its WGSL. */
export interface KernelSpec {
  /** Kernel family, e.g. `elementwise`: the name its file declared with {@link kernelFamily}. */
  readonly name: string;
  /** Specialization within the family (op, rank, flags); with `name` it keys the pipeline cache. */
  readonly key: string;
  /** WGSL source; called only when the pipeline is not cached yet. */
  readonly source: () => string;
}

/** The kernels of one family, made through {@link kernelFamily}. */
export interface KernelFamily {
  readonly name: string;
  /**
   * The spec of kernel `key`, made once: ops ask for their kernel at every launch, so `source`
   * — the WGSL generation — must not run then; the runtime calls it when it first compiles the
   * pipeline. `key` must determine the source: a later call with the same key gets the first
   * call's spec.
   */
  spec(key: string, source: () => string): KernelSpec;
}

/** Every declared family's specs by key: the one spec cache and the registry of family names. */
const families = new Map<string, Map<string, KernelSpec>>();

/**
 * Declares a kernel family; each kernel file calls it at module top level, once per family, so
 * that importing kernels/index.ts registers every family the engine can launch
 * ({@link kernelFamilies}). Two declarations of one name would share pipeline cache entries, so
 * the second is an error.
 */
export function kernelFamily(name: string): KernelFamily {
  if (families.has(name)) throw new Error(`kernel family ${name} is declared twice`);
  const specs = new Map<string, KernelSpec>();
  families.set(name, specs);
  return {
    name,
    spec(key, source) {
      let spec = specs.get(key);
      if (!spec) specs.set(key, (spec = { name, key, source }));
      return spec;
    },
  };
}

/** Names of the kernel families declared so far (by every kernel module loaded), in declaration order. */
export function kernelFamilies(): string[] {
  return [...families.keys()];
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
