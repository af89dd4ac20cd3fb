/** BatchNorm2d over NCHW (like torch.nn.functional.batch_norm). */
import {
  batchNormCombineStatsKernel,
  batchNormElementGrid,
  batchNormEvalInvStdKernel,
  batchNormGradCombineKernel,
  batchNormGradInputKernel,
  batchNormGradPartialKernel,
  batchNormNormalizeKernel,
  batchNormPartialStatsKernel,
  batchNormPlan,
} from '../../kernels/batchnorm/index.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { full } from './creation.js';

/**
 * Options of {@link batchNorm2d}: training or eval, PyTorch's momentum (default 0.1) and eps
 * (default 1e-5), and an optional fused ReLU.
 */
export interface BatchNormOptions {
  /** Batch statistics (and running-stat updates) when true; running statistics when false. */
  training: boolean;
  momentum?: number;
  eps?: number;
  /**
   * Apply ReLU to the output in the same kernel (and mask the gradient inside BatchNorm's
   * backward): exactly batchNorm2d(…).relu(), one pass over the activations fewer each way.
   */
  relu?: boolean;
}

/**
 * y = (x − mean)/sqrt(var + eps)·weight + bias per channel. In training, mean/var are the
 * batch's (biased var for normalising) and runningMean/runningVar, when given, are updated in
 * place with `momentum` (unbiased var, as PyTorch). In eval, the running statistics are used.
 * weight/bias may be null (no affine transform).
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  options: BatchNormOptions,
): Tensor {
  if (x.rank !== 4) throw new Error(`batchNorm2d: needs x [N,C,H,W], got ${formatShape(x.shape)}`);
  const [N, C, H, W] = x.shape;
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== C)) throw new Error(`batchNorm2d: ${name} must be [${C}], got ${formatShape(t.shape)}`);
  }
  if ((runningMean === null) !== (runningVar === null)) throw new Error('batchNorm2d: give both running statistics or neither');
  const plane = H * W;
  if (options.training && N * plane <= 1) {
    throw new Error(`batchNorm2d: training needs more than one value per channel, got input ${formatShape(x.shape)}`);
  }
  if (!options.training && !runningMean) throw new Error('batchNorm2d: eval mode needs running statistics');
  const eps = options.eps ?? 1e-5;
  const runtime = getRuntime();
  const { params, chunks, sums, serialWorkgroup, sumWorkgroups, vec4, run } = batchNormPlan(N, C, plane, eps, options.momentum ?? 0.1, runtime.settings.batchNorm);

  const gamma = weight ?? full([C], 1);
  const beta = bias ?? full([C], 0);
  let mean: Tensor;
  const invstd = Tensor.empty([C]);
  if (options.training) {
    mean = Tensor.empty([C]);
    const running = runningMean && runningVar ? [runningMean.buffer, runningVar.buffer] : [];
    const partial = Tensor.empty([C, chunks, 2]);
    runtime.dispatch({ kernel: batchNormPartialStatsKernel(sums, vec4, serialWorkgroup), inputs: [x.buffer], outputs: [partial.buffer], params, workgroups: sumWorkgroups });
    runtime.dispatch({
      kernel: batchNormCombineStatsKernel(running.length > 0),
      inputs: [partial.buffer],
      outputs: [mean.buffer, invstd.buffer, ...running],
      params,
      workgroups: [Math.ceil(C / 64), 1, 1],
    });
    partial.dispose();
  } else {
    // A copy of the running statistics at this moment: later in-place updates must not leak into backward.
    mean = runningMean!.clone();
    runtime.dispatch({ kernel: batchNormEvalInvStdKernel, inputs: [runningVar!.buffer], outputs: [invstd.buffer], params, workgroups: [Math.ceil(C / 64), 1, 1] });
  }
  const out = Tensor.empty(x.shape);
  const relu = options.relu ?? false;
  if (out.size > 0) {
    runtime.dispatch({
      kernel: batchNormNormalizeKernel(vec4, relu, run),
      inputs: [x.buffer, mean.buffer, invstd.buffer, gamma.buffer, beta.buffer],
      outputs: [out.buffer],
      params,
      workgroups: batchNormElementGrid(out.size, vec4, run),
    });
  }

  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  if (needsGrad(inputs)) {
    // With relu the output (y > 0) masks the incoming gradient.
    record(relu ? 'batchNorm2dRelu' : 'batchNorm2d', inputs, out, relu ? [x, mean, invstd, gamma, out] : [x, mean, invstd, gamma], (g, [sx, smean, sinvstd, sgamma, sout]) => {
      const masked = sout ? [sout.buffer] : [];
      const dgamma = Tensor.empty([C]);
      const dbeta = Tensor.empty([C]);
      const partial = Tensor.empty([C, chunks, 2]);
      runtime.dispatch({
        kernel: batchNormGradPartialKernel(sums, vec4, serialWorkgroup, relu),
        inputs: [sx.buffer, g.buffer, smean.buffer, sinvstd.buffer, ...masked],
        outputs: [partial.buffer],
        params,
        workgroups: sumWorkgroups,
      });
      runtime.dispatch({ kernel: batchNormGradCombineKernel, inputs: [partial.buffer], outputs: [dgamma.buffer, dbeta.buffer], params, workgroups: [Math.ceil(C / 64), 1, 1] });
      partial.dispose();
      let dx: Tensor | null = null;
      if (x.requiresGrad) {
        dx = Tensor.empty(x.shape);
        runtime.dispatch({
          kernel: batchNormGradInputKernel(options.training, vec4, relu, run),
          inputs: [
            ...(options.training
              ? [sx.buffer, g.buffer, smean.buffer, sinvstd.buffer, sgamma.buffer, dgamma.buffer, dbeta.buffer]
              : [g.buffer, sinvstd.buffer, sgamma.buffer]),
            ...masked,
          ],
          outputs: [dx.buffer],
          params,
          workgroups: batchNormElementGrid(dx.size, vec4, run),
        });
      }
      const grads: (Tensor | null)[] = [dx];
      if (weight) grads.push(weight.requiresGrad ? dgamma : null);
      if (bias) grads.push(bias.requiresGrad ? dbeta : null);
      return grads;
    });
  }
  mean.dispose();
  invstd.dispose();
  if (!weight) gamma.dispose();
  if (!bias) beta.dispose();
  return out;
}
