/**
 * A hostile user, round 2 (issue 32): every input is crafted here and the commands are run as a
 * user runs them (`node cli/<command>.js`). Run folders are locked for a run's life and hold only
 * what petseg wrote, a resume continues on the same data to the recorded epoch count, checkpoint
 * metadata and tensors are bounded and finite before a device opens, an --images folder's bad
 * entries and a full disk cost one line each, folders are never read as files, and arguments
 * are parsed strictly. Longer than the usual file because each defect gets its own small case,
 * and they share one trained checkpoint and dataset.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../engine/safetensors.js';
import { ProgressBar } from '../train/progress.js';
import { acquireRunLock, claimNewRunFolder, RunFolderInUse } from '../train/run-lock.js';
import { labArgs, type RunSettings } from '../train/settings.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { notAModelFile } from '../web/model-file.js';
import { cli, type Exit } from './helpers/cli.js';
import { readSummaries } from './helpers/tfrecord.js';

const root = new URL('..', import.meta.url).pathname;
const built = existsSync(new URL('../dist/cli/commands/train.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'petseg-hostile-'));
const data = join(work, 'data');
writeSyntheticDataset(data, { trainval: 20, test: 6, size: 40, seed: 4 });
const TINY = ['--img_size', '32', '--base_channels', '4', '--batch_size', '8'];
const RUN = ['--data_path', data, ...TINY, '--log_dir', 'none'];

/** Refused as a bad argument: one line matching `message`, exit code 2, and no device opened. */
function expectRefused(r: Exit, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.status).toBe(2);
  expect(r.stdout).not.toMatch(/petseg (training )?on /);
}

const metricsLines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { epoch: number; settings?: RunSettings; args?: Record<string, unknown>; data?: { path: string; fingerprint: string } };

/** A pid that no longer runs. */
function deadPid(): number {
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(gone.stdout.trim());
}

describe.skipIf(!built)('run folders', () => {
  test('1, 2: a folder is locked for the run\'s life: a second train or a --resume gets one line naming the holder', async () => {
    const dir = join(work, 'locked');
    const lock = acquireRunLock(dir, () => {}); // this process stands for a run still training
    expect(() => acquireRunLock(dir, () => {})).toThrow(RunFolderInUse);
    const second = await cli('train', [...RUN, '--epochs', '2', '--seed', '7', '--save_dir', dir]);
    expectRefused(second, new RegExp(`^train: ${dir} is in use by pid ${process.pid} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; wait for it to finish or choose another --save_dir\\n$`));
    expectRefused(await cli('train', ['--save_dir', dir, '--resume']), /is in use by pid/);
    expect(readdirSync(dir)).toEqual(['run.lock']);
    lock.release();
    expect(existsSync(dir)).toBe(false); // the lock made it, nothing else filled it

    // Two real runs at once: one trains, the other is refused (in use, or already holding the first's run).
    const both = await Promise.all([0, 7].map((seed) => cli('train', [...RUN, '--epochs', '2', '--seed', String(seed), '--save_dir', dir])));
    expect(both.map((r) => r.status).sort()).toEqual([0, 2]);
    expect(both.find((r) => r.status === 2)!.stderr).toMatch(/is in use by pid|already holds a run/);
    expect(metricsLines(dir)).toHaveLength(2);
    expect(readdirSync(dir)).not.toContain('run.lock');
  });

  test('1: a stale lock, of a process that no longer exists, is taken over with a line', async () => {
    const dir = join(work, 'stale');
    mkdirSync(dir);
    const pid = deadPid();
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid, host: (await import('node:os')).hostname(), since: '2026-01-01T00:00:00.000Z' }));
    const r = await cli('train', [...RUN, '--epochs', '1', '--save_dir', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`took over the lock of ${dir} from pid ${pid} (since 2026-01-01T00:00:00.000Z), which is no longer running`);
    expect(readdirSync(dir)).not.toContain('run.lock');
  });

  test('1: Ctrl-C or SIGTERM mid-run releases the lock; the folder keeps its last finished epoch', async () => {
    const dir = join(work, 'interrupted');
    const child = spawn(process.execPath, [join(root, 'cli', 'train.js'), ...RUN, '--epochs', '500', '--save_dir', dir], { stdio: 'ignore' });
    while (!existsSync(join(dir, 'metrics.jsonl'))) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(dir)).toContain('run.lock');
    child.kill('SIGTERM');
    const signal = await new Promise((done) => child.on('close', (_, s) => done(s)));
    expect(signal).toBe('SIGTERM');
    expect(readdirSync(dir)).not.toContain('run.lock');
    expect((await cli('train', ['--save_dir', dir, '--resume', '--epochs', String(metricsLines(dir).length + 1)])).status).toBe(0);
  });

  test('1: default run folders are unique to the second, with a suffix when taken, also for runs started together', async () => {
    const cwd = join(work, 'defaults');
    mkdirSync(cwd);
    const runs = await Promise.all([1, 2, 3].map(() => cli('train', [...RUN, '--epochs', '1'], { cwd })));
    expect(runs.map((r) => r.status)).toEqual([0, 0, 0]);
    const folders = readdirSync(join(cwd, 'saved_models'));
    expect(folders).toHaveLength(3);
    for (const f of folders) {
      expect(f).toMatch(/^UNet-\d{8}-\d{6}(-[23])?$/);
      expect(metricsLines(join(cwd, 'saved_models', f))).toHaveLength(1);
    }
    const first = claimNewRunFolder(join(work, 'claims'), 'UNet-20260101-000000', () => {});
    const second = claimNewRunFolder(join(work, 'claims'), 'UNet-20260101-000000', () => {});
    expect([first.dir, second.dir].map((d) => relative(join(work, 'claims'), d))).toEqual(['UNet-20260101-000000', 'UNet-20260101-000000-2']);
    first.release();
    second.release();
  });

  test('3: a folder of the user\'s is refused and nothing in it is touched; in a run folder only petseg\'s own leftovers go', async () => {
    const user = join(work, 'users-folder');
    const files: Record<string, string> = {
      'notes.tmp': 'notes',
      'report.tmp-old': 'report',
      '.commit/important.txt': 'important',
      'tensorboard/events.out.tfevents.1700000000.laptop': 'theirs',
      'best.safetensors': 'their model',
      'metrics.jsonl': '{"theirs": 1}\n',
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(user, name, '..'), { recursive: true });
      writeFileSync(join(user, name), text);
    }
    const r = await cli('train', [...RUN, '--epochs', '1', '--save_dir', user]);
    expectRefused(r, /^train: --save_dir .*users-folder holds files petseg did not write \(.*best\.safetensors.*\) and no petseg run; choose an empty or new folder\n$/);
    for (const [name, text] of Object.entries(files)) expect(readFileSync(join(user, name), 'utf8')).toBe(text);

    // A run folder: the user's files survive a resume; petseg's temporary and attempt files do not.
    const run = join(work, 'run-with-notes');
    expect((await cli('train', [...RUN.slice(0, -2), '--epochs', '1', '--save_dir', run])).status).toBe(0);
    const theirs = ['notes.tmp', 'report.tmp-old', '.commit/important.txt', 'tensorboard/events.out.tfevents.1700000000.laptop'];
    mkdirSync(join(run, '.commit'));
    for (const name of theirs) writeFileSync(join(run, name), 'keep');
    const ours = ['last.safetensors.tmp-123-456', 'tensorboard/events.out.tfevents.1700000000.vm.999.petseg'];
    for (const name of ours) writeFileSync(join(run, name), 'leftover');
    expect((await cli('train', ['--save_dir', run, '--resume', '--epochs', '2'])).status).toBe(0);
    for (const name of theirs) expect(readFileSync(join(run, name), 'utf8')).toBe('keep');
    for (const name of ours) expect(existsSync(join(run, name))).toBe(false);

    const cwd = join(work, 'empty-value');
    mkdirSync(cwd);
    expectRefused(await cli('train', [...RUN, '--save_dir='], { cwd }), /^train: --save_dir needs a value, got an empty one\n$/);
    expectRefused(await cli('train', ['--data_path', '', '--epochs', '1'], { cwd }), /^train: --data_path needs a value, got an empty one\n$/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  test('4: --resume without --epochs continues to the recorded --epochs', async () => {
    const dir = join(work, 'recorded-epochs');
    const crashed = await cli('train', [...RUN, '--epochs', '4', '--save_dir', dir], { env: { PETSEG_VERBOSE: '1', PETSEG_CRASH_AT: 'committed:2' } });
    expect(crashed.status).toBe(null); // killed by SIGKILL at the commit point of epoch 2
    const r = await cli('train', ['--save_dir', dir, '--resume']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/took over the lock .* no longer running/);
    expect(r.stdout).toMatch(/epoch 3\/4 {2}train loss[\s\S]*epoch 4\/4 {2}train loss/);
    expect(metricsLines(dir)).toHaveLength(4);
    expectRefused(await cli('train', ['--save_dir', dir, '--resume']), /^train: --resume: .* has already trained 4 epochs; pass --epochs greater than 4 to train further\n$/);
  });

  test('5: the data path is recorded absolute with a fingerprint; a resume works from anywhere, and on other data is refused', async () => {
    const home = join(work, 'home');
    const elsewhere = join(work, 'elsewhere');
    writeSyntheticDataset(join(home, 'pets'), { trainval: 20, test: 6, size: 40, seed: 4 });
    writeSyntheticDataset(join(elsewhere, 'pets'), { trainval: 20, test: 6, size: 40, seed: 4 });
    writeFileSync(join(elsewhere, 'pets', 'annotations', 'trainval.txt'), readFileSync(join(elsewhere, 'pets', 'annotations', 'trainval.txt'), 'utf8').split('\n').reverse().join('\n'));
    const dir = join(work, 'data-run');
    expect((await cli('train', ['--data_path', 'pets', ...TINY, '--epochs', '1', '--save_dir', dir], { cwd: home })).status).toBe(0);
    expect(manifest(dir).data).toEqual({ path: join(home, 'pets'), fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // The same data by another spelling, from another folder: accepted.
    expect((await cli('train', ['--save_dir', dir, '--resume', '--epochs', '2', '--data_path', join(home, 'pets')], { cwd: elsewhere })).status).toBe(0);
    expect((await cli('train', ['--save_dir', dir, '--resume', '--epochs', '3'], { cwd: elsewhere })).status).toBe(0);
    // Another dataset at the same relative path is refused, named.
    expectRefused(await cli('train', ['--save_dir', dir, '--resume', '--epochs', '4', '--data_path', 'pets'], { cwd: elsewhere }), /^train: --resume: the run in .* was trained on .*home\/pets, not .*elsewhere\/pets; drop --data_path or start a new --save_dir\n$/);
    // The run's own data changed in place: refused by the fingerprint.
    const list = join(home, 'pets', 'annotations', 'trainval.txt');
    const original = readFileSync(list, 'utf8');
    writeFileSync(list, original.split('\n').reverse().join('\n'));
    expectRefused(await cli('train', ['--save_dir', dir, '--resume', '--epochs', '4']), /^train: --resume: the split lists of .*home\/pets differ from those of .*home\/pets, which the run in .* trained on; resume on the run's data or start a new --save_dir\n$/);
    writeFileSync(list, original);
    // A run of an earlier version: its arguments as the CLI gave them (a relative data path), no settings or fingerprint; resumed from where it was started.
    const legacy = manifest(dir);
    legacy.args = labArgs(legacy.settings!, 'pets');
    delete legacy.settings;
    delete legacy.data;
    writeFileSync(join(dir, 'run.json'), JSON.stringify(legacy));
    const resumed = await cli('train', ['--save_dir', dir, '--resume', '--epochs', '4'], { cwd: home });
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    expect(metricsLines(dir)).toHaveLength(4);
  });
});

describe.skipIf(!built)('checkpoints, inference and files', () => {
  const model = join(work, 'model-run', 'best.safetensors');
  beforeAll(async () => {
    expect((await cli('train', [...RUN, '--epochs', '1', '--save_dir', join(work, 'model-run')])).status).toBe(0);
  });

  /** The model file with its petseg metadata changed by `edit`, and a tensor replaced by `poison`. */
  function crafted(name: string, edit: (info: Record<string, any>) => void, poison?: string): string { // eslint-disable-line @typescript-eslint/no-explicit-any
    const file = decodeSafetensors(readFileSync(model), model);
    const info = JSON.parse(file.metadata.petseg);
    edit(info);
    if (poison) file.tensors.get(poison)!.data[3] = Number.NaN;
    const path = join(work, `${name}.safetensors`);
    writeFileSync(path, encodeSafetensors(file.tensors, { ...file.metadata, petseg: JSON.stringify(info) }));
    return path;
  }

  test('14: checkpoint metadata gets the arguments\' bounds, checked before the device opens', async () => {
    const cases: [string, (info: Record<string, any>) => void, RegExp][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      ['size-0', (i) => (i.args.img_size = 0), /its metadata's img_size 0 is not an integer in \[16, 4096\]/],
      ['size-negative', (i) => (i.args.img_size = -32), /img_size -32 is not an integer/],
      ['size-huge', (i) => (i.args.img_size = 1048576), /img_size 1048576 is not an integer in \[16, 4096\]/],
      ['size-8192', (i) => (i.args.img_size = 8192), /img_size 8192 is not/],
      ['size-string', (i) => (i.args.img_size = '32'), /img_size "32" is not an integer/],
      ['size-odd', (i) => (i.args.img_size = 40), /img_size 40 is not a multiple of 16/],
      ['width-huge', (i) => (i.options.baseChannels = 100000), /baseChannels must be an integer in \[1, 120\], got 100000/],
    ];
    for (const [name, edit, message] of cases) {
      const path = crafted(name, edit);
      for (const command of ['evaluate', 'inference']) expectRefused(await cli(command, ['--model_path', path, '--data_path', data]), new RegExp(`^${command}: ${path}: .*${message.source}`));
    }
  });

  test('15: non-finite weights are refused at load, naming the tensor', async () => {
    const path = crafted('nan', () => {}, 'encoders.0.block.0.weight');
    expectRefused(await cli('inference', ['--model_path', path, '--images', join(data, 'images', 'synthetic_test_1.jpg'), '--out', join(work, 'nan-out')]), /^inference: .*nan\.safetensors: tensor encoders\.0\.block\.0\.weight holds 1 NaN or ±Inf value \(from a diverged run, or damaged\); petseg loads only finite tensors\n$/);
    expectRefused(await cli('evaluate', ['--model_path', path, '--data_path', data]), /tensor encoders\.0\.block\.0\.weight holds 1 NaN/);
  });

  test('11: in an --images folder a broken link, a loop, a non-UTF-8 name and a subfolder cost a line each; a folder with no image says so', async () => {
    const folder = join(work, 'photos');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    writeFileSync(join(folder, 'good.jpg'), readFileSync(join(data, 'images', 'synthetic_test_1.jpg')));
    symlinkSync(join(folder, 'gone.jpg'), join(folder, 'broken.jpg'));
    symlinkSync(join(folder, 'loop-b.jpg'), join(folder, 'loop-a.jpg'));
    symlinkSync(join(folder, 'loop-a.jpg'), join(folder, 'loop-b.jpg'));
    writeFileSync(Buffer.concat([Buffer.from(`${folder}/`), Buffer.from([0x63, 0xff, 0x74]), Buffer.from('.jpg')]), readFileSync(join(folder, 'good.jpg')));
    const r = await cli('inference', ['--model_path', model, '--images', folder, '--out', join(work, 'photos-out')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/good\.jpg: 40×40, [\d.]+% pet → /);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^inference: skipping .*broken\.jpg: a link to nothing$/),
      expect.stringMatching(/^inference: skipping .*loop-a\.jpg: a loop of links$/),
      expect.stringMatching(/^inference: skipping .*loop-b\.jpg: a loop of links$/),
      expect.stringMatching(/^inference: skipping .*: its name is not UTF-8 \(bytes 63ff742e6a7067\); rename it$/),
      expect.stringMatching(/^inference: skipping .*sub \(in the folder .*, but not a \.jpg, \.png or \.gif file\)$/),
    ]));
    const empty = join(work, 'no-photos');
    mkdirSync(empty);
    expectRefused(await cli('inference', ['--model_path', model, '--images', empty]), /^inference: --images: nothing to segment: .*no-photos: a folder with no \.jpg, \.png or \.gif file\n$/);
  });

  test('12: a full disk during inference names the file and leaves no truncated image', async (ctx) => {
    const disk = join(work, 'tiny-disk');
    mkdirSync(disk);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
    ctx.skip(mounted.status !== 0, `a 64 KB disk needs mount permission (root): ${String(mounted.stderr ?? mounted.error?.message).trim()}`);
    try {
      // A noisy 160×160 image: its mask PNG fits in 64 KB, its overlay does not.
      const pixels = new Uint8Array(randomBytes(160 * 160 * 3));
      const { encodePng } = await import('../train/images.js');
      writeFileSync(join(work, 'noise.png'), encodePng({ width: 160, height: 160, channels: 3, data: pixels }));
      const r = await cli('inference', ['--model_path', model, '--images', join(work, 'noise.png'), '--out', join(disk, 'out')]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^inference: cannot write .*tiny-disk\/out\/noise_overlay\.png \(ENOSPC: the disk is full\)/);
      expect(readdirSync(join(disk, 'out'))).toEqual(['noise_mask.png']); // whole, and nothing half-written beside it
    } finally {
      spawnSync('umount', [disk]);
    }
  });

  test('13, 16: --out that is a file and --model_path that is a folder get one line before the device opens; a folder at images/X.jpg is skipped', async () => {
    const aFile = join(work, 'a-file');
    writeFileSync(aFile, 'not a folder');
    expectRefused(await cli('inference', ['--model_path', model, '--images', join(data, 'images', 'synthetic_test_1.jpg'), '--out', aFile]), /^inference: --out .*a-file: .*a-file is a file, not a folder; choose another --out\n$/);
    expectRefused(await cli('evaluate', ['--model_path', tmpdir(), '--data_path', data]), new RegExp(`^evaluate: --model_path ${tmpdir()} is a folder, not a checkpoint file; pass the file itself\\n$`));
    expectRefused(await cli('train', ['--model', 'ResNet34_UNet', '--encoder_weights', tmpdir()]), /^train: --encoder_weights .* is a folder, not a safetensors file; pass the file itself\n$/);

    const odd = join(work, 'odd-data');
    const names = writeSyntheticDataset(odd, { trainval: 20, test: 6, size: 40, seed: 4 });
    rmSync(join(odd, 'images', `${names.trainval[1]}.jpg`));
    mkdirSync(join(odd, 'images', `${names.trainval[1]}.jpg`));
    const r = await cli('train', ['--data_path', odd, ...TINY, '--epochs', '1', '--log_dir', 'none', '--save_dir', join(work, 'odd-run')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^warning: skipping ${names.trainval[1]}: .*${names.trainval[1]}\\.jpg: a folder, not a file\\n$`));
    expect(r.stdout).toMatch(/train: 17 images/);
  });
});

describe('arguments', () => {
  test.skipIf(!built)('17: refused on the command line before any device opens, and no folder named --augment appears', async () => {
    const cwd = join(work, 'args');
    mkdirSync(cwd);
    expectRefused(await cli('train', ['--save_dir', '--augment'], { cwd }), /^train: --save_dir needs a value, got the option --augment/);
    expectRefused(await cli('train', ['--base_channels', '100000'], { cwd }), /^train: --base_channels must be in \[1, 120\], got 100000\n$/);
    expect(readdirSync(cwd)).toEqual([]);
    const r = await cli('train', [...RUN, '--epochs', '1', '--augment=0', '--save_dir', join(work, 'augment-0')]);
    expect(r.status).toBe(0);
    expect(manifest(join(work, 'augment-0')).settings?.augment).toBe(false);
  });

});

describe.skipIf(!built)("the newcomer's hour", () => {
  test('the decode cache is under the user cache folder, keyed by the dataset; --cache_dir moves it', async () => {
    const cache = join(work, 'user-cache');
    const r = await cli('train', [...RUN, '--epochs', '1', '--save_dir', join(work, 'cache-run')], { env: { PETSEG_CACHE_DIR: cache } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`train: decoding 18 images (once; the decode cache is ${join(cache, 'decoded')}/`);
    const keyed = join(cache, 'decoded', createHash('sha256').update(data).digest('hex').slice(0, 16));
    expect(readdirSync(keyed).some((f) => f.startsWith('train-32-'))).toBe(true);
    expect(readdirSync(data)).not.toContain('.petseg-cache');
    const moved = join(work, 'moved-cache');
    const e = await cli('evaluate', ['--model_path', join(work, 'cache-run', 'best.safetensors'), '--data_path', data, '--cache_dir', moved]);
    expect(e.status).toBe(0);
    expect(readdirSync(moved).some((f) => f.startsWith('valid-32-'))).toBe(true);
  });

  test('messages and help name `petseg <command>`, never a repository file', async () => {
    const cwd = join(work, 'newcomer');
    mkdirSync(cwd);
    const missing = await cli('train', ['--data_path', join(work, 'nowhere')], { cwd });
    expect(missing.stderr).toContain('fetch it with `petseg download`');
    const bench = spawnSync(process.execPath, [join(root, 'bench', 'run.js'), '--help'], { encoding: 'utf8' }).stdout;
    for (const [command, help] of [...(await Promise.all(['train', 'evaluate', 'inference', 'download', 'summary'].map(async (c) => [c, (await cli(c, ['--help'], { cwd })).stdout]))), ['bench', bench]]) {
      expect(help, command).toMatch(/^usage: petseg /);
      expect(help, command).not.toMatch(/node cli\/|\b(train|evaluate|inference|download|summary|run)\.js\b/);
    }
    expect(readdirSync(cwd)).toEqual([]); // the refused run's default folder went with it
  });

  test("Dawn's adapter warnings are filtered in petseg's own scripts too", () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'check-adapter.mjs')], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^\[setup\] WebGPU adapter: /);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('TensorBoard shows four validation images, as documented, whatever the batch', async () => {
    const big = join(work, 'valid-8');
    writeSyntheticDataset(big, { trainval: 80, test: 2, size: 40, seed: 1 });
    const dir = join(work, 'four-images');
    expect((await cli('train', ['--data_path', big, ...TINY, '--epochs', '1', '--save_dir', dir])).status).toBe(0);
    const events = readdirSync(join(dir, 'tensorboard'));
    expect(events).toEqual([expect.stringMatching(/^events\.out\.tfevents\.\d+\..+\.\d+\.petseg$/)]);
    expect(readSummaries(join(dir, 'tensorboard', events[0])).images.get('valid/input_truth_prediction')).toEqual([[1, 96, 4 * 32]]);
  });

  test('a CPU adapter warns that --precision mixed and bench --profile take long', async (ctx) => {
    const r = await cli('train', [...RUN, '--epochs', '1', '--precision', 'mixed', '--save_dir', join(work, 'mixed')]);
    ctx.skip(!/software/.test(r.stdout), 'a GPU adapter: nothing to warn of');
    ctx.skip(process.env.PETSEG_CAPS === 'gpu', 'PETSEG_CAPS=gpu describes this CPU adapter as a GPU, which gets no note');
    expect(r.stdout).toMatch(/^note: this is a CPU adapter, on which --precision mixed is slower than fp32/m);
    const args = ['--profile', '--models', 'UNet', '--img_size', '32', '--batch_size', '2', '--base_channels', '4', '--repeats', '1', '--warmup', '1'];
    const bench = spawnSync(process.execPath, [join(root, 'bench', 'run.js'), ...args], { encoding: 'utf8' });
    expect(bench.status).toBe(0);
    expect(bench.stderr).toMatch(/^note: this is a CPU adapter, on which --profile takes minutes/m);
  });
});

describe('redirected progress and the page', () => {
  afterAll(() => vi.useRealTimers());

  test('redirected output gets a progress line at least every 30 s, however long the epoch', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const lines: string[] = [];
    const bar = new ProgressBar('epoch 1/100', { write: (t: string) => lines.push(t), isTTY: false });
    bar.update({ done: 1, total: 400, loss: 0.5, dice: 0.5, images: 8 });
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(31_000);
    bar.update({ done: 2, total: 400, loss: 0.5, dice: 0.5, images: 16 });
    expect(lines).toEqual([expect.stringMatching(/^epoch 1\/100 2\/400 loss 0\.5000 dice 0\.5000 [\d.]+ img\/s ETA \d+:\d\d:\d\d\n$/)]);
  });

  test("the page says when model.safetensors is not found (404, or a server's HTML fallback) and where to put one", () => {
    const page = (ok: boolean, status: number, contentType: string | null, firstByte: number | undefined) => notAModelFile('/model.safetensors', { ok, status, contentType, firstByte });
    expect(page(false, 404, 'text/plain', undefined)).toMatch(/^No model\.safetensors next to this page \(\/model\.safetensors\): put a checkpoint .* at web\/public\/model\.safetensors .* \(HTTP 404\)$/);
    expect(page(true, 200, 'text/html; charset=utf-8', 0x3c)).toMatch(/\(the server answered with a web page\)$/);
    expect(page(true, 200, 'application/octet-stream', 0x3c)).toMatch(/web page/);
    expect(notAModelFile('/m', null)).toMatch(/the request failed/);
    expect(page(true, 200, 'application/octet-stream', 0x98)).toBe(null);
  });
});
