/**
 * `petseg gpu-check`: everything a machine with a GPU should report, in one command that needs
 * only Node and the built project (Python with torch optional; no apt, network or compiler).
 * Parts run in order; a part that fails is recorded and the next one runs:
 *
 *   1. adapter   the adapter report (`petseg info`);
 *   2. tests     the correctness tests of convolutions, BatchNorm, both models and mixed
 *                precision on this adapter (vitest, where the repository's tests are present);
 *   3. bench     `bench --full --tfjs=false`, fp32 and mixed, autotuned and with autotuning off;
 *   4. pytorch   the same steps in PyTorch on the same GPU: default (TF32), strict fp32, AMP;
 *   5. lab       training steps at the lab's batch sizes (UNet 46, ResNet34_UNet 128), with
 *                peak GPU memory;
 *   6. profile   the top kernels of each training step.
 *
 * `quick` runs the same path at small sizes (a test runs it on a CPU adapter).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { createModel, MODELS, type ModelName } from '../models/index.js';
import { autotuneModel, type Precision } from '../train/index.js';
import { runBench, type BenchReport, type EndToEndRow } from './main.js';
import { profileTrainingSteps, trainingStep } from './profile.js';
import { median } from './timing.js';

/** One measurement beside PyTorch's three modes (null where a side did not run). */
export interface GpuCheckRow {
  model: ModelName;
  what: 'train_step' | 'inference';
  precision: Precision;
  autotune: boolean;
  petseg_ms: number | null;
  pytorch_ms: { tf32: number | null; fp32: number | null; amp: number | null };
}

export interface LabRow {
  model: ModelName;
  precision: Precision;
  input: number[];
  steps: number;
  step_ms: number;
  images_per_s: number;
  peak_gpu_bytes: number;
}

export interface ProfileRow {
  model: ModelName;
  precision: Precision;
  input: number[];
  step_ms: number;
  kernel_ms_per_step: number | null;
  top: E.KernelProfile[];
}

export interface PartResult {
  name: string;
  ok: boolean;
  seconds: number;
  /** Why it failed or was skipped. */
  note?: string;
}

export interface GpuCheckReport {
  format: 'petseg-gpu-check-v1';
  date: string;
  quick: boolean;
  config: GpuCheckSizes;
  adapter: E.RuntimeInfo | null;
  tests: { passed: number | null; failed: number | null; skipped: number | null; files: string[] };
  pytorch: { version: string; device: string } | null;
  rows: GpuCheckRow[];
  lab: LabRow[];
  profiles: ProfileRow[];
  parts: PartResult[];
}

export interface GpuCheckSizes {
  img_size: number;
  batch_size: number;
  base_channels: number;
  /** The lab's batch sizes (part 5) and their image size. */
  lab_batch: Record<ModelName, number>;
  lab_img_size: number;
  lab_steps: number;
  repeats: number;
  warmup: number;
  min_sample_ms: number;
  /** The bench's kernel rows too (part 3), or only its end-to-end rows. */
  kernel_rows: boolean;
  /** Seconds of autotuning per runtime (InitOptions.autotuneBudget). */
  autotune_budget: number;
}

const FULL: GpuCheckSizes = {
  img_size: 256, batch_size: 8, base_channels: 64,
  lab_batch: { UNet: 46, ResNet34_UNet: 128 }, lab_img_size: 256, lab_steps: 10,
  repeats: 5, warmup: 2, min_sample_ms: 20, kernel_rows: true, autotune_budget: 120,
};

const QUICK: GpuCheckSizes = {
  img_size: 32, batch_size: 2, base_channels: 4,
  lab_batch: { UNet: 2, ResNet34_UNet: 2 }, lab_img_size: 32, lab_steps: 1,
  repeats: 1, warmup: 1, min_sample_ms: 0, kernel_rows: false, autotune_budget: 5,
};

/** Test files of part 2: convolutions and BatchNorm, both models, mixed precision (quick: the PyTorch layer fixtures). */
const TEST_FILES = {
  full: ['test/layers.test.ts', 'test/models.test.ts', 'test/mixed-precision.test.ts', 'test/pytorch-layers.test.ts', 'test/pytorch-parity.test.ts'],
  quick: ['test/pytorch-layers.test.ts', 'test/pytorch-parity.test.ts'],
};

const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export interface GpuCheckOptions {
  quick: boolean;
  /** Folder for the parts' own files (tests.json, bench-*.json, pytorch.json). */
  out: string;
  /** The package root (test/, scripts/, node_modules/). */
  root: string;
  python: string;
  log: (line: string) => void;
}

/** A fresh runtime (its own peak memory) with the check's autotuning budget. */
async function restart(sizes: GpuCheckSizes, options: E.InitOptions = {}): Promise<E.Runtime> {
  E.shutdown();
  return E.init({ autotuneBudget: sizes.autotune_budget, ...options });
}

/** Part 2: vitest on this adapter, through the repository's own runner. */
function runTests(o: GpuCheckOptions, report: GpuCheckReport): string | undefined {
  const vitest = join(o.root, 'node_modules', 'vitest', 'vitest.mjs');
  const files = o.quick ? TEST_FILES.quick : TEST_FILES.full;
  report.tests.files = files;
  if (!existsSync(vitest) || !files.every((f) => existsSync(join(o.root, f)))) return 'skipped: the tests and vitest are not in this installation (run it from a repository checkout, or a pack of one)';
  const output = join(o.out, 'tests.json');
  // A clean environment for the child runner (this process may itself run under vitest).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'TEST'));
  const result = spawnSync(process.execPath, [vitest, 'run', ...files, '--reporter=json', `--outputFile=${output}`], { cwd: o.root, env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (!existsSync(output)) throw new Error(`vitest wrote no report (exit ${result.status}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`);
  const json = JSON.parse(readFileSync(output, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
  report.tests = { ...report.tests, passed: json.numPassedTests, failed: json.numFailedTests, skipped: json.numPendingTests + json.numTodoTests };
  return json.numFailedTests > 0 ? `${json.numFailedTests} failed (see tests.json)` : undefined;
}

const rowWhat = (what: EndToEndRow['what']): { what: GpuCheckRow['what']; precision: Precision } => ({
  what: what.startsWith('training') ? 'train_step' : 'inference',
  precision: what.endsWith('(mixed)') ? 'mixed' : 'fp32',
});

/** Part 3: the bench's end-to-end rows, autotuned and not; its full reports are written beside. */
async function runBenchPart(o: GpuCheckOptions, sizes: GpuCheckSizes, report: GpuCheckReport, write: (name: string, value: unknown) => void): Promise<void> {
  for (const autotune of [true, false]) {
    const runtime = await restart(sizes, { autotune });
    const bench: BenchReport = await runBench(
      { img_size: sizes.img_size, batch_size: sizes.batch_size, base_channels: sizes.base_channels, models: MODEL_NAMES, repeats: sizes.repeats, warmup: sizes.warmup, min_sample_ms: sizes.min_sample_ms, mixed: runtime.caps.f16, kernel_rows: sizes.kernel_rows },
      false,
      o.log,
    );
    write(`bench-${autotune ? 'autotuned' : 'static'}.json`, bench);
    for (const r of bench.endToEnd) {
      report.rows.push({ model: r.model as ModelName, ...rowWhat(r.what), autotune, petseg_ms: r.petseg.median, pytorch_ms: { tf32: null, fp32: null, amp: null } });
    }
  }
}

/** Part 4: scripts/bench_pytorch_step.py on the same sizes, its figures set beside every row. */
function runPytorch(o: GpuCheckOptions, sizes: GpuCheckSizes, report: GpuCheckReport): string | undefined {
  const script = join(o.root, 'scripts', 'bench_pytorch_step.py');
  if (!existsSync(script)) return 'skipped: scripts/bench_pytorch_step.py is not in this installation';
  const probe = spawnSync(o.python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `skipped: ${o.python} has no torch (${probe.error?.message ?? (probe.stderr.trim().split('\n').pop() || 'import failed')})`;
  const output = join(o.out, 'pytorch.json');
  const args = [script, '--img_size', String(sizes.img_size), '--batch_size', String(sizes.batch_size), '--base_channels', String(sizes.base_channels), '--models', MODEL_NAMES.join(','), '--repeats', String(Math.max(sizes.repeats, 3)), '--tf32', '--amp', '--json', output];
  const result = spawnSync(o.python, args, { cwd: o.root, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`bench_pytorch_step.py failed (exit ${result.status}): ${(result.stderr || result.stdout).trim().split('\n').slice(-2).join(' ')}`);
  const torch = JSON.parse(readFileSync(output, 'utf8')) as { pytorch: string; device: string; rows: { model: string; what: string; mode: 'fp32' | 'tf32' | 'amp'; ms: number }[] };
  report.pytorch = { version: torch.pytorch, device: torch.device };
  for (const row of report.rows) {
    for (const t of torch.rows) {
      if (t.model === row.model && t.what.startsWith(row.what === 'train_step' ? 'training step' : 'inference')) row.pytorch_ms[t.mode] = t.ms;
    }
  }
  return undefined;
}

/** Part 5: `lab_steps` training steps at the lab's batch sizes, after tuning that shape; the peak of live GPU memory. */
async function runLab(sizes: GpuCheckSizes, report: GpuCheckReport, log: (line: string) => void): Promise<void> {
  const f16 = (await restart(sizes)).caps.f16;
  for (const model of MODEL_NAMES) {
    for (const precision of f16 ? (['fp32', 'mixed'] as const) : (['fp32'] as const)) {
      await restart(sizes);
      const N = sizes.lab_batch[model];
      const S = sizes.lab_img_size;
      const net = createModel(model, model === 'UNet' ? { baseChannels: sizes.base_channels } : {});
      const mixed = precision === 'mixed';
      const tuned = E.describeAutotune(await autotuneModel(net, [[N, 3, S, S]], true, mixed));
      if (tuned) log(tuned);
      E.resetPeakMemory(); // the peak of training, not of tuning's operands
      const x = E.randn([N, 3, S, S], { seed: 1 });
      const y = E.zeros([N, 1, S, S]);
      const optimizer = new E.Adam(net.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
      const scaler = mixed ? new E.GradScaler() : null;
      net.train();
      const times: number[] = [];
      try {
        for (let i = 0; i < sizes.lab_steps + 1; i++) {
          const started = performance.now();
          const loss = await trainingStep(net, x, y, optimizer, scaler);
          await loss.item();
          loss.dispose();
          if (i > 0) times.push(performance.now() - started); // the first step compiles
        }
        const stepMs = median(times);
        report.lab.push({ model, precision, input: [N, 3, S, S], steps: sizes.lab_steps, step_ms: stepMs, images_per_s: (1000 * N) / stepMs, peak_gpu_bytes: E.memoryStats().peakLiveBytes });
        log(`${model} ${precision} batch ${N}: ${stepMs.toFixed(1)} ms per step, peak ${(E.memoryStats().peakLiveBytes / 2 ** 20).toFixed(1)} MiB of GPU memory`);
      } finally {
        optimizer.dispose();
        x.dispose();
        y.dispose();
        net.dispose();
      }
    }
  }
}

/** Part 6: each model's training step under the per-kernel profiler; its top 10 kernels. */
async function runProfiles(sizes: GpuCheckSizes, report: GpuCheckReport): Promise<string | undefined> {
  const runtime = await restart(sizes);
  if (!runtime.caps.timestampQuery) return `skipped: ${runtime.adapterName} lacks timestamp-query`;
  const rows = await profileTrainingSteps({ img_size: sizes.img_size, batch_size: sizes.batch_size, base_channels: sizes.base_channels, models: MODEL_NAMES, repeats: Math.min(sizes.repeats, 3), mixed: runtime.caps.f16 });
  for (const r of rows) {
    report.profiles.push({ model: r.model, precision: r.precision, input: r.input, step_ms: r.stepMs, kernel_ms_per_step: r.kernelMsPerStep, top: r.profile?.kernels.slice(0, 10) ?? [] });
  }
  return undefined;
}

/** Runs every part (see the top of this file); `write` stores a part's own file in the output folder. */
export async function gpuCheck(o: GpuCheckOptions, write: (name: string, value: unknown) => void): Promise<GpuCheckReport> {
  const sizes = o.quick ? QUICK : FULL;
  const report: GpuCheckReport = {
    format: 'petseg-gpu-check-v1',
    date: new Date().toISOString(),
    quick: o.quick,
    config: sizes,
    adapter: null,
    tests: { passed: null, failed: null, skipped: null, files: [] },
    pytorch: null,
    rows: [],
    lab: [],
    profiles: [],
    parts: [],
  };
  const part = async (name: string, run: () => Promise<string | undefined> | string | undefined) => {
    o.log(`gpu-check: ${name}…`);
    const started = performance.now();
    let result: PartResult;
    try {
      const note = await run();
      result = { name, ok: note === undefined || note.startsWith('skipped'), seconds: 0, ...(note ? { note } : {}) };
    } catch (err) {
      result = { name, ok: false, seconds: 0, note: (err as Error).message.split('\n')[0] };
    }
    result.seconds = (performance.now() - started) / 1000;
    report.parts.push(result);
    o.log(`gpu-check: ${name} ${result.ok ? 'done' : 'FAILED'} in ${result.seconds.toFixed(1)} s${result.note ? ` (${result.note})` : ''}`);
  };
  await part('adapter', async () => {
    report.adapter = E.describeRuntime(await restart(sizes));
    return undefined;
  });
  await part('tests', () => {
    E.shutdown(); // the runner opens its own device
    return runTests(o, report);
  });
  await part('bench', () => runBenchPart(o, sizes, report, write).then(() => undefined));
  await part('pytorch', () => runPytorch(o, sizes, report));
  await part('lab', () => runLab(sizes, report, o.log).then(() => undefined));
  await part('profile', () => runProfiles(sizes, report));
  E.shutdown();
  return report;
}
