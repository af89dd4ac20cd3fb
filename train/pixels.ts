/**
 * Pixel-level preprocessing shared by Node and the browser (no Node modules here): the raster
 * type, bilinear/nearest resizing and ImageNet normalisation.
 */

/** 8-bit pixels, row-major, `channels` interleaved. */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** Per-channel RGB mean of ImageNet (torchvision's), which {@link normalizeImage} subtracts. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
/**
 * Per-channel RGB standard deviation of ImageNet (torchvision's), which {@link normalizeImage}
 * divides by.
 */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** One example at the training size: its name, RGB image and pet mask, as bytes. */
export interface Sample {
  name: string;
  /** size×size×3 RGB, row-major. */
  image: Uint8Array;
  /** size×size, 1 = pet. */
  mask: Uint8Array;
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

/** Bilinear resize (half-pixel centres) of a size×size float map to width×height. */
export function resizeMap(map: Float32Array, size: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max(((y + 0.5) * size) / height - 0.5, 0), size - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, size - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max(((x + 0.5) * size) / width - 0.5, 0), size - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, size - 1);
      const wx = fx - x0;
      const top = map[y0 * size + x0] * (1 - wx) + map[y0 * size + x1] * wx;
      const bottom = map[y1 * size + x0] * (1 - wx) + map[y1 * size + x1] * wx;
      out[y * width + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** HWC uint8 RGB → CHW float32 normalised with the ImageNet mean and std. */
export function normalizeImage(image: Uint8Array, size: number, out = new Float32Array(3 * size * size)): Float32Array {
  const plane = size * size;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (image[i * 3 + c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
  }
  return out;
}
