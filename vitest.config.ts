import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One process runs the files one after another: every file opens its own WebGPU device, and a
// CPU adapter (lavapipe) already uses every core, so running files in parallel only adds contention.
// Tests run the planner's static kernel order (the autotuner's timing-dependent choices would make
// values differ between machines) and never read the user's cache; test/autotune.test.ts turns
// autotuning on where it is the subject.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    env: { PETSEG_AUTOTUNE: '0', PETSEG_CACHE_DIR: mkdtempSync(join(tmpdir(), 'petseg-test-cache-')) },
  },
});
