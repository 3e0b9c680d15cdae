import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadActionMetadata, type ActionMetadata } from './action-metadata.js';
import { MODES } from './cli-modes.js';
import { ACTION_NAMES } from './dispatch.js';

/** Where the CLI writes: a terminal's two streams, or a test's buffers. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

/** Everything a subcommand gets: its arguments, the package root (for action.yml) and the streams. */
export interface CliContext {
  args: string[];
  root: string;
  io: CliIO;
}

/** One `rollgate <name>` subcommand: returns the exit status. */
export interface Subcommand {
  name: string;
  summary: string;
  run(context: CliContext): Promise<number>;
}

/** Runs one of the six actions: the bundle (or, in tests, the source) that reads INPUT_* variables. */
export type ActionRunner = (name: (typeof ACTION_NAMES)[number]) => Promise<void>;

/** A command that runs an action in one of its modes: its own flag names, some inputs preset. */
interface ActionMode {
  name: string;
  set: Record<string, string>;
  /** flag → the action input it sets. */
  rename: Record<string, string>;
}

/**
 * The subcommands the CLI knows: the six actions, then the modes of cli-modes.ts (check-plan,
 * backtest). A subcommand that is neither is one more entry in the returned list.
 */
export function subcommands(runAction: ActionRunner): Subcommand[] {
  const actions = ACTION_NAMES.map((name): Subcommand => ({
    name,
    summary: '',
    run: (context) => runActionCommand(name, context, runAction),
  }));
  const modes = Object.entries(MODES).map(([name, mode]): Subcommand => ({
    name,
    summary: `${mode.about} (${mode.action})`,
    run: (context) => runActionCommand(mode.action, context, runAction, { name, set: mode.set, rename: mode.rename }),
  }));
  return [...actions, ...modes];
}

/** The action's metadata as a mode presents it: renamed flags, preset inputs hidden. */
function asMode(metadata: ActionMetadata, mode: ActionMode | undefined): ActionMetadata {
  if (!mode) return metadata;
  const inputs: ActionMetadata['inputs'] = {};
  const renamedTo = Object.fromEntries(Object.entries(mode.rename).map(([flag, input]) => [input, flag]));
  for (const [input, spec] of Object.entries(metadata.inputs)) {
    if (input in mode.set) continue;
    inputs[renamedTo[input] ?? input] = spec;
  }
  return { ...metadata, name: mode.name, inputs };
}

/** `rollgate --help`: the subcommands with one line each, from the actions' own descriptions. */
export function usage(root: string, commands: readonly Subcommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => {
    const summary = c.summary || (isAction(c.name) ? loadActionMetadata(root, c.name).description : '');
    return `  ${c.name.padEnd(width)}  ${summary}`;
  });
  return [
    'usage: rollgate <command> [--flag value ...]',
    '       rollgate <command> --help',
    '',
    'Runs rollgate outside GitHub Actions, with the same code the actions run. Each --flag sets',
    'the action input of the same name (--plan .github/rollout.yml --bake 30s).',
    '',
    'commands:',
    ...lines,
    '',
    'options:',
    "  -h, --help     show this help, or a command's own with rollgate <command> --help",
    '  --version      print the version',
  ].join('\n');
}

/** `rollgate <action> --help`, generated from actions/<action>/action.yml. */
export function actionHelp(metadata: ActionMetadata): string {
  const flags = Object.entries(metadata.inputs).map(([name, spec]) => {
    const dflt = spec.default === undefined ? '' : spec.default.includes('${{') ? ` (on GitHub: ${spec.default})` : ` (default: ${spec.default})`;
    return `  --${name} <value>${spec.required ? ' (required)' : ''}\n      ${spec.description}${dflt}`;
  });
  const outputs = Object.entries(metadata.outputs).map(([name, spec]) => `  ${name}\n      ${spec.description}`);
  return [
    `usage: rollgate ${metadata.name} [--flag value ...]`,
    '',
    metadata.description,
    '',
    'flags (the action inputs):',
    ...flags,
    '  --output-file <path>',
    '      Append the outputs to this file in the GITHUB_OUTPUT format instead of printing them.',
    '  -h, --help',
    '',
    'outputs:',
    ...outputs,
    '',
    'Outputs are printed as `output name=value` lines (multi-line values as name<<DELIMITER … DELIMITER),',
    'or appended to --output-file, or to $GITHUB_OUTPUT when the CLI runs inside a workflow step.',
    'Exit status: 0 when the action succeeded, 1 when it failed, 2 for a usage error.',
  ].join('\n');
}

/** The known name closest to `wanted` (edit distance at most a third of its length), if any. */
export function closest(wanted: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(wanted, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (!best) return undefined;
  // A prefix ("--bak" for "--bake") is what a hurried typist leaves most often.
  const prefixed = known.filter((name) => name.startsWith(wanted));
  if (prefixed.length === 1) return prefixed[0];
  return best.distance <= Math.max(2, Math.floor(wanted.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function isAction(name: string): name is (typeof ACTION_NAMES)[number] {
  return (ACTION_NAMES as readonly string[]).includes(name);
}

/** A usage mistake: printed as `rollgate <command>: message`, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Turns `--flag value` arguments into the action's INPUT_* variables; unknown flags are errors. */
export function parseActionFlags(metadata: ActionMetadata, args: string[]): { inputs: Record<string, string>; help: boolean; outputFile?: string } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' }, 'output-file': { type: 'string' } };
  for (const name of Object.keys(metadata.inputs)) options[name] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError(explainParseError(err, Object.keys(options)));
  }
  const inputs: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (name === 'help' || name === 'output-file') continue;
    if (typeof value === 'string') inputs[name] = value;
  }
  const outputFile = parsed.values['output-file'];
  return { inputs, help: parsed.values.help === true, ...(typeof outputFile === 'string' ? { outputFile } : {}) };
}

function explainParseError(err: unknown, flags: string[]): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const suggestion = closest(flag.replace(/^-+/, ''), flags);
      return `unknown flag ${flag}${suggestion ? `; did you mean --${suggestion}?` : ''} (see --help for the flags)`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(message) ? `${flag} needs a value, e.g. ${flag} <value>` : `${flag}: ${message}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']+)'/.exec(message)?.[1] ?? ''}: flags are given as --name value`;
    default:
      return message;
  }
}

/**
 * Runs one action with its flags: the inputs become INPUT_* variables, as the runner sets them,
 * and outputs go through a GITHUB_OUTPUT file, so the CLI runs the actions' own contract.
 */
async function runActionCommand(name: (typeof ACTION_NAMES)[number], { args, root, io }: CliContext, runAction: ActionRunner, mode?: ActionMode): Promise<number> {
  const metadata = asMode(loadActionMetadata(root, name), mode);
  const { inputs, help, outputFile } = parseActionFlags(metadata, args);
  if (help) {
    io.out(`${actionHelp(metadata)}\n`);
    return 0;
  }
  for (const [flag, value] of Object.entries(inputs)) process.env[`INPUT_${(mode?.rename[flag] ?? flag).toUpperCase()}`] = value;
  for (const [input, value] of Object.entries(mode?.set ?? {})) process.env[`INPUT_${input.toUpperCase()}`] = value;
  // Errors then name --flags rather than workflow inputs, by the names this command gives them.
  process.env.ROLLGATE_CLI = '1';
  process.env.ROLLGATE_CLI_FLAGS = Object.entries(mode?.rename ?? {})
    .map(([flag, input]) => `${input}=${flag}`)
    .join(',');
  const target = outputFile ?? process.env.GITHUB_OUTPUT;
  const scratch = target ? undefined : mkdtempSync(join(tmpdir(), 'rollgate-cli-'));
  const file = target ?? join(scratch!, 'output');
  if (!existsSync(file)) writeFileSync(file, '');
  const before = readFileSync(file, 'utf8').length;
  process.env.GITHUB_OUTPUT = file;
  process.exitCode = 0;
  try {
    await runAction(name);
    if (scratch) for (const [output, value] of parseOutputFile(readFileSync(file, 'utf8').slice(before))) io.out(`${formatOutput(output, value)}\n`);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** `output name=value`, or the heredoc form for a value of several lines. */
export function formatOutput(name: string, value: string): string {
  if (!value.includes('\n')) return `output ${name}=${value}`;
  const delimiter = `ROLLGATE_${randomUUID().slice(0, 8)}`;
  return `output ${name}<<${delimiter}\n${value}\n${delimiter}`;
}

/** Reads the name/value pairs @actions/core appends to a GITHUB_OUTPUT file. */
export function parseOutputFile(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      pairs.push([heredoc[1]!, value.join('\n')]);
    } else if (line.includes('=')) {
      pairs.push([line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
    }
  }
  return pairs;
}

/** The whole CLI: returns the exit status. */
export async function runCli(argv: string[], root: string, io: CliIO, runAction: ActionRunner): Promise<number> {
  const commands = subcommands(runAction);
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(`${usage(root, commands)}\n`);
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = rest[0] && isAction(rest[0]) ? rest[0] : undefined;
    io.out(`${topic ? actionHelp(loadActionMetadata(root, topic)) : usage(root, commands)}\n`);
    return 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(`${(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === first);
  if (!command) {
    const suggestion = closest(
      first.replace(/^-+/, ''),
      commands.map((c) => c.name),
    );
    io.err(`rollgate: unknown command ${JSON.stringify(first)}${suggestion ? `; did you mean ${suggestion}?` : ''}\n\n${usage(root, commands)}\n`);
    return 2;
  }
  try {
    return await command.run({ args: rest, root, io });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`rollgate ${command.name}: ${err.message}\n`);
    return 2;
  }
}
