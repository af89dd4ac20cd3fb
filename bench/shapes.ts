/**
 * The layer shapes a model really runs: one forward pass with the layer classes' forward methods
 * wrapped to record their inputs (restored afterwards), deduplicated with a count.
 */
import { BatchNorm2d, Conv2d, ConvTranspose2d, MaxPool2d, noGrad, type Module, zeros, type Tensor } from '../engine/index.js';
import { DoubleConv } from '../models/index.js';

export interface ConvShape {
  x: number[];
  /** Conv2d: [Cout, Cin, KH, KW]; ConvTranspose2d: [Cin, Cout, KH, KW]. */
  w: number[];
  stride: number;
  padding: number;
  count: number;
}

export interface LayerShapes {
  conv2d: ConvShape[];
  convTranspose2d: ConvShape[];
  batchNorm2d: { x: number[]; count: number }[];
  maxPool2d: { x: number[]; kernel: number; stride: number; padding: number; count: number }[];
  /** Channel concatenation of the decoder: [a, b] → [N, Ca + Cb, H, W]. */
  concat: { a: number[]; b: number[]; count: number }[];
}

function add<T extends { count: number }>(list: T[], item: Omit<T, 'count'>): void {
  const key = JSON.stringify(item);
  const found = list.find((e) => JSON.stringify({ ...e, count: undefined }) === key);
  if (found) found.count++;
  else list.push({ ...item, count: 1 } as T);
}

const scalar = (v: unknown, fallback: number) => (v === undefined ? fallback : typeof v === 'number' ? v : (v as number[])[0]);

export function recordLayerShapes(model: Module, input: number[]): LayerShapes {
  const shapes: LayerShapes = { conv2d: [], convTranspose2d: [], batchNorm2d: [], maxPool2d: [], concat: [] };
  let lastUp: number[] | null = null;
  type Note = (self: never, x: Tensor, out: Tensor) => void;
  const noteBatchNorm: Note = (_self, x) => add(shapes.batchNorm2d, { x: [...x.shape] });
  // [prototype, method, note]: each layer's forward, and BatchNorm's fused forwardRelu that the models call.
  const patches: [object, string, Note][] = [
    [Conv2d.prototype, 'forward', (self: Conv2d, x) => add(shapes.conv2d, { x: [...x.shape], w: [...self.weight.shape], stride: scalar(self.options.stride, 1), padding: scalar(self.options.padding, 0) })],
    [ConvTranspose2d.prototype, 'forward', (self: ConvTranspose2d, x, out) => {
      add(shapes.convTranspose2d, { x: [...x.shape], w: [...self.weight.shape], stride: scalar(self.options.stride, 1), padding: scalar(self.options.padding, 0) });
      lastUp = [...out.shape];
    }],
    [BatchNorm2d.prototype, 'forward', noteBatchNorm],
    [BatchNorm2d.prototype, 'forwardRelu', noteBatchNorm],
    [MaxPool2d.prototype, 'forward', (self: MaxPool2d, x) => {
      const kernel = scalar(self.options.kernelSize, 2);
      add(shapes.maxPool2d, { x: [...x.shape], kernel, stride: scalar(self.options.stride, kernel), padding: scalar(self.options.padding, 0) });
    }],
    [DoubleConv.prototype, 'forward', (_self, x) => {
      // A decoder block right after an up-sampling with more channels than it produced: a concat.
      if (lastUp && x.shape[1] > lastUp[1] && x.shape[2] === lastUp[2]) add(shapes.concat, { a: lastUp, b: [lastUp[0], x.shape[1] - lastUp[1], lastUp[2], lastUp[3]] });
      lastUp = null;
    }],
  ];
  const methods = (proto: object) => proto as Record<string, (this: never, x: Tensor) => Tensor>;
  const originals = patches.map(([proto, method]) => methods(proto)[method]);
  patches.forEach(([proto, method, note], i) => {
    const original = originals[i];
    methods(proto)[method] = function (this: never, x: Tensor) {
      const out = original.call(this, x);
      note(this, x, out);
      return out;
    };
  });
  try {
    const x = zeros(input);
    noGrad(() => model.forward(x)).dispose();
    x.dispose();
  } finally {
    patches.forEach(([proto, method], i) => (methods(proto)[method] = originals[i]));
  }
  return shapes;
}
