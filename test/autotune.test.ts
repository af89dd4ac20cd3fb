/**
 * The autotuner on the real adapter: it keeps the faster of candidates whose speeds clearly
 * differ, persists its table so the next runtime starts tuned (and reuses it without timing
 * again), and with autotuning off the planner's order runs whatever the table says.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { convCandidates, convKernelsUsed } from '../engine/ops/conv.js';
import { fileTuneStore } from '../engine/tune-store.js';
import { autotuneModel } from '../train/tune.js';
import { UNet } from '../models/unet.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'petseg-autotune-'));

async function restart(options: E.InitOptions): Promise<E.Runtime> {
  E.shutdown();
  return E.init({ cacheDir, ...options });
}

afterAll(() => E.shutdown());

/** A 3×3 convolution's forward: on a CPU adapter the direct kernels run it several times faster than the implicit GEMM. */
const x = [8, 16, 64, 64];
const w = [8, 16, 3, 3];
const forward = () => {
  const y = E.tidy(() => E.conv2d(E.randn(x, { seed: 1 }), E.randn(w, { seed: 2 }), null, { padding: 1 }));
  return y;
};

test('GPU timing: timestamps (or a submit-and-wait) around the recorded work, longer for more work', async () => {
  const runtime = await restart({ autotune: false });
  const a = E.randn([1 << 16], { seed: 3 });
  const once = await runtime.timeGpu(() => a.mul(2).dispose());
  const many = await runtime.timeGpu(() => {
    for (let i = 0; i < 40; i++) a.mul(2).dispose();
  });
  expect(once).toBeGreaterThan(0);
  expect(many).toBeGreaterThan(once);
  a.dispose();
});

test('the autotuner keeps the faster candidate (direct kernels vs the implicit GEMM on a CPU adapter) and persists it', async (ctx) => {
  const runtime = await restart({ autotune: true });
  if (!runtime.caps.software) ctx.skip();
  // Only the plain gather and the GEMM: two candidates whose speeds differ clearly here.
  await restart({ autotune: true, exclude: ['gather-subgroup', 'gather-3x3-rows', 'gather-channels-subgroup'] });
  const report = await E.autotune(() => forward().dispose());
  expect(report.tuned.length).toBe(1);
  const [choice] = report.tuned;
  expect(Object.keys(choice.times)).toEqual(['gather', 'gemm-16x256']);
  expect(choice.times['gemm-16x256']).toBeGreaterThan(2 * choice.times.gather);
  expect(choice.kernel).toBe('gather');
  expect(convKernelsUsed(() => forward().dispose())).toEqual(new Set(['gather']));
  const file = JSON.parse(readFileSync(join(cacheDir, 'autotune.json'), 'utf8'));
  expect(Object.values(file.adapters as Record<string, Record<string, string>>).some((t) => Object.values(t).includes('gather'))).toBe(true);
});

test('a persisted choice is reused without timing (for the same candidates); autotune: false runs the planner order whatever the table says', async (ctx) => {
  const runtime = await restart({ autotune: true });
  if (!runtime.caps.software) ctx.skip();
  expect((await E.autotune(() => forward().dispose())).tuned.length).toBe(1);
  // A table that (against the measurements) chose the GEMM for this shape: the next runtime uses it as is.
  const key = [...runtime.tuner.choices.keys()].find((k) => k.startsWith('forward 3x3') && k.includes('gather-subgroup'))!;
  const store = await fileTuneStore(cacheDir);
  await store.save(runtime.tuner.adapterId, { [key]: 'gemm-16x256' });
  await restart({ autotune: true });
  expect((await E.autotune(() => forward().dispose())).tuned).toEqual([]);
  expect(convKernelsUsed(() => forward().dispose())).toEqual(new Set(['gemm-16x256']));
  await restart({ autotune: false });
  expect((await E.autotune(() => forward().dispose())).tuned).toEqual([]);
  const layer = { batch: 8, srcChannels: 16, srcH: 64, srcW: 64, dstChannels: 8, dstH: 64, dstW: 64, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1 };
  const first = convCandidates('forward', layer, false)[0].kernel;
  expect(first).not.toBe('gemm-16x256');
  expect(convKernelsUsed(() => forward().dispose())).toEqual(new Set([first]));
});

test('tuning a model leaves its parameters, gradients and BatchNorm statistics as they were', async () => {
  await restart({ autotune: true, cacheDir: mkdtempSync(join(tmpdir(), 'petseg-autotune-model-')) });
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

test('a damaged autotune cache is ignored with one line naming it, then rewritten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'petseg-autotune-bad-'));
  writeFileSync(join(dir, 'autotune.json'), '{"version": 1, "adapters": ');
  const lines: string[] = [];
  const store = await fileTuneStore(dir, (line) => lines.push(line));
  expect(await store.load('any')).toEqual({});
  expect(lines).toEqual([expect.stringMatching(/ignoring the autotune cache .*autotune\.json .*rewritten/)]);
  await store.save('any', { k: 'gather' });
  expect(await store.load('any')).toEqual({ k: 'gather' });
});
