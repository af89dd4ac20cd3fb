/**
 * Parity with PyTorch 2.13 (fixtures from scripts/make_fixtures.py): forward and every input
 * gradient within fp32 relative error 1e-4 per op, 1e-3 for the end-to-end MLP loss.
 */
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import type { Tensor } from '../engine/index.js';
import { caseLabel, expectClose } from './helpers/op-check.js';
import { useGpu } from './helpers/gpu.js';
import { decode, loadFixture, type FixtureCase } from './helpers/fixtures.js';

useGpu();

const fixtures = loadFixture<{ torch: string; cases: FixtureCase[] }>('core-ops.json');

type Attrs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The petseg expression for each fixture op. */
const OPS: Record<string, (xs: Tensor[], a: Attrs) => Tensor> = {
  neg: ([x]) => x.neg(),
  relu: ([x]) => x.relu(),
  leakyRelu: ([x], a) => x.leakyRelu(a.negativeSlope),
  sigmoid: ([x]) => x.sigmoid(),
  exp: ([x]) => x.exp(),
  log: ([x]) => x.log(),
  addScalar: ([x], a) => x.add(a.scalar),
  subScalar: ([x], a) => x.sub(a.scalar),
  rsubScalar: ([x], a) => E.rsub(x, a.scalar),
  mulScalar: ([x], a) => x.mul(a.scalar),
  divScalar: ([x], a) => x.div(a.scalar),
  add: ([x, y]) => x.add(y),
  sub: ([x, y]) => x.sub(y),
  mul: ([x, y]) => x.mul(y),
  div: ([x, y]) => x.div(y),
  sum: ([x], a) => x.sum(a.axes ?? undefined, a.keepDim),
  mean: ([x], a) => x.mean(a.axes ?? undefined, a.keepDim),
  concat: (xs, a) => E.concat(xs, a.axis),
  narrow: ([x], a) => x.narrow(a.axis, a.start, a.length),
  splitReversed: ([x], a) => E.concat(x.split(a.sizes, a.axis).reverse(), a.axis),
  reshape: ([x], a) => x.reshape(a.shape),
  matmul: ([x, y]) => x.matmul(y),
  mlpBce: ([x, w1, b1, w2, b2]) => {
    const h = x.matmul(w1).add(b1).relu();
    const p = h.matmul(w2).add(b2).sigmoid();
    const labels = Float32Array.from({ length: x.shape[0] }, (_, i) => i % 2);
    const y = E.tensor(labels, [x.shape[0], 1]);
    // -(y log p + (1 - y) log(1 - p)).mean()
    return y.mul(p.log()).add(E.rsub(y, 1).mul(E.rsub(p, 1).log())).mean().neg();
  },
};

describe(`PyTorch ${fixtures.torch} parity`, () => {
  test('every fixture op has a petseg expression', () => {
    for (const c of fixtures.cases) expect(OPS[c.op], c.op).toBeDefined();
  });

  test.each(fixtures.cases.map((c, i) => [`${caseLabel(c.op, c.inputs.map((x) => x.shape))} #${i}`, c] as const))('%s', async (_, c) => {
    const tolerance = c.op === 'mlpBce' ? 1e-3 : 1e-4;
    const xs = c.inputs.map((e) => E.tensor(decode(e), e.shape, { requiresGrad: true }));
    const out = E.tidy(() => OPS[c.op](xs, c.attrs));
    expect(out.shape).toEqual(c.output.shape);
    expectClose(await out.toArray(), decode(c.output), tolerance, `${c.op} forward`);
    const g = E.tensor(decode(c.grad_output), c.grad_output.shape);
    out.backward(g);
    for (let i = 0; i < xs.length; i++) {
      expectClose(await xs[i].grad!.toArray(), decode(c.grads[i]!), tolerance, `${c.op} grad ${i}`);
    }
    for (const t of [...xs, out, g]) t.dispose();
  });
});
