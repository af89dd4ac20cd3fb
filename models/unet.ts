/**
 * The lab's UNet: an encoder of double 3×3 convs at widths b, 2b, 4b, 8b, 16b with 2×2 max-pool
 * between levels, a decoder of 2×2 stride-2 transposed convs, skip concat and double convs, and
 * a 1×1 conv to one logit channel. `baseChannels` b defaults to 64 (the lab's widths).
 * Key names match models/pytorch/definitions.py. Input H and W must be multiples of 16.
 */
import { ConvTranspose2d, Conv2d, MaxPool2d, ModuleList } from '../engine/nn/index.js';
import { Module } from '../engine/nn/module.js';
import { concat } from '../engine/ops/layout.js';
import { Generator } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { DoubleConv, checkInput } from './common.js';

/**
 * Options of {@link UNet}: input channels (default 3), base width b (default 64) and the seed of
 * the weight initialisation (default 0).
 */
export interface UNetOptions {
  inChannels?: number;
  baseChannels?: number;
  /** Seed of the weight initialisation. */
  seed?: number;
}

/**
 * The lab's UNet (the top of this file): [N, inChannels, H, W] to one logit channel, H and W
 * multiples of 16.
 */
export class UNet extends Module {
  static readonly stride = 16;
  readonly options: Required<UNetOptions>;
  readonly encoders: ModuleList<DoubleConv>;
  readonly pool: MaxPool2d;
  readonly ups: ModuleList<ConvTranspose2d>;
  readonly decoders: ModuleList<DoubleConv>;
  readonly head: Conv2d;

  constructor(options: UNetOptions = {}) {
    super();
    this.options = { inChannels: 3, baseChannels: 64, seed: 0, ...options };
    const { inChannels, baseChannels: b } = this.options;
    if (!Number.isInteger(b) || b < 1) throw new Error(`UNet: baseChannels must be a positive integer, got ${b}`);
    const generator = new Generator(this.options.seed);
    const widths = [b, 2 * b, 4 * b, 8 * b, 16 * b];
    this.encoders = this.registerModule('encoders', new ModuleList(widths.map((w, i) => new DoubleConv(i === 0 ? inChannels : widths[i - 1], w, generator))));
    this.pool = new MaxPool2d({ kernelSize: 2 });
    const decoderWidths = widths.slice(0, 4).reverse(); // 8b, 4b, 2b, b
    this.ups = this.registerModule('ups', new ModuleList(decoderWidths.map((w) => new ConvTranspose2d(2 * w, w, 2, { stride: 2, generator }))));
    this.decoders = this.registerModule('decoders', new ModuleList(decoderWidths.map((w) => new DoubleConv(2 * w, w, generator))));
    this.head = this.registerModule('head', new Conv2d(b, 1, 1, { generator }));
  }

  forward(x: Tensor): Tensor {
    checkInput('UNet', x, this.options.inChannels, UNet.stride);
    const skips: Tensor[] = [];
    let h = x;
    this.encoders.items.forEach((encoder, i) => {
      h = encoder.forward(i === 0 ? h : this.pool.forward(h));
      skips.push(h);
    });
    skips.pop(); // the bottleneck is not a skip
    this.ups.items.forEach((up, i) => {
      h = this.decoders.items[i].forward(concat([up.forward(h), skips.pop()!], 1));
    });
    return this.head.forward(h);
  }
}
