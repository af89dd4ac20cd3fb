/**
 * The markdown of a gpu-check report (bench/gpu-check.ts): gpu-check.md beside its JSON, and the
 * GPU tables of docs/benchmarks.md (scripts/bench-table.mjs), so that no figure is typed by hand.
 */
import type { GpuCheckReport, GpuCheckRow } from './gpu-check.js';

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(1)} ms`);
const ratio = (a: number | null, b: number | null) => (a === null || b === null ? '—' : `${(a / b).toFixed(2)}×`);
const memory = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/** The PyTorch figure a row is judged against: the default (TF32) step for fp32, AMP for mixed. */
const reference = (r: GpuCheckRow) => (r.precision === 'mixed' ? r.pytorch_ms.amp : r.pytorch_ms.tf32);

export function gpuCheckTables(report: GpuCheckReport): string {
  const c = report.config;
  const torch = report.pytorch ? `PyTorch ${report.pytorch.version} on ${report.pytorch.device}` : 'PyTorch not run';
  const lines = [
    `${report.adapter?.adapter ?? 'unknown adapter'}, ${report.date.slice(0, 10)}${report.quick ? ' (quick sizes)' : ''}: ${c.img_size}×${c.img_size}, batch ${c.batch_size}, UNet width ${c.base_channels}; ${torch}. ` +
      `Tests: ${report.tests.passed ?? '—'} passed, ${report.tests.failed ?? '—'} failed.`,
    '',
    '| model | what | precision | autotuned | petseg | PyTorch default (TF32) | PyTorch fp32 | PyTorch AMP | petseg / PyTorch |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.rows.map(
      (r) =>
        `| ${r.model} | ${r.what === 'train_step' ? 'training step' : 'inference'} | ${r.precision} | ${r.autotune ? 'yes' : 'no'} | ${ms(r.petseg_ms)} | ${ms(r.pytorch_ms.tf32)} | ${ms(r.pytorch_ms.fp32)} | ${ms(r.pytorch_ms.amp)} | ${ratio(r.petseg_ms, reference(r))} |`,
    ),
    '',
    'petseg / PyTorch: against the default (TF32) step for fp32 rows, against AMP for mixed rows.',
  ];
  if (report.lab.length) {
    lines.push('', '| model | precision | input | step | images/s | peak GPU memory |', '| --- | --- | --- | --- | --- | --- |');
    for (const r of report.lab) lines.push(`| ${r.model} | ${r.precision} | ${r.input.join('×')} | ${ms(r.step_ms)} | ${r.images_per_s.toFixed(1)} | ${memory(r.peak_gpu_bytes)} |`);
  }
  return lines.join('\n');
}

/** gpu-check.md: the tables, each step's top kernels and how every part went. */
export function gpuCheckMarkdown(report: GpuCheckReport): string {
  const lines = [`# petseg gpu-check`, '', gpuCheckTables(report), ''];
  for (const p of report.profiles) {
    lines.push(`## ${p.model} ${p.precision} training step, input ${p.input.join('×')}: ${ms(p.step_ms)} wall, ${ms(p.kernel_ms_per_step)} of kernels`, '');
    lines.push('| kernel | grid | calls | ms | share | GB/s | GFLOP/s |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const k of p.top) lines.push(`| ${k.kernel} | ${k.grid} | ${k.calls} | ${k.totalMs.toFixed(3)} | ${(100 * k.share).toFixed(1)}% | ${k.gbPerSecond.toFixed(1)} | ${k.gflopsPerSecond ? k.gflopsPerSecond.toFixed(0) : '—'} |`);
    lines.push('');
  }
  lines.push('| part | result | seconds | note |', '| --- | --- | --- | --- |');
  for (const p of report.parts) lines.push(`| ${p.name} | ${p.ok ? 'ok' : 'FAILED'} | ${p.seconds.toFixed(1)} | ${p.note ?? ''} |`);
  return `${lines.join('\n')}\n`;
}
