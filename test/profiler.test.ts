/** The per-kernel GPU profiler (engine/profiler.ts): every launch counted, times that add up, clear refusals. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { UNet } from '../models/unet.js';
import { formatStepProfiles, profileTrainingSteps } from '../bench/profile.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { train } from '../train/trainer.js';
import { useGpu, useRuntime } from './helpers/gpu.js';

useGpu();

describe('per-kernel profiler', () => {
  test('counts every launch, groups by kernel and grid, shares add up to 1', async () => {
    const runtime = E.getRuntime();
    const a = E.randn([64, 64], { seed: 1 });
    const work = () => E.tidy(() => E.keep(a.matmul(a).relu().add(1)));
    work().dispose(); // compiled
    await E.sync();
    let out: E.Tensor | null = null;
    const traced = runtime.traceDispatches(() => (out = work()));
    await E.sync();
    out!.dispose();
    runtime.startProfile();
    for (let i = 0; i < 3; i++) work().dispose();
    const report = await runtime.stopProfile();
    expect(report.dispatches).toBe(3 * traced.length);
    expect(report.kernels.reduce((n, k) => n + k.calls, 0)).toBe(report.dispatches);
    expect(report.kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
    for (const k of report.kernels) expect(k.totalMs).toBeGreaterThanOrEqual(0);
    expect(report.kernels.map((k) => k.totalMs)).toEqual([...report.kernels.map((k) => k.totalMs)].sort((x, y) => y - x));
    expect(E.formatProfile(report)).toMatch(/^\d+ launches, [\d.]+ ms of kernel time\nkernel \| grid \| calls/);
    expect(report.kernels.every((k) => k.gflopsPerSecond === 0)).toBe(true); // no convolution: operations unknown
    a.dispose();
  });

  // The profiled step's own wall time: a pass per launch costs a little (the bench prints both).
  test("a profiled UNet training step's kernel times sum to within 10% of its wall time (on a CPU adapter; at most the wall time anywhere)", async () => {
    const model = new UNet({ baseChannels: 16 }); // the bench's step: large enough that per-pass costs are small beside the kernels
    model.train();
    const optimizer = new E.Adam(model.parameters());
    const x = E.randn([4, 3, 64, 64], { seed: 2 });
    const y = E.rand([4, 1, 64, 64], { seed: 3 });
    const step = async () => {
      E.tidy(() => E.backward(E.bceWithLogits(model.forward(x), y)));
      optimizer.step();
      optimizer.zeroGrad();
      await E.sync();
    };
    for (let i = 0; i < 2; i++) await step();
    const wall: number[] = [];
    const kernel: number[] = [];
    for (let i = 0; i < 5; i++) {
      E.getRuntime().startProfile();
      const started = performance.now();
      await step();
      wall.push(performance.now() - started);
      kernel.push((await E.getRuntime().stopProfile()).kernelMs);
    }
    // Host interference only adds wall time, so the least disturbed step (the largest ratio) is the measure.
    const ratios = kernel.map((k, i) => k / wall[i]);
    const ratio = Math.max(...ratios);
    // Convolution rows carry their operations: GFLOP/s.
    E.getRuntime().startProfile();
    await step();
    const conv = (await E.getRuntime().stopProfile()).kernels.filter((k) => k.kernel.startsWith('conv-') && k.gflopsPerSecond > 0);
    expect(conv.length).toBeGreaterThan(5);
    // Where kernels dominate the step (a CPU adapter: each takes milliseconds) they account for its wall time; on a GPU
    // this small step is bound by encoding and submission on the host, so only the upper bound holds there.
    if (E.getRuntime().caps.software) expect(ratio, `kernel ${kernel.map((k) => k.toFixed(1))} ms, wall ${wall.map((w) => w.toFixed(1))} ms`).toBeGreaterThan(0.9);
    expect(Math.max(...ratios)).toBeLessThan(1.02); // inside the step, up to timestamp rounding
    for (const t of [x, y]) t.dispose();
    optimizer.dispose();
    model.dispose();
  });

  test('one profile at a time, none inside timeGpu', async () => {
    const runtime = E.getRuntime();
    await expect(runtime.stopProfile()).rejects.toThrow(/no profile is running/);
    runtime.startProfile();
    expect(() => runtime.startProfile()).toThrow(/already running/);
    await expect(runtime.timeGpu(() => {})).rejects.toThrow(/not while a profile is running/);
    expect((await runtime.stopProfile()).dispatches).toBe(0);
  });

  test('bench --profile and train --profile N report the training steps', async () => {
    const [row] = await profileTrainingSteps({ img_size: 32, batch_size: 2, base_channels: 4, models: ['UNet'], repeats: 1 });
    expect(row.profile!.dispatches).toBeGreaterThan(100);
    expect(row.kernelMsPerStep).toBeGreaterThan(0);
    expect(formatStepProfiles([row])).toMatch(/^UNet training step, input 2×3×32×32: [\d.]+ ms wall \(median of 1\), [\d.]+ ms of kernel time per step/);
    const work = mkdtempSync(join(tmpdir(), 'petseg-profile-'));
    writeSyntheticDataset(join(work, 'data'), { trainval: 12, test: 2, size: 32, seed: 1 });
    const output: string[] = [];
    const run = await train({
      dataPath: join(work, 'data'),
      model: 'UNet',
      modelOptions: { baseChannels: 4 },
      seed: 0,
      epochs: 1,
      lr: 1e-3,
      weightDecay: 0,
      batchSize: 4,
      imgSize: 32,
      augment: false,
      maskThreshold: 0.5,
      saveDir: join(work, 'run'),
      logDir: null,
      resume: false,
      profileSteps: 2,
      out: { write: (t: string) => output.push(t), isTTY: false },
      warn: () => {},
    });
    run.model.dispose();
    expect(output.join('')).toMatch(/\nprofile of 2 training steps \([\d.]+ ms of kernel time per step\):\n\d+ launches, [\d.]+ ms of kernel time in [\d.]+ ms of wall time\nkernel \| grid/);
  });

  describe('an adapter without timestamp-query', () => {
    useRuntime({ caps: { timestampQuery: false } });
    test('startProfile is refused with a line naming the adapter; the bench falls back to wall time, with a note', async () => {
      expect(() => E.getRuntime().startProfile()).toThrow(/^profiling needs the timestamp-query feature, which .+ lacks; time whole steps instead$/);
      const rows = await profileTrainingSteps({ img_size: 32, batch_size: 1, base_channels: 4, models: ['UNet'], repeats: 1 });
      expect(rows[0].profile).toBeNull();
      expect(formatStepProfiles(rows)).toMatch(/^UNet training step, input 1×3×32×32: [\d.]+ ms wall \(median of 1\); this adapter lacks timestamp-query, so no per-kernel times$/);
    });
  });
});
