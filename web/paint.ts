/** Draw an 8-bit RGB raster onto a canvas at its own size. */
import type { RasterImage } from '../train/browser.js';

export function paint(canvas: HTMLCanvasElement, image: RasterImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const pixels = new ImageData(image.width, image.height);
  for (let i = 0; i < image.width * image.height; i++) {
    pixels.data.set(image.data.subarray(i * 3, i * 3 + 3), i * 4);
    pixels.data[i * 4 + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
}
