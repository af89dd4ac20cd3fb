/**
 * The float64 CPU reference's value type and what its tables share: {@link RefTensor}, the
 * {@link RefOp} contract (forward, and the inputs' gradients given the output's), broadcasting
 * ({@link broadcastIndex}, {@link refSumTo}) and the one {@link sigmoid}.
 * Must hold: a RefTensor's data length is the size of its shape (row-major); ops never mutate inputs.
 */
import { sizeOf, stridesOf, type Shape } from '../shape.js';

/** The reference's value: a float64 array of `shape`, row-major, whose length is the shape's size. */
export class RefTensor {
  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
  ) {
    if (data.length !== sizeOf(shape)) throw new Error(`RefTensor: ${data.length} values for shape [${shape}]`);
  }

  static from(data: ArrayLike<number>, shape: Shape): RefTensor {
    return new RefTensor([...shape], Float64Array.from(data));
  }

  static zeros(shape: Shape): RefTensor {
    return new RefTensor([...shape], new Float64Array(sizeOf(shape)));
  }

  map(f: (v: number, i: number) => number): RefTensor {
    return new RefTensor(this.shape, this.data.map(f));
  }
}

/** One op: forward, and the gradients of its inputs given the output's gradient. */
export interface RefOp {
  forward(inputs: RefTensor[]): RefTensor;
  backward(inputs: RefTensor[], grad: RefTensor): RefTensor[];
}

/** Index of `outIndex` (of `outShape`) in a tensor of `shape` broadcast to it. */
export function broadcastIndex(outIndex: number, outShape: Shape, shape: Shape): number {
  const strides = stridesOf(shape);
  const offset = outShape.length - shape.length;
  let rem = outIndex;
  let index = 0;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const c = rem % outShape[d];
    rem = Math.floor(rem / outShape[d]);
    const sd = d - offset;
    if (sd >= 0 && shape[sd] !== 1) index += c * strides[sd];
  }
  return index;
}

/** Sum `g` (of a broadcast shape) back onto `shape`. */
export function refSumTo(g: RefTensor, shape: Shape): RefTensor {
  const out = RefTensor.zeros(shape);
  for (let i = 0; i < g.data.length; i++) out.data[broadcastIndex(i, g.shape, shape)] += g.data[i];
  return out;
}

/** The logistic function, never evaluating exp of a large positive argument (exact for large |x|). */
export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
