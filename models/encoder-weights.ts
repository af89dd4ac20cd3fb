/**
 * ImageNet-pretrained encoder weights for ResNet34_UNet from a safetensors file with
 * torchvision's (or timm's, the same) ResNet34 names: timm's `model.safetensors`, or torchvision's
 * `.pth` converted once (PTH_CONVERSION). Every encoder tensor — stem, layer1–layer4 and their
 * BatchNorm running statistics — must be in the file with its shape; the classifier (`fc.*`) is
 * ignored; anything else is refused. `num_batches_tracked` may be absent (some exports drop it;
 * it only matters to BatchNorm with momentum=None). The header is checked before any tensor is
 * read or allocated.
 *
 * `.pth` files are pickles, and unpickling can run arbitrary code; petseg reads none and says
 * how to convert instead of shipping a pickle reader.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { tensor } from '../engine/ops/creation.js';
import { readSafetensorsTensor, type SafetensorsHeader } from '../engine/safetensors.js';
import { formatShape } from '../engine/shape.js';
import { shapesOnly } from '../engine/tensor.js';
import { readSafetensorsHeader } from './checkpoint.js';
import { stateMismatch } from './checkpoint-format.js';
import type { TrainingHooks } from './registry.js';
import { ResNet34UNet } from './resnet34-unet.js';

/** What a checkpoint records about the encoder weights a run started from. */
export interface EncoderWeightsInfo {
  /** The file's name (not its path). */
  file: string;
  sha256: string;
}

/**
 * The shell command that converts torchvision's resnet34.pth to safetensors once (PyTorch reads the
 * pickle), since petseg reads no pickles.
 */
export const PTH_CONVERSION = `python -c "import sys, torch; from safetensors.torch import save_file; save_file({k: v.contiguous() for k, v in torch.load(sys.argv[1], weights_only=True).items()}, sys.argv[2])" resnet34.pth resnet34.safetensors`;

const IGNORED = /^fc\./;
const OPTIONAL = /\.num_batches_tracked$/;

/** The encoder's state names and shapes, computed without memory. */
function encoderShapes(): Map<string, readonly number[]> {
  return new Map([...shapesOnly(() => new ResNet34UNet()).encoderState()].map(([name, t]) => [name, t.shape]));
}

function refusePickle(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot read the encoder weights (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const magic = new Uint8Array(4);
  try {
    readSync(fd, magic, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const zip = magic[0] === 0x50 && magic[1] === 0x4b && magic[2] === 0x03 && magic[3] === 0x04;
  if (zip || magic[0] === 0x80) {
    throw new Error(`${path}: a PyTorch pickle (.pth), which petseg does not read (unpickling can run code); convert it once to safetensors: ${PTH_CONVERSION}`);
  }
}

/**
 * Check a weights file's header against ResNet34's encoder without reading its tensors: every
 * encoder tensor present with its shape, only `fc.*` besides. Throws one line naming the file
 * and the first offending keys.
 */
export function checkEncoderWeights(path: string): SafetensorsHeader {
  refusePickle(path);
  const header = readSafetensorsHeader(path);
  const expected = encoderShapes();
  const list = (keys: string[]) => `${keys.slice(0, 4).join(', ')}${keys.length > 4 ? `, … (${keys.length} in all)` : ''}`;
  const mismatch = stateMismatch(expected, header.entries, { optional: OPTIONAL, ignored: IGNORED });
  const { missing, unexpected } = mismatch;
  const misshaped = mismatch.misshaped.map((m) => `${m.key} is ${formatShape(m.shape)}, not ${formatShape(m.expected)}`);
  const problems = [
    missing.length ? `lacks ${list(missing)}` : '',
    misshaped.length ? `has ${list(misshaped)}` : '',
    unexpected.length ? `has keys a ResNet34 has not: ${list(unexpected)}` : '',
  ].filter(Boolean);
  if (problems.length) throw new Error(`${path}: not ResNet34 encoder weights with torchvision's names — it ${problems.join('; ')}`);
  return header;
}

/**
 * Copy a ResNet34 encoder's weights (see the top of this file) into `model`'s encoder; the decoder keeps
 * its initialisation. Returns the file's name and SHA-256, for the checkpoint's record.
 */
export function loadEncoderWeights(model: TrainingHooks, path: string): EncoderWeightsInfo {
  if (!model.encoderState) throw new Error(`${path}: this model has no encoder to load weights into`);
  const header = checkEncoderWeights(path);
  const bytes = readFileSync(path);
  const state = model.encoderState();
  noGrad(() => {
    for (const [name, target] of state) {
      const entry = header.entries.get(name);
      if (!entry) continue; // an optional counter
      const values = tensor(readSafetensorsTensor(bytes, header, entry), entry.shape);
      target.assign(values);
      values.dispose();
    }
  });
  return { file: basename(path), sha256: createHash('sha256').update(bytes).digest('hex') };
}
