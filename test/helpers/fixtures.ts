/** Reading the PyTorch fixtures written by scripts/make_fixtures.py. */
import { readFileSync } from 'node:fs';

export interface Encoded {
  shape: number[];
  data: string;
}

export interface FixtureCase {
  op: string;
  attrs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  inputs: Encoded[];
  grad_output: Encoded;
  output: Encoded;
  /** null for inputs that are data (no gradient). */
  grads: (Encoded | null)[];
}

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

export function decode(e: Encoded): Float32Array {
  const bytes = Buffer.from(e.data, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
