/**
 * A small `--name value` / `--name=value` / `--flag` parser with typed options, defaults, ranges,
 * --help and --version, and the commands' exit codes: 0 success, 1 a failure while running, 2 a
 * bad argument (UsageError), always before a device opens or a file is written.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { OptionError } from '../../train/index.js';

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

/** The column where option descriptions start in --help. */
const HELP_COLUMN = 30;

export function usage(command: string, summary: string, specs: Record<string, OptionSpec>): string {
  const lines = [`usage: petseg ${SUBCOMMANDS[command] ?? command} [options]`, '', summary, '', 'options:'];
  // A name too long for the column gets its description on the next line, so the two never touch.
  const row = (head: string, help: string) => (head.length < HELP_COLUMN - 1 ? head.padEnd(HELP_COLUMN) + help : `${head}\n${' '.repeat(HELP_COLUMN)}${help}`);
  for (const [name, spec] of Object.entries(specs)) {
    const value = spec.type === 'boolean' ? ' [yes|no]' : ` <${spec.type}>`;
    const dflt = spec.default === undefined ? '' : ` (default: ${spec.default})`;
    lines.push(row(`  --${name}${value}`, spec.help + dflt));
  }
  lines.push(row('  --help', 'show this help'), row('  --version', "print petseg's version"));
  return lines.join('\n');
}

/** What a boolean option accepts, as `--flag=VALUE` or `--flag VALUE` (plain `--flag` is true), in lower case. */
export const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['yes', true],
  ['1', true],
  ['false', false],
  ['no', false],
  ['0', false],
]);

export function parseArgs(argv: string[], specs: Record<string, OptionSpec>): ParsedArgs | 'help' | 'version' {
  const out: ParsedArgs = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version') return 'version';
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}' (options start with --; see --help)`);
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
    const inline = equals < 0 ? undefined : arg.slice(equals + 1);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option --${name} (see --help)`);
    if (spec.type === 'boolean') {
      // `--flag=WORD`, or `--flag WORD` when the next argument is one of the words.
      const next = argv[i + 1];
      const word = inline ?? (next !== undefined && BOOLEAN_WORDS.has(next.toLowerCase()) ? argv[++i] : undefined);
      const value = word === undefined ? true : BOOLEAN_WORDS.get(word.toLowerCase());
      if (value === undefined) throw new UsageError(`--${name} takes true/false, yes/no or 1/0, got '${word}'`);
      out[name] = value;
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    // `--save_dir --augment` is a forgotten value, not a folder named --augment.
    if (raw.startsWith('--')) throw new UsageError(`--${name} needs a value, got the option ${raw} (a path that starts with -- can be written ./${raw})`);
    if (raw === '') throw new UsageError(`--${name} needs a value, got an empty one`);
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
 * An option that takes a list: every argument after `--name` up to the next option (`--name=a`
 * starts it with one); given several times, the lists add up. Returns the other arguments, in
 * order, and the list without empty items — null when the option is not given.
 */
export function takeList(argv: readonly string[], name: string): { rest: string[]; values: string[] | null } {
  const flag = `--${name}`;
  const rest: string[] = [];
  let values: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg !== flag && !arg.startsWith(`${flag}=`)) {
      rest.push(arg);
      continue;
    }
    values ??= [];
    if (arg.startsWith(`${flag}=`)) values.push(arg.slice(flag.length + 1));
    while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) values.push(argv[++i]);
  }
  return { rest, values: values?.filter(Boolean) ?? null };
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

/**
 * A path argument that must name a file (a checkpoint, weights): a folder there gets one line
 * naming it, before anything reads it. A missing file is the caller's to report.
 */
export function checkNotFolder(option: string, path: string, what: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--${option} ${path} is a folder, not ${what}; pass the file itself`);
}

/** Names of the options written on the command line (to tell a given value from a default). */
export function givenOptions(argv: readonly string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=', 1)[0]));
}

/** Library option fields whose flag is not their snake_case form. */
const FLAG_OF_FIELD: Record<string, string> = { profileSteps: 'profile' };

/** The command-line flag of a library option field (train/settings.ts templates): `weightDecay` → `--weight_decay`. */
export function flagOf(field: string): string {
  return `--${FLAG_OF_FIELD[field] ?? field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

/** An error's message as the command line says it: option fields as flags. */
export function cliMessage(err: unknown): string {
  if (err instanceof OptionError) return err.render(flagOf);
  return err instanceof Error ? err.message : String(err);
}

/** A library's refusal of an argument, as the command line reports it (exit code 2). */
export function asUsageError(err: unknown): UsageError {
  return err instanceof UsageError ? err : new UsageError(cliMessage(err));
}

/**
 * Print a fatal error as one line naming the command (the stack too when PETSEG_DEBUG is set)
 * and return the exit code: 2 for a bad argument, else 1.
 */
export function reportError(command: string, err: unknown): number {
  const message = cliMessage(err);
  console.error(`${command}: ${message}`);
  if (process.env.PETSEG_DEBUG && err instanceof Error && err.stack) console.error(err.stack);
  return err instanceof UsageError ? 2 : 1;
}
