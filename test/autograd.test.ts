import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const arr = async (t: E.Tensor) => Array.from(await t.toArray());

describe('autograd', () => {
  test('gradients accumulate for a tensor used more than once', async () => {
    const x = E.tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = E.tidy(() => x.mul(x).add(x.mul(3)).sum()); // d/dx = 2x + 3
    y.backward();
    expect(await arr(x.grad!)).toEqual([5, 7, 9]);
    y.dispose();
    x.dispose();
  });

  test('.grad accumulates across backward calls until zeroGrad()', async () => {
    const w = E.tensor([2, -1], [2], { requiresGrad: true });
    for (let i = 0; i < 2; i++) {
      const loss = w.mul(w).sum();
      loss.backward();
      loss.dispose();
    }
    expect(await arr(w.grad!)).toEqual([8, -4]);
    w.zeroGrad();
    expect(w.grad).toBeNull();
    w.dispose();
  });

  test('non-scalar outputs need an explicit seed gradient', async () => {
    const x = E.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(/shape \[2, 2\].*seed/);
    const wrong = E.ones([4]);
    expect(() => y.backward(wrong)).toThrow(/seed gradient has shape \[4\]/);
    const seed = E.tensor([1, 0, 0, 1], [2, 2]);
    y.backward(seed);
    expect(await arr(x.grad!)).toEqual([2, 0, 0, 2]);
    for (const t of [x, y, wrong, seed]) t.dispose();
  });

  test('backward on a tensor that needs no grad is a clear error', () => {
    const x = E.tensor([1, 2]);
    expect(() => x.sum().backward()).toThrow(/does not require grad/);
  });

  test('the graph is freed after backward unless retainGraph', async () => {
    const x = E.tensor([3], [1], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect((await arr(x.grad!))[0]).toBeCloseTo(2 * Math.exp(3), 3);
    expect(() => y.backward()).toThrow(/already freed/);
    x.dispose();
    y.dispose();
  });

  test('noGrad records nothing; detach cuts the graph', () => {
    const x = E.tensor([1, 2], [2], { requiresGrad: true });
    const y = E.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.isLeaf).toBe(true);
    expect(E.isGradEnabled()).toBe(true);
    const z = x.mul(2).detach();
    expect(z.requiresGrad).toBe(false);
    expect(() => E.noGrad(async () => 1)).toThrow(/synchronous/);
  });

  test('a backward on a leaf root seeds its own gradient', async () => {
    const x = E.tensor([5], [], { requiresGrad: true });
    x.backward();
    expect(await arr(x.grad!)).toEqual([1]);
  });

  test('only inputs that require grad receive one', async () => {
    const a = E.tensor([1, 2], [2], { requiresGrad: true });
    const b = E.tensor([3, 4], [2]);
    a.mul(b).sum().backward();
    expect(await arr(a.grad!)).toEqual([3, 4]);
    expect(b.grad).toBeNull();
  });

  test('saved tensors survive their handles being disposed before backward', async () => {
    const x = E.tensor([0.5, -1, 2], [3], { requiresGrad: true });
    const loss = E.tidy(() => x.sigmoid().mul(x.relu()).sum()); // intermediates disposed here
    loss.backward();
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const expected = [0.5, -1, 2].map((v) => s(v) * (1 - s(v)) * Math.max(v, 0) + s(v) * (v > 0 ? 1 : 0));
    (await arr(x.grad!)).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
  });

  test('a deep chain (10 000 ops) backpropagates without recursion limits', async () => {
    const x = E.tensor([1], [1], { requiresGrad: true });
    const y = E.tidy(() => {
      let h = x;
      for (let i = 0; i < 10_000; i++) h = h.add(0);
      return h.sum();
    });
    y.backward();
    expect(await arr(x.grad!)).toEqual([1]);
    y.dispose();
  });

  test('requiresGrad_ only on leaves', () => {
    const x = E.tensor([1]);
    x.requiresGrad_();
    expect(x.requiresGrad).toBe(true);
    const y = x.mul(2);
    expect(() => y.requiresGrad_(false)).toThrow(/leaf/);
  });
});
