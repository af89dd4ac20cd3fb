/** `petseg evaluate --model_path F --data_path D` — Dice on the valid split, as the lab. */
import { CHECKPOINT_OPTIONS, SPLIT_OPTIONS, checkCheckpointArgs, checkDataArgs, evaluateSplit, openCheckpoint, printReport, startRuntime } from './evaluation.js';
import { parseCommandArgs, reportError, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = { ...CHECKPOINT_OPTIONS, ...SPLIT_OPTIONS };

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('evaluate', 'Dice and IoU of a checkpoint on the valid split (trainval lines with index % 10 == 0).', argv, OPTIONS);
  if (typeof args === 'number') return args;
  try {
    const checked = checkCheckpointArgs(args);
    const dataPath = await checkDataArgs(args, 'valid');
    await startRuntime(args.json as boolean);
    const opened = openCheckpoint(checked, args);
    try {
      printReport(await evaluateSplit(opened, args, 'valid', dataPath), args.json as boolean);
    } finally {
      opened.model.dispose();
    }
    return 0;
  } catch (err) {
    return reportError('evaluate', err);
  }
}
