/**
 * `npm run bench` / `node bench/run.js`: the kernel and end-to-end benchmark of bench/main.ts
 * beside TF.js, or with --ablate the cost of each convolution kernel variant (bench/ablate.ts),
 * or with --profile where each training step's GPU time goes (bench/profile.ts).
 */
import { writeFileSync } from 'node:fs';
import * as E from '../../engine/index.js';
import { ablate, formatAblation } from '../../bench/ablate.js';
import { CHECK_TOLERANCE, formatReport, runBench } from '../../bench/main.js';
import { formatStepProfiles, profileTrainingSteps } from '../../bench/profile.js';
import { BASE_CHANNELS, MODELS, isModelName, type ModelName } from '../../models/index.js';
import { UsageError, checkNotFolder, givenOptions, parseCommandArgs, reportError, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  img_size: { type: 'integer', default: 64, min: 32, max: 4096, help: 'input size (--full: 256)' },
  batch_size: { type: 'integer', default: 4, min: 1, help: 'batch (--full: 8)' },
  base_channels: { type: 'integer', default: 16, ...BASE_CHANNELS, help: 'UNet width (--full: 64)' },
  models: { type: 'string', default: 'UNet,ResNet34_UNet', help: 'models whose layers and steps to measure' },
  repeats: { type: 'integer', default: 5, min: 1, help: 'timed runs per row (the median is reported)' },
  warmup: { type: 'integer', default: 2, min: 1, help: 'untimed runs first (the first one is reported as the compile time)' },
  min_sample_ms: { type: 'number', default: 20, min: 0, help: 'kernel rows: repeat runs back to back within a sample until it lasts this long (0: one run per sample)' },
  full: { type: 'boolean', default: false, help: 'the lab configuration: 256×256, batch 8, UNet width 64' },
  mixed: { type: 'boolean', default: false, help: 'also each model\'s training step and inference in mixed precision (needs shader-f16)' },
  tfjs: { type: 'boolean', default: true, help: 'measure TF.js beside petseg (--tfjs=false: petseg only)' },
  exclude: { type: 'string', help: 'convolution kernels never to run, comma-separated (kernels/conv/plan.ts names)' },
  ablate: { type: 'boolean', default: false, help: 'instead: the training steps without each convolution kernel they run, one at a time' },
  profile: { type: 'boolean', default: false, help: "instead: each model's training step under the per-kernel GPU profiler (timestamp-query)" },
  json: { type: 'string', help: 'also write every figure to this JSON file' },
};

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('bench', 'Kernel microbenchmarks and end-to-end throughput, beside TF.js WebGPU on the same adapter.', argv, OPTIONS);
  if (typeof args === 'number') return args;
  try {
    const full = args.full as boolean;
    const given = givenOptions(argv);
    const pick = (name: string, fullValue: number) => (full && !given.has(name) ? fullValue : (args[name] as number));
    const models = (args.models as string).split(',').filter(Boolean);
    for (const m of models) if (!isModelName(m)) throw new UsageError(`--models: unknown model ${m}; use ${Object.keys(MODELS).join(' and/or ')}`);
    if (args.json !== undefined) checkNotFolder('json', args.json as string, 'a file to write');
    const config = {
      img_size: pick('img_size', 256),
      batch_size: pick('batch_size', 8),
      base_channels: pick('base_channels', 64),
      models: models as ModelName[],
      repeats: args.repeats as number,
      warmup: args.warmup as number,
      min_sample_ms: args.min_sample_ms as number,
      mixed: args.mixed as boolean,
    };
    const log = (line: string) => process.stderr.write(`${line}\n`);
    if (args.ablate) {
      const rows = await ablate(config, log);
      console.log(formatAblation(rows, config.models));
      if (args.json) writeFileSync(args.json as string, `${JSON.stringify({ date: new Date().toISOString(), config, ablation: rows }, null, 1)}\n`);
      return 0;
    }
    const exclude = ((args.exclude as string | undefined) ?? '').split(',').filter(Boolean);
    await E.init({ exclude });
    // A CPU adapter runs these for minutes with little to show meanwhile: say so up front.
    if (E.getRuntime().caps.software && (args.profile || config.mixed)) {
      log(`note: this is a CPU adapter, on which ${args.profile ? '--profile takes minutes (about 6 for both models on 2 cores; --models UNet alone, under one)' : '--mixed takes minutes more'}`);
    }
    if (args.profile) {
      const rows = await profileTrainingSteps(config);
      console.log(`${E.getRuntime().adapterName}\n\n${formatStepProfiles(rows)}`);
      if (args.json) writeFileSync(args.json as string, `${JSON.stringify({ date: new Date().toISOString(), adapter: E.getRuntime().adapterName, config, profiles: rows }, null, 1)}\n`);
      return 0;
    }
    const report = await runBench(config, args.tfjs as boolean, log);
    console.log(formatReport(report));
    if (args.json) writeFileSync(args.json as string, `${JSON.stringify(report, null, 1)}\n`);
    const disagree = [
      ...report.kernels.filter((r) => r.check !== undefined && !(r.check <= CHECK_TOLERANCE)).map((r) => `${r.op} ${r.shape}`),
      ...report.endToEnd.filter((r) => r.check !== undefined && !(r.check <= CHECK_TOLERANCE)).map((r) => `${r.model} ${r.what}`),
    ];
    if (disagree.length) {
      console.error(`bench: ${disagree.length} row(s) disagree with TF.js beyond ${CHECK_TOLERANCE}: ${disagree.join('; ')}`);
      return 1;
    }
    return 0;
  } catch (err) {
    return reportError('bench', err);
  }
}
