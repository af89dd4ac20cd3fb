// Regenerates web/screenshot.png (README): builds the page, trains in headless Chromium
// (SwiftShader) on synthetic pets, segments a synthetic photo with the result, screenshots it.
// Usage (after `npm run build`): node scripts/web-screenshot.mjs [out.png]
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Generator } from '../dist/engine/random.js';
import { encodePng } from '../dist/train/images.js';
import { resizeBilinear } from '../dist/train/pixels.js';
import { drawSyntheticPet } from '../dist/train/synthetic-pets.js';
import { preview } from 'vite';

const out = process.argv[2] ?? 'web/screenshot.png';
const site = mkdtempSync(join(tmpdir(), 'petseg-shot-'));
execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/vite.config.ts', '--outDir', site, '--logLevel', 'warn'], { stdio: 'inherit' });
const server = await preview({ configFile: 'web/vite.config.ts', build: { outDir: site }, preview: { port: 0 }, logLevel: 'warn' });
const url = server.resolvedUrls.local[0];
const browser = await chromium.launch({
  executablePath: process.env.PETSEG_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--headless', '--no-sandbox', '--disable-background-networking'],
});
const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
await page.goto(url);
await page.waitForFunction(() => window.petseg !== undefined);
await page.evaluate(() => window.petseg.ready);
for (const [id, value] of [['train-size', '64'], ['train-base', '8'], ['train-images', '64'], ['train-batch', '8'], ['train-epochs', '6'], ['train-lr', '0.003']]) {
  await page.fill(`#${id}`, value);
}
await page.click('#train-start');
await page.waitForFunction(() => window.petseg.training.done, undefined, { timeout: 0, polling: 1000 });
await page.click('#train-use');
const { rgb } = drawSyntheticPet(new Generator(21), 128);
const photo = encodePng(resizeBilinear({ width: 128, height: 128, channels: 3, data: rgb }, 240, 180));
await page.setInputFiles('#photo-file', { name: 'synthetic-pet.png', mimeType: 'image/png', buffer: Buffer.from(photo) });
await page.waitForFunction(() => window.petseg.segmentation !== null);
await page.screenshot({ path: out, fullPage: true });
console.log(await page.locator('#train-status').textContent(), '|', await page.locator('#segment-status').textContent());
await browser.close();
await server.close();
