/**
 * The autotuner: on a timer as coarse as Dawn's quantized timestamps (a fake one with a 65.536 µs
 * quantum and known kernel costs) it still keeps the truly fastest candidate, warming each up and
 * timing samples long enough; its budget leaves what does not fit untuned; keys change with the
 * kernels' code; a short batch borrows the full batch's choice. On the real adapter it keeps the
 * faster of candidates whose speeds clearly differ, persists its table so the next runtime
 * starts tuned (and reuses it without timing again), and with autotuning off the planner's order
 * runs whatever the table says.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { kernelVersion, tableKeys } from '../engine/conv-tuner.js';
import { convCandidates, convKernelsUsed } from '../engine/ops/conv.js';
import { fileTuneStore } from '../engine/tune-store.js';
import { convPlans, type ConvDirection, type ConvGeometry, type ConvPlan } from '../kernels/conv/index.js';
import { autotuneModel } from '../train/tune.js';
import { UNet } from '../models/unet.js';
import { withRuntime } from './helpers/gpu.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'petseg-autotune-'));

/** A runtime for `compute` with this file's autotune cache, unless `options` name another. */
const tuning = <T>(options: E.InitOptions, compute: (runtime: E.Runtime) => Promise<T>) => withRuntime({ cacheDir, ...options }, compute);

/** A 3×3 convolution's forward: on a CPU adapter the direct kernels run it several times faster than the implicit GEMM. */
const x = [8, 16, 64, 64];
const w = [8, 16, 3, 3];
const forward = () => {
  const y = E.tidy(() => E.conv2d(E.randn(x, { seed: 1 }), E.randn(w, { seed: 2 }), null, { padding: 1 }));
  return y;
};

test('GPU timing: timestamps (or a submit-and-wait) around the recorded work, longer for more work', async () => {
  await tuning({ autotune: false }, async (runtime) => {
    const a = E.randn([1 << 16], { seed: 3 });
    const once = await runtime.timeGpu(() => a.mul(2).dispose());
    const many = await runtime.timeGpu(() => {
      for (let i = 0; i < 40; i++) a.mul(2).dispose();
    });
    expect(once).toBeGreaterThanOrEqual(0);
    expect(many).toBeGreaterThan(once);
    a.dispose();
  });
});

test("Dawn's timestamps are not rounded to 65.536 µs (petseg's default Dawn options)", async (ctx) => {
  await tuning({ autotune: false }, async (runtime) => {
    ctx.skip(!runtime.caps.timestampQuery, `${runtime.adapterName} lacks timestamp-query`);
    expect(runtime.adapterReport.dawnOptions).toContain('disable-dawn-features=timestamp_quantization');
    const a = E.randn([1 << 12], { seed: 3 });
    const times: number[] = [];
    for (let i = 0; i < 8; i++) times.push(await runtime.timeGpu(() => a.mul(2).dispose()));
    a.dispose();
    const quantized = (ms: number) => Math.abs(ms / QUANTUM_MS - Math.round(ms / QUANTUM_MS)) < 1e-6;
    expect(times.every(quantized), times.join(', ')).toBe(false);
  });
});

/** Dawn's default timestamp rounding. */
const QUANTUM_MS = 0.065536;
const small: ConvGeometry = { batch: 1, srcChannels: 4, srcH: 8, srcW: 8, dstChannels: 4, dstH: 8, dstW: 8, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1 };
const smallForward = () => E.tidy(() => E.conv2d(E.randn([1, 4, 8, 8], { seed: 1 }), E.randn([4, 4, 3, 3], { seed: 2 }), null, { padding: 1 }));

/**
 * A timer with a 65.536 µs quantum over a cost model: the planner's last candidate costs 20 µs a
 * run, every other 40 µs (a single run of either reads 0), and the first launch of each kernel
 * 1 ms more (first use). It logs the launches of every timed call.
 */
function quantizedTimer(plans: readonly ConvPlan[], calls: number[]) {
  const ids = (plan: ConvPlan) => plan.launches.map((l) => `${l.kernel.name}|${l.kernel.key}`);
  const owners = new Map<string, number>();
  for (const plan of plans) for (const id of new Set(ids(plan))) owners.set(id, (owners.get(id) ?? 0) + 1);
  const cost = new Map<string, number>();
  plans.forEach((plan, i) => {
    const own = ids(plan).filter((id) => owners.get(id) === 1);
    for (const id of own) cost.set(id, (i === plans.length - 1 ? 0.02 : 0.04) / own.length);
  });
  const seen = new Set<string>();
  return async (record: () => void) => {
    const launched = E.getRuntime().traceDispatches(record);
    calls.push(launched.length);
    let ms = 0;
    for (const id of launched) {
      ms += (cost.get(id) ?? 0.0001) + (seen.has(id) ? 0 : 1);
      seen.add(id);
    }
    return Math.floor(ms / QUANTUM_MS) * QUANTUM_MS;
  };
}

test('on a timer with a 65.536 µs quantum the autotuner keeps the truly fastest candidate: warm-up excluded, samples of many runs', async () => {
  await tuning({ autotune: true, cacheDir: null }, async () => {
    const plans = convCandidates('forward', small, false);
    expect(plans.length).toBeGreaterThan(1);
    const calls: number[] = [];
    const report = await E.autotune(() => smallForward().dispose(), { timer: quantizedTimer(plans, calls) });
    expect(report.tuned.length).toBe(1);
    const [choice] = report.tuned;
    const fastest = plans[plans.length - 1].kernel;
    // A single run of every candidate reads 0 on this timer: timed once, they would tie and the first would be kept.
    expect(choice.kernel, JSON.stringify(choice)).toBe(fastest);
    for (const plan of plans) {
      const truth = plan.kernel === fastest ? 0.02 : 0.04;
      expect(Math.abs(choice.times[plan.kernel] - truth) / truth, plan.kernel).toBeLessThan(0.05);
      expect(choice.runsPerSample[plan.kernel]).toBeGreaterThanOrEqual(Math.ceil((2 - QUANTUM_MS) / truth));
    }
    // Each candidate's first timed call is its warm-up: one run (its first-use millisecond never reaches a kept sample).
    expect(calls[0]).toBe(plans[0].launches.length);
  });
});

test('a budget leaves what does not fit untuned (the planner order runs, nothing is persisted) and says so', async () => {
  const untuned = await tuning({ autotune: true, cacheDir: mkdtempSync(join(tmpdir(), 'petseg-budget-')), autotuneBudget: 0 }, async () => {
    const model = new UNet({ baseChannels: 4, seed: 5 });
    const report = await autotuneModel(model, [[1, 3, 32, 32]], true);
    expect(report.tuned).toEqual([]);
    expect(report.untuned).toBeGreaterThan(10);
    expect(E.describeAutotune(report)).toMatch(/^\d+ convolution shapes left untuned: the autotune budget of 0 s is spent, so they run the planner's first kernel .*PETSEG_AUTOTUNE_BUDGET/);
    expect(E.getRuntime().tuner.choices.size).toBe(0);
    model.dispose();
    return report.untuned;
  });
  // A budget that runs out midway: some shapes tuned, the rest counted as untuned.
  await tuning({ autotune: true, cacheDir: null, autotuneBudget: 2 }, async () => {
    const again = new UNet({ baseChannels: 4, seed: 5 });
    const slow = async (record: () => void) => {
      E.getRuntime().traceDispatches(record);
      await new Promise((resolve) => setTimeout(resolve, 25));
      return 3;
    };
    const partial = await autotuneModel(again, [[1, 3, 32, 32]], true, false, { timer: slow });
    expect(partial.tuned.length).toBeGreaterThan(0);
    expect(partial.untuned).toBeGreaterThan(0);
    expect(partial.tuned.length + partial.untuned).toBe(untuned);
    again.dispose();
  });
});

test("the table is kept with a hash of the kernels' WGSL, which any kernel's change changes; a short batch borrows the nearest tuned batch's choice", async () => {
  await tuning({ autotune: true, cacheDir: null }, async (runtime) => {
    const plansOf = (direction: ConvDirection, layer: ConvGeometry, hasBias: boolean, operands: 'f32' | 'f16') => convPlans(direction, layer, runtime.caps, hasBias, runtime.settings.conv, operands);
    const version = kernelVersion(plansOf, ['f32']);
    expect(kernelVersion(plansOf, ['f32'])).toBe(version);
    expect(runtime.tuner.kernels).toBe(kernelVersion(plansOf, runtime.caps.f16 ? ['f32', 'f16'] : ['f32']));
    // One kernel's code edited (the first candidate of every 3×3 forward): another version.
    const edited = (direction: ConvDirection, layer: ConvGeometry, hasBias: boolean, operands: 'f32' | 'f16') =>
      plansOf(direction, layer, hasBias, operands).map((p, i) => (i === 0 && direction === 'forward' && layer.kh === 3 ? { ...p, launches: p.launches.map((l) => ({ ...l, kernel: { ...l.kernel, source: () => `${l.kernel.source()}\n// edited` } })) } : p));
    expect(kernelVersion(edited, ['f32'])).not.toBe(version);
    // A table measured on other kernels is not loaded.
    const dir = mkdtempSync(join(tmpdir(), 'petseg-autotune-version-'));
    const store = await fileTuneStore(dir);
    await store.save('adapter', 'old-kernels', { k: 'gather' });
    expect(await store.load('adapter', 'new-kernels')).toEqual({});
    expect(await store.load('adapter', 'old-kernels')).toEqual({ k: 'gather' });
    await store.save('adapter', 'new-kernels', { j: 'gemm-64x64' });
    expect(await store.load('adapter', 'old-kernels')).toEqual({});
    // Batch 1's keys borrow from batch 2, 4, …: a choice made for batch 8 serves a batch of 1.
    const plans = convCandidates('forward', small, false);
    const full = { ...small, batch: 8 };
    const last = plans[plans.length - 1].kernel;
    runtime.tuner.set(tableKeys('forward', full, convCandidates('forward', full, false))[0], last);
    expect(convKernelsUsed(() => smallForward().dispose())).toEqual(new Set([last]));
  });
});

test('an autotune table of an older format is replaced without a warning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'petseg-autotune-v1-'));
  writeFileSync(join(dir, 'autotune.json'), JSON.stringify({ version: 1, adapters: { any: { 'forward 3x3 [gather gemm-16x256]': 'gather' } } }));
  const lines: string[] = [];
  const store = await fileTuneStore(dir, (line) => lines.push(line));
  expect(await store.load('any', 'kernels')).toEqual({});
  await store.save('any', 'kernels', { k: 'gather' });
  expect(JSON.parse(readFileSync(join(dir, 'autotune.json'), 'utf8'))).toEqual({ version: 2, adapters: { any: { kernels: 'kernels', choices: { k: 'gather' } } } });
  expect(lines).toEqual([]);
});

test('the autotuner keeps the faster candidate (direct kernels vs the implicit GEMM on a CPU adapter) and persists it', async (ctx) => {
  await tuning({ autotune: true }, async (runtime) => {
    ctx.skip(!runtime.caps.software, 'needs the direct kernels of a CPU adapter, which run this shape several times faster than the implicit GEMM');
  });
  // Only the plain gather and the GEMM: two candidates whose speeds differ clearly here.
  await tuning({ autotune: true, exclude: ['gather-subgroup', 'gather-3x3-rows', 'gather-channels-subgroup'] }, async () => {
    const report = await E.autotune(() => forward().dispose());
    expect(report.tuned.length).toBe(1);
    const [choice] = report.tuned;
    expect(Object.keys(choice.times)).toEqual(['gather', 'gemm-16x256']);
    expect(choice.times['gemm-16x256']).toBeGreaterThan(2 * choice.times.gather);
    expect(choice.kernel).toBe('gather');
    expect(convKernelsUsed(() => forward().dispose())).toEqual(new Set(['gather']));
    const file = JSON.parse(readFileSync(join(cacheDir, 'autotune.json'), 'utf8'));
    expect(Object.values(file.adapters as Record<string, { choices: Record<string, string> }>).some((t) => Object.values(t.choices).includes('gather'))).toBe(true);
  });
});

test('a persisted choice is reused without timing (for the same candidates); autotune: false runs the planner order whatever the table says', async (ctx) => {
  await tuning({ autotune: true }, async (runtime) => {
    ctx.skip(!runtime.caps.software, "needs a CPU adapter's candidates (gather-subgroup and the GEMM)");
    expect((await E.autotune(() => forward().dispose())).tuned.length).toBe(1);
    // A table that (against the measurements) chose the GEMM for this shape: the next runtime uses it as is.
    const key = [...runtime.tuner.choices.keys()].find((k) => k.startsWith('forward 3x3') && k.includes('gather-subgroup'))!;
    const store = await fileTuneStore(cacheDir);
    await store.save(runtime.tuner.adapterId, runtime.tuner.kernels, { [key]: 'gemm-16x256' });
  });
  await tuning({ autotune: true }, async () => {
    expect((await E.autotune(() => forward().dispose())).tuned).toEqual([]);
    expect(convKernelsUsed(() => forward().dispose())).toEqual(new Set(['gemm-16x256']));
  });
  await tuning({ autotune: false }, async () => {
    expect((await E.autotune(() => forward().dispose())).tuned).toEqual([]);
    const layer = { batch: 8, srcChannels: 16, srcH: 64, srcW: 64, dstChannels: 8, dstH: 64, dstW: 64, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1 };
    const first = convCandidates('forward', layer, false)[0].kernel;
    expect(first).not.toBe('gemm-16x256');
    expect(convKernelsUsed(() => forward().dispose())).toEqual(new Set([first]));
  });
});

test('tuning a model leaves its parameters, gradients and BatchNorm statistics as they were', async () => {
  await tuning({ autotune: true, cacheDir: mkdtempSync(join(tmpdir(), 'petseg-autotune-model-')) }, async () => {
    const model = new UNet({ baseChannels: 4, seed: 5 });
    const before = await Promise.all([...model.stateDict().values()].map((t) => t.toArray()));
    const report = await autotuneModel(model, [[2, 3, 32, 32]], true);
    expect(report.tuned.length).toBeGreaterThan(0);
    const after = await Promise.all([...model.stateDict().values()].map((t) => t.toArray()));
    expect(after.map((a) => Array.from(a))).toEqual(before.map((a) => Array.from(a)));
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    expect(model.training).toBe(true);
    // Everything the step needs is tuned now: a second pass tunes nothing.
    expect((await autotuneModel(model, [[2, 3, 32, 32]], true)).tuned).toEqual([]);
    model.dispose();
  });
});

test('a damaged autotune cache is ignored with one line naming it, then rewritten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'petseg-autotune-bad-'));
  writeFileSync(join(dir, 'autotune.json'), '{"version": 1, "adapters": ');
  const lines: string[] = [];
  const store = await fileTuneStore(dir, (line) => lines.push(line));
  expect(await store.load('any', 'v')).toEqual({});
  expect(lines).toEqual([expect.stringMatching(/ignoring the autotune cache .*autotune\.json .*rewritten/)]);
  await store.save('any', 'v', { k: 'gather' });
  expect(await store.load('any', 'v')).toEqual({ k: 'gather' });
});
