/**
 * Synthetic "pets" — a body ellipse with a head and two ears, striped or spotted in an animal
 * palette — on textured backgrounds, with trimaps like the real ones. Pure drawing (no files), so
 * the web page can train on them too.
 */
import { Generator } from '../engine/random.js';
import type { Sample } from './pixels.js';

interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  angle: number;
}

/** Signed inside-ness: < 1 inside the ellipse. */
function ellipseValue(e: Ellipse, x: number, y: number): number {
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  const dx = x - e.cx;
  const dy = y - e.cy;
  const u = (dx * c + dy * s) / e.rx;
  const v = (-dx * s + dy * c) / e.ry;
  return u * u + v * v;
}

/** One size×size picture: RGB pixels and its trimap (1 pet, 2 background, 3 the border ring). */
export function drawSyntheticPet(gen: Generator, size: number): { rgb: Uint8Array; trimap: Uint8Array } {
  const r = (lo: number, hi: number) => lo + (hi - lo) * gen.nextFloat();
  const body: Ellipse = { cx: r(0.35, 0.65) * size, cy: r(0.4, 0.65) * size, rx: r(0.18, 0.3) * size, ry: r(0.12, 0.2) * size, angle: r(-0.6, 0.6) };
  const headR = r(0.09, 0.14) * size;
  const side = gen.nextFloat() < 0.5 ? -1 : 1;
  const head: Ellipse = { cx: body.cx + side * body.rx * 0.9, cy: body.cy - body.ry * 0.9, rx: headR, ry: headR * r(0.85, 1.1), angle: 0 };
  const ears: Ellipse[] = [-1, 1].map((k) => ({ cx: head.cx + k * headR * 0.6, cy: head.cy - headR * 0.95, rx: headR * 0.3, ry: headR * 0.5, angle: k * 0.3 }));
  const shapes = [body, head, ...ears];
  const furBase = [r(90, 200), r(60, 150), r(30, 110)];
  const furAlt = furBase.map((v) => v * r(0.3, 0.7));
  const stripes = gen.nextFloat() < 0.5;
  const freq = r(0.08, 0.2);
  const bgBase = [r(40, 220), r(40, 220), r(40, 220)];
  const bgFreq = r(0.02, 0.06);
  const rgb = new Uint8Array(size * size * 3);
  const trimap = new Uint8Array(size * size);
  const border = Math.max(1.5, size / 64);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = Math.min(...shapes.map((e) => ellipseValue(e, x, y)));
      // Distance to the outline, approximately, in pixels (for the trimap's border ring).
      const edge = Math.abs(Math.sqrt(inside) - 1) * Math.min(body.ry, headR);
      const i = y * size + x;
      const noise = (gen.nextFloat() - 0.5) * 30;
      let color: number[];
      if (inside < 1) {
        const pattern = stripes ? Math.sin((x * Math.cos(body.angle) + y * Math.sin(body.angle)) * freq) : Math.sin(x * freq) * Math.sin(y * freq);
        color = pattern > 0.2 ? furAlt : furBase;
        trimap[i] = edge < border ? 3 : 1;
      } else {
        const wave = 25 * Math.sin(x * bgFreq + y * bgFreq * 0.7) + 20 * Math.cos(y * bgFreq * 1.3);
        color = bgBase.map((v) => v + wave);
        trimap[i] = edge < border ? 3 : 2;
      }
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.max(0, Math.min(255, Math.round(color[c] + noise)));
    }
  }
  return { rgb, trimap };
}

/** `count` in-memory samples (trimap 1 and 3 → pet), deterministic for `seed`. */
export function syntheticSamples(count: number, size: number, seed = 0): Sample[] {
  const gen = new Generator(seed);
  return Array.from({ length: count }, (_, k) => {
    const { rgb, trimap } = drawSyntheticPet(gen, size);
    return { name: `synthetic_${k + 1}`, image: rgb, mask: trimap.map((v) => (v === 2 ? 0 : 1)) };
  });
}
