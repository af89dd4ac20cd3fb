/**
 * `npm run bench -- --profile`: where a training step's GPU time goes. Per model, the step's
 * wall time (median of `repeats` synchronised steps), then the same number of steps under the
 * per-kernel profiler (engine/profiler.ts), whose kernel times add up to the GPU's share of it.
 */
import * as E from '../engine/index.js';
import { createModel, type ModelName } from '../models/index.js';
import { median } from './timing.js';

export interface ProfileConfig {
  img_size: number;
  batch_size: number;
  base_channels: number;
  models: ModelName[];
  repeats: number;
  /** Also each model's mixed-precision step (autocast, loss-scaled). */
  mixed?: boolean;
}

export interface StepProfile {
  model: ModelName;
  precision: 'fp32' | 'mixed';
  input: number[];
  steps: number;
  /** Median wall time of one unprofiled step. */
  stepMs: number;
  /** Summed kernel time per profiled step (null: the adapter lacks timestamp-query). */
  kernelMsPerStep: number | null;
  profile: E.ProfileReport | null;
}

/** One training step as the trainer takes it: BCE on the logits, under autocast and loss scaling when given a scaler. The loss is the caller's to read and dispose. */
export async function trainingStep(model: E.Module, x: E.Tensor, y: E.Tensor, optimizer: E.Adam, scaler: E.GradScaler | null): Promise<E.Tensor> {
  const loss = E.tidy(() => E.bceWithLogits(E.autocast(() => model.forward(x), scaler !== null), y));
  optimizer.zeroGrad();
  if (scaler) {
    await scaler.backwardAndStep(loss, optimizer);
  } else {
    loss.backward();
    optimizer.step();
  }
  return loss;
}

export async function profileTrainingSteps(config: ProfileConfig): Promise<StepProfile[]> {
  const out: StepProfile[] = [];
  if (config.mixed && !E.getRuntime().caps.f16) throw new Error(`--mixed needs the adapter's shader-f16 feature, which ${E.getRuntime().adapterName} does not offer`);
  const runs = config.models.flatMap((name) => (config.mixed ? (['fp32', 'mixed'] as const) : (['fp32'] as const)).map((precision) => [name, precision] as const));
  for (const [name, precision] of runs) {
    const model = createModel(name, name === 'UNet' ? { baseChannels: config.base_channels } : {});
    const { batch_size: N, img_size: S, repeats } = config;
    const gen = new E.Generator(123);
    const x = E.tensor(gen.fillNormal(new Float32Array(N * 3 * S * S)), [N, 3, S, S]);
    const y = E.tensor(gen.fillUniform(new Float32Array(N * S * S)).map((v) => (v > 0.5 ? 1 : 0)), [N, 1, S, S]);
    const optimizer = new E.Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
    const scaler = precision === 'mixed' ? new E.GradScaler() : null;
    model.train();
    const step = async () => {
      const loss = await trainingStep(model, x, y, optimizer, scaler);
      await E.sync();
      loss.dispose();
    };
    try {
      for (let i = 0; i < 2; i++) await step(); // compile and warm the pool
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const started = performance.now();
        await step();
        times.push(performance.now() - started);
      }
      const runtime = E.getRuntime();
      let profile: E.ProfileReport | null = null;
      if (runtime.caps.timestampQuery) {
        runtime.startProfile();
        for (let i = 0; i < repeats; i++) await step();
        profile = await runtime.stopProfile();
      }
      out.push({ model: name, precision, input: [N, 3, S, S], steps: repeats, stepMs: median(times), kernelMsPerStep: profile && profile.kernelMs / repeats, profile });
    } finally {
      optimizer.dispose();
      x.dispose();
      y.dispose();
      model.dispose();
    }
  }
  return out;
}

export function formatStepProfiles(rows: StepProfile[], top = 15): string {
  return rows
    .map((r) => {
      const head = `${r.model} ${r.precision === 'mixed' ? 'mixed-precision ' : ''}training step, input ${r.input.join('×')}: ${r.stepMs.toFixed(2)} ms wall (median of ${r.steps})`;
      if (!r.profile || r.kernelMsPerStep === null) return `${head}; this adapter lacks timestamp-query, so no per-kernel times`;
      return `${head}, ${r.kernelMsPerStep.toFixed(2)} ms of kernel time per step (${((100 * r.kernelMsPerStep) / r.stepMs).toFixed(0)}%)\n${E.formatProfile(r.profile, top)}`;
    })
    .join('\n\n');
}
