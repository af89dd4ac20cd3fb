/**
 * Adam and AdamW with PyTorch's semantics (torch.optim.Adam / AdamW), one fused kernel launch per
 * parameter, all recorded into the same command encoder as the step; parameter groups with their
 * own learning rate and weight decay, and per-parameter step counts, as torch.optim.
 */
import { ADAM_ALL_FINITE, adamGrid, adamKernel, adamParams, adamStepValues, adamVec4 } from '../kernels/adam.js';
import { tensor, zeros } from './ops/creation.js';
import { getRuntime } from './runtime.js';
import { keep } from './scope.js';
import { formatShape } from './shape.js';
import type { Tensor } from './tensor.js';

/** Options of {@link Adam}: PyTorch's lr, betas, eps, weightDecay (decoupled: AdamW). */
export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW: decay the weights directly instead of adding wd·p to the gradient. */
  decoupledWeightDecay?: boolean;
}

/** A parameter group (torch.optim's param_groups): its own learning rate and weight decay, the optimizer's by default. */
export interface AdamParamGroup {
  params: readonly Tensor[];
  lr?: number;
  weightDecay?: number;
}

/** A group as the optimizer holds it; set `lr` between steps to schedule it. */
export interface AdamGroup {
  readonly params: readonly Tensor[];
  lr: number;
  readonly weightDecay: number;
}

/**
 * Optimizer state, e.g. for checkpoints: the number of step() calls, both moments per parameter
 * and, per parameter, the steps that updated it (PyTorch's per-parameter `step`: a parameter
 * without a gradient, e.g. frozen, is not stepped, so its bias correction starts when it is).
 */
export interface AdamState {
  step: number;
  m: Tensor[];
  v: Tensor[];
  /** Per parameter; absent: every parameter was updated by every step. */
  paramSteps?: number[];
}

/**
 * Adam, or AdamW with decoupled weight decay, with torch.optim's semantics: one fused kernel launch
 * per parameter at each step(), parameter groups, per-parameter step counts.
 */
export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly decoupled: boolean;
  /** The parameter groups, in order; `params` lists their parameters in the same order. */
  readonly groups: AdamGroup[];
  readonly params: readonly Tensor[];
  private stepCount = 0;
  private readonly paramSteps: number[];
  private readonly groupOf: number[];
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  /**
   * Per (group, parameter step count) met in one step, in order of first use: lr, step size,
   * bias correction and the step's number, read by every launch. A slot keeps its buffer from
   * step to step, so launches keep their bind groups.
   */
  private readonly stepScalars: Tensor[] = [];
  /** The first step whose gradient held a NaN or ±Inf (ADAM_ALL_FINITE: none), as u32 bits. */
  private readonly nonFinite: Tensor;

  /** `params`: the parameters (one group) or parameter groups with their own lr / weight decay. */
  constructor(params: readonly Tensor[] | readonly AdamParamGroup[], options: AdamOptions = {}) {
    const lr = options.lr ?? 1e-3;
    const weightDecay = options.weightDecay ?? 0;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.decoupled = options.decoupledWeightDecay ?? false;
    const groups = params.length > 0 && 'params' in params[0] ? (params as readonly AdamParamGroup[]) : [{ params: params as readonly Tensor[] }];
    this.groups = groups.map((g) => ({ params: g.params, lr: g.lr ?? lr, weightDecay: g.weightDecay ?? weightDecay }));
    const checks: [string, boolean][] = [
      ['lr', this.groups.every((g) => g.lr >= 0)],
      ['beta1', this.beta1 >= 0 && this.beta1 < 1],
      ['beta2', this.beta2 >= 0 && this.beta2 < 1],
      ['eps', this.eps >= 0],
      ['weightDecay', this.groups.every((g) => g.weightDecay >= 0)],
    ];
    for (const [name, ok] of checks) if (!ok) throw new RangeError(`Adam: invalid ${name}`);
    this.params = this.groups.flatMap((g) => g.params);
    if (new Set(this.params).size !== this.params.length) throw new Error('Adam: a parameter appears twice (in one group or in two)');
    this.groupOf = this.groups.flatMap((g, i) => g.params.map(() => i));
    this.paramSteps = this.params.map(() => 0);
    this.m = this.params.map((p) => zeros(p.shape));
    this.v = this.params.map((p) => zeros(p.shape));
    this.nonFinite = tensor(new Float32Array(new Uint32Array([ADAM_ALL_FINITE]).buffer), [1]);
  }

  /** The first group's learning rate (the only one without groups); setting it sets every group's. */
  get lr(): number {
    return this.groups[0]?.lr ?? 0;
  }

  set lr(value: number) {
    for (const g of this.groups) g.lr = value;
  }

  /**
   * The first step (1-based, counting every step() since construction or loadState) whose
   * gradients held a NaN or ±Inf, or null: checked by the update kernels themselves, so the
   * gradients are read no extra time. Reading waits for the submitted work.
   */
  async firstNonFiniteStep(): Promise<number | null> {
    const bits = new Uint32Array((await this.nonFinite.toArray()).buffer)[0];
    return bits === ADAM_ALL_FINITE ? null : bits;
  }

  /** Update every parameter that has a gradient (parameters without one are skipped, and not counted as stepped, as PyTorch). */
  step(): void {
    this.stepCount++;
    const runtime = getRuntime();
    const slots = new Map<string, Tensor>();
    const scalarsFor = (group: AdamGroup, t: number): Tensor => {
      const key = `${group.lr}:${t}`;
      let slot = slots.get(key);
      if (!slot) {
        if (this.stepScalars.length === slots.size) this.stepScalars.push(keep(zeros([4])));
        slot = this.stepScalars[slots.size];
        slots.set(key, slot);
        const values = { lr: group.lr, stepSize: group.lr / (1 - this.beta1 ** t), biasCorrection2Sqrt: Math.sqrt(1 - this.beta2 ** t), index: this.stepCount };
        runtime.upload(slot.buffer, adamStepValues(values));
      }
      return slot;
    };
    this.params.forEach((p, i) => {
      if (!p.grad || p.size === 0) return;
      const group = this.groups[this.groupOf[i]];
      const t = ++this.paramSteps[i];
      runtime.dispatch({
        kernel: adamKernel(this.decoupled, adamVec4(p.size)),
        inputs: [p.grad.buffer, scalarsFor(group, t).buffer],
        outputs: [p.buffer, this.m[i].buffer, this.v[i].buffer, this.nonFinite.buffer],
        params: adamParams(p.size, { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: group.weightDecay }),
        workgroups: adamGrid(p.size),
      });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** The live state tensors (not copies): read them for checkpoints. */
  state(): AdamState {
    const uniform = this.paramSteps.every((t) => t === this.stepCount);
    return { step: this.stepCount, m: this.m, v: this.v, ...(uniform ? {} : { paramSteps: [...this.paramSteps] }) };
  }

  /** Restore state saved from `state()` (values are copied in). */
  loadState(state: AdamState): void {
    if (state.m.length !== this.params.length || state.v.length !== this.params.length || (state.paramSteps && state.paramSteps.length !== this.params.length)) {
      throw new Error(`Adam.loadState: state has ${state.m.length} moments for ${this.params.length} parameters`);
    }
    this.params.forEach((p, i) => {
      for (const [name, src] of [['m', state.m[i]], ['v', state.v[i]]] as const) {
        if (src.size !== p.size) throw new Error(`Adam.loadState: ${name}[${i}] has shape ${formatShape(src.shape)}, parameter has ${formatShape(p.shape)}`);
      }
      this.m[i].assign(state.m[i]);
      this.v[i].assign(state.v[i]);
      this.paramSteps[i] = state.paramSteps?.[i] ?? state.step;
    });
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v, ...this.stepScalars, this.nonFinite]) t.dispose();
  }
}
