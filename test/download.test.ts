/** download: a local HTTP server serves a small generated dataset archive (Range supported). */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readSplit } from '../train/dataset.js';
import { NodeFolder } from '../train/node-folder.js';
import { DownloadError, downloadArchive, downloadDataset, type Archive } from '../train/download.js';
import { writeSyntheticDataset } from '../train/synthetic.js';

const work = mkdtempSync(join(tmpdir(), 'petseg-download-'));
const source = join(work, 'source');
let images: Buffer;
let annotations: Buffer;
let server: Server;
let base = '';
/** Requests seen (path and Range header), and how many bytes the next response stops after. */
const requests: { path: string; range?: string }[] = [];
let cutAfter: number | null = null;

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const archives = (): Archive[] => [
  { name: 'images.tar.gz', url: `${base}/images.tar.gz`, md5: md5(images), bytes: images.length },
  { name: 'annotations.tar.gz', url: `${base}/annotations.tar.gz`, md5: md5(annotations) },
];

beforeAll(async () => {
  writeSyntheticDataset(source, { trainval: 12, test: 3, size: 24, seed: 8 });
  // Same split as the official archives: images/ in one, annotations/ in the other.
  await create({ gzip: true, file: join(work, 'images.tar.gz'), cwd: source }, ['images']);
  await create({ gzip: true, file: join(work, 'annotations.tar.gz'), cwd: source }, ['annotations']);
  images = readFileSync(join(work, 'images.tar.gz'));
  annotations = readFileSync(join(work, 'annotations.tar.gz'));
  server = createServer((req, res) => {
    requests.push({ path: req.url!, range: req.headers.range });
    const body = req.url === '/images.tar.gz' ? images : req.url === '/annotations.tar.gz' ? annotations : req.url === '/corrupt.tar.gz' ? Buffer.from('definitely not gzip data') : null;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
    if (start >= body.length) {
      res.writeHead(416).end();
      return;
    }
    const rest = body.subarray(start);
    res.writeHead(start ? 206 : 200, { 'Content-Length': rest.length, ...(start ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (cutAfter !== null) {
      // Send part of the body, then drop the connection: an interrupted download.
      res.write(rest.subarray(0, cutAfter));
      cutAfter = null;
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe('download', () => {
  test('an interrupted download resumes with a Range request, is verified and extracted into the layout', async () => {
    const dir = join(work, 'dataset');
    cutAfter = 700;
    await expect(downloadArchive(archives()[0], dir)).rejects.toThrow(DownloadError);
    expect(statSync(join(dir, 'images.tar.gz.part')).size).toBe(700);
    expect(existsSync(join(dir, 'images.tar.gz'))).toBe(false);

    requests.length = 0;
    const progress: number[] = [];
    const lines: string[] = [];
    await downloadDataset(dir, { archives: archives(), onProgress: (p) => progress.push(p.received), log: (l) => lines.push(l) });
    expect(requests[0]).toEqual({ path: '/images.tar.gz', range: 'bytes=700-' });
    expect(progress.at(-1)).toBe(annotations.length);
    expect(readFileSync(join(dir, 'images.tar.gz'))).toEqual(images);
    expect(existsSync(join(dir, 'images.tar.gz.part'))).toBe(false);
    expect(lines).toContain('images.tar.gz: downloaded and verified (MD5 ' + md5(images) + ')');
    expect(await readSplit(new NodeFolder(dir), 'train')).toEqual(await readSplit(new NodeFolder(source), 'train'));
    expect(readFileSync(join(dir, 'images', 'synthetic_test_1.jpg'))).toEqual(readFileSync(join(source, 'images', 'synthetic_test_1.jpg')));

    // A second run finds both archives verified and extracted: nothing is fetched.
    requests.length = 0;
    lines.length = 0;
    await downloadDataset(dir, { archives: archives(), log: (l) => lines.push(l) });
    expect(requests).toEqual([]);
    expect(lines).toEqual([`images.tar.gz: already here and verified (MD5 ${md5(images)})`, `annotations.tar.gz: already here and verified (MD5 ${md5(annotations)})`]);
  });

  test('a checksum mismatch deletes the download and says so; wrong size, HTTP errors and bad archives are clear errors', async () => {
    const dir = join(work, 'bad');
    const wrong = { ...archives()[1], md5: '0'.repeat(32) };
    await expect(downloadArchive(wrong, dir)).rejects.toThrow(/annotations\.tar\.gz: MD5 [0-9a-f]{32} is not the expected 0{32}; deleted the download, run again/);
    expect(existsSync(join(dir, 'annotations.tar.gz.part'))).toBe(false);
    await expect(downloadArchive({ ...archives()[0], bytes: 5 }, dir)).rejects.toThrow(/is \d+ bytes, expected 5; is the URL right\?/);
    await expect(downloadArchive({ name: 'x.tar.gz', url: `${base}/missing`, md5: '' }, dir)).rejects.toThrow(/missing: HTTP 404/);
    await expect(downloadArchive({ name: 'x.tar.gz', url: 'http://127.0.0.1:9/x', md5: '' }, dir)).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:9\/x .*the download resumes/);
    const corrupt = Buffer.from('definitely not gzip data');
    await expect(downloadDataset(dir, { archives: [{ name: 'corrupt.tar.gz', url: `${base}/corrupt.tar.gz`, md5: md5(corrupt) }], log: () => {} })).rejects.toThrow(/cannot extract .*corrupt\.tar\.gz/);
    writeFileSync(join(dir, 'images.tar.gz'), 'tampered');
    await expect(downloadArchive(archives()[0], dir)).rejects.toThrow(/images\.tar\.gz exists but its MD5 is not/);
  });

  test('cli/download.js checks the official MD5s, so a mirror serving other files fails with one line', async () => {
    const root = new URL('..', import.meta.url).pathname;
    if (!existsSync(join(root, 'dist', 'cli', 'commands', 'download.js'))) return;
    const result = await new Promise<{ status: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, ['cli/download.js', '--data_path', join(work, 'mirror'), '--base_url', base], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => done({ status, stderr }));
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^download: .*images\.tar\.gz is \d+ bytes, expected 791918971; is the URL right\?\n$/);
  });
});
