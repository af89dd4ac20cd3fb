/**
 * Every core op, forward and backward, on the GPU against the CPU reference, over shapes that
 * include batch 1, odd sizes, rank 0, channel counts that are not multiples of 4, broadcasting
 * and workgroup tails.
 */
import { describe, test } from 'vitest';
import * as E from '../engine/index.js';
import { reference as R } from '../engine/reference/index.js';
import { caseRows, checkOp, type OpCase } from './helpers/op-check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const UNARY_SHAPES = [[], [1], [7], [1, 3, 5, 7], [2, 13, 9, 11], [3, 5, 257]];

const BINARY_SHAPES: [number[], number[]][] = [
  [[2, 3, 5, 7], [2, 3, 5, 7]],
  [[1, 3, 4, 4], [1, 3, 4, 4]],
  [[2, 5, 9, 7], [1, 5, 1, 1]], // NCHW per-channel
  [[3, 13, 5, 5], [13, 1, 1]], // per-channel, lower rank
  [[4, 3], []], // tensor with a 0-d tensor
  [[1, 7], [5, 1]], // both sides broadcast
  [[5, 1, 3], [1, 13, 1]],
  [[1], [1]],
];

const cases: OpCase[] = [];

for (const shape of UNARY_SHAPES) {
  cases.push(
    { label: 'neg', shapes: [shape], gpu: ([x]) => x.neg(), ref: R.neg() },
    { label: 'relu', shapes: [shape], gpu: ([x]) => x.relu(), ref: R.relu() },
    { label: 'leakyRelu 0.2', shapes: [shape], gpu: ([x]) => x.leakyRelu(0.2), ref: R.leakyRelu(0.2) },
    { label: 'LeakyReLU layer', shapes: [shape], gpu: ([x]) => new E.LeakyReLU().forward(x), ref: R.leakyRelu(0.01) },
    { label: 'sigmoid', shapes: [shape], gpu: ([x]) => x.sigmoid(), ref: R.sigmoid() },
    { label: 'exp', shapes: [shape], gpu: ([x]) => x.exp(), ref: R.exp() },
    { label: 'log', shapes: [shape], gpu: ([x]) => x.log(), ref: R.log(), domains: ['positive'] },
    { label: 'add 2.5', shapes: [shape], gpu: ([x]) => x.add(2.5), ref: R.addScalar(2.5) },
    { label: 'sub 0.75', shapes: [shape], gpu: ([x]) => x.sub(0.75), ref: R.subScalar(0.75) },
    { label: '3 - x', shapes: [shape], gpu: ([x]) => E.rsub(x, 3), ref: R.rsubScalar(3) },
    { label: 'mul -1.5', shapes: [shape], gpu: ([x]) => x.mul(-1.5), ref: R.mulScalar(-1.5) },
    { label: 'div 3', shapes: [shape], gpu: ([x]) => x.div(3), ref: R.divScalar(3) },
  );
}

for (const [a, b] of BINARY_SHAPES) {
  cases.push(
    { label: 'add', shapes: [a, b], gpu: ([x, y]) => x.add(y), ref: R.add() },
    { label: 'add (swapped)', shapes: [b, a], gpu: ([x, y]) => x.add(y), ref: R.add() },
    { label: 'sub', shapes: [a, b], gpu: ([x, y]) => x.sub(y), ref: R.sub() },
    { label: 'sub (swapped)', shapes: [b, a], gpu: ([x, y]) => x.sub(y), ref: R.sub() },
    { label: 'mul', shapes: [a, b], gpu: ([x, y]) => x.mul(y), ref: R.mul() },
    { label: 'div', shapes: [a, b], gpu: ([x, y]) => x.div(y), ref: R.div(), domains: ['normal', 'awayFromZero'] },
    { label: 'div (swapped)', shapes: [b, a], gpu: ([x, y]) => x.div(y), ref: R.div(), domains: ['normal', 'awayFromZero'] },
  );
}

const REDUCTIONS: [number[], number | number[] | undefined, boolean][] = [
  [[7], undefined, false],
  [[1, 3, 5, 7], undefined, false],
  [[2, 13, 9, 11], [0, 2, 3], false], // per-channel (BN statistics, bias gradients)
  [[2, 13, 9, 11], [0, 2, 3], true],
  [[2, 13, 9, 11], 1, true],
  [[2, 13, 9, 11], -1, false],
  [[5, 3], 0, false],
  [[1, 1, 1], [0, 1, 2], true],
  [[3, 40001], 1, false], // long rows: chunked two-pass reduction
  [[70001], undefined, false],
  [[1100, 3], 1, true], // many short outputs
];

for (const [shape, axes, keepDim] of REDUCTIONS) {
  const tag = `axes=${JSON.stringify(axes)} keepDim=${keepDim}`;
  cases.push(
    { label: `sum ${tag}`, shapes: [shape], gpu: ([x]) => x.sum(axes, keepDim), ref: R.sum(axes, keepDim) },
    { label: `mean ${tag}`, shapes: [shape], gpu: ([x]) => x.mean(axes, keepDim), ref: R.mean(axes, keepDim) },
  );
}

cases.push(
  { label: 'concat axis 1', shapes: [[2, 3, 4, 5], [2, 5, 4, 5], [2, 13, 4, 5]], gpu: (xs) => E.concat(xs, 1), ref: R.concat(1) },
  { label: 'concat axis 0', shapes: [[1, 3, 5], [2, 3, 5]], gpu: (xs) => E.concat(xs, 0), ref: R.concat(0) },
  { label: 'concat axis -1', shapes: [[3, 7], [3, 1], [3, 9]], gpu: (xs) => E.concat(xs, -1), ref: R.concat(-1) },
  { label: 'concat one', shapes: [[1, 5, 3, 3]], gpu: (xs) => E.concat(xs, 1), ref: R.concat(1) },
  { label: 'narrow', shapes: [[2, 13, 5, 7]], gpu: ([x]) => x.narrow(1, 3, 5), ref: R.narrow(1, 3, 5) },
  { label: 'narrow last', shapes: [[3, 11]], gpu: ([x]) => x.narrow(-1, 10, 1), ref: R.narrow(-1, 10, 1) },
  { label: 'reshape', shapes: [[2, 3, 4]], gpu: ([x]) => x.reshape([6, -1]), ref: R.reshape([6, 4]) },
  { label: 'reshape to 0-d', shapes: [[1, 1]], gpu: ([x]) => x.reshape([]), ref: R.reshape([]) },
  { label: 'matmul 1x1', shapes: [[1, 1], [1, 1]], gpu: ([a, b]) => a.matmul(b), ref: R.matmul() },
  { label: 'matmul', shapes: [[5, 7], [7, 3]], gpu: ([a, b]) => a.matmul(b), ref: R.matmul() },
  { label: 'matmul odd', shapes: [[17, 33], [33, 19]], gpu: ([a, b]) => a.matmul(b), ref: R.matmul() },
  { label: 'matmul thin', shapes: [[64, 3], [3, 13]], gpu: ([a, b]) => a.matmul(b), ref: R.matmul() },
);

// Compositions: a tensor used twice, broadcasting feeding reductions, split pieces recombined.
cases.push(
  {
    label: 'x*x + x (one tensor used three times)',
    shapes: [[3, 5]],
    gpu: ([x]) => x.mul(x).add(x),
    ref: { forward: ([x]) => x.map((v) => v * v + v), backward: ([x], g) => [g.map((gv, i) => gv * (2 * x.data[i] + 1))] },
  },
  {
    label: 'split then concat reversed',
    shapes: [[2, 9, 3]],
    gpu: ([x]) => E.concat(x.split([2, 3, 4], 1).reverse(), 1),
    ref: {
      forward: ([x]) => R.concat(1).forward([R.narrow(1, 5, 4).forward([x]), R.narrow(1, 2, 3).forward([x]), R.narrow(1, 0, 2).forward([x])]),
      backward: ([x], g) => {
        const pieces = [R.narrow(1, 5, 4), R.narrow(1, 2, 3), R.narrow(1, 0, 2)];
        const [g0, g1, g2] = R.concat(1).backward(pieces.map((p) => p.forward([x])), g);
        const parts = [pieces[0].backward([x], g0)[0], pieces[1].backward([x], g1)[0], pieces[2].backward([x], g2)[0]];
        return [parts.reduce((acc, p) => acc.map((v, i) => v + p.data[i]))];
      },
    },
  },
  {
    label: 'sigmoid(x*w+b).mean()',
    shapes: [[2, 5, 3, 3], [1, 5, 1, 1], [1, 5, 1, 1]],
    gpu: ([x, w, b]) => x.mul(w).add(b).sigmoid().mean(),
    ref: {
      forward: ([x, w, b]) => R.mean().forward([R.sigmoid().forward([R.add().forward([R.mul().forward([x, w]), b])])]),
      backward: ([x, w, b], g) => {
        const xw = R.mul().forward([x, w]);
        const z = R.add().forward([xw, b]);
        const s = R.sigmoid().forward([z]);
        const [gs] = R.mean().backward([s], g);
        const [gz] = R.sigmoid().backward([z], gs);
        const [gxw, gb] = R.add().backward([xw, b], gz);
        const [gx, gw] = R.mul().backward([x, w], gxw);
        return [gx, gw, gb];
      },
    },
  },
);

describe('core ops: GPU vs CPU reference (forward, backward, finite differences, no leaks)', () => {
  test.each(caseRows(cases))('%s', async (_, c, i) => {
    await checkOp(c, i);
  });
});
