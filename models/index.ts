/** petseg/models — the lab's segmentation models, their registry, and checkpoints as bytes and as files (Node). */
export * from './browser.js';
export { saveCheckpoint, loadCheckpoint, readCheckpointBytes, readSafetensorsHeader, saveOptimizerState, loadOptimizerState } from './checkpoint.js';
export { checkEncoderWeights, loadEncoderWeights, PTH_CONVERSION } from './encoder-weights.js';
