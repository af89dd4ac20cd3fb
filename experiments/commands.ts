/**
 * petseg's own commands as child processes (`node cli/<name>.js …`, with this process's Node):
 * a sweep trains and scores through the command line's interface, as a user would, so each run
 * is an ordinary run and a crash of one cannot take the sweep's state with it.
 *
 * A child exits when this process dies, however it dies (PETSEG_CHILD_OF, cli/dawn-filter.js: it
 * watches its parent), so a killed sweep leaves no training behind holding a run folder's lock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the child printed on stdout, when captured (else ''). */
  stdout: string;
  stderr: string;
}

/** Children running now, for stopChildren. */
const running = new Set<ChildProcess>();

/** The launcher `cli/<name>.js` of this installation: from dist/experiments/ (the build) or experiments/ (the sources, in tests). */
function launcher(name: string): string {
  for (const up of ['../cli/', '../../cli/']) {
    const file = fileURLToPath(new URL(`${up}${name}.js`, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new Error(`cannot find petseg's cli/${name}.js from ${fileURLToPath(import.meta.url)}; is the installation complete?`);
}

/**
 * Run `petseg <name> args…` to its end. Its stderr is shown as it comes (and kept); its stdout is
 * shown, or captured with `captureStdout` (JSON output).
 */
export function runCommand(name: string, args: readonly string[], options: { captureStdout?: boolean } = {}): Promise<CommandResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [launcher(name), ...args], {
      stdio: ['ignore', options.captureStdout ? 'pipe' : 'inherit', 'pipe'],
      env: { ...process.env, PETSEG_CHILD_OF: String(process.pid) },
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    child.on('error', (err) => {
      running.delete(child);
      fail(err);
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      done({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Run `petseg infer args…` (`--json` among them) to its end and return the JSON object it printed
 * last. A run that did not exit with code 0 is an error with `failed`'s message for it.
 */
export async function inferJson<T>(args: readonly string[], failed: (result: CommandResult) => string): Promise<T> {
  const result = await runCommand('inference', args, { captureStdout: true });
  if (result.code !== 0) throw new Error(failed(result));
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`petseg infer --json printed no JSON object (got '${line.slice(0, 80)}')`);
  }
}

/** Pass a signal on to the running children (Ctrl-C, kill): each stops as it would alone, releasing its run folder. */
export function stopChildren(signal: NodeJS.Signals): void {
  for (const child of running) child.kill(signal);
}
