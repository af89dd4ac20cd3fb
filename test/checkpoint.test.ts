/** safetensors checkpoints: format, round trips, interop with PyTorch, atomic writes, clear errors. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { UNet, createModel, loadCheckpoint, loadOptimizerState, saveCheckpoint, saveOptimizerState } from '../models/index.js';
import { expectClose } from './helpers/op-check.js';
import { useGpu } from './helpers/gpu.js';
import { decode, loadFixture } from './helpers/fixtures.js';
import { fixtureValues } from './helpers/fixture-weights.js';

useGpu();

const dir = mkdtempSync(join(tmpdir(), 'petseg-ckpt-'));
const fixtureDir = new URL('./fixtures/', import.meta.url).pathname;

async function logits(model: E.Module, x: E.Tensor): Promise<Float32Array> {
  model.eval();
  const out = E.noGrad(() => E.tidy(() => model.forward(x)));
  const values = await out.toArray();
  out.dispose();
  return values;
}

const input = () => E.tensor(fixtureValues(5, 3 * 32 * 32), [1, 3, 32, 32]);

describe('safetensors format', () => {
  test('round trip of float32 and int64 tensors with metadata', () => {
    const tensors = new Map([
      ['a.weight', { dtype: 'F32' as const, shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-30, -7]) }],
      ['a.num_batches_tracked', { dtype: 'I64' as const, shape: [], data: Float32Array.of(42) }],
    ]);
    const bytes = E.encodeSafetensors(tensors, { note: 'hi' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const back = E.decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ note: 'hi' });
    expect(Array.from(back.tensors.get('a.weight')!.data)).toEqual(Array.from(tensors.get('a.weight')!.data));
    expect(back.tensors.get('a.num_batches_tracked')).toEqual({ dtype: 'I64', shape: [], data: Float32Array.of(42) });
  });

  test('truncated, corrupt and wrong-dtype files fail with a message naming the file', () => {
    const good = E.encodeSafetensors(new Map([['w', { dtype: 'F32' as const, shape: [4], data: new Float32Array(4) }]]));
    expect(() => E.decodeSafetensors(good.subarray(0, 5), 'x.safetensors')).toThrow(/x.safetensors: .*shorter than the 8-byte header/);
    expect(() => E.decodeSafetensors(good.subarray(0, good.length - 3), 'x.safetensors')).toThrow(/x.safetensors: tensor 'w' lies outside the file.*truncated/);
    const garbage = new Uint8Array(64).fill(0x41);
    expect(() => E.decodeSafetensors(garbage, 'y.bin')).toThrow(/y.bin: the header claims \d+ bytes, more than the \d+-byte limit/);
    const header = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }));
    const f16 = new Uint8Array(8 + header.length + 4);
    new DataView(f16.buffer).setBigUint64(0, BigInt(header.length), true);
    f16.set(header, 8);
    expect(() => E.decodeSafetensors(f16, 'half.safetensors')).toThrow(/half.safetensors: tensor 'w' has dtype F16.*convert the checkpoint to float32/);
  });
});

describe('checkpoints', () => {
  test('save → load gives identical outputs, metadata and counters', async () => {
    const model = new UNet({ baseChannels: 4, seed: 9 });
    model.train();
    const x = input();
    E.tidy(() => model.forward(x)); // moves running statistics and num_batches_tracked
    const before = await logits(model, x);
    const path = join(dir, 'unet.safetensors');
    await saveCheckpoint(path, model, { model: 'UNet', options: { baseChannels: 4 }, epoch: 3, metrics: { validDice: 0.5 }, args: { lr: 1e-3 } });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]); // atomic write leaves no temporary file
    const { model: loaded, info } = loadCheckpoint(path);
    expect(info).toEqual({ model: 'UNet', options: { baseChannels: 4 }, epoch: 3, metrics: { validDice: 0.5 }, args: { lr: 1e-3 } });
    expect(Array.from(await logits(loaded, x))).toEqual(Array.from(before));
    const counter = E.decodeSafetensors(readFileSync(path)).tensors.get('encoders.0.block.1.num_batches_tracked')!;
    expect(counter).toEqual({ dtype: 'I64', shape: [], data: Float32Array.of(1) });
    model.dispose();
    loaded.dispose();
  });

  test('a failed write leaves no partial file and keeps the old one', async () => {
    const model = new UNet({ baseChannels: 2 });
    const path = join(dir, 'keep.safetensors');
    await saveCheckpoint(path, model, { model: 'UNet', options: { baseChannels: 2 } });
    const old = readFileSync(path);
    await expect(saveCheckpoint(join(dir, 'missing-folder', 'x.safetensors'), model, { model: 'UNet', options: {} })).rejects.toThrow(/ENOENT/);
    expect(readFileSync(path).equals(old)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    model.dispose();
  });

  test('wrong model, wrong shapes, missing metadata: clear errors', async () => {
    const model = new UNet({ baseChannels: 2 });
    const path = join(dir, 'unet2.safetensors');
    await saveCheckpoint(path, model, { model: 'UNet', options: { baseChannels: 2 } });
    expect(() => loadCheckpoint(path, 'ResNet34_UNet')).toThrow(/holds a UNet model, not ResNet34_UNet/);
    // Metadata claims another width than the tensors have.
    const { tensors } = E.decodeSafetensors(readFileSync(path));
    const lying = join(dir, 'lying.safetensors');
    writeFileSync(lying, E.encodeSafetensors(tensors, { petseg: JSON.stringify({ model: 'UNet', options: { baseChannels: 4 } }) }));
    expect(() => loadCheckpoint(lying)).toThrow(/lying.safetensors: not a checkpoint of UNet \{"baseChannels":4\} — wrong shapes encoders.0.block.0.weight \[2, 3, 3, 3\] \(expected \[4, 3, 3, 3\]\)/);
    const bare = join(dir, 'bare.safetensors');
    writeFileSync(bare, E.encodeSafetensors(tensors));
    expect(() => loadCheckpoint(bare)).toThrow(/no petseg metadata.*--model UNet or --model ResNet34_UNet/);
    expect(() => loadCheckpoint(join(dir, 'nope.safetensors'))).toThrow(/nope.safetensors: cannot read the checkpoint \(ENOENT\)/);
    tensors.delete('head.bias');
    writeFileSync(bare, E.encodeSafetensors(tensors));
    expect(() => loadCheckpoint(bare, 'UNet')).toThrow(/missing head.bias/);
    model.dispose();
  });

  test('weights exported from PyTorch load and give PyTorch\'s logits', async () => {
    const expected = loadFixture<{ logits: string; shape: number[] }>('torch-unet2.json');
    const { model, info } = loadCheckpoint(join(fixtureDir, 'torch-unet2.safetensors'), 'UNet');
    expect(info.options).toEqual({ baseChannels: 2, inChannels: 3 }); // read off the tensor shapes
    expectClose(await logits(model, input()), decode({ shape: [], data: expected.logits }), 1e-4, 'logits of the PyTorch export');
    model.dispose();
  });

  const torchAvailable = spawnSync('python3', ['-c', 'import torch, safetensors'], { stdio: 'ignore' }).status === 0;
  // Needs PyTorch (optional; the suite never requires Python): the petseg → PyTorch direction.
  test.skipIf(!torchAvailable)('PyTorch loads petseg checkpoints with strict=True and computes the same logits', async () => {
    for (const [name, options] of [['UNet', { baseChannels: 4 }], ['ResNet34_UNet', {}]] as const) {
      const model = createModel(name, options);
      const path = join(dir, `${name}.safetensors`);
      await saveCheckpoint(path, model, { model: name, options });
      const script = new URL('../scripts/check_torch_load.py', import.meta.url).pathname;
      const out = JSON.parse(execFileSync('python3', [script, path], { encoding: 'utf8' })) as { logits: number[] };
      expectClose(await logits(model, input()), out.logits, 1e-4, `${name}: petseg vs PyTorch on petseg's file`);
      model.dispose();
    }
  });

  test('optimizer state round trip: resuming gives the same next step', async () => {
    const make = () => new UNet({ baseChannels: 2, seed: 4 });
    const x = input();
    const target = E.tensor(fixtureValues(6, 32 * 32).map((v) => (v > 0 ? 1 : 0)), [1, 1, 32, 32]);
    const step = (model: UNet, opt: E.Adam) => {
      opt.zeroGrad();
      const loss = E.tidy(() => E.bceWithLogits(model.forward(x), target));
      loss.backward();
      opt.step();
      loss.dispose();
    };
    const a = make();
    const optA = new E.Adam(a.parameters(), { lr: 1e-2 });
    step(a, optA);
    step(a, optA);
    await saveCheckpoint(join(dir, 'last.safetensors'), a, { model: 'UNet', options: { baseChannels: 2 } });
    await saveOptimizerState(join(dir, 'last.optim.safetensors'), optA, a);
    const b = loadCheckpoint(join(dir, 'last.safetensors')).model as UNet;
    const optB = new E.Adam(b.parameters(), { lr: 1e-2 });
    loadOptimizerState(join(dir, 'last.optim.safetensors'), optB, b);
    expect(optB.state().step).toBe(2);
    step(a, optA);
    step(b, optB);
    const pa = await a.head.weight.toArray();
    expect(Array.from(await b.head.weight.toArray())).toEqual(Array.from(pa));
    expect(existsSync(join(dir, 'last.optim.safetensors'))).toBe(true);
  });
});
