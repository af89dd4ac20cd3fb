#!/usr/bin/env node
// `petseg <command> [options]`: the command-line tools as one program (npx petseg …).
import { readFileSync } from 'node:fs';
import { launch } from '../cli/launch.js';

/** Subcommand → command file (cli/commands/<file>.ts) and what it does. */
const COMMANDS = {
  train: ['train', 'train UNet or ResNet34_UNet (the built-in synthetic set without --data_path)'],
  evaluate: ['evaluate', "a checkpoint's Dice and IoU on the valid split"],
  infer: ['inference', 'Dice on the test split, or masks and overlays for --images'],
  sweep: ['sweep', 'train a grid of train arguments, one run folder each; resumable, shardable'],
  report: ['report', 'compare runs: report.md and report.html with a table, curves and predictions'],
  download: ['download', 'fetch, verify and unpack Oxford-IIIT Pet'],
  bench: ['bench', 'kernels and training steps beside TF.js (when installed) on this adapter'],
  summary: ['summary', "a model's parameter counts"],
  info: ['info', 'the WebGPU adapter: backend, features, limits, Dawn options, autotuning'],
  'gpu-check': ['gpu-check', 'on a GPU machine: correctness, bench beside PyTorch, the lab batch sizes, profiles'],
};

const [command, ...rest] = process.argv.slice(2);
if (command === '--version' || command === '-v') {
  console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
} else if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(
    [
      'usage: petseg <command> [options]    (petseg <command> --help for its options)',
      '',
      'commands:',
      ...Object.entries(COMMANDS).map(([name, [, what]]) => `  ${name.padEnd(10)}${what}`),
      '',
      '  --version  print the version',
    ].join('\n'),
  );
  if (command === undefined) process.exitCode = 2;
} else if (command in COMMANDS) {
  await launch(COMMANDS[command][0], rest);
} else {
  console.error(`petseg: unknown command '${command}'; choose one of ${Object.keys(COMMANDS).join(', ')} (petseg --help)`);
  process.exitCode = 2;
}
