/** Pieces shared by the segmentation models. */
import { BatchNorm2d, Conv2d, ReLU, Sequential } from '../engine/nn/index.js';
import { Module } from '../engine/nn/module.js';
import type { Generator } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';

/** (3×3 conv → BN → ReLU) × 2; convs without bias, since BN follows. Keys: block.{0,1,3,4}. */
export class DoubleConv extends Module {
  readonly block: Sequential;

  constructor(inChannels: number, outChannels: number, generator: Generator) {
    super();
    this.block = this.registerModule(
      'block',
      new Sequential(
        new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false, generator }),
        new BatchNorm2d(outChannels),
        new ReLU(),
        new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false, generator }),
        new BatchNorm2d(outChannels),
        new ReLU(),
      ),
    );
  }

  forward(x: Tensor): Tensor {
    // The Sequential keeps PyTorch's keys; BN and the ReLU after it run as one fused op.
    const [conv1, bn1, , conv2, bn2] = this.block.layers as [Conv2d, BatchNorm2d, ReLU, Conv2d, BatchNorm2d, ReLU];
    return bn2.forwardRelu(conv2.forward(bn1.forwardRelu(conv1.forward(x))));
  }
}

/** Input checks shared by the models: NCHW with 3 channels and H, W divisible by the total stride. */
export function checkInput(model: string, x: Tensor, inChannels: number, stride: number): void {
  if (x.rank !== 4 || x.shape[1] !== inChannels) {
    throw new Error(`${model}: expects input [N, ${inChannels}, H, W], got [${x.shape.join(', ')}]`);
  }
  const [, , h, w] = x.shape;
  if (h % stride !== 0 || w % stride !== 0 || h === 0 || w === 0) {
    throw new Error(
      `${model}: input height and width must be positive multiples of ${stride} (the network's total stride), got ${h}×${w}; ` +
        `resize the images (e.g. --img_size ${Math.max(stride, Math.round(Math.max(h, w) / stride) * stride)}).`,
    );
  }
}
