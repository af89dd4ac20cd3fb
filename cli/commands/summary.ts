/** `petseg summary --model UNet --base_channels 64`: parameter counts per block (no GPU work beyond allocation). */
import * as E from '../../engine/index.js';
import { createModel, MODELS, summarize } from '../../models/index.js';
import { BASE_CHANNELS } from '../../models/index.js';
import { parseCommandArgs, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  model: { type: 'string', default: 'UNet', help: `model: ${Object.keys(MODELS).join(' | ')}` },
  base_channels: { type: 'integer', default: 64, ...BASE_CHANNELS, help: 'UNet width (64 = the lab\'s)' },
};

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('summary', 'Prints a model\'s parameter count per top-level block.', argv, OPTIONS);
  if (typeof args === 'number') return args;
  const name = args.model as string;
  if (!(name in MODELS)) {
    console.error(`summary: unknown model '${name}'; choose one of: ${Object.keys(MODELS).join(', ')}`);
    return 2;
  }
  await E.init();
  const model = createModel(name, name === 'UNet' ? { baseChannels: args.base_channels as number } : {});
  console.log(summarize(name, model));
  model.dispose();
  E.shutdown();
  return 0;
}
