import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { sizeClass } from '../engine/buffer-pool.js';
import { useGpu } from './helpers/gpu.js';
import { trainOptions } from './helpers/train-options.js';
import { UNet } from '../models/unet.js';
import type { RasterImage } from '../train/pixels.js';
import { segmentImage } from '../train/segment.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { train } from '../train/trainer.js';

useGpu();

describe('buffer pool and scopes', () => {
  test('size classes: 256 B minimum, at most 25% slack, multiples of 16', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(256)).toBe(256);
    for (const n of [257, 1000, 4096, 4097, 123_457, 10_000_000]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeLessThanOrEqual(n * 1.25 + 16);
      expect(c % 16).toBe(0);
    }
  });

  test('disposed buffers are reused by size class', () => {
    const before = E.memoryStats();
    const a = E.zeros([1000]);
    a.dispose();
    const b = E.zeros([990]); // same class as 1000 floats
    const after = E.memoryStats();
    expect(after.createdBuffers - before.createdBuffers).toBeLessThanOrEqual(1);
    expect(after.reusedBuffers).toBeGreaterThan(before.reusedBuffers);
    b.dispose();
    expect(E.memoryStats().liveBytes).toBe(before.liveBytes);
  });

  test('the pool hands out its lowest-id free buffer, whatever order buffers were released in', () => {
    const pool = E.getRuntime().pool;
    const bytes = 12_345;
    const usage = GPUBufferUsage.STORAGE;
    const held = [0, 1, 2, 3].map(() => pool.acquire(bytes, usage));
    const ids = held.map((b) => b.id).sort((a, b) => a - b);
    for (const i of [2, 0, 3, 1]) pool.release(held[i]);
    const again = [0, 1, 2, 3].map(() => pool.acquire(bytes, usage));
    expect(again.map((b) => b.id)).toEqual(ids);
    again.forEach((b) => pool.release(b));
  });

  test('views share storage: the buffer returns to the pool with the last handle', async () => {
    const before = E.memoryStats().liveBytes;
    const a = E.zeros([4, 6]);
    const v = a.reshape([24]);
    a.dispose();
    expect(E.memoryStats().liveBytes).toBeGreaterThan(before);
    v.dispose();
    expect(E.memoryStats().liveBytes).toBe(before);
    await expect(a.toArray()).rejects.toThrow(/disposed/);
  });

  test('tidy disposes intermediates and keeps what it returns (nested)', () => {
    const before = E.memoryStats().liveBuffers;
    const kept = E.tidy(() => {
      const a = E.ones([8]);
      const inner = E.tidy(() => {
        const t = a.add(1);
        return { t, list: [t.mul(2)] };
      });
      const lost = inner.t.add(1);
      expect(lost.isDisposed).toBe(false);
      return [inner.list[0], E.keep(E.zeros([2]))];
    });
    expect(E.memoryStats().liveBuffers - before).toBe(2);
    kept.forEach((t) => t.dispose());
    expect(E.memoryStats().liveBuffers).toBe(before);
  });

  test('tidy rejects async functions and cleans up after a throw', () => {
    const before = E.memoryStats().liveBuffers;
    expect(() => E.tidy(() => Promise.resolve(1))).toThrow(/synchronous/);
    expect(() =>
      E.tidy(() => {
        E.ones([3]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(E.memoryStats().liveBuffers).toBe(before);
  });

  test('disposing a loss without backward releases its whole graph', () => {
    const before = E.memoryStats().liveBytes;
    const w = E.randn([16, 16], { seed: 1, requiresGrad: true });
    const loss = E.tidy(() => w.matmul(w).sigmoid().mean());
    expect(E.memoryStats().liveBytes).toBeGreaterThan(before + 2 * 1024); // w, loss and saved tensors
    loss.dispose();
    w.dispose();
    expect(E.memoryStats().liveBytes).toBe(before);
  });

  test('200 training steps keep live GPU memory flat (no leaks)', async () => {
    const x = E.randn([32, 12], { seed: 2 });
    const y = E.rand([32, 1], { seed: 3 });
    const w1 = E.randn([12, 20], { seed: 4, std: 0.3, requiresGrad: true });
    const b1 = E.zeros([20], { requiresGrad: true });
    const w2 = E.randn([20, 1], { seed: 5, std: 0.3, requiresGrad: true });
    const params = [w1, b1, w2];
    const live: number[] = [];
    const created: number[] = [];
    let first = 0;
    let last = 0;
    for (let step = 0; step < 200; step++) {
      const loss = E.tidy(() => x.matmul(w1).add(b1).relu().matmul(w2).sigmoid().sub(y).mul(2).exp().mean());
      loss.backward();
      E.noGrad(() =>
        E.tidy(() => {
          for (const p of params) {
            p.assign(p.sub(p.grad!.mul(0.05)));
            p.zeroGrad();
          }
        }),
      );
      if (step === 0) first = await loss.item();
      if (step === 199) last = await loss.item();
      loss.dispose();
      E.flush();
      live.push(E.memoryStats().liveBytes);
      created.push(E.memoryStats().createdBuffers);
    }
    expect(last).toBeLessThan(first);
    expect(new Set(live.slice(1)).size).toBe(1); // identical after the first step
    expect(created[199]).toBe(created[2]); // the pool stops creating buffers
    const stats = E.memoryStats();
    expect(stats.submits).toBeGreaterThan(0);
    expect(stats.dispatches / stats.submits).toBeGreaterThan(5); // many dispatches per submit
  });

  test('a UNet training step with Adam binds the same buffers every time: all bind groups reused after warm-up', async () => {
    const model = new UNet({ baseChannels: 4 });
    model.train();
    const optimizer = new E.Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
    const x = E.randn([2, 3, 32, 32], { seed: 8 });
    const target = E.rand([2, 1, 32, 32], { seed: 9 });
    const stats: E.RuntimeStats[] = [];
    for (let step = 0; step < 4; step++) {
      E.tidy(() => E.backward(E.bceWithLogits(model.forward(x), target)));
      optimizer.step();
      optimizer.zeroGrad();
      await E.sync();
      stats.push(E.memoryStats());
    }
    const dispatches = stats[3].dispatches - stats[2].dispatches;
    expect(dispatches).toBeGreaterThan(100);
    expect(stats[3].bindGroupReuses - stats[2].bindGroupReuses).toBe(dispatches);
    expect(stats[3].bindGroups).toBe(stats[2].bindGroups);
    x.dispose();
    target.dispose();
    optimizer.dispose();
    model.dispose();
  });

  test('inference (segmentImage) returns every activation to the pool and reuses bind groups', async () => {
    const model = new UNet({ baseChannels: 4 });
    model.eval();
    const image: RasterImage = { width: 40, height: 30, channels: 3, data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 7) % 256) };
    const live: number[] = [];
    const stats: E.RuntimeStats[] = [];
    for (let run = 0; run < 4; run++) {
      await segmentImage(model, image, 32);
      live.push(E.memoryStats().liveBytes);
      stats.push(E.memoryStats());
    }
    expect(new Set(live).size).toBe(1);
    expect(stats[3].createdBuffers).toBe(stats[1].createdBuffers);
    // Same buffers bound to the same pipelines: later runs create (almost) no bind groups.
    const dispatches = stats[3].dispatches - stats[2].dispatches;
    expect(stats[3].bindGroupReuses - stats[2].bindGroupReuses).toBeGreaterThan(0.5 * dispatches);
    model.dispose();
  });

  test('the trainer: live GPU memory flat over 108 real steps with validation, checkpoints and TensorBoard', async () => {
    const work = mkdtempSync(join(tmpdir(), 'petseg-memory-'));
    writeSyntheticDataset(join(work, 'data'), { trainval: 20, test: 2, size: 36, seed: 6 });
    const live: number[] = [];
    const created: number[] = [];
    const before = E.memoryStats().liveBytes;
    const result = await train(
      trainOptions(join(work, 'data'), join(work, 'run'), {
        epochs: 12, // 9 steps of batch 2 per epoch
        batchSize: 2,
        augment: true,
        logDir: join(work, 'run', 'tensorboard'),
        onEpoch: () => {
          live.push(E.memoryStats().liveBytes);
          created.push(E.memoryStats().createdBuffers);
        },
      }),
    );
    expect(result.history.reduce((n, r) => n + (r.best ? 1 : 0), 0)).toBeGreaterThan(1); // best.safetensors rewritten
    expect(new Set(live.slice(1)).size).toBe(1); // identical after the first epoch
    expect(created[11]).toBe(created[2]); // the pool stops creating buffers
    result.model.dispose();
    expect(E.memoryStats().liveBytes).toBe(before); // model and optimizer state all returned
  });
});
