/** petseg/models — the lab's segmentation models and their registry. */
export { UNet, type UNetOptions } from './unet.js';
export { ResNet34UNet, type ResNet34UNetOptions } from './resnet34-unet.js';
export { checkEncoderWeights, loadEncoderWeights, PTH_CONVERSION, type EncoderWeightsInfo } from './encoder-weights.js';
export { DoubleConv } from './common.js';
export { MODELS, createModel, isModelName, summarize, type ModelName, type ModelOptions, type ModelEntry } from './registry.js';
export { IMG_SIZE, BASE_CHANNELS, IN_CHANNELS, SEED, type Bound } from './limits.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpointInfo,
  saveOptimizerState,
  encodeOptimizerState,
  loadOptimizerState,
  writeFileAtomic,
} from './checkpoint.js';
export {
  encodeCheckpoint,
  decodeCheckpoint,
  inspectCheckpoint,
  checkFiniteTensors,
  checkpointInfoOf,
  trainedImageSize,
  CHECKPOINT_FORMAT,
  type CheckpointInfo,
  type LoadedCheckpoint,
} from './checkpoint-format.js';
