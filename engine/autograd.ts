/**
 * Tape-based reverse-mode autograd.
 *
 * Every differentiable op appends a node to the tape (a sequence number gives execution order)
 * holding its inputs, the tensors its backward needs, and the backward itself, written next to
 * the forward in the op's file. `backward()` gathers the nodes the root depends on, runs them in
 * reverse tape order (a reverse topological order), sums gradients of tensors used more than
 * once, and frees each node's saved tensors as soon as its backward has run.
 *
 * Nodes are reference-counted by the tensors they produced and by the nodes that consume them,
 * so disposing a loss without calling backward also releases everything its graph held.
 */
import { tidy, untracked } from './scope.js';
import type { Tensor } from './tensor.js';

type Target = { node: GraphNode; leaf?: undefined } | { leaf: Tensor; node?: undefined } | null;

/** Gradients for each input (null where none flows), given the output's gradient and the saved tensors. */
export type BackwardFn = (grad: Tensor, saved: Tensor[]) => (Tensor | null)[];

let sequence = 0;
let gradDisabled = 0;

/**
 * One op on the tape: its inputs, the tensors its backward needs and the backward itself,
 * reference-counted by the tensors it produced and the nodes that consume them.
 */
export class GraphNode {
  readonly seq = sequence++;
  /** Tensors and consuming nodes that reference this node. */
  refs = 1;
  private backwardFn: BackwardFn | null;

  constructor(
    readonly op: string,
    readonly inputs: Target[],
    private saved: Tensor[],
    backwardFn: BackwardFn,
  ) {
    this.backwardFn = backwardFn;
  }

  runBackward(grad: Tensor): (Tensor | null)[] {
    if (!this.backwardFn) {
      throw new Error(
        `backward(): the graph through '${this.op}' was already freed by an earlier backward(). ` +
          'Recompute the forward pass, or call backward({ retainGraph: true }) the first time.',
      );
    }
    return this.backwardFn(grad, this.saved);
  }

  /** Drop the saved tensors and the backward closure (after backward, or when unreferenced). */
  freeSaved(): void {
    for (const t of this.saved) t.dispose();
    this.saved = [];
    this.backwardFn = null;
  }

  /** Release one reference; the last one frees this node and releases its input nodes. */
  release(): void {
    const stack: GraphNode[] = [this];
    while (stack.length) {
      const node = stack.pop()!;
      if (--node.refs > 0) continue;
      node.freeSaved();
      for (const input of node.inputs) if (input?.node) stack.push(input.node);
    }
  }
}

/** False inside {@link noGrad}, where ops record nothing (like torch.is_grad_enabled). */
export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/** Run `fn` without recording anything on the tape (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error('noGrad() takes a synchronous function: await outside it.');
    }
    return result;
  } finally {
    gradDisabled--;
  }
}

/** Whether an op on these inputs must be recorded. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  return gradDisabled === 0 && inputs.some((t) => t.requiresGrad);
}

/**
 * Record `op` on the tape as the creator of `output`. `saved` tensors are kept alive for the
 * backward (sharing storage) even if the caller disposes them. Call only when needsGrad(inputs).
 */
export function record(op: string, inputs: readonly Tensor[], output: Tensor, saved: readonly Tensor[], backward: BackwardFn): void {
  const targets: Target[] = inputs.map((t) => {
    if (!t.requiresGrad) return null;
    if (t.gradNode) {
      t.gradNode.refs++;
      return { node: t.gradNode };
    }
    return { leaf: t };
  });
  const savedAliases = untracked(() => saved.map((t) => t.aliasForBackward()));
  output.attachNode(new GraphNode(op, targets, savedAliases, backward));
}

/** Options of {@link backward}: PyTorch's retain_graph. */
export interface BackwardOptions {
  /** Keep saved tensors so backward can run through the same graph again. */
  retainGraph?: boolean;
}

function addInto(a: Tensor | undefined, b: Tensor): Tensor {
  if (!a) return b;
  const sum = a.add(b);
  a.dispose();
  b.dispose();
  return sum;
}

/**
 * Backpropagate from `root`. A root with more than one element needs `grad` (same shape as the
 * root). Gradients accumulate into `.grad` of leaf tensors that require grad.
 */
export function backward(root: Tensor, grad?: Tensor, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new Error('backward(): this tensor does not require grad (no input had requiresGrad, or it was made under noGrad()).');
  }
  if (!grad && root.size !== 1) {
    throw new Error(
      `backward(): the tensor has shape [${root.shape.join(', ')}] (${root.size} elements); gradients are implicit only for ` +
        'one-element outputs. Pass a seed gradient of the same shape: t.backward(seed), or reduce first: t.sum().backward().',
    );
  }
  if (grad && grad.shape.join(',') !== root.shape.join(',')) {
    throw new Error(`backward(): seed gradient has shape [${grad.shape.join(', ')}] but the tensor has shape [${root.shape.join(', ')}].`);
  }

  untracked(() =>
    noGrad(() => {
      const seed = grad ? grad.clone() : root.onesLike();
      if (!root.gradNode) {
        root.accumulateGrad(seed);
        return;
      }
      // Nodes the root depends on, newest first: reverse tape order is a reverse topological order.
      const reachable = new Set<GraphNode>();
      const stack = [root.gradNode];
      while (stack.length) {
        const node = stack.pop()!;
        if (reachable.has(node)) continue;
        reachable.add(node);
        for (const input of node.inputs) if (input?.node && !reachable.has(input.node)) stack.push(input.node);
      }
      const order = [...reachable].sort((a, b) => b.seq - a.seq);

      const grads = new Map<GraphNode, Tensor>([[root.gradNode, seed]]);
      for (const node of order) {
        const g = grads.get(node);
        if (!g) continue;
        grads.delete(node);
        const inputGrads = tidy(() => node.runBackward(g));
        g.dispose();
        if (!options.retainGraph) node.freeSaved();
        node.inputs.forEach((target, i) => {
          const gi = inputGrads[i];
          if (!gi) return;
          if (!target) gi.dispose();
          else if (target.leaf) target.leaf.accumulateGrad(gi);
          else grads.set(target.node, addInto(grads.get(target.node), gi));
        });
      }
      for (const g of grads.values()) g.dispose();
    }),
  );
}
