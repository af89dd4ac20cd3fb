/**
 * Kill -9 at any instant: the run folder must resume to exactly the state of an uninterrupted run.
 * A crashed run is killed by SIGKILL at every commit point (PETSEG_CRASH_AT, see
 * train/run-folder.ts) and at spread-out wall-clock moments, then resumed; its weights, optimizer
 * state, metrics and TensorBoard log must equal the reference run's.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeSafetensors } from '../engine/safetensors.js';
import { RUN_FILES } from '../train/run-folder.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { readSummaries } from './helpers/tfrecord.js';

const root = new URL('..', import.meta.url).pathname;
const built = existsSync(new URL('../dist/cli/commands/train.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'petseg-crash-'));
const data = join(work, 'data');
writeSyntheticDataset(data, { trainval: 20, test: 6, size: 40, seed: 4 });
const EPOCHS = 3;
const RUN = ['--data_path', data, '--img_size', '32', '--base_channels', '4', '--batch_size', '6', '--epochs', String(EPOCHS)];

interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `node cli/train.js` in one process (PETSEG_VERBOSE: no filtering child), killed after killAfterMs if given. */
function trainCli(args: string[], env: Record<string, string> = {}, killAfterMs?: number): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['cli/train.js', ...args], { cwd: root, env: { ...process.env, PETSEG_VERBOSE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', fail);
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      done({ status, signal, stdout, stderr: stderr.replace(/^Warning: maxDynamic.*\n/gm, '') });
    });
  });
}

const tensors = (file: string) => new Map([...decodeSafetensors(readFileSync(file), file).tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')]));

/** What must equal the reference run's: every tensor, the metrics lines but their timings, the manifest's state, the TensorBoard steps. */
function runState(dir: string) {
  const metrics = readFileSync(join(dir, RUN_FILES.metrics), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { seconds, images_per_second, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return rest;
    });
  const manifest = JSON.parse(readFileSync(join(dir, RUN_FILES.manifest), 'utf8')) as { epoch: number; steps: number; best: unknown; tensorboard: { file: string; bytes: number } };
  const events = readdirSync(join(dir, 'tensorboard'));
  const { scalars } = readSummaries(join(dir, 'tensorboard', manifest.tensorboard.file));
  return {
    files: readdirSync(dir).sort(),
    events: events.length,
    last: tensors(join(dir, RUN_FILES.last)),
    best: tensors(join(dir, RUN_FILES.best)),
    optimizer: tensors(join(dir, RUN_FILES.optimizer)),
    metrics,
    manifest: { epoch: manifest.epoch, steps: manifest.steps, best: manifest.best },
    tensorboard: [...scalars].map(([tag, points]) => [tag, points.map(([step, value]) => [step, Math.fround(value)])]),
  };
}

/** Resume a crashed run to the end, or start it again when no epoch had finished; returns the final state. */
async function finish(dir: string): Promise<ReturnType<typeof runState>> {
  let r = await trainCli(['--save_dir', dir, '--resume', '--epochs', String(EPOCHS)]);
  if (r.status === 2 && /holds no finished epoch/.test(r.stderr)) r = await trainCli([...RUN, '--save_dir', dir]);
  if (r.status === 2 && new RegExp(`already trained ${EPOCHS} epochs`).test(r.stderr)) return runState(dir); // killed after the last commit
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return runState(dir);
}

describe.skipIf(!built)('kill -9 at any instant', () => {
  let reference: ReturnType<typeof runState>;

  test('reference run', async () => {
    const r = await trainCli([...RUN, '--save_dir', join(work, 'reference')]);
    expect(r.status).toBe(0);
    reference = runState(join(work, 'reference'));
    expect(reference.files).toEqual([RUN_FILES.best, RUN_FILES.last, RUN_FILES.optimizer, RUN_FILES.metrics, RUN_FILES.manifest, 'tensorboard'].sort());
    expect(reference.metrics.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(reference.manifest.epoch).toBe(EPOCHS);
    expect(reference.tensorboard.find(([tag]) => tag === 'loss/valid')![1]).toHaveLength(EPOCHS);
  });

  const points = [
    ...[RUN_FILES.last, RUN_FILES.optimizer, RUN_FILES.best, RUN_FILES.metrics].map((f) => `staged-${f}`),
    'committed',
    ...[RUN_FILES.last, RUN_FILES.optimizer, RUN_FILES.best, RUN_FILES.metrics].map((f) => `applied-${f}`),
    'tensorboard-written',
  ];
  // Every point of the second epoch's commit; in the first, a kill before and after the commit point.
  const kills = [...points.map((point) => [point, 2] as const), [`staged-${RUN_FILES.optimizer}`, 1] as const, ['committed', 1] as const];
  test.each(kills)('killed at %s of epoch %i, then resumed: the same run', async (point, epoch) => {
    const dir = join(work, `${point}-${epoch}`);
    const crashed = await trainCli([...RUN, '--save_dir', dir], { PETSEG_CRASH_AT: `${point}:${epoch}` });
    expect(crashed.signal).toBe('SIGKILL');
    const committed = point.startsWith('applied-') || point === 'committed';
    // Without --resume the folder is refused once an epoch is committed, and accepted while none is.
    const again = await trainCli([...RUN, '--save_dir', dir]);
    if (committed || epoch > 1) {
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(new RegExp(`already holds a run \\(finished epoch ${committed ? epoch : epoch - 1}\\); pass --resume`));
      expect(await finish(dir)).toEqual(reference);
    } else {
      expect(again.status).toBe(0);
      expect(runState(dir)).toEqual(reference);
    }
  });

  test('killed at spread-out moments, then resumed: the same run, no leftovers', async () => {
    // One reference wall time, then kills at fractions of it (start-up, mid-epoch, mid-commit).
    const started = performance.now();
    await trainCli([...RUN, '--save_dir', join(work, 'timed')]);
    const wall = performance.now() - started;
    let landed = 0;
    for (const fraction of [0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97]) {
      const dir = join(work, `kill-${fraction}`);
      const killed = await trainCli([...RUN, '--save_dir', dir], {}, fraction * wall);
      if (!existsSync(dir)) continue; // killed before the data had loaded: nothing was made
      if (killed.signal === 'SIGKILL') landed++;
      expect(await finish(dir)).toEqual(reference);
    }
    expect(landed).toBeGreaterThanOrEqual(3); // the kills really landed inside runs
  });
});
