import { defineConfig } from 'vitest/config';

// One process runs the files one after another: every file opens its own WebGPU device, and a
// CPU adapter (lavapipe) already uses every core, so running files in parallel only adds contention.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
