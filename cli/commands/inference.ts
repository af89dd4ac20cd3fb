/**
 * `node cli/inference.js --model_path F --data_path D` — Dice on the test split, as the lab;
 * `node cli/inference.js --model_path F --images a.jpg b.png ... --out DIR` — a mask PNG and an
 * overlay PNG per image, at the image's own resolution.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImageDecodeError } from '../../train/images.js';
import { predictFile, uniqueStems, type PredictedFile } from '../../train/predict.js';
import { CHECKPOINT_OPTIONS, SPLIT_OPTIONS, checkCheckpointArgs, checkDataArgs, evaluateSplit, openCheckpoint, printReport, startRuntime } from './evaluation.js';
import { UsageError, parseCommandArgs, reportError, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  ...CHECKPOINT_OPTIONS,
  ...SPLIT_OPTIONS,
  images: { type: 'string', help: 'image files or folders to segment (several may follow --images) instead of scoring --data_path; outputs that would share a name get -2, -3, …' },
  out: { type: 'string', default: 'predictions', help: 'folder for <name>_mask.png and <name>_overlay.png (with --images)' },
};

const SUMMARY = 'Dice and IoU of a checkpoint on the test split (annotations/test.txt), or masks and overlays for --images.';

/**
 * --images takes every following argument up to the next option (`--images=a.jpg` starts with
 * one); the option may be given several times, the lists add up.
 */
export function takeImages(argv: string[]): { rest: string[]; images: string[] | null } {
  const rest: string[] = [];
  let images: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg !== '--images' && !arg.startsWith('--images=')) {
      rest.push(arg);
      continue;
    }
    images ??= [];
    if (arg.startsWith('--images=')) images.push(arg.slice('--images='.length));
    while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) images.push(argv[++i]);
  }
  return { rest, images: images?.filter(Boolean) ?? null };
}

const IMAGE_FILE = /\.(jpe?g|png|gif)$/i;

/** A folder among the paths stands for the image files in it (by extension, sorted); anything else in it is skipped with a line. */
function expandFolders(paths: readonly string[]): string[] {
  return paths.flatMap((path) => {
    if (!existsSync(path) || !statSync(path).isDirectory()) return [path];
    const files: string[] = [];
    for (const name of readdirSync(path).sort()) {
      const entry = join(path, name);
      if (statSync(entry).isFile() && IMAGE_FILE.test(name)) files.push(entry);
      else console.error(`inference: skipping ${entry} (in the folder ${path}, but not a .jpg, .png or .gif file)`);
    }
    return files;
  });
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
      const files = expandFolders(images);
      const stems = uniqueStems(files);
      for (const [i, file] of files.entries()) {
        try {
          const result = await predictFile(opened.model, resolve(file), { size: opened.size, threshold: args.mask_threshold as number, outDir, stem: stems[i] });
          written.push(result);
          if (!json) console.log(`${file}: ${result.width}×${result.height}, ${(100 * result.petFraction).toFixed(1)}% pet → ${result.mask}, ${result.overlay}`);
        } catch (err) {
          if (!(err instanceof ImageDecodeError) && !['ENOENT', 'EISDIR', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
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
