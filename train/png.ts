/**
 * PNG decoding and encoding of petseg's own, on fflate's zlib (pure JavaScript: Node and browsers).
 *
 * The decoder reads every standard PNG: bit depths 1, 2, 4, 8 and 16; grey, RGB, palette, grey +
 * alpha and RGBA; Adam7 interlacing; the five filters. Every chunk's CRC is checked, unknown
 * ancillary chunks are skipped and unknown critical ones refused. It returns 8-bit RGB, or its first
 * channel: alpha is dropped, grey and palette entries are expanded, and samples are scaled to 8 bits
 * by round(v · 255 / (2^depth − 1)), as pngjs does.
 *
 * What must hold: the inflated data is exactly as long as the header implies (filter bytes and
 * packed rows of every Adam7 pass: `Scanlines.expected`). Inflating stops with an error as soon
 * as the stream would produce one byte more, and fewer bytes are an error too; the data is inflated
 * in slices sized from what is still expected, so that nothing is allocated beyond the output image
 * but a few MiB of inflater buffers, whatever the stream holds. The caller bounds width × height
 * before calling `decodePng`.
 *
 * The encoder writes 8-bit grey or RGB, not interlaced, each row with the filter whose output has
 * the smallest sum of absolute values (the usual heuristic for small files).
 */
import { Unzlib, zlibSync } from 'fflate';
import type { RasterImage } from './pixels.js';
import { reflectedCrc32 } from './crc.js';
import { concatBytes } from './storage.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Samples per pixel by colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Bit depths the standard allows per colour type. */
const DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7 passes: first column, first row, column step, row step. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;
/**
 * Compressed bytes pushed to the inflater at a time: what cannot inflate to more than the rest of the
 * image (a deflate byte inflates to at most 1032 bytes), within 4 KiB (≤ 4 MiB out) and 64 KiB.
 */
const MAX_EXPANSION = 1032;
const MIN_SLICE = 4096;
const MAX_SLICE = 65536;

interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

/** One pass of the image (the whole image when not interlaced): its pixels and packed row length. */
interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
  rowBytes: number;
}

function passes(h: PngHeader): Pass[] {
  const bitsPerPixel = SAMPLES[h.colorType] * h.bitDepth;
  const layout = h.interlaced ? ADAM7 : ([[0, 0, 1, 1]] as const);
  return layout
    .map(([x0, y0, dx, dy]) => {
      const width = Math.ceil((h.width - x0) / dx);
      return { x0, y0, dx, dy, width, height: Math.ceil((h.height - y0) / dy), rowBytes: Math.ceil((width * bitsPerPixel) / 8) };
    })
    .filter((p) => p.width > 0 && p.height > 0);
}

const crc32 = reflectedCrc32(0xedb88320);

interface PngChunks {
  header: PngHeader;
  palette: Uint8Array | null;
  /** The concatenated IDAT data: the zlib stream. */
  compressed: Uint8Array;
}

function readChunks(bytes: Uint8Array): PngChunks {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) throw new Error('no PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: PngHeader | null = null;
  let palette: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  for (let at = 8; at < bytes.length; ) {
    if (at + 12 > bytes.length) throw new Error(`the file ends inside a chunk header at byte ${at}`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (length > 0x7fffffff || at + 12 + length > bytes.length) throw new Error(`the ${type} chunk at byte ${at} runs past the end of the file`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) throw new Error(`CRC mismatch in the ${type} chunk at byte ${at}`);
    const ancillary = (bytes[at + 4] & 0x20) !== 0; // bit 5 of the type's first letter
    at += 12 + length;
    if (!header && type !== 'IHDR') throw new Error(`the first chunk is ${type}, not IHDR`);
    if (type === 'IHDR') header = readHeader(data);
    else if (type === 'PLTE') {
      if (length % 3 !== 0 || length === 0 || length > 768) throw new Error(`a PLTE chunk of ${length} bytes`);
      palette = data;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    else if (!ancillary) throw new Error(`unknown critical chunk ${type}`);
  }
  if (!header) throw new Error('no IHDR chunk');
  if (header.colorType === 3 && !palette) throw new Error('a palette image without a PLTE chunk');
  if (idat.length === 0) throw new Error('no IDAT chunk');
  // One buffer, so that many tiny IDAT chunks do not become as many inflate calls.
  const compressed = idat.length > 1 ? concatBytes(idat) : idat[0];
  return { header, palette, compressed };
}

function readHeader(data: Uint8Array): PngHeader {
  if (data.length !== 13) throw new Error(`an IHDR chunk of ${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, 13);
  const h = { width: view.getUint32(0), height: view.getUint32(4), bitDepth: data[8], colorType: data[9], interlaced: data[12] === 1 };
  if (h.width === 0 || h.height === 0 || h.width > 0x7fffffff || h.height > 0x7fffffff) throw new Error(`${h.width}×${h.height} pixels`);
  if (!DEPTHS[h.colorType]?.includes(h.bitDepth)) throw new Error(`colour type ${h.colorType} with bit depth ${h.bitDepth}`);
  if (data[10] !== 0 || data[11] !== 0 || data[12] > 1) throw new Error(`compression ${data[10]}, filter method ${data[11]}, interlace ${data[12]}`);
  return h;
}

/** Undo the row's filter in place; `line` and `prior` hold the filter byte at 0, `prior` unfiltered. */
function unfilter(line: Uint8Array, prior: Uint8Array, end: number, bpp: number): void {
  const type = line[0];
  if (type === 1) for (let i = 1 + bpp; i < end; i++) line[i] += line[i - bpp];
  else if (type === 2) for (let i = 1; i < end; i++) line[i] += prior[i];
  else if (type === 3) {
    for (let i = 1; i < end; i++) line[i] += ((i > bpp ? line[i - bpp] : 0) + prior[i]) >> 1;
  } else if (type === 4) {
    for (let i = 1; i < end; i++) line[i] += paeth(i > bpp ? line[i - bpp] : 0, prior[i], i > bpp ? prior[i - bpp] : 0);
  } else if (type !== 0) throw new Error(`unknown filter type ${type}`);
}

/** Sample `k` of an unfiltered row (after its filter byte), unscaled. */
function sample(line: Uint8Array, k: number, depth: number): number {
  if (depth === 8) return line[1 + k];
  if (depth === 16) return (line[1 + 2 * k] << 8) | line[2 + 2 * k];
  const bit = k * depth;
  return (line[1 + (bit >> 3)] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

/** A sample scaled to 8 bits: round(v · 255 / (2^depth − 1)), exact in integers. */
function to8(v: number, depth: number): number {
  if (depth === 8) return v;
  if (depth === 16) return ((v * 255 + 32767) / 65535) | 0;
  return (v * 255) / ((1 << depth) - 1);
}

/**
 * Takes the inflated bytes as they come, unfilters each complete row and writes its pixels into
 * `out`. Throws as soon as more bytes arrive than the header implies.
 */
class Scanlines {
  private readonly passes: Pass[];
  private readonly bpp: number;
  private line: Uint8Array;
  private prior: Uint8Array;
  private pass = 0;
  private row = 0;
  private filled = 0;
  received = 0;
  /** Bytes the inflated image data must have: per pass, each row's filter byte and packed samples. */
  readonly expected: number;

  constructor(
    private readonly h: PngHeader,
    private readonly palette: Uint8Array | null,
    private readonly out: Uint8Array,
    private readonly channels: 1 | 3,
  ) {
    this.passes = passes(h);
    this.expected = this.passes.reduce((sum, p) => sum + p.height * (1 + p.rowBytes), 0);
    this.bpp = Math.max(1, (SAMPLES[h.colorType] * h.bitDepth) >> 3);
    const longest = Math.max(...this.passes.map((p) => p.rowBytes)) + 1;
    this.line = new Uint8Array(longest);
    this.prior = new Uint8Array(longest);
  }

  get complete(): boolean {
    return this.pass === this.passes.length;
  }

  write(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length; ) {
      if (this.complete) {
        throw new Error(`the image data inflates to more than the ${this.expected} bytes its ${this.h.width}×${this.h.height} header implies`);
      }
      const p = this.passes[this.pass];
      const n = Math.min(1 + p.rowBytes - this.filled, chunk.length - at);
      this.line.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      this.received += n;
      at += n;
      if (this.filled < 1 + p.rowBytes) continue;
      unfilter(this.line, this.prior, 1 + p.rowBytes, this.bpp);
      this.emit(p, this.row);
      [this.line, this.prior] = [this.prior, this.line];
      this.filled = 0;
      if (++this.row === p.height) {
        this.pass++;
        this.row = 0;
        this.prior.fill(0); // each pass starts with an all-zero prior row
      }
    }
  }

  private emit(p: Pass, row: number): void {
    const { h, line, out, channels, palette } = this;
    const depth = h.bitDepth;
    const spp = SAMPLES[h.colorType];
    const rowStart = (p.y0 + row * p.dy) * h.width;
    for (let x = 0; x < p.width; x++) {
      const o = (rowStart + p.x0 + x * p.dx) * channels;
      if (depth === 8 && h.colorType !== 3) {
        // The common case, without per-sample calls.
        const s = 1 + x * spp;
        out[o] = line[s];
        if (channels === 3) (out[o + 1] = line[spp >= 3 ? s + 1 : s]), (out[o + 2] = line[spp >= 3 ? s + 2 : s]);
      } else if (h.colorType === 3) {
        const entry = sample(line, x, depth) * 3;
        if (entry >= palette!.length) throw new Error(`palette index ${entry / 3} but the palette has ${palette!.length / 3} entries`);
        out[o] = palette![entry];
        if (channels === 3) (out[o + 1] = palette![entry + 1]), (out[o + 2] = palette![entry + 2]);
      } else {
        const first = to8(sample(line, x * spp, depth), depth);
        out[o] = first;
        if (channels === 1) continue;
        const rgb = spp >= 3;
        out[o + 1] = rgb ? to8(sample(line, x * spp + 1, depth), depth) : first;
        out[o + 2] = rgb ? to8(sample(line, x * spp + 2, depth), depth) : first;
      }
    }
  }
}

/** Decode a PNG to 8-bit RGB (or its first channel); errors are plain Errors saying what is wrong. */
export function decodePng(bytes: Uint8Array, channels: 1 | 3): RasterImage {
  const { header: h, palette, compressed } = readChunks(bytes);
  const data = new Uint8Array(h.width * h.height * channels);
  const rows = new Scanlines(h, palette, data, channels);
  const inflater = new Unzlib((chunk) => rows.write(chunk));
  for (let at = 0; at < compressed.length; ) {
    const remaining = rows.expected - rows.received;
    const size = Math.min(MAX_SLICE, Math.max(MIN_SLICE, Math.ceil(remaining / MAX_EXPANSION)));
    const end = Math.min(compressed.length, at + size);
    inflater.push(compressed.subarray(at, end), end === compressed.length);
    at = end;
  }
  if (!rows.complete) throw new Error(`the image data ends after ${rows.received} of the ${rows.expected} bytes its ${h.width}×${h.height} header implies`);
  return { width: h.width, height: h.height, channels, data };
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** The Paeth predictor: whichever of left, up and up-left is closest to left + up − up-left. */
function paeth(a: number, b: number, c: number): number {
  const pa = Math.abs(b - c);
  const pb = Math.abs(a - c);
  const pc = Math.abs(a + b - 2 * c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Encode 8-bit gray or RGB pixels as a PNG file. */
export function encodePng(image: RasterImage): Uint8Array {
  const { width, height, channels, data } = image;
  if (data.length !== width * height * channels) throw new Error(`encodePng: ${data.length} bytes for ${width}×${height}×${channels}`);
  const stride = width * channels;
  const rows = new Uint8Array(height * (stride + 1));
  // Filters 1–4 of the current row (filter 0 is the row itself).
  const candidates = [1, 2, 3, 4].map(() => new Uint8Array(stride));
  const [sub, up, average, paethed] = candidates;
  const zero = new Uint8Array(stride);
  const cost = (v: number) => (v < 128 ? v : 256 - v); // |v| as a signed byte
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * stride, (y + 1) * stride);
    const prior = y > 0 ? data.subarray((y - 1) * stride, y * stride) : zero;
    const costs = [0, 0, 0, 0, 0];
    for (let i = 0; i < stride; i++) {
      const x = row[i];
      const a = i >= channels ? row[i - channels] : 0;
      const b = prior[i];
      const c = i >= channels ? prior[i - channels] : 0;
      sub[i] = x - a;
      up[i] = x - b;
      average[i] = x - ((a + b) >> 1);
      paethed[i] = x - paeth(a, b, c);
      costs[0] += cost(x);
      costs[1] += cost(sub[i]);
      costs[2] += cost(up[i]);
      costs[3] += cost(average[i]);
      costs[4] += cost(paethed[i]);
    }
    const best = costs.indexOf(Math.min(...costs));
    rows[y * (stride + 1)] = best;
    rows.set(best === 0 ? row : candidates[best - 1], y * (stride + 1) + 1);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8;
  header[9] = channels === 1 ? 0 : 2;
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', header), chunk('IDAT', zlibSync(rows)), chunk('IEND', new Uint8Array(0))];
  return concatBytes(parts);
}
