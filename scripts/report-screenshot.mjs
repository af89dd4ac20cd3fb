// Screenshots a report of `petseg report` in headless Chromium, as it opens from disk (docs/report-example.png):
//   node scripts/report-screenshot.mjs REPORT_DIR/report.html [out.png] [width] [height]   (no height: the whole page)
// Fails on any console error or failed request (the page must render offline, self-contained).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [html, out = 'docs/report-example.png', width = '1240', height] = process.argv.slice(2);
if (!html) {
  console.error('usage: node scripts/report-screenshot.mjs REPORT_DIR/report.html [out.png] [width] [height]');
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env.PETSEG_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
const page = await browser.newPage({ viewport: { width: Number(width), height: Number(height ?? 900) } });
const problems = [];
page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
page.on('pageerror', (e) => problems.push(e.message));
page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
await page.goto(pathToFileURL(resolve(html)).href, { waitUntil: 'load' });
await page.screenshot({ path: out, fullPage: height === undefined });
await browser.close();
if (problems.length) {
  console.error(`report-screenshot: ${html}: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`report-screenshot: ${out}`);
