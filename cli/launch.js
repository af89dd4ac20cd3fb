// The CLI is written in TypeScript (cli/commands/*.ts) and compiled to dist/ by set-up; these
// launchers run it (`node cli/<name>.js`, the `petseg` bin in bin/petseg.js) or say how to build it.
//
// Dawn's native code prints two harmless warnings on every adapter it opens ("… artificially
// reduced … to fit dynamic offset allocation limit") straight to the process's stderr, where
// JavaScript cannot filter them. So a command runs in a child process whose stderr passes
// through a filter that drops exactly those lines; stdin and stdout are the terminal's (progress
// bars keep their width). With PETSEG_VERBOSE=1 (or PETSEG_DEBUG=1) it runs in this process and
// nothing is filtered. The child exits when this process dies, whatever killed it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

async function runHere(entry, argv) {
  const command = await import(entry.href);
  process.exitCode = await command.main(argv);
}

/** Copies `from` to `to` line by line, without the lines Dawn prints on every adapter. */
function filterLines(from, to) {
  let pending = '';
  from.setEncoding('utf8');
  from.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const line of lines) if (!DAWN_NOISE.test(line)) to.write(`${line}\n`);
  });
  from.on('end', () => {
    if (pending && !DAWN_NOISE.test(pending)) to.write(pending);
  });
}

export async function launch(name, argv = process.argv.slice(2)) {
  const entry = new URL(`../dist/cli/commands/${name}.js`, import.meta.url);
  if (!existsSync(entry)) {
    console.error(`petseg is not built yet: run \`bash scripts/setup.sh\` (or \`npm run build\`) in ${fileURLToPath(new URL('..', import.meta.url))}`);
    process.exit(1);
  }
  if (process.env.PETSEG_CHILD_OF) {
    // Exit with the parent: a parent killed by SIGKILL cannot take its child along.
    const parent = Number(process.env.PETSEG_CHILD_OF);
    setInterval(() => process.ppid !== parent && process.exit(129), 250).unref();
    return runHere(entry, argv);
  }
  if (process.env.PETSEG_VERBOSE || process.env.PETSEG_DEBUG) return runHere(entry, argv);
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), name, ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, PETSEG_CHILD_OF: String(process.pid) },
  });
  filterLines(child.stderr, process.stderr);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, () => child.kill(signal));
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  if (signal) {
    for (const s of FORWARDED_SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
  }
  process.exitCode = code ?? 1;
}

// `node cli/launch.js <name> [args]`: how the parent starts the child.
if (process.argv[1] === fileURLToPath(import.meta.url)) await launch(process.argv[2], process.argv.slice(3));
