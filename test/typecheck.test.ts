/**
 * Strict TypeScript everywhere, not only where the build compiles: the page (web/tsconfig.json)
 * and the tests (tsconfig.test.json) are type-checked too, since vitest and Vite only strip
 * their types. `npm run typecheck` runs the same three checks.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

test.each([
  ['the library, the commands and the bench', ['-p', 'tsconfig.json', '--noEmit']],
  ['the web page', ['-p', 'web/tsconfig.json']],
  ['the tests', ['-p', 'tsconfig.test.json']],
])('%s type-check strictly', (_, args) => {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});
