/** Dataset layout, splits, trimap mapping, decoding by magic bytes, resizing, bad input. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PNG } from 'pngjs';
import { DatasetError, loadSample, loadSplit, readSplit as readSplitOf, trimapToMask } from '../train/dataset.js';
import { NodeFolder } from '../train/node-folder.js';
import { ImageDecodeError, decodeImage, sniffFormat } from '../train/images.js';
import { normalizeImage, resizeBilinear, resizeNearest } from '../train/pixels.js';
import { writeSyntheticDataset } from '../train/synthetic.js';

const SAMPLE = new URL('../../shared/data/oxford-pet-sample/', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'petseg-data-'));
const names = writeSyntheticDataset(root, { trainval: 25, test: 4, size: 40, seed: 1 });
/** A split of the dataset folder at `dir`. */
const readSplit = (dir: string, split: 'train' | 'valid' | 'test') => readSplitOf(new NodeFolder(dir), split);

describe('splits', () => {
  test('train = trainval lines with index % 10 != 0, valid = index % 10 == 0, test = test.txt', async () => {
    const train = await readSplit(root, 'train');
    const valid = await readSplit(root, 'valid');
    expect(valid).toEqual([names.trainval[0], names.trainval[10], names.trainval[20]]);
    expect(train).toHaveLength(22);
    expect(train).not.toContain(names.trainval[10]);
    expect(new Set([...train, ...valid])).toEqual(new Set(names.trainval));
    expect(await readSplit(root, 'test')).toEqual(names.test);
  });

  test('missing folder, missing split file, empty split: one clear error each (naming the option by its field)', async () => {
    await expect(readSplit(join(root, 'nope'), 'train')).rejects.toThrow(/^dataPath .*nope is not a folder; expected the Oxford-IIIT Pet layout/);
    const empty = mkdtempSync(join(tmpdir(), 'petseg-empty-'));
    await expect(readSplit(empty, 'valid')).rejects.toThrow(/annotations\/trainval.txt is missing/);
    writeSyntheticDataset(empty, { trainval: 0, test: 0, size: 8 });
    await expect(readSplit(empty, 'test')).rejects.toThrow(DatasetError);
    await expect(readSplit(empty, 'test')).rejects.toThrow(/lists no images for the test split/);
  });
});

describe('trimaps and samples', () => {
  test('trimap 1 and 3 → pet, 2 → background; other values are errors naming the file', () => {
    expect(Array.from(trimapToMask(Uint8Array.of(1, 2, 3, 2, 1), 'x.png'))).toEqual([1, 0, 1, 0, 1]);
    expect(() => trimapToMask(Uint8Array.of(1, 7), 'bad.png')).toThrow(/bad.png: trimap value 7/);
  });

  test('a synthetic sample loads: resized image, binary mask with pet and background', async () => {
    const s = await loadSample(new NodeFolder(root), names.trainval[3], 32);
    expect(s.image).toHaveLength(32 * 32 * 3);
    expect(s.mask).toHaveLength(32 * 32);
    const pet = s.mask.reduce((a, b) => a + b, 0);
    expect(pet).toBeGreaterThan(32 * 32 * 0.03);
    expect(pet).toBeLessThan(32 * 32 * 0.7);
    const x = normalizeImage(s.image, 32);
    expect(x[0]).toBeCloseTo((s.image[0] / 255 - 0.485) / 0.229, 5);
    expect(x[32 * 32]).toBeCloseTo((s.image[1] / 255 - 0.456) / 0.224, 5);
  });

  test('bad samples are skipped with one warning each; the rest loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petseg-bad-'));
    const n = writeSyntheticDataset(dir, { trainval: 12, test: 0, size: 24, seed: 2 });
    const train = await readSplit(dir, 'train');
    rmSync(join(dir, 'annotations', 'trimaps', `${train[0]}.png`)); // missing trimap
    writeFileSync(join(dir, 'images', `${train[1]}.jpg`), Buffer.from('not an image at all')); // corrupt
    const png = new PNG({ width: 5, height: 5 });
    writeFileSync(join(dir, 'annotations', 'trimaps', `${train[2]}.png`), PNG.sync.write(png)); // wrong size
    const warnings: string[] = [];
    const samples = await loadSplit(new NodeFolder(dir), 'train', 16, { warn: (w) => warnings.push(w) });
    expect(samples).toHaveLength(train.length - 3);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/trimap missing for image/);
    expect(warnings[1]).toMatch(/not a JPEG, PNG or GIF image \(first bytes: 6e 6f 74 20\)/);
    expect(warnings[2]).toMatch(/trimap is 5×5 but the image is 24×24/);
    expect(n.trainval).toHaveLength(12);
  });
});

describe('decoding by magic bytes', () => {
  test('a PNG named .jpg decodes as PNG; RGBA becomes RGB', () => {
    const png = new PNG({ width: 2, height: 1 });
    png.data = Buffer.from([255, 0, 0, 128, 0, 255, 0, 255]);
    const bytes = PNG.sync.write(png);
    expect(sniffFormat(bytes)).toBe('png');
    const img = decodeImage(bytes, 'fake.jpg');
    expect(img).toMatchObject({ width: 2, height: 1, channels: 3 });
    expect(Array.from(img.data)).toEqual([255, 0, 0, 0, 255, 0]);
  });

  test('grayscale and CMYK JPEGs and RGBA PNGs become RGB (scripts/make_image_fixtures.py)', () => {
    const fixture = (name: string) => decodeImage(readFileSync(new URL(`./fixtures/images/${name}`, import.meta.url)), name);
    const pixel = (img: ReturnType<typeof decodeImage>, x: number) => Array.from(img.data.slice(x * 3, x * 3 + 3));
    const near = (got: number[], want: number[]) => got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(3));
    const gray = fixture('gray.jpg');
    expect(gray).toMatchObject({ width: 8, height: 6, channels: 3 });
    near(pixel(gray, 0), [40, 40, 40]);
    near(pixel(gray, 7), [200, 200, 200]);
    const cmyk = fixture('cmyk.jpg');
    expect(sniffFormat(readFileSync(new URL('./fixtures/images/cmyk.jpg', import.meta.url)))).toBe('jpeg');
    near(pixel(cmyk, 0), [255, 0, 0]);
    near(pixel(cmyk, 7), [0, 0, 255]);
    const rgba = fixture('rgba.png');
    expect(pixel(rgba, 0)).toEqual([0, 128, 0]);
  });

  test('truncated JPEG data is an error naming the file', () => {
    const jpg = readFileSync(join(root, 'images', `${names.test[0]}.jpg`));
    expect(sniffFormat(jpg)).toBe('jpeg');
    expect(() => decodeImage(jpg.subarray(0, 40), 'cut.jpg')).toThrow(ImageDecodeError);
    expect(() => decodeImage(jpg.subarray(0, 40), 'cut.jpg')).toThrow(/cut.jpg: corrupt JPEG data/);
    expect(() => decodeImage(new Uint8Array(0), 'empty.jpg')).toThrow(/empty.jpg: .*empty file/);
  });

  test.skipIf(!existsSync(join(SAMPLE, 'images', 'Abyssinian_34.jpg')))('the real dataset\'s GIF named .jpg decodes (shared sample)', () => {
    const bytes = readFileSync(join(SAMPLE, 'images', 'Abyssinian_34.jpg'));
    expect(sniffFormat(bytes)).toBe('gif');
    const img = decodeImage(bytes, 'Abyssinian_34.jpg');
    expect(img.channels).toBe(3);
    expect(img.width * img.height).toBeGreaterThan(1000);
    const trimap = decodeImage(readFileSync(join(SAMPLE, 'annotations', 'trimaps', 'Abyssinian_34.png')), 'Abyssinian_34.png', 1);
    expect([trimap.width, trimap.height]).toEqual([img.width, img.height]);
  });

  test.skipIf(!existsSync(join(SAMPLE, 'annotations', 'trainval.txt')))('every image of the shared sample\'s splits loads', async () => {
    const warnings: string[] = [];
    const valid = await loadSplit(new NodeFolder(SAMPLE), 'valid', 32, { warn: (w) => warnings.push(w) });
    expect(valid).toHaveLength(30);
    expect(warnings).toEqual([]);
    for (const s of valid) expect(s.mask.some((v) => v === 1)).toBe(true);
  });
});

describe('resizing', () => {
  test('bilinear keeps constants and averages neighbours; nearest only copies', () => {
    const flat = { width: 3, height: 2, channels: 3 as const, data: new Uint8Array(18).fill(77) };
    expect(Array.from(resizeBilinear(flat, 5, 4).data).every((v) => v === 77)).toBe(true);
    const ramp = { width: 2, height: 1, channels: 1 as const, data: Uint8Array.of(0, 200) };
    expect(Array.from(resizeBilinear(ramp, 4, 1).data)).toEqual([0, 50, 150, 200]);
    const labels = { width: 2, height: 2, channels: 1 as const, data: Uint8Array.of(0, 1, 1, 0) };
    expect(new Set(resizeNearest(labels, 7, 5).data)).toEqual(new Set([0, 1]));
    expect(Array.from(resizeNearest(labels, 4, 4).data)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0]);
  });
});

describe('decode-once cache', () => {
  test('the second load reads the cache; touching a source file invalidates it', async () => {
    const { loadSplitCached } = await import('../train/cache.js');
    const { decodeCacheDir } = await import('../train/node-folder.js');
    const { utimesSync, readdirSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'petseg-cache-'));
    const n = writeSyntheticDataset(dir, { trainval: 12, test: 0, size: 24, seed: 3 });
    rmSync(join(dir, 'annotations', 'trimaps', `${(await readSplit(dir, 'train'))[0]}.png`));
    const warnings: string[] = [];
    const data = new NodeFolder(dir);
    const cache = new NodeFolder(decodeCacheDir(dir));
    const first = await loadSplitCached(data, 'train', 16, cache, { warn: (w) => warnings.push(w) });
    expect(first.fromCache).toBe(false);
    const second = await loadSplitCached(data, 'train', 16, cache, { warn: (w) => warnings.push(w) });
    expect(second.fromCache).toBe(true);
    expect(second.cacheFile).toBe(first.cacheFile);
    expect(second.samples.map((s) => s.name)).toEqual(first.samples.map((s) => s.name));
    expect(second.samples.map((s) => Array.from(s.image))).toEqual(first.samples.map((s) => Array.from(s.image)));
    expect(second.samples.map((s) => Array.from(s.mask))).toEqual(first.samples.map((s) => Array.from(s.mask)));
    expect(warnings).toHaveLength(2); // the skipped sample is reported on every load
    expect((await loadSplitCached(data, 'train', 20, cache)).fromCache).toBe(false); // another size, another file
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'images', `${n.trainval[5]}.jpg`), later, later);
    const third = await loadSplitCached(data, 'train', 16, cache, { warn: () => {} });
    expect(third.fromCache).toBe(false);
    expect(third.cacheFile).not.toBe(first.cacheFile);
    // The default cache is the user's, keyed by the dataset, not a folder inside the dataset.
    expect(first.cacheFile.startsWith(decodeCacheDir(dir))).toBe(true);
    expect(readdirSync(dir)).not.toContain('.petseg-cache');
    expect(readdirSync(decodeCacheDir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
