// The CLI is written in TypeScript (cli/commands/*.ts) and compiled to dist/ by set-up;
// these small launchers let `node cli/<name>.js` run it, or say how to build it.
import { existsSync } from 'node:fs';

export async function launch(name) {
  const entry = new URL(`../dist/cli/commands/${name}.js`, import.meta.url);
  if (!existsSync(entry)) {
    console.error(`petseg is not built yet: run \`bash scripts/setup.sh\` (or \`npm run build\`) in ${new URL('..', import.meta.url).pathname}`);
    process.exit(1);
  }
  const command = await import(entry.href);
  process.exitCode = await command.main(process.argv.slice(2));
}
