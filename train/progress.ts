/**
 * Per-epoch progress: on a TTY one line redrawn in place (bar, loss, Dice, images/s, ETA);
 * otherwise plain lines — at each quarter of the epoch and at least every PLAIN_EVERY_SECONDS —
 * so logs stay readable and a slow epoch (a CPU adapter, the lab's sizes) still shows its ETA.
 */

/** Where progress goes: a stream like process.stdout (a TTY gets a line redrawn in place). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressUpdate {
  done: number;
  total: number;
  loss: number;
  dice: number;
  images: number;
}

/** Redirected output gets a plain line at least this often while an epoch runs. */
const PLAIN_EVERY_SECONDS = 30;

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (v: number) => String(v).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/**
 * The in-place line within `width` columns: the bar shrinks first (to nothing), then the
 * statistics go, so the counts and the ETA always show.
 */
export function ttyLine(label: string, u: ProgressUpdate, stats: string, eta: string, width: number): string {
  const counts = `${u.done}/${u.total}`;
  const tail = ` ${counts} ${stats} ETA ${eta}`;
  const bar = Math.min(24, width - label.length - tail.length - 3);
  if (bar >= 4) {
    const filled = Math.round((bar * u.done) / u.total);
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(bar - filled)}]${tail}`;
  }
  const short = `${label} ${counts} ${stats} ETA ${eta}`;
  return short.length <= width ? short : `${label} ${counts} ETA ${eta}`.slice(-Math.max(width, 1));
}

/**
 * An epoch's progress on `stream` (default stdout): one line redrawn in place on a TTY, else plain
 * lines now and then (the top of this file).
 */
export class ProgressBar {
  private readonly started = performance.now();
  private lastPlainQuarter = 0;
  private lastPlainSeconds = 0;

  constructor(
    private readonly label: string,
    private readonly stream: ProgressStream = process.stdout,
  ) {}

  update(u: ProgressUpdate): void {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = u.images / Math.max(seconds, 1e-9);
    const eta = u.done > 0 ? (seconds / u.done) * (u.total - u.done) : Infinity;
    const stats = `loss ${u.loss.toFixed(4)} dice ${u.dice.toFixed(4)} ${rate.toFixed(1)} img/s`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${ttyLine(this.label, u, stats, clock(eta), (this.stream.columns ?? 80) - 1)}\x1b[K`);
      return;
    }
    const quarter = Math.floor((4 * u.done) / u.total);
    const due = quarter > this.lastPlainQuarter || seconds - this.lastPlainSeconds >= PLAIN_EVERY_SECONDS;
    if (due && u.done < u.total) {
      this.lastPlainQuarter = quarter;
      this.lastPlainSeconds = seconds;
      this.stream.write(`${this.label} ${u.done}/${u.total} ${stats} ETA ${clock(eta)}\n`);
    }
  }

  /** Clear the in-place line (TTY) before the epoch's summary line. */
  end(): void {
    if (this.stream.isTTY) this.stream.write('\r\x1b[K');
  }
}
