/**
 * Mixed precision: binary16 on the host, the cast kernels, every convolution direction on float16
 * operands, the loss scaler, and training. Tolerances, and why:
 * - cast f32 → f16: the nearest half or its other neighbour (WGSL lets the adapter round either
 *   way), ±Inf from 65520 up, NaN kept; f16 → f32 exact.
 * - f16 convolutions against the float64 oracle on the same float16 operands (read back from the
 *   GPU's own cast): GPU_TOLERANCE, as every fp32 op — the operands are equal, only the f32
 *   accumulation differs. Against the float64 oracle on the unrounded operands: elementwise
 *   2^-9 · (|w| ⊛ |x|) — each product carries two roundings of at most one half-ulp
 *   (2^-10 relative, either-neighbour rounding) — plus GPU_TOLERANCE of the output's range.
 * - the loss scaler in fp32 changes nothing: scaling by a power of two is exact, so a scaled step
 *   equals an unscaled one bit for bit.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { halfBits, halfValue, HALF_MAX, roundHalf } from '../engine/half.js';
import { RefTensor, referenceLayers as L } from '../engine/reference/index.js';
import { encodeOptimizerState, loadOptimizerState, readSafetensorsHeader, writeFileAtomic } from '../models/checkpoint.js';
import { UNet } from '../models/unet.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { RUN_FILES, train, type TrainOptions } from '../train/trainer.js';
import { GPU_TOLERANCE, expectClose, sample } from './helpers/op-check.js';
import { useGpu, useRuntime } from './helpers/gpu.js';
import { trainOptions } from './helpers/train-options.js';

useGpu();

/** In a describe block of float16 work: its tests skip, saying why, where the adapter lacks shader-f16. */
const needsF16 = () => beforeEach((ctx) => ctx.skip(!E.getRuntime().caps.f16, `${E.getRuntime().adapterName} lacks shader-f16`));

const work = mkdtempSync(join(tmpdir(), 'petseg-mixed-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Spacing of the halves around x (binary16 has 10 fraction bits; subnormals are 2^-24 apart). */
const halfSpacing = (x: number) => (Math.abs(x) < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 10));

describe('binary16 on the host', () => {
  test('every half round-trips; ties go to even; overflow, subnormals and NaN', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const v = halfValue(bits);
      if (!Number.isNaN(v)) expect(halfBits(v)).toBe(bits);
    }
    expect(halfBits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1 + 2^-10: even (1)
    expect(halfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: even (1 + 2^-9)
    expect(roundHalf(65519.99)).toBe(HALF_MAX);
    expect(roundHalf(65520)).toBe(Infinity);
    expect(roundHalf(-1e6)).toBe(-Infinity);
    expect(roundHalf(2 ** -25)).toBe(0); // tie with 0: even
    expect(roundHalf(3 * 2 ** -26)).toBe(2 ** -24);
    expect(Number.isNaN(roundHalf(NaN))).toBe(true);
    expect(Object.is(roundHalf(-0), -0)).toBe(true);
  });
});

describe('float16 tensors and the cast kernels', () => {
  needsF16();
  const specials = [0, -0, 1, -1, HALF_MAX, 65519, 65520, -70000, 1e-8, 6e-8, 2 ** -24, 3 * 2 ** -26, 2 ** -14, NaN, Infinity, -Infinity];

  test.each([1, 7, 1001])('f32 → f16 → f32 over %i values of every magnitude', async (n) => {
    const gen = new E.Generator(n);
    const host = Float32Array.from({ length: n }, (_, i) => (i < specials.length && n > specials.length ? specials[i] : gen.nextNormal() * 2 ** Math.floor(gen.nextFloat() * 50 - 30)));
    const x = E.tensor(host, [n]);
    const h = x.half();
    expect(h.dtype).toBe('float16');
    const back = h.float();
    const halves = await h.toArray();
    const widened = await back.toArray();
    for (let i = 0; i < n; i++) {
      const v = host[i];
      const got = halves[i];
      if (Number.isNaN(v)) expect(Number.isNaN(got), `NaN at ${i}`).toBe(true);
      else if (Math.abs(v) >= 65520) expect(got, `overflow of ${v}`).toBe(Math.sign(v) * Infinity);
      else expect(Math.abs(got - v), `${v} → ${got}`).toBeLessThanOrEqual(halfSpacing(v));
      expect(Object.is(widened[i], got) || (Number.isNaN(widened[i]) && Number.isNaN(got)), `f16 → f32 of ${got}`).toBe(true);
    }
    for (const t of [x, h, back]) t.dispose();
  });

  test('float16 tensors are refused by float32 kernels with a line saying what to do', () => {
    const h = E.tensor([1, 2, 3], [3]).half();
    expect(() => h.relu()).toThrow(/is float16; this op reads float32 — convert it with \.float\(\)/);
    expect(h.toString()).toContain('float16');
    h.dispose();
  });

  test('the gradient through a cast is float32 and passes through', async () => {
    const x = E.tensor([0.5, -2, 3], [3], { requiresGrad: true });
    const y = E.tidy(() => x.half().float().mul(E.tensor([1, 2, 3], [3])));
    y.sum().backward();
    expect(x.grad!.dtype).toBe('float32');
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 2, 3]);
    x.dispose();
    y.dispose();
  });
});

interface ConvCase {
  label: string;
  x: number[];
  w: number[];
  bias: boolean;
  transpose: boolean;
  stride: [number, number];
  padding: [number, number];
  outputPadding?: [number, number];
}

const CONVS: ConvCase[] = [
  { label: '3×3/p1, batch 1, odd sides, 5 → 6 channels', x: [1, 5, 9, 7], w: [6, 5, 3, 3], bias: false, transpose: false, stride: [1, 1], padding: [1, 1] },
  { label: '3×3/s2/p1 (strided grad-input), 3 → 5 channels', x: [2, 3, 11, 9], w: [5, 3, 3, 3], bias: false, transpose: false, stride: [2, 2], padding: [1, 1] },
  { label: '1×1 with bias, 7 → 3 channels', x: [2, 7, 6, 5], w: [3, 7, 1, 1], bias: true, transpose: false, stride: [1, 1], padding: [0, 0] },
  { label: '7×7/s2/p3 (ResNet stem)', x: [1, 3, 15, 13], w: [4, 3, 7, 7], bias: false, transpose: false, stride: [2, 2], padding: [3, 3] },
  { label: 'transpose 2×2/s2 with bias (exact tiling)', x: [2, 6, 5, 7], w: [6, 3, 2, 2], bias: true, transpose: true, stride: [2, 2], padding: [0, 0] },
  { label: 'transpose 3×3/s2/p1/op1 (scatter)', x: [1, 5, 4, 5], w: [5, 3, 3, 3], bias: false, transpose: true, stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] },
];

/** The GPU's own float16 rounding of `host`. */
async function gpuHalves(host: Float32Array, shape: number[]): Promise<Float32Array> {
  const t = E.tensor(host, shape);
  const h = t.half();
  const values = await h.toArray();
  t.dispose();
  h.dispose();
  return values;
}

describe('convolutions on float16 operands (f32 accumulation and results)', () => {
  needsF16();
  test.each(CONVS)('$label: forward and every gradient', async (c) => {
    const gen = new E.Generator(7);
    const before = E.memoryStats().liveBytes;
    const hosts = [sample(gen, c.x.reduce((a, b) => a * b)), sample(gen, c.w.reduce((a, b) => a * b))];
    const outChannels = c.transpose ? c.w[1] : c.w[0];
    const biasHost = c.bias ? sample(gen, outChannels) : null;
    const x = E.tensor(hosts[0], c.x, { requiresGrad: true });
    const w = E.tensor(hosts[1], c.w, { requiresGrad: true });
    const b = biasHost ? E.tensor(biasHost, [outChannels], { requiresGrad: true }) : null;
    const run = () => (c.transpose ? E.convTranspose2d(x, w, b, { stride: c.stride, padding: c.padding, outputPadding: c.outputPadding }) : E.conv2d(x, w, b, { stride: c.stride, padding: c.padding }));
    const y = E.autocast(run);
    expect(y.dtype).toBe('float32');
    const op = c.transpose ? L.convTranspose2d(c.stride, c.padding, c.outputPadding) : L.conv2d(c.stride, c.padding);
    const rounded = [await gpuHalves(hosts[0], c.x), await gpuHalves(hosts[1], c.w)];
    const refs = (values: Float32Array[]) => [RefTensor.from(values[0], c.x), RefTensor.from(values[1], c.w), ...(biasHost ? [RefTensor.from(biasHost, [outChannels])] : [])];
    const oracle = op.forward(refs(rounded));
    const got = await y.toArray();
    expectClose(got, oracle.data, GPU_TOLERANCE, `${c.label} forward on the f16 operands`);

    // Against the unrounded operands: within the two roundings of every product.
    const exact = op.forward(refs(hosts)).data;
    const magnitude = op.forward([RefTensor.from(hosts[0].map(Math.abs), c.x), RefTensor.from(hosts[1].map(Math.abs), c.w)]).data;
    const range = Math.max(...exact.map(Math.abs));
    exact.forEach((v, i) => expect(Math.abs(got[i] - v), `${c.label} output ${i}`).toBeLessThanOrEqual(2 ** -9 * magnitude[i] + GPU_TOLERANCE * range));

    const gHost = sample(gen, y.size);
    const g = E.tensor(gHost, y.shape);
    y.backward(g);
    const g16 = RefTensor.from(await gpuHalves(gHost, [...y.shape]), [...y.shape]);
    const grads = op.backward(refs(rounded), g16);
    expectClose(await x.grad!.toArray(), grads[0].data, GPU_TOLERANCE, `${c.label} grad-input`);
    expectClose(await w.grad!.toArray(), grads[1].data, GPU_TOLERANCE, `${c.label} grad-weight`);
    expect(x.grad!.dtype).toBe('float32');
    if (b) {
      // The bias gradient sums dY in f32, unrounded.
      const gb = op.backward(refs(rounded), RefTensor.from(gHost, [...y.shape]))[2];
      expectClose(await b.grad!.toArray(), gb.data, GPU_TOLERANCE, `${c.label} grad-bias`);
    }
    for (const t of [x, w, b, y, g]) t?.dispose();
    expect(E.memoryStats().liveBytes, `${c.label}: memory left live`).toBe(before);
  });

  test('NaN and Inf in an input propagate to the windows that read them', async () => {
    const host = sample(new E.Generator(3), 2 * 3 * 8 * 8);
    host[5] = NaN;
    host[3 * 64 + 40] = Infinity;
    const x = E.tensor(host, [2, 3, 8, 8]);
    const w = E.randn([4, 3, 3, 3], { seed: 2 });
    const y32 = E.conv2d(x, w, null, { padding: 1 });
    const y16 = E.autocast(() => E.conv2d(x, w, null, { padding: 1 }));
    const [a, b] = [await y32.toArray(), await y16.toArray()];
    const nonFinite = (v: Float32Array) => v.map((e) => (Number.isFinite(e) ? 0 : 1));
    expect(Array.from(nonFinite(b))).toEqual(Array.from(nonFinite(a)));
    expect(a.some((e) => Number.isNaN(e))).toBe(true);
    for (const t of [x, w, y32, y16]) t.dispose();
  });

  test('autocast nests and switches off', () => {
    expect(E.isAutocasting()).toBe(false);
    E.autocast(() => {
      expect(E.isAutocasting()).toBe(true);
      E.autocast(() => expect(E.isAutocasting()).toBe(false), false);
      expect(E.isAutocasting()).toBe(true);
    });
    expect(E.isAutocasting()).toBe(false);
  });
});

/** A tiny segmentation step's pieces: a conv layer, an input and a target mask. */
function tinyProblem(seed: number) {
  const conv = new E.Conv2d(3, 1, 3, { padding: 1, generator: new E.Generator(seed) });
  const x = E.randn([2, 3, 8, 8], { seed: seed + 1 });
  const mask = E.tensor(Float32Array.from({ length: 128 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [2, 1, 8, 8]);
  const dispose = () => {
    conv.dispose();
    x.dispose();
    mask.dispose();
  };
  return { conv, x, mask, dispose };
}

describe('GradScaler', () => {
  test('a scaled fp32 step equals an unscaled one bit for bit', async () => {
    const a = tinyProblem(1);
    const b = tinyProblem(1);
    const optA = new E.Adam(a.conv.parameters(), { lr: 1e-2 });
    const optB = new E.Adam(b.conv.parameters(), { lr: 1e-2 });
    const scaler = new E.GradScaler({ initScale: 2 ** 12 });
    for (let step = 0; step < 3; step++) {
      const lossA = E.tidy(() => E.bceWithLogits(a.conv.forward(a.x), a.mask));
      lossA.backward();
      optA.step();
      optA.zeroGrad();
      const lossB = E.tidy(() => E.bceWithLogits(b.conv.forward(b.x), b.mask));
      const scaled = scaler.scaleLoss(lossB);
      scaled.backward();
      expect(await scaler.step(optB)).toBe(true);
      scaler.update();
      optB.zeroGrad();
      for (const t of [lossA, lossB, scaled]) t.dispose();
    }
    for (const [pa, pb] of a.conv.parameters().map((p, i) => [p, b.conv.parameters()[i]])) {
      expect(Array.from(await pb.toArray())).toEqual(Array.from(await pa.toArray()));
    }
    optA.dispose();
    optB.dispose();
    a.dispose();
    b.dispose();
  });

  test('an injected overflow skips the step, leaves every parameter as it was and halves the scale until the gradients fit', async () => {
    const p = tinyProblem(2);
    const optimizer = new E.Adam(p.conv.parameters(), { lr: 1e-2 });
    // dY of the mean BCE is ~(sigmoid − target) / 128: times 2^40 it is far past float16's 65504.
    const scaler = new E.GradScaler({ initScale: 2 ** 40 });
    const initial = await Promise.all(p.conv.parameters().map((t) => t.toArray()));
    const step = async () => {
      const loss = E.tidy(() => E.autocast(() => E.bceWithLogits(p.conv.forward(p.x), p.mask)));
      const scaled = scaler.scaleLoss(loss);
      scaled.backward();
      const stepped = await scaler.step(optimizer);
      scaler.update();
      optimizer.zeroGrad();
      loss.dispose();
      scaled.dispose();
      return stepped;
    };
    expect(await step()).toBe(false);
    expect(scaler.scale).toBe(2 ** 39);
    expect(optimizer.state().step).toBe(0);
    const after = await Promise.all(p.conv.parameters().map((t) => t.toArray()));
    after.forEach((values, i) => expect(Array.from(values)).toEqual(Array.from(initial[i])));
    let skipped = 1;
    while (!(await step())) skipped++;
    expect(skipped).toBeGreaterThan(5);
    expect(scaler.skippedSteps).toBe(skipped);
    expect(scaler.scale).toBe(2 ** (40 - skipped));
    expect(optimizer.state().step).toBe(1);
    expect(await optimizer.firstNonFiniteStep()).toBeNull(); // the optimizer never saw a bad gradient
    expect(Array.from(await p.conv.weight.toArray())).not.toEqual(Array.from(initial[0]));
    optimizer.dispose();
    p.dispose();
  });

  test('the scale doubles after growthInterval clean steps; a skip resets the count', async () => {
    const p = tinyProblem(3);
    const optimizer = new E.Adam(p.conv.parameters());
    const scaler = new E.GradScaler({ initScale: 4, growthInterval: 3 });
    const scales: number[] = [];
    for (let i = 0; i < 7; i++) {
      const loss = E.tidy(() => E.bceWithLogits(p.conv.forward(p.x), p.mask));
      const scaled = scaler.scaleLoss(loss);
      scaled.backward();
      if (i === 4) p.conv.weight.grad!.assign(E.full(p.conv.weight.shape, NaN)); // an injected NaN gradient
      await scaler.step(optimizer);
      scaler.update();
      scales.push(scaler.scale);
      optimizer.zeroGrad();
      loss.dispose();
      scaled.dispose();
    }
    expect(scales).toEqual([4, 4, 8, 8, 4, 4, 4]);
    expect(scaler.state()).toEqual({ scale: 4, growthTracker: 2, skippedSteps: 1 });
    expect(() => scaler.update()).toThrow(/call step\(\) first/);
    optimizer.dispose();
    p.dispose();
  });

  test('its state is saved with the optimizer state and read back; a damaged one is refused', async () => {
    const model = new UNet({ baseChannels: 2, seed: 0 });
    const optimizer = new E.Adam(model.parameters());
    const scaler = new E.GradScaler();
    scaler.loadState({ scale: 2 ** 13, growthTracker: 17, skippedSteps: 3 });
    const file = join(work, 'optim.safetensors');
    writeFileAtomic(file, await encodeOptimizerState(optimizer, model, scaler));
    expect(loadOptimizerState(file, optimizer, model)).toEqual({ scale: 2 ** 13, growthTracker: 17, skippedSteps: 3 });
    expect(readSafetensorsHeader(file).metadata.grad_scaler).toBeDefined();
    writeFileAtomic(file, await encodeOptimizerState(optimizer, model));
    expect(loadOptimizerState(file, optimizer, model)).toBeNull();
    expect(() => scaler.loadState({ scale: 0, growthTracker: 0, skippedSteps: 0 })).toThrow(/invalid state/);
    optimizer.dispose();
    model.dispose();
  });
});

const data = join(work, 'data');
writeSyntheticDataset(data, { trainval: 40, test: 2, size: 40, seed: 4 });
const largerData = join(work, 'larger');
writeSyntheticDataset(largerData, { trainval: 80, test: 2, size: 40, seed: 5 });
const options = (saveDir: string, over: Partial<TrainOptions> = {}) => trainOptions(data, saveDir, { seed: 3, epochs: 4, lr: 3e-3, batchSize: 4, ...over });

describe('training in mixed precision', () => {
  needsF16();
  test('reaches the validation Dice of the fp32 run with the same seed (within 0.01), memory flat', async () => {
    // Long enough to leave the steep start, where any difference between two runs is magnified.
    const settle = { epochs: 12, lr: 1e-3, dataPath: largerData };
    const before = E.memoryStats().liveBytes;
    const fp32 = await train(options(join(work, 'fp32'), settle));
    const live: number[] = [];
    const mixed = await train(options(join(work, 'mixed'), { ...settle, precision: 'mixed', onEpoch: () => live.push(E.memoryStats().liveBytes) }));
    expect(fp32.best.validDice).toBeGreaterThan(0.5); // it learned something
    expect(Math.abs(mixed.best.validDice - fp32.best.validDice)).toBeLessThanOrEqual(0.01);
    expect(new Set(live.slice(1)).size).toBe(1);
    fp32.model.dispose();
    mixed.model.dispose();
    expect(E.memoryStats().liveBytes).toBe(before);
  });

  test('the loss scale and its growth count survive --resume: a resumed run is the straight one', async () => {
    // A scale far too large forces skipped steps, and a short growth interval makes it move every epoch.
    const lossScale = { initScale: 2 ** 30, growthInterval: 4 };
    const straight = await train(options(join(work, 'straight'), { precision: 'mixed', lossScale, epochs: 3 }));
    await train(options(join(work, 'resumed'), { precision: 'mixed', lossScale, epochs: 2 })).then((r) => r.model.dispose());
    const saved = JSON.parse(readSafetensorsHeader(join(work, 'resumed', RUN_FILES.optimizer)).metadata.grad_scaler) as E.GradScalerState;
    expect(saved.skippedSteps).toBeGreaterThan(0);
    const resumed = await train(options(join(work, 'resumed'), { precision: 'mixed', lossScale, epochs: 3, resume: true }));
    expect(resumed.history.map((r) => r.validLoss)).toEqual(straight.history.slice(2).map((r) => r.validLoss));
    const final = (dir: string) => readSafetensorsHeader(join(work, dir, RUN_FILES.optimizer)).metadata.grad_scaler;
    expect(final('resumed')).toBe(final('straight'));
    straight.model.dispose();
    resumed.model.dispose();
  });
});

describe('on an adapter without shader-f16', () => {
  useRuntime({ caps: { f16: false } });
  test('autocast, .half() and --precision mixed refuse with one line, before anything is written', async () => {
    expect(() => E.autocast(() => 0)).toThrow(/mixed precision needs the adapter's shader-f16 feature/);
    const x = E.tensor([1], [1]);
    expect(() => x.half()).toThrow(/shader-f16/);
    x.dispose();
    const saveDir = join(work, 'refused');
    await expect(train(options(saveDir, { precision: 'mixed' }))).rejects.toThrow(/^precision mixed needs the adapter's shader-f16 feature.*use precision fp32$/);
    expect(existsSync(saveDir)).toBe(false);
  });
});
