// The CLI is written in TypeScript (cli/commands/*.ts) and compiled to dist/ by set-up; these
// launchers run it (`node cli/<name>.js`, the `petseg` bin in bin/petseg.js) or say how to build it.
// A command runs in a child process whose stderr drops Dawn's adapter warnings (cli/dawn-filter.js).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInFilteredChild } from './dawn-filter.js';

export async function launch(name, argv = process.argv.slice(2)) {
  const entry = new URL(`../dist/cli/commands/${name}.js`, import.meta.url);
  if (!existsSync(entry)) {
    console.error(`petseg is not built yet: run \`bash scripts/setup.sh\` (or \`npm run build\`) in ${fileURLToPath(new URL('..', import.meta.url))}`);
    process.exit(1);
  }
  if (await runInFilteredChild(fileURLToPath(import.meta.url), [name, ...argv])) return;
  const command = await import(entry.href);
  process.exitCode = await command.main(argv);
}

// `node cli/launch.js <name> [args]`: how the parent starts the child.
if (process.argv[1] === fileURLToPath(import.meta.url)) await launch(process.argv[2], process.argv.slice(3));
