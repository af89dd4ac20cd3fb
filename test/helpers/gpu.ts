/**
 * The runtime a test file runs on: useGpu() opens the real adapter once per file; withRuntime()
 * and useRuntime() run a test or a describe block on a runtime started with other options (e.g.
 * `{ conv: 'gemm' }`, the kernels GPUs run) and give the file its own runtime back afterwards.
 */
import { afterAll, beforeAll } from 'vitest';
import { init, shutdown, type InitOptions, type Runtime } from '../../engine/index.js';

/** The options of the file's own runtime (useGpu), or null when the file opens none. */
let fileRuntime: InitOptions | null = null;

async function restore(): Promise<void> {
  shutdown();
  if (fileRuntime) await init(fileRuntime);
}

export function useGpu(options: InitOptions = {}): void {
  beforeAll(async () => {
    fileRuntime = options;
    await init(options);
  });
  afterAll(() => {
    fileRuntime = null;
    shutdown();
  });
}

/** Runs `compute` on a fresh runtime started with `options`; the file's runtime is back afterwards. */
export async function withRuntime<T>(options: InitOptions, compute: (runtime: Runtime) => Promise<T> | T): Promise<T> {
  shutdown();
  const runtime = await init(options);
  try {
    return await compute(runtime);
  } finally {
    await restore();
  }
}

/** withRuntime for every test of a describe block. */
export function useRuntime(options: InitOptions): void {
  beforeAll(async () => {
    shutdown();
    await init(options);
  });
  afterAll(restore);
}
