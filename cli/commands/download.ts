/** `petseg download` — fetch, verify and unpack the Oxford-IIIT Pet archives. */
import { resolve } from 'node:path';
import { readSplit, NodeFolder, OXFORD_PET_ARCHIVES, downloadDataset, type DownloadProgress } from '../../train/index.js';
import { parseCommandArgs, reportError, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  data_path: { type: 'string', default: 'dataset/oxford-iiit-pet', help: 'folder to download and extract into (then pass it to petseg train --data_path)' },
  base_url: { type: 'string', help: 'fetch the archives from this folder URL instead (a mirror); the MD5s are still checked' },
};

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** A progress line per archive: redrawn in place on a TTY, every 10% otherwise. */
function progressPrinter(stream: NodeJS.WriteStream): (p: DownloadProgress) => void {
  const started = new Map<string, number>();
  const lastTenth = new Map<string, number>();
  return (p) => {
    if (!started.has(p.name)) started.set(p.name, performance.now());
    const seconds = (performance.now() - started.get(p.name)!) / 1000;
    const rate = (p.received - p.resumedFrom) / Math.max(seconds, 1e-3);
    const share = p.total ? p.received / p.total : null;
    const line =
      `${p.name} ${share === null ? '' : `${(100 * share).toFixed(1)}% `}${megabytes(p.received)}${p.total ? `/${megabytes(p.total)}` : ''} MB ` +
      `${megabytes(rate)} MB/s${p.total ? ` ETA ${Math.round((p.total - p.received) / Math.max(rate, 1))} s` : ''}${p.resumedFrom ? ` (resumed at ${megabytes(p.resumedFrom)} MB)` : ''}`;
    if (stream.isTTY) {
      stream.write(`\r${line}\x1b[K${p.received === p.total ? '\n' : ''}`);
      return;
    }
    const tenth = share === null ? 0 : Math.floor(share * 10);
    if (tenth > (lastTenth.get(p.name) ?? 0)) {
      lastTenth.set(p.name, tenth);
      stream.write(`${line}\n`);
    }
  };
}

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('download', 'Download images.tar.gz and annotations.tar.gz (about 800 MB), verify them, and extract the Oxford-IIIT Pet layout.', argv, OPTIONS);
  if (typeof args === 'number') return args;
  try {
    const dir = resolve(args.data_path as string);
    const base = args.base_url as string | undefined;
    const archives = OXFORD_PET_ARCHIVES.map((a) => (base ? { ...a, url: `${base.replace(/\/+$/, '')}/${a.name}` } : a));
    console.log(`downloading Oxford-IIIT Pet into ${dir}`);
    await downloadDataset(dir, { archives, onProgress: progressPrinter(process.stdout) });
    const data = new NodeFolder(dir);
    const train = (await readSplit(data, 'train')).length;
    const valid = (await readSplit(data, 'valid')).length;
    const test = (await readSplit(data, 'test')).length;
    console.log(`ready: ${train} train, ${valid} valid, ${test} test images; train with: petseg train --data_path ${dir}`);
    return 0;
  } catch (err) {
    return reportError('download', err);
  }
}
