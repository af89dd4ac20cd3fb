/**
 * Arguments without a device or a process: the command-line parser, --help, the run settings'
 * checks and their messages as the library and the command line say them, and the lab's
 * snake_case arguments a checkpoint records. The commands themselves run in cli.test.ts and
 * hostile.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { asUsageError, cliMessage, flagOf, givenOptions, parseArgs, usage, UsageError } from '../cli/commands/args.js';
import { OPTIONS as BENCH } from '../cli/commands/bench.js';
import { OPTIONS as EVALUATE } from '../cli/commands/evaluate.js';
import { OPTIONS as INFERENCE } from '../cli/commands/inference.js';
import { OPTIONS as TRAIN } from '../cli/commands/train.js';
import { checkSettings, labArgs, OptionError, type RunSettings } from '../train/index.js';
import { firstDifference, settingsFromLabArgs } from '../train/settings.js';

const parse = (...argv: string[]) => parseArgs(argv, TRAIN) as Record<string, unknown>;

describe('the parser', () => {
  test('defaults, --name value, --name=value, and a value holding =', () => {
    expect(parse()).toMatchObject({ epochs: TRAIN.epochs.default, batch_size: TRAIN.batch_size.default, model: 'UNet' });
    expect(parse('--epochs', '3', '--lr=0.01')).toMatchObject({ epochs: 3, lr: 0.01 });
    expect(parse('--save_dir=a=b').save_dir).toBe('a=b');
    expect(parseArgs(['--help'], TRAIN)).toBe('help');
    expect(parseArgs(['--version'], TRAIN)).toBe('version');
    expect([...givenOptions(['--lr=1', '--epochs', '2', 'x'])]).toEqual(['lr', 'epochs']);
  });

  test('17: booleans take true/false, yes/no, 1/0; a value that is an option, an empty value and a huge width are refused', () => {
    for (const [word, value] of [['0', false], ['no', false], ['false', false], ['1', true], ['yes', true], ['TRUE', true]] as const) {
      expect(parse(`--augment=${word}`).augment).toBe(value);
      expect(parse('--augment', word).augment).toBe(value);
    }
    expect(parse('--augment', '--resume')).toMatchObject({ augment: true, resume: true });
    expect(() => parse('--augment=maybe')).toThrow(/^--augment takes true\/false, yes\/no or 1\/0, got 'maybe'$/);
    expect(() => parse('--save_dir', '--augment')).toThrow(/^--save_dir needs a value, got the option --augment/);
    expect(() => parse('--save_dir=')).toThrow(/^--save_dir needs a value, got an empty one$/);
    expect(() => parse('--base_channels', '100000')).toThrow(/^--base_channels must be in \[1, 120\], got 100000$/);
  });

  test('unknown options, non-numbers and non-integers: a UsageError naming the option', () => {
    for (const argv of [['--nope'], ['--epochs', 'ten'], ['--epochs', '2.5'], ['--lr', 'NaN']]) {
      expect(() => parse(...argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parse(...argv), argv.join(' ')).toThrow(new RegExp(argv[0]));
    }
  });

  test("help: every option's description starts in its own column, apart from its name", () => {
    for (const specs of [TRAIN, EVALUATE, INFERENCE, BENCH]) {
      const lines = usage('train', 'summary', specs).split('\n').filter((l) => l.startsWith('  --'));
      expect(lines.length).toBeGreaterThan(2);
      for (const line of lines) expect(line, line).toMatch(/^ {2}--\S+( <\w+>| \[yes\|no\])?( {2,}\S|$)/);
    }
    expect(usage('inference', 'summary', INFERENCE)).toMatch(/^usage: petseg infer /);
  });
});

const SETTINGS: RunSettings = {
  model: 'UNet',
  modelOptions: { baseChannels: 8 },
  seed: 1,
  epochs: 2,
  lr: 1e-3,
  weightDecay: 1e-4,
  batchSize: 4,
  imgSize: 64,
  augment: true,
  maskThreshold: 0.5,
  precision: 'fp32',
  freezeEncoderEpochs: 0,
};

describe('run settings', () => {
  // Each bad value, the field its message names first, and what the message says.
  const refused: [Partial<RunSettings>, string, RegExp][] = [
    [{ model: 'SegNet' as RunSettings['model'] }, 'model', /is not a model; choose UNet or ResNet34_UNet/],
    [{ precision: 'bf16' as RunSettings['precision'] }, 'precision', /choose fp32 or mixed/],
    [{ maskThreshold: 1.5 }, 'maskThreshold', /must be in \[0, 1\], got 1.5/],
    [{ epochs: 0 }, 'epochs', /integer ≥ 1, got 0/],
    [{ batchSize: 2.5 }, 'batchSize', /integer ≥ 1, got 2.5/],
    [{ imgSize: 60 }, 'imgSize', /60 must be a multiple of 16 for UNet \(e\.g\. 64\)/],
    [{ modelOptions: { baseChannels: 0 } }, 'baseChannels', /must be an integer in \[1, 120\], got 0/],
    [{ seed: -1 }, 'seed', /must be an integer in \[0, 4294967295\]/],
    [{ lr: Number.NaN }, 'lr', /must be positive, got NaN/],
    [{ weightDecay: -1 }, 'weightDecay', /must be ≥ 0/],
    [{ freezeEncoderEpochs: 2 }, 'freezeEncoderEpochs', /only ResNet34_UNet has a pretrained encoder; pass \S+ ResNet34_UNet or drop it/],
  ];

  test.each(refused)('%o: an OptionError naming {%s}, as the library and as the command line say it', (change, field, says) => {
    const err = (() => {
      try {
        checkSettings({ ...SETTINGS, ...change });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(OptionError);
    const message = (err as OptionError).message;
    expect(message).toMatch(says);
    expect(message.startsWith(field) || message.includes(`: only`)).toBe(true);
    expect(message).not.toMatch(/[{}]/);
    expect(cliMessage(err)).toContain(flagOf(field));
    expect(asUsageError(err)).toBeInstanceOf(UsageError);
    expect(asUsageError(err).message).toBe(cliMessage(err));
  });

  test('the flag of a field is its snake_case form, but where the command line names it otherwise', () => {
    expect(['lr', 'weightDecay', 'freezeEncoderEpochs', 'profileSteps'].map(flagOf)).toEqual(['--lr', '--weight_decay', '--freeze_encoder_epochs', '--profile']);
    for (const field of ['batchSize', 'imgSize', 'maskThreshold', 'weightDecay', 'encoderLr', 'encoderWeights', 'freezeEncoderEpochs']) {
      expect(TRAIN, field).toHaveProperty(flagOf(field).slice(2));
    }
  });

  test("checkpoints record the lab's snake_case arguments, and an earlier version's arguments read back as settings", () => {
    const args = labArgs(SETTINGS, 'data/pets');
    expect(args).toEqual({
      data_path: 'data/pets', model: 'UNet', epochs: 2, batch_size: 4, lr: 1e-3, weight_decay: 1e-4, img_size: 64, mask_threshold: 0.5, augment: true, seed: 1, precision: 'fp32', base_channels: 8,
    });
    const back = settingsFromLabArgs(args);
    expect(firstDifference(back, SETTINGS)).toBeNull();
    expect(back.freezeEncoderEpochs).toBeUndefined(); // UNet has no encoder: not recorded
    expect(firstDifference({ ...SETTINGS, lr: 2e-3 }, SETTINGS)).toBe('lr');
    expect(firstDifference({ ...SETTINGS, epochs: 9 }, SETTINGS)).toBeNull(); // epochs do not define a run
  });
});
