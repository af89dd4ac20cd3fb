/**
 * `petseg gpu-check --quick`, as a user runs it on any machine: every part runs (PyTorch where
 * the Python has torch) within the time a CPU adapter allows, and gpu-check.json has the fields
 * the docs and the generated tables read.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import type { GpuCheckReport } from '../bench/gpu-check.js';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

test('gpu-check --quick writes gpu-check.json and gpu-check.md with every part, in under 5 minutes on a CPU adapter', async () => {
  const out = mkdtempSync(join(tmpdir(), 'petseg-gpu-check-'));
  const started = performance.now();
  // Autotuning on (the suite turns it off), into this test's own cache.
  const env = { ...process.env, PETSEG_AUTOTUNE: '', PETSEG_CACHE_DIR: mkdtempSync(join(tmpdir(), 'petseg-gpu-check-cache-')) };
  const { stdout } = await run(process.execPath, ['bin/petseg.js', 'gpu-check', '--quick', '--out', out], { cwd: root, env, maxBuffer: 64 * 2 ** 20 });
  const seconds = (performance.now() - started) / 1000;
  expect(stdout).toMatch(/gpu-check: .*gpu-check\.json and gpu-check\.md written in \d+ s; every part passed/);
  expect(seconds).toBeLessThan(300);
  const report = JSON.parse(readFileSync(join(out, 'gpu-check.json'), 'utf8')) as GpuCheckReport;
  expect(report.format).toBe('petseg-gpu-check-v1');
  expect(report.adapter?.adapter).toMatch(/\S/);
  expect(report.adapter?.dawnOptions.join(' ')).toMatch(/timestamp_quantization/);
  expect(report.parts.map((p) => p.name)).toEqual(['adapter', 'tests', 'bench', 'pytorch', 'lab', 'profile']);
  expect(report.tests.failed).toBe(0);
  expect(report.tests.passed).toBeGreaterThan(50);
  const f16 = report.adapter!.caps.f16;
  const precisions = f16 ? ['fp32', 'mixed'] : ['fp32'];
  // A row per model × what × precision × autotune, with the fields of the docs.
  expect(report.rows.length).toBe(2 * 2 * precisions.length * 2);
  for (const row of report.rows) {
    expect(Object.keys(row).sort()).toEqual(['autotune', 'model', 'petseg_ms', 'precision', 'pytorch_ms', 'what']);
    expect(['train_step', 'inference']).toContain(row.what);
    expect(precisions).toContain(row.precision);
    expect(row.petseg_ms).toBeGreaterThan(0);
    expect(Object.keys(row.pytorch_ms).sort()).toEqual(['amp', 'fp32', 'tf32']);
  }
  const torch = report.parts.find((p) => p.name === 'pytorch')!;
  if (torch.note?.startsWith('skipped')) expect(report.rows.every((r) => r.pytorch_ms.fp32 === null)).toBe(true);
  else expect(report.rows.every((r) => r.pytorch_ms.fp32! > 0 && r.pytorch_ms.tf32! > 0 && r.pytorch_ms.amp! > 0)).toBe(true);
  expect(report.lab.map((r) => `${r.model} ${r.precision}`)).toEqual(['UNet', 'ResNet34_UNet'].flatMap((m) => precisions.map((p) => `${m} ${p}`)));
  for (const r of report.lab) expect(r.peak_gpu_bytes).toBeGreaterThan(0);
  if (report.adapter!.caps.timestampQuery) for (const p of report.profiles) expect(p.top.length).toBe(10);
  const markdown = readFileSync(join(out, 'gpu-check.md'), 'utf8');
  expect(markdown).toMatch(/\| model \| what \| precision \| autotuned \| petseg \| PyTorch default \(TF32\) \| PyTorch fp32 \| PyTorch AMP \| petseg \/ PyTorch \|/);
  expect(markdown).toMatch(/\| profile \| ok \|/);
}, 400_000);
