/**
 * The lab's UNet written with TF.js ops (NHWC), taking its weights from a petseg UNet so the two
 * compute the same function: the bench compares their first loss before timing them.
 */
import type { UNet } from '../models/unet.js';
import { permute } from './timing.js';
import type { TF } from './tfjs.js';

export interface TfUNet {
  /** Logits [N, H, W, 1] (BatchNorm with batch statistics in training, running ones otherwise). */
  forward(x: TF.Tensor, training: boolean): TF.Tensor;
  variables: TF.Variable[];
  dispose(): void;
}

/** Copy a petseg UNet's parameters into TF.js variables in TF's layouts. */
export async function tfUNetFrom(tf: TF, model: UNet): Promise<TfUNet> {
  const vars = new Map<string, TF.Variable>();
  for (const [name, t] of model.namedParameters()) {
    const data = await t.toArray();
    const shape = [...t.shape];
    let value: TF.Tensor;
    if (shape.length === 4 && name.startsWith('ups.')) value = tf.tensor(permute(data, shape, [2, 3, 1, 0]), [shape[2], shape[3], shape[1], shape[0]]); // [Cin,Cout,KH,KW] → [KH,KW,Cout,Cin]
    else if (shape.length === 4) value = tf.tensor(permute(data, shape, [2, 3, 1, 0]), [shape[2], shape[3], shape[1], shape[0]]); // [Cout,Cin,KH,KW] → [KH,KW,Cin,Cout]
    else value = tf.tensor(data, shape);
    vars.set(name, tf.variable(value, true, `unet/${name}`));
    value.dispose();
  }
  const stats = new Map<string, TF.Tensor>();
  for (const [name, t] of model.stateDict()) {
    if (name.endsWith('running_mean') || name.endsWith('running_var')) stats.set(name, tf.tensor(await t.toArray(), [...t.shape]));
  }
  const v = (name: string) => {
    const found = vars.get(name);
    if (!found) throw new Error(`TF.js UNet: no parameter ${name}`);
    return found;
  };
  const levels = model.encoders.items.length;
  const doubleConv = (x: TF.Tensor, prefix: string, training: boolean) => {
    let h = x;
    for (const [conv, bn] of [
      [0, 1],
      [3, 4],
    ]) {
      h = tf.conv2d(h as TF.Tensor4D, v(`${prefix}.block.${conv}.weight`) as unknown as TF.Tensor4D, 1, 'same');
      const { mean, variance } = training ? tf.moments(h, [0, 1, 2]) : { mean: stats.get(`${prefix}.block.${bn}.running_mean`)!, variance: stats.get(`${prefix}.block.${bn}.running_var`)! };
      h = tf.relu(tf.batchNorm(h, mean, variance, v(`${prefix}.block.${bn}.bias`) as unknown as TF.Tensor1D, v(`${prefix}.block.${bn}.weight`) as unknown as TF.Tensor1D, 1e-5));
    }
    return h;
  };
  return {
    variables: [...vars.values()],
    forward(x, training) {
      const skips: TF.Tensor[] = [];
      let h = x;
      for (let i = 0; i < levels; i++) {
        h = doubleConv(i === 0 ? h : tf.maxPool(h as TF.Tensor4D, 2, 2, 0), `encoders.${i}`, training);
        if (i < levels - 1) skips.push(h);
      }
      for (let i = 0; i < levels - 1; i++) {
        const skip = skips.pop()!;
        const w = v(`ups.${i}.weight`);
        const up = tf.add(tf.conv2dTranspose(h as TF.Tensor4D, w as unknown as TF.Tensor4D, [h.shape[0], h.shape[1]! * 2, h.shape[2]! * 2, w.shape[2]!] as [number, number, number, number], 2, 0), v(`ups.${i}.bias`));
        h = doubleConv(tf.concat([up, skip], 3), `decoders.${i}`, training);
      }
      return tf.add(tf.conv2d(h as TF.Tensor4D, v('head.weight') as unknown as TF.Tensor4D, 1, 0), v('head.bias'));
    },
    dispose: () => [...vars.values(), ...stats.values()].forEach((t) => t.dispose()),
  };
}
