/**
 * Elementwise map over one or two inputs with NumPy broadcasting, one kernel per (op, arity,
 * rank). Launch layout: 256 invocations per workgroup, one output element per invocation (four
 * for flat launches over a multiple of 4 values), 2-D grid for more than 65535 workgroups. Inputs whose shape equals the output's are read at the
 * output index; broadcast inputs through strides (0 on broadcast dims) in the parameter block.
 */
import { LINEAR_GROUP_INDEX, MAX_RANK, f32Bits, grid, kernelFamily, type KernelSpec } from './kernel.js';
import { RELU_FNS, entryPoint, kernelHeader } from './wgsl.js';

/** Body of `fn op(a: f32, b: f32, s: f32) -> f32` for each op; `s` is the scalar operand. */
const OP_BODIES = {
  copy: 'return a;',
  neg: 'return -a;',
  relu: 'return relu(a);',
  // NaN · s is NaN: NaN propagates, as in PyTorch.
  leakyRelu: 'return select(a * s, a, a > 0.0);',
  // exp of a non-positive number only, so large |a| saturates instead of overflowing.
  sigmoid: 'let e = exp(-abs(a)); return select(e / (1.0 + e), 1.0 / (1.0 + e), a >= 0.0);',
  exp: 'return exp(a);',
  log: 'return log(a);',
  addScalar: 'return a + s;',
  subScalar: 'return a - s;',
  rsubScalar: 'return s - a;',
  mulScalar: 'return a * s;',
  divScalar: 'return a / s;',
  add: 'return a + b;',
  sub: 'return a - b;',
  mul: 'return a * b;',
  div: 'return a / b;',
  // Gradient of relu: the incoming gradient where the input was positive (PyTorch: 0 at 0).
  reluBackward: 'return select(0.0, a, b > 0.0);',
  // Gradient of leakyRelu: g where the input was positive, g · slope elsewhere (PyTorch: slope at 0).
  leakyReluBackward: 'return select(a * s, a, b > 0.0);',
  // Gradient of sigmoid from its output y: g * y * (1 - y).
  sigmoidBackward: 'return a * b * (1.0 - b);',
} as const;

export type ElementwiseOp = keyof typeof OP_BODIES;

const WORKGROUP = 256;

const ELEMENTWISE = kernelFamily('elementwise');

function packDims(values: readonly number[]): number[] {
  const out = new Array<number>(MAX_RANK).fill(0);
  values.forEach((v, i) => (out[i] = v));
  return out;
}

/**
 * @param rank 0 when every input has the output's shape (flat indexing), else the output rank.
 * @param vec4 flat indexing, 4 values per invocation (element count a multiple of 4): vec4 loads
 *   and stores, the same arithmetic per value (CPU adapters pay per load, not per byte).
 */
export function elementwiseKernel(op: ElementwiseOp, arity: 1 | 2, rank: number, vec4 = false): KernelSpec {
  if (vec4 && rank !== 0) throw new Error('elementwiseKernel: vec4 needs flat indexing (rank 0)');
  return ELEMENTWISE.spec(`${op}/${arity}/${vec4 ? 'vec4' : rank}`, () => {
    const b = arity === 2;
    // Bindings, op and the invocation's index i (of a value, or of a vec4 of values).
    const head = (params: string, value: string, count: string) => /* wgsl */ `
${kernelHeader({ params, inputs: [['A', value], b ? ['B', value] : null], outputs: [['O', value]] })}

${op === 'relu' ? RELU_FNS : ''}
fn op(a: f32, b: f32, s: f32) -> f32 { ${OP_BODIES[op]} }

${entryPoint(WORKGROUP)} {
  let i = ${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (${count} >= p.n) { return; }`;
    if (vec4) {
      const lanes = ['x', 'y', 'z', 'w'];
      return `${head('n: u32, s: u32', 'vec4f', 'i * 4u')}
  let a = A[i];
  ${b ? 'let b = B[i];' : ''}
  let s = bitcast<f32>(p.s);
  O[i] = vec4f(${lanes.map((c) => `op(a.${c}, ${b ? `b.${c}` : '0.0'}, s)`).join(', ')});
}`;
    }
    const dim = (field: string, d: number) => `p.${field}[${d >> 2}][${d & 3}]`;
    const index: string[] = [];
    if (rank === 0) {
      index.push('let ia = i;', arity === 2 ? 'let ib = i;' : '');
    } else {
      index.push('var rem = i;', 'var ia = 0u;', 'var ib = 0u;');
      for (let d = rank - 1; d >= 0; d--) {
        index.push(
          `{ let c = rem % ${dim('shape', d)}; rem = rem / ${dim('shape', d)}; ia += c * ${dim('sa', d)};` +
            (arity === 2 ? ` ib += c * ${dim('sb', d)}; }` : ' }'),
        );
      }
    }
    return `${head('n: u32, s: u32, pad0: u32, pad1: u32, shape: array<vec4u, 2>, sa: array<vec4u, 2>, sb: array<vec4u, 2>', 'f32', 'i')}
  ${index.join('\n  ')}
  O[i] = op(A[ia], ${b ? 'B[ib]' : '0.0'}, bitcast<f32>(p.s));
}`;
  });
}

/** Parameter block: element count, scalar, output shape, input strides. */
export function elementwiseParams(n: number, scalar: number, shape: readonly number[], stridesA: readonly number[], stridesB: readonly number[] = []): number[] {
  return [n, f32Bits(scalar), 0, 0, ...packDims(shape), ...packDims(stridesA), ...packDims(stridesB)];
}

/** Grid over n values (vec4s of them with `vec4`). */
export function elementwiseGrid(n: number, vec4 = false): [number, number, number] {
  return grid(Math.ceil(n / (vec4 ? 4 : 1) / WORKGROUP));
}
