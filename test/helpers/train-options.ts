/** The options of a small, quiet training run: a test states only what it is about. */
import { join } from 'node:path';
import type { TrainOptions } from '../../train/trainer.js';

/**
 * UNet with 4 base channels at 32², batch 6, 2 epochs, no augmentation, no TensorBoard, its
 * decode cache beside `saveDir`, progress kept in `output` and warnings dropped; `over` changes
 * any of it.
 */
export function trainOptions(dataPath: string, saveDir: string, over: Partial<TrainOptions> = {}): TrainOptions & { output: string[] } {
  const output: string[] = [];
  return {
    dataPath,
    saveDir,
    model: 'UNet',
    modelOptions: { baseChannels: 4 },
    seed: 1,
    epochs: 2,
    lr: 1e-3,
    weightDecay: 1e-4,
    batchSize: 6,
    imgSize: 32,
    augment: false,
    maskThreshold: 0.5,
    logDir: null,
    resume: false,
    cacheDir: join(saveDir, '..', 'decode-cache'),
    out: { write: (text: string) => output.push(text) > 0, isTTY: false },
    warn: () => {},
    output,
    ...over,
  };
}
