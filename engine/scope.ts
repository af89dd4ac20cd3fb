/**
 * Scopes release the intermediate tensors of a step: every tensor created inside `tidy(fn)` is
 * disposed when `fn` returns, except the tensors it returns (and those passed to `keep`).
 */
import type { Tensor } from './tensor.js';

/** A scope is the set of tensors created in it; `null` marks a region that tracks nothing. */
const stack: (Set<Tensor> | null)[] = [];

/** Called by the Tensor constructor. */
export function trackTensor(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/** Exempt `t` from every enclosing scope: the caller now owns it and must dispose it. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of stack) scope?.delete(t);
  return t;
}

function collectTensors(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    into.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, into, isTensor, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, into, isTensor, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, isTensor, depth + 1);
  }
}

let tensorCheck: ((v: unknown) => v is Tensor) | null = null;

/** Set once by tensor.ts (avoids an import cycle at module load). */
export function setTensorCheck(check: (v: unknown) => v is Tensor): void {
  tensorCheck = check;
}

function run<T>(scope: Set<Tensor> | null, fn: () => T, name: string): T {
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    stack.pop();
    for (const t of scope ?? []) t.dispose();
    throw err;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of scope ?? []) t.dispose();
    throw new Error(`${name}() takes a synchronous function: await outside it, e.g. \`const x = ${name}(() => f()); await x.toArray()\``);
  }
  if (scope) {
    const kept = new Set<Tensor>();
    collectTensors(result, kept, tensorCheck!);
    for (const t of scope) {
      if (kept.has(t)) trackTensor(t);
      else t.dispose();
    }
  }
  return result;
}

/** Run `fn`; dispose every tensor it created except those in its return value (tensor, array or object of tensors). */
export function tidy<T>(fn: () => T): T {
  return run(new Set<Tensor>(), fn, 'tidy');
}

/** Run `fn` with no scope tracking the tensors it creates (they are owned by whoever keeps them). */
export function untracked<T>(fn: () => T): T {
  return run(null, fn, 'untracked');
}
