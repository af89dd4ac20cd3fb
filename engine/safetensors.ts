/**
 * The safetensors format (8-byte little-endian header length, JSON header, raw little-endian
 * tensor bytes), pure and platform-neutral: bytes in, bytes out. float32 tensors, plus int64
 * scalars/vectors (PyTorch's BatchNorm num_batches_tracked), read back as float32 values.
 */

/** The safetensors element types petseg reads and writes. */
export type SafetensorsDtype = 'F32' | 'I64';

/** One tensor of a safetensors file: its dtype in the file, its shape and its values as float32. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

/** A safetensors file's contents: its tensors by name, and the header's `__metadata__` strings. */
export interface Safetensors {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, I64: 8 };

/** Bytes that are not valid safetensors; the message starts with their source (a file name). */
export class SafetensorsError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/**
 * The safetensors file of `tensors` (in the map's order) and `metadata`, as bytes; I64 values are
 * rounded to integers.
 */
export function encodeSafetensors(tensors: ReadonlyMap<string, SafetensorsTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    const bytes = elements * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8); // data starts 8-aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    for (const v of t.data) {
      if (t.dtype === 'F32') view.setFloat32(position, v, true);
      else view.setBigInt64(position, BigInt(Math.round(v)), true);
      position += BYTES[t.dtype];
    }
  }
  return out;
}

/** Largest header petseg reads (the format's own limit), and most tensors: petseg's models have a few hundred. */
export const MAX_HEADER_BYTES = 100 * 2 ** 20;
export const MAX_TENSORS = 65536;
const MAX_RANK = 8;

/** One tensor of a header: where its bytes lie in the data section. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file. */
  dataStart: number;
}

/** The header length a file's first 8 bytes declare, checked against the file's size. */
export function safetensorsHeaderLength(first8: Uint8Array, fileBytes: number, source = 'safetensors data'): number {
  const fail = (message: string): never => {
    throw new SafetensorsError(source, message);
  };
  if (first8.length < 8 || fileBytes < 8) fail(`not a safetensors file: ${fileBytes} bytes is shorter than the 8-byte header length (truncated or empty?)`);
  const length = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) fail(`the header claims ${length} bytes, more than the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  if (Number(length) > fileBytes - 8) fail(`header length ${length} exceeds the file size ${fileBytes} (truncated, or not a safetensors file)`);
  return Number(length);
}

/**
 * Parse and validate a header (the JSON after the 8-byte length) without touching the data:
 * an object of at most MAX_TENSORS entries, each a known dtype, a shape of at most 8
 * non-negative integers and byte offsets that match it; together the entries cover the data
 * section exactly, without overlapping. Linear in the header (one sort).
 */
export function parseSafetensorsHeader(json: Uint8Array, fileBytes: number, source = 'safetensors data'): SafetensorsHeader {
  const fail = (message: string): never => {
    throw new SafetensorsError(source, message);
  };
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(json));
  } catch {
    return fail('the header is not valid JSON (not a safetensors file?)');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('the header is not a JSON object (not a safetensors file?)');
  const dataStart = 8 + json.length;
  const dataLength = fileBytes - dataStart;
  const fields = Object.entries(header as Record<string, unknown>);
  if (fields.length > MAX_TENSORS + 1) fail(`the header lists ${fields.length - 1} tensors, more than petseg reads (${MAX_TENSORS})`);
  let metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of fields) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || !Object.values(raw).every((v) => typeof v === 'string')) fail('__metadata__ is not an object of strings');
      metadata = raw as Record<string, string>;
      continue;
    }
    const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (entry.dtype !== 'F32' && entry.dtype !== 'I64') {
      fail(`tensor '${name}' has dtype ${String(entry.dtype)}; petseg reads float32 weights (and int64 counters) — convert the checkpoint to float32`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has no valid shape (${JSON.stringify(shape)})`);
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) fail(`tensor '${name}' has no valid data_offsets (${JSON.stringify(offsets)})`);
    const [begin, end] = offsets as [number, number];
    const dtype = entry.dtype as SafetensorsDtype;
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!(end >= begin && end <= dataLength)) fail(`tensor '${name}' lies outside the file (offsets ${begin}..${end} of ${dataLength} data bytes): truncated?`);
    if (end - begin !== elements * BYTES[dtype]) fail(`tensor '${name}' has ${end - begin} bytes for shape [${String(shape)}] of ${dtype}`);
    entries.set(name, { dtype, shape: shape as number[], begin, end });
  }
  const ranges = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const r of ranges) {
    if (r.begin < covered) fail(`two tensors share bytes ${r.begin}..${covered} of the data (corrupt file)`);
    covered = r.end;
  }
  const total = ranges.reduce((s, r) => s + (r.end - r.begin), 0);
  if (total !== dataLength) fail(`the tensors cover ${total} of ${dataLength} data bytes (corrupt or truncated file)`);
  return { entries, metadata, dataStart };
}

/** One tensor's values, from the file's bytes (`bytes` holds the whole file). */
export function readSafetensorsTensor(bytes: Uint8Array, header: SafetensorsHeader, entry: SafetensorsEntry): Float32Array {
  const elements = (entry.end - entry.begin) / BYTES[entry.dtype];
  const at0 = bytes.byteOffset + header.dataStart + entry.begin;
  // Aligned float32 (the usual case): one copy instead of a loop (every supported host is little-endian).
  if (entry.dtype === 'F32' && at0 % 4 === 0) return new Float32Array(bytes.buffer.slice(at0, at0 + elements * 4));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Float32Array(elements);
  for (let i = 0; i < elements; i++) {
    const at = header.dataStart + entry.begin + i * BYTES[entry.dtype];
    data[i] = entry.dtype === 'F32' ? view.getFloat32(at, true) : Number(view.getBigInt64(at, true));
  }
  return data;
}

/** The header of a whole file's bytes, its lengths and offsets checked against the file's size. */
export function safetensorsHeaderOf(bytes: Uint8Array, source = 'safetensors data'): SafetensorsHeader {
  const headerLength = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, source);
  return parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), bytes.length, source);
}

/** Parse and validate a whole file's bytes; `source` (a file name) prefixes every error. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Safetensors {
  const header = safetensorsHeaderOf(bytes, source);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of header.entries) tensors.set(name, { dtype: entry.dtype, shape: entry.shape, data: readSafetensorsTensor(bytes, header, entry) });
  return { tensors, metadata: header.metadata };
}
