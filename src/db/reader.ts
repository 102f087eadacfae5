/**
 * Reads: get by primary keys, query with a filter, and exact vector search, over every segment
 * of a collection (growing, frozen and sealed) minus deleted rows. Writes are visible at once
 * (read-your-writes): the memtable is searched like any segment.
 */
import { VecwalError, invalidArgument } from '../errors.js';
import { compileBatchFilter, extractPrimaryKeyLookup, parseFilter, type BatchFilter, type FilterSchema, type RowPredicate } from '../filter/index.js';
import { createResidentBlock, createResidentBlockFromParts, mergeTopK, searchBlock, simdAvailable, type SearchHit, type VectorBlock } from '../search/index.js';
import { batchRow, rowView } from './columns.js';
import { normalizePrimaryKey } from './schema.js';
import { getBit, type Block, type MemSegment } from './mem-segment.js';
import type { Collection, Database } from './database.js';
import type { CollectionSchema, MetricType, PrimaryKey } from './types.js';

export type Row = Record<string, unknown>;

export interface QueryOptions {
  filter?: string;
  exprParams?: Record<string, unknown>;
  /** Fields to return; default: the primary key only (as Milvus). '*' returns every field. */
  outputFields?: string[];
  /** Default 100 as Milvus REST; use Number.MAX_SAFE_INTEGER for all. */
  limit?: number;
  offset?: number;
}

export interface SearchOptions extends QueryOptions {
  /** One query vector, or several. */
  data: ArrayLike<number> | ArrayLike<number>[];
  /** Must match the collection's metric when given. */
  metricType?: MetricType;
}

export interface SearchResultRow extends Row {
  /** L2: squared distance (smaller is closer); IP and COSINE: similarity (larger is closer). */
  distance: number;
}

interface Hit extends SearchHit {
  seg: MemSegment;
  block: Block;
}

function filterSchema(schema: CollectionSchema): FilterSchema {
  return {
    enableDynamicField: schema.enableDynamicField,
    fields: schema.fields.map((f) => ({ name: f.name, type: f.dataType, ...(f.elementType ? { elementType: f.elementType } : {}), ...(f.nullable ? { nullable: true } : {}) })),
  };
}

export class Reader {
  constructor(private readonly db: Database) {}

  /** Rows with these primary keys (missing keys are skipped). */
  async get(name: string, ids: unknown[], outputFields?: string[]): Promise<Row[]> {
    const c = this.db.collection(name);
    const fields = this.outputs(c, outputFields);
    const want = new Set<PrimaryKey>(ids.map((v) => normalizePrimaryKey(c.schema, v)));
    return this.scan(c, predicateMatcher(c, (row) => want.has(row[c.pkField] as PrimaryKey)), fields, 0, want.size);
  }

  async query(name: string, o: QueryOptions = {}): Promise<Row[]> {
    const c = this.db.collection(name);
    const fields = this.outputs(c, o.outputFields);
    const { limit, offset } = this.window(o);
    const filter = o.filter ?? '';
    if (filter.trim() === '' && o.limit === undefined) throw invalidArgument('query needs a filter or a limit');
    const ast = parseFilter(filter);
    const bf = compileBatchFilter(ast, filterSchema(c.schema), o.exprParams);
    const pks = extractPrimaryKeyLookup(ast, c.pkField);
    if (pks) {
      const want = new Set<PrimaryKey>(pks.map((v) => normalizePrimaryKey(c.schema, v)));
      return this.scan(c, filterMatcher(c, bf), fields, offset, limit, (row) => want.has(row[c.pkField] as PrimaryKey));
    }
    return this.scan(c, filterMatcher(c, bf), fields, offset, limit);
  }

  /**
   * Live matching rows in segment, block and row order, from `offset`, at most `limit`. Blocks
   * are matched in chunks that grow from SCAN_CHUNK_MIN rows, so a small limit stops early
   * without evaluating the filter over a whole large segment. `also` is checked on each
   * matching row after it is built.
   */
  private async scan(c: Collection, matcher: BlockMatcher, fields: string[], offset: number, limit: number, also?: RowPredicate): Promise<Row[]> {
    const out: Row[] = [];
    let skipped = 0;
    for (const seg of c.segments.slice()) {
      await seg.load();
      for (const block of seg.blocks) {
        const n = block.batch.count;
        const match = matcher(block);
        for (let start = 0, chunk = SCAN_CHUNK_MIN; start < n; start += chunk, chunk = Math.min(chunk * 2, SCAN_CHUNK_MAX)) {
          const words = match(start, Math.min(start + chunk, n));
          for (let w = 0; w < words.length; w++) {
            for (let m = words[w]! | 0; m !== 0; m &= m - 1) {
              const i = start + (w << 5) + (31 - Math.clz32(m & -m));
              const row = batchRow(c.schema, block.batch, i, NESTED);
              if (also && !also(row)) continue;
              if (skipped < offset) {
                skipped++;
                continue;
              }
              out.push(pick(row, fields));
              if (out.length >= limit) return out;
            }
          }
        }
      }
    }
    return out;
  }

  /** Exact top-k over every live row; one result list per query vector. */
  async search(name: string, o: SearchOptions): Promise<SearchResultRow[][]> {
    const c = this.db.collection(name);
    const metric = c.schema.metricType;
    if (o.metricType && o.metricType !== metric) {
      throw invalidArgument(`metric type ${o.metricType} does not match the collection's ${metric}`);
    }
    const dim = c.schema.fields.find((f) => f.dataType === 'FloatVector')!.dim!;
    const { queries, nq } = toQueries(o.data, dim);
    const { limit, offset } = this.window({ ...o, limit: o.limit ?? 10 });
    const k = limit + offset;
    const fields = this.outputs(c, o.outputFields);
    const pred = o.filter && o.filter.trim() !== '' ? compileBatchFilter(o.filter, filterSchema(c.schema), o.exprParams) : null;
    const perQuery: Hit[][][] = Array.from({ length: nq }, () => []);
    for (const seg of c.segments.slice()) {
      await seg.load();
      const view = searchView(seg, c.vectorField, dim);
      for (const part of view.parts) {
        if (part.block.count === 0) continue;
        const allow = cachedAllowBits(c, seg, view, part, pred, pred ? filterKey(o) : '');
        const res = searchBlock(part.block, queries, nq, k, metric, allow);
        for (let q = 0; q < nq; q++) {
          perQuery[q]!.push(res[q]!.map((h) => {
            const b = blockOf(part, h.index);
            return { index: h.index - part.starts[b]!, score: h.score, seg, block: seg.blocks[part.first + b]! };
          }));
        }
      }
    }
    return perQuery.map((lists) =>
      mergeTopK(lists, k, metric)
        .slice(offset)
        .map((h) => ({ ...pick(batchRow(c.schema, h.block.batch, h.index, NESTED), fields), distance: h.score })),
    );
  }

  private outputs(c: Collection, requested: string[] | undefined): string[] {
    if (!requested || requested.length === 0) return [c.pkField];
    if (requested.includes('*')) return ['*'];
    const known = new Set(c.schema.fields.map((f) => f.name));
    for (const f of requested) {
      if (!known.has(f) && !c.schema.enableDynamicField) throw new VecwalError('INVALID_ARGUMENT', `output field ${f} is not in collection ${c.schema.name}`);
    }
    return requested.includes(c.pkField) ? requested : [c.pkField, ...requested];
  }

  private window(o: { limit?: number; offset?: number }): { limit: number; offset: number } {
    const limit = o.limit ?? 100;
    const offset = o.offset ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 1) throw invalidArgument(`limit must be a positive integer, got ${limit}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument(`offset must be a non-negative integer, got ${offset}`);
    return { limit, offset };
  }
}

/** Rows for filters keep dynamic fields under `$meta`, as the filter compiler resolves them. */
const NESTED = { dynamic: 'nested' } as const;

/** Query scans match a block's rows in chunks from this many rows, doubling up to the max. */
const SCAN_CHUNK_MIN = 1024;
const SCAN_CHUNK_MAX = 65536;

/**
 * The live rows of a block that match, for rows [start, end) (start a multiple of 32), as
 * words of 32 rows from `start` (bits past `end` clear).
 */
type BlockMatcher = (block: Block) => (start: number, end: number) => Uint32Array;

/** The row view of a block for the row closures of a filter, made once per block when needed. */
function rowsOf(c: Collection, block: Block): () => (i: number) => Row {
  let at: ((i: number) => Row) | undefined;
  return () => {
    // rowView's `at` reads no `this`: it can be called on its own.
    at ??= rowView(c.schema, block.batch).at;
    return at;
  };
}

/** A compiled filter, evaluated over the block's columns (src/filter/bits.ts). */
function filterMatcher(c: Collection, bf: BatchFilter): BlockMatcher {
  return (block) => {
    const rows = rowsOf(c, block);
    return (start, end) => bf.bits(block.batch, rows, start, end, block.deleted);
  };
}

/** A row predicate, evaluated on the block's row view row by row. */
function predicateMatcher(c: Collection, pred: RowPredicate): BlockMatcher {
  return (block) => {
    const view = rowView(c.schema, block.batch);
    return (start, end) => {
      const words = new Uint32Array((end - start + 31) >>> 5);
      for (let i = start; i < end; i++) {
        if (getBit(block.deleted, i) || !pred(view.at(i))) continue;
        words[(i - start) >>> 5]! |= 1 << ((i - start) & 31);
      }
      return words;
    };
  };
}

/** The requested fields of a row; dynamic fields are returned as top-level keys (as Milvus). */
function pick(row: Row, fields: string[]): Row {
  const meta = row.$meta as Record<string, unknown> | null | undefined;
  if (fields[0] === '*') {
    const { $meta: _, ...rest } = row;
    return meta ? { ...meta, ...rest } : rest;
  }
  const out: Row = {};
  for (const f of fields) {
    if (f in row && f !== '$meta') out[f] = row[f];
    else if (meta && f in meta) out[f] = meta[f];
  }
  return out;
}

/**
 * The vector blocks the kernel runs over for one segment. A sealed segment is one block, made
 * resident in WebAssembly memory once (immutable: searched in place, ~2x faster). A growing
 * segment is searched batch by batch where batches are large (no copy: a search right after a
 * reopen or an insert does not copy the memtable), while runs of small batches (many small
 * inserts) are concatenated into blocks of up to RUN_ROWS_MAX rows, so that they do not mean
 * many small kernel calls; the view is extended, not rebuilt, as the segment grows.
 */
interface SearchView {
  parts: ViewPart[];
  rows: number;
  /** Segment blocks covered. */
  blocks: number;
  /** Built for a sealed segment (resident) or a growing one (rebuilt once it is sealed). */
  sealed: boolean;
}

/** One kernel block: segment blocks first .. first + starts.length - 1, back to back. */
interface ViewPart {
  block: VectorBlock;
  first: number;
  /** Row offset of each of its segment blocks within `block`. */
  starts: number[];
  /** A run of small blocks still open to the blocks that come next (rebuilt as it grows). */
  open: boolean;
}

/** A growing segment's batch of at least this many rows is searched in place. */
const BIG_BLOCK_ROWS = 1024;
/** Runs of smaller batches are concatenated into blocks of up to this many rows. */
const RUN_ROWS_MAX = 65536;

const views = new WeakMap<MemSegment, SearchView>();

function searchView(seg: MemSegment, field: string, dim: number): SearchView {
  const cached = views.get(seg);
  const sealed = seg.state === 'sealed';
  if (cached && cached.rows === seg.rows && cached.blocks === seg.blocks.length && cached.sealed === sealed) return cached;
  const view: SearchView = sealed
    ? { parts: [sealedPart(seg, field, dim)], rows: seg.rows, blocks: seg.blocks.length, sealed }
    : { parts: growingParts(seg, field, dim, cached && !cached.sealed ? cached : undefined), rows: seg.rows, blocks: seg.blocks.length, sealed };
  views.set(seg, view);
  return view;
}

/** A sealed segment's one block: resident when possible, else its array (or a concatenation). */
function sealedPart(seg: MemSegment, field: string, dim: number): ViewPart {
  const starts: number[] = [];
  let count = 0;
  for (const b of seg.blocks) {
    starts.push(count);
    count += b.batch.count;
  }
  if (count === 0) return { block: { data: new Float32Array(0), dim, count: 0 }, first: 0, starts, open: false };
  const single = seg.blocks.length === 1 || contiguous(seg, field, dim);
  let block: VectorBlock | null = null;
  if (simdAvailable()) {
    try {
      // A flushed segment keeps one array per ingested batch: they are copied straight into
      // WebAssembly memory (a single array is copied as it is).
      const first = vectors(seg.blocks[0]!, field);
      block = single
        ? createResidentBlock({ data: new Float32Array(first.buffer, first.byteOffset, count * dim), dim, count })
        : createResidentBlockFromParts(seg.blocks.map((b) => vectors(b, field).subarray(0, b.batch.count * dim)), dim, count);
      // Point every batch at the resident copy, so the JS copies can be collected.
      const data = block.data;
      seg.blocks.forEach((b, i) => {
        const col = b.batch.columns.get(field) as { values: Float32Array };
        col.values = data.subarray(starts[i]! * dim, (starts[i]! + b.batch.count) * dim);
      });
    } catch {
      block = null; // too large for one WebAssembly memory: stream it instead
    }
  }
  if (!block) {
    let data: Float32Array;
    if (single) {
      const first = vectors(seg.blocks[0]!, field);
      data = new Float32Array(first.buffer, first.byteOffset, count * dim);
    } else {
      data = new Float32Array(count * dim);
      seg.blocks.forEach((b, i) => data.set(vectors(b, field).subarray(0, b.batch.count * dim), starts[i]! * dim));
    }
    block = { data, dim, count };
  }
  return { block, first: 0, starts, open: false };
}

/** The parts of a growing segment, extending those of an earlier view of it. */
function growingParts(seg: MemSegment, field: string, dim: number, prev: SearchView | undefined): ViewPart[] {
  const parts = prev ? prev.parts.slice() : [];
  let from = prev ? prev.blocks : 0;
  if (parts.length > 0 && parts[parts.length - 1]!.open) from = parts.pop()!.first;
  let run: number[] = [];
  let runRows = 0;
  const endRun = (open: boolean) => {
    if (run.length === 0) return;
    const data = new Float32Array(runRows * dim);
    const starts: number[] = [];
    let at = 0;
    for (const b of run) {
      const blk = seg.blocks[b]!;
      starts.push(at);
      data.set(vectors(blk, field).subarray(0, blk.batch.count * dim), at * dim);
      at += blk.batch.count;
    }
    parts.push({ block: { data, dim, count: runRows }, first: run[0]!, starts, open });
    run = [];
    runRows = 0;
  };
  for (let b = from; b < seg.blocks.length; b++) {
    const blk = seg.blocks[b]!;
    const n = blk.batch.count;
    if (n >= BIG_BLOCK_ROWS) {
      endRun(false);
      parts.push({ block: { data: vectors(blk, field), dim, count: n }, first: b, starts: [0], open: false });
      continue;
    }
    run.push(b);
    runRows += n;
    if (runRows >= RUN_ROWS_MAX) endRun(false);
  }
  endRun(true);
  return parts;
}

/** Do the blocks' vectors lie back to back in one array (as a flush leaves them)? */
function contiguous(seg: MemSegment, field: string, dim: number): boolean {
  const first = vectors(seg.blocks[0]!, field);
  let next = first.byteOffset;
  for (const b of seg.blocks) {
    const v = vectors(b, field);
    if (v.buffer !== first.buffer || v.byteOffset !== next) return false;
    next += b.batch.count * dim * 4;
  }
  return true;
}

function vectors(b: Block, field: string): Float32Array {
  const col = b.batch.columns.get(field);
  if (!col || col.type !== 'FloatVector') throw new Error(`block has no vector column ${field}`);
  return col.values;
}

function blockOf(part: ViewPart, index: number): number {
  let lo = 0;
  let hi = part.starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (part.starts[mid]! <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Sealed segments never change except by deletes, so the allowed-rows bitset of a filter is
 * kept per segment (a few filters each), keyed by the filter text and its parameters, and
 * rebuilt when the segment's delete count moves.
 */
const allowCache = new WeakMap<MemSegment, Map<string, { deletedRows: number; bits: Uint8Array | undefined }>>();
const ALLOW_CACHE_FILTERS = 8;

function filterKey(o: { filter?: string; exprParams?: Record<string, unknown> }): string {
  return `${o.filter ?? ''}\u0000${o.exprParams ? JSON.stringify(o.exprParams, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) : ''}`;
}

function cachedAllowBits(c: Collection, seg: MemSegment, view: SearchView, part: ViewPart, pred: BatchFilter | null, key: string): Uint8Array | undefined {
  if (!view.sealed || !pred) return allowBitsPart(c, seg, part, pred);
  let m = allowCache.get(seg);
  if (!m) allowCache.set(seg, (m = new Map()));
  const hit = m.get(key);
  if (hit && hit.deletedRows === seg.deletedRows) return hit.bits;
  const bits = allowBitsPart(c, seg, part, pred);
  if (m.size >= ALLOW_CACHE_FILTERS) m.delete(m.keys().next().value!);
  m.set(key, { deletedRows: seg.deletedRows, bits });
  return bits;
}

/**
 * Allowed rows of a view part (live, passing the filter) as a bitset, or undefined when all are.
 * The filter runs over each block's columns (src/filter/bits.ts), deleted rows left out.
 */
function allowBitsPart(c: Collection, seg: MemSegment, part: ViewPart, pred: BatchFilter | null): Uint8Array | undefined {
  if (seg.deletedRows === 0 && !pred) return undefined;
  const bits = new Uint8Array((part.block.count + 7) >> 3);
  part.starts.forEach((base, k) => {
    const block = seg.blocks[part.first + k]!;
    if (pred) {
      copyWordsAt(bits, base, pred.bits(block.batch, rowsOf(c, block), 0, block.batch.count, block.deleted), block.batch.count);
      return;
    }
    for (let i = 0; i < block.batch.count; i++) {
      if (getBit(block.deleted, i)) continue;
      const j = base + i;
      bits[j >> 3]! |= 1 << (j & 7);
    }
  });
  return bits;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * ORs `n` rows of 32-row words (bit j of word w = row 32w + j; bits past n clear) into the
 * byte bitset `dst` from bit `at` on (bit i & 7 of byte i >> 3).
 */
function copyWordsAt(dst: Uint8Array, at: number, words: Uint32Array, n: number): void {
  const nb = (n + 7) >>> 3;
  if ((at & 7) === 0 && LITTLE_ENDIAN) {
    // Same bit order in memory; the byte at `at / 8` holds no earlier rows.
    dst.set(new Uint8Array(words.buffer, words.byteOffset, nb), at >>> 3);
    return;
  }
  const shift = at & 7;
  let p = at >>> 3;
  for (let j = 0; j < nb; j++, p++) {
    const b = (words[j >>> 2]! >>> ((j & 3) << 3)) & 0xff;
    if (b === 0) continue;
    dst[p]! |= (b << shift) & 0xff;
    if (shift !== 0 && b >>> (8 - shift) !== 0) dst[p + 1]! |= b >>> (8 - shift);
  }
}

function toQueries(data: SearchOptions['data'], dim: number): { queries: Float32Array; nq: number } {
  const list = isVector(data) ? [data] : (data as ArrayLike<number>[]);
  if (!Array.isArray(list) && !isVector(data)) throw invalidArgument('search data must be a vector or an array of vectors');
  const queries = new Float32Array(list.length * dim);
  list.forEach((v, q) => {
    if (!isVector(v) || v.length !== dim) throw invalidArgument(`query vector ${q} has ${isVector(v) ? v.length : 'no'} dimensions, expected ${dim}`);
    for (let j = 0; j < dim; j++) {
      const x = Number(v[j]);
      if (!Number.isFinite(x)) throw invalidArgument(`query vector ${q} has a non-finite value at ${j}`);
      queries[q * dim + j] = x;
    }
  });
  return { queries, nq: list.length };
}

function isVector(v: unknown): v is ArrayLike<number> {
  return v instanceof Float32Array || v instanceof Float64Array || (Array.isArray(v) && (v.length === 0 || typeof v[0] === 'number'));
}
