/** Every test file that touches the GPU opens the real adapter once. */
import { afterAll, beforeAll } from 'vitest';
import { init, shutdown } from '../../engine/index.js';

export function useGpu(): void {
  beforeAll(async () => {
    await init();
  });
  afterAll(() => {
    shutdown();
  });
}
