/**
 * PyTorch's default initialisation, seeded: conv weights kaiming-uniform with a = √5, which is
 * U(−1/√fan_in, 1/√fan_in), and biases U(−1/√fan_in, 1/√fan_in). fan_in is weight.shape[1]·KH·KW
 * (for a transposed conv's [Cin, Cout, KH, KW] weight that is Cout·KH·KW, as in PyTorch).
 */
import { rand } from '../ops/creation.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';

export function fanIn(weightShape: readonly number[]): number {
  return weightShape.slice(1).reduce((a, b) => a * b, 1);
}

export function uniformInit(shape: readonly number[], bound: number, generator: Generator): Tensor {
  return rand(shape, { low: -bound, high: bound, generator });
}

export function convWeightInit(shape: readonly number[], generator: Generator): Tensor {
  return uniformInit(shape, 1 / Math.sqrt(fanIn(shape)), generator);
}

export function convBiasInit(channels: number, weightShape: readonly number[], generator: Generator): Tensor {
  return uniformInit([channels], 1 / Math.sqrt(fanIn(weightShape)), generator);
}
