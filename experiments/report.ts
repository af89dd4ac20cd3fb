/**
 * `petseg report`: run folders (or sweeps, or folders of runs) compared — the table, training
 * curves, the test Dice bars, a heatmap over two numeric arguments and prediction grids — as
 * report.md and a self-contained report.html (render.ts). Every figure is written beside its data
 * (CSV or JSON), and every number comes from the run folders: metrics.jsonl, run.json and
 * evaluation.json. What a run lacks (an older version's run, no test evaluation, no checkpoint)
 * shows as "—", or is computed where the checkpoint and the data are there.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../cli/commands/args.js';
import { RUN_FILES, SPLIT_FILES } from '../train/index.js';
import type { TopLevelSpec } from 'vega-lite';
import { curvesSpec, heatmapSpec, renderSvg, testDiceSpec, type CurvePoint } from './charts.js';
import { appliesTo } from './grid.js';
import { GRID_COLUMNS, predictionGrid, testImageNames } from './predictions.js';
import { renderHtml, renderMarkdown, type Figure, type ReportContent } from './render.js';
import { SWEEP_FILE, evaluationIsCurrent, isRunFolder, readEvaluation, readMetrics, readRun, runSubfolders, type EpochLine, type RunState, type TestEvaluation } from './runs.js';
import { evaluateRun, readSweepRecord } from './sweep.js';

export interface ReportOptions {
  folders: string[];
  /** The run folders `folders` stand for, as collectRuns found them. */
  runs: readonly { dir: string; label: string }[];
  out: string;
  /** Runs (labels or folders, as namesRun takes them) to draw prediction grids for, besides the best one. */
  examples: string[];
  /** Test images per prediction grid; 0: no grids (and no device). */
  images: number;
  /** Score runs without a current evaluation.json on the test split (written into their folders). */
  evaluate: boolean;
  /** Data for evaluations and grids instead of each run's own (a dataset that moved). */
  dataPath?: string;
  cacheDir?: string;
}

/** A run as the report shows it. */
export interface ReportRun {
  label: string;
  state: RunState;
  metrics: EpochLine[];
  /** The current test evaluation, or null. */
  evaluation: TestEvaluation | null;
  model: string;
}

/** Arguments the table never compares: where a run was written and how it was run, not what it is. */
const NOT_COMPARED = new Set(['save_dir', 'log_dir', 'resume', 'profile', 'cache_dir', 'model']);

/** A value of a run's argument as the report prints it; '—' where the argument does not apply to the run's model or was not recorded. */
function shownArg(run: ReportRun, name: string): string {
  const value = run.state.args[name];
  return value === undefined || !appliesTo(name, run.model) ? '—' : String(value);
}

/**
 * The run folders the given folders stand for, with a unique label each: a run folder is itself
 * (labelled by its name), a sweep folder its configurations' folders (by configuration name), a
 * folder of run folders each of them. Anything else is a UsageError naming it.
 */
export function collectRuns(folders: readonly string[]): { dir: string; label: string }[] {
  const found: { dir: string; label: string }[] = [];
  for (const given of folders) {
    const dir = resolve(given);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${given} is not a folder; pass run folders (with run.json) or a sweep's --save_dir`);
    if (isRunFolder(dir)) {
      found.push({ dir, label: basename(dir) });
      continue;
    }
    const sweep = readSweepRecord(dir);
    const runs = sweep ? sweep.configurations.map((c) => join(dir, c.name)).filter((d) => existsSync(d) && isRunFolder(d)) : runSubfolders(dir);
    if (runs.length === 0) throw new UsageError(`${given} holds no run (run.json) ${sweep ? `yet: none of its ${sweep.configurations.length} configurations has finished an epoch` : `and no sweep (${SWEEP_FILE})`}; pass run folders or a sweep's --save_dir`);
    for (const run of runs) found.push({ dir: run, label: basename(run) });
  }
  const seen = new Set<string>();
  const unique: { dir: string; label: string }[] = [];
  for (const run of found) {
    if (unique.some((u) => u.dir === run.dir)) continue;
    let label = seen.has(run.label) ? `${basename(dirname(run.dir))}/${run.label}` : run.label;
    for (let n = 2; seen.has(label); n++) label = `${run.label}-${n}`;
    seen.add(label);
    unique.push({ ...run, label });
  }
  return unique;
}

/** Whether `name` (of --examples) means the run: its label, or its folder. */
export function namesRun(name: string, run: { dir: string; label: string }): boolean {
  return run.label === name || run.dir === resolve(name);
}

/** A label as a file-name part. */
function fileStem(label: string): string {
  return label.replace(/[^A-Za-z0-9._+-]/g, '-');
}

function csv<Row extends object>(rows: readonly Row[], columns: readonly string[]): string {
  const cell = (v: unknown) => {
    const text = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return `${[columns.join(','), ...rows.map((r) => columns.map((c) => cell((r as Record<string, unknown>)[c])).join(','))].join('\n')}\n`;
}

/** The table's row of a run, full precision (the CSV beside the table holds exactly these). */
export interface TableRow {
  run: string;
  model: string;
  args: Record<string, string>;
  best_epoch: number;
  train_dice: number | null;
  valid_dice: number | null;
  test_dice: number | null;
  /** Σ of the epochs' seconds (training and validation). */
  training_seconds: number | null;
  /** Training images per second over the run: Σ images / Σ seconds. */
  images_per_second: number | null;
  adapter: string | null;
}

function tableRow(run: ReportRun, differing: readonly string[]): TableRow {
  const best = run.metrics.find((m) => m.epoch === run.state.best.epoch);
  const timed = run.metrics.filter((m) => typeof m.seconds === 'number' && typeof m.images_per_second === 'number');
  const seconds = timed.reduce((s, m) => s + m.seconds!, 0);
  const images = timed.reduce((s, m) => s + m.images_per_second! * m.seconds!, 0);
  return {
    run: run.label,
    model: run.model,
    args: Object.fromEntries(differing.map((name) => [name, shownArg(run, name)])),
    best_epoch: run.state.best.epoch,
    train_dice: best?.train_dice ?? null,
    valid_dice: best?.valid_dice ?? (Number.isFinite(run.state.best.valid_dice) ? run.state.best.valid_dice : null),
    test_dice: run.evaluation?.dice ?? null,
    training_seconds: timed.length ? seconds : null,
    images_per_second: timed.length && seconds > 0 ? images / seconds : null,
    adapter: run.state.adapter ?? run.evaluation?.adapter ?? null,
  };
}

/** The compared arguments: those that differ between runs (among the runs they apply to), and the line of those equal in every run. */
function splitArguments(runs: readonly ReportRun[]): { differing: string[]; shared: string } {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.state.args)))].filter((n) => !NOT_COMPARED.has(n));
  const differing: string[] = [];
  const shared: string[] = [];
  for (const name of names) {
    const applying = runs.filter((r) => appliesTo(name, r.model));
    const values = new Set(applying.map((r) => shownArg(r, name)));
    if (values.size > 1) differing.push(name);
    else if (applying.length) shared.push(`--${name} ${[...values][0]}${applying.length < runs.length ? ` (${[...new Set(applying.map((r) => r.model))].join(', ')})` : ''}`);
  }
  const models = new Set(runs.map((r) => r.model));
  return { differing, shared: [...(models.size === 1 ? [`--model ${[...models][0]}`] : []), ...shared].join(' ') };
}

function curvePoints(run: ReportRun): CurvePoint[] {
  const value = (v: number | undefined) => (typeof v === 'number' ? v : null);
  return run.metrics.map((m) => ({ run: run.label, epoch: m.epoch, train_loss: value(m.train_loss), valid_loss: value(m.valid_loss), train_dice: value(m.train_dice), valid_dice: value(m.valid_dice) }));
}

const CURVE_COLUMNS = ['run', 'epoch', 'train_loss', 'valid_loss', 'train_dice', 'valid_dice'];

/** How arguments read on an axis. */
const AXIS_NAMES: Record<string, string> = { lr: 'learning rate (--lr)', weight_decay: 'weight decay (--weight_decay)', batch_size: 'batch size (--batch_size, images)', img_size: 'input size (--img_size, pixels)', epochs: 'epochs (--epochs)' };

export interface ReportSummary {
  runs: number;
  files: string[];
}

/** The runs of the folders, with their test scores — computed where missing and `o.evaluate` allows. */
async function readRuns(o: ReportOptions, say: (line: string) => void): Promise<ReportRun[]> {
  const runs: ReportRun[] = [];
  for (const { dir, label } of o.runs) {
    const state = readRun(dir);
    if (!state) {
      say(`report: skipping ${dir}: no finished epoch yet`);
      continue;
    }
    let evaluation = readEvaluation(dir);
    if (!evaluationIsCurrent(state, evaluation) && o.evaluate && existsSync(join(dir, RUN_FILES.best))) {
      say(`report: scoring ${label} on the test split (no current evaluation.json)`);
      const outcome = await evaluateRun(dir, { dataPath: o.dataPath, cacheDir: o.cacheDir }, say);
      if (outcome.kind === 'evaluated' || outcome.kind === 'current') evaluation = outcome.evaluation;
      else if (outcome.kind === 'in use' || outcome.kind === 'no data') say(`report: ${label}: no test Dice (${outcome.line})`);
    }
    const model = typeof state.args.model === 'string' ? state.args.model : '—';
    runs.push({ label, state, metrics: readMetrics(dir), evaluation: evaluationIsCurrent(state, evaluation) ? evaluation : null, model });
  }
  if (runs.length === 0) throw new Error('no run has finished an epoch; nothing to report');
  return runs;
}

/** The figure files: each written into the report's folder, its name kept for the summary. */
class FigureWriter {
  readonly figures: Figure[] = [];
  readonly files: string[] = [];
  constructor(readonly out: string) {}

  write(name: string, content: string | Uint8Array): void {
    writeFileSync(join(this.out, name), content);
    this.files.push(name);
  }

  async svg(id: string, title: string, caption: string, spec: TopLevelSpec, data: string, dataText: string): Promise<void> {
    this.write(data, dataText);
    this.write(`${id}.svg`, await renderSvg(spec));
    this.figures.push({ id, title, caption, svg: `${id}.svg`, data });
  }

  missing(id: string, title: string, why: string): void {
    this.figures.push({ id, title, caption: '', missing: why });
  }
}

/** The heatmap over two numeric arguments that differ (lr × weight_decay first), when there are two. */
async function heatmapFigure(w: FigureWriter, rows: readonly TableRow[], differing: readonly string[]): Promise<void> {
  const numeric = differing.filter((name) => rows.every((r) => r.args[name] === '—' || Number.isFinite(Number(r.args[name]))));
  const axes = numeric.includes('lr') && numeric.includes('weight_decay') ? ['lr', 'weight_decay'] : numeric.slice(0, 2);
  if (axes.length < 2) return;
  const useTest = rows.every((r) => r.test_dice !== null);
  const others = differing.filter((name) => !axes.includes(name));
  const models = new Set(rows.map((r) => r.model)).size > 1;
  const cells = rows
    .filter((r) => r.args[axes[0]] !== '—' && r.args[axes[1]] !== '—' && (useTest ? r.test_dice : r.valid_dice) !== null)
    .map((r) => ({
      run: r.run,
      x: Number(r.args[axes[0]]),
      y: Number(r.args[axes[1]]),
      dice: (useTest ? r.test_dice : r.valid_dice)!,
      panel: [...(models ? [r.model] : []), ...others.map((n) => `${n} ${r.args[n]}`)].join(', '),
    }));
  const names = { x: AXIS_NAMES[axes[0]] ?? `--${axes[0]}`, y: AXIS_NAMES[axes[1]] ?? `--${axes[1]}`, dice: useTest ? 'test Dice' : 'valid Dice' };
  const caption = `Mean Dice per image of each run's best checkpoint${useTest ? ' on the test split' : ' on the valid split (not every run has a test evaluation)'}; one panel per value of what else varies.`;
  await w.svg('heatmap', `${names.dice} over ${axes.join(' × ')}`, caption, heatmapSpec(cells, names), 'heatmap.csv', csv(cells, ['run', 'panel', 'x', 'y', 'dice']));
}

/** Prediction grids of the best run (by test Dice, else valid Dice) and of the runs named with --examples. */
async function predictionFigures(w: FigureWriter, o: ReportOptions, runs: readonly ReportRun[], rows: readonly TableRow[], say: (line: string) => void): Promise<void> {
  if (o.images === 0) return;
  const best = [...rows].sort((a, b) => (b.test_dice ?? b.valid_dice ?? -1) - (a.test_dice ?? a.valid_dice ?? -1))[0].run;
  const named = o.examples.map((e) => runs.find((r) => namesRun(e, { dir: r.state.dir, label: r.label }))!);
  for (const run of [...new Set([runs.find((r) => r.label === best)!, ...named])]) {
    const stem = `predictions-${fileStem(run.label)}`;
    const title = `Predictions: ${run.label}${run.label === best ? ' (the best run)' : ''}`;
    const checkpoint = join(run.state.dir, RUN_FILES.best);
    const data = o.dataPath ?? run.state.dataPath;
    if (!existsSync(checkpoint)) {
      w.missing(stem, title, 'no best.safetensors in the run folder');
    } else if (data === undefined || !existsSync(join(data, SPLIT_FILES[1]))) {
      w.missing(stem, title, `no test split at ${data ?? "the run's data (not recorded)"}; pass --data_path`);
    } else {
      say(`report: segmenting ${o.images} test images with ${run.label}'s best checkpoint`);
      const grid = await predictionGrid(checkpoint, data, testImageNames(data, o.images));
      w.write(`${stem}.png`, grid.png);
      w.write(`${stem}.json`, `${JSON.stringify({ run: run.label, checkpoint, columns: GRID_COLUMNS.names, rows: grid.rows }, null, 1)}\n`);
      const caption = `First ${grid.rows.length} test images: ${GRID_COLUMNS.names.join(' | ')} (truth: the trimap's pet and border); Dice per image at full resolution in ${stem}.json.`;
      w.figures.push({ id: stem, title, caption, png: `${stem}.png`, data: `${stem}.json`, columns: GRID_COLUMNS });
    }
  }
}

/** Write the report for `o.folders` into `o.out`; `say` gets a line per step. */
export async function writeReport(o: ReportOptions, say: (line: string) => void): Promise<ReportSummary> {
  mkdirSync(o.out, { recursive: true });
  const runs = await readRuns(o, say);
  const w = new FigureWriter(o.out);
  const { differing, shared } = splitArguments(runs);
  const rows = runs.map((run) => tableRow(run, differing));
  const columns = ['run', 'model', ...differing, 'best_epoch', 'train_dice', 'valid_dice', 'test_dice', 'training_seconds', 'images_per_second', 'adapter'];
  w.write('table.csv', csv(rows.map((r) => ({ ...r, ...r.args })), columns));
  w.write('runs.json', `${JSON.stringify(runs.map((r) => ({ label: r.label, dir: r.state.dir, args: r.state.args, best: r.state.best, epochs: r.metrics, evaluation: r.evaluation })), null, 1)}\n`);

  const tested = rows.filter((r) => r.test_dice !== null).map((r) => ({ run: r.run, model: r.model, test_dice: r.test_dice! }));
  if (tested.length) {
    await w.svg('test-dice', 'Best test Dice', "Each run's best checkpoint (lowest validation loss) scored on the test split: mean Dice per image.", testDiceSpec(tested), 'test-dice.csv', csv(tested, ['run', 'model', 'test_dice']));
  } else {
    w.missing('test-dice', 'Best test Dice', 'no run has a test evaluation (run `petseg sweep`, or `petseg report` with the test split at hand)');
  }
  const points = new Map(runs.map((run) => [run, curvePoints(run)]));
  const allPoints = [...points.values()].flat();
  const overlaid = 'Train (solid) and valid (dashed) BCE loss and mean Dice per epoch, every run overlaid.';
  await w.svg('curves-all', 'Training curves, all runs', overlaid, curvesSpec('Training curves, all runs', allPoints, true), 'curves-all.csv', csv(allPoints, CURVE_COLUMNS));
  await heatmapFigure(w, rows, differing);
  await predictionFigures(w, o, runs, rows, say);
  for (const [run, runPoints] of points) {
    const stem = `curves-${fileStem(run.label)}`;
    const title = `Training curves: ${run.label}`;
    if (runPoints.length === 0) w.missing(stem, title, 'no metrics.jsonl in the run folder');
    else await w.svg(stem, title, `BCE loss and mean Dice per epoch of ${run.label}, train and valid.`, curvesSpec(title, runPoints, false), `${stem}.csv`, csv(runPoints, CURVE_COLUMNS));
  }

  const content: ReportContent = { folders: o.folders.map((f) => resolve(f)), shared, differing, rows, figures: w.figures };
  w.write('report.md', renderMarkdown(content));
  w.write('report.html', renderHtml(content, (name) => readFileSync(join(o.out, name))));
  return { runs: runs.length, files: w.files };
}
