/**
 * Sum over any set of axes (times a scale, so mean is the same kernel).
 *
 * The input is seen as kept dims × reduced dims, each with its own strides, so no transpose is
 * needed. Launch layout: one workgroup of 256 invocations per (output element, chunk); each
 * invocation strides over the chunk, then a shared-memory tree sums the 256 partials. When few
 * outputs each reduce many elements (a full sum, per-channel bias gradients), the reduced range is
 * cut into chunks whose partial sums a second launch of the same kernel adds up, so work stays
 * linear and spread over many workgroups. Short ranges (at most REDUCE_SERIAL_MAX elements, e.g.
 * adding a few chunk partials per weight) use a serial variant instead: one invocation per output,
 * 64 per workgroup, no shared memory or barriers.
 */
import { LINEAR_GROUP_INDEX, MAX_RANK, f32Bits, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

export const REDUCE_WORKGROUP = 256;
/** Elements one workgroup reduces before the range is split into chunks. */
export const REDUCE_CHUNK = 8192;
/** Longest reduced range summed by one invocation (the serial variant). */
export const REDUCE_SERIAL_MAX = 64;
const SERIAL_WORKGROUP = 64;

const REDUCE_SUM = kernelFamily('reduce-sum');

export function reduceKernel(keptRank: number, redRank: number, serial = false): KernelSpec {
  return REDUCE_SUM.spec(`${keptRank}/${redRank}${serial ? '/serial' : ''}`, () => {
    const dim = (field: string, d: number) => `p.${field}[${d >> 2}][${d & 3}]`;
    const kept: string[] = ['var rem = o;', 'var base = 0u;'];
    for (let d = keptRank - 1; d >= 0; d--) {
      kept.push(`{ let c = rem % ${dim('keptShape', d)}; rem = rem / ${dim('keptShape', d)}; base += c * ${dim('keptStrides', d)}; }`);
    }
    const red: string[] = ['var rr = r;', 'var off = base;'];
    for (let d = redRank - 1; d >= 0; d--) {
      red.push(`{ let c = rr % ${dim('redShape', d)}; rr = rr / ${dim('redShape', d)}; off += c * ${dim('redStrides', d)}; }`);
    }
    return /* wgsl */ `
${kernelHeader({ params: `outCount: u32, chunks: u32, chunkLength: u32, redCount: u32, scale: u32, pad0: u32, pad1: u32, pad2: u32,
  keptShape: array<vec4u, 2>, keptStrides: array<vec4u, 2>, redShape: array<vec4u, 2>, redStrides: array<vec4u, 2>,`, inputs: [['X', 'f32']], outputs: [['O', 'f32']] })}

${
      serial
        ? `${entryPoint(SERIAL_WORKGROUP)} {
  let o = ${LINEAR_GROUP_INDEX} * ${SERIAL_WORKGROUP}u + lid;
  if (o >= p.outCount) { return; }
  ${kept.join('\n  ')}
  var acc = 0.0;
  for (var r = 0u; r < p.redCount; r++) {
    ${red.join('\n    ')}
    acc += X[off];
  }
  O[o] = acc * bitcast<f32>(p.scale);`
        : `var<workgroup> partial: array<f32, ${REDUCE_WORKGROUP}>;

${entryPoint(REDUCE_WORKGROUP)} {
  let g = ${LINEAR_GROUP_INDEX};
  if (g >= p.outCount * p.chunks) { return; }
  let o = g / p.chunks;
  let start = (g % p.chunks) * p.chunkLength;
  let end = min(start + p.chunkLength, p.redCount);
  ${kept.join('\n  ')}
  var acc = 0.0;
  for (var r = start + lid; r < end; r += ${REDUCE_WORKGROUP}u) {
    ${red.join('\n    ')}
    acc += X[off];
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var width = ${REDUCE_WORKGROUP / 2}u; width > 0u; width = width / 2u) {
    if (lid < width) { partial[lid] += partial[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { O[g] = partial[0] * bitcast<f32>(p.scale); }`
    }
}`;
  });
}

function packDims(values: readonly number[]): number[] {
  const out = new Array<number>(MAX_RANK).fill(0);
  values.forEach((v, i) => (out[i] = v));
  return out;
}

export interface ReducePlan {
  keptShape: number[];
  keptStrides: number[];
  redShape: number[];
  redStrides: number[];
  chunks: number;
  scale: number;
}

export function reduceParams(plan: ReducePlan): number[] {
  const outCount = plan.keptShape.reduce((a, b) => a * b, 1);
  const redCount = plan.redShape.reduce((a, b) => a * b, 1);
  const chunkLength = Math.ceil(redCount / plan.chunks);
  return [
    outCount, plan.chunks, chunkLength, redCount, f32Bits(plan.scale), 0, 0, 0,
    ...packDims(plan.keptShape), ...packDims(plan.keptStrides), ...packDims(plan.redShape), ...packDims(plan.redStrides),
  ];
}

export function reduceGrid(outCount: number, chunks: number, serial = false): [number, number, number] {
  return serial ? grid(Math.ceil(outCount / SERIAL_WORKGROUP)) : grid(outCount * chunks);
}
