/**
 * The image decoders against hostile and large inputs (issue 32, defects 6–10), every input crafted
 * here; the PNG codec against pngjs (a devDependency) over every colour type, bit depth and
 * interlacing; GIF frames and LZW; JPEG scan, work and memory limits. Time bounds are loose (2 s
 * for what takes milliseconds). Memory is read from this process's peak RSS, so the tests that
 * decode 50-megapixel JPEGs come last. Longer than most test files because it carries its own
 * small PNG, GIF and JPEG writers: no image is committed, every one is built here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, test, vi } from 'vitest';
import { ImageDecodeError, JPEG_MAX_SCANS, decodeImage, encodePng } from '../train/images.js';
import { planJpeg } from '../train/jpeg.js';

const SAMPLE = new URL('../../shared/data/oxford-pet-sample/', import.meta.url).pathname;

/** A deterministic byte stream (an LCG), for pixels. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

/** `decode` must throw an ImageDecodeError: its message (one line), seconds taken and peak-RSS growth in MB. */
function refusal(decode: () => unknown): { message: string; seconds: number; peakGrowthMb: number } {
  const peak = peakRssMb();
  const started = performance.now();
  let error: unknown;
  try {
    decode();
  } catch (err) {
    error = err;
  }
  const seconds = (performance.now() - started) / 1000;
  expect(error).toBeInstanceOf(ImageDecodeError);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return { message, seconds, peakGrowthMb: peakRssMb() - peak };
}

function withPixelLimit<T>(pixels: number | string, run: () => T): T {
  process.env.PETSEG_MAX_IMAGE_PIXELS = String(pixels);
  try {
    return run();
  } finally {
    delete process.env.PETSEG_MAX_IMAGE_PIXELS;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) out.set(p, offset), (offset += p.length);
  return out;
}

// ---- PNG, written the long way ----

const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
const SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

interface PngLayout {
  width: number;
  height: number;
  colorType: number;
  depth: number;
  interlaced: boolean;
}

function pngFile(h: PngLayout, idat: Uint8Array[], before: Uint8Array[] = []): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, h.width);
  new DataView(ihdr.buffer).setUint32(4, h.height);
  ihdr.set([h.depth, h.colorType, 0, 0, h.interlaced ? 1 : 0], 8);
  const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  return concat([signature, pngChunk('IHDR', ihdr), ...before, ...idat.map((d) => pngChunk('IDAT', d)), pngChunk('IEND', new Uint8Array(0))]);
}

function predictor(filter: number, a: number, b: number, c: number): number {
  if (filter === 0) return 0;
  if (filter === 1) return a;
  if (filter === 2) return b;
  if (filter === 3) return (a + b) >> 1;
  const [pa, pb, pc] = [Math.abs(b - c), Math.abs(a - c), Math.abs(a + b - 2 * c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The uncompressed image data: rows packed at `depth`, pass by pass, filtered with filter (row number % 5). */
function pngScanlines(h: PngLayout, samples: ArrayLike<number>): Uint8Array {
  const spp = SAMPLES_PER_PIXEL[h.colorType];
  const bpp = Math.max(1, (spp * h.depth) >> 3);
  const out: number[] = [];
  let rowNumber = 0;
  for (const [x0, y0, dx, dy] of h.interlaced ? ADAM7 : [[0, 0, 1, 1]]) {
    let prior: number[] = [];
    for (let y = y0; y < h.height; y += dy) {
      const raw: number[] = [];
      let bits = 0;
      let filled = 0;
      for (let x = x0; x < h.width; x += dx) {
        for (let s = 0; s < spp; s++) {
          const v = samples[(y * h.width + x) * spp + s];
          if (h.depth === 16) raw.push(v >> 8, v & 255);
          else if (h.depth === 8) raw.push(v);
          else if (((bits = (bits << h.depth) | v), (filled += h.depth)) === 8) raw.push(bits), (bits = 0), (filled = 0);
        }
      }
      if (filled) raw.push(bits << (8 - filled));
      if (raw.length === 0) break; // an empty pass
      const filter = rowNumber++ % 5;
      out.push(filter);
      raw.forEach((v, i) => out.push((v - predictor(filter, i >= bpp ? raw[i - bpp] : 0, prior[i] ?? 0, i >= bpp ? (prior[i - bpp] ?? 0) : 0)) & 255));
      prior = raw;
    }
  }
  return Uint8Array.from(out);
}

/** pngjs's decoding of a file, as RGB (alpha dropped). */
function pngjsRgb(bytes: Uint8Array): Uint8Array {
  const image = PNG.sync.read(Buffer.from(bytes));
  return Uint8Array.from({ length: image.width * image.height * 3 }, (_, i) => image.data[Math.floor(i / 3) * 4 + (i % 3)]);
}

/** A zlib stream that inflates to `size`+ zero bytes: one byte-aligned fixed-Huffman block repeated. */
function zeroBomb(size: number): Uint8Array {
  // Block: BFINAL 0, BTYPE 01; literal 0; 1006 × (length 258, distance 1); end of block = 1637 bytes exactly.
  const bits: number[] = [0, 1, 0];
  const code = (value: number, length: number) => {
    for (let i = length - 1; i >= 0; i--) bits.push((value >> i) & 1); // Huffman codes go most significant bit first
  };
  code(0x30, 8);
  for (let i = 0; i < 1006; i++) code(0xc5, 8), code(0, 5);
  code(0, 7);
  const block = new Uint8Array(bits.length / 8);
  bits.forEach((b, i) => (block[i >> 3] |= b << (i & 7)));
  const count = Math.ceil(size / (1 + 1006 * 258));
  const stream = new Uint8Array(2 + block.length * count + 2 + 4);
  stream.set([0x78, 0x01]);
  for (let i = 0; i < count; i++) stream.set(block, 2 + i * block.length);
  stream[2 + block.length * count] = 0x03; // a final fixed block holding only its end
  return stream;
}

describe('PNG (train/png.ts)', () => {
  test('every colour type, bit depth and interlacing, with all five filters, decodes as pngjs decodes it', () => {
    const next = lcg(7);
    for (const [colorType, depths] of [[0, [1, 2, 4, 8, 16]], [2, [8, 16]], [3, [1, 2, 4, 8]], [4, [8, 16]], [6, [8, 16]]] as const) {
      for (const depth of depths) {
        for (const interlaced of [false, true]) {
          for (const [width, height] of [[1, 1], [13, 11], [3, 17]]) {
            const h = { width, height, colorType, depth, interlaced };
            const entries = colorType === 3 ? Math.max(1, Math.min(1 << depth, 256) - 1) : 0; // a palette shorter than the index range
            const values = colorType === 3 ? entries : 1 << depth;
            const samples = Array.from({ length: width * height * SAMPLES_PER_PIXEL[colorType] }, () => ((next() << 8) | next()) % values);
            const palette = colorType === 3 ? [pngChunk('PLTE', Uint8Array.from({ length: entries * 3 }, next))] : [];
            const data = deflateSync(pngScanlines(h, samples));
            const cut = data.length >> 1; // two IDAT chunks
            const bytes = pngFile(h, [data.subarray(0, cut), data.subarray(cut)], palette);
            const name = `t${colorType}-d${depth}${interlaced ? '-i' : ''}-${width}x${height}.png`;
            const want = pngjsRgb(bytes);
            expect(decodeImage(bytes, name), name).toEqual({ width, height, channels: 3, data: want });
            expect(decodeImage(bytes, name, 1).data, name).toEqual(want.filter((_, i) => i % 3 === 0));
          }
        }
      }
    }
  });

  test('PNGs written by pngjs (its filters and zlib) decode to the same pixels', () => {
    const next = lcg(3);
    for (const colorType of [0, 2, 4, 6] as const) {
      const png = new PNG({ width: 29, height: 19, colorType, inputColorType: 6, inputHasAlpha: true });
      png.data = Buffer.from(Array.from({ length: 29 * 19 * 4 }, (_, i) => (i % 4 === 3 ? 255 : next())));
      const bytes = PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true });
      expect(decodeImage(bytes, 'pngjs.png').data).toEqual(pngjsRgb(bytes));
    }
  });

  test('encodePng round-trips grey and RGB images through our decoder and through pngjs', () => {
    const next = lcg(11);
    for (const [width, height, channels] of [[1, 1, 1], [1, 1, 3], [17, 5, 3], [64, 33, 1], [40, 40, 3]] as const) {
      // Half noise, half smooth ramps, so that rows choose different filters.
      const data = Uint8Array.from({ length: width * height * channels }, (_, i) => (i % 7 < 3 ? next() : (i * 5) & 255));
      const image = { width, height, channels, data };
      const bytes = encodePng(image);
      expect(decodeImage(bytes, 'round.png', channels)).toEqual(image);
      const rgb = channels === 3 ? data : Uint8Array.from({ length: width * height * 3 }, (_, i) => data[Math.floor(i / 3)]);
      expect(pngjsRgb(bytes)).toEqual(rgb);
    }
  });

  test('damaged PNGs fail with one line naming the file: CRC, unknown critical chunk, palette index, filter type, too little data', () => {
    const h = { width: 2, height: 2, colorType: 0, depth: 8, interlaced: false };
    const good = pngFile(h, [deflateSync(Uint8Array.of(0, 1, 2, 0, 3, 4))]);
    expect(decodeImage(good, 'good.png', 1).data).toEqual(Uint8Array.of(1, 2, 3, 4));
    const flipped = good.slice();
    flipped[good.length - 20] ^= 1; // inside IDAT
    expect(refusal(() => decodeImage(flipped, 'crc.png')).message).toMatch(/^crc\.png: corrupt PNG data \(CRC mismatch in the IDAT chunk at byte \d+\)$/);
    const critical = pngFile(h, [deflateSync(Uint8Array.of(0, 1, 2, 0, 3, 4))], [pngChunk('ABCD', new Uint8Array(3))]);
    expect(refusal(() => decodeImage(critical, 'crit.png')).message).toBe('crit.png: corrupt PNG data (unknown critical chunk ABCD)');
    const ancillary = pngFile(h, [deflateSync(Uint8Array.of(0, 1, 2, 0, 3, 4))], [pngChunk('abCD', new Uint8Array(3))]);
    expect(decodeImage(ancillary, 'anc.png', 1).data).toEqual(Uint8Array.of(1, 2, 3, 4));
    const indexed = pngFile({ ...h, colorType: 3 }, [deflateSync(Uint8Array.of(0, 0, 1, 0, 1, 2))], [pngChunk('PLTE', new Uint8Array(6))]);
    expect(refusal(() => decodeImage(indexed, 'pal.png')).message).toBe('pal.png: corrupt PNG data (palette index 2 but the palette has 2 entries)');
    const filter = pngFile(h, [deflateSync(Uint8Array.of(5, 1, 2, 0, 3, 4))]);
    expect(refusal(() => decodeImage(filter, 'filter.png')).message).toBe('filter.png: corrupt PNG data (unknown filter type 5)');
    const short = pngFile(h, [deflateSync(Uint8Array.of(0, 1, 2, 0, 3))]);
    expect(refusal(() => decodeImage(short, 'short.png')).message).toBe('short.png: corrupt PNG data (the image data ends after 5 of the 6 bytes its 2×2 header implies)');
    const long = pngFile(h, [deflateSync(Uint8Array.of(0, 1, 2, 0, 3, 4, 0))]);
    expect(refusal(() => decodeImage(long, 'long.png')).message).toBe('long.png: corrupt PNG data (the image data inflates to more than the 6 bytes its 2×2 header implies)');
  });

  test('defect 6: a 1×1 PNG whose IDAT inflates to 256 MB of zeros is refused at once, interlaced or not, without allocating', () => {
    const bomb = zeroBomb(256 * 2 ** 20);
    expect(bomb.length).toBeLessThan(2 * 2 ** 20);
    for (const interlaced of [true, false]) {
      const bytes = pngFile({ width: 1, height: 1, colorType: 2, depth: 8, interlaced }, [bomb]);
      const r = refusal(() => decodeImage(bytes, 'bomb.png'));
      expect(r.message).toBe('bomb.png: corrupt PNG data (the image data inflates to more than the 4 bytes its 1×1 header implies)');
      expect(r.seconds).toBeLessThan(2);
      expect(r.peakGrowthMb).toBeLessThan(64);
    }
    // Declared large enough to hold it all, the same stream is refused for being short of data: still bounded by the header.
    const wide = pngFile({ width: 4096, height: 4096, colorType: 2, depth: 8, interlaced: true }, [zeroBomb(4 * 2 ** 20)]);
    expect(refusal(() => decodeImage(wide, 'wide.png')).message).toMatch(/^wide\.png: corrupt PNG data \(the image data ends after \d+ of the 50339328 bytes its 4096×4096 header implies\)$/);
  });
});

// ---- GIF ----

/** LZW-encode palette indices (variable code width, a clear code when the table is full), as sub-blocks. */
function lzwEncode(indices: ArrayLike<number>, minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const bytes: number[] = [];
  let acc = 0;
  let filled = 0;
  let width = minCodeSize + 1;
  let next = clear + 2;
  const table = new Map<number, number>();
  const put = (code: number) => {
    acc |= code << filled;
    for (filled += width; filled >= 8; filled -= 8) bytes.push(acc & 255), (acc >>>= 8);
  };
  put(clear);
  let prefix = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const key = prefix * 256 + indices[i];
    const known = table.get(key);
    if (known !== undefined) {
      prefix = known;
      continue;
    }
    put(prefix);
    if (next < 4096) {
      table.set(key, next++);
      if (next > 1 << width && width < 12) width++; // the decoder, one code behind, widens here too
    } else {
      put(clear);
      table.clear();
      (width = minCodeSize + 1), (next = clear + 2);
    }
    prefix = indices[i];
  }
  put(prefix);
  put(clear + 1);
  if (filled) bytes.push(acc & 255);
  const blocks: number[] = [minCodeSize];
  for (let i = 0; i < bytes.length; i += 255) blocks.push(Math.min(255, bytes.length - i), ...bytes.slice(i, i + 255));
  return Uint8Array.from([...blocks, 0]);
}

interface GifFrameSpec {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Code size, then LZW sub-blocks and the 0 terminator. */
  data: Uint8Array;
  palette?: number[];
  transparent?: number;
  interlaced?: boolean;
}

const le16 = (v: number) => [v & 255, v >> 8];

function gifFile(width: number, height: number, palette: number[], frames: GifFrameSpec[]): Uint8Array {
  const tableFlags = (p: number[]) => 0x80 | (Math.log2(p.length / 3) - 1);
  const parts: Uint8Array[] = [Uint8Array.from([...'GIF89a'].map((c) => c.charCodeAt(0))), Uint8Array.from([...le16(width), ...le16(height), tableFlags(palette), 0, 0, ...palette])];
  for (const f of frames) {
    if (f.transparent !== undefined) parts.push(Uint8Array.of(0x21, 0xf9, 4, 1, 0, 0, f.transparent, 0));
    const flags = (f.palette ? tableFlags(f.palette) : 0) | (f.interlaced ? 0x40 : 0);
    parts.push(Uint8Array.from([0x2c, ...le16(f.x), ...le16(f.y), ...le16(f.width), ...le16(f.height), flags, ...(f.palette ?? [])]), f.data);
  }
  parts.push(Uint8Array.of(0x3b));
  return concat(parts);
}

/** Expected RGB of a frame drawn on a black screen (`indices` in display order). */
function drawn(width: number, height: number, palette: number[], f: GifFrameSpec, indices: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < f.height; y++) {
    for (let x = 0; x < f.width; x++) {
      const entry = indices[y * f.width + x];
      if (entry !== f.transparent) out.set(palette.slice(entry * 3, entry * 3 + 3), ((f.y + y) * width + f.x + x) * 3);
    }
  }
  return out;
}

describe('GIF (train/gif.ts)', () => {
  const palette = Array.from({ length: 256 * 3 }, (_, i) => (i * 37 + 11) & 255);

  test('frames decode: LZW with a full table and long runs, a local palette, transparency, an offset and interlacing', () => {
    const next = lcg(5);
    const noisy = Array.from({ length: 300 * 200 }, () => next());
    const runs = Array.from({ length: 300 * 200 }, (_, i) => Math.floor(i / 997) % 4);
    for (const indices of [noisy, runs]) {
      const frame = { x: 0, y: 0, width: 300, height: 200, data: lzwEncode(indices, 8) };
      const bytes = gifFile(300, 200, palette, [frame]);
      expect(decodeImage(bytes, 'lzw.gif').data).toEqual(drawn(300, 200, palette, frame, indices));
    }
    // A 5×9 frame at (2, 1) on an 8×12 screen, its own 4-colour palette, index 3 transparent, rows stored interlaced.
    const local = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9];
    const indices = Array.from({ length: 45 }, (_, i) => (i * 7) % 4);
    const stored = [0, 8, 4, 2, 6, 1, 3, 5, 7].flatMap((y) => indices.slice(y * 5, y * 5 + 5));
    const frame = { x: 2, y: 1, width: 5, height: 9, data: lzwEncode(stored, 2), palette: local, transparent: 3, interlaced: true };
    const bytes = gifFile(8, 12, palette.slice(0, 6), [frame, { x: 0, y: 0, width: 8, height: 12, data: lzwEncode(new Array(96).fill(1), 2) }]);
    expect(decodeImage(bytes, 'frame.gif').data).toEqual(drawn(8, 12, local, frame, indices));
    expect(decodeImage(bytes, 'frame.gif', 1).data).toEqual(drawn(8, 12, local, frame, indices).filter((_, i) => i % 3 === 0));
  });

  test('defect 7: a 35-byte GIF with a 1×1 screen and a 65535×65535 frame is refused before decoding; so is any later frame outside the screen', () => {
    const huge = gifFile(1, 1, [0, 0, 0, 255, 255, 255], [{ x: 0, y: 0, width: 65535, height: 65535, data: Uint8Array.of(2, 2, 0x4c, 0x01, 0) }]);
    expect(huge.length).toBe(35);
    const r = refusal(() => decodeImage(huge, 'huge.gif'));
    expect(r.message).toBe("huge.gif: frame 1 of 1 is 65535×65535 at (0, 0), outside the GIF's 1×1 screen; refused before decoding");
    expect(r.seconds).toBeLessThan(2);
    expect(r.peakGrowthMb).toBeLessThan(64);
    const small = { x: 0, y: 0, width: 2, height: 2, data: lzwEncode([0, 1, 1, 0], 2) };
    const later = gifFile(2, 2, [0, 0, 0, 255, 255, 255], [small, small, { ...small, x: 1 }]);
    expect(refusal(() => decodeImage(later, 'later.gif')).message).toBe("later.gif: frame 3 of 3 is 2×2 at (1, 0), outside the GIF's 2×2 screen; refused before decoding");
  });

  test('defect 10: a GIF stream shorter than its frame decodes silently (nothing on stdout), the rest at palette entry 0', () => {
    const frame = { x: 0, y: 0, width: 6, height: 4, data: lzwEncode([1, 2, 3, 1, 2, 3, 1, 2], 2) }; // 8 of 24 pixels
    const bytes = gifFile(6, 4, palette.slice(0, 12), [frame]);
    const log = vi.spyOn(console, 'log');
    const warn = vi.spyOn(console, 'warn');
    const write = vi.spyOn(process.stdout, 'write');
    try {
      const image = decodeImage(bytes, 'short.gif');
      expect(image.data).toEqual(drawn(6, 4, palette, frame, [1, 2, 3, 1, 2, 3, 1, 2, ...new Array(16).fill(0)]));
      expect(log).not.toHaveBeenCalled();
      expect(warn).not.toHaveBeenCalled();
      expect(write).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      warn.mockRestore();
      write.mockRestore();
    }
  });

  test.skipIf(!existsSync(join(SAMPLE, 'images/Abyssinian_34.jpg')))("the real dataset's GIF decodes to omggif's pixels (shared sample)", () => {
    const image = decodeImage(readFileSync(join(SAMPLE, 'images/Abyssinian_34.jpg')), 'Abyssinian_34.jpg');
    expect([image.width, image.height]).toEqual([250, 202]);
    let fnv = 0x811c9dc5;
    for (const v of image.data) fnv = Math.imul(fnv ^ v, 16777619) >>> 0;
    expect(fnv.toString(16)).toBe('1a8a7738'); // omggif 1.0.10's decoding, before it was replaced
  });
});

// ---- JPEG ----

/** Entropy-coded bits, most significant first, with 0 stuffed after every FF byte. */
function entropyBits(codes: [number, number][]): number[] {
  const out: number[] = [];
  let acc = 0;
  let filled = 0;
  const put = (value: number, length: number) => {
    for (let i = length - 1; i >= 0; i--) {
      acc = (acc << 1) | ((value >> i) & 1);
      if (++filled === 8) out.push(acc, ...(acc === 0xff ? [0] : [])), (acc = 0), (filled = 0);
    }
  };
  for (const [value, length] of codes) put(value, length);
  if (filled) put(0xff, 8 - filled); // pad with 1 bits
  return out;
}

const segment = (marker: number, body: number[]) => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body];

/**
 * A JPEG whose every block is flat grey (every code is 1 bit: DC difference 0, then end of block),
 * so that its size is tiny whatever its dimensions. Progressive: a DC scan, then `acScans` scans of
 * component 1's AC coefficients, each all end-of-band runs of 32767 blocks.
 */
function flatJpeg(width: number, height: number, sampling: [number, number][], options: { progressive?: boolean; acScans?: number; extra?: number[] } = {}): Uint8Array {
  const { progressive = false, acScans = 0, extra = [] } = options;
  const head = [0xff, 0xd8, ...extra, ...segment(0xdb, [0, ...new Array(64).fill(1)])];
  head.push(...segment(progressive ? 0xc2 : 0xc0, [8, height >> 8, height & 255, width >> 8, width & 255, sampling.length, ...sampling.flatMap(([h, v], i) => [i + 1, (h << 4) | v, 0])]));
  head.push(...segment(0xc4, [0x00, 1, ...new Array(15).fill(0), 0])); // DC: code 0 → difference 0
  head.push(...segment(0xc4, [0x10, 1, ...new Array(15).fill(0), progressive ? 0xe0 : 0x00])); // AC: code 0 → end of block (of band: a run)
  const maxH = Math.max(...sampling.map(([h]) => h));
  const maxV = Math.max(...sampling.map(([, v]) => v));
  const blocks = Math.ceil(width / 8 / maxH) * Math.ceil(height / 8 / maxV) * sampling.reduce((sum, [h, v]) => sum + h * v, 0);
  const sos = (components: number[], start: number, end: number) => segment(0xda, [components.length, ...components.flatMap((c) => [c, 0]), start, end, 0]);
  const parts = [Uint8Array.from([...head, ...sos(sampling.map((_, i) => i + 1), 0, progressive ? 0 : 63)]), new Uint8Array(Math.ceil((blocks * (progressive ? 1 : 2)) / 8))];
  if (acScans > 0) {
    const lumaBlocks = Math.ceil((Math.ceil(width / 8) * sampling[0][0]) / maxH) * Math.ceil((Math.ceil(height / 8) * sampling[0][1]) / maxV);
    const runs = Array.from({ length: Math.ceil(lumaBlocks / 32767) }, () => [[0, 1], [16383, 14]] as [number, number][]).flat();
    const scan = Uint8Array.from([...sos([1], 1, 63), ...entropyBits(runs)]);
    const all = new Uint8Array(scan.length * acScans);
    for (let i = 0; i < acScans; i++) all.set(scan, i * scan.length);
    parts.push(all);
  }
  parts.push(Uint8Array.of(0xff, 0xd9));
  return concat(parts);
}

const allGrey = (data: Uint8Array) => data.every((v) => v === 128);

describe('JPEG (train/jpeg.ts)', () => {
  test('a progressive JPEG with 10 scans, metadata holding stray FF DA bytes and a Pixel-style 00 E1 segment decodes', () => {
    const progressive = flatJpeg(64, 48, [[2, 2], [1, 1], [1, 1]], { progressive: true, acScans: 9 });
    expect(planJpeg(progressive).scans).toBe(10);
    const image = decodeImage(progressive, 'progressive.jpg');
    expect([image.width, image.height]).toEqual([64, 48]);
    expect(allGrey(image.data)).toBe(true);
    // A comment full of FF DA and an APP1 marked 00 E1: dropped before jpeg-js, never counted as scans.
    const comment = segment(0xfe, new Array(2000).fill([0xff, 0xda]).flat());
    const pixel = [0x00, 0xe1, 0, 6, 0xff, 0xda, 0xff, 0xda];
    const noisy = flatJpeg(16, 16, [[1, 1]], { extra: [...comment, ...pixel] });
    expect(planJpeg(noisy).scans).toBe(1);
    expect(allGrey(decodeImage(noisy, 'noisy.jpg').data)).toBe(true);
    // FF DA inside a quantization table cannot be dropped: counted as a possible scan.
    const table = flatJpeg(16, 16, [[1, 1]], { extra: segment(0xdb, [0x11, ...new Array(64).fill([0xff, 0xda]).flat()]) }); // 16-bit table 1, unused
    expect(planJpeg(table).scans).toBe(1 + 64);
    expect(allGrey(decodeImage(table, 'table.jpg').data)).toBe(true);
  });

  test('defect 8: 10,000 empty progressive scans are refused in well under a second, naming the count and the limit', () => {
    const hostile = flatJpeg(4096, 4096, [[1, 1]], { progressive: true, acScans: 10_000 });
    expect(hostile.length).toBeLessThan(600_000);
    const r = refusal(() => decodeImage(hostile, 'scans.jpg'));
    expect(r.message).toBe(`scans.jpg: 10001 scans is more than the limit of ${JPEG_MAX_SCANS} per JPEG (real progressive JPEGs have about 10)`);
    expect(r.seconds).toBeLessThan(1);
    // Under the scan limit, the work limit (one block decode per pixel of the pixel limit) still holds.
    const many = flatJpeg(4096, 4096, [[1, 1]], { progressive: true, acScans: 90 });
    const work = withPixelLimit(4096 * 4096, () => refusal(() => decodeImage(many, 'work.jpg')));
    expect(work.message).toBe('work.jpg: its 91 scans decode 23855104 blocks, more than the limit of 16777216 (one per pixel of the 16777216-pixel limit); if the image is genuine, raise it with PETSEG_MAX_IMAGE_PIXELS');
    expect(work.seconds).toBeLessThan(1);
    expect(allGrey(decodeImage(many, 'work.jpg').data)).toBe(true);
  });

  test.skipIf(!existsSync(join(SAMPLE, 'images')))('the real photos of the shared sample are within the limits; the progressive ones decode', () => {
    const dir = join(SAMPLE, 'images');
    let progressive = 0;
    for (const name of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, name));
      if (bytes[0] !== 0xff) continue; // the GIF
      const plan = planJpeg(bytes);
      expect(plan.scans, name).toBeLessThanOrEqual(14);
      expect(plan.blockDecodes, name).toBeLessThan(plan.width * plan.height);
      if (plan.scans > 1) progressive++, expect(decodeImage(bytes, name).width).toBe(plan.width);
    }
    expect(progressive).toBeGreaterThan(5);
  });

  test('a JPEG whose sampling makes jpeg-js allocate far more than its pixels is refused by the memory limit, which PETSEG_MAX_IMAGE_PIXELS raises', () => {
    // 1 × 65535 pixels in four components all sampled 4×4: jpeg-js allocates whole 32×32 MCUs, 500 bytes a pixel.
    const adobe = segment(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 0]); // CMYK
    const tall = flatJpeg(1, 65535, [[4, 4], [4, 4], [4, 4], [4, 4]], { extra: adobe });
    const r = withPixelLimit(65535, () => refusal(() => decodeImage(tall, 'tall.jpg')));
    expect(r.message).toBe('tall.jpg: decoding this 1×65535 JPEG takes about 35 MB, more than the 18 MB allowed with the limit of 65535 pixels; if the image is genuine, raise it with PETSEG_MAX_IMAGE_PIXELS');
    expect(r.seconds).toBeLessThan(1);
    const image = withPixelLimit(1_000_000, () => decodeImage(tall, 'tall.jpg'));
    expect([image.width, image.height]).toEqual([1, 65535]);
    expect(image.data.every((v, i) => v === image.data[i % 3])).toBe(true);
  });
});

describe('large JPEGs (last: they raise the peak RSS that the tests above measure)', () => {
  test('defect 9: an 8160×6120 (50 MP) colour JPEG, every component at full resolution, decodes in under 3 GB; a lower limit refuses it in one line', () => {
    const photo = flatJpeg(8160, 6120, [[1, 1], [1, 1], [1, 1]]);
    const image = decodeImage(photo, 'photo.jpg');
    expect([image.width, image.height, image.channels]).toEqual([8160, 6120, 3]);
    expect(allGrey(image.data)).toBe(true);
    expect(peakRssMb()).toBeLessThan(3 * 1024);
    const lower = withPixelLimit(40_000_000, () => refusal(() => decodeImage(photo, 'photo.jpg')));
    expect(lower.message).toBe('photo.jpg: 8160×6120 pixels is more than the limit of 40000000 (40.0 megapixels); if the image is genuine, raise it with PETSEG_MAX_IMAGE_PIXELS');
  });

  test("PETSEG_MAX_IMAGE_PIXELS raises the limit, jpeg-js's own included: a 10240×10240 (105 MP) JPEG is refused by default and decodes with 1.1e8", () => {
    const big = flatJpeg(10240, 10240, [[1, 1]]);
    expect(refusal(() => decodeImage(big, 'big.jpg')).message).toBe(
      'big.jpg: 10240×10240 pixels is more than the limit of 67108864 (67.1 megapixels); if the image is genuine, raise it with PETSEG_MAX_IMAGE_PIXELS',
    );
    const image = withPixelLimit('1.1e8', () => decodeImage(big, 'big.jpg'));
    expect([image.width, image.height]).toEqual([10240, 10240]);
    expect(allGrey(image.data)).toBe(true);
  });
});
