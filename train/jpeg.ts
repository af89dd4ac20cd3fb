/**
 * JPEG decoding through jpeg-js, with its cost known before it starts.
 *
 * `planJpeg` walks the marker segments without decoding (entropy-coded data is skipped to its next
 * marker) and returns what jpeg-js will do: the number of scans, the blocks they decode in total
 * (jpeg-js visits every block of a scan's components, even in an empty progressive scan) and the
 * bytes jpeg-js's own memory accounting will reach. The caller compares these with its limits;
 * `decodeJpeg` then runs jpeg-js on the walked stream.
 *
 * What must hold: jpeg-js decodes no scan the walk did not count. jpeg-js reads a scan wherever it
 * finds the bytes FF DA at a marker position, and on malformed data it can lose step with the file's
 * structure; so the walk is strict (every segment's length must match its content, unknown markers
 * are refused) and jpeg-js is given a rebuilt stream without APPn/COM payloads and anything after
 * EOI, the places where stray FF DA bytes could hide. What remains that the walk did not parse as a
 * marker (quantization and Huffman tables) is counted as possible scans, which real files never have.
 */
import jpeg from 'jpeg-js';
import type { RasterImage } from './pixels.js';
import { concatBytes } from './storage.js';

export interface JpegPlan {
  width: number;
  height: number;
  /** Scans jpeg-js will decode at most. */
  scans: number;
  /** Blocks those scans decode in total (a block is 8×8 samples of one component). */
  blockDecodes: number;
  /** What jpeg-js's memory accounting (maxMemoryUsageInMB) reaches for this file, in bytes. */
  memoryBytes: number;
  /** The stream handed to jpeg-js: the segments it needs, nothing else. */
  stream: Uint8Array;
}

interface Component {
  h: number;
  v: number;
  /** Blocks a scan of this component alone decodes. */
  blocks: number;
}

interface Frame {
  components: Map<number, Component>;
  /** Blocks of one interleaved MCU (Σ h·v) and the MCU count. */
  mcus: number;
  /** Blocks jpeg-js allocates: whole MCUs of every component. */
  allocatedBlocks: number;
}

/** jpeg-js's layout of a frame (its prepareComponents): blocks per component and per MCU. */
function frameLayout(width: number, height: number, sampling: Map<number, { h: number; v: number }>): Frame {
  const maxH = Math.max(...[...sampling.values()].map((c) => c.h));
  const maxV = Math.max(...[...sampling.values()].map((c) => c.v));
  const mcusPerLine = Math.ceil(width / 8 / maxH);
  const mcusPerColumn = Math.ceil(height / 8 / maxV);
  const components = new Map<number, Component>();
  let allocatedBlocks = 0;
  for (const [id, { h, v }] of sampling) {
    const blocks = Math.ceil((Math.ceil(width / 8) * h) / maxH) * Math.ceil((Math.ceil(height / 8) * v) / maxV);
    components.set(id, { h, v, blocks });
    allocatedBlocks += mcusPerLine * h * mcusPerColumn * v;
  }
  return { components, mcus: mcusPerLine * mcusPerColumn, allocatedBlocks };
}

/** Occurrences of FF followed by a start-of-scan or start-of-frame byte inside `bytes`. */
function strayMarkers(bytes: Uint8Array): number {
  let count = 0;
  for (let i = bytes.indexOf(0xff); i >= 0 && i + 1 < bytes.length; i = bytes.indexOf(0xff, i + 1)) {
    const b = bytes[i + 1];
    if (b === 0xda || b === 0xc0 || b === 0xc1 || b === 0xc2) count++;
  }
  return count;
}

const ADOBE = [0x41, 0x64, 0x6f, 0x62, 0x65, 0]; // "Adobe\0": jpeg-js reads its colour transform

/** Walk the file's markers; throws a plain Error naming what is malformed or unsupported. */
export function planJpeg(bytes: Uint8Array): JpegPlan {
  const parts: Uint8Array[] = [Uint8Array.of(0xff, 0xd8)];
  const u16 = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  let frame: Frame | null = null;
  let width = 0;
  let height = 0;
  let scans = 0;
  let blockDecodes = 0;
  let tableBytes = 0; // jpeg-js counts 256 bytes per quantization table, 16 + values per Huffman table
  let stray = 0;
  let restartInterval = 0;
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('no start-of-image marker');
  for (let at = 2; ; ) {
    if (at + 1 >= bytes.length) throw new Error('the file ends before its end-of-image marker');
    let marker: number;
    if (bytes[at] === 0xff) {
      while (bytes[at + 1] === 0xff) at++; // fill bytes
      marker = bytes[at + 1];
      at += 2;
    } else if (bytes[at] === 0 && (bytes[at + 1] === 0xe0 || bytes[at + 1] === 0xe1)) {
      marker = bytes[at + 1]; // an APP segment marked 00 instead of FF (Pixel phones); jpeg-js skips it too
      at += 2;
    } else if (bytes[at - 1] === 0xff && bytes[at] >= 0xc0 && bytes[at] <= 0xfe) {
      marker = bytes[at]; // the previous segment's length took this marker's FF; jpeg-js steps back too
      at += 1;
    } else throw new Error(`no marker at byte ${at} (found ${bytes[at].toString(16)} ${bytes[at + 1].toString(16)})`);
    if (marker === 0xd9) break;
    if (marker === 0) continue; // FF 00 where a marker belongs: jpeg-js skips it
    if (at + 2 > bytes.length) throw new Error('the file ends inside a marker segment');
    const length = u16(at);
    const end = at + length;
    if (length < 2 || end > bytes.length) throw new Error(`a segment of ${length} bytes at byte ${at - 2} runs past the end of the file`);
    const segment = bytes.subarray(at - 2, end);
    const body = bytes.subarray(at + 2, end);
    if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe) {
      // Metadata: dropped, except the Adobe segment's colour transform (its first 12 bytes).
      if (marker === 0xee && ADOBE.every((b, i) => body[i] === b)) {
        const kept = body.subarray(0, 12);
        parts.push(Uint8Array.of(0xff, 0xee, 0, 2 + kept.length), kept);
        stray += strayMarkers(kept);
      }
      at = end;
      continue;
    }
    if (marker === 0xdb) {
      for (let p = 0; p < body.length; ) {
        const precision = body[p] >> 4;
        if (precision > 1) throw new Error(`a quantization table of precision ${precision}`);
        p += 1 + 64 * (precision + 1);
        if (p > body.length) throw new Error('a quantization table runs past its segment');
        tableBytes += 256;
      }
    } else if (marker === 0xc4) {
      for (let p = 0; p < body.length; ) {
        let values = 0;
        for (let i = 1; i <= 16; i++) values += body[p + i] ?? 0;
        p += 17 + values;
        if (p > body.length) throw new Error('a Huffman table runs past its segment');
        tableBytes += 16 + values;
      }
    } else if (marker === 0xdd || marker === 0xdc) {
      if (length !== 4) throw new Error(`a ${marker === 0xdd ? 'DRI' : 'DNL'} segment of ${length} bytes`);
      if (marker === 0xdd) restartInterval = u16(at + 2);
    } else if (marker >= 0xc0 && marker <= 0xc2) {
      if (frame) throw new Error('more than one frame');
      const count = body[5];
      if (length !== 8 + 3 * count || count < 1 || count > 4) throw new Error(`a frame header of ${length} bytes for ${count} components`);
      height = u16(at + 3);
      width = u16(at + 5);
      if (width === 0 || height === 0) throw new Error(`a ${width}×${height} frame (a height defined later by DNL is not supported)`);
      const sampling = new Map<number, { h: number; v: number }>();
      for (let i = 0; i < count; i++) {
        const [id, hv] = [body[6 + 3 * i], body[7 + 3 * i]];
        if (sampling.has(id) || hv >> 4 < 1 || hv >> 4 > 4 || (hv & 15) < 1 || (hv & 15) > 4) throw new Error(`component ${id}: duplicate or sampling ${hv >> 4}×${hv & 15}`);
        sampling.set(id, { h: hv >> 4, v: hv & 15 });
      }
      frame = frameLayout(width, height, sampling);
    } else if (marker === 0xda) {
      if (!frame) throw new Error('a scan before the frame header');
      const count = body[0];
      if (length !== 6 + 2 * count || count < 1 || count > 4) throw new Error(`a scan header of ${length} bytes for ${count} components`);
      const members = Array.from({ length: count }, (_, i) => frame!.components.get(body[1 + 2 * i]));
      if (members.some((c) => !c)) throw new Error('a scan of a component the frame does not have');
      // jpeg-js's decodeScan: a lone component's blocks (in restart-interval steps), else whole MCUs.
      blockDecodes += count === 1 ? members[0]!.blocks + restartInterval : frame.mcus * members.reduce((sum, c) => sum + c!.h * c!.v, 0);
      scans++;
      stray += strayMarkers(body);
      // The entropy-coded data runs to the next marker other than a restart (FF D0–D7) or a stuffed FF 00.
      let next = end;
      for (next = bytes.indexOf(0xff, next); next >= 0; next = bytes.indexOf(0xff, next + 1)) {
        const b = bytes[next + 1];
        if (b !== 0 && (b < 0xd0 || b > 0xd7)) break;
      }
      if (next < 0 || next + 1 >= bytes.length) throw new Error('the file ends inside scan data');
      parts.push(bytes.subarray(at - 2, next));
      at = next;
      continue;
    } else throw new Error(`unsupported marker ${marker.toString(16)}${marker >= 0xc3 && marker <= 0xcf ? ' (lossless, hierarchical or arithmetic-coded JPEG)' : ''}`);
    stray += strayMarkers(body);
    parts.push(segment);
    at = end;
  }
  if (!frame || scans === 0) throw new Error(frame ? 'no scan' : 'no frame header');
  parts.push(Uint8Array.of(0xff, 0xd9));
  const stream = concatBytes(parts);
  // A stray FF DA could only be reached by a jpeg-js that lost step: count it as a scan of the whole frame.
  scans += stray;
  blockDecodes += stray * frame.allocatedBlocks;
  // jpeg-js's accounting: coefficient blocks (Int32Array(64)), each component's padded sample rows,
  // the interleaved samples and the RGB output.
  const samples = width * height;
  let rows = 0;
  for (const c of frame.components.values()) rows += c.blocks * 64;
  const memoryBytes = frame.allocatedBlocks * 256 + rows + samples * frame.components.size + samples * 3 + tableBytes;
  return { width, height, scans, blockDecodes, memoryBytes, stream };
}

/**
 * Decode a walked JPEG to RGB (or its first channel). `memoryLimitBytes` and `maxPixels` become
 * jpeg-js's own limits, so that they are raised with the caller's.
 */
export function decodeJpeg(plan: JpegPlan, channels: 1 | 3, memoryLimitBytes: number, maxPixels: number): RasterImage {
  // formatAsRGBA: false gives RGB directly (grey and Adobe CMYK converted), with no RGBA copy.
  const image = jpeg.decode(plan.stream, {
    useTArray: true,
    formatAsRGBA: false,
    maxMemoryUsageInMB: memoryLimitBytes / 2 ** 20,
    maxResolutionInMP: (maxPixels + 1) / 1e6, // + 1: no rounding below our own, exact, limit
  });
  const { width, height } = image;
  if (channels === 3) return { width, height, channels, data: image.data };
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = image.data[i * 3];
  return { width, height, channels, data };
}
