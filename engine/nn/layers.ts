/** Layers: Conv2d, ConvTranspose2d, BatchNorm2d, MaxPool2d, ReLU, LeakyReLU, Sequential (PyTorch names and layouts). */
import { noGrad } from '../autograd.js';
import { batchNorm2d } from '../ops/batchnorm.js';
import { conv2d, convTranspose2d, type Pair } from '../ops/conv.js';
import { full, zeros } from '../ops/creation.js';
import { maxPool2d } from '../ops/pool.js';
import { Generator } from '../random.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { convBiasInit, convWeightInit } from './init.js';
import { Module } from './module.js';

/**
 * Options of {@link Conv2d} and {@link ConvTranspose2d}: stride, padding, a bias (default true) and
 * the generator of the initialisation.
 */
export interface ConvOptions {
  stride?: Pair;
  padding?: Pair;
  bias?: boolean;
  /** Initialisation draws from this generator (seeded default: a fresh Generator(0)). */
  generator?: Generator;
}

function square(k: Pair): [number, number] {
  return typeof k === 'number' ? [k, k] : [k[0], k[1]];
}

/** A weight with PyTorch's default initialisation and an optional bias (shared by both convs). */
abstract class ConvLayer extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  protected constructor(weightShape: number[], outChannels: number, options: ConvOptions) {
    super();
    const generator = options.generator ?? new Generator(0);
    this.weight = this.registerParameter('weight', convWeightInit(weightShape, generator));
    this.bias = options.bias === false ? null : this.registerParameter('bias', convBiasInit(outChannels, weightShape, generator));
  }
}

/**
 * PyTorch's nn.Conv2d: weight [outChannels, inChannels, KH, KW] and bias [outChannels] (unless
 * `bias: false`), initialised as PyTorch does.
 */
export class Conv2d extends ConvLayer {
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly options: ConvOptions = {},
  ) {
    super([outChannels, inChannels, ...square(kernelSize)], outChannels, options);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

/** Weight [inChannels, outChannels, KH, KW], as PyTorch's ConvTranspose2d. */
export class ConvTranspose2d extends ConvLayer {
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    readonly options: ConvOptions & { outputPadding?: Pair } = {},
  ) {
    super([inChannels, outChannels, ...square(kernelSize)], outChannels, options);
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.options);
  }
}

/**
 * PyTorch's nn.BatchNorm2d: a per-channel weight and bias, and running statistics updated in
 * training mode and used in eval, under PyTorch's state-dict names.
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    readonly channels: number,
    readonly options: { eps?: number; momentum?: number } = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', full([channels], 1));
    this.bias = this.registerParameter('bias', zeros([channels]));
    this.registerBuffer('running_mean', zeros([channels]));
    this.registerBuffer('running_var', full([channels], 1));
    this.registerBuffer('num_batches_tracked', zeros([]), 'I64');
  }

  forward(x: Tensor): Tensor {
    return this.normalize(x, false);
  }

  /** forward(x).relu() in one kernel each way (batchNorm2d's `relu` option): same values, less memory traffic. */
  forwardRelu(x: Tensor): Tensor {
    return this.normalize(x, true);
  }

  private normalize(x: Tensor, relu: boolean): Tensor {
    const out = batchNorm2d(x, this.buffer('running_mean'), this.buffer('running_var'), this.weight, this.bias, {
      training: this.training,
      eps: this.options.eps,
      momentum: this.options.momentum,
      relu,
    });
    if (this.training) {
      const counter = this.buffer('num_batches_tracked');
      noGrad(() => tidy(() => counter.assign(counter.add(1))));
    }
    return out;
  }
}

/** PyTorch's nn.MaxPool2d: {@link maxPool2d} as a module, without parameters. */
export class MaxPool2d extends Module {
  constructor(readonly options: { kernelSize: Pair; stride?: Pair; padding?: Pair }) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

/** PyTorch's nn.ReLU: {@link relu} as a module. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** PyTorch's nn.LeakyReLU(negative_slope). */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}

/** Children named 0, 1, 2, … applied in order. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.registerModule(String(i), m));
  }

  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, layer) => layer.forward(h), x);
  }
}

/** Children named 0, 1, 2, … used by index (no forward of its own), like torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];

  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.registerModule(String(i), m));
  }

  forward(): Tensor {
    throw new Error('ModuleList has no forward(); call its items');
  }
}
