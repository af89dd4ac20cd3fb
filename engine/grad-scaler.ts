/**
 * Dynamic loss scaling for mixed precision, with torch.cuda.amp.GradScaler's semantics: the loss
 * is multiplied by the scale before backward, so that small gradients survive the float16
 * operands; step() divides the gradients by it again and checks them, and skips the optimizer
 * step when any is NaN or ±Inf; update() then halves the scale after a skipped step and doubles
 * it after `growthInterval` clean steps in a row.
 *
 * step() reads one flag back, so it waits for the step's backward (torch's GradScaler.step does
 * the same); the scale is a power of two, so scaling and unscaling are exact.
 */
import { f32Bits } from '../kernels/kernel.js';
import { nonFiniteLaunch, unscaleKernel } from '../kernels/finite.js';
import { zeros } from './ops/creation.js';
import type { Adam } from './optim.js';
import { getRuntime } from './runtime.js';
import type { Tensor } from './tensor.js';

/**
 * Options of {@link GradScaler}: PyTorch's init_scale, growth_factor, backoff_factor and
 * growth_interval.
 */
export interface GradScalerOptions {
  /** Default 2^16. */
  initScale?: number;
  /** Default 2. */
  growthFactor?: number;
  /** Default 0.5. */
  backoffFactor?: number;
  /** Clean steps before the scale grows; default 2000. */
  growthInterval?: number;
}

/** What a checkpoint keeps (torch's `scale` and `_growth_tracker`), and how many steps were skipped in all. */
export interface GradScalerState {
  scale: number;
  growthTracker: number;
  skippedSteps: number;
}

/**
 * Dynamic loss scaling for mixed precision, like torch.cuda.amp.GradScaler: scaleLoss() before
 * backward, step() to unscale, check and step the optimizer, then update().
 */
export class GradScaler {
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  private currentScale: number;
  private growthTracker = 0;
  private skipped = 0;
  /** The last step()'s finding, until update() uses it. */
  private foundInf: boolean | null = null;

  constructor(options: GradScalerOptions = {}) {
    this.currentScale = options.initScale ?? 2 ** 16;
    this.growthFactor = options.growthFactor ?? 2;
    this.backoffFactor = options.backoffFactor ?? 0.5;
    this.growthInterval = options.growthInterval ?? 2000;
    const checks: [string, boolean][] = [
      ['initScale', this.currentScale > 0 && Number.isFinite(this.currentScale)],
      ['growthFactor', this.growthFactor > 1],
      ['backoffFactor', this.backoffFactor > 0 && this.backoffFactor < 1],
      ['growthInterval', Number.isInteger(this.growthInterval) && this.growthInterval >= 1],
    ];
    for (const [name, ok] of checks) if (!ok) throw new RangeError(`GradScaler: invalid ${name}`);
  }

  /** The current loss scale. */
  get scale(): number {
    return this.currentScale;
  }

  /** Steps skipped for non-finite gradients since the run began (kept in the state). */
  get skippedSteps(): number {
    return this.skipped;
  }

  /** `loss` times the scale (recorded): call backward() on this. */
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.currentScale);
  }

  /**
   * Unscale every gradient of `optimizer`'s parameters in place and check them: all finite, the
   * optimizer steps and this returns true; otherwise nothing is updated and it returns false.
   */
  async step(optimizer: Adam): Promise<boolean> {
    const runtime = getRuntime();
    const flag = zeros([1]);
    try {
      const invScale = f32Bits(1 / this.currentScale);
      for (const p of optimizer.params) {
        if (!p.grad || p.grad.size === 0) continue;
        const { vec4, n, workgroups } = nonFiniteLaunch(p.grad.size);
        runtime.dispatch({ kernel: unscaleKernel(vec4), inputs: [], outputs: [p.grad.buffer, flag.buffer], params: [n, invScale], workgroups });
      }
      this.foundInf = new Uint32Array((await flag.toArray()).buffer)[0] !== 0;
    } finally {
      flag.dispose();
    }
    if (this.foundInf) this.skipped++;
    else optimizer.step();
    return !this.foundInf;
  }

  /** One loss-scaled step: backward through the scaled loss, step() and update(); true when the optimizer stepped. */
  async backwardAndStep(loss: Tensor, optimizer: Adam): Promise<boolean> {
    const scaled = this.scaleLoss(loss);
    scaled.backward();
    scaled.dispose();
    const stepped = await this.step(optimizer);
    this.update();
    return stepped;
  }

  /** After step(): back off on a skipped step, grow after growthInterval clean ones. */
  update(): void {
    if (this.foundInf === null) throw new Error('GradScaler.update(): call step() first');
    if (this.foundInf) {
      this.currentScale *= this.backoffFactor;
      this.growthTracker = 0;
    } else if (++this.growthTracker === this.growthInterval) {
      this.currentScale *= this.growthFactor;
      this.growthTracker = 0;
    }
    this.foundInf = null;
  }

  state(): GradScalerState {
    return { scale: this.currentScale, growthTracker: this.growthTracker, skippedSteps: this.skipped };
  }

  loadState(state: GradScalerState): void {
    if (!(state.scale > 0 && Number.isFinite(state.scale)) || !(Number.isSafeInteger(state.growthTracker) && state.growthTracker >= 0) || !(Number.isSafeInteger(state.skippedSteps) && state.skippedSteps >= 0)) {
      throw new RangeError(`GradScaler.loadState: invalid state ${JSON.stringify(state)}`);
    }
    this.currentScale = state.scale;
    this.growthTracker = state.growthTracker;
    this.skipped = state.skippedSteps;
    this.foundInf = null;
  }
}
