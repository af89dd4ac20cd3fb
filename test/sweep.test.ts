/**
 * `petseg sweep` and `petseg report` as a user runs them (node cli/<command>.js, real training on
 * the adapter, no mocks):
 * - a real tiny sweep — UNet and ResNet34_UNet × augment off/on at 32×32 for 2 epochs, on 40
 *   trainval and 8 test images of the real sample (the synthetic set where the sample is
 *   missing) — killed with SIGKILL while a run trains (the training it started ends with it),
 *   resumed, reported: every number of the table is the run's metrics.jsonl, run.json or
 *   `petseg infer --json`; every curve point (in the SVG and its data file) is the run's metrics;
 *   report.html renders in headless Chromium with no console error;
 * - shards: `--shard 1/2` and `--shard 2/2` and an unsharded sweep started together on one
 *   folder train and evaluate every configuration exactly once;
 * - a report of hand-made run folders: the lr × weight_decay heatmap's cells, a run of an
 *   earlier version (no run.json, no train Dice) shown with "—";
 * - bad arguments: one line, exit code 2, nothing written.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { ROOT, cli, type Exit } from './helpers/cli.js';

const SAMPLE = new URL('../../shared/data/oxford-pet-sample/', import.meta.url).pathname;
const CHROMIUM = process.env.PETSEG_CHROMIUM ?? '/usr/bin/chromium';
const browserRequired = process.env.PETSEG_REQUIRE_BROWSER === '1';
const ARTIFACTS = join(ROOT, 'test-artifacts', 'sweep');

/**
 * A small dataset in the official layout: 40 trainval lines (36 train, 4 valid) and 8 test lines,
 * every 6th image of the real sample linked (it has no test split of its own: test images are
 * others of its trainval list), else the synthetic set.
 */
function tinyDataset(root: string): string {
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'annotations', 'trimaps'), { recursive: true });
  if (!existsSync(join(SAMPLE, 'annotations', 'trainval.txt'))) {
    writeSyntheticDataset(root, { trainval: 40, test: 8, size: 64, seed: 3 });
    return root;
  }
  const lines = readFileSync(join(SAMPLE, 'annotations', 'trainval.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  const pick = (indices: number[]) =>
    indices.map((i) => {
      const name = lines[i].split(/\s+/)[0];
      symlinkSync(join(SAMPLE, 'images', `${name}.jpg`), join(root, 'images', `${name}.jpg`));
      symlinkSync(join(SAMPLE, 'annotations', 'trimaps', `${name}.png`), join(root, 'annotations', 'trimaps', `${name}.png`));
      return lines[i];
    });
  writeFileSync(join(root, 'annotations', 'trainval.txt'), `${pick(Array.from({ length: 40 }, (_, k) => 6 * k)).join('\n')}\n`);
  writeFileSync(join(root, 'annotations', 'test.txt'), `${pick(Array.from({ length: 8 }, (_, k) => 6 * k + 3)).join('\n')}\n`);
  return root;
}

/** A command started in the background, its output readable as it comes. */
function start(command: string, args: string[]): { pid: number; output: () => string; done: Promise<Exit> } {
  const child = spawn(process.execPath, [join(ROOT, 'cli', `${command}.js`), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close': every process holding the pipes — the sweep's own and the train it started — has ended.
  const done = new Promise<Exit>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  return { pid: child.pid!, output: () => stdout, done };
}

async function waitFor(what: string, check: () => boolean, seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectOk(exit: Exit, what: string): void {
  expect(exit.status, `${what}\n${exit.stdout}\n${exit.stderr}`).toBe(0);
}

/** A CSV file of the report as records (numbers as written: JavaScript's shortest round-trip form). */
function readCsv(file: string): Record<string, string>[] {
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const split = (line: string) => [...line.matchAll(/("([^"]|"")*"|[^,]*)(,|$)/g)].slice(0, header.split(',').length).map((m) => m[1].replace(/^"|"$/g, '').replace(/""/g, '"'));
  const names = header.split(',');
  return rows.map((line) => Object.fromEntries(split(line).map((v, i) => [names[i], v])));
}

interface Metrics {
  epoch: number;
  train_loss: number;
  valid_loss: number;
  train_dice: number;
  valid_dice: number;
  seconds: number;
  images_per_second: number;
}

const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;
const readMetrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Metrics);

const CONFIGS = ['model-UNet_augment-false', 'model-UNet_augment-true', 'model-ResNet34_UNet_augment-false', 'model-ResNet34_UNet_augment-true'];

describe('a real tiny sweep, killed, resumed and reported', () => {
  const root = mkdtempSync(join(tmpdir(), 'petseg-sweep-'));
  const data = tinyDataset(join(root, 'data'));
  const sweepDir = join(root, 'sweep');
  const reportDir = join(root, 'report');
  const args = ['--save_dir', sweepDir, '--data_path', data, '--model', 'UNet,ResNet34_UNet', '--augment', 'false,true', '--img_size', '32', '--epochs', '2', '--base_channels', '8'];

  test('--dry_run lists the four configurations and writes nothing', async () => {
    const dry = await cli('sweep', [...args, '--dry_run']);
    expectOk(dry, 'sweep --dry_run');
    for (const [i, name] of CONFIGS.entries()) expect(dry.stdout).toContain(`[${i + 1}/4] ${name}: not started`);
    expect(dry.stdout).not.toMatch(/ResNet34_UNet.*--base_channels/); // UNet's width is not passed to ResNet34_UNet
    expect(existsSync(sweepDir)).toBe(false);
  });

  test('killed while ResNet34_UNet trains, then resumed: every run trained to 2 epochs and evaluated once', async () => {
    const first = start('sweep', args);
    // kill -9 of the sweep once the third configuration has committed its first epoch, while it trains its second.
    await waitFor('the third run to finish an epoch', () => /\[3\/4\] model-ResNet34_UNet_augment-false: training[\s\S]*epoch 1\/2 +train loss/.test(first.output()), 200);
    process.kill(first.pid, 'SIGKILL');
    expect((await first.done).status).toBe(null);
    const killed = join(sweepDir, CONFIGS[2]);
    // The training it had started ended with it and gave its folder up.
    expect(existsSync(join(killed, 'run.lock'))).toBe(false);
    expect(readJson<{ epoch: number }>(join(killed, 'run.json')).epoch).toBe(1);
    expect(existsSync(join(killed, 'evaluation.json'))).toBe(false);
    expect(existsSync(join(sweepDir, CONFIGS[3]))).toBe(false);
    for (const done of CONFIGS.slice(0, 2)) expect(existsSync(join(sweepDir, done, 'evaluation.json'))).toBe(true);

    const resumed = await cli('sweep', args);
    expectOk(resumed, 'the resumed sweep');
    expect(resumed.stdout).toContain(`[1/4] ${CONFIGS[0]}: done before`);
    expect(resumed.stdout).toContain(`[2/4] ${CONFIGS[1]}: done before`);
    expect(resumed.stdout).toContain(`[3/4] ${CONFIGS[2]}: resuming from epoch 1 to 2`);
    expect(resumed.stdout).toContain(`[4/4] ${CONFIGS[3]}: training`);
    expect(resumed.stdout).toMatch(/4 configurations in .*: 1 trained, 1 resumed, 2 done before, 0 skipped \(another process's\), 0 failed/);
    for (const name of CONFIGS) {
      expect(readMetrics(join(sweepDir, name)).map((m) => m.epoch), name).toEqual([1, 2]);
      expect(readJson<{ epoch: number }>(join(sweepDir, name, 'evaluation.json')).epoch).toBe(readJson<{ best: { epoch: number } }>(join(sweepDir, name, 'run.json')).best.epoch);
    }
    const record = readJson<{ varying: Record<string, string[]>; configurations: { name: string }[] }>(join(sweepDir, 'sweep.json'));
    expect(record.varying).toEqual({ model: ['UNet', 'ResNet34_UNet'], augment: ['false', 'true'] });
    expect(record.configurations.map((c) => c.name)).toEqual(CONFIGS);
  });

  test('report: the table is the runs\' metrics and `petseg infer --json`; the curves are their metrics', async () => {
    const report = await cli('report', [sweepDir, '--out', reportDir, '--images', '2']);
    expectOk(report, 'report');
    const table = readCsv(join(reportDir, 'table.csv'));
    const markdown = readFileSync(join(reportDir, 'report.md'), 'utf8');
    expect(table.map((r) => r.run)).toEqual(CONFIGS);
    expect(markdown).toContain('Every run: `--data_path');
    expect(markdown).toMatch(/--base_channels 8 \(UNet\)/);
    for (const row of table) {
      const dir = join(sweepDir, row.run);
      const metrics = readMetrics(dir);
      const manifest = readJson<{ best: { epoch: number; valid_dice: number } }>(join(dir, 'run.json'));
      const best = metrics.find((m) => m.epoch === manifest.best.epoch)!;
      const scored = await cli('inference', ['--model_path', join(dir, 'best.safetensors'), '--data_path', data, '--json']);
      expectOk(scored, `infer ${row.run}`);
      const test = JSON.parse(scored.stdout.trim().split('\n').pop()!) as { dice: number; adapter: string };
      const seconds = metrics.reduce((s, m) => s + m.seconds, 0);
      const imagesPerSecond = metrics.reduce((s, m) => s + m.images_per_second * m.seconds, 0) / seconds;
      expect(Number(row.best_epoch)).toBe(manifest.best.epoch);
      expect(Number(row.train_dice)).toBe(best.train_dice);
      expect(Number(row.valid_dice)).toBe(best.valid_dice);
      expect(Number(row.valid_dice)).toBe(manifest.best.valid_dice);
      expect(Number(row.test_dice)).toBe(test.dice);
      expect(Number(row.training_seconds)).toBe(seconds);
      expect(Number(row.images_per_second)).toBe(imagesPerSecond);
      expect(row.adapter).toBe(test.adapter);
      expect(row.model).toBe(row.run.includes('ResNet') ? 'ResNet34_UNet' : 'UNet');
      expect(row.augment).toBe(row.run.endsWith('true') ? 'true' : 'false');
      // The Markdown table prints the same numbers, rounded.
      const cells = markdown.split('\n').find((l) => l.startsWith(`| ${row.run} |`))!.split(' | ');
      for (const v of [best.train_dice, best.valid_dice, test.dice]) expect(cells).toContain(v.toFixed(4));
      expect(cells).toContain(imagesPerSecond.toFixed(1));

      // Curves: the data file and the SVG's points (each point's description carries its value to 12 digits).
      const curve = readCsv(join(reportDir, `curves-${row.run}.csv`));
      expect(curve.map((p) => [Number(p.epoch), Number(p.train_loss), Number(p.valid_loss), Number(p.train_dice), Number(p.valid_dice)])).toEqual(
        metrics.map((m) => [m.epoch, m.train_loss, m.valid_loss, m.train_dice, m.valid_dice]),
      );
      const svg = readFileSync(join(reportDir, `curves-${row.run}.svg`), 'utf8');
      const points = new Set([...svg.matchAll(/aria-label="epoch: (\d+); ([^:]+): ([-\d.e]+); split: (\w+)/g)].map((m) => `${m[1]} ${m[2].startsWith('BCE') ? 'loss' : 'dice'} ${m[4]} ${m[3]}`));
      expect(points.size).toBe(4 * metrics.length);
      for (const m of metrics) {
        for (const [metric, split, value] of [['loss', 'train', m.train_loss], ['loss', 'valid', m.valid_loss], ['dice', 'train', m.train_dice], ['dice', 'valid', m.valid_dice]] as const) {
          const drawn = [...points].find((p) => p.startsWith(`${m.epoch} ${metric} ${split} `));
          expect(Number(drawn?.split(' ')[3]), `${row.run} epoch ${m.epoch} ${split} ${metric}`).toBeCloseTo(value, 10);
        }
      }
      expect(readCsv(join(reportDir, 'curves-all.csv')).filter((p) => p.run === row.run).map((p) => Number(p.valid_loss))).toEqual(metrics.map((m) => m.valid_loss));
    }
    const bars = readCsv(join(reportDir, 'test-dice.csv'));
    expect(bars.map((b) => Number(b.test_dice))).toEqual(table.map((r) => Number(r.test_dice)));
    const best = [...table].sort((a, b) => Number(b.test_dice) - Number(a.test_dice))[0].run;
    const grid = readJson<{ run: string; rows: unknown[] }>(join(reportDir, `predictions-${best}.json`));
    expect(grid).toMatchObject({ run: best });
    expect(grid.rows).toHaveLength(2);
    expect(existsSync(join(reportDir, `predictions-${best}.png`))).toBe(true);
    expect(existsSync(join(reportDir, 'heatmap.svg'))).toBe(false); // no two numeric arguments vary
  });

  test.runIf(existsSync(CHROMIUM) || browserRequired)('report.html renders in headless Chromium, offline, with no console error', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing (PETSEG_REQUIRE_BROWSER=1): run \`bash scripts/setup.sh --browser\` as root`).toBe(true);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (r) => !r.url().startsWith('file:') && !r.url().startsWith('data:') && problems.push(`network request ${r.url()}`));
      await page.goto(`file://${join(reportDir, 'report.html')}`, { waitUntil: 'load' });
      const shown = await page.evaluate(() => ({
        rows: document.querySelectorAll('table tr').length,
        svgs: [...document.querySelectorAll('svg')].filter((s) => s.getBoundingClientRect().width > 100).length,
        images: [...document.querySelectorAll('img')].map((i) => i.naturalWidth),
      }));
      expect(problems).toEqual([]);
      expect(shown.rows).toBe(1 + CONFIGS.length);
      expect(shown.svgs).toBe(2 + CONFIGS.length); // bars, all curves, one curve figure per run
      expect(shown.images.length).toBe(1);
      expect(shown.images[0]).toBeGreaterThan(0);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

test('shards: --shard 1/2, --shard 2/2 and an unsharded sweep on one folder train and evaluate each configuration once', async () => {
  const root = mkdtempSync(join(tmpdir(), 'petseg-shards-'));
  const data = tinyDataset(join(root, 'data'));
  const sweepDir = join(root, 'sweep');
  const args = ['--save_dir', sweepDir, '--data_path', data, '--lr', '0.001,0.003', '--seed', '0,1', '--img_size', '32', '--epochs', '1', '--base_channels', '4', '--batch_size', '12', '--log_dir', 'none'];
  const exits = await Promise.all([cli('sweep', [...args, '--shard', '1/2']), cli('sweep', [...args, '--shard', '2/2']), cli('sweep', args)]);
  exits.forEach((exit, i) => expectOk(exit, `sweep process ${i + 1}`));
  const names = readdirSync(sweepDir).filter((n) => n !== 'sweep.json').sort();
  expect(names).toEqual(['lr-0.001_seed-0', 'lr-0.001_seed-1', 'lr-0.003_seed-0', 'lr-0.003_seed-1']);
  const output = exits.map((e) => e.stdout).join('\n');
  for (const name of names) {
    expect(readMetrics(join(sweepDir, name)).map((m) => m.epoch), name).toEqual([1]);
    expect(existsSync(join(sweepDir, name, 'evaluation.json'))).toBe(true);
    expect(existsSync(join(sweepDir, name, 'run.lock'))).toBe(false);
    // Exactly one process scored it (and, with the count below, exactly one trained it).
    expect(output.split('\n').filter((l) => l.includes(`] ${name}: test Dice`)), `${name} evaluated`).toHaveLength(1);
  }
  // Every configuration has its one epoch, and the processes trained four runs in all: each exactly once.
  const trained = exits.map((e) => Number(/: (\d+) trained,/.exec(e.stdout)?.[1]));
  expect(trained.reduce((a, b) => a + b, 0)).toBe(4);
  expect(exits[0].stdout).toMatch(/shard 1\/2 \(2 of 4 configurations\)/);
});

test('a report of hand-made runs: the lr × weight_decay heatmap, and a run of an earlier version with what it lacks as —', async () => {
  const root = mkdtempSync(join(tmpdir(), 'petseg-report-'));
  const dice = (lr: number, wd: number) => Number((0.5 + 10 * lr - 100 * wd).toFixed(6));
  const runs: string[] = [];
  for (const lr of [1e-2, 1e-3]) {
    for (const wd of [1e-3, 1e-4]) {
      const dir = join(root, `lr-${lr}_weight_decay-${wd}`);
      mkdirSync(dir);
      const args = { model: 'UNet', lr, weight_decay: wd, epochs: 1, base_channels: 8 };
      writeFileSync(join(dir, 'run.json'), JSON.stringify({ format: 'petseg-run-v1', epoch: 1, steps: 3, best: { epoch: 1, valid_loss: 0.5, valid_dice: 0.6 }, args, tensorboard: null, adapter: 'Test GPU: a stand-in' }));
      writeFileSync(join(dir, 'metrics.jsonl'), `${JSON.stringify({ epoch: 1, train_loss: 0.6, train_dice: 0.5, valid_loss: 0.5, valid_dice: 0.6, seconds: 2, images_per_second: 10, best: true })}\n`);
      writeFileSync(join(dir, 'evaluation.json'), JSON.stringify({ split: 'test', images: 8, dice: dice(lr, wd), iou: 0, dataset_dice: 0, loss: 0, epoch: 1, model_path: '', data_path: '' }));
      runs.push(dir);
    }
  }
  // An earlier version's run: no run.json (its state in last.safetensors's metadata), no train Dice, no evaluation.
  const legacy = join(root, 'legacy');
  mkdirSync(legacy);
  const metadata = JSON.stringify({ __metadata__: { petseg: JSON.stringify({ model: 'UNet', options: { baseChannels: 8 }, epoch: 1, metrics: { best_epoch: 1, best_valid_loss: 0.4, best_valid_dice: 0.7 }, args: { model: 'UNet', lr: 0.001, weight_decay: 0.001, epochs: 1, base_channels: 8 } }) } });
  const header = new TextEncoder().encode(metadata.padEnd(Math.ceil(metadata.length / 8) * 8, ' '));
  const file = new Uint8Array(8 + header.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
  file.set(header, 8);
  writeFileSync(join(legacy, 'last.safetensors'), file);
  writeFileSync(join(legacy, 'metrics.jsonl'), `${JSON.stringify({ epoch: 1, train_loss: 0.5, valid_loss: 0.4, valid_dice: 0.7, seconds: 3, images_per_second: 9, best: true })}\n`);

  const out = join(root, 'report');
  const report = await cli('report', [...runs, legacy, '--out', out, '--images', '0']);
  expectOk(report, 'report');
  const cells = readCsv(join(out, 'heatmap.csv'));
  // The legacy run has no test Dice: the heatmap shows valid Dice, of every run.
  expect(cells.map((c) => [Number(c.x), Number(c.y), Number(c.dice)]).sort()).toEqual(
    [
      [1e-2, 1e-3, 0.6],
      [1e-2, 1e-4, 0.6],
      [1e-3, 1e-3, 0.6],
      [1e-3, 1e-4, 0.6],
      [1e-3, 1e-3, 0.7],
    ].sort(),
  );
  const row = readCsv(join(out, 'table.csv')).find((r) => r.run === 'legacy')!;
  expect(row).toMatchObject({ best_epoch: '1', train_dice: '', valid_dice: '0.7', test_dice: '', adapter: '' });
  const markdown = readFileSync(join(out, 'report.md'), 'utf8');
  expect(markdown).toMatch(/\| legacy \| UNet \| 0\.001 \| 0\.001 \| 1 \| — \| 0\.7000 \| — \| 3\.0 s \| 9\.0 \| — \|/);
  expect(markdown).toMatch(/\| lr-0\.01_weight_decay-0\.001 \| UNet \| 0\.01 \| 0\.001 \| 1 \| 0\.5000 \| 0\.6000 \| 0\.5000 \| 2\.0 s \| 10\.0 \| Test GPU \|/);
  expect(readFileSync(join(out, 'heatmap.svg'), 'utf8')).toContain('valid Dice over learning rate (--lr) × weight decay (--weight_decay)');
});

describe('bad arguments: one line, exit code 2, nothing written', () => {
  const root = mkdtempSync(join(tmpdir(), 'petseg-sweep-args-'));
  const cases: [string, string[], RegExp][] = [
    ['sweep', ['--lr', '1e-3'], /--save_dir is required/],
    ['sweep', ['--save_dir', join(root, 's'), '--lr', '0.1,,0.2'], /--lr '0\.1,,0\.2' has an empty item/],
    ['sweep', ['--save_dir', join(root, 's'), '--lr', '0.1,abc'], /--lr must be a number, got 'abc'/],
    ['sweep', ['--save_dir', join(root, 's'), '--seed', '1,1'], /--seed lists 1 twice/],
    ['sweep', ['--save_dir', join(root, 's'), '--model', 'UNet,Transformer'], /--model Transformer is not a model/],
    ['sweep', ['--save_dir', join(root, 's'), '--model', 'ResNet34_UNet', '--base_channels', '8'], /--base_channels applies to UNet only/],
    ['sweep', ['--save_dir', join(root, 's'), '--model', 'ResNet34_UNet', '--img_size', '48'], /--img_size 48 must be a multiple of 32 for ResNet34_UNet/],
    ['sweep', ['--save_dir', join(root, 's'), '--shard', '3/2'], /--shard must be i\/n/],
    ['sweep', ['--save_dir', join(root, 's'), '--data_path', join(root, 'nothing')], /--data_path .* is not a folder/],
    ['sweep', ['--save_dir', join(root, 's'), '--augment', 'maybe'], /--augment takes true\/false/],
    ['report', ['--out', join(root, 'r')], /name the run or sweep folders/],
    ['report', [root], /--out is required/],
    ['report', [join(root, 'nothing'), '--out', join(root, 'r')], /is not a folder/],
    ['report', [root, '--out', join(root, 'r')], /holds no run \(run\.json\) and no sweep \(sweep\.json\)/],
  ];
  test.each(cases)('%s %j', async (command, args, message) => {
    const exit = await cli(command, args);
    expect(exit.status).toBe(2);
    expect(exit.stderr.trim().split('\n')).toHaveLength(1);
    expect(exit.stderr).toMatch(message);
    expect(readdirSync(root)).toEqual([]);
  });

  test('a folder holding another sweep is refused, naming its arguments', async () => {
    const dir = join(root, 'other');
    mkdirSync(dir);
    writeFileSync(join(dir, 'sweep.json'), JSON.stringify({ format: 'petseg-sweep-v1', data_path: null, varying: { lr: ['0.1', '0.2'] }, shared: {}, configurations: [] }));
    const exit = await cli('sweep', ['--save_dir', dir, '--lr', '0.3,0.4', '--dry_run']);
    expect(exit.status).toBe(2);
    expect(exit.stderr).toMatch(/holds another sweep \(--lr 0\.1,0\.2 on the built-in synthetic set\); give the same arguments/);
  });
});
