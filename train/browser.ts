/**
 * petseg/train in a browser (package.json's `browser` condition): the training loop and
 * everything it reads and writes with — no Node module is reachable from here (test/bundle.test.ts).
 */
export { trainRun, checkResume, type RunIO, type TrainResult } from './loop.js';
export { openRun, defaultRunName, readCommittedRun, recordedSettings, foreignEntries, commitEpoch, RUN_FILES, RUN_LOG_DIR, EVALUATION_FILE, LOCK_FILE, type OpenedRun, type RunManifest } from './run-folder.js';
export { PRECISIONS, RUN_DEFINING, OptionError, DivergedError, checkSettings, labArgs, type Precision, type RunSettings } from './settings.js';
export { readText, sha256Hex, type Folder, type ReadableFolder, type Entry, type EntryKind, type FileInfo } from './storage.js';
export { epochMetrics, bestOf, type EpochRecord, type EpochMetrics, type Best } from './record.js';
export { StoppedError } from './epoch.js';
export { evaluateSamples, exampleGrid, type Evaluation } from './evaluate.js';
export { autotuneModel } from './tune.js';
export { loadSplitCached, type CachedSplit, type CacheOptions } from './cache.js';
export { readSplit, splitNames, loadSample, loadSamples, loadSplit, trimapToMask, splitFingerprint, imagePath, trimapPath, SPLIT_FILES, DatasetError, type Split, type LoadedSamples, type LoadOptions } from './dataset.js';
export { decodeImage, encodePng, sniffFormat, ImageDecodeError, type ImageFormat } from './images.js';
export { unpackTarGz, safeArchivePath, ArchiveError, MAX_FILE_BYTES, type FileSink } from './tar.js';
export { SummaryWriter, isPetsegEventFile, type WriterIdentity } from './tfevents.js';
export { syntheticDatasetFiles, BUILTIN_SYNTHETIC, type SyntheticOptions } from './synthetic-set.js';
export { BatchLoader, shuffledOrder, epochGenerator, disposeBatch, type Batch, type BatchLoaderOptions } from './loader.js';
export { augmentSample, type AugmentOptions } from './augment.js';
export { normalizeImage, resizeBilinear, resizeNearest, resizeMap, IMAGENET_MEAN, IMAGENET_STD, type RasterImage, type Sample } from './pixels.js';
export { segmentImage, segmentAtFullSize, maskAndOverlay } from './segment.js';
export { drawSyntheticPet, syntheticSamples } from './synthetic-pets.js';
export { ProgressBar, type ProgressStream } from './progress.js';
