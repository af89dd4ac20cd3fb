/**
 * A small `--name value` / `--name=value` / `--flag` parser with typed options, defaults, ranges,
 * --help and --version, and the commands' exit codes: 0 success, 1 a failure while running, 2 a
 * bad argument (UsageError), always before a device opens or a file is written.
 */
import { readFileSync } from 'node:fs';

export interface OptionSpec {
  type: 'number' | 'integer' | 'string' | 'boolean';
  default?: number | string | boolean;
  help: string;
  min?: number;
  max?: number;
}

export type ParsedArgs = Record<string, number | string | boolean | undefined>;

/** A bad argument: one line naming it and the fix; exit code 2. */
export class UsageError extends Error {}

/** petseg's version (package.json). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The `petseg` subcommand a command file answers to (the file names predate the bin). */
const SUBCOMMANDS: Record<string, string> = { inference: 'infer' };

export function usage(command: string, summary: string, specs: Record<string, OptionSpec>): string {
  const lines = [`usage: petseg ${SUBCOMMANDS[command] ?? command} [options]   (or: node cli/${command}.js [options])`, '', summary, '', 'options:'];
  for (const [name, spec] of Object.entries(specs)) {
    const value = spec.type === 'boolean' ? '' : ` <${spec.type}>`;
    const dflt = spec.default === undefined ? '' : ` (default: ${spec.default})`;
    lines.push(`  --${name}${value}`.padEnd(28) + spec.help + dflt);
  }
  lines.push('  --help'.padEnd(28) + 'show this help', '  --version'.padEnd(28) + "print petseg's version");
  return lines.join('\n');
}

export function parseArgs(argv: string[], specs: Record<string, OptionSpec>): ParsedArgs | 'help' | 'version' {
  const out: ParsedArgs = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version') return 'version';
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}' (options start with --; see --help)`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option --${name} (see --help)`);
    if (spec.type === 'boolean') {
      out[name] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    if (spec.type === 'string') {
      out[name] = raw;
      continue;
    }
    const value = Number(raw);
    if (!Number.isFinite(value) || (spec.type === 'integer' && !Number.isInteger(value))) {
      throw new UsageError(`--${name} must be ${spec.type === 'integer' ? 'an integer' : 'a number'}, got '${raw}'`);
    }
    if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
      throw new UsageError(`--${name} must be in [${spec.min ?? '-inf'}, ${spec.max ?? 'inf'}], got ${value}`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * Parse for a command: on --help prints usage and returns 0, on a usage error prints one line
 * and returns 2 (the exit code); otherwise returns the parsed options.
 */
export function parseCommandArgs(command: string, summary: string, argv: string[], specs: Record<string, OptionSpec>): ParsedArgs | number {
  try {
    const args = parseArgs(argv, specs);
    if (args === 'version') console.log(version());
    else if (args === 'help') console.log(usage(command, summary, specs));
    else return args;
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${command}: ${err.message}`);
    return 2;
  }
}

/** Names of the options written on the command line (to tell a given value from a default). */
export function givenOptions(argv: readonly string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=', 1)[0]));
}

/**
 * Print a fatal error as one line naming the command (the stack too when PETSEG_DEBUG is set)
 * and return the exit code: 2 for a bad argument, else 1.
 */
export function reportError(command: string, err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`${command}: ${message}`);
  if (process.env.PETSEG_DEBUG && err instanceof Error && err.stack) console.error(err.stack);
  return err instanceof UsageError ? 2 : 1;
}
