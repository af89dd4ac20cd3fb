#!/usr/bin/env node
// `npm run bench` / `node bench/run.js [options]`: the bench command (cli/commands/bench.ts).
import { launch } from '../cli/launch.js';

await launch('bench');
