/**
 * petseg/train — the training system as a library: the lab's data rules, the training loop,
 * evaluation, prediction, the dataset download, the synthetic set and TensorBoard logs. The
 * modules under "In the browser too" import no Node module; the others are Node's.
 */
// Node: files on disk, the run folder's lock, the download.
export { train, evaluateSamples, checkTrainOptions, runSettings, RUN_FILES, type TrainOptions, type EpochRecord, type Evaluation } from './trainer.js';
export { NodeFolder, decodeCacheDir, userCacheDir } from './node-folder.js';
export { acquireRunLock, claimNewRunFolder, RunFolderInUse, LOCK_FILE, type RunLock } from './run-lock.js';
export { predictFile, type PredictedFile } from './predict.js';
export { downloadDataset, downloadArchive, extractArchive, OXFORD_PET_ARCHIVES, DownloadError, type Archive, type DownloadProgress } from './download.js';
export { writeSyntheticDataset, ensureSyntheticDataset, BUILTIN_SYNTHETIC, type SyntheticOptions } from './synthetic.js';
// In the browser too:
export { trainRun, checkResume, type RunIO, type TrainResult } from './loop.js';
export { openRun, readCommittedRun, foreignEntries, commitEpoch, type OpenedRun, type RunManifest } from './run-folder.js';
export { PRECISIONS, OptionError, DivergedError, checkSettings, labArgs, type Precision, type RunSettings } from './settings.js';
export { readText, type Folder, type ReadableFolder, type Entry, type FileInfo } from './storage.js';
export { autotuneModel } from './tune.js';
export { loadSplitCached, type CachedSplit } from './cache.js';
export { readSplit, splitNames, loadSample, loadSamples, loadSplit, trimapToMask, splitFingerprint, DatasetError, type Split } from './dataset.js';
export { decodeImage, encodePng, sniffFormat, ImageDecodeError, type ImageFormat } from './images.js';
export { SummaryWriter } from './tfevents.js';
export { BatchLoader, shuffledOrder, epochGenerator, disposeBatch, type Batch, type BatchLoaderOptions } from './loader.js';
export { augmentSample, type AugmentOptions } from './augment.js';
export { normalizeImage, resizeBilinear, resizeNearest, resizeMap, IMAGENET_MEAN, IMAGENET_STD, type RasterImage, type Sample } from './pixels.js';
export { segmentImage, segmentAtFullSize, maskAndOverlay } from './segment.js';
export { drawSyntheticPet, syntheticSamples } from './synthetic-pets.js';
