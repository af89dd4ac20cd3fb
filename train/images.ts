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

/**
 * Decode to RGB (or, with `channels: 1`, the first channel — for label maps such as trimaps).
 * Grayscale, palette, CMYK and RGBA inputs become RGB; alpha is dropped.
 */
export function decodeImage(bytes: Uint8Array, file: string, channels: 1 | 3 = 3): RasterImage {
  const format = sniffFormat(bytes);
  if (!format) {
    const head = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ImageDecodeError(`${file}: not a JPEG, PNG or GIF image (first bytes: ${head || 'none — empty file'})`);
  }
  try {
    if (format === 'jpeg') {
      // formatAsRGBA converts grayscale and (Adobe) CMYK to RGB.
      const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
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
