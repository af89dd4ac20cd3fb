/**
 * TypeScript twin of fixture_values/scaled in scripts/make_model_fixtures.py: both sides fill a
 * model's state from the same counter-based hash, so model fixtures need no committed weights.
 */
import * as E from '../../engine/index.js';
import type { Module } from '../../engine/nn/index.js';

/** n values in [-1, 1) from a murmur3-style finaliser of (seed·0x9E3779B1 + i) in uint32. */
export function fixtureValues(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const base = Math.imul(seed, 0x9e3779b1) >>> 0;
  for (let i = 0; i < n; i++) {
    let x = (base + i) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b) >>> 0;
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35) >>> 0;
    x ^= x >>> 16;
    out[i] = ((x >>> 8) / 16777216) * 2 - 1;
  }
  return out;
}

/** One state entry's fixture values (scaled like a trained model's: BatchNorm near 1 and 0, weights by fan-in). */
export function scaled(name: string, shape: readonly number[], seed: number): Float32Array {
  const h = fixtureValues(seed, shape.reduce((a, b) => a * b, 1));
  if (name.endsWith('running_var')) return h.map((v) => 1.25 + 0.25 * v);
  if (name.endsWith('running_mean')) return h.map((v) => 0.1 * v);
  if (shape.length === 1 && (name.includes('bn') || name.includes('.block.') || name.includes('downsample.1'))) {
    return name.endsWith('weight') ? h.map((v) => 1 + 0.1 * v) : h.map((v) => 0.1 * v);
  }
  if (shape.length > 1) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    return h.map((v) => v / Math.sqrt(fanIn));
  }
  return h.map((v) => 0.1 * v);
}

/** Load the fixture state into `model` (num_batches_tracked left at 0). */
export function fillFixtureState(model: Module): void {
  const state = new Map<string, E.Tensor>();
  let index = 0;
  for (const [name, t] of model.stateDict()) {
    if (name.endsWith('num_batches_tracked')) {
      state.set(name, E.zeros([]));
      continue;
    }
    index++;
    state.set(name, E.tensor(scaled(name, t.shape, index), t.shape));
  }
  model.loadStateDict(state);
  for (const t of state.values()) t.dispose();
}
