// Dawn's native code prints two harmless warnings on every adapter it opens on lavapipe —
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
// — straight to the process's stderr, where JavaScript cannot filter them. So petseg's own
// programs that open a device (the commands through cli/launch.js, scripts/check-adapter.mjs) run
// their work in a child process whose stderr passes through a filter that drops exactly those
// lines; stdin and stdout are the terminal's (progress bars keep their width). With
// PETSEG_VERBOSE=1 (or PETSEG_DEBUG=1) the work runs in the first process and nothing is
// filtered. The child exits when its parent dies, whatever killed it.
import { spawn } from 'node:child_process';

const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

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

/**
 * Runs `node script ...args` as a filtered child and mirrors its end (exit code, or the signal that
 * killed it); returns true. Returns false, having started nothing, where the caller is to do the
 * work itself: in that child, or with PETSEG_VERBOSE / PETSEG_DEBUG.
 */
export async function runInFilteredChild(script, args) {
  if (process.env.PETSEG_CHILD_OF) {
    // Exit with the parent: a parent killed by SIGKILL cannot take its child along.
    const parent = Number(process.env.PETSEG_CHILD_OF);
    setInterval(() => process.ppid !== parent && process.exit(129), 250).unref();
    return false;
  }
  if (process.env.PETSEG_VERBOSE || process.env.PETSEG_DEBUG) return false;
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
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
  return true;
}
