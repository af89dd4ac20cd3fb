/** The training loop: outputs, determinism, exact resume, augmentation, batching, bad input. */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { decodeSafetensors } from '../engine/safetensors.js';
import { loadCheckpoint } from '../models/checkpoint.js';
import { augmentSample } from '../train/augment.js';
import { loadSplitCached } from '../train/cache.js';
import { NodeFolder } from '../train/node-folder.js';
import { DatasetError } from '../train/dataset.js';
import { IMAGENET_MEAN, IMAGENET_STD, type Sample } from '../train/pixels.js';
import { BatchLoader, disposeBatch, epochGenerator, shuffledOrder } from '../train/loader.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { ProgressBar } from '../train/progress.js';
import { RUN_FILES, evaluateSamples, train, type TrainOptions } from '../train/trainer.js';
import { useGpu } from './helpers/gpu.js';
import { trainOptions } from './helpers/train-options.js';
import { readSummaries } from './helpers/tfrecord.js';

useGpu();

const root = mkdtempSync(join(tmpdir(), 'petseg-trainer-'));
writeSyntheticDataset(root, { trainval: 20, test: 6, size: 40, seed: 2 });
const runs = mkdtempSync(join(tmpdir(), 'petseg-runs-'));

const options = (name: string, over: Partial<TrainOptions> = {}) => trainOptions(root, join(runs, name), { seed: 5, logDir: join(runs, name, 'tb'), ...over });

const metricsLines = (dir: string) =>
  readFileSync(join(dir, RUN_FILES.metrics), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number | boolean>);

/** All tensors of a checkpoint file, by name. */
const weights = (file: string) => new Map([...decodeSafetensors(readFileSync(file), file).tensors].map(([k, t]) => [k, Array.from(t.data as Float32Array)]));

function makeSample(size: number): Sample {
  const mask = new Uint8Array(size * size);
  const image = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // An off-centre blob, so flips and rotations move it.
      const pet = (x - size * 0.3) ** 2 + (y - size * 0.6) ** 2 < (size * 0.22) ** 2 ? 1 : 0;
      mask[y * size + x] = pet;
      image.set(pet ? [220, 200, 180] : [20 + x, 40, 60 + y], (y * size + x) * 3);
    }
  }
  return { name: 's', image, mask };
}

describe('training run', () => {
  let first: Awaited<ReturnType<typeof train>>;

  test('writes best/last checkpoints, optimizer state, metrics.jsonl and TensorBoard events; loss falls; no GPU memory left behind', async () => {
    const o = options('a');
    const before = E.memoryStats().liveBytes;
    first = await train(o);
    expect(first.history).toHaveLength(2);
    for (const r of first.history) {
      for (const key of ['trainLoss', 'validLoss', 'trainDice', 'validDice', 'validIou', 'validDatasetDice'] as const) expect(Number.isFinite(r[key])).toBe(true);
    }
    expect(first.history[1].trainLoss).toBeLessThan(first.history[0].trainLoss);
    for (const file of Object.values(RUN_FILES)) expect(existsSync(join(o.saveDir, file))).toBe(true);
    expect(readdirSync(o.saveDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const lines = metricsLines(o.saveDir);
    expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
    expect(lines[0].train_loss).toBe(first.history[0].trainLoss);

    // best.safetensors is the epoch with the lowest validation loss, with its metadata.
    const bestEpoch = first.history.reduce((a, b) => (b.validLoss < a.validLoss ? b : a)).epoch;
    const best = loadCheckpoint(join(o.saveDir, RUN_FILES.best));
    expect(best.info).toMatchObject({ model: 'UNet', epoch: bestEpoch, options: { baseChannels: 4, seed: 5 } });
    expect(first.best.epoch).toBe(bestEpoch);
    // Scoring the best checkpoint again reproduces the recorded validation figures.
    const valid = (await loadSplitCached(new NodeFolder(root), 'valid', 32, new NodeFolder(o.cacheDir!), { warn: () => {} })).samples;
    const again = await evaluateSamples(best.model, valid, { batchSize: 6, size: 32, threshold: 0.5 });
    expect(again.loss).toBeCloseTo(first.best.validLoss, 6);
    expect(again.dice).toBeCloseTo(first.best.validDice, 6);
    best.model.dispose();

    const events = readdirSync(o.logDir!).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(events).toHaveLength(1);
    const { scalars, images } = readSummaries(join(o.logDir!, events[0]));
    for (const tag of ['loss/train', 'loss/valid', 'dice/train', 'dice/valid', 'dice/valid_dataset', 'iou/valid']) expect(scalars.get(tag)?.map(([step]) => step)).toEqual([1, 2]);
    expect(scalars.get('loss/valid')![1][1]).toBeCloseTo(first.history[1].validLoss, 6);
    // 2 validation images: rows of input | truth | prediction.
    expect(images.get('valid/input_truth_prediction')).toEqual([
      [1, 96, 64],
      [2, 96, 64],
    ]);
    expect(o.output.join('')).toMatch(/epoch 2\/2 {2}train loss \d\.\d{4} dice/);

    first.model.dispose();
    await E.sync();
    expect(E.memoryStats().liveBytes).toBe(before);
  });

  test('same seed → identical losses; --resume from last.safetensors continues exactly', async () => {
    const o = options('b', { epochs: 1 });
    const one = await train(o);
    one.model.dispose();
    expect(one.history[0].trainLoss).toBe(first.history[0].trainLoss);
    expect(one.history[0].validLoss).toBe(first.history[0].validLoss);

    const resumed = await train({ ...o, epochs: 2, resume: true });
    resumed.model.dispose();
    expect(resumed.history.map((r) => r.epoch)).toEqual([2]);
    expect(resumed.history[0].trainLoss).toBe(first.history[1].trainLoss);
    expect(resumed.history[0].validLoss).toBe(first.history[1].validLoss);
    expect(o.output.join('')).toMatch(/resuming .*last\.safetensors after epoch 1/);
    // Weights, BN statistics and Adam moments are those of the uninterrupted run, bit for bit.
    for (const file of [RUN_FILES.last, RUN_FILES.optimizer]) {
      expect(weights(join(o.saveDir, file))).toEqual(weights(join(runs, 'a', file)));
    }
    expect(metricsLines(o.saveDir).map((l) => [l.epoch, l.train_loss, l.valid_loss])).toEqual(metricsLines(join(runs, 'a')).map((l) => [l.epoch, l.train_loss, l.valid_loss]));
  });

  test('a different seed gives different losses; augmentation is reproducible', async () => {
    const other = await train(options('c', { epochs: 1, seed: 6, logDir: null }));
    other.model.dispose();
    expect(other.history[0].trainLoss).not.toBe(first.history[0].trainLoss);
    const aug1 = await train(options('d', { epochs: 1, augment: true, logDir: null }));
    const aug2 = await train(options('e', { epochs: 1, augment: true, logDir: null }));
    aug1.model.dispose();
    aug2.model.dispose();
    expect(aug1.history[0].trainLoss).toBe(aug2.history[0].trainLoss);
    expect(aug1.history[0].trainLoss).not.toBe(first.history[0].trainLoss);
  });

  test('bad input: one clear error each naming the option by its field (the CLI says its flag), and nothing overwritten', async () => {
    const a = join(runs, 'a');
    const lastBefore = readFileSync(join(a, RUN_FILES.last));
    await expect(train(options('a'))).rejects.toThrow(/a already holds a run \(finished epoch 2\); pass resume to continue it, or choose another saveDir/);
    await expect(train(options('a', { resume: true }))).rejects.toThrow(/already trained 2 epochs; pass epochs greater than 2/);
    expect(readFileSync(join(a, RUN_FILES.last))).toEqual(lastBefore);
    await expect(train(options('f', { resume: true }))).rejects.toThrow(/holds no finished epoch to resume; run without resume to start it/);
    await expect(train(options('a', { resume: true, epochs: 3, batchSize: 4 }))).rejects.toThrow(/^resume: the run in .*a was trained with batchSize 6, not 4; drop batchSize or start a new saveDir$/);
    await expect(train(options('a', { resume: true, epochs: 3, model: 'ResNet34_UNet', imgSize: 32 }))).rejects.toThrow(/^resume: the run in .*a was trained with model UNet, not ResNet34_UNet; drop model or start a new saveDir$/);
    expect(readFileSync(join(a, RUN_FILES.last))).toEqual(lastBefore);
    await expect(train(options('g', { maskThreshold: 1.5 }))).rejects.toThrow(/^maskThreshold must be in \[0, 1\], got 1.5$/);
    await expect(train(options('g', { imgSize: 40 }))).rejects.toThrow(/^imgSize 40 must be a multiple of 16 for UNet \(e.g. 48\)$/);
    await expect(train(options('g', { dataPath: join(root, 'missing') }))).rejects.toThrow(DatasetError);
    await expect(train(options('g', { lr: 0 }))).rejects.toThrow(/^lr must be positive/);
  });
});

describe('augmentation', () => {
  test('flips move image and mask together; no rotation and p = 1 is an exact double flip', () => {
    const size = 20;
    const s = makeSample(size);
    const out = augmentSample(s, size, new E.Generator(1), { flipProbability: 1, maxRotation: 0 });
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const src = (size - 1 - y) * size + (size - 1 - x);
        expect(out.mask[y * size + x]).toBe(s.mask[src]);
        expect(Array.from(out.image.slice((y * size + x) * 3, (y * size + x) * 3 + 3))).toEqual(Array.from(s.image.slice(src * 3, src * 3 + 3)));
      }
    }
    const none = augmentSample(s, size, new E.Generator(1), { flipProbability: 0, maxRotation: 0 });
    expect(none.mask).toEqual(s.mask);
    expect(none.image).toEqual(s.image);
  });

  test('rotation keeps image and mask aligned and is reproducible for a seed', () => {
    const size = 40;
    const s = makeSample(size);
    const a = augmentSample(s, size, new E.Generator(9), { maxRotation: 30 });
    const b = augmentSample(s, size, new E.Generator(9), { maxRotation: 30 });
    expect(a).toEqual(b);
    expect(a.mask).not.toEqual(s.mask);
    // Where the mask says pet the image shows the pet's colour (bilinear vs nearest may differ on the edge).
    let agree = 0;
    let pet = 0;
    for (let i = 0; i < size * size; i++) {
      if (!a.mask[i]) continue;
      pet++;
      if (Math.abs(a.image[i * 3] - 220) < 40) agree++;
    }
    expect(pet).toBeGreaterThan(50);
    expect(agree / pet).toBeGreaterThan(0.9);
  });
});

describe('batches', () => {
  test('epoch orders are seeded permutations; batches are normalised NCHW with a partial last batch', async () => {
    const order = shuffledOrder(11, epochGenerator(3, 1, 'shuffle'));
    expect([...order].sort((x, y) => x - y)).toEqual([...Array(11).keys()]);
    expect(shuffledOrder(11, epochGenerator(3, 1, 'shuffle'))).toEqual(order);
    expect(shuffledOrder(11, epochGenerator(3, 2, 'shuffle'))).not.toEqual(order);
    const samples = Array.from({ length: 5 }, () => makeSample(8));
    const loader = new BatchLoader(samples, { batchSize: 2, size: 8 });
    expect(loader.length).toBe(3);
    const last = loader.load(2);
    expect(last.images.shape).toEqual([1, 3, 8, 8]);
    expect(last.masks.shape).toEqual([1, 1, 8, 8]);
    const pixels = await last.images.toArray();
    // Pixel (0,0) is background [20, 40, 60]; channel c sits at plane c.
    [20, 40, 60].forEach((v, c) => expect(pixels[c * 64]).toBeCloseTo((v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], 5));
    expect(Array.from(await last.masks.toArray())).toEqual(Array.from(samples[4].mask));
    disposeBatch(last);
    expect(() => new BatchLoader(samples, { batchSize: 0, size: 8 })).toThrow(/batch size must be ≥ 1/);
  });
});

describe('progress bar', () => {
  test('redraws one line in place on a TTY; a few plain lines otherwise', () => {
    const tty: string[] = [];
    const bar = new ProgressBar('epoch 1/2', { write: (t: string) => tty.push(t), isTTY: true, columns: 120 });
    for (let done = 1; done <= 8; done++) bar.update({ done, total: 8, loss: 0.5, dice: 0.75, images: done * 4 });
    bar.end();
    expect(tty).toHaveLength(9);
    expect(tty[3]).toMatch(/^\repoch 1\/2 \[#{12}\.{12}\] 4\/8 loss 0\.5000 dice 0\.7500 [\d.]+ img\/s ETA \d\d:\d\d\x1b\[K$/);
    expect(tty.join('')).not.toContain('\n');
    const plain: string[] = [];
    const logBar = new ProgressBar('epoch 1/2', { write: (t: string) => plain.push(t), isTTY: false });
    for (let done = 1; done <= 8; done++) logBar.update({ done, total: 8, loss: 0.5, dice: 0.75, images: done * 4 });
    expect(plain).toHaveLength(3); // at 25%, 50%, 75%; the epoch's summary line follows
    expect(plain[0]).toMatch(/^epoch 1\/2 2\/8 loss 0\.5000 dice 0\.7500 [\d.]+ img\/s ETA \d\d:\d\d\n$/);
  });
});
