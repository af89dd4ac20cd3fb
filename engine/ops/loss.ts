/** Losses. */
import { bceBackwardGrid, bceBackwardKernel, bceForwardGrid, bceForwardGroups, bceForwardKernel, bceParams } from '../../kernels/bce.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { formatShape, sameShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { scaledSum } from './reduce.js';

/** Options of {@link bceWithLogits}: PyTorch's pos_weight, one weight for every positive target. */
export interface BceOptions {
  /** Weight of positive examples (PyTorch's pos_weight for one class). */
  posWeight?: number;
}

/**
 * Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1], in one fused,
 * numerically stable kernel (like torch.nn.BCEWithLogitsLoss, reduction 'mean'). Gradients flow
 * to the logits only; targets are data.
 */
export function bceWithLogits(logits: Tensor, targets: Tensor, options: BceOptions = {}): Tensor {
  if (!sameShape(logits.shape, targets.shape)) {
    throw new Error(`bceWithLogits: logits ${formatShape(logits.shape)} and targets ${formatShape(targets.shape)} must have the same shape`);
  }
  if (logits.size === 0) throw new Error('bceWithLogits: empty input');
  const posWeight = options.posWeight ?? 1;
  if (!(posWeight >= 0)) throw new Error(`bceWithLogits: posWeight must be non-negative, got ${posWeight}`);
  const params = bceParams(logits.size, posWeight);
  const runtime = getRuntime();
  const groups = bceForwardGroups(logits.size);
  const partial = Tensor.empty([groups]);
  runtime.dispatch({ kernel: bceForwardKernel, inputs: [logits.buffer, targets.buffer], outputs: [partial.buffer], params, workgroups: bceForwardGrid(logits.size) });
  const loss = scaledSum(partial, 1 / logits.size);
  partial.dispose();
  if (needsGrad([logits])) {
    record('bceWithLogits', [logits], loss, [logits, targets], (g, [sx, st]) => {
      const dx = Tensor.empty(sx.shape);
      runtime.dispatch({ kernel: bceBackwardKernel, inputs: [sx.buffer, st.buffer, g.buffer], outputs: [dx.buffer], params, workgroups: bceBackwardGrid(sx.size) });
      return [dx];
    });
  }
  return loss;
}
