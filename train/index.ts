/**
 * petseg/train — the training system as a library: the training loop and the lab's data rules
 * (train/browser.ts, which a browser gets: no Node module), and in Node the run folder on disk and
 * its lock, the trainer with the command line's options, prediction, the download and the
 * synthetic set on disk.
 */
export * from './browser.js';
export { train, checkTrainOptions, checkWritableFolder, runSettings, type TrainOptions } from './trainer.js';
export { NodeFolder, decodeCacheDir, userCacheDir, writeError } from './node-folder.js';
export { acquireRunLock, claimNewRunFolder, RunFolderInUse, type RunLock } from './run-lock.js';
export { predictFile, uniqueStems, type PredictedFile } from './predict.js';
export { downloadDataset, downloadArchive, extractArchive, md5File, OXFORD_PET_ARCHIVES, DownloadError, type Archive, type DownloadProgress } from './download.js';
export { writeSyntheticDataset, ensureSyntheticDataset } from './synthetic.js';
/** Write a file atomically (a temporary file beside it, fsync, rename): what petseg's own files are written with. */
export { writeFileAtomic } from '../models/checkpoint.js';
