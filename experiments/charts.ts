/**
 * The report's charts as Vega-Lite specifications rendered to SVG in Node (vega-lite compiles,
 * vega renders with its headless 'none' renderer: no browser, no canvas package — text widths
 * are estimated). Every chart has a title, axis titles with units and a legend where colour
 * means something, as a figure pasted into a lab report needs.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One epoch of one run, as the curves plot it. */
export interface CurvePoint {
  run: string;
  epoch: number;
  train_loss: number | null;
  valid_loss: number | null;
  train_dice: number | null;
  valid_dice: number | null;
}

const WIDTH = 300;
const HEIGHT = 200;
const LOSS_TITLE = 'BCE loss (mean per pixel)';
const DICE_TITLE = 'Dice (mean per image, 0–1)';

/** Render a Vega-Lite specification to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Long form (one row per run, epoch, split and metric) of the curves' points; nulls (fields older runs lack) are left out. */
function longCurves(points: readonly CurvePoint[]): { run: string; epoch: number; split: string; metric: string; value: number }[] {
  const series = [
    ['train', LOSS_TITLE, 'train_loss'],
    ['valid', LOSS_TITLE, 'valid_loss'],
    ['train', DICE_TITLE, 'train_dice'],
    ['valid', DICE_TITLE, 'valid_dice'],
  ] as const;
  return points.flatMap((p) => series.flatMap(([split, metric, field]) => (p[field] === null ? [] : [{ run: p.run, epoch: p.epoch, split, metric, value: p[field] as number }])));
}

/**
 * Loss and Dice per epoch, side by side; train and valid as colours (one run) or runs as colours
 * and train/valid as dashes (several runs overlaid).
 */
export function curvesSpec(title: string, points: readonly CurvePoint[], overlaid: boolean): TopLevelSpec {
  const values = longCurves(points);
  const maxEpoch = Math.max(1, ...points.map((p) => p.epoch));
  const panel = (metric: string, domain?: [number, number]) => ({
    transform: [{ filter: { field: 'metric', equal: metric } }],
    width: WIDTH,
    height: HEIGHT,
    mark: { type: 'line' as const, point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch', scale: { domain: [1, maxEpoch] }, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative' as const, title: metric, scale: domain ? { domain } : { zero: false } },
      color: overlaid
        ? { field: 'run', type: 'nominal' as const, title: 'run' }
        : { field: 'split', type: 'nominal' as const, title: 'split', scale: { domain: ['train', 'valid'] } },
      ...(overlaid ? { strokeDash: { field: 'split', type: 'nominal' as const, title: 'split', scale: { domain: ['train', 'valid'] }, legend: { encode: { symbols: { update: { stroke: { value: '#333' } } } } } } } : {}),
      tooltip: [{ field: 'run' }, { field: 'split' }, { field: 'epoch' }, { field: 'value', format: '.4f' }],
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start' },
    data: { values },
    hconcat: [panel(LOSS_TITLE), panel(DICE_TITLE, [0, 1])],
    // Lines in the legend (the dashes tell train from valid); long run names in full.
    config: { legend: { orient: 'right', symbolType: 'stroke', symbolStrokeWidth: 2, labelLimit: 400 } },
  };
}

/** Best test Dice per run, one bar each, coloured by model, with the value printed at its end. */
export function testDiceSpec(rows: readonly { run: string; model: string; test_dice: number }[]): TopLevelSpec {
  const order = [...rows].sort((a, b) => b.test_dice - a.test_dice).map((r) => r.run);
  const y = { field: 'run', type: 'nominal' as const, title: 'run', sort: order, axis: { labelLimit: 400 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Best checkpoint of each run on the test split', anchor: 'start' },
    data: { values: [...rows] },
    width: 360,
    height: { step: 24 },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y,
          x: { field: 'test_dice', type: 'quantitative', title: 'test Dice (mean per image, 0–1)', scale: { domain: [0, 1] } },
          color: { field: 'model', type: 'nominal', title: 'model', legend: { labelLimit: 400 } },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 3 },
        encoding: { y, x: { field: 'test_dice', type: 'quantitative' }, text: { field: 'test_dice', type: 'quantitative', format: '.4f' } },
      },
    ],
  };
}

/**
 * A Dice heatmap over two numeric arguments (`x` and `y`, e.g. lr × weight_decay), the value in
 * each cell; `panel` (what else varies, e.g. the model) splits it into side-by-side panels.
 */
export function heatmapSpec(
  rows: readonly { x: number; y: number; dice: number; panel: string }[],
  names: { x: string; y: string; dice: string },
): TopLevelSpec {
  const panels = new Set(rows.map((r) => r.panel)).size > 1;
  const sortNumeric = (field: 'x' | 'y') => [...new Set(rows.map((r) => r[field]))].sort((a, b) => a - b);
  const layer = {
    width: { step: 70 },
    height: { step: 40 },
    encoding: {
      x: { field: 'x', type: 'ordinal' as const, title: names.x, sort: sortNumeric('x'), axis: { labelAngle: 0 } },
      y: { field: 'y', type: 'ordinal' as const, title: names.y, sort: sortNumeric('y').reverse() },
    },
    layer: [
      { mark: { type: 'rect' as const }, encoding: { color: { field: 'dice', type: 'quantitative' as const, title: names.dice, scale: { scheme: 'viridis', domain: [0, 1] } } } },
      {
        mark: { type: 'text' as const, fontSize: 12 },
        encoding: {
          text: { field: 'dice', type: 'quantitative' as const, format: '.3f' },
          color: { condition: { test: 'datum.dice > 0.6', value: 'black' }, value: 'white' },
        },
      },
    ],
  };
  const title = { text: `${names.dice} over ${names.x} × ${names.y}`, anchor: 'start' as const };
  if (!panels) return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, data: { values: [...rows] }, ...layer };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: [...rows] },
    facet: { column: { field: 'panel', type: 'nominal', title: null } },
    spec: layer,
  };
}
