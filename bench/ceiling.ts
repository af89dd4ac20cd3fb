/**
 * The adapter's ceilings as WGSL sees them, measured by two micro-kernels, so that the kernel rows
 * can be read as a fraction of what the adapter can do at all: a multiply-add rate with every
 * operand in registers, and a cached storage-load rate.
 * On lavapipe these are far apart from the CPU's own peak — it neither fuses a·b + c into FMAs nor
 * vectorizes a storage load across lanes (each lane's load is a bounds-checked scalar access).
 */
import * as E from '../engine/index.js';
import { entryPoint, kernelFamily, kernelHeader, MAX_GROUPS_PER_DIM, type KernelSpec } from '../engine/internal.js';
import { timeWork, type TimingOptions } from './timing.js';

/** Invocations per workgroup of both probes. */
const WORKGROUP = 64;
/** Statements per loop iteration: lavapipe pays a fixed cost per loop iteration that would otherwise dominate. */
const UNROLL = 16;
/** Independent vec4 chains per invocation (enough to hide a multiply-then-add latency). */
const CHAINS = 4;
/** Elements of the load probe's source: 64 KiB, resident in any cache. */
const LOAD_SOURCE_VEC4S = 4096;
/** Loop iterations per invocation in the timed runs. */
export const CEILING_ITERATIONS = 64;
/** The dispatch grows (×4) until one run lasts this long, so that every core or SM is busy. */
const MIN_RUN_MS = 10;

const MUL_ADD_PROBE = kernelFamily('ceiling-mul-add');
const LOAD_PROBE = kernelFamily('ceiling-loads');

export interface AdapterCeilings {
  /** Multiply-add rate, GFLOP/s (an a·b + c counts 2 FLOPs, fused or not). */
  mulAddGflops: number;
  /** Rate of vec4 loads from a 64 KiB storage buffer at lane-varying indices, GB/s. */
  loadGBps: number;
  /** Workgroups of the timed runs (multiply-add, loads). */
  workgroups: [number, number];
}

/** Bindings of both probes: their source, one vec4 out per invocation, the loop count. */
const probeBindings = (source: string) => kernelHeader({ params: 'iterations: u32,', inputs: [[source, 'vec4f']], outputs: [['O', 'vec4f']] });

/** out[i] = a(i) after `iterations`·UNROLL steps a ← a·b + c, summed over the chains. */
export function mulAddProbeKernel(): KernelSpec {
  return MUL_ADD_PROBE.spec(`${CHAINS}x${UNROLL}`, () => {
    const chains = Array.from({ length: CHAINS }, (_, i) => i);
    return /* wgsl */ `
${probeBindings('BC')}

${entryPoint(WORKGROUP, ['gid'])} {
  let b = BC[0];
  let c = BC[1];
  let seed = f32(gid.x % 1024u) * 1e-3;
  ${chains.map((i) => `var a${i} = vec4f(seed + ${i}.0, seed - ${i}.0, seed * ${i + 2}.0, -seed);`).join('\n  ')}
  for (var k = 0u; k < p.iterations; k++) {
    ${Array.from({ length: UNROLL }, () => chains.map((i) => `a${i} = a${i} * b + c;`).join(' ')).join('\n    ')}
  }
  O[gid.x] = ${chains.map((i) => `a${i}`).join(' + ')};
}`;
  });
}

/** out[i] = Σ over `iterations`·UNROLL loads of A[(i·7 + j·13 + k) mod 4096]: neighbouring lanes read different vec4s. */
export function loadProbeKernel(): KernelSpec {
  return LOAD_PROBE.spec(`${UNROLL}`, () => /* wgsl */ `
${probeBindings('A')}

${entryPoint(WORKGROUP, ['gid'])} {
  var sum = vec4f(0.0);
  for (var k = 0u; k < p.iterations; k++) {
    ${Array.from({ length: UNROLL }, (_, j) => `sum += A[(gid.x * 7u + ${j * 13}u + k) & ${LOAD_SOURCE_VEC4S - 1}u];`).join('\n    ')}
  }
  O[gid.x] = sum;
}`);
}

/** FLOPs of one mul-add probe run. */
export function mulAddProbeFlops(workgroups: number, iterations: number): number {
  return workgroups * WORKGROUP * iterations * UNROLL * CHAINS * 4 * 2;
}

/** Bytes loaded by one load-probe run. */
export function loadProbeBytes(workgroups: number, iterations: number): number {
  return workgroups * WORKGROUP * iterations * UNROLL * 16;
}

/** One probe run over `workgroups` workgroups; returns its output [workgroups·64·4]. */
export function runProbe(kind: 'mul-add' | 'loads', source: E.Tensor, workgroups: number, iterations: number): E.Tensor {
  const out = E.Tensor.empty([workgroups * WORKGROUP * 4]);
  E.getRuntime().dispatch({
    kernel: kind === 'mul-add' ? mulAddProbeKernel() : loadProbeKernel(),
    inputs: [source.buffer],
    outputs: [out.buffer],
    params: [iterations],
    workgroups: [workgroups, 1, 1],
  });
  return out;
}

/** The multiply-add probe's operands b and c (vec4s), near 1 and 0 so values stay finite. */
export const MUL_ADD_OPERANDS = new Float32Array([0.999, 0.998, 0.997, 0.996, 1e-3, 2e-3, 3e-3, 4e-3]);

async function timeProbe(kind: 'mul-add' | 'loads', source: E.Tensor, timing: TimingOptions): Promise<{ ms: number; workgroups: number }> {
  const once = (workgroups: number) => () => {
    const out = runProbe(kind, source, workgroups, CEILING_ITERATIONS);
    return () => out.dispose();
  };
  let workgroups = 64;
  for (;;) {
    const probe = await timeWork(once(workgroups), E.sync, { warmup: 1, repeats: 1 });
    if (probe.median >= MIN_RUN_MS || workgroups * 4 > MAX_GROUPS_PER_DIM) break;
    workgroups *= 4;
  }
  const t = await timeWork(once(workgroups), E.sync, timing);
  return { ms: t.median, workgroups };
}

export async function measureCeilings(timing: TimingOptions): Promise<AdapterCeilings> {
  const operands = E.tensor(MUL_ADD_OPERANDS, [8]);
  const loadSource = E.tensor(Float32Array.from({ length: LOAD_SOURCE_VEC4S * 4 }, (_, i) => (i % 17) - 8), [LOAD_SOURCE_VEC4S * 4]);
  try {
    const mulAdd = await timeProbe('mul-add', operands, timing);
    const loads = await timeProbe('loads', loadSource, timing);
    return {
      mulAddGflops: mulAddProbeFlops(mulAdd.workgroups, CEILING_ITERATIONS) / mulAdd.ms / 1e6,
      loadGBps: loadProbeBytes(loads.workgroups, CEILING_ITERATIONS) / loads.ms / 1e6,
      workgroups: [mulAdd.workgroups, loads.workgroups],
    };
  } finally {
    operands.dispose();
    loadSource.dispose();
  }
}
