/**
 * Image decoding chosen by the file's magic bytes, not its name (the real dataset has GIF and
 * PNG files named `.jpg`), to 8-bit RGB; PNG encoding. Node only (pngjs needs Node's zlib).
 */
import jpeg from 'jpeg-js';
import { GifReader } from 'omggif';
import { PNG } from 'pngjs';
import type { RasterImage } from './pixels.js';

export type ImageFormat = 'jpeg' | 'png' | 'gif';

/** An unreadable image; the message names the file. */
export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 6 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38) return 'gif';
  return null;
}

function rgbaTo(channels: 1 | 3, rgba: Uint8Array, width: number, height: number): RasterImage {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    if (channels === 1) data[i] = rgba[j];
    else {
      data[i * 3] = rgba[j];
      data[i * 3 + 1] = rgba[j + 1];
      data[i * 3 + 2] = rgba[j + 2];
    }
  }
  return { width, height, channels, data };
}

/** Most pixels an image may have (64 megapixels: 8192 × 8192), unless PETSEG_MAX_IMAGE_PIXELS says otherwise. */
export const DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192;

export function maxImagePixels(): number {
  const configured = Number(process.env.PETSEG_MAX_IMAGE_PIXELS);
  return Number.isSafeInteger(configured) && configured > 0 ? configured : DEFAULT_MAX_IMAGE_PIXELS;
}

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
  if (size && size.width * size.height > limit) {
    throw new ImageDecodeError(
      `${file}: ${size.width}×${size.height} pixels is more than the limit of ${limit} (${(limit / 1e6).toFixed(1)} megapixels); if the image is genuine, raise it with PETSEG_MAX_IMAGE_PIXELS`,
    );
  }
  try {
    if (format === 'jpeg') {
      // formatAsRGBA converts grayscale and (Adobe) CMYK to RGB.
      const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024, maxResolutionInMP: limit / 1e6 });
      return rgbaTo(channels, image.data, image.width, image.height);
    }
    if (format === 'png') {
      const image = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return rgbaTo(channels, image.data, image.width, image.height);
    }
    const gif = new GifReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const rgba = new Uint8Array(gif.width * gif.height * 4);
    gif.decodeAndBlitFrameRGBA(0, rgba);
    return rgbaTo(channels, rgba, gif.width, gif.height);
  } catch (err) {
    throw new ImageDecodeError(`${file}: corrupt ${format.toUpperCase()} data (${(err as Error).message})`);
  }
}

/** Encode 8-bit gray or RGB pixels as a PNG file. */
export function encodePng(image: RasterImage): Uint8Array {
  const colorType = image.channels === 1 ? 0 : 2;
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false });
}
