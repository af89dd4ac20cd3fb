/** The tfevents writer, read back by an independent parser (CRCs checked), and by TensorBoard when installed. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { NodeFolder } from '../train/node-folder.js';
import { SummaryWriter, crc32c, maskedCrc32c } from '../train/tfevents.js';
import { parseProto, readRecords } from './helpers/tfrecord.js';

const text = (v: unknown) => new TextDecoder().decode(v as Uint8Array);

describe('tfevents writer', () => {
  test('CRC32C matches the standard check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  test('file version, scalars and an image read back field by field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petseg-tb-'));
    const writer = await SummaryWriter.open(new NodeFolder(dir), { host: 'test', pid: 1 });
    writer.addScalar('loss/train', 0.25, 1);
    writer.addScalar('dice/valid', 0.875, 2);
    const png = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 1, 2, 3);
    writer.addImage('samples', png, 6, 4, 2);
    await writer.flush();
    expect(writer.file).toMatch(/^events\.out\.tfevents\.\d+\.test\.1\.petseg$/);
    const events = readRecords(join(dir, writer.file)).map(parseProto);
    expect(events).toHaveLength(4);
    expect(text(events[0].get(3)![0])).toBe('brain.Event:2');
    const scalars = events.slice(1, 3).map((e) => {
      const value = parseProto(parseProto(e.get(5)![0] as Uint8Array).get(1)![0] as Uint8Array);
      return [Number(e.get(2)![0]), text(value.get(1)![0]), value.get(2)![0]];
    });
    expect(scalars).toEqual([
      [1, 'loss/train', 0.25],
      [2, 'dice/valid', 0.875],
    ]);
    const imageValue = parseProto(parseProto(events[3].get(5)![0] as Uint8Array).get(1)![0] as Uint8Array);
    const image = parseProto(imageValue.get(4)![0] as Uint8Array);
    expect([image.get(1)![0], image.get(2)![0], image.get(3)![0]]).toEqual([4n, 6n, 3n]);
    expect(Array.from(image.get(4)![0] as Uint8Array)).toEqual(Array.from(png));
  });

  const tensorboard = spawnSync('python3', ['-c', 'import tensorboard'], { stdio: 'ignore' }).status === 0;
  // Optional (the suite never needs Python): real TensorBoard reads the file.
  test.skipIf(!tensorboard)('TensorBoard\'s EventAccumulator reads the scalars', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'petseg-tb-'));
    const writer = await SummaryWriter.open(new NodeFolder(dir), { host: 'test', pid: 1 });
    for (let step = 1; step <= 3; step++) writer.addScalar('loss/train', 1 / step, step);
    await writer.flush();
    const script = [
      'import sys',
      'from tensorboard.backend.event_processing.event_accumulator import EventAccumulator',
      'acc = EventAccumulator(sys.argv[1]); acc.Reload()',
      "print(','.join('%d:%.4f' % (e.step, e.value) for e in acc.Scalars('loss/train')))",
    ].join('\n');
    const out = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' });
    expect(out.stdout.trim()).toBe('1:1.0000,2:0.5000,3:0.3333');
  });
});
