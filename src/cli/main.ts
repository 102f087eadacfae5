#!/usr/bin/env node
/**
 * The `vecwal` command. This file only dispatches: each command group lives in its own module
 * under src/cli/ and is registered below with a one-line summary. Groups are imported on first
 * use, so `vecwal wal ...` does not load what `vecwal demo` (or later `search`) needs.
 *
 * To add a group: write
 * src/cli/<name>.ts exporting `run<Name>(argv: string[]): Promise<number>` (the exit code) and
 * add an entry to COMMANDS. Throw UsageError for bad command lines (exit 2) and VecwalError for
 * failures (exit 1); main prints both the one documented way (docs/cli.md).
 */
import { fileURLToPath } from 'node:url';
import { NodeFileSystem } from '../fs/node-fs.js';
import { readFile } from '../fs/io.js';
import { EXIT_OK, UsageError, out, reportError, wantsJson, type CommandGroup } from './common.js';

const COMMANDS: Record<string, CommandGroup> = {
  serve: {
    summary: 'Milvus-compatible server: REST v2 and gRPC on one port (the official SDKs work unchanged)',
    run: async (argv) => (await import('./serve.js')).runServe(argv),
  },
  import: {
    summary: 'load a JSONL, CSV or Parquet file (or synthetic rows) into a collection, resumably',
    run: async (argv) => (await import('./import.js')).runImport(argv),
  },
  search: {
    summary: 'top-k vector search in a collection (exact), with an optional filter',
    run: async (argv) => (await import('./db-commands.js')).runSearch(argv),
  },
  query: {
    summary: 'rows of a collection matching a filter expression',
    run: async (argv) => (await import('./db-commands.js')).runQuery(argv),
  },
  stats: {
    summary: 'collections, row counts, segments, memtable, WAL and checkpoint',
    run: async (argv) => (await import('./db-commands.js')).runStats(argv),
  },
  flush: {
    summary: 'write the memtable to segment files and advance the checkpoint',
    run: async (argv) => (await import('./db-commands.js')).runFlush(argv),
  },
  compact: {
    summary: "merge a collection's segments, dropping deleted rows",
    run: async (argv) => (await import('./db-commands.js')).runCompact(argv),
  },
  collections: {
    summary: 'list the collections, or describe one',
    run: async (argv) => (await import('./db-commands.js')).runCollections(argv),
  },
  wal: {
    summary: 'inspect, verify, dump and repair a write-ahead log directory',
    run: async (argv) => (await import('./wal.js')).runWal(argv),
  },
  demo: {
    summary: 'crash demo: import in a child process, kill -9 it, recover, resume, search (--wal: the WAL-only demo)',
    run: async (argv) => (await import('./demo.js')).runDemo(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'usage: vecwal <command> [arguments] [--json]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'vecwal <command> --help' for a command's usage.",
    'Exit codes: 0 success, 1 failure (or a damaged log, where a command says so), 2 usage error.',
  ].join('\n');
}

async function version(): Promise<string> {
  // The CLI runs compiled, as dist/src/cli/main.js: package.json is three levels up.
  const path = fileURLToPath(new URL('../../../package.json', import.meta.url));
  const pkg = JSON.parse(new TextDecoder().decode(await readFile(new NodeFileSystem(), path))) as { version?: string };
  return pkg.version ?? 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === '--help' || name === '-h' || name === 'help') {
      out(usage());
      return EXIT_OK;
    }
    if (name === '--version' || name === '-v') {
      out(`vecwal ${await version()}`);
      return EXIT_OK;
    }
    if (name === undefined) throw new UsageError('missing command', '', usage());
    const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined; // not 'toString' & co.
    if (!cmd) throw new UsageError(`unknown command '${name}'`, '', usage());
    return await cmd.run(rest);
  } catch (e) {
    // A group that calls parseArgs without usageErrors() still gets exit 2 for a bad flag.
    const parseError = ((e as { code?: string }).code ?? '').startsWith('ERR_PARSE_ARGS');
    return reportError(parseError ? new UsageError((e as Error).message, name ?? '') : e, wantsJson(argv));
  }
}

// `vecwal wal dump ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// exitCode, not process.exit(): let stdout drain before the process ends.
process.exitCode = await main(process.argv.slice(2));
