/**
 * `petseg infer --model_path F --data_path D` — Dice on the test split, as the lab;
 * `petseg infer --model_path F --images a.jpg b.png ... --out DIR` — a mask PNG and an
 * overlay PNG per image, at the image's own resolution.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getRuntime } from '../../engine/index.js';
import { ImageDecodeError, predictFile, uniqueStems, type PredictedFile, checkWritableFolder } from '../../train/index.js';
import { CHECKPOINT_OPTIONS, SPLIT_OPTIONS, checkCheckpointArgs, checkDataArgs, evaluateSplit, openCheckpoint, printReport, startRuntime } from './evaluation.js';
import { UsageError, asUsageError, parseCommandArgs, reportError, takeList, type OptionSpec } from './args.js';

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
  const { rest, values } = takeList(argv, 'images');
  return { rest, images: values };
}

const IMAGE_FILE = /\.(jpe?g|png|gif)$/i;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** An input that yields no image: said on a line, and the exit code is 1. */
interface Failure {
  image: string;
  error: string;
}

/**
 * The image files the --images paths stand for: a file stands for itself (read errors are the
 * run's to report), a folder for the image files in it, by extension, sorted. A subfolder or a
 * file of another kind in a folder is skipped with a line; an entry that cannot be read — a link
 * to nothing or a loop of links, a name that is not UTF-8 — and a folder with no image are
 * failures (a line each, exit code 1).
 */
function expandFolders(paths: readonly string[]): { files: string[]; failed: Failure[] } {
  const files: string[] = [];
  const failed: Failure[] = [];
  const fail = (image: string, error: string) => failed.push({ image, error });
  for (const path of paths) {
    let folder = false;
    try {
      folder = statSync(path).isDirectory();
    } catch {
      // not there or not readable: predictFile says which
    }
    if (!folder) {
      files.push(path);
      continue;
    }
    const before = files.length;
    const names = readdirSync(path, { encoding: 'buffer' }).map((raw) => ({ raw, shown: raw.toString('utf8') }));
    for (const { raw, shown } of names.sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0))) {
      let name: string;
      try {
        name = STRICT_UTF8.decode(raw);
      } catch {
        fail(join(path, shown), `its name is not UTF-8 (bytes ${raw.toString('hex')}); rename it`);
        continue;
      }
      const entry = join(path, name);
      try {
        const info = statSync(entry); // follows links
        if (info.isFile() && IMAGE_FILE.test(name)) files.push(entry);
        else console.error(`inference: skipping ${entry} (in the folder ${path}, but not a .jpg, .png or .gif file)`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        fail(entry, code === 'ENOENT' ? 'a link to nothing' : code === 'ELOOP' ? 'a loop of links' : `cannot be read (${code ?? (err as Error).message})`);
      }
    }
    if (files.length === before) fail(path, 'a folder with no .jpg, .png or .gif file');
  }
  return { files, failed };
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
    const dataPath = images ? null : await checkDataArgs(args, 'test');
    const outDir = resolve(args.out as string);
    let files: string[] = [];
    let failed: Failure[] = [];
    if (images) {
      try {
        checkWritableFolder(outDir, 'out');
      } catch (err) {
        throw asUsageError(err);
      }
      ({ files, failed } = expandFolders(images));
      if (files.length === 0) throw new UsageError(`--images: nothing to segment: ${failed.map((f) => `${f.image}: ${f.error}`).join('; ')}`);
      for (const f of failed) console.error(`inference: skipping ${f.image}: ${f.error}`);
    }
    await startRuntime(json);
    const opened = openCheckpoint(checked, args);
    try {
      if (!images) {
        // The adapter goes into the JSON too: a sweep records it beside the scores (evaluation.json).
        printReport(Object.assign(await evaluateSplit(opened, args, 'test', dataPath!), { adapter: getRuntime().adapterName }), json);
        return 0;
      }
      const written: PredictedFile[] = [];
      const stems = uniqueStems(files);
      for (const [i, file] of files.entries()) {
        try {
          const result = await predictFile(opened.model, resolve(file), { size: opened.size, threshold: args.mask_threshold as number, outDir, stem: stems[i] });
          written.push(result);
          if (!json) console.log(`${file}: ${result.width}×${result.height}, ${(100 * result.petFraction).toFixed(1)}% pet → ${result.mask}, ${result.overlay}`);
        } catch (err) {
          if (!(err instanceof ImageDecodeError)) throw err; // a write that failed (a full disk) stops the run
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
