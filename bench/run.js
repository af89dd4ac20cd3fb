#!/usr/bin/env node
// `npm run bench` / `node bench/run.js [options]`: runs the compiled bench (dist/bench/main.js).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bench/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('petseg is not built yet: run `bash scripts/setup.sh` (or `npm run build`)');
  process.exit(1);
}
const bench = await import(entry.href);
process.exitCode = await bench.main(process.argv.slice(2));
