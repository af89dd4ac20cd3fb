/** `node cli/evaluate.js --model_path F --data_path D` — Dice on the valid split, as the lab. */
import { CHECKPOINT_OPTIONS, SPLIT_OPTIONS, evaluateSplit, openCheckpoint, printReport, startRuntime } from './evaluation.js';
import { parseCommandArgs, reportError } from './args.js';

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('evaluate', 'Dice and IoU of a checkpoint on the valid split (trainval lines with index % 10 == 0).', argv, {
    ...CHECKPOINT_OPTIONS,
    ...SPLIT_OPTIONS,
  });
  if (typeof args === 'number') return args;
  try {
    await startRuntime(args.json as boolean);
    const opened = openCheckpoint(args);
    try {
      printReport(await evaluateSplit(opened, args, 'valid'), args.json as boolean);
    } finally {
      opened.model.dispose();
    }
    return 0;
  } catch (err) {
    return reportError('evaluate', err);
  }
}
