/**
 * No kernel writes past its output: output buffers come from the pool with slack beyond the
 * tensor (size classes), so the pool is first stocked with buffers full of a canary value; after
 * each op on shapes that are not multiples of any workgroup size, the slack must still hold it.
 */
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { sizeClass } from '../engine/buffer-pool.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const CANARY = -12345.5;

/** Stock the pool with canary-filled buffers of the class that `elements` floats fall in. */
function poison(elements: number, copies = 6): Set<GPUBuffer> {
  const floats = sizeClass(elements * 4) / 4;
  const made = Array.from({ length: copies }, () => E.full([floats], CANARY));
  const buffers = new Set(made.map((t) => t.buffer.buffer));
  made.forEach((t) => t.dispose());
  return buffers;
}

async function expectSlackIntact(out: E.Tensor, poisoned: Set<GPUBuffer>, what: string): Promise<void> {
  expect(poisoned.has(out.buffer.buffer), `${what}: output did not reuse a poisoned buffer`).toBe(true);
  const all = await E.getRuntime().read(out.buffer, out.buffer.byteSize);
  expect(all.length).toBeGreaterThan(out.size);
  const slack = all.subarray(out.size);
  const bad = slack.findIndex((v) => v !== CANARY);
  expect(bad, `${what}: wrote past its ${out.size} elements (at +${bad})`).toBe(-1);
}

const x4 = (shape: number[], seed: number) => E.randn(shape, { seed });

const OPS: [string, number[], () => E.Tensor][] = [
  ['elementwise broadcast', [3, 5, 7, 11], () => x4([3, 5, 7, 11], 1).add(x4([5, 1, 1], 2))],
  ['elementwise, 4 values per invocation', [3, 5, 4, 4], () => x4([3, 5, 4, 4], 34).mul(x4([3, 5, 4, 4], 35))],
  ['sum per channel', [13], () => x4([3, 13, 7, 9], 3).sum([0, 2, 3])],
  ['concat', [2, 8, 5, 3], () => E.concat([x4([2, 3, 5, 3], 4), x4([2, 5, 5, 3], 5)], 1)],
  ['matmul', [17, 19], () => x4([17, 33], 6).matmul(x4([33, 19], 7))],
  ['conv2d 3×3', [2, 5, 9, 7], () => E.conv2d(x4([2, 3, 9, 7], 8), x4([5, 3, 3, 3], 9), x4([5], 10), { padding: 1 })],
  ['conv2d 7×7/s2', [1, 4, 9, 8], () => E.conv2d(x4([1, 3, 17, 15], 11), x4([4, 3, 7, 7], 12), null, { stride: 2, padding: 3 })],
  ['convTranspose2d 2×2/s2', [2, 5, 6, 10], () => E.convTranspose2d(x4([2, 3, 3, 5], 13), x4([3, 5, 2, 2], 14), null, { stride: 2 })],
  // Rows a whole number of vec4s and the stride-class scatter: the CPU adapters' specialized kernels.
  ['conv2d 3×3, rows of vec4s', [2, 5, 3, 8], () => E.conv2d(x4([2, 3, 3, 8], 25), x4([5, 3, 3, 3], 26), x4([5], 27), { padding: 1 })],
  ['conv2d 3×3/s2, rows of vec4s (row-mode gather)', [1, 5, 5, 6], () => E.conv2d(x4([1, 3, 9, 12], 41), x4([5, 3, 3, 3], 42), null, { stride: 2, padding: 1 })],
  ['conv2d 3×3 on 2×2 planes (lanes over channels)', [3, 20, 2, 2], () => E.conv2d(x4([3, 5, 2, 2], 43), x4([20, 5, 3, 3], 44), x4([20], 45), { padding: 1 })],
  ['convTranspose2d 2×2/s2, rows of vec4s', [1, 5, 6, 8], () => E.convTranspose2d(x4([1, 3, 3, 4], 28), x4([3, 5, 2, 2], 29), null, { stride: 2 })],
  ['convTranspose2d 3×3/s2/p1 (scatter)', [1, 5, 7, 9], () => E.convTranspose2d(x4([1, 3, 4, 5], 30), x4([3, 5, 3, 3], 31), x4([5], 32), { stride: 2, padding: 1 })],
  ['batchNorm2d', [3, 5, 7, 3], () => E.batchNorm2d(x4([3, 5, 7, 3], 15), null, null, null, null, { training: true })],
  ['batchNorm2d, planes of vec4s', [3, 5, 4, 4], () => E.batchNorm2d(x4([3, 5, 4, 4], 33), null, null, null, null, { training: true })],
  ['maxPool2d 3×3/s2/p1', [2, 3, 5, 4], () => E.maxPool2d(x4([2, 3, 9, 7], 16), { kernelSize: 3, stride: 2, padding: 1 })],
  ['maxPool2d 2×2/s2, rows of vec4s', [2, 3, 3, 4], () => E.maxPool2d(x4([2, 3, 7, 8], 36), { kernelSize: 2 })],
  // With a gradient to record, the kernels that also store arg-maxes.
  ['maxPool2d 3×3/s2/p1, arg-max', [2, 3, 5, 4], () => E.maxPool2d(E.randn([2, 3, 9, 7], { seed: 38, requiresGrad: true }), { kernelSize: 3, stride: 2, padding: 1 })],
  ['maxPool2d 2×2/s2, rows of vec4s, arg-max', [2, 3, 3, 4], () => E.maxPool2d(E.randn([2, 3, 7, 8], { seed: 39, requiresGrad: true }), { kernelSize: 2 })],
  ['segmentationMetrics', [3, 5], () => E.segmentationMetrics(x4([3, 1, 5, 7], 17), x4([3, 1, 5, 7], 18))],
];

describe('no out-of-bounds writes', () => {
  test.each(OPS)('%s', async (what, shape, run) => {
    const elements = shape.reduce((a, b) => a * b, 1);
    expect(sizeClass(elements * 4) / 4).toBeGreaterThan(elements); // there is slack to check
    const poisoned = poison(elements);
    const out = E.tidy(run);
    expect(out.shape).toEqual(shape);
    await expectSlackIntact(out, poisoned, what);
    out.dispose();
  });

  test('gradients (conv, convT, BN, maxpool, BCE) and Adam stay in bounds', async () => {
    const x = E.randn([2, 3, 9, 7], { seed: 20, requiresGrad: true });
    const w = E.randn([5, 3, 3, 3], { seed: 21, requiresGrad: true });
    const poisonedX = poison(x.size);
    const poisonedW = poison(w.size);
    const loss = E.tidy(() => {
      const y = E.batchNorm2d(E.conv2d(x, w, null, { padding: 1 }), null, null, null, null, { training: true }).relu();
      const up = E.convTranspose2d(E.maxPool2d(y, { kernelSize: 2 }), E.randn([5, 1, 2, 2], { seed: 22 }), null, { stride: 2 });
      return E.bceWithLogits(up, E.zeros(up.shape));
    });
    loss.backward();
    await expectSlackIntact(x.grad!, poisonedX, 'grad of x');
    await expectSlackIntact(w.grad!, poisonedW, 'grad of w');
    // Rows of vec4s: the row-vector weight gradient.
    const xRows = E.randn([2, 3, 3, 8], { seed: 25 });
    const wRows = E.randn([5, 3, 3, 3], { seed: 26, requiresGrad: true });
    const poisonedRows = poison(wRows.size);
    const rowsLoss = E.tidy(() => E.bceWithLogits(E.conv2d(xRows, wRows, null, { padding: 1 }), E.zeros([2, 5, 3, 8])));
    rowsLoss.backward();
    await expectSlackIntact(wRows.grad!, poisonedRows, 'grad of w (rows of vec4s)');
    // 36 output channels over 30 positions: the direct weight gradient with lanes over output channels.
    const wLanes = E.randn([36, 3, 3, 3], { seed: 46, requiresGrad: true });
    const poisonedLanes = poison(wLanes.size);
    const lanesLoss = E.tidy(() => E.bceWithLogits(E.conv2d(E.randn([2, 3, 5, 3], { seed: 47 }), wLanes, null, { padding: 1 }), E.zeros([2, 36, 5, 3])));
    lanesLoss.backward();
    await expectSlackIntact(wLanes.grad!, poisonedLanes, 'grad of w (lanes over output channels)');
    const xPool = E.randn([2, 3, 7, 8], { seed: 37, requiresGrad: true });
    const poisonedPool = poison(xPool.size);
    const poolLoss = E.tidy(() => E.bceWithLogits(E.maxPool2d(xPool, { kernelSize: 2 }), E.zeros([2, 3, 3, 4])));
    poolLoss.backward();
    await expectSlackIntact(xPool.grad!, poisonedPool, 'grad of x (2×2/s2 pool over rows of vec4s)');
    // The generic backward over blocks of S×S inputs, blocks cut by the plane's edges (9 × 7).
    const xWindows = E.randn([2, 3, 9, 7], { seed: 40, requiresGrad: true });
    const poisonedWindows = poison(xWindows.size);
    const windowsLoss = E.tidy(() => E.bceWithLogits(E.maxPool2d(xWindows, { kernelSize: 3, stride: 2, padding: 1 }), E.zeros([2, 3, 5, 4])));
    windowsLoss.backward();
    await expectSlackIntact(xWindows.grad!, poisonedWindows, 'grad of x (3×3/s2/p1 pool)');
    const p = E.randn([37], { seed: 23, requiresGrad: true });
    p.grad = E.randn([37], { seed: 24 });
    const slackBefore = (await E.getRuntime().read(p.buffer, p.buffer.byteSize)).subarray(37);
    new E.Adam([p]).step();
    const slackAfter = (await E.getRuntime().read(p.buffer, p.buffer.byteSize)).subarray(37);
    expect(Array.from(slackAfter)).toEqual(Array.from(slackBefore));
  });
});
