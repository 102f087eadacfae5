/**
 * Inputs of `vecwal import`: each yields batches of rows (or columns) with the position to
 * record with them, so that an interrupted import resumes exactly after the last batch the
 * database acknowledged.
 *
 *   jsonl      one JSON object per line (Milvus row format). Position: byte offset.
 *   csv        header row, then one record per row (RFC 4180 quoting; quoted fields may span
 *              lines). Position: byte offset. Fields are parsed by csv-parse, one call per
 *              batch; record boundaries (and so byte offsets) are found here, by quote parity.
 *   parquet    read with hyparquet (pure JS), one row group at a time. Position: row index.
 *   synthetic  deterministic rows from a seeded PRNG, generated as columns. Position: row index.
 *
 * Line numbers in errors are exact for an import that starts at the beginning of its file. A
 * resumed import counts from the resume point as if every earlier line held one row (blank
 * lines and multi-line CSV records before it shift them); the byte offset is always exact.
 */
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import type { FileHandle, FileSystem } from '../fs/fs.js';
import { readFully } from '../fs/io.js';
import { VecwalError, ioError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { CollectionSchema, FieldSchema } from '../db/types.js';
import { LineReader, isBlank, type Line } from './line-reader.js';

export type FileFormat = 'jsonl' | 'csv' | 'parquet';

export interface SourceBatch {
  /** Rows (objects) or columns ({ field: values }), as Database.insert takes them. */
  data: readonly object[] | Record<string, unknown>;
  count: number;
  /** Where the input resumes after this batch (byte offset or row index, see positionUnit). */
  position: number;
  /** Input bytes this batch stands for (file bytes consumed; synthetic: raw payload bytes). */
  payloadBytes: number;
  /** Where row i of the batch came from, for error messages: "line 12" or "row 12". */
  whereOf(row: number): string;
}

export interface ImportSource {
  readonly format: FileFormat | 'synthetic';
  /** Rows in the whole input when known in advance (parquet, synthetic). */
  readonly totalRows: number | null;
  /** Size of the input file (jsonl, csv). */
  readonly totalBytes: number | null;
  readonly positionUnit: 'byte' | 'row';
  /** Position of a complete import: the file size, or the number of rows. */
  readonly endPosition: number;
  next(maxRows: number): Promise<SourceBatch | null>;
  close(): Promise<void>;
}

function dataError(where: string, message: string, details: Record<string, unknown> = {}): VecwalError {
  return new VecwalError('DATA_INVALID', `${where}: ${message}`, details);
}

// ---------------------------------------------------------------------------------------------
// Format detection

/** The format named by a file's extension, else sniffed from its first bytes. */
export async function detectFormat(fs: FileSystem, path: string): Promise<FileFormat> {
  const lower = path.toLowerCase();
  if (lower.endsWith('.parquet') || lower.endsWith('.pq')) return 'parquet';
  if (lower.endsWith('.csv') || lower.endsWith('.tsv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  const h = await fs.open(path, 'r');
  try {
    const head = new Uint8Array(64);
    const n = await readFully(h, head, 0, head.length, 0);
    if (n >= 4 && head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31) return 'parquet'; // "PAR1"
    const text = new TextDecoder().decode(head.subarray(0, n)).replace(/^\uFEFF/, '').trimStart();
    return text.startsWith('{') ? 'jsonl' : 'csv';
  } finally {
    await h.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Shared: a line source with one line of push-back

abstract class LineSource {
  protected pending: Line | null = null;
  protected constructor(
    protected readonly handle: FileHandle,
    protected readonly reader: LineReader,
    readonly totalBytes: number,
    protected position: number,
  ) {}

  get endPosition(): number {
    return this.totalBytes;
  }

  protected async line(): Promise<Line | null> {
    if (this.pending) {
      const l = this.pending;
      this.pending = null;
      return l;
    }
    const l = this.reader.take();
    return l === undefined ? this.reader.next() : l;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// JSONL

export class JsonlSource extends LineSource implements ImportSource {
  readonly format = 'jsonl' as const;
  readonly totalRows = null;
  readonly positionUnit = 'byte' as const;

  static async open(fs: FileSystem, path: string, resume: { rows: number; position: number } | null): Promise<JsonlSource> {
    const h = await openInput(fs, path);
    const size = await h.size();
    const start = resume?.position ?? 0;
    return new JsonlSource(h, new LineReader(h, start, (resume?.rows ?? 0) + 1), size, start);
  }

  async next(maxRows: number): Promise<SourceBatch | null> {
    const rows: object[] = [];
    const lines: number[] = [];
    const from = this.position;
    for (;;) {
      const line = await this.line();
      if (line === null) break;
      let text = line.text;
      if (line.start === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (isBlank(text)) {
        this.position = line.end; // blank lines go with the batch before them
        continue;
      }
      if (rows.length === maxRows) {
        this.pending = line;
        break;
      }
      rows.push(parseJsonRow(text, line));
      lines.push(line.lineNo);
      this.position = line.end;
    }
    if (rows.length === 0) return null;
    return { data: rows, count: rows.length, position: this.position, payloadBytes: this.position - from, whereOf: (i) => `line ${lines[i] ?? '?'}` };
  }
}

function parseJsonRow(text: string, line: Line): object {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw dataError(`line ${line.lineNo}`, `invalid JSON (${(e as Error).message})`, { line: line.lineNo, offset: line.start });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw dataError(`line ${line.lineNo}`, `expected a JSON object (one row), got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`, { line: line.lineNo, offset: line.start });
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// CSV

/** A record longer than this is refused: most likely an unterminated quote swallowing the file. */
const MAX_RECORD_BYTES = 64 << 20;

interface CsvRecord {
  text: string;
  lineNo: number;
  start: number;
}

export class CsvSource extends LineSource implements ImportSource {
  readonly format = 'csv' as const;
  readonly totalRows = null;
  readonly positionUnit = 'byte' as const;
  private readonly header: string[] = [];
  private convert: ((fields: (string | null)[], where: string) => Record<string, unknown>) | null = null;
  private readonly delimiter: string;

  private constructor(handle: FileHandle, reader: LineReader, size: number, position: number, delimiter: string) {
    super(handle, reader, size, position);
    this.delimiter = delimiter;
  }

  static async open(fs: FileSystem, path: string, resume: { rows: number; position: number } | null, schema: CollectionSchema, delimiter: string): Promise<CsvSource> {
    const h = await openInput(fs, path);
    try {
      const size = await h.size();
      // The header is always read from the start of the file (it is short); the rows from the
      // resume point.
      const headReader = new LineReader(h, 0, 1, 64 * 1024);
      const headSource = new CsvSource(h, headReader, size, 0, delimiter);
      const head = await headSource.record();
      if (!head) throw dataError('line 1', 'the file is empty: a CSV import needs a header row naming the fields');
      const names = headSource.parse([head])[0]!.map((s) => (s ?? '').trim());
      checkHeader(names, schema);
      const start = resume?.position ?? headSource.position;
      const firstLine = resume ? resume.rows + headReader.lineNo : headReader.lineNo;
      const src = new CsvSource(h, new LineReader(h, start, firstLine), size, start, delimiter);
      src.header.push(...names);
      src.convert = rowConverter(names, schema);
      return src;
    } catch (e) {
      await h.close();
      throw e;
    }
  }

  /** The next non-blank record: one line, or several while a quoted field is open. */
  private async record(): Promise<CsvRecord | null> {
    for (;;) {
      const line = await this.line();
      if (line === null) return null;
      let text = line.text;
      if (line.start === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (isBlank(text)) {
        this.position = line.end;
        continue;
      }
      const rec: CsvRecord = { text, lineNo: line.lineNo, start: line.start };
      let open = quoteParity(text);
      let end = line.end;
      while (open) {
        const more = await this.line();
        if (more === null) throw dataError(`line ${rec.lineNo}`, 'a quoted field is not closed before the end of the file', { line: rec.lineNo, offset: rec.start });
        rec.text += `\n${more.text}`;
        end = more.end;
        if (rec.text.length > MAX_RECORD_BYTES) throw dataError(`line ${rec.lineNo}`, `record longer than ${MAX_RECORD_BYTES} bytes: is a quote left open?`, { line: rec.lineNo, offset: rec.start });
        open = quoteParity(more.text) ? !open : open;
      }
      this.position = end;
      return rec;
    }
  }

  /** Parse records with csv-parse (one call); on an error, find and name the record's line. */
  private parse(records: CsvRecord[]): (string | null)[][] {
    const opts = {
      delimiter: this.delimiter,
      record_delimiter: '\n',
      relax_column_count: true,
      // No `cast` callback: it makes csv-parse build an info object per field (3x slower).
      // Empty cells are interpreted per field type in rowConverter.
    };
    const text = records.map((r) => r.text).join('\n');
    try {
      const out = parseCsv(text, opts) as unknown as (string | null)[][];
      if (out.length === records.length) return out;
    } catch {
      // fall through: locate the record
    }
    for (const r of records) {
      try {
        const one = parseCsv(r.text, opts) as unknown as (string | null)[][];
        if (one.length !== 1) throw new Error(`holds ${one.length} records`);
      } catch (e) {
        const why = (e as Error).message.replace(/\s+(?:on|at) line \d+/g, '');
        throw dataError(`line ${r.lineNo}`, `invalid CSV: ${why}`, { line: r.lineNo, offset: r.start });
      }
    }
    throw new Error('vecwal invariant violated: a CSV batch failed but none of its records does');
  }

  async next(maxRows: number): Promise<SourceBatch | null> {
    const from = this.position;
    const records: CsvRecord[] = [];
    let position = this.position;
    while (records.length < maxRows) {
      const r = await this.record();
      if (!r) break;
      records.push(r);
      position = this.position;
    }
    // Blank lines after the last record belong to this batch (so a finished import ends at EOF).
    for (;;) {
      const line = await this.line();
      if (line === null) break;
      if (!isBlank(line.text)) {
        this.pending = line;
        break;
      }
      position = line.end;
    }
    this.position = position;
    if (records.length === 0) return null;
    const fields = this.parse(records);
    const rows = fields.map((f, i) => {
      const where = `line ${records[i]!.lineNo}`;
      if (f.length !== this.header.length) throw dataError(where, `${f.length} fields, but the header names ${this.header.length}`, { line: records[i]!.lineNo });
      return this.convert!(f, where);
    });
    return { data: rows, count: rows.length, position, payloadBytes: position - from, whereOf: (i) => `line ${records[i]?.lineNo ?? '?'}` };
  }
}

/** True when the text holds an odd number of '"' (a quoted field opens or closes in it). */
function quoteParity(text: string): boolean {
  let odd = false;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) odd = !odd;
  return odd;
}

function checkHeader(names: string[], schema: CollectionSchema): void {
  const seen = new Set<string>();
  const fields = new Set(schema.fields.map((f) => f.name));
  for (const [i, n] of names.entries()) {
    if (n === '') throw dataError('line 1', `header column ${i + 1} has no name`);
    if (seen.has(n)) throw dataError('line 1', `header names column "${n}" twice`);
    seen.add(n);
    if (!fields.has(n) && n !== '$meta' && !schema.enableDynamicField) {
      throw dataError('line 1', `column "${n}" is not a field of collection ${schema.name}, whose dynamic field is off (fields: ${[...fields].join(', ')})`);
    }
  }
}

const INT_RE = /^[+-]?\d+$/;
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Dynamic (schemaless) columns: numbers without leading zeros ("01234" stays a string). */
const PLAIN_NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

type Cell = (v: string, where: string) => unknown;

/** CSV text to the value the schema wants. Bad text passes through, for insert to refuse with its rule. */
function cellConverter(f: FieldSchema): Cell {
  switch (f.dataType) {
    case 'Bool':
      return (v) => {
        const l = v.trim().toLowerCase();
        return l === 'true' || l === '1' ? true : l === 'false' || l === '0' ? false : v;
      };
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return (v) => (INT_RE.test(v.trim()) ? Number(v) : v);
    case 'Int64':
      return (v) => v.trim(); // decimal strings are exact for Int64
    case 'Float':
    case 'Double':
      return (v) => (NUMBER_RE.test(v.trim()) ? Number(v) : v);
    case 'VarChar':
      return (v) => v;
    case 'JSON':
    case 'Array':
      return (v, where) => parseJsonCell(v, f.name, where);
    case 'FloatVector':
      return (v, where) => parseVectorCell(v, f.name, where);
  }
}

function parseJsonCell(v: string, field: string, where: string): unknown {
  try {
    return JSON.parse(v);
  } catch (e) {
    throw dataError(where, `field "${field}": invalid JSON (${(e as Error).message})`, { field });
  }
}

/** A vector cell: a JSON array "[0.1, 0.2]", or floats separated by spaces or semicolons. */
export function parseVectorCell(v: string, field: string, where: string): unknown {
  const t = v.trim();
  if (t.startsWith('[')) return parseJsonCell(t, field, where);
  const parts = t.split(/[\s;]+/);
  const out = new Array<number>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!NUMBER_RE.test(p)) throw dataError(where, `field "${field}": element ${i} is "${p.slice(0, 40)}", not a number (a vector is a JSON array, or numbers separated by spaces or semicolons)`, { field });
    out[i] = Number(p);
  }
  return out;
}

function dynamicCell(v: string): unknown {
  if (PLAIN_NUMBER_RE.test(v)) {
    const n = Number(v);
    if (Number.isFinite(n) && (!Number.isInteger(n) || Number.isSafeInteger(n))) return n;
  }
  if (v === 'true') return true;
  if (v === 'false') return false;
  return v;
}

function rowConverter(names: string[], schema: CollectionSchema): (fields: (string | null)[], where: string) => Record<string, unknown> {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const cells: { name: string; meta: boolean; conv: Cell }[] = names.map((n) => {
    const f = byName.get(n);
    if (f) return { name: n, meta: false, conv: cellConverter(f) };
    if (n === '$meta') return { name: n, meta: true, conv: (v: string, where: string) => parseJsonCell(v, n, where) };
    return { name: n, meta: false, conv: dynamicCell };
  });
  // An empty cell is the empty string for a VarChar field that cannot be null; otherwise it is
  // "no value": null for a nullable field, the default when there is one, else an error.
  const emptyIsString = names.map((n) => {
    const f = byName.get(n);
    return f !== undefined && f.dataType === 'VarChar' && !f.nullable && f.defaultValue === undefined;
  });
  return (fields, where) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < cells.length; i++) {
      const v = fields[i];
      if (v === null || v === undefined) continue;
      const c = cells[i]!;
      if (v === '') {
        if (emptyIsString[i]) row[c.name] = '';
        continue;
      }
      const value = c.conv(v, where);
      if (c.meta) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw dataError(where, 'column "$meta" must hold a JSON object');
        for (const [k, x] of Object.entries(value)) if (!Object.hasOwn(row, k)) row[k] = x;
      } else row[c.name] = value;
    }
    return row;
  };
}

// ---------------------------------------------------------------------------------------------
// Parquet (hyparquet, pure JS; imported on first use)

type Hyparquet = typeof import('hyparquet/src/index.js');

export class ParquetSource implements ImportSource {
  readonly format = 'parquet' as const;
  readonly totalBytes = null;
  readonly positionUnit = 'row' as const;
  private rows: object[] = [];
  /** Row index of rows[0]. */
  private rowsStart = 0;
  private group = 0;

  private constructor(
    private readonly hp: Hyparquet,
    private readonly handle: FileHandle,
    private readonly file: { byteLength: number; slice(start: number, end?: number): Promise<ArrayBuffer> },
    private readonly metadata: Awaited<ReturnType<Hyparquet['parquetMetadataAsync']>>,
    private readonly groups: { start: number; end: number }[],
    readonly totalRows: number,
    private position: number,
    private readonly path: string,
  ) {}

  get endPosition(): number {
    return this.totalRows;
  }

  static async open(fs: FileSystem, path: string, resume: { rows: number; position: number } | null): Promise<ParquetSource> {
    const hp = await import('hyparquet/src/index.js');
    const h = await openInput(fs, path);
    try {
      const byteLength = await h.size();
      const file = {
        byteLength,
        async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
          const buf = new Uint8Array(Math.max(0, end - start));
          const n = await readFully(h, buf, 0, buf.length, start);
          if (n !== buf.length) throw ioError('read', path, Object.assign(new Error(`short read at ${start}`), { code: 'EIO' }));
          return buf.buffer;
        },
      };
      let metadata;
      try {
        metadata = await hp.parquetMetadataAsync(file);
      } catch (e) {
        throw new VecwalError('DATA_INVALID', `${path}: not a readable Parquet file (${(e as Error).message})`, { file: path });
      }
      const groups: { start: number; end: number }[] = [];
      let at = 0;
      for (const g of metadata.row_groups) {
        const n = Number(g.num_rows);
        groups.push({ start: at, end: at + n });
        at += n;
      }
      return new ParquetSource(hp, h, file, metadata, groups, at, resume?.position ?? 0, path);
    } catch (e) {
      await h.close();
      throw e;
    }
  }

  async next(maxRows: number): Promise<SourceBatch | null> {
    if (this.position >= this.totalRows) return null;
    if (this.position >= this.rowsStart + this.rows.length) await this.loadGroupAt(this.position);
    const from = this.position - this.rowsStart;
    const take = Math.min(maxRows, this.rows.length - from);
    const data = this.rows.slice(from, from + take);
    const first = this.position;
    this.position += take;
    const payloadBytes = Math.round((take / Math.max(1, this.totalRows)) * this.file.byteLength); // an estimate
    return { data, count: take, position: this.position, payloadBytes, whereOf: (i) => `row ${first + i + 1}` };
  }

  /** Decode the row group holding row `pos` (from `pos` on): memory holds one row group. */
  private async loadGroupAt(pos: number): Promise<void> {
    while (this.group < this.groups.length && this.groups[this.group]!.end <= pos) this.group++;
    const g = this.groups[this.group]!;
    this.rows = [];
    try {
      this.rows = (await this.hp.parquetReadObjects({ file: this.file, metadata: this.metadata, rowStart: pos, rowEnd: g.end, compressors: COMPRESSORS, rowFormat: 'object' })) as object[];
    } catch (e) {
      throw new VecwalError('DATA_INVALID', `${this.path}: row group ${this.group} (rows ${g.start + 1}..${g.end}) could not be read: ${(e as Error).message}`, { file: this.path });
    }
    this.rowsStart = pos;
    this.group++;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Codecs beyond hyparquet's built-in SNAPPY, from node:zlib (ZSTD only where Node has it: 22.15+). */
const zstd = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Uint8Array }).zstdDecompressSync;
const COMPRESSORS = {
  GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input: Uint8Array) => new Uint8Array(brotliDecompressSync(input)),
  ...(zstd ? { ZSTD: (input: Uint8Array) => new Uint8Array(zstd(input)) } : {}),
};

// ---------------------------------------------------------------------------------------------
// Synthetic rows

const WORDS = [
  'amber', 'basalt', 'cedar', 'delta', 'ember', 'fjord', 'garnet', 'harbor', 'indigo', 'juniper', 'kelp', 'lumen',
  'meadow', 'nectar', 'onyx', 'prairie', 'quartz', 'river', 'sierra', 'tundra', 'umber', 'valley', 'willow', 'xenon',
  'yarrow', 'zephyr', 'atlas', 'beacon', 'canyon', 'dune', 'estuary', 'forest', 'glacier', 'highland', 'island', 'jetty',
  'knoll', 'lagoon', 'mesa', 'nebula', 'orchard', 'pebble', 'quarry', 'reef', 'summit', 'thicket', 'upland', 'vista',
];

/**
 * Synthetic rows come in blocks of SYNTH_BLOCK rows, each block one Rng stream seeded from
 * (seed, block): row r is a function of (seed, r) alone, whatever the batch size or resume point
 * (a resume inside a block regenerates the block's earlier rows and drops them).
 */
const SYNTH_BLOCK = 64;

function blockRng(seed: number, block: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(block + 1, 0x85ebca77)) >>> 0);
}

/** The next row of a block stream: the vector (uniform in [-1, 1)) into out[off, off+dim), and the ~60-char text. */
function nextSyntheticRow(rng: Rng, row: number, dim: number, out: Float32Array, off: number): string {
  rng.fillUniform(out, off, off + dim, -1, 1);
  let text = `doc ${row}:`;
  while (text.length < 56) text += ` ${WORDS[rng.int(WORDS.length)]!}`;
  return text;
}

/** Rows [from, from + n): vectors into `vectors` (n * dim), texts into `texts` when given. */
function generateSynthetic(seed: number, dim: number, from: number, n: number, vectors: Float32Array, texts: string[] | null): void {
  let rng: Rng | null = null;
  let scratch: Float32Array | null = null;
  for (let row = from - (from % SYNTH_BLOCK); row < from + n; row++) {
    if (rng === null || row % SYNTH_BLOCK === 0) rng = blockRng(seed, Math.floor(row / SYNTH_BLOCK));
    if (row < from) {
      scratch ??= new Float32Array(dim);
      nextSyntheticRow(rng, row, dim, scratch, 0);
      continue;
    }
    const text = nextSyntheticRow(rng, row, dim, vectors, (row - from) * dim);
    if (texts) texts[row - from] = text;
  }
}

/** One synthetic row, exactly as `vecwal import --synthetic` writes it (for checks). */
export function syntheticRow(seed: number, dim: number, row: number): { id: number; vector: Float32Array; text: string } {
  const vector = new Float32Array(dim);
  const texts: string[] = [];
  generateSynthetic(seed, dim, row, 1, vector, texts);
  return { id: row, vector, text: texts[0]! };
}

export function syntheticSchema(name: string, dim: number, text: boolean, metricType: CollectionSchema['metricType']): CollectionSchema {
  const fields: FieldSchema[] = [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim },
  ];
  if (text) fields.push({ name: 'text', dataType: 'VarChar', maxLength: 256 });
  return { name, fields, enableDynamicField: false, metricType };
}

export class SyntheticSource implements ImportSource {
  readonly format = 'synthetic' as const;
  readonly totalBytes = null;
  readonly positionUnit = 'row' as const;
  constructor(
    readonly totalRows: number,
    private readonly dim: number,
    private readonly seed: number,
    private readonly text: boolean,
    private position: number,
  ) {}

  get endPosition(): number {
    return this.totalRows;
  }

  async next(maxRows: number): Promise<SourceBatch | null> {
    const n = Math.min(maxRows, this.totalRows - this.position);
    if (n <= 0) return null;
    const first = this.position;
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) ids[i] = first + i;
    const vector = new Float32Array(n * this.dim);
    const texts = this.text ? new Array<string>(n) : null;
    generateSynthetic(this.seed, this.dim, first, n, vector, texts);
    let textBytes = 0;
    if (texts) for (const t of texts) textBytes += t.length; // ASCII
    this.position += n;
    const data: Record<string, unknown> = texts ? { id: ids, vector, text: texts } : { id: ids, vector };
    return { data, count: n, position: this.position, payloadBytes: n * (8 + this.dim * 4) + textBytes, whereOf: (i) => `row ${first + i}` };
  }

  async close(): Promise<void> {}
}

async function openInput(fs: FileSystem, path: string): Promise<FileHandle> {
  const st = await fs.stat(path);
  if (!st) throw new VecwalError('INVALID_ARGUMENT', `${path}: no such file`, { file: path });
  if (st.isDirectory) throw new VecwalError('INVALID_ARGUMENT', `${path} is a directory, not an input file`, { file: path });
  try {
    return await fs.open(path, 'r');
  } catch (e) {
    throw ioError('open', path, e);
  }
}
