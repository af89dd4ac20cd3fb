/**
 * petseg/train — the training system as a library: the lab's data rules, the trainer, evaluation,
 * prediction, the dataset download, the synthetic set and TensorBoard logs. The modules under
 * "In the browser too" have no Node dependencies.
 */
export { train, evaluateSamples, checkTrainOptions, RUN_FILES, type TrainOptions, type TrainResult, type EpochRecord, type Evaluation } from './trainer.js';
export { readCommittedRun, recoverRunFolder, foreignEntries, type RunManifest } from './run-folder.js';
export { acquireRunLock, claimNewRunFolder, RunFolderInUse, LOCK_FILE, type RunLock } from './run-lock.js';
export { DivergedError } from './epoch.js';
export { autotuneModel } from './tune.js';
export { loadSplitCached, decodeCacheDir, type CachedSplit } from './cache.js';
export { readSplit, loadSample, loadSamples, loadSplit, trimapToMask, splitFingerprint, DatasetError, type Split } from './dataset.js';
export { decodeImage, encodePng, sniffFormat, ImageDecodeError, type ImageFormat } from './images.js';
export { predictFile, type PredictedFile } from './predict.js';
export { downloadDataset, downloadArchive, extractArchive, OXFORD_PET_ARCHIVES, DownloadError, type Archive, type DownloadProgress } from './download.js';
export { writeSyntheticDataset, ensureSyntheticDataset, BUILTIN_SYNTHETIC, type SyntheticOptions } from './synthetic.js';
export { SummaryWriter } from './tfevents.js';
// In the browser too:
export { BatchLoader, shuffledOrder, epochGenerator, disposeBatch, type Batch, type BatchLoaderOptions } from './loader.js';
export { augmentSample, type AugmentOptions } from './augment.js';
export { normalizeImage, resizeBilinear, resizeNearest, resizeMap, IMAGENET_MEAN, IMAGENET_STD, type RasterImage, type Sample } from './pixels.js';
export { segmentImage, segmentAtFullSize, maskAndOverlay } from './segment.js';
export { drawSyntheticPet, syntheticSamples } from './synthetic-pets.js';
