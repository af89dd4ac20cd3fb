/**
 * Image decoding chosen by the file's magic bytes, not its name (the real dataset has GIF and
 * PNG files named `.jpg`), to 8-bit RGB; bilinear and nearest resizing.
 */
import jpeg from 'jpeg-js';
import { GifReader } from 'omggif';
import { PNG } from 'pngjs';

export type ImageFormat = 'jpeg' | 'png' | 'gif';

/** 8-bit pixels, row-major, `channels` interleaved. */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

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

/** Bilinear resize with half-pixel centres (like PyTorch's interpolate, align_corners=False). */
export function resizeBilinear(image: RasterImage, width: number, height: number): RasterImage {
  const { channels, data } = image;
  const out = new Uint8Array(width * height * channels);
  const sx = image.width / width;
  const sy = image.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), image.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), image.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const at = (yy: number, xx: number) => data[(yy * image.width + xx) * channels + c];
        const top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        out[(y * width + x) * channels + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return { width, height, channels, data: out };
}

/** Nearest-neighbour resize (labels must not be blended). */
export function resizeNearest(image: RasterImage, width: number, height: number): RasterImage {
  const { channels, data } = image;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.floor(((y + 0.5) * image.height) / height), image.height - 1);
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.floor(((x + 0.5) * image.width) / width), image.width - 1);
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = data[(sy * image.width + sx) * channels + c];
    }
  }
  return { width, height, channels, data: out };
}

/** Encode 8-bit gray or RGB pixels as a PNG file. */
export function encodePng(image: RasterImage): Uint8Array {
  const colorType = image.channels === 1 ? 0 : 2;
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false });
}
