/**
 * The part of every kernel's WGSL that follows the binding convention of kernel.ts: `enable`
 * directives, the parameter struct, the bindings (read-only storage inputs, then read-write
 * outputs, then the uniform parameter block) and the entry point's signature. Kernels write only
 * their body; binding numbers cannot drift from the order the runtime binds buffers in.
 */

/**
 * A storage buffer: the name the kernel uses and its element type (`f32`, `vec4f`, ...), bound
 * as an array of it — or a struct's name (capitalized, e.g. `Step`), bound as one value.
 */
export type StorageBinding = readonly [name: string, element: string];

export interface KernelHeader {
  /** WGSL extensions, e.g. `subgroups`. */
  enable?: readonly string[];
  /** Fields of `struct Params` (bound as `p`), in the order of the u32 words the launch passes; omitted: no parameter block. */
  params?: string;
  /** Read-only storage inputs; `null` entries (an absent optional input, e.g. a bias) take no binding. */
  inputs: readonly (StorageBinding | null)[];
  /** Read-write storage outputs (`null` entries as for inputs). */
  outputs: readonly (StorageBinding | null)[];
}

/**
 * The WGSL before a kernel's entry point: `enable` directives, `struct Params`, and the bindings
 * numbered in the runtime's order (inputs, outputs, then the parameter block as `p`).
 */
export function kernelHeader(h: KernelHeader): string {
  const lines: string[] = [];
  if (h.enable?.length) lines.push(`enable ${h.enable.join(', ')};`);
  if (h.params !== undefined) lines.push(`struct Params { ${h.params} }`);
  let binding = 0;
  const storage = (access: string) => ([name, element]: StorageBinding) =>
    lines.push(`@group(0) @binding(${binding++}) var<storage, ${access}> ${name}: ${/^[A-Z]/.test(element) ? element : `array<${element}>`};`);
  const present = (b: StorageBinding | null): b is StorageBinding => b !== null;
  h.inputs.filter(present).forEach(storage('read'));
  h.outputs.filter(present).forEach(storage('read_write'));
  if (h.params !== undefined) lines.push(`@group(0) @binding(${binding}) var<uniform> p: Params;`);
  return lines.join('\n');
}

const BUILTINS = {
  wid: '@builtin(workgroup_id) wid: vec3u',
  nwg: '@builtin(num_workgroups) nwg: vec3u',
  lid: '@builtin(local_invocation_index) lid: u32',
  lane: '@builtin(subgroup_invocation_id) lane: u32',
  gid: '@builtin(global_invocation_id) gid: vec3u',
  /** The invocation's position in a 2-D or 3-D workgroup, also named `lid`. */
  lid3: '@builtin(local_invocation_id) lid: vec3u',
} as const;

export type Builtin = keyof typeof BUILTINS;

/**
 * `@compute @workgroup_size(size) fn main(...)` with the named builtins; the default set is what
 * a kernel launched on kernel.ts's `grid` needs to recover its linear index (LINEAR_GROUP_INDEX).
 */
export function entryPoint(workgroupSize: number | string, builtins: readonly Builtin[] = ['wid', 'nwg', 'lid']): string {
  return `@compute @workgroup_size(${workgroupSize})\nfn main(${builtins.map((b) => BUILTINS[b]).join(', ')})`;
}

/**
 * ReLU that keeps NaN, as PyTorch's (`relu(x)` and `relu4(x)`): WGSL's `max(x, 0)` may return
 * either operand when one is NaN, and lavapipe returns 0, which would hide a diverged run. NaN is
 * recognised by its bits, so no fast-math assumption can fold the test away.
 */
export const RELU_FNS = `fn relu(x: f32) -> f32 { return select(0.0, x, x > 0.0 || (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u); }
fn relu4(x: vec4f) -> vec4f { return select(vec4f(0.0), x, (x > vec4f(0.0)) | ((bitcast<vec4u>(x) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u))); }`;
