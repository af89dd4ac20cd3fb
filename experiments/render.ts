/**
 * The report as Markdown (figures linked as the files beside it) and as one self-contained HTML
 * page that opens from disk with no network: SVG inline (each figure's ids prefixed, so two
 * figures' gradients cannot collide), PNGs as data: URLs, the style inline, no script.
 */
import { version } from '../cli/commands/args.js';
import type { TableRow } from './report.js';

export interface Figure {
  id: string;
  title: string;
  caption: string;
  svg?: string;
  png?: string;
  /** The figure's data file, beside it. */
  data?: string;
  /** Why the figure is not there ("—" is shown with it). */
  missing?: string;
  /** Headings over an image grid's columns of `width` pixels, `gap` apart. */
  columns?: { names: readonly string[]; width: number; gap: number };
}

export interface ReportContent {
  folders: string[];
  /** The arguments equal in every run, as a command line. */
  shared: string;
  /** The arguments that differ, one column each. */
  differing: string[];
  rows: TableRow[];
  figures: Figure[];
}

const DASH = '—';

function dice(v: number | null): string {
  return v === null ? DASH : v.toFixed(4);
}

/** Seconds as a reader takes them in: 12.3 s, 4 min 05 s, 2 h 03 min. */
function duration(seconds: number | null): string {
  if (seconds === null) return DASH;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/** The adapter's name up to its details (`llvmpipe: Mesa 25.0.7 …` → `llvmpipe`). */
function adapterShort(adapter: string | null): string {
  return adapter === null ? DASH : adapter.split(':')[0].trim();
}

/** The table's cells as text, header first. */
function tableCells(c: ReportContent): string[][] {
  const header = ['run', 'model', ...c.differing.map((n) => `--${n}`), 'best epoch', 'train Dice', 'valid Dice', 'test Dice', 'training time', 'images/s', 'adapter'];
  const body = c.rows.map((r) => [
    r.run,
    r.model,
    ...c.differing.map((n) => r.args[n]),
    String(r.best_epoch),
    dice(r.train_dice),
    dice(r.valid_dice),
    dice(r.test_dice),
    duration(r.training_seconds),
    r.images_per_second === null ? DASH : r.images_per_second.toFixed(1),
    adapterShort(r.adapter),
  ]);
  return [header, ...body];
}

const NOTES =
  'Dice is the mean over images of 2|P∩T| / (|P| + |T|) with P = sigmoid(logit) > --mask_threshold; train and valid Dice are those of the best epoch ' +
  '(lowest validation loss; train Dice over the training batches, model in training mode), test Dice that of its checkpoint on the test split. ' +
  'Training time adds up every epoch (training and validation); images/s is training images over that time.';

function generated(): string {
  return `Generated ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} by petseg ${version()}`;
}

export function renderMarkdown(c: ReportContent): string {
  const [header, ...body] = tableCells(c);
  const row = (cells: string[]) => `| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  const lines = [
    '# petseg report',
    '',
    `${c.rows.length} runs from ${c.folders.map((f) => `\`${f}\``).join(', ')}. ${generated()}.`,
    '',
    `Every run: \`${c.shared || '(no argument is shared)'}\``,
    '',
    row(header),
    row(header.map(() => '---')),
    ...body.map(row),
    '',
    NOTES,
    '',
    '[table.csv](table.csv) holds the table at full precision; [runs.json](runs.json) every run\'s arguments, epochs and evaluation.',
  ];
  for (const f of c.figures) {
    lines.push('', `## ${f.title}`, '');
    if (f.missing) lines.push(`${DASH} (${f.missing})`);
    else lines.push(`![${f.title}](${f.svg ?? f.png})`, '', `${f.caption} Data: [${f.data}](${f.data}).`);
  }
  return `${lines.join('\n')}\n`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An SVG document as an inline element: its XML prolog dropped, its ids (and the references to them) prefixed. */
function inlineSvg(svg: string, prefix: string): string {
  return svg
    .replace(/^<\?xml[^>]*>\s*/, '')
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; }
.meta, .notes, figcaption { color: #555; font-size: 13px; }
code { background: #f3f3f5; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 9px; text-align: right; white-space: nowrap; }
th { background: #f3f3f5; } td:nth-child(-n + 2), th:nth-child(-n + 2) { text-align: left; }
figure { margin: 0; overflow-x: auto; } .missing { color: #888; }
.columns { display: flex; font-size: 13px; font-weight: 600; } .columns span { text-align: center; flex: none; }`;

export function renderHtml(c: ReportContent, read: (file: string) => Uint8Array): string {
  const [header, ...body] = tableCells(c);
  const adapterIndex = header.length - 1;
  const table = [
    '<table>',
    `<tr>${header.map((h) => `<th>${escape(h)}</th>`).join('')}</tr>`,
    ...body.map((cells, r) => `<tr>${cells.map((x, i) => (i === adapterIndex ? `<td title="${escape(c.rows[r].adapter ?? DASH)}">${escape(x)}</td>` : `<td>${escape(x)}</td>`)).join('')}</tr>`),
    '</table>',
  ].join('\n');
  const figures = c.figures.map((f) => {
    const head = `<h2 id="${escape(f.id)}">${escape(f.title)}</h2>`;
    if (f.missing) return `${head}\n<p class="missing">${DASH} (${escape(f.missing)})</p>`;
    const picture = f.svg
      ? inlineSvg(new TextDecoder().decode(read(f.svg)), f.id)
      : `<img alt="${escape(f.title)}" src="data:image/png;base64,${Buffer.from(read(f.png!)).toString('base64')}">`;
    const columns = f.columns ? `<div class="columns" style="gap: ${f.columns.gap}px">${f.columns.names.map((n) => `<span style="width: ${f.columns!.width}px">${escape(n)}</span>`).join('')}</div>` : '';
    const link = (file: string) => `<a href="${escape(file)}">${escape(file)}</a>`;
    return `${head}\n<figure>${columns}${picture}<figcaption>${escape(f.caption)} Figure: ${link((f.svg ?? f.png)!)}; data: ${link(f.data!)}.</figcaption></figure>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>petseg report</title>
<link rel="icon" href="data:,">
<style>${STYLE}
</style>
</head>
<body>
<h1>petseg report</h1>
<p class="meta">${c.rows.length} runs from ${c.folders.map((f) => `<code>${escape(f)}</code>`).join(', ')}. ${escape(generated())}.</p>
<p>Every run: <code>${escape(c.shared || '(no argument is shared)')}</code></p>
${table}
<p class="notes">${escape(NOTES)} Full precision: <a href="table.csv">table.csv</a>; every run's arguments, epochs and evaluation: <a href="runs.json">runs.json</a>.</p>
${figures.join('\n')}
</body>
</html>
`;
}
