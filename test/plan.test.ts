/**
 * The convolution planner without a GPU: plain geometries and adapter descriptions in, the
 * kernels it plans out. Every candidate of its tables is the first choice somewhere.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { capsFor, type AdapterCaps, type AdapterReport } from '../engine/index.js';
import { tuneKey } from '../engine/conv-tuner.js';
import { DIRECT_CANDIDATES, convPattern, convPlans, gemmTileFor, type ConvDirection, type ConvGeometry, type ConvStrategy, type PlannerCaps } from '../kernels/conv/index.js';

const LAVAPIPE: PlannerCaps = { software: true, subgroupSize: 8, compilerBudget: 'large', maxWorkgroupStorageBytes: 32768 };
const SWIFTSHADER: PlannerCaps = { software: true, subgroupSize: 0, compilerBudget: 'small', maxWorkgroupStorageBytes: 16384 };
const GPU: PlannerCaps = { software: false, subgroupSize: 32, compilerBudget: 'large', maxWorkgroupStorageBytes: 32768 };

/** A conv2d layer: x [N, C, H, W], weight [Cout, C, KH, KW]. */
function conv(x: number[], w: number[], stride = 1, pad = 0): ConvGeometry {
  const [N, C, H, W] = x;
  const [Cout, , KH, KW] = w;
  return { batch: N, srcChannels: C, srcH: H, srcW: W, dstChannels: Cout, dstH: Math.floor((H + 2 * pad - KH) / stride) + 1, dstW: Math.floor((W + 2 * pad - KW) / stride) + 1, kh: KH, kw: KW, strideH: stride, strideW: stride, padH: pad, padW: pad };
}

/** A conv-transpose2d layer: x [N, Cin, H, W], weight [Cin, Cout, KH, KW]. */
function transposed(x: number[], w: number[], stride: number, pad = 0, outputPad = 0): ConvGeometry {
  const [N, C, H, W] = x;
  const [, Cout, KH, KW] = w;
  return { batch: N, srcChannels: C, srcH: H, srcW: W, dstChannels: Cout, dstH: (H - 1) * stride - 2 * pad + KH + outputPad, dstW: (W - 1) * stride - 2 * pad + KW + outputPad, kh: KH, kw: KW, strideH: stride, strideW: stride, padH: pad, padW: pad };
}

const plans = (direction: ConvDirection, layer: ConvGeometry, caps: PlannerCaps, strategy: ConvStrategy = 'auto', exclude: string[] = []) =>
  convPlans(direction, layer, caps, false, { strategy, exclude: new Set(exclude) });
const first = (direction: ConvDirection, layer: ConvGeometry, caps: PlannerCaps) => plans(direction, layer, caps)[0].kernel;

// [what, direction, layer, adapter, the candidate planned first]
const REACHED: [string, ConvDirection, ConvGeometry, PlannerCaps, string][] = [
  ['5×5/s2 into a 1-column plane', 'forward', conv([1, 3, 5, 3], [9, 3, 5, 5], 2, 1), LAVAPIPE, 'gather-channels-subgroup'],
  ['3×3/s1/p1', 'forward', conv([1, 3, 8, 8], [9, 3, 3, 3], 1, 1), LAVAPIPE, 'gather-subgroup'],
  ['3×3/s1/p1 stride-1 grad-input (flipped gather)', 'grad-input', conv([1, 3, 8, 8], [9, 3, 3, 3], 1, 1), LAVAPIPE, 'gather-subgroup'],
  ['3×3/s1/p1 without subgroups', 'forward', conv([1, 3, 8, 8], [9, 3, 3, 3], 1, 1), SWIFTSHADER, 'gather-3x3-rows'],
  ['3×3/s2/p1 without subgroups', 'forward', conv([1, 3, 8, 8], [9, 3, 3, 3], 2, 1), SWIFTSHADER, 'gather'],
  ['3×3/s2/p1 grad-input', 'grad-input', conv([1, 3, 8, 8], [9, 3, 3, 3], 2, 1), LAVAPIPE, 'scatter-subgroup'],
  ['3×3/s2/p1 grad-input without subgroups', 'grad-input', conv([1, 3, 8, 8], [9, 3, 3, 3], 2, 1), SWIFTSHADER, 'scatter'],
  ['3×3/s1/p1 weight gradient, rows of vec4s', 'grad-weight', conv([1, 3, 8, 8], [9, 3, 3, 3], 1, 1), LAVAPIPE, 'weight-3x3-rows-direct-subgroup'],
  ['1×1 head weight gradient', 'grad-weight', conv([1, 5, 8, 8], [1, 5, 1, 1]), LAVAPIPE, 'weight-1x1-rows'],
  ['3×3/s2 weight gradient, 32 output channels, few positions', 'grad-weight', conv([1, 3, 8, 8], [32, 3, 3, 3], 2, 1), LAVAPIPE, 'weight-direct-subgroup'],
  ['3×3/s2 weight gradient without subgroups, few positions', 'grad-weight', conv([1, 3, 8, 8], [32, 3, 3, 3], 2, 1), SWIFTSHADER, 'weight-direct'],
  ['3×3/s1/p1 weight gradient, many positions, few output channels', 'grad-weight', conv([2, 3, 33, 32], [6, 3, 3, 3], 1, 1), LAVAPIPE, 'weight-3x3-rows'],
  ['3×3 weight gradient on SwiftShader, many positions', 'grad-weight', conv([4, 3, 40, 40], [2, 3, 3, 3], 1, 1), SWIFTSHADER, 'weight'],
  ['2×2/s2 up-convolution (an exact tiling is a scatter too)', 'transpose-forward', transposed([1, 4, 2, 4], [4, 3, 2, 2], 2), LAVAPIPE, 'scatter-subgroup'],
  ['2×2/s2 up-convolution without subgroups', 'transpose-forward', transposed([1, 4, 2, 4], [4, 3, 2, 2], 2), SWIFTSHADER, 'transpose-tiled'],
  ['3×3/s2/p1/op1 conv-transpose (a scatter)', 'transpose-forward', transposed([2, 3, 4, 5], [3, 5, 3, 3], 2, 1, 1), LAVAPIPE, 'scatter-subgroup'],
  ['conv-transpose grad-input (a gather)', 'transpose-grad-input', transposed([1, 4, 5, 5], [4, 3, 2, 2], 2), LAVAPIPE, 'gather-subgroup'],
  ['conv-transpose grad-weight', 'transpose-grad-weight', transposed([1, 4, 5, 5], [4, 3, 2, 2], 2), SWIFTSHADER, 'weight-direct'],
  ['UNet 3×3 on a GPU', 'forward', conv([8, 64, 256, 256], [64, 64, 3, 3], 1, 1), GPU, 'gemm-64x128'],
  ['ResNet 3×3 at 8×8 on a GPU', 'forward', conv([8, 512, 8, 8], [512, 512, 3, 3], 1, 1), GPU, 'gemm-64x64'],
  ['head on a GPU', 'forward', conv([8, 64, 256, 256], [1, 64, 1, 1]), GPU, 'gemm-16x256'],
  ['32 channels on a GPU', 'forward', conv([8, 3, 64, 64], [32, 3, 3, 3], 1, 1), GPU, 'gemm-32x256'],
  ['512 channels on a GPU', 'forward', conv([8, 256, 32, 32], [512, 256, 3, 3], 1, 1), GPU, 'gemm-128x128'],
  ['512 channels over 4096 columns on a GPU', 'forward', conv([1, 256, 64, 64], [512, 256, 3, 3], 1, 1), GPU, 'gemm-128x64'],
  ['weight gradient on a GPU (split k)', 'grad-weight', conv([8, 64, 64, 64], [128, 64, 3, 3], 1, 1), GPU, 'gemm-64x128'],
  ['2×2/s2 up-convolution on a GPU', 'transpose-forward', transposed([8, 64, 32, 32], [64, 32, 2, 2], 2), GPU, 'gemm-64x64'],
];

describe('convolution planner', () => {
  test.each(REACHED.map(([what, ...rest]) => [what, ...rest] as const))('%s: %s → first %s', (_, direction, layer, caps, kernel) => {
    expect(first(direction, layer, caps)).toBe(kernel);
  });

  test('every direct candidate is planned first for some layer and adapter', () => {
    const names = new Set(Object.values(DIRECT_CANDIDATES).flatMap((list) => list.map((c) => c.name)));
    const reached = new Set(REACHED.map((r) => r[4]));
    expect([...names].filter((n) => !reached.has(n))).toEqual([]);
  });

  test('adapter families: direct kernels first on CPU adapters, then the GEMM; only GEMMs (every block shape) on GPUs', () => {
    const layer = conv([2, 16, 32, 32], [16, 16, 3, 3], 1, 1);
    const cpu = plans('forward', layer, LAVAPIPE).map((p) => p.kernel);
    expect(cpu).toEqual(['gather-subgroup', 'gather-3x3-rows', 'gather', 'gemm-16x256']);
    const gpu = plans('forward', layer, GPU).map((p) => p.kernel);
    expect(gpu[0]).toBe('gemm-16x256');
    expect(gpu.length).toBe(6);
    expect(gpu.every((k) => k.startsWith('gemm-'))).toBe(true);
    // Forced: one family only.
    expect(plans('forward', layer, LAVAPIPE, 'gemm').map((p) => p.kernel)).toEqual(['gemm-16x256']);
    expect(plans('forward', layer, GPU, 'direct').map((p) => p.kernel)).toEqual(['gather-3x3-rows', 'gather']);
    // Block shapes whose staging passes the adapter's workgroup memory are not planned (16x256 and 32x256 stage 17 and 18 KiB).
    const small = plans('forward', layer, { ...GPU, maxWorkgroupStorageBytes: 16384 }).map((p) => p.kernel);
    expect(small).toEqual(['gemm-64x64', 'gemm-64x128', 'gemm-128x64', 'gemm-128x128']);
    // Excluded candidates are skipped; excluding everything is an error.
    expect(plans('forward', layer, LAVAPIPE, 'auto', ['gather-subgroup'])[0].kernel).toBe('gather-3x3-rows');
    expect(() => plans('forward', layer, LAVAPIPE, 'gemm', ['gemm-16x256'])).toThrow(/every candidate kernel is excluded/);
  });

  test('plans: gathers pack their weights first; chunked weight gradients have partial sums; shapes are the results', () => {
    const layer = conv([2, 3, 33, 32], [6, 3, 3, 3], 1, 1);
    const gather = plans('forward', layer, LAVAPIPE)[0];
    expect(gather.launches.map((l) => l.output)).toEqual(['packed', 'out']);
    expect(gather.launches[0].inputs).toEqual(['weight']);
    expect(gather.packed).toBe(3 * 9 * 8);
    expect(gather.shape).toEqual([2, 6, 33, 32]);
    const weight = plans('grad-weight', layer, LAVAPIPE)[0];
    expect(weight.kernel).toBe('weight-3x3-rows');
    expect(weight.chunks).toBeGreaterThan(1);
    expect(weight.shape).toEqual([6, 3, 3, 3]);
    // SwiftShader splits a 7×7 weight gradient into 5-tap passes.
    const stem = plans('grad-weight', conv([1, 3, 16, 16], [4, 3, 7, 7], 2, 3), SWIFTSHADER)[0];
    expect(stem.launches.length).toBe(Math.ceil(49 / 5));
  });

  test('directions map onto patterns: stride-1 grad-input is a flipped gather, strided a scatter; exact up-convolutions are tiled', () => {
    const layer = conv([1, 3, 9, 9], [5, 3, 3, 3], 1, 1);
    expect(convPattern('grad-input', layer)).toMatchObject({ pattern: 'flipped', geometry: { srcChannels: 5, dstChannels: 3, padH: 1, padW: 1 } });
    expect(convPattern('grad-input', conv([1, 3, 9, 9], [5, 3, 3, 3], 2, 1)).pattern).toBe('scatter');
    expect(convPattern('grad-input', conv([1, 3, 9, 9], [5, 3, 3, 3], 1, 3)).pattern).toBe('scatter');
    expect(convPattern('transpose-forward', transposed([1, 4, 5, 5], [4, 3, 2, 2], 2)).pattern).toBe('tiled');
    expect(convPattern('transpose-forward', transposed([1, 4, 5, 5], [4, 3, 2, 2], 2, 0, 1)).pattern).toBe('scatter');
    expect(convPattern('transpose-grad-weight', transposed([1, 4, 5, 5], [4, 3, 2, 2], 2))).toMatchObject({ pattern: 'weight', geometry: { srcChannels: 3, dstChannels: 4 } });
  });

  test('GEMM block shapes: tall blocks for many rows, smaller ones when a launch would not fill the GPU, 64×128 for split-k', () => {
    expect(gemmTileFor(16, 1e6)).toBe('16x256');
    expect(gemmTileFor(32, 1e6)).toBe('32x256');
    expect(gemmTileFor(64, 1e6)).toBe('64x128');
    expect(gemmTileFor(512, 1e6)).toBe('128x128');
    expect(gemmTileFor(512, 2048)).toBe('64x64');
    expect(gemmTileFor(512, 2048, true)).toBe('64x128');
    expect(gemmTileFor(24, 2048, true)).toBe('32x256');
  });

  test('tuning keys: a short last batch and nearby plane sizes share a key; channels and windows do not', () => {
    const key = (x: number[], w: number[], s = 1, p = 1) => tuneKey('forward', conv(x, w, s, p));
    expect(key([3, 16, 64, 64], [16, 16, 3, 3])).toBe(key([4, 16, 64, 64], [16, 16, 3, 3]));
    expect(key([4, 16, 60, 60], [16, 16, 3, 3])).toBe(key([4, 16, 64, 64], [16, 16, 3, 3]));
    expect(key([4, 16, 64, 64], [32, 16, 3, 3])).not.toBe(key([4, 16, 64, 64], [16, 16, 3, 3]));
    expect(key([4, 16, 64, 64], [16, 16, 3, 3], 2)).not.toBe(key([4, 16, 64, 64], [16, 16, 3, 3]));
    expect(tuneKey('grad-input', conv([4, 16, 64, 64], [16, 16, 3, 3], 1, 1))).not.toBe(key([4, 16, 64, 64], [16, 16, 3, 3]));
  });
});

describe('adapter capabilities', () => {
  const base: AdapterReport = {
    runtime: 'node (dawn)', backend: 'vulkan', vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false,
    features: ['subgroups', 'timestamp-query', 'shader-f16'], limits: { maxComputeWorkgroupStorageSize: 32768, maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 29 },
    subgroupMinSize: 8, subgroupMaxSize: 8, subgroupMatrixConfigs: [], dawnOptions: [],
  };
  const caps = (r: Partial<AdapterReport>): AdapterCaps => capsFor({ ...base, ...r });
  test('lavapipe, SwiftShader, GPUs', () => {
    expect(caps({ description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toEqual({
      software: true, subgroupSize: 8, f16: true, timestampQuery: true, compilerBudget: 'large', maxWorkgroupStorageBytes: 32768, maxBufferBytes: 2 ** 29,
    });
    expect(caps({ description: 'SwiftShader driver 5.0.0', features: [] })).toMatchObject({ software: true, subgroupSize: 0, f16: false, compilerBudget: 'small' });
    expect(caps({ architecture: 'swiftshader' }).compilerBudget).toBe('small');
    expect(caps({ isFallbackAdapter: true }).software).toBe(true);
    expect(caps({ description: 'NVIDIA H100 80GB HBM3', subgroupMinSize: 32, subgroupMaxSize: 32 })).toMatchObject({ software: false, subgroupSize: 32 });
    // Subgroups of several sizes, or none reported: not a fixed size.
    expect(caps({ subgroupMinSize: 4, subgroupMaxSize: 8 }).subgroupSize).toBe(0);
    expect(caps({ subgroupMinSize: 0, subgroupMaxSize: 0 }).subgroupSize).toBe(0);
    expect(caps({ features: [] }).subgroupSize).toBe(0);
    expect(Object.isFrozen(caps({}))).toBe(true);
  });
});

test('docs/kernels.md holds the planner table as scripts/conv-table.mjs prints it', async () => {
  // @ts-expect-error: a plain ES module script, without types.
  const { convTable, MARKERS } = (await import('../scripts/conv-table.mjs')) as { convTable: () => string; MARKERS: [string, string] };
  const text = readFileSync(new URL('../docs/kernels.md', import.meta.url), 'utf8');
  const between = text.slice(text.indexOf(MARKERS[0]) + MARKERS[0].length, text.indexOf(MARKERS[1])).trim();
  expect(between, 'docs/kernels.md is stale: run node scripts/conv-table.mjs --write').toBe(convTable());
});
