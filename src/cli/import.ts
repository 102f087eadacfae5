/**
 * `vecwal import`: load rows from a JSONL, CSV or Parquet file (or synthetic rows) into a
 * collection, in batches, resumably.
 *
 * Resume: every batch is inserted with `progress: { importId, rows, position }`, which the
 * database writes in the same WAL batch as the rows (atomic). The import id is derived from the
 * collection, the absolute input path and the file size (synthetic: seed, dim, count), so
 * re-running the same command after a crash or Ctrl-C asks `db.importProgress(importId)` what is
 * already acknowledged, seeks to that byte offset (or row) and goes on. A finished import does
 * nothing. Since acknowledged WAL writes form a prefix of the log, acknowledged progress always
 * describes a prefix of the input, and the rows present are exactly the rows it counts.
 *
 * Pipeline: up to `depth` batches are in flight (their fsyncs share group commits while the
 * next batch is parsed), but batch k+1 is handed to the database only once batch k has its
 * LSN: the database can hold a write back (backpressure while a flush runs), and a later batch
 * must never overtake an earlier one in the log, nor be written when an earlier one is
 * refused. `db.importProgress(importId)` reaching batch k's row count is that signal.
 */
import { createHash } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { FileSystem } from '../fs/fs.js';
import type { Database } from '../db/database.js';
import type { MetricType } from '../db/types.js';
import { METRIC_TYPES } from '../db/types.js';
import { VecwalError } from '../errors.js';
import { EXIT_OK, UsageError, err, intFlag, out, usageErrors, wantsHelp } from './common.js';
import { DEFAULT_DATA_DIR, openDb, toJson } from './db-open.js';
import { CsvSource, JsonlSource, ParquetSource, SyntheticSource, detectFormat, syntheticSchema, type FileFormat, type ImportSource, type SourceBatch } from './import-sources.js';

export const IMPORT_USAGE = `usage: vecwal import <file> --collection <name> [options] [--json]
       vecwal import --synthetic <rows> --dim <d> --collection <name> [--seed <s>] [--text] [options] [--json]

Load rows into a collection in batches. Re-running the same command after a crash or Ctrl-C
resumes after the last acknowledged batch; re-running a finished import does nothing.

input:
  <file>                JSONL (one JSON object per line, Milvus row format), CSV (header row;
                        vectors as "[0.1,0.2,...]" or "0.1 0.2 ..." / "0.1;0.2;..."), or Parquet
  --format <f>          jsonl | csv | parquet | auto (default: by extension, else sniffed)
  --delimiter <c>       CSV field delimiter (default ",", "\\t" for .tsv)
  --synthetic <rows>    generate rows instead: id = row number (Int64), a --dim float vector,
                        and with --text a ~60-character VarChar "text"; deterministic per --seed
  --seed <s>            synthetic seed (default 42)
  --text                synthetic: add the text field

target:
  --collection <name>   the collection (required)
  --data <dir>          database directory (default ${DEFAULT_DATA_DIR})
  --config <file>       vecwal.yaml (docs/config.md)
  --create              create the collection if missing (quick-create: primary key, vector,
                        dynamic field on); needs --dim. Synthetic imports always create it.
  --dim <d>             vector dimension for --create / --synthetic
  --metric <m>          COSINE (default) | L2 | IP, for a created collection
  --id-field <name>     primary key field name of a created collection (default id)
  --vector-field <name> vector field name of a created collection (default vector)

batching:
  --batch <rows>        rows per batch, each one atomic and resumable (default 10000)
  --depth <n>           batches in flight, 1..8 (default 3)

output:
  a progress bar on stderr (a TTY); otherwise, and with --json, one JSON progress line per
  acknowledged batch on stderr. A summary on stdout (JSON with --json).`;

export type SourceSpec =
  | { kind: 'file'; path: string; format: FileFormat | 'auto'; delimiter?: string }
  | { kind: 'synthetic'; rows: number; dim: number; seed: number; text: boolean };

export interface ImportJob {
  collection: string;
  source: SourceSpec;
  batch: number;
  /** Batches in flight (default 3). */
  depth?: number;
  /** Create the collection if missing (files: quick-create; synthetic: always). */
  create?: { dim?: number; metric?: MetricType; idField?: string; vectorField?: string };
}

export interface ProgressEvent {
  importId: string;
  /** Rows of the input acknowledged (all runs). */
  rows: number;
  position: number;
  totalRows: number | null;
  totalBytes: number | null;
  rowsThisRun: number;
  elapsedMs: number;
}

export interface ImportReporter {
  start(info: { importId: string; resumed: { rows: number; position: number } | null; totalRows: number | null; totalBytes: number | null; positionUnit: 'byte' | 'row' }): void;
  ack(p: ProgressEvent): void;
  stop(): void;
}

export interface ImportSummary {
  collection: string;
  importId: string;
  format: FileFormat | 'synthetic';
  /** Rows written by this run. */
  rows: number;
  /** Rows of the input acknowledged in all (this run and earlier ones). */
  totalRows: number;
  position: number;
  resumedFrom: { rows: number; position: number } | null;
  alreadyImported: boolean;
  interrupted: boolean;
  seconds: number;
  rowsPerSec: number;
  payloadBytes: number;
  mbPerSec: number;
}

// ---------------------------------------------------------------------------------------------
// The job (also used in-process by `vecwal demo`)

/** The stable id of an import: same collection, input and size → same id → resume. */
export async function importIdOf(fs: FileSystem, collection: string, source: SourceSpec): Promise<string> {
  if (source.kind === 'synthetic') return `synthetic:${source.seed}:${source.dim}:${source.rows}${source.text ? ':text' : ''}@${collection}`;
  const abs = resolvePath(source.path);
  const st = await fs.stat(source.path);
  const size = st?.size ?? 0;
  const hash = createHash('sha256').update(`${collection}\0${abs}\0${size}`).digest('hex').slice(0, 24);
  const id = `file:${collection}:${size}:${hash}`;
  return id.length <= 256 ? id : `file:${hash}`;
}

async function ensureCollection(db: Database, job: ImportJob): Promise<void> {
  const s = job.source;
  const c = job.create;
  if (db.hasCollection(job.collection)) {
    const schema = db.describeCollection(job.collection).schema;
    const dim = schema.fields.find((f) => f.dataType === 'FloatVector')?.dim;
    const want = s.kind === 'synthetic' ? s.dim : c?.dim;
    if (want !== undefined && dim !== want) throw new VecwalError('INVALID_ARGUMENT', `collection ${job.collection} has dim ${dim}, but --dim ${want} was given`);
    return;
  }
  if (s.kind === 'synthetic') {
    await db.createCollection(syntheticSchema(job.collection, s.dim, s.text, c?.metric ?? 'COSINE'));
    return;
  }
  if (!c) throw new VecwalError('COLLECTION_NOT_FOUND', `collection not found: ${job.collection} (add --create --dim <d> to create it)`);
  if (c.dim === undefined) throw new UsageError('--create needs --dim <d> (the vector dimension)', 'import');
  await db.createCollection({
    name: job.collection,
    dimension: c.dim,
    metricType: c.metric ?? 'COSINE',
    ...(c.idField ? { primaryFieldName: c.idField } : {}),
    ...(c.vectorField ? { vectorFieldName: c.vectorField } : {}),
  });
}

async function openSource(db: Database, fs: FileSystem, job: ImportJob, resume: { rows: number; position: number } | null): Promise<ImportSource> {
  const s = job.source;
  if (s.kind === 'synthetic') return new SyntheticSource(s.rows, s.dim, s.seed, s.text, resume?.position ?? 0);
  const format = s.format === 'auto' ? await detectFormat(fs, s.path) : s.format;
  if (format === 'jsonl') return JsonlSource.open(fs, s.path, resume);
  if (format === 'parquet') return ParquetSource.open(fs, s.path, resume);
  const delimiter = s.delimiter ?? (s.path.toLowerCase().endsWith('.tsv') ? '\t' : ',');
  return CsvSource.open(fs, s.path, resume, db.describeCollection(job.collection).schema, delimiter);
}

interface Flight {
  promise: Promise<void>;
  batch: SourceBatch;
  rows: number;
  position: number;
  done: boolean;
  error: unknown;
}

/** Resolve once the flight's write has its LSN (its progress is visible), or has settled. */
async function appended(db: Database, importId: string, f: Flight): Promise<void> {
  for (let spins = 0; !f.done && db.importProgress(importId)?.rows !== f.rows; spins++) {
    await Promise.race([f.promise, new Promise((r) => (spins < 3 ? setImmediate(r) : setTimeout(r, 2)))]);
  }
}

/** Point a DATA_INVALID error of insert at the input line (or row) it came from. */
function locate(e: unknown, batch: SourceBatch, pkField: string): unknown {
  if (!(e instanceof VecwalError) || e.code !== 'DATA_INVALID') return e;
  const row = e.details.row;
  if (typeof row === 'number') {
    const msg = e.message.replace(/^row \d+: /, `${batch.whereOf(row)}: `).replace(/ of row (\d+)/, (_m, r: string) => ` of ${batch.whereOf(Number(r))}`);
    return new VecwalError('DATA_INVALID', msg, { ...e.details, cause: e });
  }
  const dup = /^primary key (.+?) already exists/.exec(e.message);
  if (dup && Array.isArray(batch.data)) {
    const i = (batch.data as Record<string, unknown>[]).findIndex((r) => String(r[pkField]) === dup[1]);
    if (i >= 0) return new VecwalError('DATA_INVALID', `${batch.whereOf(i)}: ${e.message}`, { ...e.details, cause: e });
  }
  return new VecwalError('DATA_INVALID', `in the batch from ${batch.whereOf(0)} to ${batch.whereOf(batch.count - 1)}: ${e.message}`, { ...e.details, cause: e });
}

/**
 * Run an import into an open database: resume from its recorded progress, insert the rest in
 * ordered, pipelined batches, report acknowledgements. Throws the first error in input order,
 * after every batch before it has settled (so nothing after the last good batch is written).
 */
export async function runImportJob(db: Database, fs: FileSystem, job: ImportJob, reporter: ImportReporter, signal: { interrupted: boolean } = { interrupted: false }): Promise<ImportSummary> {
  await ensureCollection(db, job);
  const importId = await importIdOf(fs, job.collection, job.source);
  const prior = db.importProgress(importId);
  const resume = prior ? { rows: prior.rows, position: prior.position } : null;
  const source = await openSource(db, fs, job, resume);
  const format = source.format;
  const summary: ImportSummary = {
    collection: job.collection, importId, format, rows: 0, totalRows: resume?.rows ?? 0, position: resume?.position ?? 0, resumedFrom: resume,
    alreadyImported: false, interrupted: false, seconds: 0, rowsPerSec: 0, payloadBytes: 0, mbPerSec: 0,
  };
  try {
    if (resume && resume.position >= source.endPosition) {
      summary.alreadyImported = true;
      return summary;
    }
    reporter.start({ importId, resumed: resume, totalRows: source.totalRows, totalBytes: source.totalBytes, positionUnit: source.positionUnit });
    const pkField = db.describeCollection(job.collection).schema.fields.find((f) => f.isPrimaryKey)!.name;
    const depth = Math.max(1, Math.min(8, job.depth ?? 3));
    const t0 = performance.now();
    const flights: Flight[] = [];
    let issuedRows = resume?.rows ?? 0;
    let firstError: unknown = null;
    let parseError: unknown = null;

    const settleOldest = async (): Promise<void> => {
      const f = flights.shift()!;
      await f.promise;
      if (f.error !== null) {
        firstError ??= locate(f.error, f.batch, pkField);
        return;
      }
      if (firstError !== null) return;
      summary.rows += f.batch.count;
      summary.totalRows = f.rows;
      summary.position = f.position;
      summary.payloadBytes += f.batch.payloadBytes;
      reporter.ack({ importId, rows: f.rows, position: f.position, totalRows: source.totalRows, totalBytes: source.totalBytes, rowsThisRun: summary.rows, elapsedMs: performance.now() - t0 });
    };

    try {
      while (firstError === null && !signal.interrupted) {
        const batch = await source.next(job.batch); // parsing overlaps the fsyncs in flight
        if (!batch) break;
        const prev = flights.at(-1);
        if (prev) await appended(db, importId, prev);
        if (prev?.error != null) break; // refused: nothing after it may be written
        const rows = issuedRows + batch.count;
        const f: Flight = { promise: Promise.resolve(), batch, rows, position: batch.position, done: false, error: null };
        // transfer: each batch's vector column is a fresh array of the source's, handed over
        // rather than copied into the memtable (sources never reuse them).
        f.promise = db.insert(job.collection, batch.data, { progress: { importId, rows, position: batch.position }, transfer: true }).then(
          () => void (f.done = true),
          (e: unknown) => void ((f.done = true), (f.error = e)),
        );
        flights.push(f);
        issuedRows = rows;
        while (flights.length >= depth) await settleOldest();
      }
    } catch (e) {
      parseError = e; // the batches before it still settle below (and an error of theirs comes first)
    }
    while (flights.length > 0) await settleOldest();
    firstError ??= parseError;
    reporter.stop();
    summary.interrupted = signal.interrupted && firstError === null;
    summary.seconds = (performance.now() - t0) / 1000;
    summary.rowsPerSec = summary.seconds > 0 ? summary.rows / summary.seconds : 0;
    summary.mbPerSec = summary.seconds > 0 ? summary.payloadBytes / 1e6 / summary.seconds : 0;
    if (firstError !== null) throw firstError;
    return summary;
  } finally {
    reporter.stop();
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Reporters

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A cli-progress bar on stderr: rows, rows/s, ETA (by rows, or by bytes for JSONL/CSV). */
export class BarReporter implements ImportReporter {
  private bar: cliProgress.SingleBar | null = null;
  private byBytes = false;
  constructor(private readonly label = 'importing') {}
  start(info: Parameters<ImportReporter['start']>[0]): void {
    this.byBytes = info.totalRows === null;
    const total = info.totalRows ?? info.totalBytes ?? 0;
    this.bar = new cliProgress.SingleBar(
      {
        format: ` ${this.label} |{bar}| {percentage}% | {rows} rows | {speed} rows/s | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 20,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    const start = info.resumed ? (this.byBytes ? info.resumed.position : info.resumed.rows) : 0;
    this.bar.start(total, start, { rows: fmtInt(info.resumed?.rows ?? 0), speed: '-' });
  }
  ack(p: ProgressEvent): void {
    const speed = p.elapsedMs > 0 ? fmtInt((p.rowsThisRun * 1000) / p.elapsedMs) : '-';
    this.bar?.update(this.byBytes ? p.position : p.rows, { rows: fmtInt(p.rows), speed });
  }
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** One JSON line per acknowledged batch on stderr: {"type":"progress",...}. */
export class JsonLinesReporter implements ImportReporter {
  start(info: Parameters<ImportReporter['start']>[0]): void {
    process.stderr.write(`${JSON.stringify({ type: 'start', ...info })}\n`);
  }
  ack(p: ProgressEvent): void {
    const rowsPerSec = p.elapsedMs > 0 ? Math.round((p.rowsThisRun * 1000) / p.elapsedMs) : 0;
    process.stderr.write(`${JSON.stringify({ type: 'progress', ...p, elapsedMs: Math.round(p.elapsedMs), rowsPerSec })}\n`);
  }
  stop(): void {}
}

export const silentReporter: ImportReporter = { start() {}, ack() {}, stop() {} };

// ---------------------------------------------------------------------------------------------
// The command

function metricFlag(v: string | undefined): MetricType | undefined {
  if (v === undefined) return undefined;
  const m = v.toUpperCase();
  if (!(METRIC_TYPES as readonly string[]).includes(m)) throw new UsageError(`--metric must be one of ${METRIC_TYPES.join(', ')}, got '${v}'`, 'import');
  return m as MetricType;
}

export function summaryText(s: ImportSummary): string {
  if (s.alreadyImported) return `already imported: ${fmtInt(s.totalRows)} rows into ${s.collection} (import ${s.importId}); nothing to do`;
  const head = s.interrupted ? 'interrupted' : 'imported';
  const mb = s.payloadBytes / 1e6;
  const lines = [
    `${head} ${fmtInt(s.rows)} rows into ${s.collection} in ${s.seconds.toFixed(2)} s: ${fmtInt(s.rowsPerSec)} rows/s, ${s.mbPerSec.toFixed(1)} MB/s (${mb.toFixed(1)} MB of ${s.format === 'synthetic' ? 'payload' : 'input'})`,
    `acknowledged: ${fmtInt(s.totalRows)} rows of the input in all (import ${s.importId})`,
  ];
  if (s.interrupted) lines.push('run the same command again to resume');
  return lines.join('\n');
}

export async function runImport(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    out(IMPORT_USAGE);
    return EXIT_OK;
  }
  const { values, positionals } = usageErrors('import', () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        collection: { type: 'string' },
        data: { type: 'string', default: DEFAULT_DATA_DIR },
        config: { type: 'string' },
        batch: { type: 'string', default: '10000' },
        depth: { type: 'string', default: '3' },
        format: { type: 'string', default: 'auto' },
        delimiter: { type: 'string' },
        create: { type: 'boolean', default: false },
        dim: { type: 'string' },
        metric: { type: 'string' },
        'id-field': { type: 'string' },
        'vector-field': { type: 'string' },
        synthetic: { type: 'string' },
        seed: { type: 'string', default: '42' },
        text: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    }));
  const json = values.json ?? false;
  if (!values.collection) throw new UsageError('missing --collection <name>', 'import');
  const batch = intFlag(values.batch, 'batch', 1, 'import')!;
  const depth = intFlag(values.depth, 'depth', 1, 'import')!;
  if (depth > 8) throw new UsageError(`--depth must be at most 8, got ${depth}`, 'import');
  const dim = intFlag(values.dim, 'dim', 1, 'import');
  const metric = metricFlag(values.metric);
  let source: SourceSpec;
  if (values.synthetic !== undefined) {
    if (positionals.length > 0) throw new UsageError('give either <file> or --synthetic, not both', 'import');
    if (dim === undefined) throw new UsageError('--synthetic needs --dim <d>', 'import');
    const seed = intFlag(values.seed, 'seed', 0, 'import')!;
    source = { kind: 'synthetic', rows: intFlag(values.synthetic, 'synthetic', 1, 'import')!, dim, seed, text: values.text ?? false };
  } else {
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing <file> (or --synthetic <rows>)' : `expected one <file>, got ${positionals.length}`, 'import');
    const format = values.format!;
    if (!['jsonl', 'csv', 'parquet', 'auto'].includes(format)) throw new UsageError(`--format must be jsonl, csv, parquet or auto, got '${format}'`, 'import');
    let delimiter = values.delimiter;
    if (delimiter === '\\t' || delimiter === 'tab') delimiter = '\t';
    if (delimiter !== undefined && delimiter.length !== 1) throw new UsageError(`--delimiter must be one character, got '${delimiter}'`, 'import');
    source = { kind: 'file', path: positionals[0]!, format: format as FileFormat | 'auto', ...(delimiter ? { delimiter } : {}) };
  }
  const create = values.create || source.kind === 'synthetic'
    ? { ...(dim !== undefined ? { dim } : {}), ...(metric ? { metric } : {}), ...(values['id-field'] ? { idField: values['id-field'] } : {}), ...(values['vector-field'] ? { vectorField: values['vector-field'] } : {}) }
    : undefined;
  const job: ImportJob = { collection: values.collection, source, batch, depth, ...(create ? { create } : {}) };

  const { db, fs } = await openDb(values.data!, { ...(values.config ? { config: values.config } : {}) });
  const signal = { interrupted: false };
  const onSigint = (): void => {
    if (signal.interrupted) process.exit(130); // a second Ctrl-C: leave now (the WAL keeps what was acknowledged)
    signal.interrupted = true;
    err('interrupted: finishing the batches in flight (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  const inner: ImportReporter = json || !process.stderr.isTTY ? new JsonLinesReporter() : new BarReporter();
  const reporter: ImportReporter = {
    start(info) {
      if (info.resumed && !json) out(`resuming at row ${fmtInt(info.resumed.rows)}${info.positionUnit === 'byte' ? ` (byte ${info.resumed.position})` : ''}, import ${info.importId}`);
      inner.start(info);
    },
    ack: (p) => inner.ack(p),
    stop: () => inner.stop(),
  };
  let summary: ImportSummary;
  try {
    summary = await runImportJob(db, fs, job, reporter, signal);
  } finally {
    process.off('SIGINT', onSigint);
    await db.close();
  }
  if (json) process.stdout.write(`${toJson(summary)}\n`);
  else out(summaryText(summary));
  return summary.interrupted ? 130 : EXIT_OK;
}
