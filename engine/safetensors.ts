/**
 * The safetensors format (8-byte little-endian header length, JSON header, raw little-endian
 * tensor bytes), pure and platform-neutral: bytes in, bytes out. float32 tensors, plus int64
 * scalars/vectors (PyTorch's BatchNorm num_batches_tracked), read back as float32 values.
 */

export type SafetensorsDtype = 'F32' | 'I64';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface Safetensors {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, I64: 8 };

export class SafetensorsError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

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

/** Parse and validate; `source` (a file name) prefixes every error. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): Safetensors {
  const fail = (message: string): never => {
    throw new SafetensorsError(source, message);
  };
  if (bytes.length < 8) fail(`not a safetensors file: ${bytes.length} bytes is shorter than the 8-byte header length (truncated or empty?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) fail(`header length ${headerLength} exceeds the file size ${bytes.length} (truncated, or not a safetensors file)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch {
    return fail('the header is not valid JSON (not a safetensors file?)');
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, SafetensorsTensor>();
  let covered = 0;
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (entry.dtype !== 'F32' && entry.dtype !== 'I64') {
      fail(`tensor '${name}' has dtype ${entry.dtype}; petseg reads float32 weights (and int64 counters) — convert the checkpoint to float32`);
    }
    const dtype = entry.dtype as SafetensorsDtype;
    const shape = entry.shape ?? [];
    const [begin, end] = entry.data_offsets ?? [NaN, NaN];
    const elements = shape.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && end <= dataLength)) fail(`tensor '${name}' lies outside the file (offsets ${begin}..${end} of ${dataLength} data bytes): truncated?`);
    if (end - begin !== elements * BYTES[dtype]) fail(`tensor '${name}' has ${end - begin} bytes for shape [${shape}] of ${dtype}`);
    covered += end - begin;
    const at0 = bytes.byteOffset + dataStart + begin;
    if (dtype === 'F32' && at0 % 4 === 0) {
      // Aligned float32 (the usual case): one copy instead of a loop (every supported host is little-endian).
      tensors.set(name, { dtype, shape, data: new Float32Array(bytes.buffer.slice(at0, at0 + elements * 4)) });
      continue;
    }
    const data = new Float32Array(elements);
    for (let i = 0; i < elements; i++) {
      const at = dataStart + begin + i * BYTES[dtype];
      data[i] = dtype === 'F32' ? view.getFloat32(at, true) : Number(view.getBigInt64(at, true));
    }
    tensors.set(name, { dtype, shape, data });
  }
  if (covered !== dataLength) fail(`the tensors cover ${covered} of ${dataLength} data bytes (corrupt or truncated file)`);
  return { tensors, metadata };
}
