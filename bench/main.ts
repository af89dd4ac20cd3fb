/**
 * `npm run bench`: every kernel the models use on their real layer shapes, then training-step and
 * inference throughput, each beside TF.js's WebGPU backend on the same adapter. Outputs are
 * compared once before timing; times are medians of GPU-completed runs after warm-up.
 */
import * as E from '../engine/index.js';
import type { Module } from '../engine/index.js';
import { createModel, type ModelName, type ResNet34UNet, type UNet } from '../models/index.js';
import { autotuneModel } from '../train/index.js';
import { adamCase, bceCase, kernelCases, type BenchCase } from './cases.js';
import { measureCeilings, type AdapterCeilings } from './ceiling.js';
import { recordLayerShapes, type LayerShapes } from './shapes.js';
import { loadTfjs, type LoadedTF, type TF } from './tfjs.js';
import { tfResNet34UNetFrom, tfUNetFrom } from './tfjs-models.js';
import { median, permute, relativeDifference, timeWork, type Timing, type TimingOptions } from './timing.js';

/** Tolerance of the petseg-vs-TF.js output check (relative to the largest magnitude). */
export const CHECK_TOLERANCE = 1e-3;

export interface BenchRow {
  op: string;
  shape: string;
  count: number;
  flops?: number;
  bytes?: number;
  petseg: Timing;
  tfjs?: Timing;
  /** TF.js time / petseg time (> 1: petseg is faster). */
  speedup?: number;
  /** Max relative difference of the two outputs. */
  check?: number;
  /** The kernel families petseg's side dispatched, in order (for convolutions: the planner's and autotuner's choice). */
  kernels: string[];
}

export interface EndToEndRow {
  model: string;
  /** `(mixed)`: convolutions under autocast, the step loss-scaled by a GradScaler. */
  what: 'training step' | 'inference' | 'training step (mixed)' | 'inference (mixed)';
  images: number;
  petseg: Timing;
  tfjs?: Timing;
  speedup?: number;
  check?: number;
}

export interface BenchReport {
  date: string;
  adapter: E.AdapterReport;
  adapterName: string;
  tfjs: string | null;
  config: { img_size: number; batch_size: number; base_channels: number; models: string[]; repeats: number; warmup: number; min_sample_ms: number; mixed?: boolean; kernel_rows?: boolean };
  /** What the adapter can do at all (bench/ceiling.ts), to read the kernel rates against; null without kernel rows. */
  ceilings: AdapterCeilings | null;
  /** Convolution choices the autotuner made before anything was timed (none: autotuning off, or all tuned before). */
  autotune: E.AutotuneReport;
  kernels: BenchRow[];
  endToEnd: EndToEndRow[];
}

function mergeShapes(all: LayerShapes[]): LayerShapes {
  const out: LayerShapes = { conv2d: [], convTranspose2d: [], batchNorm2d: [], maxPool2d: [], concat: [] };
  for (const shapes of all) {
    for (const key of Object.keys(out) as (keyof LayerShapes)[]) {
      for (const item of shapes[key] as { count: number }[]) {
        const list = out[key] as { count: number }[];
        const id = JSON.stringify({ ...item, count: undefined });
        const found = list.find((e) => JSON.stringify({ ...e, count: undefined }) === id);
        if (found) found.count += item.count;
        else list.push({ ...item });
      }
    }
  }
  return out;
}

/** Kernel families (names without their specialization) a side's run dispatches, each once, in order. */
function kernelsOf(run: () => () => void): string[] {
  let cleanUp = () => {};
  const dispatched = E.getRuntime().traceDispatches(() => (cleanUp = run()));
  cleanUp();
  return [...new Set(dispatched.map((k) => k.split('|')[0]))];
}

async function measureCase(c: BenchCase, tf: LoadedTF | null, timing: TimingOptions): Promise<BenchRow> {
  const mine = c.petseg();
  const theirs = tf && c.tfjs ? c.tfjs(tf.tf) : null;
  try {
    const check = theirs ? relativeDifference(await mine.output(), await theirs.output()) : undefined;
    const kernels = kernelsOf(mine.run);
    const petseg = await timeWork(mine.run, E.sync, timing);
    const other = theirs ? await timeWork(theirs.run, tf!.finish, timing) : undefined;
    return { op: c.op, shape: c.shape, count: c.count, flops: c.flops, bytes: c.bytes, petseg, tfjs: other, speedup: other ? other.median / petseg.median : undefined, check, kernels };
  } finally {
    mine.dispose();
    theirs?.dispose();
  }
}

/** The model's training step and inference in mixed precision (no TF.js counterpart: its WebGPU backend trains in fp32). */
async function mixedEndToEnd(name: ModelName, model: Module, optimizer: E.Adam, x: E.Tensor, y: E.Tensor, timing: TimingOptions): Promise<EndToEndRow[]> {
  const N = x.shape[0];
  const scaler = new E.GradScaler();
  model.train();
  const step = async () => {
    const loss = E.tidy(() => E.bceWithLogits(E.autocast(() => model.forward(x)), y));
    optimizer.zeroGrad();
    await scaler.backwardAndStep(loss, optimizer);
    return () => loss.dispose();
  };
  const train = await timeWork(step, E.sync, timing);
  model.eval();
  const infer = await timeWork(() => {
    const logits = E.tidy(() => E.noGrad(() => E.autocast(() => model.forward(x))));
    return () => logits.dispose();
  }, E.sync, timing);
  return [
    { model: name, what: 'training step (mixed)', images: N, petseg: train },
    { model: name, what: 'inference (mixed)', images: N, petseg: infer },
  ];
}

async function endToEnd(name: ModelName, model: Module, input: number[], tf: LoadedTF | null, timing: TimingOptions, mixed: boolean): Promise<EndToEndRow[]> {
  const [N, , S] = input;
  const gen = new E.Generator(123);
  const xData = gen.fillNormal(new Float32Array(N * 3 * S * S));
  const yData = gen.fillUniform(new Float32Array(N * S * S)).map((v) => (v > 0.5 ? 1 : 0));
  const x = E.tensor(xData, input);
  const y = E.tensor(yData, [N, 1, S, S]);
  const optimizer = new E.Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
  const rows: EndToEndRow[] = [];
  // The TF.js model from the same initial weights (before petseg's steps change them).
  const tfModel = !tf ? null : name === 'UNet' ? await tfUNetFrom(tf.tf, model as UNet) : await tfResNet34UNetFrom(tf.tf, model as ResNet34UNet);
  const tfx = tfModel ? tf!.tf.tensor(permute(xData, input, [0, 2, 3, 1]), [N, S, S, 3]) : null;
  const tfy = tfModel ? tf!.tf.tensor(yData, [N, S, S, 1]) : null;
  try {
    let check: number | undefined;
    if (tfModel) {
      // Same weights and data: the training-mode logits must agree ([N,1,S,S] and [N,S,S,1] share an order).
      const mine = E.tidy(() => model.forward(x));
      const t = tf!.tf;
      const theirs = t.tidy(() => tfModel.forward(tfx!, true));
      check = relativeDifference(await mine.toArray(), (await theirs.data()) as Float32Array);
      mine.dispose();
      theirs.dispose();
    }
    model.train();
    const step = () => {
      const loss = E.tidy(() => E.bceWithLogits(model.forward(x), y));
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      return () => loss.dispose();
    };
    const petsegStep = await timeWork(step, E.sync, timing);
    let tfStep: Timing | undefined;
    if (tfModel) {
      const t = tf!.tf;
      const adam = t.train.adam(1e-3, 0.9, 0.999, 1e-8);
      const tfStepRun = () => {
        t.tidy(() => {
          const { grads } = t.variableGrads(() => t.losses.sigmoidCrossEntropy(tfy!, tfModel.forward(tfx!, true)) as TF.Scalar, tfModel.variables);
          // torch.optim.Adam's weight decay: wd·p added to the gradient.
          adam.applyGradients(Object.fromEntries(tfModel.variables.map((v) => [v.name, t.add(grads[v.name], t.mul(v, 1e-4))])));
        });
        return () => {};
      };
      tfStep = await timeWork(tfStepRun, tf!.finish, timing);
      adam.dispose();
    }
    rows.push({ model: name, what: 'training step', images: N, petseg: petsegStep, tfjs: tfStep, speedup: tfStep ? tfStep.median / petsegStep.median : undefined, check });

    model.eval();
    const infer = () => {
      const logits = E.tidy(() => E.noGrad(() => model.forward(x)));
      return () => logits.dispose();
    };
    const petsegInfer = await timeWork(infer, E.sync, timing);
    let tfInfer: Timing | undefined;
    if (tfModel) {
      const t = tf!.tf;
      tfInfer = await timeWork(() => {
        const out = t.tidy(() => tfModel.forward(tfx!, false));
        return () => out.dispose();
      }, tf!.finish, timing);
    }
    rows.push({ model: name, what: 'inference', images: N, petseg: petsegInfer, tfjs: tfInfer, speedup: tfInfer ? tfInfer.median / petsegInfer.median : undefined });
    if (mixed) rows.push(...(await mixedEndToEnd(name, model, optimizer, x, y, timing)));
  } finally {
    optimizer.dispose();
    x.dispose();
    y.dispose();
    tfModel?.dispose();
    tfx?.dispose();
    tfy?.dispose();
  }
  return rows;
}

const fmt = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));

function rate(row: { flops?: number; bytes?: number }, t: Timing | undefined): string {
  if (!t) return '—';
  if (row.flops) return `${fmt(row.flops / t.median / 1e6)} GFLOP/s`;
  if (row.bytes) return `${fmt(row.bytes / t.median / 1e6)} GB/s`;
  return '—';
}

/** Median GFLOP/s over the conv2d rows (forward, grad-input, grad-weight) of one side; undefined without such rows. */
export function convMedianGflops(report: BenchReport, side: 'petseg' | 'tfjs'): number | undefined {
  const rates = report.kernels.filter((r) => r.op.startsWith('conv2d') && r.flops && r[side]).map((r) => r.flops! / r[side]!.median / 1e6);
  return rates.length ? median(rates) : undefined;
}

function ceilingLine(report: BenchReport): string {
  if (!report.ceilings) return 'no kernel rows (end to end only)';
  const { mulAddGflops, loadGBps } = report.ceilings;
  const share = (side: 'petseg' | 'tfjs') => {
    const rate = convMedianGflops(report, side);
    return rate === undefined ? '—' : `${fmt(rate)} GFLOP/s = ${fmt((100 * rate) / mulAddGflops, 0)}%`;
  };
  return `adapter ceilings (bench/ceiling.ts): multiply-add ${fmt(mulAddGflops, 1)} GFLOP/s with operands in registers, vec4 storage loads ${fmt(loadGBps, 1)} GB/s from a cached buffer; conv2d rows' median rate and share of the multiply-add ceiling: petseg ${share('petseg')}, TF.js ${share('tfjs')}`;
}

export function formatReport(report: BenchReport): string {
  const lines = [
    `petseg bench on ${report.adapterName}`,
    `TF.js: ${report.tfjs ?? 'not measured'}; ${report.config.img_size}×${report.config.img_size}, batch ${report.config.batch_size}, UNet width ${report.config.base_channels}, models ${report.config.models.join(', ')}; median of ${report.config.repeats} after ${report.config.warmup} warm-up; kernel rows: samples of ≥ ${report.config.min_sample_ms} ms of back-to-back runs, ms per run`,
    ceilingLine(report),
    '',
    'speed-up = TF.js ms / petseg ms (> 1: petseg faster); check = max relative difference of the two outputs',
    '',
    ['op', 'shape', '×', 'petseg ms', 'TF.js ms', 'speed-up', 'petseg rate', 'TF.js rate', 'check', 'runs/sample', 'petseg kernels'].join(' | '),
  ];
  for (const r of report.kernels) {
    const runs = `${r.petseg.runsPerSample}${r.tfjs ? `/${r.tfjs.runsPerSample}` : ''}`;
    lines.push([r.op, r.shape, r.count, fmt(r.petseg.median), fmt(r.tfjs?.median), fmt(r.speedup), rate(r, r.petseg), rate(r, r.tfjs), r.check === undefined ? '—' : r.check.toExponential(1), runs, r.kernels.join(' + ')].join(' | '));
  }
  lines.push('', ['model', 'what', 'petseg ms', 'petseg img/s', 'petseg first ms', 'TF.js ms', 'TF.js img/s', 'TF.js first ms', 'speed-up', 'check'].join(' | '));
  for (const r of report.endToEnd) {
    lines.push(
      [
        r.model,
        r.what,
        fmt(r.petseg.median, 1),
        fmt((1000 * r.images) / r.petseg.median),
        fmt(r.petseg.first, 0),
        fmt(r.tfjs?.median, 1),
        r.tfjs ? fmt((1000 * r.images) / r.tfjs.median) : '—',
        fmt(r.tfjs?.first, 0),
        fmt(r.speedup),
        r.check === undefined ? '—' : r.check.toExponential(1),
      ].join(' | '),
    );
  }
  return lines.join('\n');
}

export async function runBench(config: BenchReport['config'], withTfjs: boolean, log: (line: string) => void = () => {}): Promise<BenchReport> {
  const runtime = await E.init();
  const mixed = config.mixed ?? false;
  if (mixed && !runtime.caps.f16) throw new Error(`--mixed needs the adapter's shader-f16 feature, which ${runtime.adapterName} does not offer`);
  const tf = withTfjs ? await loadTfjs(runtime.handle.gpu) : null;
  if (typeof tf === 'string') log(`TF.js skipped: ${tf}`);
  const loaded = typeof tf === 'string' ? null : tf;
  // Kernel rows may batch short runs into one sample; end-to-end rows time one step or one
  // inference per sample, with everything a user's loop would wait for.
  const timing = { warmup: config.warmup, repeats: config.repeats };
  const kernelTiming = { ...timing, minSampleMs: config.min_sample_ms };
  const input = [config.batch_size, 3, config.img_size, config.img_size];
  const models = config.models.map((name) => [name as ModelName, createModel(name, name === 'UNet' ? { baseChannels: config.base_channels } : {})] as const);
  // Tuned first (once per adapter: the table persists), so every row runs what a training step would.
  const autotune: E.AutotuneReport = { tuned: [], untuned: 0, seconds: 0 };
  for (const [, m] of models) {
    for (const precision of mixed ? [false, true] : [false]) {
      const report = await autotuneModel(m, [input], true, precision);
      autotune.tuned.push(...report.tuned);
      autotune.untuned += report.untuned;
      autotune.seconds += report.seconds;
    }
  }
  const tunedLine = E.describeAutotune(autotune);
  if (tunedLine) log(tunedLine);
  // Kernel rows (config.kernel_rows false: only the end-to-end rows).
  const shapes = mergeShapes(models.map(([, m]) => recordLayerShapes(m, input)));
  const cases = config.kernel_rows === false ? [] : [...kernelCases(shapes), bceCase([config.batch_size, 1, config.img_size, config.img_size]), ...models.map(([name, m]) => adamCase(name, m.parameters().map((p) => [...p.shape])))];
  const ceilings = cases.length ? await measureCeilings(kernelTiming) : null;
  if (ceilings) log(`ceilings: multiply-add ${fmt(ceilings.mulAddGflops, 1)} GFLOP/s, loads ${fmt(ceilings.loadGBps, 1)} GB/s`);
  const kernels: BenchRow[] = [];
  for (const c of cases) {
    const row = await measureCase(c, loaded, kernelTiming);
    kernels.push(row);
    log(`${row.op} ${row.shape}: petseg ${fmt(row.petseg.median)} ms${row.tfjs ? `, TF.js ${fmt(row.tfjs.median)} ms` : ''}`);
  }
  const rows: EndToEndRow[] = [];
  for (const [name, model] of models) {
    rows.push(...(await endToEnd(name, model, input, loaded, timing, mixed)));
    log(`${name}: end to end measured`);
    model.dispose();
  }
  return {
    date: new Date().toISOString(),
    adapter: runtime.adapterReport,
    adapterName: runtime.adapterName,
    tfjs: loaded ? `@tensorflow/tfjs-core ${loaded.version} + tfjs-backend-webgpu` : null,
    config,
    ceilings,
    autotune,
    kernels,
    endToEnd: rows,
  };
}
