/**
 * petseg/models in a browser (package.json's `browser` condition): the models, their registry and
 * limits, and checkpoints as bytes — everything of petseg/models but its file functions.
 */
export { UNet, type UNetOptions } from './unet.js';
export { ResNet34UNet, type ResNet34UNetOptions } from './resnet34-unet.js';
export { DoubleConv } from './common.js';
export { MODELS, createModel, isModelName, summarize, type ModelName, type ModelOptions, type ModelEntry, type SegmentationModel, type TrainingHooks } from './registry.js';
export { IMG_SIZE, BASE_CHANNELS, IN_CHANNELS, SEED, type Bound } from './limits.js';
export { encodeCheckpoint, decodeCheckpoint, checkFiniteTensors, checkpointMetadata, checkpointInfo, trainedImageSize, CHECKPOINT_FORMAT, type CheckpointInfo, type LoadedCheckpoint } from './checkpoint-format.js';
export { encodeOptimizerState, decodeOptimizerState } from './optimizer-state.js';
export type { EncoderWeightsInfo } from './encoder-weights.js';
