/** The bench harness on a tiny configuration: structure and sanity, not speed. */
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { MUL_ADD_OPERANDS, loadProbeBytes, mulAddProbeFlops, runProbe } from '../bench/ceiling.js';
import { convMedianGflops, formatReport, runBench } from '../bench/main.js';
import { formatStepProfiles, profileTrainingSteps } from '../bench/profile.js';
import { recordLayerShapes } from '../bench/shapes.js';
import { loadTfjs } from '../bench/tfjs.js';
import { tfResNet34UNetFrom, tfUNetFrom } from '../bench/tfjs-models.js';
import { permute, relativeDifference, timeWork } from '../bench/timing.js';
import { ResNet34UNet } from '../models/resnet34-unet.js';
import { UNet } from '../models/unet.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

describe('bench', () => {
  test('permute and relativeDifference', () => {
    // [2,3] → [3,2]
    expect(Array.from(permute(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(relativeDifference(new Float32Array([1, 2]), new Float32Array([1, 4]))).toBe(0.5);
    expect(relativeDifference(new Float32Array([1]), new Float32Array([1, 2]))).toBe(Infinity);
  });

  test('timeWork repeats short runs within a sample, so a fixed wait per sample is amortised', async () => {
    let runs = 0;
    let cleaned = 0;
    const run = () => {
      runs++;
      return () => cleaned++;
    };
    const wait = () => new Promise<void>((resolve) => setTimeout(resolve, 4));
    const single = await timeWork(run, wait, { warmup: 2, repeats: 3 });
    expect(single.runsPerSample).toBe(1);
    expect(single.median).toBeGreaterThanOrEqual(3.5);
    const batched = await timeWork(run, wait, { warmup: 2, repeats: 3, minSampleMs: 40 });
    expect(batched.runsPerSample).toBeGreaterThanOrEqual(2);
    expect(batched.runsPerSample).toBeLessThanOrEqual(11);
    // ms per run: the 4 ms wait is shared by every run of the sample.
    expect(batched.median).toBeLessThan(single.median / 1.8);
    expect(cleaned).toBe(runs);
  });

  test('the ceiling probes compute what their FLOP and byte counts say', async () => {
    // Spec of the probes: per iteration 16 statements; mul-add: 4 vec4 chains a ← a·b + c; loads: one vec4 each.
    expect(mulAddProbeFlops(1, 1)).toBe(64 * 16 * 4 * 4 * 2);
    expect(mulAddProbeFlops(3, 5)).toBe(15 * mulAddProbeFlops(1, 1));
    expect(loadProbeBytes(2, 3)).toBe(2 * 64 * 3 * 16 * 16);
    const iterations = 2;
    const f = Math.fround;
    const operands = E.tensor(MUL_ADD_OPERANDS, [8]);
    const mulAdd = runProbe('mul-add', operands, 2, iterations);
    const got = await mulAdd.toArray();
    for (const i of [0, 1, 63, 64, 127]) {
      const seed = f(f(i % 1024) * f(1e-3));
      const sum = [0, 0, 0, 0];
      for (let chain = 0; chain < 4; chain++) {
        const a = [f(seed + chain), f(seed - chain), f(seed * (chain + 2)), -seed];
        for (let step = 0; step < iterations * 16; step++) {
          for (let c = 0; c < 4; c++) a[c] = f(f(a[c] * MUL_ADD_OPERANDS[c]) + MUL_ADD_OPERANDS[4 + c]);
        }
        for (let c = 0; c < 4; c++) sum[c] = f(sum[c] + a[c]);
      }
      // GPUs may fuse a·b + c (one rounding instead of two).
      for (let c = 0; c < 4; c++) expect(got[4 * i + c]).toBeCloseTo(sum[c], 4);
    }
    const source = Float32Array.from({ length: 4096 * 4 }, (_, i) => (i % 17) - 8);
    const loadSource = E.tensor(source, [source.length]);
    const loads = runProbe('loads', loadSource, 1, iterations);
    const loaded = await loads.toArray();
    for (const i of [0, 5, 63]) {
      for (let c = 0; c < 4; c++) {
        let expected = 0;
        for (let k = 0; k < iterations; k++) for (let j = 0; j < 16; j++) expected += source[4 * ((i * 7 + j * 13 + k) & 4095) + c];
        expect(loaded[4 * i + c]).toBe(expected);
      }
    }
    for (const t of [operands, mulAdd, loadSource, loads]) t.dispose();
  });

  test('a tiny run measures every kernel family beside TF.js, outputs agree, and the table lists them', async () => {
    const report = await runBench({ img_size: 32, batch_size: 1, base_channels: 4, models: ['UNet'], repeats: 1, warmup: 1, min_sample_ms: 5 }, true);
    expect(report.tfjs).toMatch(/tfjs-core 4\.22\.0/);
    const ops = new Set(report.kernels.map((r) => r.op));
    for (const op of ['conv2d forward', 'conv2d grad-input', 'conv2d grad-weight', 'conv-transpose2d forward', 'conv-transpose2d backward', 'batchnorm2d forward (train)', 'batchnorm2d forward+backward', 'maxpool2d forward', 'maxpool2d forward+backward', 'concat (channels)', 'bce-with-logits forward+backward', 'adam step']) {
      expect(ops).toContain(op);
    }
    // UNet: 5 encoder and 4 decoder double convs + the 1×1 head = 19 conv2d calls.
    expect(report.kernels.filter((r) => r.op === 'conv2d forward').reduce((s, r) => s + r.count, 0)).toBe(19);
    for (const r of report.kernels) {
      expect(r.petseg.median).toBeGreaterThan(0);
      expect(r.tfjs!.median).toBeGreaterThan(0);
      expect(r.speedup).toBeCloseTo(r.tfjs!.median / r.petseg.median, 10);
      expect(r.check).toBeLessThanOrEqual(1e-3);
      expect((r.flops ?? 0) + (r.bytes ?? 0)).toBeGreaterThan(0);
    }
    expect(report.kernels.some((r) => r.petseg.runsPerSample > 1)).toBe(true);
    for (const r of report.endToEnd) expect(r.petseg.runsPerSample).toBe(1);
    expect(report.endToEnd.map((r) => [r.model, r.what])).toEqual([
      ['UNet', 'training step'],
      ['UNet', 'inference'],
    ]);
    expect(report.endToEnd[0].check).toBeLessThanOrEqual(1e-3);
    for (const r of report.endToEnd) expect(r.tfjs!.median).toBeGreaterThan(0);
    expect(report.ceilings!.mulAddGflops).toBeGreaterThan(0);
    expect(report.ceilings!.loadGBps).toBeGreaterThan(0);
    const convRates = report.kernels.filter((r) => r.op.startsWith('conv2d')).map((r) => r.flops! / r.petseg.median / 1e6);
    expect(convMedianGflops(report, 'petseg')).toBeGreaterThanOrEqual(Math.min(...convRates));
    expect(convMedianGflops(report, 'petseg')).toBeLessThanOrEqual(Math.max(...convRates));
    const table = formatReport(report);
    expect(table).toContain('speed-up = TF.js ms / petseg ms');
    expect(table).toMatch(/multiply-add \d+\.\d GFLOP\/s .* petseg \d+\.\d\d GFLOP\/s = \d+%, TF\.js \d+\.\d\d GFLOP\/s = \d+%/);
    expect(table).toMatch(/UNet \| training step \| \d+\.\d/);
  });

  test('--mixed adds each model\'s mixed-precision training step and inference, and --profile profiles both steps', async () => {
    const report = await runBench({ img_size: 32, batch_size: 1, base_channels: 4, models: ['UNet'], repeats: 1, warmup: 1, min_sample_ms: 0, mixed: true }, false);
    expect(report.endToEnd.map((r) => r.what)).toEqual(['training step', 'inference', 'training step (mixed)', 'inference (mixed)']);
    for (const r of report.endToEnd) expect(r.petseg.median).toBeGreaterThan(0);
    expect(formatReport(report)).toMatch(/UNet \| training step \(mixed\) \| \d+\.\d/);
    const profiles = await profileTrainingSteps({ img_size: 32, batch_size: 1, base_channels: 4, models: ['UNet'], repeats: 1, mixed: true });
    expect(profiles.map((p) => p.precision)).toEqual(['fp32', 'mixed']);
    const mixedKernels = profiles[1].profile!.kernels.map((k) => k.kernel);
    expect(mixedKernels.some((k) => k.startsWith('conv-gemm|') && k.endsWith('-f16'))).toBe(true);
    expect(mixedKernels.some((k) => k.startsWith('cast|'))).toBe(true);
    expect(formatStepProfiles(profiles)).toContain('UNet mixed-precision training step');
  });

  test('the layer-shape recorder sees ResNet34_UNet\'s stem pool as 3×3/s2/p1 and its strided convs', () => {
    const model = new ResNet34UNet();
    try {
      const shapes = recordLayerShapes(model, [2, 3, 64, 64]);
      expect(shapes.maxPool2d).toEqual([{ x: [2, 64, 32, 32], kernel: 3, stride: 2, padding: 1, count: 1 }]);
      expect(shapes.conv2d.find((c) => c.w[2] === 7)).toMatchObject({ x: [2, 3, 64, 64], stride: 2, padding: 3, count: 1 });
      // 1×1/s2 shortcuts of layers 2–4.
      expect(shapes.conv2d.filter((c) => c.w[2] === 1 && c.stride === 2).length).toBe(3);
    } finally {
      model.dispose();
    }
  });

  test('the TF.js twins of UNet and ResNet34_UNet compute petseg\'s logits from its weights (batch and running statistics)', async () => {
    const loaded = await loadTfjs(E.getRuntime().handle.gpu);
    if (typeof loaded === 'string') throw new Error(loaded);
    const tf = loaded.tf;
    // 64×64: ResNet34_UNet's last stage has 2×2 planes (at 32×32, batch statistics of 2 values per channel are ill-conditioned).
    const input = [2, 3, 64, 64];
    const data = new E.Generator(5).fillNormal(new Float32Array(2 * 3 * 64 * 64));
    const x = E.tensor(data, input);
    const tx = tf.tensor(permute(data, input, [0, 2, 3, 1]), [2, 64, 64, 3]);
    for (const model of [new UNet({ baseChannels: 4 }), new ResNet34UNet({ seed: 3 })]) {
      const twin = model instanceof UNet ? await tfUNetFrom(tf, model) : await tfResNet34UNetFrom(tf, model as ResNet34UNet);
      try {
        // Eval first: a training forward moves petseg's running statistics past the twin's copy.
        for (const training of [false, true]) {
          if (training) model.train();
          else model.eval();
          const mine = E.tidy(() => E.noGrad(() => model.forward(x)));
          const theirs = tf.tidy(() => twin.forward(tx, training));
          // [N,1,H,W] and [N,H,W,1] share an order.
          const difference = relativeDifference(await mine.toArray(), (await theirs.data()) as Float32Array);
          expect(difference, `${model.constructor.name} training=${training}`).toBeLessThanOrEqual(1e-4);
          mine.dispose();
          theirs.dispose();
        }
        expect(twin.variables.length).toBe(model.parameters().length);
      } finally {
        twin.dispose();
        model.dispose();
      }
    }
    x.dispose();
    tx.dispose();
  });
});
