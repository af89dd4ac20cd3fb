/**
 * The optimizer reference: one Adam/AdamW step ({@link refAdamStep}) on plain arrays.
 * Must hold: PyTorch's formulas (bias corrections folded into the step size and the sqrt of v),
 * so the GPU's fused Adam kernel can be compared with it step for step.
 */

/** The hyperparameters of {@link refAdamStep}, PyTorch's names. */
export interface RefAdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

/** One Adam/AdamW step (PyTorch's formulas) on plain arrays; returns the new p, m, v. */
export function refAdamStep(p: number[], g: number[], m: number[], v: number[], step: number, o: RefAdamOptions): { p: number[]; m: number[]; v: number[] } {
  const stepSize = o.lr / (1 - o.beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - o.beta2 ** step);
  const out = { p: [...p], m: [...m], v: [...v] };
  for (let i = 0; i < p.length; i++) {
    let param = p[i];
    let grad = g[i];
    if (o.decoupled) param *= 1 - o.lr * o.weightDecay;
    else grad += o.weightDecay * param;
    out.m[i] = o.beta1 * m[i] + (1 - o.beta1) * grad;
    out.v[i] = o.beta2 * v[i] + (1 - o.beta2) * grad * grad;
    out.p[i] = param - (stepSize * out.m[i]) / (Math.sqrt(out.v[i]) / bc2Sqrt + o.eps);
  }
  return out;
}
