/**
 * Image decoding chosen by the file's magic bytes, not its name (the real dataset has GIF and
 * PNG files named `.jpg`), to 8-bit RGB; PNG encoding. Runs in Node and in browsers (no Buffer, no
 * Node modules).
 *
 * Every decoder is bounded by the work the file will make it do, known before decoding: the
 * header's pixels (maxImagePixels()); for PNG the inflated size, exact from the header (png.ts);
 * for GIF every frame's place on the screen (gif.ts); for JPEG the scans, the blocks they decode and
 * jpeg-js's memory (jpeg.ts). A refusal is one line naming the file and, where a limit was reached,
 * the limit and how to raise it.
 */
import { decodeGifFrame, readGif } from './gif.js';
import { decodeJpeg, planJpeg } from './jpeg.js';
import type { RasterImage } from './pixels.js';
import { decodePng } from './png.js';

export { encodePng } from './png.js';

/** The image formats petseg decodes, told apart by their magic bytes. */
export type ImageFormat = 'jpeg' | 'png' | 'gif';

/** An unreadable image; the message names the file. */
export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

/** An image's format by its magic bytes (not its name); null when it is none petseg decodes. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 6 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38) return 'gif';
  return null;
}

/** Most pixels an image may have (64 megapixels: 8192 × 8192), unless PETSEG_MAX_IMAGE_PIXELS says otherwise. */
export const DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192;

export function maxImagePixels(): number {
  const configured = Number(typeof process === 'undefined' ? undefined : process.env.PETSEG_MAX_IMAGE_PIXELS);
  return Number.isSafeInteger(configured) && configured > 0 ? configured : DEFAULT_MAX_IMAGE_PIXELS;
}

/**
 * Most scans a JPEG may have, whatever the pixel limit: libjpeg's progressive script has 10, the
 * shared sample's photos at most 14; each scan costs a pass over its components' blocks.
 */
export const JPEG_MAX_SCANS = 100;
/**
 * jpeg-js's memory per pixel of the limit, plus 16 MiB for its tables (so that a tiny limit still
 * decodes tiny files). A 4:4:4 colour JPEG needs 21 bytes per pixel (coefficient blocks 12, sample
 * rows 3, interleaved samples 3, RGB 3), CMYK 27; more only with degenerate sampling factors.
 */
const JPEG_BYTES_PER_PIXEL = 32;
const JPEG_TABLE_BYTES = 16 * 2 ** 20;

/** Width and height from an image's header (no decoding), or null where the header does not say. */
export function imageDimensions(bytes: Uint8Array, format: ImageFormat): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'png') return bytes.length >= 24 ? { width: view.getUint32(16), height: view.getUint32(20) } : null;
  if (format === 'gif') return bytes.length >= 10 ? { width: view.getUint16(6, true), height: view.getUint16(8, true) } : null;
  // JPEG: walk the marker segments to the first start-of-frame (SOF0–SOF15 but DHT, JPG, DAC).
  for (let at = 2; at + 9 <= bytes.length; ) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    at += 2 + view.getUint16(at + 2);
  }
  return null;
}

const RAISE = 'if the image is genuine, raise it with PETSEG_MAX_IMAGE_PIXELS';

function tooManyPixels(file: string, width: number, height: number, limit: number): ImageDecodeError {
  return new ImageDecodeError(`${file}: ${width}×${height} pixels is more than the limit of ${limit} (${(limit / 1e6).toFixed(1)} megapixels); ${RAISE}`);
}

function decodeJpegBounded(bytes: Uint8Array, file: string, channels: 1 | 3, limit: number): RasterImage {
  const plan = planJpeg(bytes);
  if (plan.width * plan.height > limit) throw tooManyPixels(file, plan.width, plan.height, limit); // when imageDimensions could not tell
  if (plan.scans > JPEG_MAX_SCANS) {
    throw new ImageDecodeError(`${file}: ${plan.scans} scans is more than the limit of ${JPEG_MAX_SCANS} per JPEG (real progressive JPEGs have about 10)`);
  }
  const memoryLimit = limit * JPEG_BYTES_PER_PIXEL + JPEG_TABLE_BYTES;
  if (plan.memoryBytes > memoryLimit) {
    const mb = (n: number) => Math.ceil(n / 2 ** 20);
    throw new ImageDecodeError(
      `${file}: decoding this ${plan.width}×${plan.height} JPEG takes about ${mb(plan.memoryBytes)} MB, more than the ${mb(memoryLimit)} MB allowed with the limit of ${limit} pixels; ${RAISE}`,
    );
  }
  // One block decode (8×8 samples of one component) per pixel of the limit: the real progressive
  // photos of the shared sample need at most 0.29 per pixel of their own size.
  if (plan.blockDecodes > limit) {
    throw new ImageDecodeError(`${file}: its ${plan.scans} scans decode ${plan.blockDecodes} blocks, more than the limit of ${limit} (one per pixel of the ${limit}-pixel limit); ${RAISE}`);
  }
  return decodeJpeg(plan, channels, memoryLimit, limit);
}

function decodeGifBounded(bytes: Uint8Array, file: string, channels: 1 | 3): RasterImage {
  const gif = readGif(bytes);
  // The screen is within the pixel limit (checked from the header); so is every frame inside it.
  gif.frames.forEach((f, i) => {
    if (f.x + f.width > gif.width || f.y + f.height > gif.height) {
      throw new ImageDecodeError(
        `${file}: frame ${i + 1} of ${gif.frames.length} is ${f.width}×${f.height} at (${f.x}, ${f.y}), outside the GIF's ${gif.width}×${gif.height} screen; refused before decoding`,
      );
    }
  });
  return decodeGifFrame(bytes, gif, 0, channels);
}

/**
 * Decode to RGB (or, with `channels: 1`, the first channel — for label maps such as trimaps).
 * Grayscale, palette, CMYK and RGBA inputs become RGB; alpha is dropped. An image whose header
 * declares more than maxImagePixels() is refused before any pixel is decoded, so a small hostile
 * file cannot make the decoder allocate gigabytes.
 */
export function decodeImage(bytes: Uint8Array, file: string, channels: 1 | 3 = 3): RasterImage {
  const format = sniffFormat(bytes);
  if (!format) {
    const head = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ImageDecodeError(`${file}: not a JPEG, PNG or GIF image (first bytes: ${head || 'none — empty file'})`);
  }
  const size = imageDimensions(bytes, format);
  const limit = maxImagePixels();
  if (size && size.width * size.height > limit) throw tooManyPixels(file, size.width, size.height, limit);
  try {
    if (format === 'jpeg') return decodeJpegBounded(bytes, file, channels, limit);
    if (format === 'png') return decodePng(bytes, channels);
    return decodeGifBounded(bytes, file, channels);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(`${file}: corrupt ${format.toUpperCase()} data (${(err as Error).message})`);
  }
}
