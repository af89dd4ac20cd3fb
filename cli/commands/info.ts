/** `petseg info`: the adapter petseg uses and what it can do (engine/info.ts); `--json` prints one object. */
import * as E from '../../engine/index.js';
import { parseCommandArgs, reportError, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', default: false, help: 'print one JSON object' },
};

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('info', 'The WebGPU adapter petseg uses: backend, features, limits, subgroup-matrix configurations, Dawn options and autotuning.', argv, OPTIONS);
  if (typeof args === 'number') return args;
  try {
    const runtime = await E.init();
    const info = E.describeRuntime(runtime);
    console.log(args.json ? JSON.stringify(info, null, 1) : E.formatRuntimeInfo(info));
    E.shutdown();
    return 0;
  } catch (err) {
    return reportError('info', err);
  }
}
