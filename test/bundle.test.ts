/**
 * The training loop bundles for a browser: from train/loop.ts, the browser entries of
 * petseg/train and petseg/models, and the page no Node module is reachable — esbuild, bundling
 * for the browser platform, fails on any static `node:` import — and none of the project's Node
 * modules is in the bundle.
 */
import { build } from 'esbuild';
import { expect, test } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
/** The project's Node modules: files on disk, the run folder's lock, the download. */
const NODE_ONLY = ['train/trainer.ts', 'train/node-folder.ts', 'train/run-lock.ts', 'train/synthetic.ts', 'train/download.ts', 'train/predict.ts', 'models/checkpoint.ts', 'models/encoder-weights.ts'];

test.each(['train/loop.ts', 'train/browser.ts', 'models/browser.ts', 'engine/index.ts', 'web/main.ts'])('%s bundles for the browser with no Node module reachable', async (entry) => {
  const result = await build({ entryPoints: [`${root}${entry}`], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', absWorkingDir: root });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.filter((i) => i.startsWith('node:') || NODE_ONLY.includes(i))).toEqual([]);
  expect(inputs.length).toBeGreaterThan(10);
});
