/**
 * Modules with named parameters, buffers and children, PyTorch-style: dotted names
 * (`encoders.0.block.1.weight`), `train()`/`eval()`, and state dicts with strict checks.
 */
import { noGrad } from '../autograd.js';
import { formatShape, sameShape } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** Name → tensor, in registration order (parameters and buffers). */
export type StateDict = Map<string, Tensor>;

/** Storage type of a state entry when saved (BatchNorm's step counter is an integer, as in PyTorch). */
export type StateDtype = 'F32' | 'I64';

/**
 * A layer or model, like torch.nn.Module: named parameters, buffers and children under dotted
 * names, train()/eval(), and state dicts; subclasses define forward().
 */
export abstract class Module {
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, { tensor: Tensor; dtype: StateDtype }>();
  private readonly children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  protected registerParameter(name: string, t: Tensor): Tensor {
    t.requiresGrad_(true);
    this.ownParameters.set(name, t);
    return t;
  }

  protected registerBuffer(name: string, t: Tensor, dtype: StateDtype = 'F32'): Tensor {
    this.ownBuffers.set(name, { tensor: t, dtype });
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  protected buffer(name: string): Tensor {
    return this.ownBuffers.get(name)!.tensor;
  }

  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.ownParameters) out.push([prefix + name, t]);
    for (const [name, child] of this.children) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor, StateDtype][] {
    const out: [string, Tensor, StateDtype][] = [];
    for (const [name, { tensor, dtype }] of this.ownBuffers) out.push([prefix + name, tensor, dtype]);
    for (const [name, child] of this.children) out.push(...child.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  /** Total number of parameter elements. */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /**
   * requiresGrad on every parameter (PyTorch's requires_grad_): false freezes them — no gradient
   * is computed for them (their gradients are dropped) and the optimizer skips them.
   */
  requiresGrad_(requires = true): this {
    for (const p of this.parameters()) {
      p.requiresGrad_(requires);
      if (!requires) p.zeroGrad();
    }
    return this;
  }

  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Parameters then buffers of each module, in PyTorch's order (a module's own entries, then its
   * children's). The tensors are the live ones, not copies.
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = new Map();
    for (const [name, t] of this.ownParameters) out.set(prefix + name, t);
    for (const [name, { tensor }] of this.ownBuffers) out.set(prefix + name, tensor);
    for (const [name, child] of this.children) for (const [k, v] of child.stateDict(`${prefix}${name}.`)) out.set(k, v);
    return out;
  }

  /** Keys saved as 64-bit integers. */
  stateDtypes(): Map<string, StateDtype> {
    return new Map(this.namedBuffers().map(([name, , dtype]) => [name, dtype]));
  }

  /**
   * Copy values in from `state`. Strict: every missing, unexpected or mis-shaped key is named in
   * one error, and nothing is copied unless all keys match.
   */
  loadStateDict(state: ReadonlyMap<string, Tensor>): void {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    const misShaped = [...own]
      .filter(([k, t]) => state.has(k) && !sameShape(state.get(k)!.shape, t.shape))
      .map(([k, t]) => `${k} (checkpoint ${formatShape(state.get(k)!.shape)}, model ${formatShape(t.shape)})`);
    const list = (items: string[]) => items.slice(0, 5).join(', ') + (items.length > 5 ? `, … (${items.length} in all)` : '');
    const problems = [
      missing.length ? `missing keys: ${list(missing)}` : '',
      unexpected.length ? `unexpected keys: ${list(unexpected)}` : '',
      misShaped.length ? `shape mismatches: ${list(misShaped)}` : '',
    ].filter(Boolean);
    if (problems.length) throw new Error(`loadStateDict: ${problems.join('; ')}`);
    noGrad(() => {
      for (const [k, t] of own) t.assign(state.get(k)!);
    });
  }

  /** Dispose every parameter, buffer and gradient. */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
  }
}
