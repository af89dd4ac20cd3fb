/**
 * `petseg report RUN_OR_SWEEP_FOLDER... --out DIR` — report.md and a self-contained report.html
 * comparing the runs: the table, training curves, test Dice bars, a heatmap when two numeric
 * arguments vary, and prediction grids (experiments/report.ts). The folders are checked before
 * anything is written; a bad one is one line and exit code 2.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { collectRuns, namesRun, writeReport } from '../../experiments/report.js';
import { BOOLEAN_WORDS, UsageError, parseCommandArgs, reportError, takeList, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  out: { type: 'string', help: 'folder for report.md, report.html and every figure with its data (required)' },
  examples: { type: 'string', help: 'runs (their names in the table, or folders) to draw prediction grids for besides the best run; several may follow' },
  images: { type: 'integer', default: 4, min: 0, max: 64, help: 'test images per prediction grid (0: no grids, no device)' },
  evaluate: { type: 'boolean', default: true, help: "score runs without a current evaluation.json on the test split (written into their folders, as a sweep does)" },
  data_path: { type: 'string', help: "dataset for test scores and grids, instead of each run's recorded one (a dataset that moved)" },
  cache_dir: { type: 'string', help: 'decode cache folder for the test scores (default: <user cache>/petseg/decoded/<hash of the dataset path>)' },
};

const SUMMARY = 'petseg report FOLDER... --out DIR: compare runs in report.md and a self-contained report.html. Each FOLDER is a run folder, a sweep folder (a petseg sweep --save_dir) or a folder of run folders.';

/** Whether `arg` is the value of the option before it (`--out DIR`), not a folder. */
function isOptionValue(previous: string | undefined, arg: string): boolean {
  if (previous === undefined || !previous.startsWith('--') || previous.includes('=')) return false;
  const spec = OPTIONS[previous.slice(2)];
  if (!spec) return false;
  return spec.type !== 'boolean' || BOOLEAN_WORDS.has(arg.toLowerCase());
}

/**
 * The folders (arguments that are neither options nor their values, anywhere on the line) and
 * --examples' names (every argument after it up to the next option; repeatable; null when not
 * given), apart from the options for the parser.
 */
export function splitReportArgs(argv: readonly string[]): { folders: string[]; examples: string[] | null; rest: string[] } {
  // An argument after an --examples list is an option, so each other argument keeps the one before it.
  const { rest: others, values: examples } = takeList(argv, 'examples');
  const folders: string[] = [];
  const rest: string[] = [];
  others.forEach((arg, i) => (arg.startsWith('--') || isOptionValue(others[i - 1], arg) ? rest : folders).push(arg));
  return { folders, examples, rest };
}

export async function main(argv: string[]): Promise<number> {
  const { folders, examples, rest } = splitReportArgs(argv);
  const args = parseCommandArgs('report', SUMMARY, rest, OPTIONS);
  if (typeof args === 'number') return args;
  try {
    if (folders.length === 0) throw new UsageError('name the run or sweep folders to report on: petseg report FOLDER... --out DIR');
    if (args.out === undefined) throw new UsageError('--out is required: the folder for report.md, report.html and the figures');
    const out = resolve(args.out as string);
    if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a file, not a folder; choose another --out`);
    if (examples !== null && examples.length === 0) throw new UsageError('--examples needs at least one run name');
    if (args.data_path !== undefined && !existsSync(resolve(args.data_path as string))) throw new UsageError(`--data_path ${resolve(args.data_path as string)} does not exist`);
    const runs = collectRuns(folders);
    const unknown = (examples ?? []).filter((e) => !runs.some((r) => namesRun(e, r)));
    if (unknown.length) throw new UsageError(`--examples ${unknown.join(' ')}: no such run among ${runs.map((r) => r.label).join(', ')}`);
    const summary = await writeReport(
      {
        folders,
        runs,
        out,
        examples: examples ?? [],
        images: args.images as number,
        evaluate: args.evaluate as boolean,
        dataPath: args.data_path === undefined ? undefined : resolve(args.data_path as string),
        cacheDir: args.cache_dir === undefined ? undefined : resolve(args.cache_dir as string),
      },
      (line) => console.log(line),
    );
    console.log(`report: ${summary.runs} runs → ${resolve(out, 'report.html')} and report.md (${summary.files.length} files in ${out})`);
    return 0;
  } catch (err) {
    return reportError('report', err);
  }
}
