/**
 * `node cli/inference.js --model_path F --data_path D` — Dice on the test split, as the lab;
 * `node cli/inference.js --model_path F --images a.jpg b.png ... --out DIR` — a mask PNG and an
 * overlay PNG per image, at the image's own resolution.
 */
import { resolve } from 'node:path';
import { ImageDecodeError } from '../../train/images.js';
import { predictFile, type PredictedFile } from '../../train/predict.js';
import { CHECKPOINT_OPTIONS, SPLIT_OPTIONS, checkCheckpointArgs, checkDataArgs, evaluateSplit, openCheckpoint, printReport, startRuntime } from './evaluation.js';
import { UsageError, parseCommandArgs, reportError, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  ...CHECKPOINT_OPTIONS,
  ...SPLIT_OPTIONS,
  images: { type: 'string', help: 'image files to segment (several may follow --images) instead of scoring --data_path' },
  out: { type: 'string', default: 'predictions', help: 'folder for <name>_mask.png and <name>_overlay.png (with --images)' },
};

const SUMMARY = 'Dice and IoU of a checkpoint on the test split (annotations/test.txt), or masks and overlays for --images.';

/** --images takes every following argument up to the next option. */
export function takeImages(argv: string[]): { rest: string[]; images: string[] | null } {
  const at = argv.indexOf('--images');
  if (at < 0) return { rest: argv, images: null };
  let end = at + 1;
  while (end < argv.length && !argv[end].startsWith('--')) end++;
  return { rest: [...argv.slice(0, at), ...argv.slice(end)], images: argv.slice(at + 1, end) };
}

export async function main(argv: string[]): Promise<number> {
  const { rest, images } = takeImages(argv);
  const args = parseCommandArgs('inference', SUMMARY, rest, OPTIONS);
  if (typeof args === 'number') return args;
  try {
    const json = args.json as boolean;
    if (images !== null && images.length === 0) throw new UsageError('--images needs at least one file');
    if (images && args.data_path !== undefined) throw new UsageError('give either --data_path (score the test split) or --images (write masks), not both');
    const checked = checkCheckpointArgs(args);
    const dataPath = images ? null : checkDataArgs(args, 'test');
    await startRuntime(json);
    const opened = openCheckpoint(checked, args);
    try {
      if (!images) {
        printReport(await evaluateSplit(opened, args, 'test', dataPath!), json);
        return 0;
      }
      const outDir = resolve(args.out as string);
      const written: PredictedFile[] = [];
      const failed: { image: string; error: string }[] = [];
      for (const file of images) {
        try {
          const result = await predictFile(opened.model, resolve(file), { size: opened.size, threshold: args.mask_threshold as number, outDir });
          written.push(result);
          if (!json) console.log(`${file}: ${result.width}×${result.height}, ${(100 * result.petFraction).toFixed(1)}% pet → ${result.mask}, ${result.overlay}`);
        } catch (err) {
          if (!(err instanceof ImageDecodeError) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          failed.push({ image: file, error: (err as Error).message });
          console.error(`inference: skipping ${file}: ${(err as Error).message}`);
        }
      }
      if (json) console.log(JSON.stringify({ out: outDir, images: written, failed }));
      return failed.length ? 1 : 0;
    } finally {
      opened.model.dispose();
    }
  } catch (err) {
    return reportError('inference', err);
  }
}
