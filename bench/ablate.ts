/**
 * `npm run bench -- --ablate`: what each direct convolution kernel the models' training steps run
 * is worth. For every candidate a step uses (kernels/conv/plan.ts), the step is timed on a runtime
 * where that candidate is excluded (so the planner's next one runs) and on one where nothing is,
 * alternately, without autotuning; the cost is the slowdown of the step without it.
 */
import * as E from '../engine/index.js';
import { convKernelsUsed } from '../engine/internal.js';
import { createModel, type ModelName } from '../models/index.js';
import { median } from './timing.js';

export interface AblationRow {
  kernel: string;
  /** Per model: median step ms with and without the kernel, and the relative cost of removing it (absent: the step does not run it). */
  steps: Partial<Record<ModelName, { with: number; without: number; cost: number }>>;
}

export interface AblationConfig {
  img_size: number;
  batch_size: number;
  base_channels: number;
  models: ModelName[];
  repeats: number;
}

/** Median ms of `repeats` training steps (after 2 untimed), on a fresh runtime started with `options`; the candidates the step ran. */
async function timeSteps(name: ModelName, config: AblationConfig, options: E.InitOptions): Promise<{ ms: number; used: Set<string> }> {
  E.shutdown();
  await E.init({ ...options, autotune: false });
  const model = createModel(name, name === 'UNet' ? { baseChannels: config.base_channels } : {});
  const { batch_size: N, img_size: S } = config;
  const gen = new E.Generator(123);
  const x = E.tensor(gen.fillNormal(new Float32Array(N * 3 * S * S)), [N, 3, S, S]);
  const y = E.tensor(gen.fillUniform(new Float32Array(N * S * S)).map((v) => (v > 0.5 ? 1 : 0)), [N, 1, S, S]);
  const optimizer = new E.Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
  model.train();
  const record = () => {
    const loss = E.tidy(() => E.bceWithLogits(model.forward(x), y));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    return loss;
  };
  try {
    let loss: E.Tensor | null = null;
    const used = convKernelsUsed(() => (loss = record()));
    await E.sync();
    loss!.dispose();
    const times: number[] = [];
    for (let i = 0; i < config.repeats + 1; i++) {
      const started = performance.now();
      const l = record();
      await E.sync();
      l.dispose();
      if (i > 0) times.push(performance.now() - started);
    }
    return { ms: median(times), used };
  } finally {
    optimizer.dispose();
    x.dispose();
    y.dispose();
    model.dispose();
  }
}

export async function ablate(config: AblationConfig, log: (line: string) => void = () => {}): Promise<AblationRow[]> {
  const rows = new Map<string, AblationRow>();
  for (const name of config.models) {
    const first = await timeSteps(name, config, {});
    const software = E.getRuntime().caps.software;
    // The GEMMs are not variants on CPU adapters; on GPUs nothing else runs.
    const candidates = [...first.used].filter((k) => !k.startsWith('gemm-') || !software);
    let base = first.ms;
    for (const kernel of candidates) {
      const without = await timeSteps(name, config, { exclude: [kernel] });
      const after = await timeSteps(name, config, {});
      const withIt = (base + after.ms) / 2;
      base = after.ms;
      const row = rows.get(kernel) ?? { kernel, steps: {} };
      row.steps[name] = { with: withIt, without: without.ms, cost: without.ms / withIt - 1 };
      rows.set(kernel, row);
      log(`${name} without ${kernel}: ${without.ms.toFixed(1)} ms vs ${withIt.toFixed(1)} ms (${(100 * (without.ms / withIt - 1)).toFixed(1)}%)`);
    }
  }
  E.shutdown();
  return [...rows.values()];
}

export function formatAblation(rows: readonly AblationRow[], models: readonly ModelName[]): string {
  const cell = (r: AblationRow, m: ModelName) => {
    const s = r.steps[m];
    return s ? `${s.with.toFixed(0)} → ${s.without.toFixed(0)} ms (${s.cost >= 0 ? '+' : ''}${(100 * s.cost).toFixed(1)}%)` : 'not run';
  };
  return [['kernel', ...models.map((m) => `${m} step without it`)].join(' | '), ...rows.map((r) => [r.kernel, ...models.map((m) => cell(r, m))].join(' | '))].join('\n');
}
