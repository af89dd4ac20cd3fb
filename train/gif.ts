/**
 * GIF reading of petseg's own (pure JavaScript, silent: no library writes to stdout).
 *
 * `readGif` walks the whole file's blocks without decoding pixels and returns the logical screen
 * and every frame's position, size and LZW data, so that the caller can check them all before any
 * decoding; `decodeGifFrame` then decodes one frame onto a screen-sized 8-bit RGB raster (or its
 * first channel). Pixels outside the frame and transparent pixels are black, as with omggif before.
 *
 * What must hold: work and memory are bounded by the screen and the file's length. The frame must
 * lie inside the screen (the caller checks); the LZW decoder writes at most width × height indices
 * and stops there, each code costs at most its string's length (≤ 4096) and a code is read per 3+
 * input bits. A stream shorter than the frame leaves the rest at index 0, as omggif did, silently.
 */
import type { RasterImage } from './pixels.js';

export interface GifFrame {
  x: number;
  y: number;
  width: number;
  height: number;
  interlaced: boolean;
  /** The local colour table (RGB triples), or null for the global one. */
  palette: Uint8Array | null;
  /** Palette index drawn as transparent (left black), or -1. */
  transparent: number;
  minCodeSize: number;
  /** The LZW data: byte range of the frame's sub-blocks, each led by its length, up to the 0 terminator. */
  start: number;
  end: number;
}

export interface GifFile {
  width: number;
  height: number;
  palette: Uint8Array | null;
  frames: GifFrame[];
}

/** Skip a run of sub-blocks starting at `at`; returns the offset after its 0 terminator. */
function skipSubBlocks(bytes: Uint8Array, at: number): number {
  for (;;) {
    if (at >= bytes.length) throw new Error('the file ends inside a block');
    const size = bytes[at++];
    if (size === 0) return at;
    at += size;
  }
}

function colourTable(bytes: Uint8Array, at: number, flags: number): Uint8Array | null {
  if (!(flags & 0x80)) return null;
  const size = 3 << ((flags & 7) + 1);
  if (at + size > bytes.length) throw new Error('the file ends inside a colour table');
  return bytes.subarray(at, at + size);
}

/** The screen and every frame, without decoding pixels. Throws on a malformed block structure. */
export function readGif(bytes: Uint8Array): GifFile {
  if (bytes.length < 13) throw new Error('the file ends inside the header');
  const u16 = (at: number) => bytes[at] | (bytes[at + 1] << 8);
  const gif: GifFile = { width: u16(6), height: u16(8), palette: colourTable(bytes, 13, bytes[10]), frames: [] };
  let at = 13 + (gif.palette?.length ?? 0);
  let transparent = -1; // from the graphic control extension before the next frame
  while (at < bytes.length) {
    const block = bytes[at++];
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      const label = bytes[at++];
      if (label === 0xf9 && bytes[at] === 4 && at + 5 <= bytes.length) transparent = bytes[at + 1] & 1 ? bytes[at + 4] : -1;
      at = skipSubBlocks(bytes, at);
    } else if (block === 0x2c) {
      if (at + 10 > bytes.length) throw new Error('the file ends inside an image descriptor');
      const flags = bytes[at + 8];
      const palette = colourTable(bytes, at + 9, flags);
      const codeSizeAt = at + 9 + (palette?.length ?? 0);
      const frame = { x: u16(at), y: u16(at + 2), width: u16(at + 4), height: u16(at + 6) };
      at = skipSubBlocks(bytes, codeSizeAt + 1);
      gif.frames.push({ ...frame, interlaced: (flags & 0x40) !== 0, palette, transparent, minCodeSize: bytes[codeSizeAt], start: codeSizeAt + 1, end: at });
      transparent = -1;
    } else throw new Error(`unknown block 0x${block.toString(16)} at byte ${at - 1}`);
  }
  if (gif.frames.length === 0) throw new Error('no image in the file');
  return gif;
}

/** Decode a frame's LZW data to `width × height` palette indices (missing ones stay 0). */
function lzw(bytes: Uint8Array, frame: GifFrame): Uint8Array {
  const { minCodeSize } = frame;
  if (minCodeSize < 2 || minCodeSize > 11) throw new Error(`LZW minimum code size ${minCodeSize}`);
  // The sub-blocks' payloads as one stream.
  const stream = new Uint8Array(frame.end - frame.start);
  let length = 0;
  for (let at = frame.start; bytes[at] !== 0; at += 1 + bytes[at]) {
    stream.set(bytes.subarray(at + 1, at + 1 + bytes[at]), length);
    length += bytes[at];
  }
  const pixels = frame.width * frame.height;
  const out = new Uint8Array(pixels);
  // The string table: code → (prefix code, last byte), with each string's first byte and length.
  const prefix = new Uint16Array(4096);
  const last = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const size = new Uint16Array(4096);
  const clear = 1 << minCodeSize;
  for (let c = 0; c < clear; c++) (last[c] = c), (first[c] = c), (size[c] = 1);
  let codeBits = minCodeSize + 1;
  let next = clear + 2;
  let previous = -1;
  let bitPos = 0;
  for (let o = 0; o < pixels; ) {
    if (bitPos + codeBits > length * 8) break; // stream shorter than the frame
    let code = 0;
    for (let i = 0; i < codeBits; i++, bitPos++) code |= ((stream[bitPos >> 3] >> (bitPos & 7)) & 1) << i;
    if (code === clear) {
      codeBits = minCodeSize + 1;
      next = clear + 2;
      previous = -1;
      continue;
    }
    if (code === clear + 1) break; // end of information
    if (code > next || (code === next && previous < 0)) throw new Error(`invalid LZW code ${code}`); // not yet in the table
    if (previous >= 0 && next < 4096) {
      // The new string: the previous one plus the first byte of this one (of itself when code === next).
      prefix[next] = previous;
      last[next] = code === next ? first[previous] : first[code];
      first[next] = first[previous];
      size[next] = size[previous] + 1;
      if (++next === 1 << codeBits && codeBits < 12) codeBits++;
    }
    // Write the string backwards from its end, clipped to the frame.
    const n = size[code];
    for (let c = code, p = o + n - 1; p >= o; p--, c = prefix[c]) if (p < pixels) out[p] = last[c];
    o += n;
    previous = code;
  }
  return out;
}

/** Rows of an interlaced frame in the order they are stored: every 8th from 0, from 4, every 4th from 2, every 2nd from 1. */
function storedRows(height: number, interlaced: boolean): number[] {
  if (!interlaced) return Array.from({ length: height }, (_, y) => y);
  const rows: number[] = [];
  for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]]) for (let y = start; y < height; y += step) rows.push(y);
  return rows;
}

/** Frame `index` drawn on the screen; the caller has checked that it lies inside. */
export function decodeGifFrame(bytes: Uint8Array, gif: GifFile, index: number, channels: 1 | 3): RasterImage {
  const frame = gif.frames[index];
  const palette = frame.palette ?? gif.palette;
  if (!palette) throw new Error('no colour table');
  const indices = lzw(bytes, frame);
  const data = new Uint8Array(gif.width * gif.height * channels);
  storedRows(frame.height, frame.interlaced).forEach((y, row) => {
    for (let x = 0; x < frame.width; x++) {
      const entry = indices[row * frame.width + x];
      if (entry === frame.transparent || entry * 3 >= palette.length) continue; // black
      const o = ((frame.y + y) * gif.width + frame.x + x) * channels;
      data[o] = palette[entry * 3];
      if (channels === 3) (data[o + 1] = palette[entry * 3 + 1]), (data[o + 2] = palette[entry * 3 + 2]);
    }
  });
  return { width: gif.width, height: gif.height, channels, data };
}
