/**
 * TensorBoard event files written by hand: TFRecord framing (length, masked CRC32C of the length,
 * payload, masked CRC32C of the payload) around Event protobufs holding scalar and image
 * summaries. Only the fields TensorBoard needs are encoded. The file lives in a Folder
 * (train/storage.ts), so Node and the browser write the same bytes.
 */
import { reflectedCrc32 } from './crc.js';
import { concatBytes, type Folder } from './storage.js';

/** CRC-32C (Castagnoli), which TFRecord frames carry. */
export const crc32c = reflectedCrc32(0x82f63b78);

/** TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay distinct. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Protobuf writer for the few wire types needed. */
class Proto {
  private readonly parts: number[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt(value);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.parts.push(byte);
    } while (v > 0n);
  }

  private key(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number): this {
    this.key(field, 0);
    this.varint(value);
    return this;
  }

  double(field: number, value: number): this {
    this.key(field, 1);
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    this.parts.push(...new Uint8Array(view.buffer));
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    this.parts.push(...new Uint8Array(view.buffer));
    return this;
  }

  bytes(field: number, value: Uint8Array | string): this {
    const data = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    this.key(field, 2);
    this.varint(data.length);
    for (const b of data) this.parts.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** One TFRecord: u64 length, masked CRC of it, payload, masked CRC of the payload. */
export function tfRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + payload.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(payload.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(payload, 12);
  view.setUint32(12 + payload.length, maskedCrc32c(payload), true);
  return out;
}

/**
 * petseg's event files are `events.out.tfevents.<seconds>.<host>.<pid>.petseg` (TensorBoard reads
 * any name holding `tfevents`): the pid keeps two runs sharing a log folder apart, and the suffix
 * tells petseg's files from other programs', which it never deletes.
 */
const EVENT_FILE_SUFFIX = '.petseg';

/** Whether `name` is an event file petseg writes (see EVENT_FILE_SUFFIX). */
export function isPetsegEventFile(name: string): boolean {
  return name.startsWith('events.out.tfevents.') && name.endsWith(EVENT_FILE_SUFFIX);
}

/** Who writes a new event file, for its name: the host and process (a browser page: a random id). */
export interface WriterIdentity {
  host: string;
  pid: number;
}

/**
 * Events for one event file in a folder, kept in memory until flush() appends them. `resume`
 * continues a file of the folder from `bytes` on (what a run folder had committed; anything after
 * it is cut, so events of an epoch that never finished do not stay).
 */
export class SummaryWriter {
  private pending: Uint8Array[] = [];
  private written: number;

  private constructor(
    private readonly folder: Folder,
    /** The file's name in its folder. */
    readonly file: string,
    written: number,
  ) {
    this.written = written;
  }

  static async open(folder: Folder, identity: WriterIdentity, resume?: { file: string; bytes: number }): Promise<SummaryWriter> {
    const existing = resume ? await folder.stat(resume.file) : null;
    if (resume && existing) {
      await folder.truncate(resume.file, resume.bytes);
      return new SummaryWriter(folder, resume.file, Math.min(resume.bytes, existing.size));
    }
    const writer = new SummaryWriter(folder, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${identity.host}.${identity.pid}${EVENT_FILE_SUFFIX}`, 0);
    writer.write(new Proto().double(1, Date.now() / 1000).int(2, 0).bytes(3, 'brain.Event:2').finish());
    return writer;
  }

  /** The file's name and the length written so far (what a run folder's manifest commits). */
  get position(): { file: string; bytes: number } {
    return { file: this.file, bytes: this.written };
  }

  private write(event: Uint8Array): void {
    this.pending.push(tfRecord(event));
  }

  private summary(step: number, value: Uint8Array): void {
    const summary = new Proto().bytes(1, value).finish();
    this.write(new Proto().double(1, Date.now() / 1000).int(2, step).bytes(5, summary).finish());
  }

  addScalar(tag: string, value: number, step: number): void {
    this.summary(step, new Proto().bytes(1, tag).float(2, value).finish());
  }

  /** `png`: an encoded PNG of width×height (RGB: colorspace 3). */
  addImage(tag: string, png: Uint8Array, width: number, height: number, step: number): void {
    const image = new Proto().int(1, height).int(2, width).int(3, 3).bytes(4, png).finish();
    this.summary(step, new Proto().bytes(1, tag).bytes(4, image).finish());
  }

  /** Append what was added since the last flush, durably. */
  async flush(): Promise<void> {
    if (!this.pending.length) return;
    const bytes = concatBytes(this.pending);
    await this.folder.append(this.file, bytes);
    this.pending = [];
    this.written += bytes.length;
  }
}
