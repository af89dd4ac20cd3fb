/**
 * The lab's own configurations planned against a GPU's limits without a GPU (a stand-in device,
 * test/helpers/fake-gpu.ts, that allocates and runs nothing): UNet-64 at 256² batch 46 and
 * ResNet34_UNet at 256² batch 128, a training step and an inference in both precisions (and UNet's
 * largest batch, 63, whose largest tensor is just under the limit). Every
 * binding fits maxStorageBufferBindingSize and every grid the 65,535 workgroups per dimension
 * WebGPU guarantees. And the buffer limit is checked on the size bound, not the size asked for.
 */
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { boundSize, sizeClass } from '../engine/buffer-pool.js';
import { createModel, type ModelName } from '../models/index.js';
import { fakeGpu, GPU_REPORT } from './helpers/fake-gpu.js';
import { withRuntime } from './helpers/gpu.js';

const LIMIT = GPU_REPORT.limits.maxStorageBufferBindingSize;
const MAX_GROUPS = 65535;

const LAB: [ModelName, number, 'fp32' | 'mixed'][] = [
  ['UNet', 46, 'fp32'],
  // The largest UNet batch at 256²: its skip concatenation is 1.97 GiB, whose pool size class (2 GiB) is not bindable.
  ['UNet', 63, 'fp32'],
  ['UNet', 46, 'mixed'],
  ['ResNet34_UNet', 128, 'fp32'],
  ['ResNet34_UNet', 128, 'mixed'],
];

describe.each(LAB)('%s at 256², batch %i, %s, on GPU limits', (name, batch, precision) => {
  test('a training step and an inference: every binding and every grid within the limits', async () => {
    const { handle, log } = fakeGpu();
    await withRuntime({ gpu: handle, autotune: false, cacheDir: null }, async () => {
      const model = createModel(name, name === 'UNet' ? { baseChannels: 64 } : {});
      const x = E.zeros([batch, 3, 256, 256]);
      const y = E.zeros([batch, 1, 256, 256]);
      const optimizer = new E.Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
      const mixed = precision === 'mixed';
      model.train();
      const loss = E.tidy(() => E.bceWithLogits(E.autocast(() => model.forward(x), mixed), y));
      optimizer.zeroGrad();
      if (mixed) await new E.GradScaler().backwardAndStep(loss, optimizer);
      else {
        loss.backward();
        optimizer.step();
      }
      loss.dispose();
      model.eval();
      E.noGrad(() => E.tidy(() => E.autocast(() => model.forward(x), mixed))).dispose();
      E.flush();

      const tooLarge = log.bindings.filter((b) => b.bytes > LIMIT);
      expect(tooLarge.slice(0, 3), `${tooLarge.length} bindings past ${LIMIT} bytes`).toEqual([]);
      const tooWide = log.dispatches.filter((d) => d.grid.some((n) => n > MAX_GROUPS));
      expect(tooWide.slice(0, 3), `${tooWide.length} grids past ${MAX_GROUPS} workgroups`).toEqual([]);
      // The configuration is the one meant: its largest activation is over a gigabyte.
      expect(Math.max(...log.bindings.map((b) => b.bytes))).toBeGreaterThanOrEqual(2 ** 30);
      expect(log.dispatches.length).toBeGreaterThan(200);
      optimizer.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    });
  });
});

test('the buffer limit is checked on the size bound: a request whose size class would pass the limit binds its own size; past the limit, one line with both sizes', async () => {
  const { handle, log } = fakeGpu();
  await withRuntime({ gpu: handle, autotune: false, cacheDir: null }, async (runtime) => {
    expect(runtime.caps.maxBufferBytes).toBe(LIMIT);
    // 1.9 GiB: its size class is 2 GiB, past the 2 GiB − 4 B limit; the buffer made is the request's size.
    const request = Math.floor((1.9 * 2 ** 30) / 16) * 16 + 4;
    expect(sizeClass(request)).toBeGreaterThan(LIMIT);
    expect(boundSize(request, LIMIT)).toBe(Math.ceil(request / 16) * 16);
    const fits = E.zeros([request / 4]);
    expect(fits.storage.buffer.byteSize).toBeLessThanOrEqual(LIMIT);
    expect(log.largestBuffer).toBe(Math.ceil(request / 16) * 16);
    fits.dispose();
    // Smaller requests keep their size classes (25% slack at most).
    expect(boundSize(3 * 2 ** 20 + 5, LIMIT)).toBe(sizeClass(3 * 2 ** 20 + 5));
    expect(() => E.zeros([2 ** 29])).toThrow(/^a tensor of 2048\.0 MiB \(2147483648 bytes\) needs a buffer of 2048\.0 MiB \(2147483648 bytes\), more than the 2048\.0 MiB \(2147483644 bytes\) this adapter binds at most; use a smaller batch or input size$/);
  });
});
