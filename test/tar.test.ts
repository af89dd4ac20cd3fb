/**
 * The .tar.gz reader `petseg download` and the page share (train/tar.ts): what node-tar writes
 * (long names, pax headers, folders) unpacks whole; entries that would land outside the target
 * folder are refused naming the entry; links are skipped; a truncated or damaged archive is one
 * line; chunks of any size give the same files.
 */
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { create } from 'tar';
import { describe, expect, test } from 'vitest';
import { ArchiveError, safeArchivePath, unpackTarGz } from '../train/tar.js';

/** One tar entry written by hand (ustar header with its checksum), for names node-tar refuses to write. */
function entry(name: string, type: string, data: Uint8Array = new Uint8Array(0), link = ''): Uint8Array {
  const header = new Uint8Array(512);
  const put = (text: string, at: number, length: number) => header.set(new TextEncoder().encode(text).subarray(0, length), at);
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  put('00000000000\0', 136, 12);
  put(type, 156, 1);
  put(link, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  header.fill(0x20, 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padded = new Uint8Array(512 + Math.ceil(data.length / 512) * 512);
  padded.set(header);
  padded.set(data, 512);
  return padded;
}

const archive = (...entries: Uint8Array[]) => gzipSync(concat(...entries, new Uint8Array(1024)));
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** Feed `bytes` in chunks of `size`; collect what the reader hands over. */
async function unpack(bytes: Uint8Array, size = 7919): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  async function* chunks() {
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
  }
  await unpackTarGz(chunks(), 'test.tar.gz', async (path, data) => void files.set(path, new TextDecoder().decode(data)));
  return files;
}

describe('tar.gz reader', () => {
  test('what node-tar writes unpacks whole (long names, pax headers, folders), whatever the chunk size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petseg-tar-'));
    const long = `annotations/${'x'.repeat(150)}/trimap.png`;
    mkdirSync(join(dir, 'src', 'images'), { recursive: true });
    mkdirSync(join(dir, 'src', long, '..'), { recursive: true });
    writeFileSync(join(dir, 'src', 'images', 'a.jpg'), 'image a');
    writeFileSync(join(dir, 'src', long), 'a long name');
    writeFileSync(join(dir, 'src', 'images', 'empty.jpg'), '');
    await create({ gzip: true, file: join(dir, 'a.tar.gz'), cwd: join(dir, 'src') }, ['images', 'annotations']);
    const bytes = new Uint8Array(readFileSync(join(dir, 'a.tar.gz')));
    const expected = new Map([['images/a.jpg', 'image a'], ['images/empty.jpg', ''], [long, 'a long name']]);
    for (const size of [1, 100, 513, 1 << 20]) expect(new Map([...(await unpack(bytes, size))].sort())).toEqual(new Map([...expected].sort()));
  });

  test('an entry that would land outside the folder is refused naming it; links are skipped', async () => {
    for (const name of ['../escape.txt', 'images/../../escape.txt', '/etc/passwd', 'C:evil', 'a\\b']) {
      await expect(unpack(archive(entry(name, '0', new TextEncoder().encode('x'))))).rejects.toThrow(new ArchiveError(`test.tar.gz: the entry '${name}' would be written outside the target folder`));
    }
    const files = await unpack(archive(entry('./images/ok.jpg', '0', new TextEncoder().encode('ok')), entry('images/link.jpg', '2', new Uint8Array(0), '/etc/passwd'), entry('images/hard.jpg', '1', new Uint8Array(0), 'images/ok.jpg')));
    expect([...files]).toEqual([['images/ok.jpg', 'ok']]);
    expect(safeArchivePath('./', 'x')).toBeNull();
  });

  test('a truncated or damaged archive is one line naming it', async () => {
    const whole = archive(entry('images/a.jpg', '0', new Uint8Array(5000)));
    const raw = concat(entry('images/a.jpg', '0', new Uint8Array(5000))).subarray(0, 2000);
    await expect(unpack(gzipSync(raw))).rejects.toThrow(/^test\.tar\.gz: the archive ends inside 'images\/a\.jpg' \(truncated\)$/);
    await expect(unpack(whole.subarray(0, whole.length - 40))).rejects.toThrow(/^test\.tar\.gz: not a readable \.tar\.gz \(/);
    await expect(unpack(new TextEncoder().encode('definitely not gzip'))).rejects.toThrow(/^test\.tar\.gz: not a readable \.tar\.gz \(/);
  });
});
