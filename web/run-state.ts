/**
 * A page run as the page shows it — to the user, to the console and to the end-to-end test
 * (`window.petseg.run`) — and the Web Lock that lets one tab at a time train it.
 */
import type { EpochMetrics } from '../train/browser.js';

export type RunPhase = 'idle' | 'decoding' | 'training' | 'done' | 'stopped' | 'failed';
export type RunFile = 'best.safetensors' | 'last.safetensors' | 'metrics.jsonl';

export interface RunState {
  /** The run's settings by the CLI's argument names (labArgs), as it uses them. */
  options: Record<string, unknown> | null;
  state: RunPhase;
  message: string;
  /** One per finished epoch, as metrics.jsonl holds it. */
  records: EpochMetrics[];
  /** Live GPU bytes after each epoch's commit (flat when nothing leaks). */
  memory: number[];
  /** The run's folder name under `runs/` in the page's private storage. */
  run: string | null;
  dataset: string | null;
  /** Lines about the data: images skipped (unreadable, not an image) and the like. */
  warnings: string[];
  /** The test split's scores of the best checkpoint, once evaluated. */
  evaluation: { images: number; dice: number; iou: number; loss: number } | null;
  /** A file of the run, as the download link gives it. */
  download(file: RunFile): Promise<Uint8Array | null>;
}

/** Holds the run's Web Lock until released; refused while another tab trains the same run. */
export async function lockRun(name: string): Promise<() => void> {
  if (!navigator.locks) return () => {};
  let release = () => {};
  const held = new Promise<boolean>((granted) => {
    void navigator.locks.request(`petseg-run:${name}`, { ifAvailable: true }, (lock) => {
      granted(lock !== null);
      return lock ? new Promise<void>((done) => (release = done)) : undefined;
    });
  });
  if (!(await held)) throw new Error(`the run ${name} is in use in another tab of this page; wait for it to finish`);
  return () => release();
}
