/**
 * The package as a user gets it: `npm pack`, installed into an empty project, type-checked by a
 * strict TypeScript consumer of petseg/engine, petseg/models and petseg/train (no extra types,
 * no skipLibCheck), run for a forward pass, and `npx petseg` answering --help and --version.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

const CONSUMER = `import { init, randn, noGrad, tidy, shutdown } from 'petseg/engine';
import { UNet, type ModelName } from 'petseg/models';
import { syntheticSamples, type Sample } from 'petseg/train';

const runtime = await init({ autotune: false });
const name: ModelName = 'UNet';
const model = new UNet({ baseChannels: 4, seed: 0 });
model.eval();
const logits = noGrad(() => tidy(() => model.forward(randn([1, 3, 32, 32], { seed: 1 }))));
const samples: Sample[] = syntheticSamples(1, 32);
console.log(JSON.stringify({ name, adapter: runtime.adapterName, shape: logits.shape, values: (await logits.toArray()).length, samples: samples.length }));
shutdown();
`;

test('npm pack → install → strict tsc consumer → forward pass; npx petseg --help / --version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petseg-package-'));
  const run = (command: string, args: string[], cwd: string) => execFileSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, PETSEG_VERBOSE: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], ROOT);
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  const listing = run('tar', ['tzf', join(dir, tarball)], dir).split('\n');
  // What a user needs, and none of the build's internals.
  for (const file of ['package/LICENSE', 'package/README.md', 'package/bin/petseg.js', 'package/models/pytorch/definitions.py', 'package/dist/engine/index.d.ts', 'package/dist/train/index.js']) {
    expect(listing, file).toContain(file);
  }
  expect(listing.filter((f) => f.endsWith('.map') || f.includes('tsbuildinfo') || f.startsWith('package/test/') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);

  const consumer = join(dir, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', join(dir, tarball), '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], consumer);
  writeFileSync(join(consumer, 'consumer.ts'), CONSUMER);
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out' }, files: ['consumer.ts'] }),
  );
  run(TSC, ['-p', 'tsconfig.json'], consumer);
  const result = JSON.parse(run('node', ['out/consumer.js'], consumer).trim().split('\n').pop()!);
  expect(result).toMatchObject({ name: 'UNet', shape: [1, 1, 32, 32], values: 1024, samples: 1 });

  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  expect(run('npx', ['--no-install', 'petseg', '--version'], consumer).trim()).toBe(version);
  const help = run('npx', ['--no-install', 'petseg', '--help'], consumer);
  for (const command of ['train', 'evaluate', 'infer', 'download', 'bench', 'summary']) expect(help).toMatch(new RegExp(`^  ${command} `, 'm'));
  expect(run('npx', ['--no-install', 'petseg', 'infer', '--help'], consumer)).toMatch(/^usage: petseg infer/);
  expect(run('npx', ['--no-install', 'petseg', 'train', '--version'], consumer).trim()).toBe(version);
});
