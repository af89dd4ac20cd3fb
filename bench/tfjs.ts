/**
 * TF.js with its WebGPU backend on the same adapter as petseg: in Node, `navigator.gpu` comes
 * from the same Dawn package. TF.js is a dev dependency used only here.
 */
import type * as TFCore from '@tensorflow/tfjs-core';

export type TF = typeof TFCore;
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace TF {
  type Tensor = TFCore.Tensor;
  type Tensor1D = TFCore.Tensor1D;
  type Tensor4D = TFCore.Tensor4D;
  type Scalar = TFCore.Scalar;
  type Variable = TFCore.Variable;
}

interface WebGPUBackendLike {
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GPUCommandEncoder | null;
  device: GPUDevice;
  adapterInfo?: { vendor?: string; architecture?: string; description?: string };
}

export interface LoadedTF {
  tf: TF;
  /** Submit TF.js's pending commands and wait until the GPU has run them. */
  finish(): Promise<void>;
  version: string;
}

/** Load TF.js on WebGPU, or explain why not (returns the reason). */
export async function loadTfjs(gpu: GPU): Promise<LoadedTF | string> {
  let tf: TF;
  try {
    // The @tensorflow/tfjs bundle registers the gradients; tfjs-core alone does not.
    tf = (await import('@tensorflow/tfjs')) as unknown as TF;
    if (typeof navigator === 'undefined' || !(navigator as Navigator).gpu) {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true, writable: true });
    }
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (err) {
    return `TF.js is not installed (${(err as Error).message}); npm install (dev dependencies) adds it`;
  }
  if (!(await tf.setBackend('webgpu'))) return 'TF.js could not start its WebGPU backend on this adapter';
  await tf.ready();
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  return {
    tf,
    finish: async () => {
      // As TF.js does before a read-back: close the open compute pass, then submit.
      if (backend.commandEncoder) {
        backend.endComputePassEncoder();
        backend.submitQueue();
      }
      await backend.device.queue.onSubmittedWorkDone();
    },
    version: tf.version_core,
  };
}
