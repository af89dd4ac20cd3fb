/**
 * Autotuning for a model (engine/autotune.ts): one forward and backward pass per batch shape, in
 * eval mode so that no BatchNorm statistic moves, finds the convolutions a training step (or,
 * without backward, an inference) runs; the model's parameters and gradients are left as found.
 */
import { autotune, type AutotuneOptions, type AutotuneReport } from '../engine/autotune.js';
import { noGrad } from '../engine/autograd.js';
import { autocast } from '../engine/autocast.js';
import type { Module } from '../engine/nn/module.js';
import { zeros } from '../engine/ops/creation.js';
import { tidy } from '../engine/scope.js';

/** `mixed`: the convolutions of a mixed-precision run (under autocast), whose f16 kernels are tuned apart. */
export async function autotuneModel(model: Module, batchShapes: readonly number[][], backward: boolean, mixed = false, options: AutotuneOptions = {}): Promise<AutotuneReport> {
  const wasTraining = model.training;
  const params = model.parameters();
  const grads = params.map((p) => p.grad);
  for (const p of params) p.grad = null;
  model.eval();
  try {
    return await autotune(() => {
      for (const shape of batchShapes) {
        const x = zeros([...shape]);
        const forward = () => autocast(() => model.forward(x), mixed);
        if (backward) tidy(() => forward().sum().backward());
        else noGrad(() => tidy(forward).dispose());
        x.dispose();
        for (const p of params) {
          p.grad?.dispose();
          p.grad = null;
        }
      }
    }, options);
  } finally {
    model.train(wasTraining);
    params.forEach((p, i) => (p.grad = grads[i]));
  }
}
