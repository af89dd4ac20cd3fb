/**
 * The lab's two models written with TF.js ops (NHWC), taking their weights from petseg models so
 * the two sides compute the same function: the bench compares their first logits before timing.
 */
import type { Module } from '../engine/index.js';
import type { ResNet34UNet, UNet } from '../models/index.js';
import { permute } from './timing.js';
import type { TF } from './tfjs.js';

export interface TfModel {
  /** Logits [N, H, W, 1] (BatchNorm with batch statistics in training, running ones otherwise). */
  forward(x: TF.Tensor, training: boolean): TF.Tensor;
  variables: TF.Variable[];
  dispose(): void;
}

type Pad = number | 'same' | 'valid';

/** TF.js layers over a petseg model's parameters and BatchNorm statistics, by petseg key. */
class TfLayers {
  private constructor(
    private readonly tf: TF,
    readonly vars: Map<string, TF.Variable>,
    private readonly stats: Map<string, TF.Tensor>,
  ) {}

  /** Copy the parameters into TF.js variables in TF's layouts. */
  static async from(tf: TF, model: Module, prefix: string): Promise<TfLayers> {
    const vars = new Map<string, TF.Variable>();
    for (const [name, t] of model.namedParameters()) {
      const data = await t.toArray();
      const s = [...t.shape];
      // Conv2d [Cout,Cin,KH,KW] → [KH,KW,Cin,Cout]; ConvTranspose2d [Cin,Cout,KH,KW] → [KH,KW,Cout,Cin]: the same permutation.
      const value = s.length === 4 ? tf.tensor(permute(data, s, [2, 3, 1, 0]), [s[2], s[3], s[1], s[0]]) : tf.tensor(data, s);
      vars.set(name, tf.variable(value, true, `${prefix}/${name}`));
      value.dispose();
    }
    const stats = new Map<string, TF.Tensor>();
    for (const [name, t] of model.stateDict()) {
      if (name.endsWith('running_mean') || name.endsWith('running_var')) stats.set(name, tf.tensor(await t.toArray(), [...t.shape]));
    }
    return new TfLayers(tf, vars, stats);
  }

  v(name: string): TF.Variable {
    const found = this.vars.get(name);
    if (!found) throw new Error(`TF.js model: no parameter ${name}`);
    return found;
  }

  conv(x: TF.Tensor, name: string, stride: number, pad: Pad): TF.Tensor {
    const y = this.tf.conv2d(x as TF.Tensor4D, this.v(`${name}.weight`) as unknown as TF.Tensor4D, stride, pad);
    return this.vars.has(`${name}.bias`) ? this.tf.add(y, this.v(`${name}.bias`)) : y;
  }

  /** 2×2 stride-2 transposed conv with bias. */
  up(x: TF.Tensor, name: string): TF.Tensor {
    const w = this.v(`${name}.weight`);
    const [n, h, wd] = x.shape;
    const y = this.tf.conv2dTranspose(x as TF.Tensor4D, w as unknown as TF.Tensor4D, [n, h! * 2, wd! * 2, w.shape[2]!] as [number, number, number, number], 2, 0);
    return this.tf.add(y, this.v(`${name}.bias`));
  }

  batchNorm(x: TF.Tensor, name: string, training: boolean, relu: boolean): TF.Tensor {
    const { mean, variance } = training
      ? this.tf.moments(x, [0, 1, 2])
      : { mean: this.stats.get(`${name}.running_mean`)!, variance: this.stats.get(`${name}.running_var`)! };
    const y = this.tf.batchNorm(x, mean, variance, this.v(`${name}.bias`) as unknown as TF.Tensor1D, this.v(`${name}.weight`) as unknown as TF.Tensor1D, 1e-5);
    return relu ? this.tf.relu(y) : y;
  }

  /** models/common.ts DoubleConv: (3×3 conv → BN → ReLU) × 2 under `prefix.block.{0,1,3,4}`. */
  doubleConv(x: TF.Tensor, prefix: string, training: boolean): TF.Tensor {
    const h = this.batchNorm(this.conv(x, `${prefix}.block.0`, 1, 'same'), `${prefix}.block.1`, training, true);
    return this.batchNorm(this.conv(h, `${prefix}.block.3`, 1, 'same'), `${prefix}.block.4`, training, true);
  }

  dispose(): void {
    [...this.vars.values(), ...this.stats.values()].forEach((t) => t.dispose());
  }
}

/** TF.js twin of models/unet.ts. */
export async function tfUNetFrom(tf: TF, model: UNet): Promise<TfModel> {
  const L = await TfLayers.from(tf, model, 'unet');
  const levels = model.encoders.items.length;
  return {
    variables: [...L.vars.values()],
    forward(x, training) {
      const skips: TF.Tensor[] = [];
      let h = x;
      for (let i = 0; i < levels; i++) {
        h = L.doubleConv(i === 0 ? h : tf.maxPool(h as TF.Tensor4D, 2, 2, 0), `encoders.${i}`, training);
        if (i < levels - 1) skips.push(h);
      }
      for (let i = 0; i < levels - 1; i++) h = L.doubleConv(tf.concat([L.up(h, `ups.${i}`), skips.pop()!], 3), `decoders.${i}`, training);
      return L.conv(h, 'head', 1, 0);
    },
    dispose: () => L.dispose(),
  };
}

/** TF.js twin of models/resnet34-unet.ts (same stages, shortcuts, decoder and skips). */
export async function tfResNet34UNetFrom(tf: TF, model: ResNet34UNet): Promise<TfModel> {
  const L = await TfLayers.from(tf, model, 'resnet34_unet');
  const blocks = model.stages.map((stage) => stage.layers.length);
  const block = (x: TF.Tensor, prefix: string, stride: number, training: boolean) => {
    const h = L.batchNorm(L.conv(x, `${prefix}.conv1`, stride, 1), `${prefix}.bn1`, training, true);
    const y = L.batchNorm(L.conv(h, `${prefix}.conv2`, 1, 1), `${prefix}.bn2`, training, false);
    const shortcut = L.vars.has(`${prefix}.downsample.0.weight`)
      ? L.batchNorm(L.conv(x, `${prefix}.downsample.0`, stride, 0), `${prefix}.downsample.1`, training, false)
      : x;
    return tf.relu(tf.add(y, shortcut));
  };
  return {
    variables: [...L.vars.values()],
    forward(x, training) {
      const stem = L.batchNorm(L.conv(x, 'conv1', 2, 3), 'bn1', training, true);
      const skips = [stem];
      let h: TF.Tensor = tf.maxPool(stem as TF.Tensor4D, 3, 2, 1);
      blocks.forEach((count, s) => {
        for (let i = 0; i < count; i++) h = block(h, `layer${s + 1}.${i}`, i === 0 && s > 0 ? 2 : 1, training);
        skips.push(h);
      });
      skips.pop(); // layer4 is the bottleneck
      for (let i = 0; i < model.ups.items.length; i++) {
        const upsampled = L.up(h, `ups.${i}`);
        const skip = skips.pop();
        h = L.doubleConv(skip ? tf.concat([upsampled, skip], 3) : upsampled, `decoders.${i}`, training);
      }
      return L.conv(h, 'head', 1, 0);
    },
    dispose: () => L.dispose(),
  };
}
