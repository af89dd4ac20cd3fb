/** Running petseg's commands as a user runs them, from the tests. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;

export interface Exit {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `node cli/<command>.js …` from `cwd` (default: the repository), without blocking the test
 * worker (long runs would starve vitest's own messages).
 */
export function cli(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, 'cli', `${command}.js`), ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}
