/** Reading tfevents files back in tests: TFRecord framing (CRCs checked) and a minimal protobuf reader. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { maskedCrc32c } from '../../train/tfevents.js';

export type Fields = Map<number, (bigint | Uint8Array | number)[]>;

/** Minimal protobuf reader: varint (0), 64-bit (1, as double), length-delimited (2), 32-bit (5, as float). */
export function parseProto(bytes: Uint8Array): Fields {
  const fields: Fields = new Map();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[at++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    let value: bigint | Uint8Array | number;
    if (wire === 0) value = varint();
    else if (wire === 1) (value = view.getFloat64(at, true)), (at += 8);
    else if (wire === 5) (value = view.getFloat32(at, true)), (at += 4);
    else if (wire === 2) {
      const length = Number(varint());
      value = bytes.subarray(at, at + length);
      at += length;
    } else throw new Error(`wire type ${wire}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

export function readRecords(file: string): Uint8Array[] {
  const bytes = new Uint8Array(readFileSync(file));
  const view = new DataView(bytes.buffer);
  const records: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = Number(view.getBigUint64(at, true));
    expect(view.getUint32(at + 8, true)).toBe(maskedCrc32c(bytes.subarray(at, at + 8)));
    const payload = bytes.subarray(at + 12, at + 12 + length);
    expect(view.getUint32(at + 12 + length, true)).toBe(maskedCrc32c(payload));
    records.push(payload);
    at += 16 + length;
  }
  return records;
}

const decoder = new TextDecoder();

/** Scalar and image summaries of an event file: tag → [step, value] and tag → [step, width, height]. */
export function readSummaries(file: string): { scalars: Map<string, [number, number][]>; images: Map<string, [number, number, number][]> } {
  const scalars = new Map<string, [number, number][]>();
  const images = new Map<string, [number, number, number][]>();
  for (const record of readRecords(file)) {
    const event = parseProto(record);
    const summary = event.get(5)?.[0];
    if (!summary) continue;
    const step = Number(event.get(2)?.[0] ?? 0n);
    for (const value of parseProto(summary as Uint8Array).get(1) ?? []) {
      const fields = parseProto(value as Uint8Array);
      const tag = decoder.decode(fields.get(1)![0] as Uint8Array);
      if (fields.has(2)) scalars.set(tag, [...(scalars.get(tag) ?? []), [step, fields.get(2)![0] as number]]);
      if (fields.has(4)) {
        const image = parseProto(fields.get(4)![0] as Uint8Array);
        images.set(tag, [...(images.get(tag) ?? []), [step, Number(image.get(2)![0]), Number(image.get(1)![0])]]);
      }
    }
  }
  return { scalars, images };
}
