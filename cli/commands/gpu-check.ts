/**
 * `petseg gpu-check` / `npm run gpu-check`: the one command for a machine with a GPU
 * (bench/gpu-check.ts). Writes gpu-check.json and gpu-check.md (and each part's own files) into
 * --out; exit code 1 when a part failed.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpuCheck } from '../../bench/gpu-check.js';
import { gpuCheckMarkdown } from '../../bench/gpu-check-table.js';
import { writeFileAtomic } from '../../train/index.js';
import { parseCommandArgs, reportError, UsageError, type OptionSpec } from './args.js';

export const OPTIONS: Record<string, OptionSpec> = {
  out: { type: 'string', default: 'gpu-check', help: 'folder for gpu-check.json, gpu-check.md and the parts\' files' },
  quick: { type: 'boolean', default: false, help: 'the same parts at small sizes (minutes on a CPU adapter)' },
  python: { type: 'string', default: 'python3', help: 'a Python with torch for the PyTorch figures (skipped when it has none)' },
};

export async function main(argv: string[]): Promise<number> {
  const summary = 'On a machine with a GPU: the adapter, the correctness tests on it, the bench (fp32 and mixed, autotuned or not) beside PyTorch on the same GPU, the lab\'s batch sizes with peak memory, and the top kernels of each step.';
  const args = parseCommandArgs('gpu-check', summary, argv, OPTIONS);
  if (typeof args === 'number') return args;
  try {
    const out = resolve(args.out as string);
    try {
      mkdirSync(out, { recursive: true });
    } catch (err) {
      throw new UsageError(`--out ${out}: cannot make this folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another`);
    }
    const write = (name: string, value: unknown) => writeFileAtomic(join(out, name), new TextEncoder().encode(typeof value === 'string' ? value : `${JSON.stringify(value, null, 1)}\n`));
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const started = performance.now();
    const report = await gpuCheck({ quick: args.quick as boolean, out, root, python: args.python as string, log }, write);
    write('gpu-check.json', report);
    write('gpu-check.md', gpuCheckMarkdown(report));
    const failed = report.parts.filter((p) => !p.ok).map((p) => p.name);
    console.log(`gpu-check: ${join(out, 'gpu-check.json')} and gpu-check.md written in ${((performance.now() - started) / 1000).toFixed(0)} s; ${failed.length ? `failed: ${failed.join(', ')}` : 'every part passed'}`);
    return failed.length ? 1 : 0;
  } catch (err) {
    return reportError('gpu-check', err);
  }
}
