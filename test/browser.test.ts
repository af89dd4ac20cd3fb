/**
 * The web page in real headless Chromium (Debian's `chromium`, SwiftShader's WebGPU), driven by
 * playwright-core: load a checkpoint, segment a photo and compare the mask with the same model in
 * Node; train UNet on the real sample picked as a folder with the same loop as the command line,
 * reload during an epoch and resume to the same records, score the best checkpoint with
 * `petseg evaluate`; the synthetic preset; the messages for bad input and no WebGPU.
 * Screenshots go to test-artifacts/. Skipped without Chromium unless PETSEG_REQUIRE_BROWSER=1
 * (CI sets it, and `npm test` installs Chromium on Debian as root).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { create } from 'tar';
import { Adam, bceWithLogits, tidy } from '../engine/index.js';
import type { Module } from '../engine/nn/module.js';
import { encodeCheckpoint, type CheckpointInfo } from '../models/checkpoint-format.js';
import { createModel } from '../models/registry.js';
import { decodeImage, encodePng } from '../train/images.js';
import { BatchLoader, disposeBatch } from '../train/loader.js';
import { resizeBilinear } from '../train/pixels.js';
import { segmentAtFullSize } from '../train/segment.js';
import { drawSyntheticPet, syntheticSamples } from '../train/synthetic-pets.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import type {} from '../web/main.js'; // its `window.petseg` declaration
import type { RunState } from '../web/run-state.js';
import { Generator } from '../engine/random.js';
import { useGpu } from './helpers/gpu.js';
import { serveFolder } from './helpers/static-server.js';

const root = new URL('..', import.meta.url).pathname;
const CHROMIUM = process.env.PETSEG_CHROMIUM ?? '/usr/bin/chromium';
const required = process.env.PETSEG_REQUIRE_BROWSER === '1';
const available = existsSync(CHROMIUM);
const artifacts = join(root, 'test-artifacts', 'browser');
const CHROMIUM_FLAGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--headless', '--no-sandbox', '--disable-background-networking'];
const SIZE = 32;
const SAMPLE = new URL('../../shared/data/oxford-pet-sample', import.meta.url).pathname;

test.runIf(required && !available)('Chromium is installed (PETSEG_REQUIRE_BROWSER=1)', () => {
  expect.fail(`${CHROMIUM} is missing: run \`bash scripts/setup.sh --browser\` as root on Debian, or set PETSEG_CHROMIUM to a Chromium binary`);
});

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} failed (${status}):\n${output}`))));
  });
}

/** A quickly trained UNet (so the mask has structure) and its checkpoint bytes. */
async function smallCheckpoint(): Promise<{ model: Module; bytes: Uint8Array }> {
  const model = createModel('UNet', { baseChannels: 4, seed: 3 });
  const optimizer = new Adam(model.parameters(), { lr: 1e-2 });
  const loader = new BatchLoader(syntheticSamples(24, SIZE, 5), { batchSize: 8, size: SIZE });
  for (let step = 0; step < 15; step++) {
    const batch = loader.load(step % loader.length);
    const loss = tidy(() => bceWithLogits(model.forward(batch.images), batch.masks));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    loss.dispose();
    disposeBatch(batch);
  }
  optimizer.zeroGrad();
  model.eval();
  const info: CheckpointInfo = { model: 'UNet', options: { baseChannels: 4 }, epoch: 1, args: { img_size: SIZE } };
  return { model, bytes: await encodeCheckpoint(model, info) };
}

/** A synthetic pet photo at an odd, non-square resolution, as PNG (decoded identically by Node and the browser). */
function photo(): Uint8Array {
  const { rgb } = drawSyntheticPet(new Generator(11), 96);
  return encodePng(resizeBilinear({ width: 96, height: 96, channels: 3, data: rgb }, 83, 61));
}

async function statusOf(page: Page, id: string): Promise<{ text: string; error: boolean }> {
  return page.locator(`#${id}`).evaluate((e) => ({ text: e.textContent ?? '', error: e.classList.contains('error') }));
}

describe.runIf(available)('web page in headless Chromium', () => {
  useGpu();
  let browser: Browser;
  let server: Server;
  let url: string;
  let model: Module;
  let checkpoint: Uint8Array;
  const work = mkdtempSync(join(tmpdir(), 'petseg-web-'));
  const site = join(work, 'site');

  beforeAll(async () => {
    await run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--outDir', site, '--logLevel', 'warn']);
    ({ model, bytes: checkpoint } = await smallCheckpoint());
    writeFileSync(join(site, 'model.safetensors'), checkpoint);
    ({ url, server } = await serveFolder(site));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
    mkdirSync(artifacts, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    model?.dispose();
  });

  async function openPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => window.petseg !== undefined);
    await page.evaluate(() => window.petseg.ready);
    expect(errors).toEqual([]);
    return page;
  }

  test('segments a photo with a loaded checkpoint; the mask agrees with Node on ≥ 99% of pixels', async () => {
    const page = await openPage();
    const adapter = await statusOf(page, 'adapter');
    expect(adapter.error, adapter.text).toBe(false);
    expect(adapter.text).toMatch(/WebGPU adapter: .*swiftshader.*\[browser/);

    // A photo before any model: a clear message, then the wrong "checkpoints".
    const png = photo();
    await page.setInputFiles('#photo-file', { name: 'pet.png', mimeType: 'image/png', buffer: Buffer.from(png) });
    await expect.poll(() => statusOf(page, 'segment-status')).toEqual({ text: 'pet.png: load a checkpoint first (choose a file, or train one below).', error: true });
    await page.setInputFiles('#checkpoint-file', { name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a checkpoint') });
    await expect.poll(async () => (await statusOf(page, 'checkpoint-status')).text).toMatch(/^notes\.safetensors: /);
    expect((await statusOf(page, 'checkpoint-status')).error).toBe(true);
    const narrow = createModel('UNet', { baseChannels: 2, seed: 1 });
    const mislabelled = await encodeCheckpoint(narrow, { model: 'UNet', options: { baseChannels: 4 } });
    narrow.dispose();
    await page.setInputFiles('#checkpoint-file', { name: 'mislabelled.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(mislabelled) });
    await expect.poll(async () => (await statusOf(page, 'checkpoint-status')).text).toMatch(/^mislabelled\.safetensors: not a checkpoint of UNet \{"baseChannels":4\}/);

    // The page's own model.safetensors: loading it segments the waiting photo.
    await page.click('#checkpoint-builtin');
    await page.waitForFunction(() => window.petseg.segmentation !== null, undefined, { timeout: 120_000 });
    expect(await statusOf(page, 'checkpoint-status')).toEqual({ text: 'model.safetensors: UNet {"baseChannels":4}, input 32×32, epoch 1', error: false });
    const result = await page.evaluate(() => {
      const s = window.petseg.segmentation!;
      const canvas = document.getElementById('overlay') as HTMLCanvasElement;
      return { width: s.width, height: s.height, mask: Array.from(s.mask), canvas: [canvas.width, canvas.height], ms: s.milliseconds };
    });
    expect([result.width, result.height, ...result.canvas]).toEqual([83, 61, 83, 61]);
    const expected = (await segmentAtFullSize(model, decodeImage(png, 'pet.png'), SIZE, 0.5)).mask.data;
    const agree = result.mask.filter((v, i) => v === expected[i]).length / expected.length;
    const pet = expected.filter((v) => v > 0).length / expected.length;
    expect(pet, 'the mask should have both pet and background').toBeGreaterThan(0.05);
    expect(pet).toBeLessThan(0.95);
    console.info(`browser vs Node mask agreement: ${(100 * agree).toFixed(2)}% of ${expected.length} pixels (pet ${(100 * pet).toFixed(1)}%)`);
    expect(agree).toBeGreaterThanOrEqual(0.99);
    expect((await statusOf(page, 'segment-status')).text).toMatch(/^pet\.png: 83×61, [\d.]+% pet — inference \d+ ms on .*swiftshader/);
    await page.screenshot({ path: join(artifacts, 'segment.png'), fullPage: true });

    // The same file chosen by hand, and an undecodable "photo".
    await page.setInputFiles('#checkpoint-file', { name: 'chosen.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(checkpoint) });
    await expect.poll(async () => (await statusOf(page, 'checkpoint-status')).text).toMatch(/^chosen\.safetensors: UNet/);
    await page.setInputFiles('#photo-file', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not really a JPEG') });
    await expect.poll(() => statusOf(page, 'segment-status')).toEqual({
      text: 'broken.jpg: this file could not be decoded as an image; choose a JPEG, PNG, GIF or WebP photo',
      error: true,
    });
    await page.close();
  });

  /** The page's run state, polled until `done(state)` (the page runs its loop itself). */
  async function runUntil(page: Page, done: (run: RunState) => boolean, timeout = 300_000): Promise<RunState> {
    const started = Date.now();
    for (;;) {
      const run = await page.evaluate(() => JSON.parse(JSON.stringify(window.petseg.run)) as RunState);
      if (done(run)) return run;
      if (run.state === 'failed') throw new Error(`the page's run failed: ${run.message}`);
      if (Date.now() - started > timeout) throw new Error(`timed out; the page says: ${run.state}: ${run.message}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function fillForm(page: Page, values: Record<string, string>): Promise<void> {
    for (const [name, value] of Object.entries(values)) await page.fill(`#train-form [name=${name}]`, value);
  }

  /** Records without their timing, which no two runs share. */
  const untimed = (records: RunState['records']) => records.map(({ seconds: _s, images_per_second: _i, ...rest }) => rest);

  test.skipIf(!existsSync(join(SAMPLE, 'annotations', 'trainval.txt')))(
    'trains UNet on the real sample picked as a folder; reloaded during epoch 2, the run resumes to the records of an uninterrupted run, bit for bit; petseg evaluate scores its best checkpoint as the page did; GPU memory flat',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1000, height: 1400 }, acceptDownloads: true });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.waitForFunction(() => window.petseg?.run !== null && window.petseg.run !== undefined);
      await page.setInputFiles('#dataset-folder', SAMPLE);
      await expect.poll(async () => (await statusOf(page, 'dataset-status')).text, { timeout: 60_000 }).toBe('oxford-pet-sample: 300 images listed');
      const form = { epochs: '2', batch_size: '8', img_size: '32', base_channels: '4', lr: '0.002', seed: '7' };

      // An uninterrupted run.
      await fillForm(page, form);
      await page.click('#train-start');
      const straight = await runUntil(page, (r) => r.state === 'done');
      expect(straight.records.map((r) => r.epoch)).toEqual([1, 2]);
      expect(straight.memory[1], 'live GPU memory after each epoch').toBe(straight.memory[0]);
      expect(straight.options).toMatchObject({ model: 'UNet', epochs: 2, img_size: 32, base_channels: 4, lr: 0.002, seed: 7 });
      await page.screenshot({ path: join(artifacts, 'train-real-data.png'), fullPage: true });
      const best = await page.evaluate(async () => Array.from((await window.petseg.run!.download('best.safetensors'))!));
      const bestFile = join(work, 'page-best.safetensors');
      writeFileSync(bestFile, Uint8Array.from(best));
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-metrics')]);
      expect(download.suggestedFilename()).toBe('metrics.jsonl');
      const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines).toEqual(straight.records);

      // The same run again, reloaded while epoch 2 trains, then resumed.
      await page.click('#train-start');
      await runUntil(page, (r) => r.records.length === 1 && r.state === 'training' && /^epoch 2\/2 /.test(r.message), 120_000);
      await page.reload();
      await page.waitForFunction(() => window.petseg?.run?.state === 'stopped', undefined, { timeout: 60_000 });
      expect((await statusOf(page, 'train-status')).text).toMatch(/^The run UNet-\d{8}-\d{6} stopped after epoch 1 of 2; Resume continues it exactly\.$/);
      expect(await page.locator('#train-resume').isDisabled()).toBe(false);
      await page.click('#train-resume');
      const resumed = await runUntil(page, (r) => r.state === 'done');
      expect(untimed(resumed.records)).toEqual(untimed(straight.records));
      expect(resumed.memory).toHaveLength(1);

      // The page's best checkpoint, scored by the command line on the same validation split.
      const bestRecord = straight.records.filter((r) => r.best).at(-1)!;
      const evaluated = await run(process.execPath, ['cli/evaluate.js', '--model_path', bestFile, '--data_path', SAMPLE, '--json']);
      const report = JSON.parse(evaluated.slice(evaluated.indexOf('{'))) as { dice: number; images: number };
      expect(report.images).toBe(30);
      expect(Math.abs(report.dice - bestRecord.valid_dice), `petseg evaluate ${report.dice} vs the page's ${bestRecord.valid_dice}`).toBeLessThan(1e-3);

      // The best checkpoint segments photos in the page.
      await page.click('#train-use');
      await expect.poll(async () => (await statusOf(page, 'checkpoint-status')).text).toMatch(/^UNet-\d{8}-\d{6}\/best\.safetensors: UNet \{"baseChannels":4,"seed":7\}, input 32×32, epoch 2$/);
      expect(errors).toEqual([]);
      await context.close();
    },
    600_000,
  );

  test('the synthetic set is a preset of the same trainer; bad data gets one line naming it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.petseg?.run !== null && window.petseg.run !== undefined);
    // A folder without the dataset's layout, and a dataset with a file that is not an image.
    const broken = join(work, 'not-a-dataset');
    mkdirSync(join(broken, 'photos'), { recursive: true });
    writeFileSync(join(broken, 'photos', 'a.jpg'), 'x');
    await page.setInputFiles('#dataset-folder', broken);
    await expect.poll(() => statusOf(page, 'dataset-status')).toEqual({
      text: 'not-a-dataset: not the Oxford-IIIT Pet layout (no annotations/trainval.txt inside); pick the folder that holds images/ and annotations/, or drop images.tar.gz and annotations.tar.gz',
      error: true,
    });
    const damaged = join(work, 'damaged-set');
    const names = writeSyntheticDataset(damaged, { trainval: 20, test: 0, size: 40, seed: 3 });
    writeFileSync(join(damaged, 'images', `${names.trainval[1]}.jpg`), 'not an image');
    await page.setInputFiles('#dataset-folder', damaged);
    await expect.poll(async () => (await statusOf(page, 'dataset-status')).text).toBe('damaged-set: 20 images listed');
    await fillForm(page, { epochs: '1', img_size: '32', base_channels: '4', batch_size: '6' });
    await page.fill('#train-form [name=lr]', '0');
    await page.click('#train-start');
    await expect.poll(() => statusOf(page, 'train-status')).toEqual({ text: 'lr must be positive, got 0', error: true });
    await page.fill('#train-form [name=lr]', '0.001');
    await page.click('#train-start');
    const withDamage = await runUntil(page, (r) => r.state === 'done');
    expect(withDamage.warnings).toEqual([expect.stringMatching(new RegExp(`^warning: skipping ${names.trainval[1]}: damaged-set/images/${names.trainval[1]}\\.jpg: not a JPEG, PNG or GIF image`))]);

    // The official archives, unpacked in the page with petseg download's reader; an archive whose entry escapes is refused.
    const packed = join(work, 'packed');
    const set = join(packed, 'set');
    writeSyntheticDataset(set, { trainval: 20, test: 4, size: 40, seed: 5 });
    await create({ gzip: true, file: join(packed, 'images.tar.gz'), cwd: set }, ['images']);
    await create({ gzip: true, file: join(packed, 'annotations.tar.gz'), cwd: set }, ['annotations']);
    await page.setInputFiles('#dataset-archives', [join(packed, 'images.tar.gz'), join(packed, 'annotations.tar.gz')]);
    await expect.poll(async () => (await statusOf(page, 'dataset-status')).text, { timeout: 60_000 }).toBe('Oxford-IIIT Pet (archives): 24 images listed');
    await page.setInputFiles('#dataset-archives', [join(packed, 'images.tar.gz')]);
    await expect.poll(() => statusOf(page, 'dataset-status')).toEqual({ text: 'drop the two official archives, images.tar.gz and annotations.tar.gz (got images.tar.gz)', error: true });

    await page.click('#dataset-synthetic');
    await expect.poll(async () => (await statusOf(page, 'dataset-status')).text, { timeout: 120_000 }).toBe('the built-in synthetic set: 240 images listed');
    await page.click('#train-start');
    const synthetic = await runUntil(page, (r) => r.state === 'done');
    expect(synthetic.records).toHaveLength(1);
    expect(synthetic.records[0].valid_dice).toBeGreaterThan(0);
    // The best checkpoint on the test split.
    await page.click('#train-evaluate');
    const evaluated = await runUntil(page, (r) => r.evaluation !== null);
    expect(evaluated.evaluation!.images).toBe(40);
    expect((await statusOf(page, 'train-status')).text).toMatch(/^Test split: 40 images, Dice [\d.]+, IoU [\d.]+, BCE [\d.]+ \(best checkpoint of UNet-\d{8}-\d{6}\)$/);
    await context.close();
  });

  test('without WebGPU the page says so and disables its controls', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    await page.goto(url);
    await page.waitForFunction(() => window.petseg !== undefined);
    await page.evaluate(() => window.petseg.ready);
    const adapter = await statusOf(page, 'adapter');
    expect(adapter.error).toBe(true);
    expect(adapter.text).toMatch(/This browser has no WebGPU \(navigator\.gpu is missing\)/);
    expect(await page.locator('#train-start').isDisabled()).toBe(true);
    expect(await page.locator('#checkpoint-builtin').isDisabled()).toBe(true);
    await page.screenshot({ path: join(artifacts, 'no-webgpu.png') });
    await page.close();
  });
});
