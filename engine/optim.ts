/**
 * Adam and AdamW with PyTorch's semantics (torch.optim.Adam / AdamW), one fused kernel launch per
 * parameter, all recorded into the same command encoder as the step.
 */
import { adamGrid, adamKernel, adamParams, adamStepValues, adamVec4 } from '../kernels/adam.js';
import { zeros } from './ops/creation.js';
import { getRuntime } from './runtime.js';
import { formatShape } from './shape.js';
import type { Tensor } from './tensor.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW: decay the weights directly instead of adding wd·p to the gradient. */
  decoupledWeightDecay?: boolean;
}

/** Optimizer state, e.g. for checkpoints: the step count and both moments per parameter. */
export interface AdamState {
  step: number;
  m: Tensor[];
  v: Tensor[];
}

export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  private stepCount = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  /** lr, step size and bias correction of the current step, read by every launch. */
  private readonly stepScalars: Tensor;

  constructor(
    readonly params: readonly Tensor[],
    options: AdamOptions = {},
  ) {
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.decoupled = options.decoupledWeightDecay ?? false;
    const checks: [string, boolean][] = [
      ['lr', this.lr >= 0],
      ['beta1', this.beta1 >= 0 && this.beta1 < 1],
      ['beta2', this.beta2 >= 0 && this.beta2 < 1],
      ['eps', this.eps >= 0],
      ['weightDecay', this.weightDecay >= 0],
    ];
    for (const [name, ok] of checks) if (!ok) throw new RangeError(`Adam: invalid ${name}`);
    for (const p of params) if (!p.requiresGrad) throw new Error(`Adam: parameter ${p} does not require grad`);
    this.m = params.map((p) => zeros(p.shape));
    this.v = params.map((p) => zeros(p.shape));
    this.stepScalars = zeros([3]);
  }

  /** Update every parameter that has a gradient (parameters without one are skipped, as PyTorch). */
  step(): void {
    this.stepCount++;
    const t = this.stepCount;
    const runtime = getRuntime();
    runtime.upload(
      this.stepScalars.buffer,
      adamStepValues({ lr: this.lr, stepSize: this.lr / (1 - this.beta1 ** t), biasCorrection2Sqrt: Math.sqrt(1 - this.beta2 ** t) }),
    );
    const constants = { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
    this.params.forEach((p, i) => {
      if (!p.grad || p.size === 0) return;
      runtime.dispatch({
        kernel: adamKernel(this.decoupled, adamVec4(p.size)),
        inputs: [p.grad.buffer, this.stepScalars.buffer],
        outputs: [p.buffer, this.m[i].buffer, this.v[i].buffer],
        params: adamParams(p.size, constants),
        workgroups: adamGrid(p.size),
      });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** The live state tensors (not copies): read them for checkpoints. */
  state(): AdamState {
    return { step: this.stepCount, m: this.m, v: this.v };
  }

  /** Restore state saved from `state()` (values are copied in). */
  loadState(state: AdamState): void {
    if (state.m.length !== this.params.length || state.v.length !== this.params.length) {
      throw new Error(`Adam.loadState: state has ${state.m.length} moments for ${this.params.length} parameters`);
    }
    this.params.forEach((p, i) => {
      for (const [name, src] of [['m', state.m[i]], ['v', state.v[i]]] as const) {
        if (src.size !== p.size) throw new Error(`Adam.loadState: ${name}[${i}] has shape ${formatShape(src.shape)}, parameter has ${formatShape(p.shape)}`);
      }
      this.m[i].assign(state.m[i]);
      this.v[i].assign(state.v[i]);
    });
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v, this.stepScalars]) t.dispose();
  }
}
