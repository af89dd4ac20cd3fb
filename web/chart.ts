/**
 * Live training curves per epoch: train and valid loss (left axis, from 0 to their maximum) and
 * Dice (right axis, 0–1), with a legend.
 */
import type { EpochMetrics } from '../train/browser.js';

const SERIES = [
  { label: 'train loss', color: '#d9480f', dash: [], value: (r: EpochMetrics) => r.train_loss, axis: 'loss' },
  { label: 'valid loss', color: '#d9480f', dash: [6, 4], value: (r: EpochMetrics) => r.valid_loss, axis: 'loss' },
  { label: 'train Dice', color: '#1c7ed6', dash: [], value: (r: EpochMetrics) => r.train_dice, axis: 'dice' },
  { label: 'valid Dice', color: '#1c7ed6', dash: [6, 4], value: (r: EpochMetrics) => r.valid_dice, axis: 'dice' },
] as const;

export function drawCurves(canvas: HTMLCanvasElement, records: readonly EpochMetrics[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  const pad = { left: 48, right: 48, top: 26, bottom: 26 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  ctx.clearRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  ctx.strokeStyle = '#ccc';
  ctx.setLineDash([]);
  ctx.strokeRect(pad.left, pad.top, w, h);
  const maxLoss = Math.max(1e-6, ...records.flatMap((r) => [r.train_loss, r.valid_loss]));
  const epochs = Math.max(2, records.length);
  const x = (i: number) => pad.left + (i / (epochs - 1)) * w;
  for (const s of SERIES) {
    const top = s.axis === 'loss' ? maxLoss : 1;
    ctx.strokeStyle = s.color;
    ctx.setLineDash([...s.dash]);
    ctx.lineWidth = 2;
    ctx.beginPath();
    records.forEach((r, i) => (i ? ctx.lineTo(x(i), pad.top + h * (1 - s.value(r) / top)) : ctx.moveTo(x(i), pad.top + h * (1 - s.value(r) / top))));
    ctx.stroke();
  }
  ctx.setLineDash([]);
  SERIES.forEach((s, i) => {
    const at = pad.left + i * 110;
    ctx.strokeStyle = s.color;
    ctx.setLineDash([...s.dash]);
    ctx.beginPath();
    ctx.moveTo(at, 10);
    ctx.lineTo(at + 24, 10);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = '#444';
    ctx.textAlign = 'left';
    ctx.fillText(s.label, at + 28, 14);
  });
  ctx.fillStyle = '#d9480f';
  ctx.textAlign = 'right';
  ctx.fillText(maxLoss.toFixed(2), pad.left - 6, pad.top + 10);
  ctx.fillText('BCE', pad.left - 6, pad.top + h / 2);
  ctx.fillText('0', pad.left - 6, pad.top + h);
  ctx.fillStyle = '#1c7ed6';
  ctx.textAlign = 'left';
  ctx.fillText('1', pad.left + w + 6, pad.top + 10);
  ctx.fillText('Dice', pad.left + w + 6, pad.top + h / 2);
  ctx.fillText('0', pad.left + w + 6, pad.top + h);
  ctx.fillStyle = '#444';
  ctx.textAlign = 'center';
  ctx.fillText(`epoch (${records.length})`, pad.left + w / 2, height - 6);
}
