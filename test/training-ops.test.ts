/** BatchNorm running statistics, the fused Adam/AdamW step, BCE extremes and GPU metrics. */
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { RefTensor, refAdamStep, refBatchNormRunningUpdate, refSegmentationMetrics } from '../engine/reference/index.js';
import { expectClose, sample } from './helpers/op-check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const host = async (t: E.Tensor) => Array.from(await t.toArray());

describe('batchNorm2d running statistics', () => {
  test('training updates running mean/var with momentum and unbiased variance', async () => {
    const gen = new E.Generator(5);
    const shape = [3, 5, 7, 3];
    const data = sample(gen, 3 * 5 * 7 * 3);
    const x = E.tensor(data, shape);
    const rm = E.tensor([0, 0.1, 0.2, 0.3, 0.4]);
    const rv = E.tensor([1, 1.5, 2, 0.5, 1]);
    const expected = refBatchNormRunningUpdate(RefTensor.from(data, shape), await host(rm), await host(rv), 0.1);
    E.batchNorm2d(x, rm, rv, null, null, { training: true, momentum: 0.1 }).dispose();
    expectClose(await rm.toArray(), expected.mean, 1e-5, 'running mean');
    expectClose(await rv.toArray(), expected.variance, 1e-5, 'running var');
  });

  test('variance stays accurate for data with a large mean (two-pass statistics)', async () => {
    const base = 1000;
    const values = Array.from({ length: 2 * 2 * 8 * 8 }, (_, i) => base + ((i * 7919) % 13) / 13);
    const x = E.tensor(values, [2, 2, 8, 8]);
    const y = await E.batchNorm2d(x, null, null, null, null, { training: true }).toArray();
    // Normalised output of one channel has unit (biased) variance.
    const ch0 = Array.from(y.slice(0, 64)).concat(Array.from(y.slice(128, 192)));
    const mean = ch0.reduce((s, v) => s + v, 0) / ch0.length;
    const variance = ch0.reduce((s, v) => s + (v - mean) ** 2, 0) / ch0.length;
    expect(Math.abs(mean)).toBeLessThan(1e-3);
    expect(variance).toBeCloseTo(1, 2);
  });

  test('clear errors: one value per channel in training, eval without statistics, wrong shapes', () => {
    expect(() => E.batchNorm2d(E.zeros([1, 3, 1, 1]), null, null, null, null, { training: true })).toThrow(/more than one value per channel/);
    expect(() => E.batchNorm2d(E.zeros([2, 3, 2, 2]), null, null, null, null, { training: false })).toThrow(/running statistics/);
    expect(() => E.batchNorm2d(E.zeros([2, 3, 2, 2]), null, null, E.ones([4]), null, { training: true })).toThrow(/weight must be \[3\]/);
  });
});

describe('Adam', () => {
  // 37 values: one per invocation; 40: four per invocation (vec4).
  for (const [decoupled, n] of [[false, 37], [true, 37], [false, 40], [true, 40]] as const) {
    test(`${decoupled ? 'AdamW' : 'Adam'}, ${n} values: three steps match the reference formulas, state readable`, async () => {
      const gen = new E.Generator(decoupled ? 11 : 12);
      const p0 = Array.from(sample(gen, n));
      const p = E.tensor(p0, [n], { requiresGrad: true });
      const frozen = E.tensor([1, 2], [2], { requiresGrad: true }); // never gets a gradient: skipped
      const opts = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled };
      const adam = new E.Adam([p, frozen], { lr: opts.lr, weightDecay: opts.weightDecay, decoupledWeightDecay: decoupled });
      let ref = { p: p0, m: new Array(n).fill(0), v: new Array(n).fill(0) };
      for (let step = 1; step <= 3; step++) {
        const g = Array.from(sample(gen, n));
        p.grad = E.tensor(g, [n]);
        adam.step();
        ref = refAdamStep(ref.p, g, ref.m, ref.v, step, opts);
        adam.zeroGrad();
      }
      expectClose(await p.toArray(), ref.p, 1e-5, 'parameters');
      const state = adam.state();
      expect(state.step).toBe(3);
      expectClose(await state.m[0].toArray(), ref.m, 1e-5, 'first moment');
      expectClose(await state.v[0].toArray(), ref.v, 1e-5, 'second moment');
      expect(await host(frozen)).toEqual([1, 2]);

      // Resume into a fresh optimizer: the next step is identical.
      const copy = E.tensor(await p.toArray(), [n], { requiresGrad: true });
      const resumed = new E.Adam([copy, E.zeros([2], { requiresGrad: true })], { lr: opts.lr, weightDecay: opts.weightDecay, decoupledWeightDecay: decoupled });
      resumed.loadState(state);
      const g = Array.from(sample(gen, n));
      p.grad = E.tensor(g, [n]);
      copy.grad = E.tensor(g, [n]);
      adam.step();
      resumed.step();
      expect(await host(copy)).toEqual(await host(p));
    });
  }

  test('invalid hyper-parameters are rejected', () => {
    const p = E.zeros([2], { requiresGrad: true });
    expect(() => new E.Adam([p], { lr: -1 })).toThrow(/invalid lr/);
    expect(() => new E.Adam([p], { betas: [1, 0.999] })).toThrow(/invalid beta1/);
    expect(() => new E.Adam([p, p])).toThrow(/appears twice/);
  });
});

describe('bceWithLogits extremes', () => {
  test('logits of ±100 give finite, exact losses and gradients', async () => {
    const x = E.tensor([-100, 100, -100, 100], [4], { requiresGrad: true });
    const t = E.tensor([0, 1, 1, 0], [4]);
    const loss = E.bceWithLogits(x, t);
    // Confident and right: ~0; confident and wrong: 100 each → mean 50.
    expect(await loss.item()).toBeCloseTo(50, 4);
    loss.backward();
    const g = await host(x.grad!);
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g[0]).toBeCloseTo(0, 6);
    expect(g[2]).toBeCloseTo(-0.25, 6);
    expect(g[3]).toBeCloseTo(0.25, 6);
  });

  test('shape mismatch is a clear error', () => {
    expect(() => E.bceWithLogits(E.zeros([2, 3]), E.zeros([3, 2]))).toThrow(/same shape/);
  });
});

describe('segmentation metrics on the GPU', () => {
  test('per-image Dice and IoU match the reference; empty vs empty scores 1', async () => {
    const gen = new E.Generator(21);
    const [N, H, W] = [5, 13, 17];
    const logits = sample(gen, N * H * W);
    const targets = sample(gen, N * H * W, 'binary');
    // Image 3: nothing predicted, nothing to find.
    logits.fill(-5, 3 * H * W, 4 * H * W);
    targets.fill(0, 3 * H * W, 4 * H * W);
    for (const threshold of [0.5, 0.3, 0.9]) {
      const m = E.segmentationMetrics(E.tensor(logits, [N, 1, H, W]), E.tensor(targets, [N, 1, H, W]), threshold);
      const expected = refSegmentationMetrics(logits, targets, N, threshold);
      expectClose(await m.toArray(), expected.flat(), 1e-6, `metrics at threshold ${threshold}`);
      const summary = await E.summarizeMetrics(m);
      expect(summary.perImage[3]).toEqual({ dice: 1, iou: 1 });
      expect(summary.dice).toBeCloseTo(expected.reduce((s, r) => s + r[0], 0) / N, 5);
    }
  });

  test('a threshold outside [0, 1] is rejected', () => {
    const x = E.zeros([1, 1, 2, 2]);
    expect(() => E.segmentationMetrics(x, x, 1.5)).toThrow(/must be in \[0, 1\], got 1.5/);
    expect(() => E.segmentationMetrics(x, x, -0.1)).toThrow(RangeError);
  });
});
