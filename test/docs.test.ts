/**
 * Every fenced block of README.md and docs/*.md is exercised, so none can rot: `sh` lines name
 * an npm script that exists, a petseg command whose options parse, or a file that exists; `ts`
 * blocks are type-checked against the built package and run; `python` blocks compile (when
 * Python is installed); `text` blocks are output. The generated tables must be current.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseArgs, type OptionSpec } from '../cli/commands/args.js';
import { OPTIONS as BENCH } from '../cli/commands/bench.js';
import { OPTIONS as DOWNLOAD } from '../cli/commands/download.js';
import { OPTIONS as EVALUATE } from '../cli/commands/evaluate.js';
import { OPTIONS as GPU_CHECK } from '../cli/commands/gpu-check.js';
import { OPTIONS as INFO } from '../cli/commands/info.js';
import { OPTIONS as INFERENCE, takeImages } from '../cli/commands/inference.js';
import { OPTIONS as REPORT, splitReportArgs } from '../cli/commands/report.js';
import { OPTIONS as SUMMARY } from '../cli/commands/summary.js';
import { OPTIONS as SWEEP } from '../cli/commands/sweep.js';
import { OPTIONS as TRAIN } from '../cli/commands/train.js';

const ROOT = new URL('..', import.meta.url).pathname;
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** Command file → its options, by `petseg` subcommand and by `cli/<file>.js`. */
const COMMANDS: Record<string, Record<string, OptionSpec>> = { train: TRAIN, evaluate: EVALUATE, inference: INFERENCE, download: DOWNLOAD, bench: BENCH, summary: SUMMARY, info: INFO, 'gpu-check': GPU_CHECK, sweep: SWEEP, report: REPORT };
const SUBCOMMANDS: Record<string, string> = { train: 'train', evaluate: 'evaluate', infer: 'inference', download: 'download', bench: 'bench', summary: 'summary', info: 'info', 'gpu-check': 'gpu-check', sweep: 'sweep', report: 'report' };
/** Programs a line may run besides petseg's own (installed tools, documented as such). */
const TOOLS = new Set(['pip', 'tensorboard']);

interface Block {
  file: string;
  lang: string;
  code: string;
}

const blocks: Block[] = FILES.flatMap((file) =>
  [...readFileSync(join(ROOT, file), 'utf8').matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ file, lang: m[1], code: m[2] })),
);

/** The options of a petseg command line parse ('--help' excepted); throws the parser's message. */
function checkOptions(command: string, argv: string[]): void {
  const specs = COMMANDS[command];
  if (!specs) throw new Error(`no petseg command ${command}`);
  const rest = command === 'inference' ? takeImages(argv).rest : command === 'report' ? splitReportArgs(argv).rest : argv;
  const parsed = parseArgs(rest, specs);
  if (parsed === 'version' || (parsed === 'help' && !argv.includes('--help'))) throw new Error(`unexpected ${parsed}`);
}

/** Checks one shell line; returns what was checked, for the message. */
function checkLine(line: string): void {
  const [program, ...args] = line.split(/\s+/);
  const exists = (path: string) => expect(existsSync(join(ROOT, path)), `${path} exists`).toBe(true);
  if (program === 'npm') {
    const [verb, name, ...rest] = args;
    if (verb === 'start' || verb === 'test' || verb === 'pack') return;
    expect(verb, line).toBe('run');
    expect(Object.keys(SCRIPTS), line).toContain(name);
    if (name === 'bench' || name === 'gpu-check') checkOptions(name, rest[0] === '--' ? rest.slice(1) : rest);
    return;
  }
  if (program === 'npx') {
    const [tool, ...rest] = args;
    if (tool === 'vitest') return exists(rest[1]);
    expect(tool, line).toBe('petseg');
    return checkOptions(SUBCOMMANDS[rest[0]] ?? `(${rest[0]})`, rest.slice(1));
  }
  if (program === 'node') {
    const [file, ...rest] = args;
    exists(file);
    const command = /^cli\/([\w-]+)\.js$/.exec(file)?.[1] ?? (file === 'bin/petseg.js' ? SUBCOMMANDS[rest.shift() ?? ''] : undefined);
    if (command) checkOptions(command, rest);
    return;
  }
  if (program === 'bash' || program === 'python3') return exists(args[0]);
  expect(TOOLS.has(program), `${line}: an unknown program`).toBe(true);
}

describe('docs', () => {
  test('every fenced block says what it is', () => {
    expect(blocks.length).toBeGreaterThan(10);
    expect(blocks.filter((b) => !['sh', 'ts', 'python', 'text'].includes(b.lang)).map((b) => `${b.file}: \`\`\`${b.lang}`)).toEqual([]);
  });

  test('every command line names something that exists, with options that parse', () => {
    for (const b of blocks.filter((x) => x.lang === 'sh')) {
      for (const raw of b.code.split('\n')) {
        const line = raw.replace(/\s+#.*$/, '').trim();
        if (!line || line.startsWith('#')) continue;
        try {
          checkLine(line);
        } catch (err) {
          throw new Error(`${b.file}: ${line}\n${(err as Error).message}`);
        }
      }
    }
  });

  test('every TypeScript snippet type-checks against the built package and runs', () => {
    const dir = join(ROOT, 'test-artifacts', 'docs');
    mkdirSync(dir, { recursive: true });
    const snippets = blocks.filter((b) => b.lang === 'ts');
    const names = snippets.map((b, i) => {
      const name = `snippet-${i}.mts`;
      // The package's own names, resolved to this build.
      const code = b.code.replace(/from 'petseg\/([\w/]+)'/g, (_, sub: string) => `from '${join(ROOT, 'dist', sub, 'index.js')}'`);
      writeFileSync(join(dir, name), code);
      return name;
    });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', types: [] }, files: names }),
    );
    const tsc = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr, 'tsc').toBe('');
    const cwd = mkdtempSync(join(tmpdir(), 'petseg-docs-'));
    snippets.forEach((b, i) => {
      const run = spawnSync(process.execPath, [join(dir, 'out', names[i].replace(/\.mts$/, '.mjs'))], { cwd, encoding: 'utf8', env: { ...process.env, PETSEG_AUTOTUNE: '0' } });
      expect({ snippet: `${b.file} #${i}`, status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ snippet: `${b.file} #${i}`, status: 0, stderr: '' });
    });
  });

  test.skipIf(spawnSync('python3', ['--version']).status !== 0)('every Python snippet compiles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'petseg-docs-py-'));
    blocks
      .filter((b) => b.lang === 'python')
      .forEach((b, i) => {
        const file = join(dir, `snippet_${i}.py`);
        writeFileSync(file, b.code);
        execFileSync('python3', ['-m', 'py_compile', file]);
      });
  });

  test('the generated tables are current (node scripts/bench-table.mjs --write, node scripts/conv-table.mjs --write)', async () => {
    // @ts-expect-error: a plain ES module script, without types.
    const bench = (await import('../scripts/bench-table.mjs')) as {
      readMeasurements: () => unknown;
      benchmarkTables: (m: unknown) => string;
      summaryTable: (m: unknown) => string;
      gpuCheckTables: () => Promise<string>;
      MARKERS: Record<'benchmarks' | 'summary' | 'gpu', [string, string]>;
    };
    const between = (file: string, [start, end]: [string, string]) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      return text.slice(text.indexOf(start) + start.length, text.indexOf(end)).trim();
    };
    const measurements = bench.readMeasurements();
    expect(between('docs/benchmarks.md', bench.MARKERS.benchmarks), 'docs/benchmarks.md').toBe(bench.benchmarkTables(measurements));
    expect(between('README.md', bench.MARKERS.summary), 'README.md').toBe(bench.summaryTable(measurements));
    expect(between('docs/benchmarks.md', bench.MARKERS.gpu), 'docs/benchmarks.md (GPU)').toBe(await bench.gpuCheckTables());
  });
});
