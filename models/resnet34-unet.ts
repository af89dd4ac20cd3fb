/**
 * ResNet34_UNet: a ResNet34 encoder (7×7/s2 stem conv → BN → ReLU → 3×3/s2 max-pool; BasicBlock
 * stages [3, 4, 6, 3] at 64, 128, 256, 512 with 1×1/s2 conv + BN shortcuts) and a UNet-style
 * decoder: 2×2 stride-2 transposed conv, concat with the encoder feature of that resolution,
 * double 3×3 conv — from 1/32 back to full resolution — then a 1×1 conv to one logit channel.
 *
 *   layer4 512@/32 → up 256@/16 ⊕ layer3 256 → 256 → up 128@/8 ⊕ layer2 128 → 128
 *   → up 64@/4 ⊕ layer1 64 → 64 → up 64@/2 ⊕ stem 64 → 64 → up 32@/1 → 32 → head 1
 *
 * Key names follow torchvision's resnet34 for the encoder (so its ImageNet weights load:
 * encoder-weights.ts) and models/pytorch/definitions.py for the decoder. Input H and W must be
 * multiples of 32. A frozen encoder (freezeEncoder) gets no gradients and keeps its BatchNorm
 * layers in eval mode — running statistics used, not updated — whatever train() says.
 */
import { BatchNorm2d, Conv2d, ConvTranspose2d, MaxPool2d, ModuleList, Sequential } from '../engine/nn/index.js';
import { Module, type StateDict } from '../engine/nn/module.js';
import { concat } from '../engine/ops/layout.js';
import { Generator } from '../engine/random.js';
import type { AdamParamGroup } from '../engine/optim.js';
import type { Tensor } from '../engine/tensor.js';
import { DoubleConv, checkInput } from './common.js';

class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inChannels: number, outChannels: number, stride: number, generator: Generator) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, outChannels, 3, { stride, padding: 1, bias: false, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(outChannels));
    this.conv2 = this.registerModule('conv2', new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false, generator }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(outChannels));
    this.downsample =
      stride !== 1 || inChannels !== outChannels
        ? this.registerModule('downsample', new Sequential(new Conv2d(inChannels, outChannels, 1, { stride, bias: false, generator }), new BatchNorm2d(outChannels)))
        : null;
  }

  forward(x: Tensor): Tensor {
    const h = this.bn2.forward(this.conv2.forward(this.bn1.forwardRelu(this.conv1.forward(x))));
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    return h.add(shortcut).relu();
  }
}

/**
 * Options of {@link ResNet34UNet}: input channels (default 3) and the seed of the weight
 * initialisation (default 0).
 */
export interface ResNet34UNetOptions {
  inChannels?: number;
  seed?: number;
}

const STAGES: [number, number][] = [
  [64, 3],
  [128, 4],
  [256, 6],
  [512, 3],
];

/**
 * The lab's ResNet34_UNet (the top of this file): [N, inChannels, H, W] to one logit channel, H and
 * W multiples of 32, with an encoder that can load ImageNet weights and be frozen.
 */
export class ResNet34UNet extends Module {
  static readonly stride = 32;
  readonly options: Required<ResNet34UNetOptions>;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d;
  readonly stages: Sequential[];
  readonly ups: ModuleList<ConvTranspose2d>;
  readonly decoders: ModuleList<DoubleConv>;
  readonly head: Conv2d;
  private encoderFrozen = false;

  constructor(options: ResNet34UNetOptions = {}) {
    super();
    this.options = { inChannels: 3, seed: 0, ...options };
    const generator = new Generator(this.options.seed);
    this.conv1 = this.registerModule('conv1', new Conv2d(this.options.inChannels, 64, 7, { stride: 2, padding: 3, bias: false, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    this.maxpool = new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 });
    let channels = 64;
    this.stages = STAGES.map(([width, blocks], s) => {
      const layer = new Sequential(
        ...Array.from({ length: blocks }, (_, i) => new BasicBlock(i === 0 ? channels : width, width, i === 0 && s > 0 ? 2 : 1, generator)),
      );
      channels = width;
      return this.registerModule(`layer${s + 1}`, layer);
    });
    // [in, out, skip channels]: the skip is concatenated after the up-sampling.
    const decoder: [number, number, number][] = [
      [512, 256, 256],
      [256, 128, 128],
      [128, 64, 64],
      [64, 64, 64],
      [64, 32, 0],
    ];
    this.ups = this.registerModule('ups', new ModuleList(decoder.map(([i, o]) => new ConvTranspose2d(i, o, 2, { stride: 2, generator }))));
    this.decoders = this.registerModule('decoders', new ModuleList(decoder.map(([, o, skip]) => new DoubleConv(o + skip, o, generator))));
    this.head = this.registerModule('head', new Conv2d(32, 1, 1, { generator }));
  }

  /** The encoder's modules, whose state-dict names are torchvision's (conv1, bn1, layer1–layer4). */
  encoderModules(): Module[] {
    return [this.conv1, this.bn1, ...this.stages];
  }

  /** The encoder's state entries (parameters and BatchNorm statistics) under torchvision's names. */
  encoderState(): StateDict {
    const roots = new Set(['conv1', 'bn1', ...this.stages.map((_, i) => `layer${i + 1}`)]);
    return new Map([...this.stateDict()].filter(([name]) => roots.has(name.split('.')[0])));
  }

  /** The encoder's parameters and the rest (decoder and head), e.g. for Adam parameter groups. */
  parameterGroups(): { encoder: Tensor[]; decoder: Tensor[] } {
    const encoder = new Set(this.encoderModules().flatMap((m) => m.parameters()));
    return { encoder: [...encoder], decoder: this.parameters().filter((p) => !encoder.has(p)) };
  }

  /** Training hook (models/registry.ts): the encoder's parameters as their own group, at `encoderLr` (default lr). */
  optimizerGroups(lr: { lr: number; encoderLr?: number }): AdamParamGroup[] {
    const { encoder, decoder } = this.parameterGroups();
    return [{ params: encoder, lr: lr.encoderLr ?? lr.lr }, { params: decoder }];
  }

  /** Training hook: the encoder is frozen for the first `freezeEncoderEpochs` epochs. */
  beforeEpoch(epoch: number, settings: { freezeEncoderEpochs: number }): void {
    this.freezeEncoder(epoch <= settings.freezeEncoderEpochs);
  }

  get isEncoderFrozen(): boolean {
    return this.encoderFrozen;
  }

  /** Freeze (true) or unfreeze the encoder: its weights get no gradients and its BatchNorm statistics stay as they are. */
  freezeEncoder(frozen = true): this {
    this.encoderFrozen = frozen;
    for (const m of this.encoderModules()) m.requiresGrad_(!frozen);
    return this.train(this.training);
  }

  override train(mode = true): this {
    super.train(mode);
    if (this.encoderFrozen) for (const m of this.encoderModules()) m.train(false);
    return this;
  }

  /** The encoder's feature maps: the stem after its ReLU (/2), then layer1 (/4) … layer4 (/32). */
  encode(x: Tensor): Tensor[] {
    checkInput('ResNet34_UNet', x, this.options.inChannels, ResNet34UNet.stride);
    const stem = this.bn1.forwardRelu(this.conv1.forward(x));
    const features = [stem];
    let h = this.maxpool.forward(stem);
    for (const stage of this.stages) {
      h = stage.forward(h);
      features.push(h);
    }
    return features;
  }

  forward(x: Tensor): Tensor {
    const skips = this.encode(x);
    let h = skips.pop()!; // layer4 is the bottleneck
    this.ups.items.forEach((up, i) => {
      const upsampled = up.forward(h);
      const skip = skips.pop();
      h = this.decoders.items[i].forward(skip ? concat([upsampled, skip], 1) : upsampled);
    });
    return this.head.forward(h);
  }
}
