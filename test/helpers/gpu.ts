/** Every test file that touches the GPU opens the real adapter once. */
import { afterAll, beforeAll } from 'vitest';
import { init, shutdown, type InitOptions } from '../../engine/index.js';

export function useGpu(): void {
  beforeAll(async () => {
    await init();
  });
  afterAll(() => {
    shutdown();
  });
}

/**
 * Inside a describe block: its tests run on a runtime started with `options` (e.g. `{ conv:
 * 'gemm' }`, the kernels GPUs run), and the file's default runtime is back afterwards.
 */
export function useRuntime(options: InitOptions): void {
  beforeAll(async () => {
    shutdown();
    await init(options);
  });
  afterAll(async () => {
    shutdown();
    await init();
  });
}
