/**
 * `vecwal search | query | stats | flush | compact | collections`: the database from the shell.
 * Each opens the database in `--data` (default ./data; it must exist), does one thing, closes
 * it. Human-readable tables by default, one JSON object with `--json` (Int64 values, ids
 * included, as decimal strings, as the Milvus REST API renders them). Documented in docs/cli.md.
 */
import { parseArgs } from 'node:util';
import type { Database } from '../db/database.js';
import type { CollectionSchema } from '../db/types.js';
import { invalidArgument } from '../errors.js';
import { Rng } from '../util/rng.js';
import { EXIT_OK, UsageError, formatTable, intFlag, out, usageErrors, wantsHelp } from './common.js';
import { DEFAULT_DATA_DIR, openDb, toJson } from './db-open.js';

const COMMON_FLAGS = `  --data <dir>          database directory (default ${DEFAULT_DATA_DIR})
  --config <file>       vecwal.yaml (docs/config.md)
  --json                one JSON object on stdout`;

export const USAGES = {
  search: `usage: vecwal search --collection <name> (--vector "<floats>" | --random [--seed <s>]) [options] [--json]

Exact top-k search. Distances: L2 squared distance (smaller is closer); IP and COSINE similarity
(larger is closer).
  --vector "<floats>"   the query: a JSON array "[0.1, 0.2, ...]" or numbers separated by
                        spaces, commas or semicolons
  --random              a random query vector (uniform in [-1, 1)); --seed makes it repeatable
  --limit <k>           results (default 10)
  --filter <expr>       Milvus boolean expression, e.g. 'id < 100 and text like "doc%"'
  --output <f1,f2>      fields to return besides the primary key and distance ('*' for all)
${COMMON_FLAGS}`,
  query: `usage: vecwal query --collection <name> [--filter <expr>] [--limit <n>] [--output <f1,f2>] [--json]

Rows matching a Milvus boolean expression (all rows up to --limit without one).
  --filter <expr>       e.g. 'id in [1, 2, 3]' or 'year >= 2000'
  --limit <n>           at most this many rows (default 100)
  --output <f1,f2>      fields to return besides the primary key ('*' for all)
${COMMON_FLAGS}`,
  stats: `usage: vecwal stats [--collection <name>] [--json]

Collections and row counts, sealed segments, rows in the memtable, memtable bytes, WAL segments
and bytes, the checkpoint LSN and what opening replayed.
${COMMON_FLAGS}`,
  flush: `usage: vecwal flush [--json]

Write the memtable to segment files and advance the checkpoint; WAL segments at or below it are
removed. Opening replays less afterwards.
${COMMON_FLAGS}`,
  compact: `usage: vecwal compact --collection <name> [--json]

Flush, then merge the collection's sealed segments into one, dropping deleted and superseded rows.
${COMMON_FLAGS}`,
  collections: `usage: vecwal collections [--collection <name>] [--json]

List the collections (rows, dimension, metric, fields), or describe one: its schema field by field.
${COMMON_FLAGS}`,
} as const;

type Command = keyof typeof USAGES;

type Flags = Record<string, string | boolean | undefined>;

function parse(command: Command, argv: string[], extra: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>): { values: Flags } {
  const { values } = usageErrors(command, () =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        data: { type: 'string', default: DEFAULT_DATA_DIR },
        config: { type: 'string' },
        json: { type: 'boolean', default: false },
        collection: { type: 'string' },
        ...extra,
      },
    }));
  return { values: values as Flags };
}

async function withDb<T>(values: { data?: string | boolean; config?: string | boolean }, fn: (db: Database) => Promise<T>): Promise<T> {
  const { db } = await openDb(String(values.data), { mustExist: true, ...(typeof values.config === 'string' ? { config: values.config } : {}) });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function needCollection(command: Command, v: string | boolean | undefined): string {
  if (typeof v !== 'string' || v === '') throw new UsageError('missing --collection <name>', command);
  return v;
}

function outputFields(v: string | boolean | undefined): string[] | undefined {
  if (typeof v !== 'string') return undefined;
  const list = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return list.length > 0 ? list : undefined;
}

/** A query vector from the command line: JSON array, or numbers split by spaces, commas or semicolons. */
export function parseVectorArg(text: string): number[] {
  const t = text.trim();
  let v: unknown;
  if (t.startsWith('[')) {
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new UsageError(`--vector is not a valid JSON array: ${(e as Error).message}`, 'search');
    }
  } else v = t.split(/[\s,;]+/).filter((s) => s !== '').map(Number);
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new UsageError('--vector must hold finite numbers, e.g. "[0.1, 0.2, 0.3]"', 'search');
  }
  return v as number[];
}

function schemaOf(db: Database, name: string): CollectionSchema {
  return db.describeCollection(name).schema;
}

function dimOf(schema: CollectionSchema): number {
  return schema.fields.find((f) => f.dataType === 'FloatVector')!.dim!;
}

/** One table cell: vectors shortened, long strings cut, objects as JSON. */
function cell(v: unknown): string | number {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) ? v : Number(v.toPrecision(6));
  if (v instanceof Float32Array || (Array.isArray(v) && v.length > 8 && typeof v[0] === 'number')) {
    const a = Array.from(v as ArrayLike<number>);
    return `[${a.slice(0, 3).map((x) => x.toFixed(3)).join(', ')}, … ${a.length} dims]`;
  }
  const s = (typeof v === 'string' ? v : toJson(v)).replace(/\r?\n/g, '⏎');
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function rowsTable(rows: Record<string, unknown>[], lead: string[] = []): string {
  const keys: string[] = [...lead];
  for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  return formatTable(keys, rows.map((r) => keys.map((k) => cell(r[k]))));
}

// ---------------------------------------------------------------------------------------------

export async function runSearch(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help('search');
  const { values } = parse('search', argv, {
    vector: { type: 'string' }, random: { type: 'boolean', default: false }, seed: { type: 'string' },
    limit: { type: 'string', default: '10' }, filter: { type: 'string' }, output: { type: 'string' },
  });
  const collection = needCollection('search', values.collection);
  const limit = intFlag(values.limit as string, 'limit', 1, 'search')!;
  if ((values.vector === undefined) === !values.random) throw new UsageError('give the query as --vector "<floats>" or --random', 'search');
  const vector = typeof values.vector === 'string' ? parseVectorArg(values.vector) : null;
  const seed = intFlag(values.seed as string | undefined, 'seed', 0, 'search');
  return withDb(values, async (db) => {
    const dim = dimOf(schemaOf(db, collection));
    let query: number[];
    if (vector) {
      if (vector.length !== dim) throw invalidArgument(`--vector has ${vector.length} numbers, but collection ${collection} has dim ${dim}`);
      query = vector;
    } else {
      const rng = new Rng(seed ?? Math.floor(Math.random() * 2 ** 32));
      query = Array.from({ length: dim }, () => rng.next() * 2 - 1);
    }
    const filter = typeof values.filter === 'string' ? values.filter : undefined;
    const fields = outputFields(values.output);
    const t0 = performance.now();
    const [hits] = await db.read.search(collection, { data: query, limit, ...(filter ? { filter } : {}), ...(fields ? { outputFields: fields } : {}) });
    const ms = performance.now() - t0;
    const metric = schemaOf(db, collection).metricType;
    if (values.json) {
      out(toJson({ collection, metric, limit, filter: filter ?? null, latencyMs: round(ms), results: hits ?? [] }));
    } else {
      const pk = schemaOf(db, collection).fields.find((f) => f.isPrimaryKey)!.name;
      const rows = (hits ?? []).map((h, i) => ({ rank: i + 1, ...h }));
      out(rows.length > 0 ? rowsTable(rows, ['rank', pk, 'distance']) : 'no results');
      out(`\n${rows.length} result${rows.length === 1 ? '' : 's'} in ${ms.toFixed(1)} ms (${metric}: ${metric === 'L2' ? 'smaller' : 'larger'} distance is closer)`);
    }
    return EXIT_OK;
  });
}

export async function runQuery(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help('query');
  const { values } = parse('query', argv, { filter: { type: 'string' }, limit: { type: 'string' }, output: { type: 'string' } });
  const collection = needCollection('query', values.collection);
  const limit = intFlag(values.limit as string | undefined, 'limit', 1, 'query') ?? 100;
  const filter = typeof values.filter === 'string' ? values.filter : '';
  const fields = outputFields(values.output);
  return withDb(values, async (db) => {
    const t0 = performance.now();
    const rows = await db.read.query(collection, { filter, limit, ...(fields ? { outputFields: fields } : {}) });
    const ms = performance.now() - t0;
    if (values.json) out(toJson({ collection, filter, limit, count: rows.length, latencyMs: round(ms), rows }));
    else {
      const pk = schemaOf(db, collection).fields.find((f) => f.isPrimaryKey)!.name;
      out(rows.length > 0 ? rowsTable(rows, [pk]) : 'no rows');
      out(`\n${rows.length} row${rows.length === 1 ? '' : 's'} in ${ms.toFixed(1)} ms${rows.length === limit ? ` (the --limit; there may be more)` : ''}`);
    }
    return EXIT_OK;
  });
}

export async function runStats(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help('stats');
  const { values } = parse('stats', argv, {});
  return withDb(values, async (db) => {
    const names = typeof values.collection === 'string' ? [values.collection] : db.listCollections();
    const s = db.stats();
    const collections = names.map((name) => {
      const c = db.collectionStats(name);
      const schema = schemaOf(db, name);
      return { name, rowCount: c.rowCount, sealedSegments: c.segments, memtableRows: c.growingRows, dim: dimOf(schema), metric: schema.metricType };
    });
    const r = db.report;
    const result = {
      dir: db.dir,
      collections,
      memtableBytes: s.memtableBytes,
      checkpointLsn: s.checkpointLsn,
      lastLsn: s.lastLsn,
      wal: { segments: s.wal.segments, totalBytes: s.wal.totalBytes },
      open: { walOutcome: r.wal.outcome, replayedRecords: r.replayedRecords, durationMs: round(r.durationMs) },
    };
    if (values.json) out(toJson(result));
    else {
      out(`database ${db.dir}: ${s.collections} collection${s.collections === 1 ? '' : 's'}`);
      out();
      if (collections.length > 0) {
        out(formatTable(['collection', 'rows', 'sealed segments', 'memtable rows', 'dim', 'metric'], collections.map((c) => [c.name, c.rowCount, c.sealedSegments, c.memtableRows, c.dim, c.metric])));
        out();
      }
      out(formatTable(['', ''], [
        ['memtable', `${mb(s.memtableBytes)} (not yet in segment files; replayed from the WAL on open)`],
        ['WAL', `${s.wal.segments} segment file${s.wal.segments === 1 ? '' : 's'}, ${mb(s.wal.totalBytes)}`],
        ['checkpoint LSN', `${s.checkpointLsn} (last LSN ${s.lastLsn})`],
        ['open', `WAL ${r.wal.outcome}, ${r.replayedRecords} records replayed in ${r.durationMs.toFixed(0)} ms`],
      ]).split('\n').slice(1).join('\n'));
    }
    return EXIT_OK;
  });
}

export async function runFlush(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help('flush');
  const { values } = parse('flush', argv, {});
  return withDb(values, async (db) => {
    const t0 = performance.now();
    const r = await db.flush();
    const ms = performance.now() - t0;
    if (values.json) out(toJson({ ...r, durationMs: round(ms), wal: { segments: db.stats().wal.segments, totalBytes: db.stats().wal.totalBytes } }));
    else out(r.segments === 0 ? `nothing to flush (checkpoint LSN ${r.checkpointLsn})` : `flushed ${r.segments} segment${r.segments === 1 ? '' : 's'} in ${ms.toFixed(0)} ms; checkpoint LSN ${r.checkpointLsn}; WAL now ${mb(db.stats().wal.totalBytes)}`);
    return EXIT_OK;
  });
}

export async function runCompact(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help('compact');
  const { values } = parse('compact', argv, {});
  const collection = needCollection('compact', values.collection);
  return withDb(values, async (db) => {
    db.describeCollection(collection); // COLLECTION_NOT_FOUND before flushing anything
    const t0 = performance.now();
    await db.flush();
    const r = await db.compact(collection);
    const ms = performance.now() - t0;
    if (values.json) out(toJson({ collection, segmentsBefore: r.before, segmentsAfter: r.after, rowsDropped: r.rowsDropped, durationMs: round(ms) }));
    else out(`compacted ${collection}: ${r.before} sealed segment${r.before === 1 ? '' : 's'} -> ${r.after}, ${r.rowsDropped} deleted row${r.rowsDropped === 1 ? '' : 's'} dropped, in ${ms.toFixed(0)} ms`);
    return EXIT_OK;
  });
}

export async function runCollections(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) return help('collections');
  const { values } = parse('collections', argv, {});
  return withDb(values, async (db) => {
    if (typeof values.collection === 'string') {
      const d = db.describeCollection(values.collection);
      const st = db.collectionStats(values.collection);
      if (values.json) out(toJson({ ...d, createdAt: new Date(d.createdAtMs).toISOString(), rowCount: st.rowCount }));
      else {
        out(`collection ${d.name} (id ${d.id}): ${st.rowCount} rows, metric ${d.schema.metricType}, dynamic field ${d.schema.enableDynamicField ? 'on' : 'off'}, created ${new Date(d.createdAtMs).toISOString()}`);
        out();
        out(formatTable(['field', 'type', 'params', 'flags'], d.schema.fields.map((f) => [f.name, f.dataType === 'Array' ? `Array<${f.elementType}>` : f.dataType, fieldParams(f), fieldFlags(f)])));
      }
      return EXIT_OK;
    }
    const list = db.listCollections().map((name) => {
      const schema = schemaOf(db, name);
      return { name, rowCount: db.collectionStats(name).rowCount, dim: dimOf(schema), metric: schema.metricType, fields: schema.fields.map((f) => f.name), dynamicField: schema.enableDynamicField };
    });
    if (values.json) out(toJson({ collections: list }));
    else if (list.length === 0) out('no collections');
    else out(formatTable(['collection', 'rows', 'dim', 'metric', 'fields'], list.map((c) => [c.name, c.rowCount, c.dim, c.metric, c.fields.join(', ') + (c.dynamicField ? ' (+ dynamic)' : '')])));
    return EXIT_OK;
  });
}

function fieldParams(f: CollectionSchema['fields'][number]): string {
  const p: string[] = [];
  if (f.dim !== undefined) p.push(`dim ${f.dim}`);
  if (f.maxLength !== undefined) p.push(`maxLength ${f.maxLength}`);
  if (f.maxCapacity !== undefined) p.push(`maxCapacity ${f.maxCapacity}`);
  if (f.defaultValue !== undefined) p.push(`default ${toJson(f.defaultValue)}`);
  return p.join(', ');
}

function fieldFlags(f: CollectionSchema['fields'][number]): string {
  return [f.isPrimaryKey ? 'primary key' : '', f.autoID ? 'autoID' : '', f.nullable ? 'nullable' : ''].filter((s) => s !== '').join(', ');
}

function help(command: Command): number {
  out(USAGES[command]);
  return EXIT_OK;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : bytes >= 1e3 ? `${(bytes / 1e3).toFixed(1)} kB` : `${bytes} B`;
}
