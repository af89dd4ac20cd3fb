/** The bench harness on a tiny configuration: structure and sanity, not speed. */
import { describe, expect, test } from 'vitest';
import { formatReport, runBench } from '../bench/main.js';
import { permute, relativeDifference, timeWork } from '../bench/timing.js';

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
    const table = formatReport(report);
    expect(table).toContain('speed-up = TF.js ms / petseg ms');
    expect(table).toMatch(/UNet \| training step \| \d+\.\d/);
  });
});
