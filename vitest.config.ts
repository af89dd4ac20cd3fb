import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * Two tiers (docs/testing.md says what goes where). `unit`: ops, autograd, the planner, data,
 * checkpoints and arguments — seconds per file, under a minute in all on two cores, what a change
 * to one op needs (`npm run test:unit`). `system`: whole runs through the trainer, the CLI, the
 * package, the docs, the browser and the full models (`npm run test:system`). `npm test` runs the
 * unit tier first, then the system tier.
 */
const UNIT = [
  'ops', 'autograd', 'tensor', 'runtime', 'plan', 'limits', 'training-ops', 'pytorch-parity', 'pytorch-layers', 'bounds',
  'data', 'tar', 'opfs-folder', 'tfevents', 'download', 'checkpoint', 'args', 'bundle',
].map((name) => `test/${name}.test.ts`);

// One process runs the files one after another: every file opens its own WebGPU device, and a
// CPU adapter (lavapipe) already uses every core, so running files in parallel only adds contention.
// Tests run the planner's static kernel order (the autotuner's timing-dependent choices would make
// values differ between machines) and never read the user's cache; test/autotune.test.ts turns
// autotuning on where it is the subject.
export default defineConfig({
  test: {
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    env: { PETSEG_AUTOTUNE: '0', PETSEG_CACHE_DIR: mkdtempSync(join(tmpdir(), 'petseg-test-cache-')) },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'system', include: ['test/**/*.test.ts'], exclude: UNIT, sequence: { groupOrder: 1 } } },
    ],
  },
});
