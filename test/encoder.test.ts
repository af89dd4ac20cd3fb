/**
 * Pretrained encoders: a ResNet34 with torchvision's names (scripts/make_encoder_fixtures.py, in
 * PyTorch) imported into ResNet34_UNet gives PyTorch's feature map at every stage; damaged
 * files are refused; freezing freezes; Adam's parameter groups and per-parameter steps behave
 * as torch.optim's; a fine-tuning run resumes exactly.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { encodeSafetensors, type SafetensorsTensor } from '../engine/safetensors.js';
import { shapesOnly } from '../engine/tensor.js';
import { loadCheckpoint } from '../models/checkpoint.js';
import { loadEncoderWeights } from '../models/encoder-weights.js';
import { ResNet34UNet } from '../models/resnet34-unet.js';
import { writeSyntheticDataset } from '../train/synthetic.js';
import { RUN_FILES, train, type TrainOptions } from '../train/trainer.js';
import { scaled } from './helpers/fixture-weights.js';
import { useGpu } from './helpers/gpu.js';
import { trainOptions } from './helpers/train-options.js';
import { expectClose } from './helpers/op-check.js';

useGpu();

interface Fixture {
  seedOffset: number;
  batchesTracked: number;
  keys: string[];
  digest: string;
  input: { shape: number[]; data: string };
  features: Record<string, { shape: number[]; data: string }>;
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/resnet34-encoder.json', import.meta.url), 'utf8')) as Fixture;
const decode = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

const SHAPES: Record<string, number[]> = { 'fc.weight': [1000, 512], 'fc.bias': [1000] };
/** torchvision's ResNet34 state dict, filled as the fixture script fills it. */
function torchvisionState(): Map<string, SafetensorsTensor> {
  const model = shapesOnly(() => new ResNet34UNet());
  const shapes = new Map([...model.encoderState()].map(([k, t]) => [k, [...t.shape]]));
  const state = new Map<string, SafetensorsTensor>();
  let index = 0;
  for (const name of fixture.keys) {
    const shape = shapes.get(name) ?? SHAPES[name];
    if (name.endsWith('num_batches_tracked')) {
      state.set(name, { dtype: 'I64', shape: [], data: Float32Array.of(fixture.batchesTracked) });
      continue;
    }
    index++;
    state.set(name, { dtype: 'F32', shape, data: scaled(name, shape, fixture.seedOffset + index) });
  }
  return state;
}

/** The fixture script's digest: name, dtype, shape and bytes of every tensor, names sorted. */
function digest(state: Map<string, SafetensorsTensor>): string {
  const h = createHash('sha256');
  for (const name of [...state.keys()].sort()) {
    const t = state.get(name)!;
    h.update(`${name}|${t.dtype}|[${t.shape.join(', ')}]|`);
    if (t.dtype === 'F32') h.update(new Uint8Array(Float32Array.from(t.data).buffer));
    else h.update(new Uint8Array(BigInt64Array.from(Array.from(t.data, (v) => BigInt(v))).buffer));
  }
  return h.digest('hex');
}

const work = mkdtempSync(join(tmpdir(), 'petseg-encoder-'));
const state = torchvisionState();
const weightsFile = join(work, 'resnet34.safetensors');
writeFileSync(weightsFile, encodeSafetensors(state));

/** Bit-identical (fast on millions of values, where toEqual is not). */
const sameBits = (a: Float32Array | undefined, b: Float32Array | undefined) => !!a && !!b && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The encoder's state, as host arrays by name. */
async function encoderValues(model: ResNet34UNet): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of model.encoderState()) out.set(name, await t.toArray());
  return out;
}

describe('encoder weights (torchvision / timm names)', () => {
  test("the file holds exactly the fixture script's PyTorch tensors", () => {
    expect(state.size).toBe(fixture.keys.length);
    expect(digest(state)).toBe(fixture.digest);
  });

  test("imported, every stage's feature map equals PyTorch's (≤ 1e-4); fc is ignored; the decoder keeps its initialisation", async () => {
    const model = new ResNet34UNet({ seed: 3 });
    const decoderBefore = await model.head.weight.toArray();
    const info = loadEncoderWeights(model, weightsFile);
    expect(info.file).toBe('resnet34.safetensors');
    expect(info.sha256).toBe(createHash('sha256').update(readFileSync(weightsFile)).digest('hex'));
    expect(await model.head.weight.toArray()).toEqual(decoderBefore);
    expect(await model.encoderState().get('layer2.0.bn1.num_batches_tracked')!.toArray()).toEqual(Float32Array.of(fixture.batchesTracked));
    model.eval();
    const x = E.tensor(decode(fixture.input.data), fixture.input.shape);
    const features = E.noGrad(() => model.encode(x));
    const names = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'];
    for (const [i, name] of names.entries()) {
      expect(features[i].shape).toEqual(fixture.features[name].shape);
      expectClose(await features[i].toArray(), decode(fixture.features[name].data), 1e-4, `${name} feature map`);
    }
    for (const t of [x, ...features]) t.dispose();
    model.dispose();
  });

  test('damaged or foreign files are refused with one line naming the file and the key', () => {
    const model = new ResNet34UNet();
    const variant = (name: string, edit: (s: Map<string, SafetensorsTensor>) => void) => {
      const s = new Map(state);
      edit(s);
      const file = join(work, name);
      writeFileSync(file, encodeSafetensors(s));
      return file;
    };
    const cases: [string, RegExp][] = [
      [variant('missing.safetensors', (s) => s.delete('layer3.2.conv1.weight')), /missing\.safetensors: not ResNet34 encoder weights with torchvision's names — it lacks layer3\.2\.conv1\.weight$/],
      [variant('shape.safetensors', (s) => s.set('layer1.0.conv1.weight', { dtype: 'F32', shape: [64, 64, 1, 1], data: new Float32Array(64 * 64) })), /it has layer1\.0\.conv1\.weight is \[64, 64, 1, 1\], not \[64, 64, 3, 3\]$/],
      [variant('resnet50.safetensors', (s) => s.set('layer1.0.conv3.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) })), /it has keys a ResNet34 has not: layer1\.0\.conv3\.weight$/],
    ];
    const pth = join(work, 'resnet34.pth');
    writeFileSync(pth, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100)]));
    cases.push([pth, /resnet34\.pth: a PyTorch pickle \(\.pth\), which petseg does not read \(unpickling can run code\); convert it once to safetensors: python -c .*save_file/]);
    const truncated = join(work, 'truncated.safetensors');
    writeFileSync(truncated, readFileSync(weightsFile).subarray(0, 5000));
    cases.push([truncated, /truncated\.safetensors: .*truncated/]);
    for (const [file, message] of cases) expect(() => loadEncoderWeights(model, file)).toThrow(message);
    model.dispose();
  });
});

describe('freezing and parameter groups', () => {
  test('Adam parameter groups: each its own lr and weight decay, as separate optimizers', async () => {
    const make = () => [E.tensor([1, -2, 3], [3], { requiresGrad: true }), E.tensor([0.5, 0.25], [2], { requiresGrad: true })];
    const [a, b] = make();
    const grouped = new E.Adam([{ params: [a], lr: 0.1 }, { params: [b], weightDecay: 0.5 }], { lr: 0.01 });
    const [c, d] = make();
    const alone = [new E.Adam([c], { lr: 0.1 }), new E.Adam([d], { lr: 0.01, weightDecay: 0.5 })];
    expect(grouped.groups.map((g) => [g.lr, g.weightDecay])).toEqual([[0.1, 0], [0.01, 0.5]]);
    for (let step = 0; step < 3; step++) {
      for (const [p, q] of [[a, c], [b, d]]) {
        p.grad = E.tensor(Array.from({ length: p.size }, (_, i) => Math.sin(step + i)), p.shape);
        q.grad = E.tensor(Array.from({ length: q.size }, (_, i) => Math.sin(step + i)), q.shape);
      }
      grouped.step();
      alone.forEach((o) => o.step());
    }
    expect(await a.toArray()).toEqual(await c.toArray());
    expect(await b.toArray()).toEqual(await d.toArray());
    expect(() => new E.Adam([{ params: [a] }, { params: [a] }])).toThrow(/appears twice/);
  });

  test("a frozen parameter is not stepped: after unfreezing, its bias correction starts afresh (PyTorch's per-parameter step)", async () => {
    const p = E.tensor([1, 2], [2], { requiresGrad: true });
    const q = E.tensor([3, 4], [2], { requiresGrad: true });
    const adam = new E.Adam([p, q], { lr: 0.1 });
    const fresh = E.tensor([3, 4], [2], { requiresGrad: true });
    const reference = new E.Adam([fresh], { lr: 0.1 });
    for (let step = 0; step < 5; step++) {
      p.grad = E.tensor([0.3, -0.1], [2]);
      if (step >= 2) {
        q.grad = E.tensor([step, -1], [2]);
        fresh.grad = E.tensor([step, -1], [2]);
        reference.step();
      }
      adam.step();
      adam.zeroGrad();
    }
    expect(await q.toArray()).toEqual(await fresh.toArray());
    expect(adam.state().paramSteps).toEqual([5, 3]);
  });

  const data = join(work, 'data');
  writeSyntheticDataset(data, { trainval: 20, test: 2, size: 36, seed: 8 });
  const options = (name: string, over: Partial<TrainOptions> = {}) =>
    trainOptions(data, join(work, name), { model: 'ResNet34_UNet', modelOptions: {}, seed: 2, epochs: 3, encoderWeights: weightsFile, freezeEncoderEpochs: 2, encoderLr: 1e-4, ...over });

  test('--freeze_encoder_epochs 2: the encoder (weights and running statistics) stays bit-identical to the imported one for 2 epochs, then trains; the run resumes exactly', async () => {
    const imported = new ResNet34UNet();
    loadEncoderWeights(imported, weightsFile);
    const expected = await encoderValues(imported);
    imported.dispose();
    const run = await train(options('frozen'));
    run.model.dispose();
    const last = loadCheckpoint(join(work, 'frozen', RUN_FILES.last), 'ResNet34_UNet');
    expect(last.info.encoderWeights).toEqual({ file: 'resnet34.safetensors', sha256: createHash('sha256').update(readFileSync(weightsFile)).digest('hex') });
    last.model.dispose();

    // Epoch by epoch: 2 frozen epochs, then one trained (a resumed run each time — resume is exact).
    const snapshots: Map<string, Float32Array>[] = [];
    const decoders: Float32Array[] = [];
    for (const epochs of [1, 2, 3]) {
      const r = await train({ ...options('stepwise', { epochs, resume: epochs > 1 }) });
      const m = r.model as ResNet34UNet;
      snapshots.push(await encoderValues(m));
      decoders.push(await m.head.weight.toArray());
      m.dispose();
    }
    const changed = (epoch: number) => [...expected].filter(([name, values]) => !sameBits(snapshots[epoch].get(name), values)).map(([name]) => name);
    expect(changed(0)).toEqual([]);
    expect(changed(1)).toEqual([]);
    expect(changed(2)).toEqual(expect.arrayContaining(['conv1.weight', 'bn1.running_mean', 'layer4.2.bn2.running_var', 'layer1.0.conv1.weight']));
    expect(sameBits(decoders[0], decoders[1])).toBe(false); // the decoder trains while the encoder is frozen
    // The stepwise (resumed) run ends where the uninterrupted one did.
    const a = loadCheckpoint(join(work, 'frozen', RUN_FILES.last), 'ResNet34_UNet').model;
    const b = loadCheckpoint(join(work, 'stepwise', RUN_FILES.last), 'ResNet34_UNet').model;
    const differ: string[] = [];
    for (const [name, t] of a.stateDict()) if (!sameBits(await b.stateDict().get(name)!.toArray(), await t.toArray())) differ.push(name);
    expect(differ).toEqual([]);
    a.dispose();
    b.dispose();
  }, 240_000);

  test('encoder options need ResNet34_UNet; the weights file is checked before anything runs', async () => {
    await expect(train(options('unet', { model: 'UNet', modelOptions: { baseChannels: 4 }, freezeEncoderEpochs: 1, encoderLr: undefined, encoderWeights: undefined }))).rejects.toThrow(
      /^freezeEncoderEpochs: only ResNet34_UNet has a pretrained encoder; pass model ResNet34_UNet or drop it$/,
    );
    await expect(train(options('missing', { encoderWeights: join(work, 'nope.safetensors') }))).rejects.toThrow(/nope\.safetensors: cannot read/);
  });
});
