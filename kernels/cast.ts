/**
 * float32 ↔ float16 conversion, two elements per invocation (one 32-bit word of halves), so that
 * no two invocations write the same word. float16 storage is bound as u32 words (an odd-sized
 * tensor's last word carries one unused half).
 *
 * f32 → f16 rounds in range as the adapter's conversion does (WGSL allows either neighbour;
 * lavapipe rounds to nearest even), and is explicit where WGSL leaves the result undefined:
 * magnitudes that round past the largest half (≥ 65520) become ±Inf and NaN stays NaN — the
 * loss scaler relies on an overflow showing as Inf. f16 → f32 is exact.
 * Launch layout: 256 invocations per workgroup, 2-D grid past 65535 workgroups.
 */
import { LINEAR_GROUP_INDEX, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { entryPoint, kernelHeader } from './wgsl.js';

const WORKGROUP = 256;

const CAST = kernelFamily('cast');

export type CastDirection = 'to-f16' | 'to-f32';

/** Bits of one half (in the low 16 bits) for an f32. */
const HALF_BITS_FN = `fn halfBits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 16u) & 0x8000u;
  let magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) { return sign | 0x7e00u; }
  // 65520 (0x477ff000) and above round to Inf.
  if (magnitude >= 0x477ff000u) { return sign | 0x7c00u; }
  return bitcast<u32>(vec2<f16>(f16(x), 0.0h)) & 0xffffu;
}`;

export function castKernel(direction: CastDirection): KernelSpec {
  const toHalf = direction === 'to-f16';
  return CAST.spec(direction, () => /* wgsl */ `
${kernelHeader({ enable: toHalf ? ['f16'] : [], params: 'n: u32', inputs: [['X', toHalf ? 'f32' : 'u32']], outputs: [['Y', toHalf ? 'u32' : 'f32']] })}
${toHalf ? HALF_BITS_FN : ''}

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  let first = 2u * i;
  if (first >= p.n) { return; }
  let second = first + 1u < p.n;
  ${
    toHalf
      ? `let high = select(0u, halfBits(X[min(first + 1u, p.n - 1u)]), second);
  Y[i] = halfBits(X[first]) | (high << 16u);`
      : `let pair = unpack2x16float(X[i]);
  Y[first] = pair.x;
  if (second) { Y[first + 1u] = pair.y; }`
  }
}`);
}

export function castGrid(n: number): [number, number, number] {
  return grid(Math.ceil(n / 2 / WORKGROUP));
}
