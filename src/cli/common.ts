/**
 * Pieces every `vecwal` command group shares: the command registry's shape, argument parsing
 * (node:util parseArgs, turned into usage errors), output (aligned tables, JSON) and the one
 * way errors are reported. Exit codes: 0 success, 1 failure (or a damaged log where the command
 * says so), 2 usage error.
 */
import type { Readable } from 'node:stream';
import type { FileSystem } from '../fs/fs.js';
import { VecwalError, invalidArgument } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** One entry of the registry in main.ts: `vecwal <name> ...`. */
export interface CommandGroup {
  summary: string;
  /** Receives the arguments after the group name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** Bad command line: reported with a usage hint and exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose `--help` the hint points to, e.g. `wal dump`. */
    readonly command = '',
    /** Full usage text to print instead of the hint (unknown command, missing subcommand). */
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Run a node:util parseArgs call (strict, as every command uses it) and turn its own errors
 * (unknown flag, missing value, stray positional) into UsageErrors, so that they exit 2 instead
 * of looking like a crash. A wrapper rather than a parseArgs front: parseArgs' precise result
 * type comes from the call site's literal options, which a front would have to re-declare.
 */
export function usageErrors<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((e as Error).message, command);
    throw e;
  }
}

/** A whole number flag value (`--limit 10`), checked against a lower bound. */
export function intFlag(value: string | undefined, name: string, min: number, command: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`, command);
  }
  return n;
}

/** The one `<dir>` positional, checked to be an existing directory. */
export async function dirArg(fs: FileSystem, positionals: string[], command: string): Promise<string> {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing <dir>' : `expected one <dir>, got ${positionals.length} arguments`, command);
  const dir = positionals[0]!;
  const st = await fs.stat(dir);
  if (!st) throw invalidArgument(`${dir}: no such directory`, { file: dir });
  if (!st.isDirectory) throw invalidArgument(`${dir} is not a directory (give the WAL directory, not a segment file)`, { file: dir });
  return dir;
}

/**
 * Reads a child process's output stream as text and calls `onChunk` with the complete lines of
 * each chunk (without their '\n'); a partial last line waits for the next chunk.
 */
export function onLines(stream: Readable, onChunk: (lines: string[]) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    onChunk(lines);
  });
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** Decided before parsing, so that even a usage error is reported as JSON when asked. */
export function wantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}

export function out(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function err(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * An aligned text table. Numbers are right-aligned so that digits line up; the last column is
 * not padded (it often holds free text that would otherwise drag trailing blanks).
 */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  // A column is numeric when it holds numbers and otherwise only blanks ('' or '-', e.g. a totals row).
  const numeric = header.map((_, c) => rows.some((r) => typeof r[c] === 'number') && rows.every((r) => typeof r[c] === 'number' || r[c] === '' || r[c] === '-'));
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

/** ISO time of a ms timestamp; the raw number when it is not a representable date (a hybrid ts). */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

export function indent(text: string, n = 2): string {
  return text.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}

export function lsnRangeText(range: readonly [number, number] | null | undefined): string {
  if (!range) return '-';
  return range[0] === range[1] ? String(range[0]) : `${range[0]}..${range[1]}`;
}

/** The JSON form of an error: stable `code` first, then whatever details locate it. */
export function errorJson(e: unknown): Record<string, unknown> {
  if (e instanceof UsageError) return { code: 'USAGE', message: e.message };
  if (e instanceof VecwalError) {
    const { cause: _cause, ...details } = e.details;
    return { code: e.code, message: e.message, ...details };
  }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Print an error the one documented way (`error [CODE]: message`, then file/offset/LSN range
 * for corruption) and return the exit code. With `--json` the same error also goes to stdout
 * as `{"error": {...}}`, so a script reading stdout always gets one parseable answer.
 */
export function reportError(e: unknown, json: boolean): number {
  const j = errorJson(e);
  err(`error [${String(j.code)}]: ${String(j.message)}`);
  if (e instanceof VecwalError) {
    if (e.file !== undefined) err(`  file:      ${e.file}`);
    if (e.offset !== undefined) err(`  offset:    ${e.offset}`);
    if (e.details.lsnRange) err(`  LSN range: ${lsnRangeText(e.details.lsnRange)}`);
  }
  if (e instanceof UsageError) err(e.usage ?? `run 'vecwal ${e.command ? `${e.command} ` : ''}--help' for usage`);
  else if (!(e instanceof VecwalError) && e instanceof Error && process.env.VECWAL_DEBUG) err(e.stack ?? '');
  if (json) outJson({ error: j });
  return e instanceof UsageError ? EXIT_USAGE : EXIT_FAIL;
}
