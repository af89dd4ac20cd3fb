/** The main job as a user runs it: `node cli/train.js` (built by set-up; npm test builds first). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const built = existsSync(new URL('../dist/cli/commands/train.js', import.meta.url));

describe.skipIf(!built)('node cli/train.js', () => {
  test('the smoke run trains and the loss falls', () => {
    const out = execFileSync(process.execPath, ['cli/train.js', '--epochs', '8', '--seed', '3'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const losses = [...out.matchAll(/loss (\d+\.\d+)  accuracy/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(8);
    expect(losses[7]).toBeLessThan(losses[0]);
    expect(out).toMatch(/smoke run on .+\[node \(dawn\)/);
  });

  test('bad arguments: one clear line and exit code 2', () => {
    const run = spawnSync(process.execPath, ['cli/train.js', '--epochs', '0'], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--epochs must be in [1, inf], got 0');
    const unknown = spawnSync(process.execPath, ['cli/train.js', '--bogus'], { cwd: root, encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown option --bogus');
  });

  test('--help lists the options', () => {
    const out = execFileSync(process.execPath, ['cli/train.js', '--help'], { cwd: root, encoding: 'utf8' });
    expect(out).toContain('--epochs');
    expect(out).toContain('--seed');
  });

  test('summary prints parameter counts equal to PyTorch\'s', () => {
    const out = execFileSync(process.execPath, ['cli/summary.js', '--model', 'ResNet34_UNet'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out).toContain('24,451,585 parameters'); // models/pytorch/definitions.py
    const unet = execFileSync(process.execPath, ['cli/summary.js', '--model', 'UNet', '--base_channels', '8'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(unet).toContain('486,553 parameters');
  });
});
