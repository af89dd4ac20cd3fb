/** The commands as a user runs them (built by set-up; npm test builds first). */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, test } from 'vitest';
import { ttyLine } from '../train/progress.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { cli as runCli } from './helpers/cli.js';

/** A command, with extra environment variables. */
const cli = (command: string, args: string[], env: Record<string, string> = {}) => runCli(command, args, { env });

const root = new URL('..', import.meta.url).pathname;
const built = existsSync(new URL('../dist/cli/commands/train.js', import.meta.url));
const SAMPLE_GIF = new URL('../../shared/data/oxford-pet-sample/images/Abyssinian_34.jpg', import.meta.url).pathname;

const work = mkdtempSync(join(tmpdir(), 'petseg-cli-'));
const data = join(work, 'data');
writeSyntheticDataset(data, { trainval: 20, test: 6, size: 40, seed: 4 });
const run = join(work, 'run');

const TINY = ['--img_size', '32', '--base_channels', '4', '--batch_size', '6'];

describe.skipIf(!built)('command line', () => {
  test('train.js trains on --data_path and writes the run folder', async () => {
    const r = await cli('train', ['--data_path', data, ...TINY, '--epochs', '2', '--save_dir', run]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/petseg training on .+\[node \(dawn\)/);
    expect(r.stdout).toMatch(/train: 18 images/);
    expect(r.stdout).toMatch(/epoch 2\/2 {2}train loss/);
    expect(r.stdout).toMatch(/done: best valid loss \d\.\d{4}, Dice \d\.\d{4} at epoch [12]/);
    for (const f of ['best.safetensors', 'last.safetensors', 'last.optim.safetensors', 'metrics.jsonl']) expect(existsSync(join(run, f))).toBe(true);
    expect(readdirSync(join(run, 'tensorboard')).some((f) => f.startsWith('events.out.tfevents.'))).toBe(true);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  test('--resume continues the run; arguments that define the run must agree', async () => {
    const mismatch = await cli('train', ['--save_dir', run, '--resume', '--epochs', '3', '--seed', '9']);
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr).toMatch(/^train: --resume: the run in .* was trained with --seed 0, not 9; drop --seed or start a new --save_dir\n$/);
    const r = await cli('train', ['--save_dir', run, '--resume', '--epochs', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/resuming .* after epoch 2/);
    expect(r.stdout).toMatch(/epoch 3\/3 {2}train loss/);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    const again = await cli('train', ['--data_path', data, ...TINY, '--save_dir', run]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already holds a run .* pass --resume/);
    expect((await cli('train', ['--resume'])).stderr).toMatch(/^train: --resume needs the --save_dir of the run to continue\n$/);
  });

  test('evaluate.js and inference.js score the valid and test splits (--json); the model type comes from the checkpoint', async () => {
    const best = join(run, 'best.safetensors');
    const valid = await cli('evaluate', ['--model_path', best, '--data_path', data, '--json']);
    expect(valid.stderr).toBe('');
    expect(valid.status).toBe(0);
    const v = JSON.parse(valid.stdout);
    expect(v).toMatchObject({ split: 'valid', images: 2, model: 'UNet', img_size: 32, threshold: 0.5 });
    for (const key of ['dice', 'iou', 'dataset_dice', 'loss']) expect(v[key]).toBeGreaterThanOrEqual(0);
    const test_ = await cli('inference', ['--model_path', best, '--data_path', data, '--json', '--mask_threshold', '0.4']);
    expect(test_.status).toBe(0);
    expect(JSON.parse(test_.stdout)).toMatchObject({ split: 'test', images: 6, threshold: 0.4 });
    const line = await cli('evaluate', ['--model_path', best, '--data_path', data]);
    expect(line.stdout).toMatch(/valid: Dice \d\.\d{4} \(mean per image; dataset-level \d\.\d{4}\), IoU \d\.\d{4}, BCE \d\.\d{4} over 2 images — UNet epoch \d from /);
  });

  test('inference.js --images writes a mask and an overlay at each image\'s resolution; unreadable files are skipped with a line', async () => {
    const odd = new PNG({ width: 37, height: 23 });
    odd.data.fill(128);
    const oddFile = join(work, 'odd.png');
    writeFileSync(oddFile, PNG.sync.write(odd));
    const broken = join(work, 'broken.jpg');
    writeFileSync(broken, 'not an image');
    const images = [join(data, 'images', 'synthetic_test_1.jpg'), oddFile, ...(existsSync(SAMPLE_GIF) ? [SAMPLE_GIF] : [])];
    const out = join(work, 'masks');
    const r = await cli('inference', ['--model_path', join(run, 'best.safetensors'), '--images', ...images, broken, '--out', out, '--json']);
    expect(r.status).toBe(1); // one file failed
    expect(r.stderr).toMatch(/^inference: skipping .*broken\.jpg: .*broken\.jpg: .*\n$/);
    const report = JSON.parse(r.stdout);
    expect(report.images).toHaveLength(images.length);
    expect(report.failed.map((f: { image: string }) => f.image)).toEqual([broken]);
    for (const item of report.images) {
      const mask = PNG.sync.read(readFileSync(item.mask));
      const overlay = PNG.sync.read(readFileSync(item.overlay));
      expect([mask.width, mask.height]).toEqual([item.width, item.height]);
      expect([overlay.width, overlay.height]).toEqual([item.width, item.height]);
      for (let i = 0; i < mask.data.length; i += 4) expect([0, 255]).toContain(mask.data[i]);
    }
    expect(report.images[1]).toMatchObject({ width: 37, height: 23 });
    expect(existsSync(join(out, 'odd_mask.png'))).toBe(true);
    const ok = await cli('inference', ['--model_path', join(run, 'best.safetensors'), '--images', oddFile, '--out', out]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/odd\.png: 37×23, \d+\.\d% pet → .*odd_mask\.png/);
  });

  test('inference --images: same names get -2, -3; --images=FILE and repeated --images add up; a folder stands for its images', async () => {
    const dir = join(work, 'same-names');
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    const png = (w: number, h: number) => {
      const image = new PNG({ width: w, height: h });
      image.data.fill(90);
      return PNG.sync.write(image);
    };
    writeFileSync(join(dir, 'cat.png'), png(9, 7));
    writeFileSync(join(dir, 'cat.jpg'), readFileSync(join(data, 'images', 'synthetic_test_1.jpg')));
    writeFileSync(join(sub, 'cat.png'), png(5, 6));
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    const out = join(work, 'same-out');
    const model = join(run, 'best.safetensors');
    const r = await cli('inference', ['--model_path', model, `--images=${join(dir, 'cat.png')}`, join(dir, 'cat.jpg'), '--out', out, '--images', join(sub, 'cat.png'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { images: { image: string; mask: string; width: number }[] };
    expect(report.images.map((i) => [i.image.slice(dir.length + 1), i.mask.slice(out.length + 1), i.width])).toEqual([
      ['cat.png', 'cat_mask.png', 9],
      ['cat.jpg', 'cat-2_mask.png', 40],
      ['sub/cat.png', 'cat-3_mask.png', 5],
    ]);
    const folder = await cli('inference', ['--model_path', model, '--images', dir, '--out', join(work, 'folder-out'), '--json']);
    expect(folder.status).toBe(0);
    expect(folder.stderr).toMatch(/^inference: skipping .*notes\.txt \(in the folder .*, but not a \.jpg, \.png or \.gif file\)\ninference: skipping .*sub \(in the folder/);
    expect((JSON.parse(folder.stdout) as { images: unknown[] }).images).toHaveLength(2);
  });

  test('bad input: one clear line each, exit code 2 for a bad argument, found before any device opens or folder is made', async () => {
    const best = join(run, 'best.safetensors');
    const aFile = join(work, 'a-file');
    writeFileSync(aFile, 'not a folder');
    const cases: [string, string[], RegExp][] = [
      ['train', ['--epochs', '0'], /^train: --epochs must be in \[1, inf\], got 0\n$/],
      ['train', ['--seed', '1e300'], /^train: --seed must be in \[0, 4294967295\], got 1e\+300\n$/],
      ['train', ['--img_size', '100000'], /^train: --img_size must be in \[16, 4096\], got 100000\n$/],
      ['train', ['--bogus'], /^train: unknown option --bogus/],
      ['train', ['--mask_threshold', '1.5'], /^train: --mask_threshold must be in \[0, 1\], got 1.5\n$/],
      ['train', ['--data_path', join(work, 'nowhere'), ...TINY, '--save_dir', join(work, 'r2')], /^train: --data_path .*nowhere is not a folder; expected the Oxford-IIIT Pet layout/],
      ['train', ['--model', 'VGG'], /^train: --model VGG is not a model; choose UNet or ResNet34_UNet\n$/],
      ['train', ['--data_path', data, ...TINY, '--save_dir', join(work, 'r6'), '--precision', 'fp16'], /^train: --precision fp16 is not a precision; choose fp32 or mixed\n$/],
      ['train', ['--data_path', data, '--img_size', '40', '--save_dir', join(work, 'r3')], /^train: --img_size 40 must be a multiple of 16 for UNet/],
      ['train', ['--data_path', data, ...TINY, '--save_dir', join(aFile, 'run')], /^train: --save_dir .*a-file\/run: .*a-file is a file, not a folder; choose another --save_dir\n$/],
      ['train', ['--data_path', data, ...TINY, '--save_dir', join(work, 'r4'), '--encoder_weights', aFile], /^train: --encoder_weights: only ResNet34_UNet has a pretrained encoder; pass --model ResNet34_UNet or drop it\n$/],
      ['train', ['--data_path', data, '--model', 'ResNet34_UNet', '--img_size', '32', '--save_dir', join(work, 'r5'), '--encoder_weights', aFile], /^train: .*a-file: the header claims \d+ bytes, more than the 104857600-byte limit \(not a safetensors file\?\)\n$/],
      ['evaluate', ['--data_path', data], /^evaluate: --model_path is required/],
      ['evaluate', ['--model_path', join(work, 'none.safetensors'), '--data_path', data], /^evaluate: --model_path .*none\.safetensors does not exist\n$/],
      ['evaluate', ['--model_path', best], /^evaluate: --data_path is required/],
      ['evaluate', ['--model_path', best, '--data_path', join(work, 'nowhere')], /^evaluate: --data_path .*nowhere is not a folder/],
      ['evaluate', ['--model_path', best, '--data_path', data, '--model', 'ResNet34_UNet'], /^evaluate: .*best\.safetensors: this checkpoint holds a UNet model, not ResNet34_UNet; pass --model UNet or another file\n$/],
      ['evaluate', ['--model_path', best, '--data_path', data, '--img_size', '40'], /^evaluate: --img_size 40 must be a multiple of 16 for UNet\n$/],
      ['evaluate', ['--model_path', join(run, 'metrics.jsonl'), '--data_path', data], /^evaluate: .*metrics\.jsonl: /],
      ['inference', ['--model_path', best, '--images'], /^inference: --images needs at least one file/],
      ['inference', ['--model_path', best, '--mask_threshold', '-0.1', '--data_path', data], /^inference: --mask_threshold must be in \[0, 1\], got -0.1\n$/],
    ];
    for (const [command, args, message] of cases) {
      const r = await cli(command, args);
      expect({ args, stderr: r.stderr }).toEqual({ args, stderr: expect.stringMatching(message) });
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      // Refused before the device opened: nothing was printed about the adapter.
      expect(r.stdout, args.join(' ')).not.toMatch(/petseg (training )?on /);
    }
    expect(existsSync(join(work, 'r2'))).toBe(false);
    expect(existsSync(join(work, 'r3'))).toBe(false);
  });

  test("Dawn's adapter warnings are filtered from normal output and shown with PETSEG_VERBOSE", async () => {
    const quiet = await cli('summary', ['--model', 'UNet', '--base_channels', '4']);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
    const verbose = await cli('summary', ['--model', 'UNet', '--base_channels', '4'], { PETSEG_VERBOSE: '1' });
    expect(verbose.status).toBe(0);
    // Only where the adapter is one on which Dawn warns (lavapipe does).
    if (/llvmpipe|lavapipe/.test(quiet.stdout + verbose.stdout) || verbose.stderr) expect(verbose.stderr).toMatch(/artificially reduced/);
  });

  test('no --data_path: the built-in synthetic set is written once and trained on', async () => {
    const cache = join(work, 'cache');
    const r = await cli('train', ['--epochs', '1', '--img_size', '32', '--base_channels', '4', '--save_dir', join(work, 'synthetic-run'), '--log_dir', 'none'], { XDG_CACHE_HOME: cache });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/no --data_path: wrote the built-in synthetic set in .*petseg\/synthetic-v1/);
    expect(r.stdout).toMatch(/train: 180 images/);
    expect(r.stdout).toMatch(/epoch 1\/1 {2}train loss/);
    expect(existsSync(join(work, 'synthetic-run', 'tensorboard'))).toBe(false);
  });

  test('--help lists the lab\'s options', async () => {
    const out = (await cli('train', ['--help'])).stdout;
    for (const option of ['--data_path', '--seed', '--epochs', '--lr', '--weight_decay', '--batch_size', '--model', '--save_dir', '--mask_threshold', '--img_size', '--augment', '--base_channels', '--resume', '--log_dir']) {
      expect(out).toContain(option);
    }
    expect((await cli('evaluate', ['--help'])).stdout).toContain('--model_path');
    expect((await cli('inference', ['--help'])).stdout).toContain('--images');
    expect((await cli('download', ['--help'])).stdout).toContain('--data_path');
  });

  test('summary prints parameter counts equal to PyTorch\'s', async () => {
    expect((await cli('summary', ['--model', 'ResNet34_UNet'])).stdout).toContain('24,451,585 parameters'); // models/pytorch/definitions.py
    expect((await cli('summary', ['--model', 'UNet', '--base_channels', '8'])).stdout).toContain('486,553 parameters');
  });
});

test('the TTY progress line fits the terminal and always keeps the counts and the ETA', () => {
  const u = { done: 12, total: 23, loss: 0.4576, dice: 0.9131, images: 96 };
  const stats = 'loss 0.4576 dice 0.9131 12.9 img/s';
  for (const width of [200, 79, 60, 40, 20]) {
    const line = ttyLine('epoch 3/5', u, stats, '00:03', width);
    expect(line.length, `${width}: ${line}`).toBeLessThanOrEqual(width);
    expect(line, `${width}`).toMatch(/ETA 00:03$/);
  }
  expect(ttyLine('epoch 3/5', u, stats, '00:03', 200)).toMatch(/^epoch 3\/5 \[#{13}\.{11}\] 12\/23 loss/);
  expect(ttyLine('epoch 3/5', u, stats, '00:03', 66)).toMatch(/12\/23 loss .* ETA 00:03$/);
});
