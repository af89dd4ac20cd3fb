/**
 * Layer kernels against PyTorch 2.13 fixtures (scripts/make_fixtures.py): forward and every
 * gradient within fp32 relative error 1e-4; Adam/AdamW state after 5 steps; Dice/IoU; and a tiny
 * model with every UNet layer type trained 50 Adam steps, parameters within 1e-3 of PyTorch's.
 */
import { describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import type { Tensor } from '../engine/index.js';
import { caseLabel, expectClose } from './helpers/op-check.js';
import { useGpu } from './helpers/gpu.js';
import { decode, loadFixture, type Encoded, type FixtureCase } from './helpers/fixtures.js';

useGpu();

interface LayerFixtures {
  torch: string;
  cases: FixtureCase[];
  adam: { decoupled: boolean; lr: number; weightDecay: number; initial: Encoded; grads: Encoded[]; final: Encoded; m: Encoded; v: Encoded }[];
  metrics: { logits: Encoded; target: Encoded; cases: { threshold: number; dice: number[]; iou: number[] }[] };
}
const fixtures = loadFixture<LayerFixtures>('layers.json');

const t = (e: Encoded, requiresGrad = false) => E.tensor(decode(e), e.shape, { requiresGrad });

type Attrs = FixtureCase['attrs'];
const OPS: Record<string, (xs: Tensor[], a: Attrs) => Tensor> = {
  conv2d: ([x, w, b], a) => E.conv2d(x, w, b ?? null, { stride: a.stride, padding: a.padding }),
  convTranspose2d: ([x, w, b], a) => E.convTranspose2d(x, w, b ?? null, { stride: a.stride, padding: a.padding, outputPadding: a.outputPadding }),
  batchNorm2d: ([x, w, b], a) => E.batchNorm2d(x, E.tensor(a.runningMean), E.tensor(a.runningVar), w, b, { training: a.training }),
  maxPool2d: ([x], a) => E.maxPool2d(x, { kernelSize: a.kernelSize, stride: a.stride, padding: a.padding }),
  bceWithLogits: ([x, y], a) => E.bceWithLogits(x, y, { posWeight: a.posWeight }),
};

describe(`PyTorch ${fixtures.torch} parity: layers`, () => {
  test.each(fixtures.cases.map((c, i) => [`${caseLabel(`${c.op} ${JSON.stringify(c.attrs).slice(0, 60)}`, c.inputs.map((x) => x.shape))} #${i}`, c] as const))(
    '%s',
    async (_, c) => {
      const xs = c.inputs.map((e, i) => t(e, c.grads[i] !== null));
      const out = E.tidy(() => OPS[c.op](xs, c.attrs));
      expect(out.shape).toEqual(c.output.shape);
      expectClose(await out.toArray(), decode(c.output), 1e-4, `${c.op} forward`);
      out.backward(t(c.grad_output));
      for (let i = 0; i < xs.length; i++) {
        const expected = c.grads[i];
        if (expected) expectClose(await xs[i].grad!.toArray(), decode(expected), 1e-4, `${c.op} grad ${i}`);
      }
    },
  );

  test('batchnorm running statistics are updated as PyTorch (training) and left alone (eval)', async () => {
    for (const c of fixtures.cases.filter((k) => k.op === 'batchNorm2d')) {
      const rm = E.tensor(c.attrs.runningMean);
      const rv = E.tensor(c.attrs.runningVar);
      E.batchNorm2d(t(c.inputs[0]), rm, rv, t(c.inputs[1]), t(c.inputs[2]), { training: c.attrs.training }).dispose();
      expectClose(await rm.toArray(), c.attrs.runningMeanAfter, 1e-4, 'running mean');
      expectClose(await rv.toArray(), c.attrs.runningVarAfter, 1e-4, 'running var');
    }
  });

  test.each(fixtures.adam.map((c) => [c.decoupled ? 'AdamW' : 'Adam', c] as const))('%s: five steps match torch.optim', async (_, c) => {
    const p = t(c.initial, true);
    const opt = new E.Adam([p], { lr: c.lr, weightDecay: c.weightDecay, decoupledWeightDecay: c.decoupled });
    for (const g of c.grads) {
      p.grad = t(g);
      opt.step();
      opt.zeroGrad();
    }
    expectClose(await p.toArray(), decode(c.final), 1e-5, 'parameters');
    expectClose(await opt.state().m[0].toArray(), decode(c.m), 1e-5, 'exp_avg');
    expectClose(await opt.state().v[0].toArray(), decode(c.v), 1e-5, 'exp_avg_sq');
  });

  test('Dice and IoU per image match PyTorch', async () => {
    const logits = t(fixtures.metrics.logits);
    const target = t(fixtures.metrics.target);
    for (const c of fixtures.metrics.cases) {
      const summary = await E.summarizeMetrics(E.segmentationMetrics(logits, target, c.threshold));
      expectClose(summary.perImage.map((m) => m.dice), c.dice, 1e-6, `dice @${c.threshold}`);
      expectClose(summary.perImage.map((m) => m.iou), c.iou, 1e-6, `iou @${c.threshold}`);
    }
  });
});

interface TinyTrain {
  lr: number;
  weightDecay: number;
  steps: number;
  x: Encoded;
  target: Encoded;
  initial: Record<string, Encoded>;
  final: Record<string, Encoded>;
  losses: number[];
}

describe('a tiny model with every UNet layer type, 50 Adam steps', () => {
  test('parameters, running statistics and losses match PyTorch within 1e-3', async () => {
    const f = loadFixture<TinyTrain>('tiny-train.json');
    const params = new Map<string, Tensor>();
    const buffers = new Map<string, Tensor>();
    for (const [name, e] of Object.entries(f.initial)) {
      if (name.includes('running_')) buffers.set(name, t(e));
      else params.set(name, t(e, true));
    }
    const P = (name: string) => params.get(name)!;
    const x = t(f.x);
    const target = t(f.target);
    const forward = () => {
      const skip = E.batchNorm2d(E.conv2d(x, P('conv1.weight'), null, { padding: 1 }), buffers.get('bn1.running_mean')!, buffers.get('bn1.running_var')!, P('bn1.weight'), P('bn1.bias'), { training: true }).relu();
      const down = E.maxPool2d(skip, { kernelSize: 2 });
      const up = E.convTranspose2d(down, P('up.weight'), P('up.bias'), { stride: 2 });
      return E.conv2d(E.concat([up, skip], 1), P('head.weight'), P('head.bias'));
    };
    const opt = new E.Adam([...params.values()], { lr: f.lr, weightDecay: f.weightDecay });
    const losses: number[] = [];
    for (let step = 0; step < f.steps; step++) {
      opt.zeroGrad();
      const loss = E.tidy(() => E.bceWithLogits(forward(), target));
      loss.backward();
      opt.step();
      losses.push(await loss.item());
      loss.dispose();
    }
    expectClose(losses, f.losses, 1e-3, 'loss curve');
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    for (const [name, e] of Object.entries(f.final)) {
      const actual = params.get(name) ?? buffers.get(name)!;
      expectClose(await actual.toArray(), decode(e), 1e-3, `${name} after ${f.steps} steps`);
    }
  });
});
