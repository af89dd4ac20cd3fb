/**
 * One helper checks an op on the GPU against the CPU reference: forward values (with and without
 * gradient recording), the gradient of every input through autograd, the reference backward
 * against finite differences, and that no GPU memory is left behind once the tensors are disposed.
 */
import { expect } from 'vitest';
import { Generator, memoryStats, noGrad, tensor, tidy, type Tensor } from '../../engine/index.js';
import { RefTensor, finiteDifferenceGrads, relativeError, type RefOp } from '../../engine/reference/index.js';
import { sizeOf } from '../../engine/shape.js';

/**
 * How inputs are sampled: `normal`, `positive` (log), `awayFromZero` (divisors), `binary`
 * (0/1 masks), `unit` (soft targets in [0, 1]), `integers` (small integers: many ties).
 */
export type Domain = 'normal' | 'positive' | 'awayFromZero' | 'binary' | 'unit' | 'integers';

export interface OpCase {
  label: string;
  shapes: number[][];
  gpu: (xs: Tensor[]) => Tensor;
  ref: RefOp;
  domains?: Domain[];
  /** Inputs that are data (targets): no gradient expected. */
  dataInputs?: number[];
  /** Skip finite differences (non-differentiable points such as pooling ties). */
  skipFiniteDifferences?: boolean;
}

/** GPU (fp32) against the float64 reference. */
export const GPU_TOLERANCE = 1e-5;
/** Reference backward against central differences (both float64). */
export const FD_TOLERANCE = 1e-6;
/** Elements of each input checked by finite differences (spread over it), and the time those may take. */
const FD_ELEMENTS = 64;
const FD_BUDGET_MS = 1500;

/** A case's name in test titles and messages: its label, then its inputs' shapes (`conv2d 3×3 [1,3,9,9] [5,3,3,3]`). */
export function caseLabel(label: string, shapes: readonly (readonly number[])[]): string {
  return `${label} ${shapes.map((s) => `[${s}]`).join(' ')}`;
}

/** `test.each` rows of op cases: name, case, and the case's index (which seeds its inputs). */
export function caseRows(cases: readonly OpCase[]): (readonly [string, OpCase, number])[] {
  return cases.map((c, i) => [caseLabel(c.label, c.shapes), c, i] as const);
}

export function sample(gen: Generator, n: number, domain: Domain = 'normal'): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = gen.nextNormal();
    if (domain === 'positive') out[i] = 0.5 + 1.5 * gen.nextFloat();
    else if (domain === 'awayFromZero') out[i] = (v < 0 ? -1 : 1) * (0.5 + 1.5 * gen.nextFloat());
    else if (domain === 'binary') out[i] = gen.nextFloat() < 0.5 ? 0 : 1;
    else if (domain === 'unit') out[i] = gen.nextFloat();
    else if (domain === 'integers') out[i] = Math.floor(gen.nextFloat() * 4);
    else out[i] = v;
  }
  return out;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  const err = relativeError(actual, expected);
  expect(err, `${what}: relative error ${err.toExponential(2)} > ${tolerance}`).toBeLessThanOrEqual(tolerance);
}

export async function checkOp(c: OpCase, seed = 0): Promise<void> {
  const liveBefore = memoryStats().liveBytes;
  const gen = new Generator(seed);
  const hosts = c.shapes.map((s, i) => sample(gen, sizeOf(s), c.domains?.[i]));
  const refs = hosts.map((h, i) => RefTensor.from(h, c.shapes[i]));
  const isData = (i: number) => c.dataInputs?.includes(i) ?? false;
  const xs = hosts.map((h, i) => tensor(h, c.shapes[i], { requiresGrad: !isData(i) }));
  const name = caseLabel(c.label, c.shapes);

  // Intermediates of composite cases are released here; the graph keeps what backward needs.
  const out = tidy(() => c.gpu(xs));
  const started = performance.now();
  const refOut = c.ref.forward(refs);
  const forwardMs = performance.now() - started;
  expect(out.shape, `${name}: output shape`).toEqual(refOut.shape);
  const values = await out.toArray();
  expectClose(values, refOut.data, GPU_TOLERANCE, `${name} forward`);
  // Without a gradient to record, ops may take other kernels (max-pool skips its arg-max): same values.
  const inference = tidy(() => noGrad(() => c.gpu(xs)));
  expect(Array.from(await inference.toArray()), `${name}: forward without gradients`).toEqual(Array.from(values));
  inference.dispose();

  const gHost = sample(gen, out.size);
  const g = tensor(gHost, out.shape);
  out.backward(g);
  const gRef = RefTensor.from(gHost, refOut.shape);
  const refGrads = c.ref.backward(refs, gRef);
  for (let i = 0; i < xs.length; i++) {
    if (isData(i)) {
      expect(xs[i].grad, `${name}: data input ${i} got a gradient`).toBeNull();
      continue;
    }
    expect(xs[i].grad, `${name}: input ${i} got no gradient`).not.toBeNull();
    expect(xs[i].grad!.shape).toEqual(c.shapes[i]);
    expectClose(await xs[i].grad!.toArray(), refGrads[i].data, GPU_TOLERANCE, `${name} grad of input ${i}`);
  }

  const perturbed = hosts.reduce((n, h) => n + Math.min(h.length, FD_ELEMENTS), 0);
  if (!c.skipFiniteDifferences && 2 * perturbed * Math.max(forwardMs, 0.01) <= FD_BUDGET_MS) {
    finiteDifferenceGrads(c.ref, refs, gRef, { maxElements: FD_ELEMENTS }).forEach(({ indices, values }, i) => {
      if (!isData(i)) expectClose(indices.map((k) => refGrads[i].data[k]), values, FD_TOLERANCE, `${name} reference grad ${i} vs finite differences`);
    });
  }

  for (const t of [...xs, out, g]) t.dispose();
  expect(memoryStats().liveBytes, `${name}: GPU memory left live after dispose`).toBe(liveBefore);
}
