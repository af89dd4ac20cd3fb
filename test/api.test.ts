/**
 * The public API: every package entry point's API report (docs/api/, API Extractor over the
 * built .d.ts) is current, so an export changed without its report fails here; and the code that
 * uses the packages (the commands, the bench, the experiments, the page) imports them only
 * through their entry points — the page through the browser ones.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

test('the API reports in docs/api/ are current (node scripts/api-report.mjs --write after an export changes)', async () => {
  // @ts-expect-error: a plain ES module script, without types.
  const { apiReports, entryPoints } = (await import('../scripts/api-report.mjs')) as { apiReports: (write: boolean) => string[]; entryPoints: () => { name: string; file: string }[] };
  expect(entryPoints().map((e) => e.name)).toEqual(['petseg/engine', 'petseg/engine/reference', 'petseg/engine/internal', 'petseg/models', 'petseg/models (browser)', 'petseg/train', 'petseg/train (browser)']);
  expect(apiReports(false), 'these entry points changed without their report').toEqual([]);
  const engine = readFileSync(join(root, 'docs', 'api', 'petseg-engine.api.md'), 'utf8');
  for (const internal of ['class BufferPool', 'function sizeClass', 'class Storage', 'function record(', 'class GraphNode', 'function needsGrad', 'function expandTo', 'function assign', 'function checkThreshold']) expect(engine).not.toContain(internal);
  expect(readFileSync(join(root, 'docs', 'api', 'petseg-models.api.md'), 'utf8')).not.toContain('writeFileAtomic');
});

function sources(folder: string): string[] {
  return readdirSync(join(root, folder)).flatMap((name) => {
    const path = join(folder, name);
    return statSync(join(root, path)).isDirectory() ? sources(path) : /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

test('the commands, the bench, the experiments and the page import the packages only through their entry points', () => {
  const deep: string[] = [];
  for (const file of ['cli', 'bench', 'experiments', 'web'].flatMap(sources)) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, target] of text.matchAll(/from '((?:\.\.\/)+(?:engine|models|train|kernels)\/[^']+)'/g)) {
      const entry = relative(root, join(root, file, '..', target));
      const allowed = file.startsWith('web/') ? ['engine/index.js', 'models/browser.js', 'train/browser.js'] : ['engine/index.js', 'engine/internal.js', 'models/index.js', 'train/index.js'];
      if (!allowed.includes(entry)) deep.push(`${file}: ${entry}`);
    }
  }
  expect(deep).toEqual([]);
});
