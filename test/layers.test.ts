/**
 * The layer kernels (conv2d, conv-transpose2d, batchnorm2d, maxpool2d, BCE with logits) on the
 * GPU against the CPU reference: forward, every gradient, finite differences, no leaks. Shapes
 * cover the models' layer types plus batch 1, odd H/W, C = 3, 5, 13, and sizes that are not
 * multiples of any workgroup size.
 */
import { afterEach, describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { referenceLayers as L } from '../engine/reference/index.js';
import { channelChunks, kernelFamilies } from '../kernels/index.js';
import { batchNormElementRun } from '../kernels/batchnorm/index.js';
import { DIRECT_CANDIDATES, GEMM_TILES, type GemmTileName } from '../kernels/conv/index.js';
import { convKernelsUsed } from '../engine/ops/conv.js';
import { caseRows, checkOp, type OpCase } from './helpers/op-check.js';
import { useGpu, useRuntime, withRuntime } from './helpers/gpu.js';

useGpu();

/** Kernel families compiled by any test of this file, on any of its runtimes. */
const compiledFamilies = new Set<string>();
afterEach(() => {
  for (const k of E.getRuntime().compiledKernels()) compiledFamilies.add(k.split('|')[0]);
});

type P = [number, number];
const cases: OpCase[] = [];

const CONVS: { x: number[]; w: number[]; stride: P; padding: P; bias: boolean; label: string }[] = [
  { label: '3×3/s1/p1', x: [1, 3, 9, 9], w: [5, 3, 3, 3], stride: [1, 1], padding: [1, 1], bias: true },
  { label: '3×3/s1/p1', x: [2, 5, 7, 6], w: [13, 5, 3, 3], stride: [1, 1], padding: [1, 1], bias: false },
  { label: '7×7/s2/p3 (ResNet stem)', x: [1, 3, 17, 15], w: [4, 3, 7, 7], stride: [2, 2], padding: [3, 3], bias: false },
  { label: '3×3/s2/p1', x: [2, 5, 9, 9], w: [3, 5, 3, 3], stride: [2, 2], padding: [1, 1], bias: true },
  { label: '1×1/s2 (downsample)', x: [2, 13, 7, 7], w: [5, 13, 1, 1], stride: [2, 2], padding: [0, 0], bias: false },
  { label: '1×1/s1 (head)', x: [1, 5, 8, 8], w: [1, 5, 1, 1], stride: [1, 1], padding: [0, 0], bias: true },
  // Planes of vec4s over more than one block of 64 vec4s: the 1×1 row-vector weight gradient's sums.
  { label: '1×1/s1, 2 images of 20 × 16', x: [2, 6, 20, 16], w: [3, 6, 1, 1], stride: [1, 1], padding: [0, 0], bias: false },
  { label: 'stride 1×2, pad 0×1', x: [1, 3, 6, 7], w: [2, 3, 3, 2], stride: [1, 2], padding: [0, 1], bias: true },
  { label: '3×3 larger', x: [2, 16, 33, 33], w: [8, 16, 3, 3], stride: [1, 1], padding: [1, 1], bias: true },
  { label: 'chunked weight grad', x: [4, 3, 40, 40], w: [2, 3, 3, 3], stride: [1, 1], padding: [1, 1], bias: true },
  // Rows a whole number of vec4s: the row-vector kernels (kernels/conv/rows.ts) on CPU adapters.
  { label: '3×3/s1/p1, W = 8', x: [2, 5, 7, 8], w: [6, 5, 3, 3], stride: [1, 1], padding: [1, 1], bias: true },
  { label: '3×3/s1/p1, W = 4', x: [1, 3, 5, 4], w: [5, 3, 3, 3], stride: [1, 1], padding: [1, 1], bias: false },
  { label: '3×3/s1/p1, W = 12, 17 channels', x: [1, 17, 3, 12], w: [3, 17, 3, 3], stride: [1, 1], padding: [1, 1], bias: true },
  // Strided grad-input by stride classes (kernels/conv/subgroup.ts): 17 × 18 outputs per class, several workgroups, 17 dY channels.
  { label: '3×3/s2/p1, several workgroups per stride class', x: [2, 9, 34, 36], w: [17, 9, 3, 3], stride: [2, 2], padding: [1, 1], bias: false },
  // > 2048 positions with rows of vec4s: the chunked row-vector weight gradient.
  { label: '3×3/s1/p1, W = 32, chunked weight grad', x: [2, 5, 33, 32], w: [6, 5, 3, 3], stride: [1, 1], padding: [1, 1], bias: false },
  // > 2048 positions and 32 output channels: with subgroups, the direct row-vector weight gradient.
  { label: '3×3/s1/p1, W = 48, 32 output channels', x: [1, 3, 48, 48], w: [32, 3, 3, 3], stride: [1, 1], padding: [1, 1], bias: false },
  // Source rows of vec4s outside the 3×3/s1 kernel: the subgroup gather's row mode (vec4s left of,
  // inside and right of the tile's span; partial column tiles; stride 3).
  { label: '3×3/s2/p1, W = 8', x: [2, 5, 7, 8], w: [6, 5, 3, 3], stride: [2, 2], padding: [1, 1], bias: true },
  { label: '1×1/s2, W = 12', x: [1, 13, 5, 12], w: [5, 13, 1, 1], stride: [2, 2], padding: [0, 0], bias: false },
  { label: '7×7/s2/p3, W = 16', x: [1, 3, 11, 16], w: [4, 3, 7, 7], stride: [2, 2], padding: [3, 3], bias: false },
  { label: '5×5/s1/p2, W = 8', x: [1, 3, 6, 8], w: [3, 3, 5, 5], stride: [1, 1], padding: [2, 2], bias: true },
  { label: '3×3/s3/p1, W = 12', x: [1, 3, 7, 12], w: [2, 3, 3, 3], stride: [3, 3], padding: [1, 1], bias: false },
  // Output rows narrower than 4 columns: with subgroups, lanes over output channels (ResNet's last
  // stage); outputs of several images per workgroup, a partial last group, > 64 channels (two grid rows).
  { label: '3×3/s1/p1 on 2×2 planes, 20 channels', x: [3, 5, 2, 2], w: [20, 5, 3, 3], stride: [1, 1], padding: [1, 1], bias: true },
  { label: '3×3/s1/p1 on 1×1 planes', x: [2, 3, 1, 1], w: [9, 3, 3, 3], stride: [1, 1], padding: [1, 1], bias: false },
  { label: '3×3/s1/p1, W = 3, 30 outputs', x: [2, 3, 5, 3], w: [5, 3, 3, 3], stride: [1, 1], padding: [1, 1], bias: false },
  { label: '3×3/s2/p1 to 2×2, 70 channels', x: [1, 4, 4, 4], w: [70, 4, 3, 3], stride: [2, 2], padding: [1, 1], bias: true },
  // ≥ 32 output channels over ≤ 2048 positions outside the row kernels: with subgroups, the
  // direct weight gradient with lanes over output channels (1 and 9 taps).
  { label: '1×1/s2, 33 channels', x: [2, 5, 6, 6], w: [33, 5, 1, 1], stride: [2, 2], padding: [0, 0], bias: false },
  { label: '3×3/s1/p1, W = 3, 36 channels', x: [2, 3, 5, 3], w: [36, 3, 3, 3], stride: [1, 1], padding: [1, 1], bias: true },
];
for (const c of CONVS) {
  cases.push({
    label: `conv2d ${c.label}`,
    shapes: c.bias ? [c.x, c.w, [c.w[0]]] : [c.x, c.w],
    gpu: ([x, w, b]) => E.conv2d(x, w, b ?? null, { stride: c.stride, padding: c.padding }),
    ref: L.conv2d(c.stride, c.padding),
  });
}

const TRANSPOSED: { x: number[]; w: number[]; stride: P; padding: P; outputPadding: P; bias: boolean; label: string }[] = [
  { label: '2×2/s2 (UNet up)', x: [1, 4, 5, 5], w: [4, 3, 2, 2], stride: [2, 2], padding: [0, 0], outputPadding: [0, 0], bias: true },
  { label: '2×2/s2 (UNet up)', x: [2, 13, 3, 4], w: [13, 5, 2, 2], stride: [2, 2], padding: [0, 0], outputPadding: [0, 0], bias: false },
  { label: '3×3/s2/p1/op1', x: [2, 3, 4, 5], w: [3, 5, 3, 3], stride: [2, 2], padding: [1, 1], outputPadding: [1, 1], bias: true },
  { label: '4×4/s2/p1', x: [1, 3, 5, 5], w: [3, 2, 4, 4], stride: [2, 2], padding: [1, 1], outputPadding: [0, 0], bias: true },
  { label: '3×3/s1', x: [1, 2, 4, 4], w: [2, 3, 3, 3], stride: [1, 1], padding: [0, 0], outputPadding: [0, 0], bias: false },
  { label: '2×2/s2 larger', x: [2, 16, 17, 17], w: [16, 8, 2, 2], stride: [2, 2], padding: [0, 0], outputPadding: [0, 0], bias: true },
  // Input rows a whole number of vec4s (as [2,13,3,4] above, with bias).
  { label: '2×2/s2, W = 8', x: [2, 6, 3, 8], w: [6, 3, 2, 2], stride: [2, 2], padding: [0, 0], outputPadding: [0, 0], bias: true },
  // 11 output channels: a full and a partial tile of the GEMMs' and direct kernels' channel tiles.
  { label: '2×2/s2, W = 4, 11 channels', x: [1, 6, 2, 4], w: [6, 11, 2, 2], stride: [2, 2], padding: [0, 0], outputPadding: [0, 0], bias: true },
];
for (const c of TRANSPOSED) {
  cases.push({
    label: `convTranspose2d ${c.label}`,
    shapes: c.bias ? [c.x, c.w, [c.w[1]]] : [c.x, c.w],
    gpu: ([x, w, b]) => E.convTranspose2d(x, w, b ?? null, { stride: c.stride, padding: c.padding, outputPadding: c.outputPadding }),
    ref: L.convTranspose2d(c.stride, c.padding, c.outputPadding),
  });
}

// [2, 3, 50, 45]: 4500 values per channel, summed in two chunks with the GPU settings (below) and
// by one invocation per channel on CPU adapters (kernels/batchnorm/plan.ts); planes a whole number of
// vec4s ([2, 5, 4, 3], [2, 3, 48, 48]) take the vec4 kernels.
for (const x of [[2, 5, 4, 3], [1, 13, 5, 7], [4, 3, 1, 1], [3, 3, 17, 19], [2, 3, 50, 45], [2, 3, 48, 48]]) {
  const C = x[1];
  cases.push({
    label: 'batchNorm2d train',
    shapes: [x, [C], [C]],
    gpu: ([t, w, b]) => E.batchNorm2d(t, null, null, w, b, { training: true }),
    ref: L.batchNorm2d({ training: true, eps: 1e-5 }),
  });
  const runningMean = Array.from({ length: C }, (_, i) => 0.1 * i - 0.2);
  const runningVar = Array.from({ length: C }, (_, i) => 0.5 + 0.1 * i);
  cases.push({
    label: 'batchNorm2d eval',
    shapes: [x, [C], [C]],
    gpu: ([t, w, b]) => E.batchNorm2d(t, E.tensor(runningMean), E.tensor(runningVar), w, b, { training: false }),
    ref: L.batchNorm2d({ training: false, eps: 1e-5, runningMean, runningVar }),
  });
}

const POOLS: { x: number[]; k: P; s: P; p: P }[] = [
  { x: [1, 3, 8, 8], k: [2, 2], s: [2, 2], p: [0, 0] },
  { x: [2, 5, 7, 9], k: [2, 2], s: [2, 2], p: [0, 0] },
  { x: [2, 3, 9, 9], k: [3, 3], s: [2, 2], p: [1, 1] },
  { x: [1, 13, 8, 8], k: [3, 3], s: [2, 2], p: [1, 1] },
  { x: [2, 3, 33, 35], k: [2, 2], s: [2, 2], p: [0, 0] },
  // 2×2/s2 over rows of vec4s (kernels/pool.ts), odd H: the last row in no window.
  { x: [2, 3, 7, 12], k: [2, 2], s: [2, 2], p: [0, 0] },
  // The generic backward's input blocks (S×S): overlapping windows at stride 1, blocks cut by
  // the plane's edge (H, W not multiples of S), inputs in no window, unequal axes.
  { x: [1, 3, 6, 7], k: [3, 3], s: [1, 1], p: [1, 1] },
  { x: [2, 2, 10, 11], k: [3, 3], s: [3, 3], p: [1, 1] },
  { x: [1, 4, 9, 10], k: [5, 5], s: [2, 2], p: [2, 2] },
  { x: [2, 3, 7, 9], k: [3, 2], s: [2, 1], p: [1, 0] },
];
for (const c of POOLS) {
  const name = `${c.k[0]}×${c.k[1]}/s${c.s[0]}/p${c.p[0]}`;
  const gpu = ([x]: E.Tensor[]) => E.maxPool2d(x, { kernelSize: c.k, stride: c.s, padding: c.p });
  cases.push({ label: `maxPool2d ${name}`, shapes: [c.x], gpu, ref: L.maxPool2d(c.k, c.s, c.p) });
  // Small integers make many ties: the gradient must go to the first maximum, as PyTorch.
  cases.push({ label: `maxPool2d ${name} ties`, shapes: [c.x], gpu, ref: L.maxPool2d(c.k, c.s, c.p), domains: ['integers'], skipFiniteDifferences: true });
}

for (const [shape, posWeight, targets] of [
  [[2, 1, 5, 7], 1, 'binary'],
  [[2, 1, 5, 7], 3, 'binary'],
  [[3, 1, 4, 4], 0.5, 'unit'],
  [[4, 1, 64, 65], 1, 'binary'],
] as const) {
  cases.push({
    label: `bceWithLogits posWeight=${posWeight} ${targets}`,
    shapes: [[...shape], [...shape]],
    gpu: ([x, t]) => E.bceWithLogits(x, t, { posWeight }),
    ref: L.bceWithLogits(posWeight),
    domains: ['normal', targets],
    dataInputs: [1],
  });
}

describe('layer kernels: GPU vs CPU reference (forward, backward, finite differences, no leaks)', () => {
  test.each(caseRows(cases))('%s', async (_, c, i) => {
    await checkOp(c, 1000 + i);
  });
});

test('maxPool2d: inference stores no arg-max; training uses the arg-max kernels, windows baked into the generic ones', async () => {
  const runtime = E.getRuntime();
  const pools = async (training: boolean, options: E.MaxPool2dOptions, shape: number[]) => {
    const kernels: string[] = [];
    const dispatch = runtime.dispatch;
    runtime.dispatch = (d) => {
      if (d.kernel.name.startsWith('maxpool')) kernels.push(`${d.kernel.name}|${d.kernel.key}|${d.outputs.length}`);
      dispatch.call(runtime, d);
    };
    try {
      const x = E.randn(shape, { requiresGrad: training });
      const y = E.maxPool2d(x, options);
      if (training) y.backward(E.ones(y.shape));
      await y.toArray();
      for (const t of [x, y, x.grad]) t?.dispose();
    } finally {
      runtime.dispatch = dispatch;
    }
    return kernels;
  };
  const resnet = { kernelSize: 3, stride: 2, padding: 1 };
  expect(await pools(false, resnet, [1, 2, 9, 7])).toEqual(['maxpool-forward|k3x3s2x2p1x1-values|1']);
  expect(await pools(true, resnet, [1, 2, 9, 7])).toEqual(['maxpool-forward|k3x3s2x2p1x1|2', 'maxpool-backward|k3x3s2x2p1x1|1']);
  expect(await pools(false, { kernelSize: 2 }, [1, 2, 6, 8])).toEqual(['maxpool-2x2-rows-forward|values|1']);
  expect(await pools(true, { kernelSize: 2 }, [1, 2, 6, 8])).toEqual(['maxpool-2x2-rows-forward||2', 'maxpool-2x2-rows-backward||1']);
});

test('maxPool2d: the first NaN of a window wins and gets the gradient (row kernel at W = 8, generic at W = 6)', async () => {
  for (const W of [8, 6]) {
    const values = Array.from({ length: 2 * W }, (_, i) => i % 5);
    values[1] = Number.NaN; // window 0: (0, 1)
    values[W + 2] = Number.NaN; // window 1: after 2 and 3 in row 0, (1, 2)
    const x = E.tensor(values, [1, 1, 2, W], { requiresGrad: true });
    const y = E.maxPool2d(x, { kernelSize: 2 });
    const out = await y.toArray();
    expect(Number.isNaN(out[0]) && Number.isNaN(out[1]), `W = ${W}`).toBe(true);
    y.backward(E.ones(y.shape));
    const grad = await x.grad!.toArray();
    for (const i of [0, 1, W, W + 1]) expect(grad[i], `W = ${W}, input ${i}`).toBe(i === 1 ? 1 : 0);
    for (const i of [2, 3, W + 2, W + 3]) expect(grad[i], `W = ${W}, input ${i}`).toBe(i === W + 2 ? 1 : 0);
    x.dispose();
    y.dispose();
  }
});

// GPUs sum BatchNorm statistics per channel chunk beyond 512 values per channel (workgroup tree
// sums); CPU adapters sum up to 1024 serially. Both ways on any adapter:
describe('batchnorm with the GPU settings (chunked sums)', () => {
  useRuntime({ caps: { software: false } });
  const norms = cases.filter((c) => c.label.startsWith('batchNorm2d'));
  test.each(caseRows(norms))('%s', async (_, c, i) => {
    expect(E.getRuntime().settings.batchNorm.serialMax).toBe(512);
    await checkOp(c, 5000 + i);
  });
});

// CPU adapters sum channels of more than 8192 values in serial chunks of serialMax values, one
// invocation each. Here with chunks of 24 values and no lower bound, so that the small cases
// above have chunks that straddle images and a short last chunk:
describe('batchnorm in serial chunks (CPU adapters, large channels)', () => {
  useRuntime({ batchNorm: { serialMax: 24, serialChunksAbove: 0 } });
  const norms = cases.filter((c) => c.label.startsWith('batchNorm2d'));
  test.each(caseRows(norms))('%s', async (_, c, i) => {
    await checkOp(c, 6000 + i);
  });
});
test('BatchNorm chunk plans: one serial sum, serial chunks above the bound, tree-summed chunks between', () => {
  const cpu = { serialMax: 1024, serialChunksAbove: 8192 };
  // 4×64×64 values per channel on a CPU adapter: 16 serial chunks of 1024.
  expect(channelChunks(4 * 64 * 64, 16, true, cpu)).toEqual({ chunks: 16, chunkLength: 1024, serial: true });
  // 8192 values: the tree sums (2 chunks of 4096), whose rounding the parity fixtures were made with.
  expect(channelChunks(2 * 64 * 64, 16, true, cpu)).toEqual({ chunks: 2, chunkLength: 4096, serial: false });
  expect(channelChunks(8193, 16, false, cpu)).toEqual({ chunks: 9, chunkLength: 1024, serial: true });
  expect(channelChunks(2 * 16 * 16, 16, true, cpu)).toEqual({ chunks: 1, chunkLength: 512, serial: true });
  // vec4 chunks hold whole vec4s; scalar ones any count, the last one short.
  expect(channelChunks(3 * 48 * 48, 3, true, { serialMax: 1022, serialChunksAbove: 0 })).toEqual({ chunks: Math.ceil((3 * 48 * 48) / 1020), chunkLength: 1020, serial: true });
  expect(channelChunks(3 * 17 * 19, 3, false, { serialMax: 24, serialChunksAbove: 0 })).toEqual({ chunks: 41, chunkLength: 24, serial: true });
  // GPUs: no serial chunks.
  expect(channelChunks(8 * 256 * 256, 64, true, { serialMax: 512, serialChunksAbove: Infinity }).serial).toBe(false);
});

test('BatchNorm tree sums replayed by one invocation per chunk (CPU adapters) equal the 256-invocation workgroups bit for bit', async () => {
  // 4500 (scalar) and 4608 (vec4) values per channel: tree-summed chunks on either setting.
  for (const shape of [[2, 3, 50, 45], [2, 3, 48, 48]]) {
    const run = (treeInLanes: boolean) =>
      withRuntime({ batchNorm: { serialMax: 512, serialChunksAbove: Infinity, treeInLanes } }, async () => {
        const C = shape[1];
        const x = E.randn(shape, { seed: 71, requiresGrad: true });
        const w = E.randn([C], { seed: 72, requiresGrad: true });
        const b = E.randn([C], { seed: 73, requiresGrad: true });
        const y = E.batchNorm2d(x, null, null, w, b, { training: true, relu: true });
        y.backward(E.randn(shape, { seed: 74 }));
        const out = await Promise.all([y, x.grad!, w.grad!, b.grad!].map((t) => t.toArray()));
        for (const t of [x, w, b, y]) t.dispose();
        return out.map((a) => Array.from(a));
      });
    expect(await run(true), `${shape}`).toEqual(await run(false));
  }
});

test('BatchNorm normalize and grad-input: 4 vec4s of a channel per invocation where planes allow, the same values bit for bit', async () => {
  expect([16, 64, 2304, 12, 8, 4, 9].map((plane) => batchNormElementRun(plane, 4))).toEqual([4, 4, 4, 1, 1, 1, 1]);
  const run = (elementRun: number) =>
    withRuntime({ batchNorm: { elementRun } }, async () => {
      const x = E.randn([3, 5, 8, 8], { seed: 61, requiresGrad: true });
      const w = E.randn([5], { seed: 62, requiresGrad: true });
      const b = E.randn([5], { seed: 63, requiresGrad: true });
      const y = E.batchNorm2d(x, null, null, w, b, { training: true, relu: true });
      y.backward(E.randn([3, 5, 8, 8], { seed: 64 }));
      const out = await Promise.all([y, x.grad!].map((t) => t.toArray()));
      for (const t of [x, w, b, y]) t.dispose();
      return out.map((a) => Array.from(a));
    });
  expect(await run(4)).toEqual(await run(1));
});

test('batchNorm2d with relu: exactly batchNorm2d(…).relu(), values and every gradient (train and eval, vec4 and scalar planes)', async () => {
  for (const shape of [[2, 5, 4, 4], [3, 3, 5, 7]]) {
    for (const training of [true, false]) {
      const C = shape[1];
      const run = async (fused: boolean) => {
        const x = E.randn(shape, { seed: 51, requiresGrad: true });
        const w = E.randn([C], { seed: 52, requiresGrad: true });
        const b = E.randn([C], { seed: 53, requiresGrad: true });
        const stats = training ? [null, null] : [E.randn([C], { seed: 54 }), E.rand([C], { seed: 55, low: 0.5, high: 2 })];
        const y = E.tidy(() => {
          const options = { training, relu: fused };
          return fused ? E.batchNorm2d(x, stats[0], stats[1], w, b, options) : E.batchNorm2d(x, stats[0], stats[1], w, b, options).relu();
        });
        y.backward(E.randn(shape, { seed: 56 }));
        const out = await Promise.all([y, x.grad!, w.grad!, b.grad!].map((t) => t.toArray()));
        for (const t of [x, w, b, y, ...stats]) t?.dispose();
        return out;
      };
      const [fused, composed] = [await run(true), await run(false)];
      expect(fused.map((a) => Array.from(a)), `${shape} training=${training}`).toEqual(composed.map((a) => Array.from(a)));
      // Some outputs were clipped and some were not, so the mask mattered.
      expect(fused[0].some((v) => v === 0) && fused[0].some((v) => v > 0)).toBe(true);
    }
  }
});

// The same convolution cases on the kernels other adapters plan (kernels/conv/plan.ts), whatever
// this adapter is: SwiftShader's (its small compiler budget: 5-tap weight-gradient passes, no
// subgroup or 9-tap row kernels), an adapter without subgroups, and the implicit GEMMs of GPUs.
const convCases = cases.filter((c) => c.label.startsWith('conv'));
describe('conv kernels as planned for SwiftShader (5-tap weight passes, no subgroup kernels)', () => {
  useRuntime({ caps: { compilerBudget: 'small' } });
  test.each(caseRows(convCases))('%s', async (_, c, i) => {
    await checkOp(c, 2000 + i);
  });
});
describe('conv kernels without subgroups', () => {
  useRuntime({ caps: { subgroupSize: 0 } });
  test.each(caseRows(convCases))('%s', async (_, c, i) => {
    await checkOp(c, 4000 + i);
  });
});
describe('conv2d and conv-transpose2d through the implicit GEMMs (as on GPUs)', () => {
  useRuntime({ conv: 'gemm' });
  const wide: OpCase = {
    label: 'conv2d 3×3/s1/p1, 37 output channels',
    shapes: [[2, 6, 5, 7], [37, 6, 3, 3], [37]],
    gpu: ([x, w, b]) => E.conv2d(x, w, b, { stride: 1, padding: 1 }),
    ref: L.conv2d([1, 1], [1, 1]),
  };
  test.each(caseRows([...convCases, wide]))('%s', async (_, c, i) => {
    await checkOp(c, 3000 + i);
  });
});
// Every block shape of the GEMMs, forced by excluding the others, on layers whose row and column
// counts leave partial blocks: forward, flipped grad-input, weight gradient, conv-transpose.
const tileCases: OpCase[] = [
  cases.find((c) => c.label === 'conv2d 3×3/s2/p1')!,
  cases.find((c) => c.label === 'convTranspose2d 2×2/s2 larger')!,
  {
    label: 'conv2d 3×3/s1/p1, 130 output channels',
    shapes: [[1, 5, 6, 7], [130, 5, 3, 3], [130]],
    gpu: ([x, w, b]) => E.conv2d(x, w, b, { stride: 1, padding: 1 }),
    ref: L.conv2d([1, 1], [1, 1]),
  },
];
const tiles = Object.keys(GEMM_TILES) as GemmTileName[];
for (const tile of tiles) {
  describe(`implicit GEMMs with ${tile} blocks`, () => {
    useRuntime({ conv: 'gemm', caps: { software: false }, exclude: tiles.filter((t) => t !== tile).map((t) => `gemm-${t}`) });
    test.each(caseRows(tileCases))('%s', async (_, c, i) => {
      const used = convKernelsUsed(() => c.gpu(c.shapes.map((s) => E.zeros(s))).dispose());
      expect([...used]).toEqual([`gemm-${tile}`]);
      await checkOp(c, 4000 + i);
    });
  });
}

// Every candidate the planner has for this adapter runs somewhere in the cases above (a
// candidate no case reaches would be untested code); the GEMMs are covered by their own runs.
test('every direct convolution candidate this adapter plans is reached by the cases', async (ctx) => {
  ctx.skip(!E.getRuntime().caps.software, 'the direct kernels are planned only for CPU adapters; on this adapter every convolution runs the GEMMs, each block shape tested above');
  const reached = new Set<string>();
  for (const options of [{}, { caps: { compilerBudget: 'small' as const } }, { caps: { subgroupSize: 0 } }]) {
    await withRuntime(options, async () => {
      for (const c of convCases) {
        const inputs = c.shapes.map((s) => E.randn(s, { requiresGrad: true }));
        for (const k of convKernelsUsed(() => E.tidy(() => c.gpu(inputs).sum().backward()))) reached.add(k);
        for (const t of inputs) {
          t.grad?.dispose();
          t.dispose();
        }
      }
    });
  }
  const planned = new Set(Object.values(DIRECT_CANDIDATES).flatMap((list) => list.map((c) => c.name)));
  const unreachable = E.getRuntime().caps.subgroupSize === 8 ? [] : [...planned].filter((k) => k.includes('subgroup'));
  expect([...planned].filter((k) => !reached.has(k) && !unreachable.includes(k))).toEqual([]);
});

// Last in this file, when every layer path above has compiled its kernels.
// A kernel made without its file's kernelFamily (a KernelSpec written out by hand) bypasses the
// spec cache and is missing here.
test('every kernel the layers compiled is a declared family (kernelFamily, kernels/kernel.ts)', () => {
  const families = kernelFamilies();
  // Fewer where the convolutions are GEMMs only (a GPU, or PETSEG_CAPS=gpu).
  expect(compiledFamilies.size).toBeGreaterThan(15);
  expect([...compiledFamilies].filter((name) => !families.includes(name))).toEqual([]);
});
