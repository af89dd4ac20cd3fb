/** A small live chart of loss (left axis, from 0 to its maximum) and Dice (right axis, 0–1) per step. */
export function drawChart(canvas: HTMLCanvasElement, losses: readonly number[], dices: readonly number[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  const pad = { left: 48, right: 48, top: 14, bottom: 26 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  ctx.clearRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  ctx.strokeStyle = '#ccc';
  ctx.strokeRect(pad.left, pad.top, w, h);
  const maxLoss = Math.max(1e-6, ...losses);
  const steps = Math.max(2, losses.length);
  const x = (i: number) => pad.left + (i / (steps - 1)) * w;
  const line = (values: readonly number[], top: number, color: string) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    values.forEach((v, i) => (i ? ctx.lineTo(x(i), pad.top + h * (1 - v / top)) : ctx.moveTo(x(i), pad.top + h * (1 - v / top))));
    ctx.stroke();
  };
  line(losses, maxLoss, '#d9480f');
  line(dices, 1, '#1c7ed6');
  ctx.fillStyle = '#d9480f';
  ctx.textAlign = 'right';
  ctx.fillText(maxLoss.toFixed(2), pad.left - 6, pad.top + 10);
  ctx.fillText('loss', pad.left - 6, pad.top + h / 2);
  ctx.fillText('0', pad.left - 6, pad.top + h);
  ctx.fillStyle = '#1c7ed6';
  ctx.textAlign = 'left';
  ctx.fillText('1', pad.left + w + 6, pad.top + 10);
  ctx.fillText('Dice', pad.left + w + 6, pad.top + h / 2);
  ctx.fillText('0', pad.left + w + 6, pad.top + h);
  ctx.fillStyle = '#444';
  ctx.textAlign = 'center';
  ctx.fillText(`step (${losses.length})`, pad.left + w / 2, height - 6);
}
