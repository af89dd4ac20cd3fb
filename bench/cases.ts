/**
 * The benchmark rows: every kernel the models use, on their real layer shapes, written once for
 * petseg (NCHW) and once for TF.js (NHWC) from the same random data. Each side yields its output
 * in petseg's layout so the two can be compared before anything is timed.
 */
import * as E from '../engine/index.js';
import { conv2dGradInput, conv2dGradWeight } from '../engine/internal.js';
import { permute } from './timing.js';
import type { LayerShapes } from './shapes.js';
import type { TF } from './tfjs.js';

export interface Side {
  /** Record one execution; returns the clean-up of its outputs. */
  run(): () => void;
  /** The output (or outputs, concatenated) in petseg's layout, for the cross-check. */
  output(): Promise<Float32Array>;
  dispose(): void;
}

export interface BenchCase {
  op: string;
  shape: string;
  /** How many times the models run this shape. */
  count: number;
  flops?: number;
  bytes?: number;
  petseg(): Side;
  tfjs?(tf: TF): Side;
}

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const label = (shape: readonly number[]) => shape.join('×');

let seed = 1;
function random(shape: readonly number[]): Float32Array {
  return new E.Generator(seed++).fillNormal(new Float32Array(size(shape)));
}

/** petseg side from a function of input tensors returning output tensors. */
function petsegSide(inputs: { data: Float32Array; shape: number[]; grad?: boolean }[], fn: (xs: E.Tensor[]) => E.Tensor[]): Side {
  const xs = inputs.map((i) => E.tensor(i.data, i.shape, { requiresGrad: i.grad ?? false }));
  const run = () => {
    const outs = E.tidy(() => fn(xs));
    return () => outs.forEach((t) => t.dispose());
  };
  return {
    run,
    async output() {
      const outs = E.tidy(() => fn(xs));
      const parts = await Promise.all(outs.map((t) => t.toArray()));
      outs.forEach((t) => t.dispose());
      return concatArrays(parts);
    },
    dispose: () => xs.forEach((t) => t.dispose()),
  };
}

function concatArrays(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** TF.js side: inputs given in petseg layout and permuted; outputs permuted back with `back`. */
function tfSide(tf: TF, inputs: { data: Float32Array; shape: number[]; order?: number[] }[], fn: (xs: TF.Tensor[]) => TF.Tensor[], back: (number[] | null)[]): Side {
  const xs = inputs.map((i) => {
    const order = i.order ?? (i.shape.length === 4 ? NCHW_TO_NHWC : null);
    return order ? tf.tensor(permute(i.data, i.shape, order), order.map((d) => i.shape[d])) : tf.tensor(i.data, i.shape);
  });
  const run = () => {
    const outs = tf.tidy(() => fn(xs));
    return () => outs.forEach((t) => t.dispose());
  };
  return {
    run,
    async output() {
      const outs = tf.tidy(() => fn(xs));
      const parts = await Promise.all(
        outs.map(async (t, i) => {
          const data = (await t.data()) as Float32Array;
          const order = back[i] ?? (t.shape.length === 4 ? NHWC_TO_NCHW : null);
          return order ? permute(data, t.shape, order) : data;
        }),
      );
      outs.forEach((t) => t.dispose());
      return concatArrays(parts);
    },
    dispose: () => xs.forEach((t) => t.dispose()),
  };
}

/** Conv2d weight [Cout,Cin,KH,KW] ↔ TF filter [KH,KW,Cin,Cout]. */
const OIHW_TO_HWIO = [2, 3, 1, 0];
const HWIO_TO_OIHW = [3, 2, 0, 1];
/** ConvTranspose2d weight [Cin,Cout,KH,KW] ↔ TF conv2dTranspose filter [KH,KW,Cout,Cin]. */
const IOHW_TO_HWOI = [2, 3, 1, 0];
const HWOI_TO_IOHW = [3, 2, 0, 1];

export function kernelCases(shapes: LayerShapes): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const c of shapes.conv2d) {
    const [N, Cin, H, W] = c.x;
    const [Cout, , KH, KW] = c.w;
    const OH = Math.floor((H + 2 * c.padding - KH) / c.stride) + 1;
    const OW = Math.floor((W + 2 * c.padding - KW) / c.stride) + 1;
    const y = [N, Cout, OH, OW];
    const flops = 2 * N * Cout * OH * OW * Cin * KH * KW;
    const x = random(c.x);
    const w = random(c.w);
    const dy = random(y);
    const shape = `x ${label(c.x)} w ${label(c.w)} s${c.stride} p${c.padding}`;
    const opts = { stride: c.stride, padding: c.padding };
    const tfPad = c.padding;
    cases.push(
      {
        op: 'conv2d forward',
        shape,
        count: c.count,
        flops,
        petseg: () => petsegSide([{ data: x, shape: c.x }, { data: w, shape: c.w }], ([a, b]) => [E.conv2d(a, b, null, opts)]),
        tfjs: (tf) => tfSide(tf, [{ data: x, shape: c.x }, { data: w, shape: c.w, order: OIHW_TO_HWIO }], ([a, b]) => [tf.conv2d(a as TF.Tensor4D, b as TF.Tensor4D, c.stride, tfPad)], [null]),
      },
      {
        op: 'conv2d grad-input',
        shape,
        count: c.count,
        flops,
        petseg: () => petsegSide([{ data: dy, shape: y }, { data: w, shape: c.w }], ([g, b]) => [conv2dGradInput(g, b, c.x, opts)]),
        tfjs: (tf) =>
          tfSide(tf, [{ data: dy, shape: y }, { data: w, shape: c.w, order: OIHW_TO_HWIO }], ([g, b]) => [
            tf.engine().runKernel('Conv2DBackpropInput', { dy: g, filter: b }, { strides: c.stride, pad: tfPad, dataFormat: 'NHWC', inputShape: [N, H, W, Cin] } as never) as TF.Tensor,
          ], [null]),
      },
      {
        op: 'conv2d grad-weight',
        shape,
        count: c.count,
        flops,
        petseg: () => petsegSide([{ data: dy, shape: y }, { data: x, shape: c.x }], ([g, a]) => [conv2dGradWeight(g, a, c.w, opts)]),
        tfjs: (tf) =>
          tfSide(tf, [{ data: dy, shape: y }, { data: x, shape: c.x }], ([g, a]) => [
            tf.engine().runKernel('Conv2DBackpropFilter', { x: a, dy: g }, { strides: c.stride, pad: tfPad, dataFormat: 'NHWC', filterShape: [KH, KW, Cin, Cout] } as never) as TF.Tensor,
          ], [HWIO_TO_OIHW]),
      },
    );
  }
  for (const c of shapes.convTranspose2d) {
    const [N, Cin, H, W] = c.x;
    const [, Cout, KH, KW] = c.w;
    const y = [N, Cout, (H - 1) * c.stride - 2 * c.padding + KH, (W - 1) * c.stride - 2 * c.padding + KW];
    const flops = 2 * N * Cin * H * W * Cout * KH * KW;
    const x = random(c.x);
    const w = random(c.w);
    const dy = random(y);
    const shape = `x ${label(c.x)} w ${label(c.w)} s${c.stride}`;
    const opts = { stride: c.stride, padding: c.padding };
    const outShapeTf = [y[0], y[2], y[3], y[1]] as [number, number, number, number];
    cases.push(
      {
        op: 'conv-transpose2d forward',
        shape,
        count: c.count,
        flops,
        petseg: () => petsegSide([{ data: x, shape: c.x }, { data: w, shape: c.w }], ([a, b]) => [E.convTranspose2d(a, b, null, opts)]),
        tfjs: (tf) =>
          tfSide(tf, [{ data: x, shape: c.x }, { data: w, shape: c.w, order: IOHW_TO_HWOI }], ([a, b]) => [tf.conv2dTranspose(a as TF.Tensor4D, b as TF.Tensor4D, outShapeTf, c.stride, c.padding)], [null]),
      },
      {
        op: 'conv-transpose2d backward',
        shape,
        count: c.count,
        flops: 2 * flops,
        // grad-input is a strided conv2d of dY; grad-weight correlates x with dY.
        petseg: () => petsegSide([{ data: dy, shape: y }, { data: w, shape: c.w }, { data: x, shape: c.x }], ([g, b, a]) => [E.conv2d(g, b, null, opts), conv2dGradWeight(a, g, c.w, opts)]),
        tfjs: (tf) =>
          tfSide(tf, [{ data: dy, shape: y }, { data: w, shape: c.w, order: IOHW_TO_HWOI }, { data: x, shape: c.x }], ([g, b, a]) => [
            tf.conv2d(g as TF.Tensor4D, b as TF.Tensor4D, c.stride, c.padding),
            tf.engine().runKernel('Conv2DBackpropFilter', { x: g, dy: a }, { strides: c.stride, pad: c.padding, dataFormat: 'NHWC', filterShape: [KH, KW, Cout, Cin] } as never) as TF.Tensor,
          ], [null, HWOI_TO_IOHW]),
      },
    );
  }
  for (const b of shapes.batchNorm2d) {
    const C = b.x[1];
    const x = random(b.x);
    const dy = random(b.x);
    const gamma = random([C]);
    const beta = random([C]);
    const elems = size(b.x);
    const inputs = [{ data: x, shape: b.x, grad: true }, { data: gamma, shape: [C], grad: true }, { data: beta, shape: [C], grad: true }];
    const tfBn = (tf: TF, v: TF.Tensor, g: TF.Tensor, bt: TF.Tensor) => {
      const { mean, variance } = tf.moments(v, [0, 1, 2]);
      return tf.batchNorm(v, mean, variance, bt as TF.Tensor1D, g as TF.Tensor1D, 1e-5);
    };
    cases.push(
      {
        op: 'batchnorm2d forward (train)',
        shape: `x ${label(b.x)}`,
        count: b.count,
        bytes: 4 * 3 * elems,
        petseg: () => petsegSide(inputs, ([v, g, bt]) => [E.noGrad(() => E.batchNorm2d(v, null, null, g, bt, { training: true }))]),
        tfjs: (tf) => tfSide(tf, [{ data: x, shape: b.x }, { data: gamma, shape: [C] }, { data: beta, shape: [C] }], ([v, g, bt]) => [tfBn(tf, v, g, bt)], [null]),
      },
      {
        op: 'batchnorm2d forward+backward',
        shape: `x ${label(b.x)}`,
        count: b.count,
        bytes: 4 * 7 * elems,
        petseg: () =>
          // dY is uploaded once, with the inputs, as on the TF.js side.
          petsegSide([...inputs, { data: dy, shape: b.x }], ([v, g, bt, seedGrad]) => {
            const y = E.batchNorm2d(v, null, null, g, bt, { training: true });
            y.backward(seedGrad);
            const grads = [v.grad!, g.grad!, bt.grad!];
            for (const t of [v, g, bt]) t.grad = null;
            return grads;
          }),
        tfjs: (tf) =>
          tfSide(tf, [{ data: x, shape: b.x }, { data: gamma, shape: [C] }, { data: beta, shape: [C] }, { data: dy, shape: b.x }], ([v, g, bt, d]) => tf.grads((a: TF.Tensor, c: TF.Tensor, e: TF.Tensor) => tfBn(tf, a, c, e))([v, g, bt], d), [null, null, null]),
      },
    );
  }
  for (const p of shapes.maxPool2d) {
    const x = random(p.x);
    const outSize = (n: number) => Math.floor((n + 2 * p.padding - p.kernel) / p.stride) + 1;
    const out = [p.x[0], p.x[1], outSize(p.x[2]), outSize(p.x[3])];
    const dy = random(out);
    const shape = `x ${label(p.x)} k${p.kernel} s${p.stride} p${p.padding}`;
    const opts = { kernelSize: p.kernel, stride: p.stride, padding: p.padding };
    const tfPool = (tf: TF, v: TF.Tensor) => tf.maxPool(v as TF.Tensor4D, p.kernel, p.stride, p.padding);
    cases.push(
      {
        op: 'maxpool2d forward',
        shape,
        count: p.count,
        bytes: 4 * (size(p.x) + size(out)),
        petseg: () => petsegSide([{ data: x, shape: p.x }], ([v]) => [E.maxPool2d(v, opts)]),
        tfjs: (tf) => tfSide(tf, [{ data: x, shape: p.x }], ([v]) => [tfPool(tf, v)], [null]),
      },
      {
        op: 'maxpool2d forward+backward',
        shape,
        count: p.count,
        bytes: 4 * (3 * size(p.x) + 2 * size(out)),
        petseg: () =>
          petsegSide([{ data: x, shape: p.x, grad: true }, { data: dy, shape: out }], ([v, seedGrad]) => {
            E.maxPool2d(v, opts).backward(seedGrad);
            const g = v.grad!;
            v.grad = null;
            return [g];
          }),
        tfjs: (tf) => tfSide(tf, [{ data: x, shape: p.x }, { data: dy, shape: out }], ([v, d]) => [tf.grad((a: TF.Tensor) => tfPool(tf, a))(v, d)], [null]),
      },
    );
  }
  for (const c of shapes.concat) {
    const a = random(c.a);
    const b = random(c.b);
    cases.push({
      op: 'concat (channels)',
      shape: `${label(c.a)} + ${label(c.b)}`,
      count: c.count,
      bytes: 4 * 2 * (size(c.a) + size(c.b)),
      petseg: () => petsegSide([{ data: a, shape: c.a }, { data: b, shape: c.b }], ([u, v]) => [E.concat([u, v], 1)]),
      tfjs: (tf) => tfSide(tf, [{ data: a, shape: c.a }, { data: b, shape: c.b }], ([u, v]) => [tf.concat([u, v], 3)], [null]),
    });
  }
  return cases;
}

/** BCE-with-logits forward + backward on the model's output shape. */
export function bceCase(shape: number[]): BenchCase {
  const logits = random(shape).map((v) => 3 * v);
  const targets = random(shape).map((v) => (v > 0 ? 1 : 0));
  return {
    op: 'bce-with-logits forward+backward',
    shape: label(shape),
    count: 1,
    bytes: 4 * 3 * size(shape),
    petseg: () =>
      petsegSide([{ data: logits, shape, grad: true }, { data: targets, shape }], ([z, t]) => {
        const loss = E.bceWithLogits(z, t);
        loss.backward();
        const g = z.grad!;
        z.grad = null;
        return [loss, g];
      }),
    tfjs: (tf) =>
      tfSide(tf, [{ data: logits, shape }, { data: targets, shape }], ([z, t]) => {
        const { value, grad } = tf.valueAndGrad((v: TF.Tensor) => tf.losses.sigmoidCrossEntropy(t, v) as TF.Scalar)(z);
        return [value, grad];
      }, [null, null]),
  };
}

/** One fused Adam step over parameters of the given shapes (e.g. a model's). */
export function adamCase(name: string, shapes: number[][]): BenchCase {
  const total = shapes.reduce((s, sh) => s + size(sh), 0);
  const values = shapes.map((sh) => random(sh));
  const grads = shapes.map((sh) => random(sh));
  return {
    op: 'adam step',
    shape: `${name}: ${shapes.length} tensors, ${total.toLocaleString('en-US')} values`,
    count: 1,
    // Reads p, g, m, v; writes p, m, v.
    bytes: 4 * 7 * total,
    petseg: () => {
      const params = shapes.map((sh, i) => E.tensor(values[i], sh, { requiresGrad: true }));
      params.forEach((p, i) => (p.grad = E.tensor(grads[i], shapes[i])));
      const optimizer = new E.Adam(params, { lr: 1e-3, weightDecay: 1e-4 });
      return {
        run: () => {
          optimizer.step();
          return () => {};
        },
        // The check compares the parameters after one step from the same state.
        output: async () => {
          optimizer.step();
          return concatArrays(await Promise.all(params.map((p) => p.toArray())));
        },
        dispose: () => {
          optimizer.dispose();
          params.forEach((p) => {
            p.zeroGrad();
            p.dispose();
          });
        },
      };
    },
    tfjs: (tf) => {
      const vars = shapes.map((sh, i) => tf.variable(tf.tensor(values[i], sh), true, `adam${seed++}_${i}`));
      const gradTensors = shapes.map((sh, i) => tf.tensor(grads[i], sh));
      // TF.js Adam has no weight decay: add wd·p to the gradient, which is what torch.optim.Adam does.
      const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
      const step = () =>
        tf.tidy(() => optimizer.applyGradients(Object.fromEntries(vars.map((v, i) => [v.name, tf.add(gradTensors[i], tf.mul(v, 1e-4))]))));
      return {
        run: () => {
          step();
          return () => {};
        },
        output: async () => {
          step();
          return concatArrays(await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array)));
        },
        dispose: () => {
          optimizer.dispose();
          vars.forEach((v) => v.dispose());
          gradTensors.forEach((g) => g.dispose());
        },
      };
    },
  };
}
