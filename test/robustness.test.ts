/**
 * Hostile and degenerate input: NaN kept as PyTorch keeps it, divergence stopped before anything
 * non-finite is written, files crafted to exhaust memory or time refused from their headers, a
 * damaged decode cache rebuilt, and buffers beyond the adapter refused with a clear line.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { decodeSafetensors, encodeSafetensors, MAX_TENSORS } from '../engine/safetensors.js';
import { loadCheckpoint, readSafetensorsHeader, saveCheckpoint, saveOptimizerState } from '../models/checkpoint.js';
import { checkpointInfo as infoOf } from '../models/checkpoint-format.js';

/** A checkpoint file's model, checked against its header. */
const checkpointInfo = (path: string, model?: string) => infoOf(readSafetensorsHeader(path), path, model);
import { UNet } from '../models/unet.js';
import { loadSplitCached } from '../train/cache.js';
import { DivergedError } from '../train/epoch.js';
import { NodeFolder } from '../train/node-folder.js';
import { decodeImage, DEFAULT_MAX_IMAGE_PIXELS, encodePng } from '../train/images.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { RUN_FILES, train } from '../train/trainer.js';
import { useGpu } from './helpers/gpu.js';
import { trainOptions } from './helpers/train-options.js';

useGpu();

const work = mkdtempSync(join(tmpdir(), 'petseg-robust-'));
const data = join(work, 'data');
writeSyntheticDataset(data, { trainval: 20, test: 4, size: 32, seed: 3 });

describe('NaN and divergence', () => {
  test('relu, leakyRelu and BatchNorm + ReLU keep NaN, as PyTorch; max-pool too', async () => {
    expect(Array.from(await E.tensor([Number.NaN, -1, 2, -Number.NaN, Infinity, -Infinity]).relu().toArray())).toEqual([Number.NaN, 0, 2, Number.NaN, Infinity, 0]);
    // leaky_relu as PyTorch: NaN stays NaN, −Inf · slope is −Inf; in the gradient, NaN · slope too.
    const special = E.tensor([Number.NaN, -1, 2, -Number.NaN, Infinity, -Infinity, 0, 0], [8], { requiresGrad: true });
    const leaky = special.leakyRelu(0.5);
    expect(Array.from(await leaky.toArray())).toEqual([Number.NaN, -0.5, 2, Number.NaN, Infinity, -Infinity, 0, 0]);
    leaky.backward(E.tensor([1, 1, 1, 1, 1, 1, 1, Number.NaN]));
    expect(Array.from(await special.grad!.toArray())).toEqual([0.5, 0.5, 1, 0.5, 1, 0.5, 0.5, Number.NaN]);
    for (const shape of [[2, 2, 4, 4], [2, 2, 3, 5]]) {
      const values = Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => (i % 5) - 2);
      values[3] = Number.NaN;
      const x = E.tensor(values, shape);
      const runningMean = E.zeros([2]);
      const runningVar = E.ones([2]);
      for (const training of [false, true]) {
        const y = await E.batchNorm2d(x, training ? null : runningMean, training ? null : runningVar, E.ones([2]), E.zeros([2]), { training, relu: true }).toArray();
        const composed = await E.batchNorm2d(x, training ? null : runningMean, training ? null : runningVar, E.ones([2]), E.zeros([2]), { training }).relu().toArray();
        expect(Number.isNaN(y[3]), `${shape} training=${training}`).toBe(true);
        expect(Array.from(y), `${shape} training=${training}`).toEqual(Array.from(composed));
      }
      const pooled = await E.maxPool2d(x, { kernelSize: 2 }).toArray();
      expect(pooled.some(Number.isNaN)).toBe(true);
    }
  });

  test('Adam flags the first step with a non-finite gradient; allFinite sees NaN and Inf', async () => {
    const p = E.randn([5], { seed: 1, requiresGrad: true });
    const adam = new E.Adam([p], { lr: 1e-3 });
    p.grad = E.tensor([1, 2, 3, 4, 5]);
    adam.step();
    expect(await adam.firstNonFiniteStep()).toBe(null);
    p.grad.dispose();
    p.grad = E.tensor([1, Infinity, 3, 4, 5]);
    adam.step();
    p.grad.dispose();
    p.grad = E.tensor([Number.NaN, 2, 3, 4, 5]);
    adam.step();
    expect(await adam.firstNonFiniteStep()).toBe(2);
    expect(await E.allFinite([E.ones([7]), E.zeros([8])])).toBe(true);
    expect(await E.allFinite([E.ones([8]), E.tensor([0, 0, Number.NaN])])).toBe(false);
    expect(await E.allFinite([E.tensor([0, -Infinity, 0, 0])])).toBe(false);
    adam.dispose();
  });

  const runOptions = (name: string, lr: number) => trainOptions(data, join(work, name), { epochs: 3, lr, weightDecay: 0, logDir: join(work, name, 'tb') });
  test.each([[1e12], [1e6]])('--lr %d: training stops with a line naming the epoch and the fix, and no non-finite file is ever written', async (lr) => {
    const o = runOptions(`diverge-${lr}`, lr);
    const error = await train(o).then(() => null, (err: unknown) => err);
    expect(error).toBeInstanceOf(DivergedError);
    // The library names the option by its field; the command line says --lr (cli/commands/args.ts).
    expect((error as Error).message).toMatch(/^training diverged at epoch \d+: .*; lower lr \(now \d+\) — the run folder keeps its last finished epoch$/);
    expect((error as DivergedError).render((field) => `--${field}`)).toMatch(/; lower --lr \(now \d+\)/);
    for (const file of [RUN_FILES.last, RUN_FILES.best, RUN_FILES.optimizer]) {
      const path = join(o.saveDir, file);
      if (!existsSync(path)) continue;
      for (const [name, t] of decodeSafetensors(readFileSync(path), path).tensors) expect(t.data.every(Number.isFinite), `${file} ${name}`).toBe(true);
    }
  });
});

describe('hostile files', () => {
  test('a 200-byte checkpoint whose metadata asks for a huge model is refused from its header, allocating nothing', async () => {
    const crafted = (baseChannels: number) => {
      const metadata = { format: 'petseg-checkpoint-v1', model: 'UNet', petseg: JSON.stringify({ model: 'UNet', options: { baseChannels } }) };
      const file = join(work, `huge-${baseChannels}.safetensors`);
      writeFileSync(file, encodeSafetensors(new Map([['head.bias', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]), metadata));
      return file;
    };
    const live = E.memoryStats().liveBytes;
    const started = performance.now();
    // Beyond the arguments' bound (models/limits.ts); within it, but not what the file holds.
    expect(() => checkpointInfo(crafted(4096))).toThrow(/huge-4096\.safetensors: its metadata describes no buildable UNet \(model UNet: baseChannels must be an integer in \[1, 120\], got 4096\)/);
    const file = crafted(120);
    expect(() => checkpointInfo(file)).toThrow(/huge-120\.safetensors: not a checkpoint of UNet \{"baseChannels":120\} — missing encoders\.0\.block\.0\.weight/);
    expect(() => loadCheckpoint(file)).toThrow(/huge-120\.safetensors: not a checkpoint of UNet/);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(E.memoryStats().liveBytes).toBe(live);
  });

  test('damaged headers and metadata, an optimizer file given as a model: one line naming the file', async () => {
    const header = (json: string) => {
      const body = new TextEncoder().encode(json);
      const out = new Uint8Array(8 + body.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
      out.set(body, 8);
      return out;
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['null.safetensors', header('null'), /null\.safetensors: the header is not a JSON object/],
      ['array.safetensors', header('[1,2]'), /array\.safetensors: the header is not a JSON object/],
      ['meta.safetensors', header('{"__metadata__": {"petseg": "{not json"}}'), /meta\.safetensors: its petseg metadata is not valid JSON/],
      ['shape.safetensors', header('{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}'), /shape\.safetensors: tensor 'w' has no valid shape/],
      ['overlap.safetensors', new Uint8Array([...header('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'), 0, 0, 0, 0, 0, 0, 0, 0]), /overlap\.safetensors: two tensors share bytes/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = join(work, name);
      writeFileSync(path, bytes);
      expect(() => checkpointInfo(path, 'UNet'), name).toThrow(message);
    }
    const model = new UNet({ baseChannels: 2 });
    const adam = new E.Adam(model.parameters());
    const optimizerFile = join(work, 'last.optim.safetensors');
    await saveOptimizerState(optimizerFile, adam, model);
    expect(() => checkpointInfo(optimizerFile)).toThrow(/last\.optim\.safetensors: this is Adam's optimizer state \(last\.optim\.safetensors\), not a model; pass last\.safetensors or best\.safetensors/);
    const good = join(work, 'good.safetensors');
    await saveCheckpoint(good, model, { model: 'UNet', options: { baseChannels: 2 } });
    expect(checkpointInfo(good).options).toEqual({ baseChannels: 2 });
    adam.dispose();
    model.dispose();
  });

  test(`a header with more than ${MAX_TENSORS} tensors is refused quickly`, () => {
    const entries = Object.fromEntries(Array.from({ length: MAX_TENSORS + 10 }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }]));
    const body = new TextEncoder().encode(JSON.stringify(entries));
    const bytes = new Uint8Array(8 + body.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(body.length), true);
    bytes.set(body, 8);
    const started = performance.now();
    expect(() => decodeSafetensors(bytes, 'many.safetensors')).toThrow(/many\.safetensors: the header lists \d+ tensors, more than petseg reads \(65536\)/);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  test('images whose headers declare more pixels than the limit are refused before decoding (GIF, PNG, JPEG); the limit can be raised', () => {
    const gif = new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x00, 0x7d, 0x00, 0x7d, 0x80, 0, 0, ...new Array(22).fill(0)]); // 32000×32000, 35 bytes
    expect(gif.length).toBe(35);
    const png = encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) });
    new DataView(png.buffer, png.byteOffset).setUint32(16, 20000);
    new DataView(png.buffer, png.byteOffset).setUint32(20, 20000);
    // A JPEG whose start-of-frame says 60000×60000.
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0xea, 0x60, 0xea, 0x60, 1, 1, 0x11, 0]);
    for (const [name, bytes, size] of [['huge.gif', gif, '32000×32000'], ['huge.png', png, '20000×20000'], ['huge.jpg', jpeg, '60000×60000']] as const) {
      expect(() => decodeImage(bytes, name)).toThrow(new RegExp(`${name.replace('.', '\\.')}: ${size} pixels is more than the limit of ${DEFAULT_MAX_IMAGE_PIXELS} .*raise it with PETSEG_MAX_IMAGE_PIXELS`));
    }
    const small = encodePng({ width: 4, height: 4, channels: 3, data: new Uint8Array(48) });
    expect(decodeImage(small, 'small.png').width).toBe(4);
    process.env.PETSEG_MAX_IMAGE_PIXELS = '15';
    try {
      expect(() => decodeImage(small, 'small.png')).toThrow(/small\.png: 4×4 pixels is more than the limit of 15/);
    } finally {
      delete process.env.PETSEG_MAX_IMAGE_PIXELS;
    }
  });

  test('a damaged decode cache is rebuilt with a line naming it', async () => {
    const cacheDir = join(work, 'cache-damage');
    const source = new NodeFolder(data);
    const cache = new NodeFolder(cacheDir);
    const first = await loadSplitCached(source, 'valid', 32, cache, { warn: () => {} });
    const cacheFile = readdirSync(cacheDir).find((f) => f.startsWith('valid-'))!;
    const bytes = readFileSync(join(cacheDir, cacheFile));
    bytes.fill(0x7b, 12, 40); // inside the JSON header
    writeFileSync(join(cacheDir, cacheFile), bytes);
    const lines: string[] = [];
    const again = await loadSplitCached(source, 'valid', 32, cache, { warn: (l) => lines.push(l) });
    expect(lines).toEqual([expect.stringMatching(/the decode cache .*valid-.* is damaged; decoding the images again to rebuild it/)]);
    expect(again.fromCache).toBe(false);
    expect(again.samples.map((s) => Array.from(s.image))).toEqual(first.samples.map((s) => Array.from(s.image)));
    expect((await loadSplitCached(source, 'valid', 32, cache, { warn: () => {} })).fromCache).toBe(true);
  });

  test("a tensor beyond the adapter's largest buffer is refused with a line, not a device error", () => {
    const limit = E.getRuntime().caps.maxBufferBytes;
    expect(() => E.zeros([Math.floor(limit / 4) + 1024])).toThrow(/^a tensor of [\d.]+ MiB \(\d+ bytes\) needs a buffer of [\d.]+ MiB \(\d+ bytes\), more than the [\d.]+ MiB \(\d+ bytes\) this adapter binds at most; use a smaller batch or input size$/);
  });
});
