/**
 * The web page in real headless Chromium (Debian's `chromium`, SwiftShader's WebGPU), driven by
 * playwright-core: load a checkpoint, segment a photo and compare the mask with the same model in
 * Node, train a few steps and see the loss fall, and the messages for bad input and no WebGPU.
 * Screenshots go to test-artifacts/. Skipped without Chromium unless PETSEG_REQUIRE_BROWSER=1
 * (CI sets it, and `npm test` installs Chromium on Debian as root).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Adam, bceWithLogits, tidy } from '../engine/index.js';
import type { Module } from '../engine/nn/module.js';
import { encodeCheckpoint, type CheckpointInfo } from '../models/checkpoint-format.js';
import { createModel } from '../models/registry.js';
import { decodeImage, encodePng } from '../train/images.js';
import { BatchLoader, disposeBatch } from '../train/loader.js';
import { resizeBilinear } from '../train/pixels.js';
import { segmentAtFullSize } from '../train/segment.js';
import { drawSyntheticPet, syntheticSamples } from '../train/synthetic-pets.js';
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

  test('trains on synthetic pets in the page: the loss falls', async () => {
    const page = await openPage();
    for (const [id, value] of [['train-size', '32'], ['train-base', '4'], ['train-images', '16'], ['train-batch', '4'], ['train-epochs', '3'], ['train-lr', '0.01']]) {
      await page.fill(`#${id}`, value);
    }
    await page.click('#train-start');
    await page.waitForFunction(() => window.petseg.training.done, undefined, { timeout: 240_000, polling: 500 });
    const training = await page.evaluate(() => ({ ...window.petseg.training }));
    expect(training.error).toBeNull();
    expect(training.losses).toHaveLength(12);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(training.losses.slice(-3))).toBeLessThan(0.8 * mean(training.losses.slice(0, 3)));
    expect((await statusOf(page, 'train-status')).text).toMatch(/^Done after 12 steps: loss [\d.]+, Dice [\d.]+\.$/);

    // The trained model segments a photo dropped on the page right away.
    await page.click('#train-use');
    const bytes = Array.from(photo());
    await page.evaluate((data) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], 'dropped.png', { type: 'image/png' }));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForFunction(() => window.petseg.segmentation?.source === 'dropped.png');
    await page.screenshot({ path: join(artifacts, 'train.png'), fullPage: true });
    expect((await statusOf(page, 'checkpoint-status')).text).toMatch(/^the model trained in this page: UNet/);

    // Bad training options get a message, not a crash.
    await page.fill('#train-size', '30');
    await page.click('#train-start');
    await page.waitForFunction(() => window.petseg.training.done && window.petseg.training.error !== null);
    expect(await statusOf(page, 'train-status')).toEqual({ text: 'Image size must be a multiple of 16, got 30', error: true });
    await page.close();
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
