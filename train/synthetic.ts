/**
 * The synthetic dataset (synthetic-set.ts) written to a folder on disk: used by the tests and as
 * the main job's built-in default.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BUILTIN_SYNTHETIC, syntheticDatasetFiles, type SyntheticOptions } from './synthetic-set.js';

export { BUILTIN_SYNTHETIC, type SyntheticOptions } from './synthetic-set.js';

/** Write the dataset under `root` (created if needed); returns the image names by split file. */
export function writeSyntheticDataset(root: string, options: SyntheticOptions = {}): { trainval: string[]; test: string[] } {
  const { files, names } = syntheticDatasetFiles(options);
  for (const [path, bytes] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), bytes);
  }
  // An empty split still has its (empty) folders, as the official layout does.
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'annotations', 'trimaps'), { recursive: true });
  return names;
}

/**
 * Write the built-in synthetic set to `root` unless it is there; returns whether it was written.
 * Written to a temporary sibling and renamed, so an interrupted run never leaves half a set.
 */
export function ensureSyntheticDataset(root: string, options: typeof BUILTIN_SYNTHETIC = BUILTIN_SYNTHETIC): boolean {
  const marker = join(root, 'petseg-synthetic.json');
  if (existsSync(marker)) return false;
  const temporary = `${root}.tmp-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  writeSyntheticDataset(temporary, options);
  writeFileSync(join(temporary, 'petseg-synthetic.json'), `${JSON.stringify(options)}\n`);
  mkdirSync(dirname(root), { recursive: true });
  rmSync(root, { recursive: true, force: true });
  renameSync(temporary, root);
  return true;
}
