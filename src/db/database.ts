/**
 * The database: Milvus-style collections on the write-ahead log.
 *
 * Write path (insert, upsert, delete):
 *   1. validate and convert the input (schema.ts): bad input throws a coded error and never
 *      reaches the log;
 *   2. append one WAL batch (atomic) and, in the same synchronous step, apply it to the
 *      memtable, so writes are applied in LSN order and reads see them at once;
 *   3. resolve when the WAL says the batch is durable (sync policy). A write may be visible to
 *      reads up to one group commit before it is acknowledged; if the WAL fails, the database
 *      refuses all writes until reopened, and recovery decides what survived.
 * Flush (on size, on interval, on WAL pressure, on flush()):
 *   freeze the memtable (writers go on into a fresh one), write each frozen growing segment as
 *   an immutable segment file and each sealed segment's new deletes as a delete file, all
 *   fsynced; then one atomic manifest write records them with the checkpoint LSN; then WAL
 *   cleanup deletes whole log segments at or below the checkpoint.
 * Open = recovery: lock, read the manifest, remove orphans of a crashed flush or compaction,
 *   replay the WAL from checkpoint + 1 into the memtable, report.
 *
 * Collection ids are never reused, so replay skips records of dropped collections.
 */
import type { FileLock, FileSystem } from '../fs/fs.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import { joinPath, mkdirDurable, openLockedDir, removeTree } from '../fs/io.js';
import { VecwalError, invalidArgument, ioError } from '../errors.js';
import { Wal, type AppendInput, type WalBatch, type WalOptions } from '../wal/wal.js';
import { OpType } from '../wal/format.js';
import type { RecoveryReport } from '../wal/recovery.js';
import { METRIC_TYPES, type CollectionSchema, type ColumnBatch, type ColumnData, type MetricType, type PrimaryKey } from './types.js';
import { emptyManifest, readManifest, writeManifest, type CollectionMeta, type ImportProgress, type ManifestState, type SegmentMeta } from './manifest.js';
import { MemSegment, getBit, type Block, type RowRef } from './mem-segment.js';
import { PrimaryKeyIndex, HI, LO, int64Words, joinInt64 } from './pk-index.js';
import { type QuickCreateOptions, validateSchema, quickCreateSchema, rowsToBatch, columnsToBatch, primaryKeysOf, normalizePrimaryKey } from './schema.js';
import { encodeBatchParts, decodeBatch, encodeDelete, decodeDelete, concatBatches, sliceBatch, keepTextsEncoded } from './columns.js';
import { payloadLength } from '../wal/codec.js';
import { SegmentReader, writeSegment, writeDeleteFile, readDeleteFile } from '../segment/segment-file.js';
import { Mutex } from './mutex.js';
import { toWalOptions, type VecwalConfig } from '../config.js';
import { Reader } from './reader.js';

export interface DatabaseOptions {
  fs?: FileSystem;
  /** WAL options (sync policy, segment size, retention, recovery mode, ...). */
  wal?: Omit<WalOptions, 'fs' | 'onReplay' | 'replayFromLsn' | 'nextLsnAtLeast'>;
  /** Flush when the memtable holds this many bytes. Default 64 MiB. */
  memtableBytesMax?: number;
  /** Flush at least this often when there are unflushed writes; 0 disables. Default 10 s. */
  flushIntervalMs?: number;
  /** Block writers (backpressure) while the WAL holds more than this above the checkpoint. Default 512 MiB. */
  replayBytesMax?: number;
  /**
   * Compact a collection in the background once it has this many small sealed segments (below
   * half of compactionMaxBytes), or one with a fifth of its rows deleted; 0 disables. Default 8.
   */
  compactionMinSegments?: number;
  /** Largest segment a compaction writes; full segments without deletes are never rewritten. Default 256 MiB. */
  compactionMaxBytes?: number;
  /** Observability hook (metrics): WAL group syncs, durable appends, flushes. Must not throw. */
  onEvent?: (event: DatabaseEvent) => void;
}

/** What `onEvent` receives. Durations in milliseconds. */
export type DatabaseEvent =
  | { type: 'sync'; durationMs: number; batches: number; bytes: number }
  | { type: 'append'; durationMs: number; records: number }
  /** durationMs: the flush's own time, from freezing the memtable to the WAL cleanup. */
  | { type: 'flush'; durationMs: number; segments: number }
  /** A write waited for a flush: the WAL held bytesAboveCheckpoint bytes, over memtable.max_replay_size. */
  | { type: 'stall'; durationMs: number; bytesAboveCheckpoint: number };

function closedError(dir: string): VecwalError {
  return new VecwalError('CLOSED', `database ${dir} is closed`);
}

/** DatabaseOptions from a loaded configuration (src/config.ts, docs/config.md). */
export function optionsFromConfig(config: VecwalConfig): DatabaseOptions {
  return {
    wal: toWalOptions(config),
    memtableBytesMax: config.memtable.max_size,
    flushIntervalMs: config.memtable.flush_interval,
    replayBytesMax: config.memtable.max_replay_size,
    compactionMinSegments: config.data.compaction.min_segments,
    compactionMaxBytes: config.data.compaction.max_size,
  };
}

export interface OpenReport {
  wal: RecoveryReport;
  checkpointLsn: number;
  replayedRecords: number;
  orphansRemoved: string[];
  collections: number;
  durationMs: number;
}

/** Tag a write with import progress: recorded atomically with it (same WAL batch). */
export interface WriteOptions {
  progress?: { importId: string; rows: number; position: number };
  /**
   * Columnar writes: take over the vector column when it is a Float32Array spanning its whole
   * ArrayBuffer, instead of copying it into the memtable. The caller's array is detached (its
   * length becomes 0) during the call, once the batch is valid, whether or not the write then
   * succeeds. It saves copying every vector into fresh memory, the largest cost of a bulk
   * ingest; anything else (number[], a view into a larger buffer, a SharedArrayBuffer) is copied.
   */
  transfer?: boolean;
}

export interface InsertResult {
  insertCount: number;
  ids: PrimaryKey[];
  /** LSN of the WAL batch that holds the write. */
  lsn: number;
}

/**
 * An InsertResult whose `ids` array is made on first read (then kept): a bulk loader that never
 * looks at them does not pay for a BigInt per row. It is an own enumerable property, so
 * spreading, JSON and deepEqual see it as a plain field.
 */
function insertResult(insertCount: number, lsn: number, makeIds: () => PrimaryKey[]): InsertResult {
  let ids: PrimaryKey[] | undefined;
  const r = { insertCount, lsn } as InsertResult;
  Object.defineProperty(r, 'ids', {
    enumerable: true,
    configurable: true,
    get: () => (ids ??= makeIds()),
    set: (v: PrimaryKey[]) => {
      ids = v;
    },
  });
  return r;
}

/** Options of a DDL call: replace the database-level properties in the same manifest write. */
export interface DdlOptions {
  databaseProperties?: Record<string, unknown>;
}

function ddlProperties(options: DdlOptions): { properties?: Record<string, unknown> } {
  return options.databaseProperties === undefined ? {} : { properties: cloneJson(options.databaseProperties, 'database properties') };
}

/** A deep copy of a plain JSON object, or INVALID_ARGUMENT if it is not one. */
function cloneJson(value: Record<string, unknown>, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`${what} must be a JSON object`);
  try {
    return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  } catch (e) {
    throw invalidArgument(`${what} must be plain JSON: ${(e as Error).message}`);
  }
}

const WAL_HEADER = 8; // u32 collection id, u32 reserved

/** Runtime state of one collection. */
export class Collection {
  meta: CollectionMeta;
  segments: MemSegment[] = [];
  growing: MemSegment | null = null;
  pkIndex: PrimaryKeyIndex | null = null;
  pkIndexBuild: Promise<void> | null = null;
  nextAutoId: bigint;
  constructor(meta: CollectionMeta) {
    this.meta = meta;
    this.nextAutoId = BigInt(meta.nextAutoId);
  }
  get schema(): CollectionSchema {
    return this.meta.schema;
  }
  get pkField(): string {
    return this.schema.fields.find((f) => f.isPrimaryKey)!.name;
  }
  get vectorField(): string {
    return this.schema.fields.find((f) => f.dataType === 'FloatVector')!.name;
  }
  /** The primary key column of a batch of this collection. */
  pkColumn(batch: ColumnBatch): ColumnData {
    const name = this.pkField;
    const col = batch.columns.get(name);
    if (!col || (col.type !== 'Int64' && col.type !== 'VarChar')) throw invalidArgument(`batch has no Int64 or VarChar column for primary key "${name}"`);
    return col;
  }
}

export class Database {
  readonly dir: string;
  readonly report: OpenReport;
  private readonly fs: FileSystem;
  private wal!: Wal;
  private lock: FileLock | null = null;
  private manifest: ManifestState;
  private readonly collections = new Map<string, Collection>();
  private readonly imports = new Map<string, ImportProgress>();
  /** Next data segment id; persisted by every manifest write (see commitManifest). */
  private nextSegmentId: number;
  private readonly byId = new Map<number, Collection>();
  private readonly metaLock = new Mutex();
  private readonly flushLock = new Mutex();
  /** Collections with a background compaction running (maybeCompact starts one at a time). */
  private readonly compacting = new Set<Collection>();
  /** The flush that flush() calls share: queued on the flush lock, the memtable not frozen yet. */
  private nextFlush: Promise<{ segments: number; checkpointLsn: number }> | null = null;
  /** Orders writes: validation-to-append runs one call at a time, in call order. */
  private readonly writeLock = new Mutex();
  private memtableBytes = 0;
  private memtableMaxLsn = 0;
  private failure: VecwalError | null = null;
  private closed = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly opts: Required<Omit<DatabaseOptions, 'fs' | 'wal' | 'onEvent'>> & { wal: DatabaseOptions['wal']; onEvent: DatabaseOptions['onEvent'] };
  readonly read: Reader;

  private constructor(dir: string, fs: FileSystem, manifest: ManifestState, opts: Database['opts'], report: OpenReport) {
    this.dir = dir;
    this.fs = fs;
    this.manifest = manifest;
    this.opts = opts;
    this.report = report;
    this.nextSegmentId = manifest.nextSegmentId;
    this.read = new Reader(this);
  }

  static async open(dir: string, options: DatabaseOptions = {}): Promise<Database> {
    const t0 = performance.now();
    const fs = options.fs ?? new NodeFileSystem();
    const opts = {
      memtableBytesMax: options.memtableBytesMax ?? 64 * 1024 * 1024,
      flushIntervalMs: options.flushIntervalMs ?? 10_000,
      replayBytesMax: options.replayBytesMax ?? 512 * 1024 * 1024,
      compactionMinSegments: options.compactionMinSegments ?? 8,
      compactionMaxBytes: options.compactionMaxBytes ?? 256 * 1024 * 1024,
      wal: options.wal,
      onEvent: options.onEvent,
    };
    const lock = await openLockedDir(fs, dir, 'database');
    try {
      let manifest = await readManifest(fs, dir);
      if (!manifest) {
        manifest = emptyManifest();
        await mkdirDurable(fs, joinPath(dir, 'meta'));
        await writeManifest(fs, dir, manifest);
      }
      const report: OpenReport = { wal: null as unknown as RecoveryReport, checkpointLsn: manifest.checkpointLsn, replayedRecords: 0, orphansRemoved: [], collections: manifest.collections.length, durationMs: 0 };
      const db = new Database(dir, fs, manifest, opts, report);
      for (const [id, p] of Object.entries(manifest.imports ?? {})) db.imports.set(id, p);
      db.lock = lock;
      await db.removeOrphans();
      await db.loadCollections();
      await db.openWal();
      report.durationMs = performance.now() - t0;
      if (opts.flushIntervalMs > 0) db.startTimer();
      return db;
    } catch (e) {
      await lock.release().catch(() => undefined);
      throw e instanceof VecwalError ? e : ioError('open database', dir, e);
    }
  }

  // ---- open / recovery -------------------------------------------------------------------

  private segmentDir(id: number): string {
    return joinPath(this.dir, 'data', `segment_${String(id).padStart(6, '0')}`);
  }

  /** Delete segment folders and delete files no manifest entry names (a crashed flush or compaction). */
  private async removeOrphans(): Promise<void> {
    const dataDir = joinPath(this.dir, 'data');
    await mkdirDurable(this.fs, dataDir);
    const live = new Map<string, Set<string>>();
    for (const c of this.manifest.collections) for (const s of c.segments) live.set(`segment_${String(s.id).padStart(6, '0')}`, new Set(['data.seg', ...s.deleteFiles]));
    let changed = false;
    for (const name of await this.fs.readdir(dataDir)) {
      const path = joinPath(dataDir, name);
      const keep = live.get(name);
      if (!keep) {
        await removeTree(this.fs, path);
        this.report.orphansRemoved.push(path);
        changed = true;
        continue;
      }
      for (const f of await this.fs.readdir(path)) {
        if (keep.has(f)) continue;
        await this.fs.unlink(joinPath(path, f));
        this.report.orphansRemoved.push(joinPath(path, f));
        await this.fs.syncDir(path);
      }
    }
    if (changed) await this.fs.syncDir(dataDir);
  }

  private async loadCollections(): Promise<void> {
    for (const meta of this.manifest.collections) {
      const c = new Collection(meta);
      for (const s of meta.segments) c.segments.push(await this.sealedSegment(c, s));
      this.collections.set(meta.schema.name, c);
      this.byId.set(meta.id, c);
    }
  }

  private async sealedSegment(c: Collection, s: SegmentMeta): Promise<MemSegment> {
    const seg = new MemSegment(s.id, c.meta.id, 'sealed');
    seg.rows = s.rows;
    seg.minLsn = s.minLsn;
    seg.maxLsn = s.maxLsn;
    const dir = this.segmentDir(s.id);
    for (const f of s.deleteFiles) {
      for (const row of await readDeleteFile(this.fs, joinPath(dir, f))) seg.preloadDeletes.push(row);
    }
    seg.deletedRows = new Set(seg.preloadDeletes).size;
    seg.loader = async () => {
      const r = await SegmentReader.open(this.fs, dir, c.schema);
      try {
        return await r.readAll();
      } finally {
        await r.close();
      }
    };
    return seg;
  }

  private async openWal(): Promise<void> {
    let replayed = 0;
    this.wal = await Wal.open(joinPath(this.dir, 'wal'), {
      ...(this.opts.wal ?? {}),
      fs: this.fs,
      replayFromLsn: this.manifest.checkpointLsn + 1,
      nextLsnAtLeast: this.manifest.checkpointLsn + 1,
      onReplay: async (b: WalBatch) => {
        for (const r of b.records) if (r.lsn > this.manifest.checkpointLsn) replayed += await this.replayRecord(r.op, r.payload, r.lsn);
      },
    });
    this.report.wal = this.wal.recovery;
    this.report.replayedRecords = replayed;
    this.wal.on('pressure', () => void this.flush().catch(() => undefined));
    const onEvent = this.opts.onEvent;
    if (onEvent) this.wal.on('sync', (e) => onEvent({ type: 'sync', ...e }));
  }

  private async replayRecord(op: OpType, payload: Uint8Array, lsn: number): Promise<number> {
    if (op === OpType.Marker) {
      const p = decodeProgress(payload);
      if (p) this.imports.set(p.importId, { rows: p.rows, position: p.position, lsn });
      this.noteMemtable(lsn, payload.length);
      return 1;
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const c = this.byId.get(view.getUint32(0, true));
    if (!c) return 0; // the collection was dropped after this write
    const body = payload.subarray(WAL_HEADER);
    if (op === OpType.Insert || op === OpType.Upsert) {
      // Columns are views of the record (no copy); VarChar strings are made on first use, and
      // the flush writes the texts' bytes as they were decoded.
      const batch = decodeBatch(c.schema, body, { lazyText: true });
      const keys = c.pkColumn(batch);
      // Plain inserts replay without the primary key index (building it loads every sealed
      // segment); the index, when first needed, is built from all segments, growing ones too.
      if (op === OpType.Upsert) {
        await this.ensurePkIndex(c);
        this.applyDeleteColumn(c, keys);
      }
      this.applyInsert(c, batch, keys, lsn, body.length);
      this.bumpAutoId(c, keys);
      return 1;
    }
    if (op === OpType.Delete) {
      await this.ensurePkIndex(c);
      this.applyDeletes(c, decodeDelete(body));
      this.noteMemtable(lsn, body.length);
      return 1;
    }
    return 0;
  }

  private bumpAutoId(c: Collection, keys: ColumnData): void {
    const f = c.schema.fields.find((x) => x.isPrimaryKey)!;
    if (!f.autoID || keys.type !== 'Int64' || keys.values.length === 0) return;
    // The largest key, compared as 32-bit words (reading the BigInt64Array would make a BigInt per row).
    const w = int64Words(keys.values);
    let hi = w[HI]!;
    let lo = w[LO]! >>> 0;
    for (let i = 1, n = keys.values.length; i < n; i++) {
      const h = w[2 * i + HI]!;
      const l = w[2 * i + LO]! >>> 0;
      if (h > hi || (h === hi && l > lo)) [hi, lo] = [h, l];
    }
    const max = joinInt64(lo, hi);
    if (max >= c.nextAutoId) c.nextAutoId = max + 1n;
  }

  // ---- collections -------------------------------------------------------------------------

  listCollections(): string[] {
    return [...this.collections.keys()].sort();
  }

  hasCollection(name: string): boolean {
    return this.collections.has(name);
  }

  describeCollection(name: string): { name: string; id: number; schema: CollectionSchema; createdAtMs: number } {
    const c = this.collection(name);
    return { name, id: c.meta.id, schema: structuredClone(c.schema), createdAtMs: c.meta.createdAtMs };
  }

  /** Create a collection from a full schema, or quick-create from a dimension (Milvus style). */
  /**
   * Create a collection from a full schema, or quick-create from a dimension (Milvus style).
   * `options.properties` (the collection's) and `options.databaseProperties` are recorded in
   * the same atomic manifest write, so a caller's metadata never lags the collection.
   */
  async createCollection(input: CollectionSchema | ({ name: string; dimension: number } & QuickCreateOptions), options: DdlOptions & { properties?: Record<string, unknown> } = {}): Promise<void> {
    this.checkWritable();
    const schema = 'dimension' in input ? quickCreateSchema(input.name, input.dimension, input) : validateSchema(input);
    const properties = options.properties === undefined ? undefined : cloneJson(options.properties, 'collection properties');
    const dbProps = ddlProperties(options);
    await this.metaLock.run(async () => {
      if (this.collections.has(schema.name)) throw new VecwalError('COLLECTION_EXISTS', `collection ${schema.name} already exists`);
      const meta: CollectionMeta = { id: this.manifest.nextCollectionId, schema, createdAtMs: Date.now(), segments: [], nextAutoId: '1', ...(properties ? { properties } : {}) };
      const next = { ...this.manifest, ...dbProps, nextCollectionId: meta.id + 1, collections: [...this.manifest.collections, meta] };
      await this.commitManifest(next);
      const c = new Collection(meta);
      this.collections.set(schema.name, c);
      this.byId.set(meta.id, c);
    });
  }

  async dropCollection(name: string, options: DdlOptions = {}): Promise<void> {
    this.checkWritable();
    const dbProps = ddlProperties(options);
    await this.metaLock.run(async () => {
      const c = this.collection(name);
      const next = { ...this.manifest, ...dbProps, collections: this.manifest.collections.filter((m) => m.id !== c.meta.id) };
      await this.commitManifest(next);
      this.collections.delete(name);
      this.byId.delete(c.meta.id);
      for (const s of c.segments) if (s.state === 'sealed') await removeTree(this.fs, this.segmentDir(s.id)).catch(() => undefined);
    });
  }

  async renameCollection(from: string, to: string, options: DdlOptions = {}): Promise<void> {
    this.checkWritable();
    const dbProps = ddlProperties(options);
    await this.metaLock.run(async () => {
      const c = this.collection(from);
      if (this.collections.has(to)) throw new VecwalError('COLLECTION_EXISTS', `collection ${to} already exists`);
      validateSchema({ ...c.schema, name: to });
      const meta = { ...c.meta, schema: { ...c.schema, name: to } };
      const next = { ...this.manifest, ...dbProps, collections: this.manifest.collections.map((m) => (m.id === c.meta.id ? meta : m)) };
      await this.commitManifest(next);
      c.meta = meta;
      this.collections.delete(from);
      this.collections.set(to, c);
    });
  }

  /**
   * Change a collection's metric type (search is exact, so any metric applies to existing data)
   * and/or replace its uninterpreted `properties` (JSON; the server keeps index definitions and
   * load state there). One atomic manifest write.
   */
  async alterCollection(name: string, patch: { metricType?: MetricType; properties?: Record<string, unknown> }): Promise<void> {
    this.checkWritable();
    if (patch.metricType !== undefined && !(METRIC_TYPES as readonly string[]).includes(patch.metricType)) {
      throw invalidArgument(`metric type must be one of ${METRIC_TYPES.join(', ')}, got ${String(patch.metricType)}`);
    }
    const properties = patch.properties === undefined ? undefined : cloneJson(patch.properties, 'collection properties');
    await this.metaLock.run(async () => {
      const c = this.collection(name);
      const meta: CollectionMeta = { ...c.meta, schema: { ...c.schema, ...(patch.metricType ? { metricType: patch.metricType } : {}) } };
      if (properties !== undefined) meta.properties = properties;
      const next = { ...this.manifest, collections: this.manifest.collections.map((m) => (m.id === c.meta.id ? meta : m)) };
      await this.commitManifest(next);
      c.meta = meta;
    });
  }

  /** A collection's uninterpreted properties (a copy; `{}` when none were set). */
  collectionProperties(name: string): Record<string, unknown> {
    return structuredClone(this.collection(name).meta.properties ?? {});
  }

  /** Database-level uninterpreted properties (a copy; `{}` when none were set). */
  properties(): Record<string, unknown> {
    return structuredClone(this.manifest.properties ?? {});
  }

  /** Replace the database-level properties (JSON). One atomic manifest write. */
  async setProperties(properties: Record<string, unknown>): Promise<void> {
    this.checkWritable();
    const value = cloneJson(properties, 'database properties');
    await this.metaLock.run(async () => {
      await this.commitManifest({ ...this.manifest, properties: value });
    });
  }

  /** @internal */
  collection(name: string): Collection {
    const c = this.collections.get(name);
    if (!c) throw new VecwalError('COLLECTION_NOT_FOUND', `collection not found: ${name}`);
    return c;
  }

  /**
   * Write and install a manifest. Segment ids come from `this.nextSegmentId` (allocated without
   * awaiting, e.g. by a write that opens a growing segment during this very commit), so the
   * persisted allocator is the live one, never a copy taken before an await.
   */
  private async commitManifest(next: ManifestState): Promise<void> {
    // After a failure nothing is committed: a flush queued behind the one that failed would
    // record a checkpoint covering rows that never reached a segment file (the failed flush's
    // frozen segment), and the WAL cleanup after it would delete their only copy.
    if (this.failure) throw this.failure;
    const state = { ...next, nextSegmentId: Math.max(next.nextSegmentId, this.nextSegmentId) };
    try {
      await writeManifest(this.fs, this.dir, state);
    } catch (e) {
      this.poison(e);
      throw this.failure;
    }
    this.manifest = { ...state, nextSegmentId: Math.max(state.nextSegmentId, this.nextSegmentId) };
  }

  // ---- writes ------------------------------------------------------------------------------

  /** Insert rows (objects) or columns ({ field: values[] }). Existing primary keys are refused: use upsert. */
  async insert(name: string, data: readonly object[] | Record<string, unknown>, options: WriteOptions = {}): Promise<InsertResult> {
    return this.write(name, data, false, options);
  }

  /** Insert or replace by primary key (newest wins). */
  async upsert(name: string, data: readonly object[] | Record<string, unknown>, options: WriteOptions = {}): Promise<InsertResult> {
    return this.write(name, data, true, options);
  }

  /**
   * The last progress of an import (see WriteOptions.progress), or null. After an open it is the
   * last durable one; while running it is the last one written (durable once its insert resolves).
   */
  importProgress(importId: string): ImportProgress | null {
    return this.imports.get(importId) ?? null;
  }

  private async write(name: string, data: readonly object[] | Record<string, unknown>, upsert: boolean, options: WriteOptions): Promise<InsertResult> {
    this.checkWritable();
    const c = this.collection(name);
    const auto = () => c.nextAutoId++;
    const batch = Array.isArray(data) ? rowsToBatch(c.schema, data as Record<string, unknown>[], { forUpsert: upsert, nextAutoId: auto }) : columnsToBatch(c.schema, data as Record<string, unknown[]>, { forUpsert: upsert, nextAutoId: auto, transfer: options.transfer === true });
    const progress = options.progress ? checkProgress(options.progress) : null;
    if (batch.count === 0) return { insertCount: 0, ids: [], lsn: this.wal.lastLsn };
    const keys = c.pkColumn(batch);
    // Writes enter the log in call order (FIFO), so a later call can never be durable without
    // an earlier one (an importer's progress marker relies on it); durability is awaited outside
    // the lock, so concurrent writes still share group commits.
    const { done, lsn } = await this.writeLock.run(async () => {
      await this.backpressure();
      await this.ensurePkIndex(c);
      this.checkLive(c, name);
      if (!upsert) {
        const i = c.pkIndex!.firstPresent(keys);
        if (i >= 0) throw new VecwalError('DATA_INVALID', `primary key ${String(keys.values[i])} already exists in ${name}; use upsert to replace it`);
      }
      // The WAL gathers the encoded parts straight into its frame (vectors are copied once).
      const payload = encodeBatchParts(c.schema, batch, { headroom: WAL_HEADER });
      keepTextsEncoded(c.schema, batch, c.pkField); // the memtable keeps the bytes just encoded, not the strings
      new DataView(payload[0]!.buffer, payload[0]!.byteOffset, WAL_HEADER).setUint32(0, c.meta.id, true);
      const lsn = this.wal.nextLsn;
      const records: AppendInput[] = [{ op: upsert ? OpType.Upsert : OpType.Insert, payload }];
      if (progress) records.push({ op: OpType.Marker, payload: encodeProgress(progress) });
      const done = this.observeAppend(this.wal.append(records), records.length);
      if (upsert) this.applyDeleteColumn(c, keys);
      this.applyInsert(c, batch, keys, lsn, payloadLength(payload) - WAL_HEADER);
      if (progress) {
        this.imports.set(progress.importId, { rows: progress.rows, position: progress.position, lsn: lsn + 1 });
        this.noteMemtable(lsn + 1, records[1]!.payload instanceof Uint8Array ? records[1]!.payload.length : 0);
      }
      return { done, lsn };
    });
    await this.settle(done);
    this.maybeFlush();
    return insertResult(batch.count, lsn, () => primaryKeysOf(c.schema, batch));
  }

  /** Delete by primary keys, or by a filter expression. Returns how many rows were deleted. */
  async delete(name: string, target: { ids: unknown[] } | { filter: string; exprParams?: Record<string, unknown> }): Promise<{ deleteCount: number; lsn: number }> {
    this.checkWritable();
    const c = this.collection(name);
    let wanted: PrimaryKey[] | null = null;
    if ('ids' in target) {
      if (!Array.isArray(target.ids)) throw invalidArgument('ids must be an array');
      wanted = target.ids.map((v) => normalizePrimaryKey(c.schema, v));
    }
    const r = await this.writeLock.run(async () => {
      await this.backpressure();
      await this.ensurePkIndex(c);
      this.checkLive(c, name);
      let pks = wanted;
      if (!pks) {
        const f = target as { filter: string; exprParams?: Record<string, unknown> };
        const rows = await this.read.query(name, { filter: f.filter, exprParams: f.exprParams, outputFields: [c.pkField], limit: Number.MAX_SAFE_INTEGER });
        this.checkLive(c, name);
        pks = rows.map((row) => row[c.pkField] as PrimaryKey);
      }
      pks = pks.filter((pk) => c.pkIndex!.has(pk));
      if (pks.length === 0) return null;
      const body = encodeDelete(pks);
      const lsn = this.wal.nextLsn;
      const done = this.observeAppend(this.wal.append({ op: OpType.Delete, payload: withHeader(c.meta.id, body) }), 1);
      const n = this.applyDeletes(c, pks);
      this.noteMemtable(lsn, body.length);
      return { done, lsn, n };
    });
    if (!r) return { deleteCount: 0, lsn: this.wal.lastLsn };
    await this.settle(r.done);
    this.maybeFlush();
    return { deleteCount: r.n, lsn: r.lsn };
  }

  /** Inside the write lock: the database is writable and the collection still exists under this name. */
  private checkLive(c: Collection, name: string): void {
    this.checkWritable();
    if (this.collections.get(name) !== c) throw new VecwalError('COLLECTION_NOT_FOUND', `collection not found: ${name}`);
  }

  private async settle(done: Promise<unknown>): Promise<void> {
    try {
      await done;
    } catch (e) {
      this.poison(e);
      throw e;
    }
  }

  private applyInsert(c: Collection, batch: ColumnBatch, keys: ColumnData, lsn: number, bytes: number): void {
    if (!c.growing) {
      c.growing = new MemSegment(this.nextSegmentId++, c.meta.id, 'growing');
      c.segments.push(c.growing);
    }
    const block = c.growing.append(batch, lsn, bytes);
    c.pkIndex?.addBlock(c.growing, block, keys);
    this.noteMemtable(lsn, bytes);
  }

  private applyDeletes(c: Collection, pks: PrimaryKey[]): number {
    let n = 0;
    for (const pk of pks) {
      const ref = c.pkIndex!.take(pk);
      if (ref && ref.seg.markDeleted(ref, true)) n++;
    }
    return n;
  }

  /** Delete the rows holding the keys of a primary key column (an upsert's old rows). */
  private applyDeleteColumn(c: Collection, keys: ColumnData): void {
    c.pkIndex!.takeColumn(keys, (ref: RowRef) => void ref.seg.markDeleted(ref, true));
  }

  private noteMemtable(lsn: number, bytes: number): void {
    this.memtableBytes += bytes;
    if (lsn > this.memtableMaxLsn) this.memtableMaxLsn = lsn;
  }

  /** Build the primary key index of a collection (loads its sealed segments); one build at a time. */
  private ensurePkIndex(c: Collection): Promise<void> {
    if (c.pkIndex) return Promise.resolve();
    c.pkIndexBuild ??= (async () => {
      for (const seg of c.segments) await seg.load();
      // No await from here on: the index is built from one consistent view of every segment
      // (it queues the blocks; the first lookup puts them in its table, in one pass sized for them).
      const pk = c.schema.fields.find((f) => f.isPrimaryKey)!;
      const index = new PrimaryKeyIndex(pk.dataType === 'Int64' ? 'Int64' : 'VarChar');
      for (const seg of c.segments) for (const block of seg.blocks) index.addBlock(seg, block, c.pkColumn(block.batch));
      c.pkIndex = index;
    })().finally(() => {
      c.pkIndexBuild = null;
    });
    return c.pkIndexBuild;
  }

  // ---- flush -------------------------------------------------------------------------------

  private maybeFlush(): void {
    if (this.memtableBytes >= this.opts.memtableBytesMax) void this.flush().catch(() => undefined);
  }

  private async backpressure(): Promise<void> {
    // Replay time is bounded by the WAL bytes above the checkpoint: past the budget, a writer
    // waits for a flush (which moves the checkpoint). The memtable size only triggers flushes:
    // while one is written, writers go on into a fresh memtable.
    const above = this.wal.bytesAbove(this.manifest.checkpointLsn);
    if (above <= this.opts.replayBytesMax) return;
    const t0 = performance.now();
    for (;;) {
      const checkpoint = this.manifest.checkpointLsn;
      await this.flush();
      // Done when under budget. Writers wait here under the write lock, so one or two flushes
      // take everything; a flush that moves nothing ends the wait too, whatever the count says.
      if (this.wal.bytesAbove(this.manifest.checkpointLsn) <= this.opts.replayBytesMax || this.manifest.checkpointLsn === checkpoint) break;
    }
    this.opts.onEvent?.({ type: 'stall', durationMs: performance.now() - t0, bytesAboveCheckpoint: above });
  }

  /**
   * Flush the memtable: segment files and delete files, fsynced; then the manifest with the new
   * checkpoint; then WAL cleanup. Every write acknowledged before the call is in a segment file
   * when it resolves. Calls share a flush that has not frozen the memtable yet, so however many
   * triggers fire while a flush runs, one more flush follows it and takes everything written since.
   */
  flush(): Promise<{ segments: number; checkpointLsn: number }> {
    if (this.closed || this.failure) return Promise.reject(this.closed ? closedError(this.dir) : this.failure);
    this.nextFlush ??= this.flushLock.run(() => this.flushNow());
    return this.nextFlush;
  }

  /** With an onEvent hook: report the append's latency (call to durable) when it resolves. */
  private observeAppend<T>(done: Promise<T>, records: number): Promise<T> {
    const onEvent = this.opts.onEvent;
    if (!onEvent) return done;
    const t0 = performance.now();
    return done.then((r) => {
      onEvent({ type: 'append', durationMs: performance.now() - t0, records });
      return r;
    });
  }

  /** The flush itself, under the flush lock (see flush()). */
  private async flushNow(): Promise<{ segments: number; checkpointLsn: number }> {
    this.nextFlush = null; // from here on, a flush() call needs a flush after this one
    if (this.failure) throw this.failure; // a flush queued behind a failed one must not run
    const t0 = performance.now();
    const upto = this.memtableMaxLsn;
    if (upto <= this.manifest.checkpointLsn) return { segments: 0, checkpointLsn: this.manifest.checkpointLsn };
    // Freeze: writers from here on go to fresh growing segments.
    // Every delete this flush records is taken here, in the same synchronous step as the freeze:
    // exactly the deletes of writes up to `upto`, all of which the wal.sync() below makes
    // durable. A delete applied later (its write may never become durable) stays pending for
    // the next flush, whose checkpoint covers it; recording it now could outlive its write.
    const frozen: { c: Collection; seg: MemSegment; deleted: number[] }[] = [];
    const deletes: { c: Collection; seg: MemSegment; rows: number[] }[] = [];
    for (const c of this.collections.values()) {
      for (const seg of c.segments) {
        if (seg.state === 'sealed' && seg.pendingDeletes.length > 0) {
          deletes.push({ c, seg, rows: seg.pendingDeletes });
          seg.pendingDeletes = [];
        }
      }
      if (c.growing) {
        // Every delete marks its row through markDeleted(…, track), so a growing segment's
        // pending deletes are all its deleted rows: taken here exactly like a sealed one's.
        const seg = c.growing;
        seg.state = 'frozen';
        frozen.push({ c, seg, deleted: seg.pendingDeletes });
        seg.pendingDeletes = [];
        c.growing = null;
      }
    }
    this.memtableBytes = 0;
    await this.settle(this.wal.sync()); // every LSN <= upto is now in the OS and durable
    let r: { segments: number; checkpointLsn: number };
    try {
      r = await this.writeFlush(upto, frozen, deletes);
    } catch (e) {
      this.poison(e);
      throw this.failure;
    }
    if (r.segments > 0) this.opts.onEvent?.({ type: 'flush', durationMs: performance.now() - t0, segments: r.segments });
    return r;
  }

  private async writeFlush(upto: number, frozen: { c: Collection; seg: MemSegment; deleted: number[] }[], deletes: { c: Collection; seg: MemSegment; rows: number[] }[]): Promise<{ segments: number; checkpointLsn: number }> {
    const added = new Map<number, SegmentMeta[]>();
    let fileNo = 0;
    for (const { c, seg, deleted: rows } of frozen) {
      if (seg.rows === 0) continue;
      // The segment file is written from the blocks' own columns, nothing concatenated (a copy of
      // every vector into fresh memory cost about a fifth of the ingest); the blocks stay as they
      // are and become the sealed segment's rows.
      const dir = this.segmentDir(seg.id);
      const { bytes } = await writeSegment(this.fs, dir, { segmentId: seg.id, collectionId: c.meta.id, minLsn: seg.minLsn, maxLsn: seg.maxLsn }, c.schema, seg.blocks.map((b) => b.batch));
      const meta: SegmentMeta = { id: seg.id, rows: seg.rows, minLsn: seg.minLsn, maxLsn: seg.maxLsn, bytes, deleteFiles: [] };
      if (rows.length > 0) meta.deleteFiles.push(await this.writeDeletes(seg.id, rows, upto, fileNo++));
      added.set(c.meta.id, [...(added.get(c.meta.id) ?? []), meta]);
    }
    const delFiles = new Map<number, string>();
    for (const d of deletes) delFiles.set(d.seg.id, await this.writeDeletes(d.seg.id, d.rows, upto, fileNo++));
    await this.metaLock.run(async () => {
      const collections = this.manifest.collections.map((m) => {
        const c = this.byId.get(m.id);
        const segs = m.segments.map((s) => (delFiles.has(s.id) ? { ...s, deleteFiles: [...s.deleteFiles, delFiles.get(s.id)!] } : s));
        return { ...m, segments: [...segs, ...(added.get(m.id) ?? [])], nextAutoId: String(c ? c.nextAutoId : BigInt(m.nextAutoId)) };
      });
      const imports = { ...(this.manifest.imports ?? {}) };
      for (const [id, p] of this.imports) if (p.lsn <= upto) imports[id] = p;
      await this.commitManifest({ ...this.manifest, checkpointLsn: upto, collections, imports });
      for (const c of this.collections.values()) c.meta = collections.find((m) => m.id === c.meta.id) ?? c.meta;
    });
    for (const { seg } of frozen) seg.state = 'sealed';
    await this.wal.truncate(upto).catch((e) => this.poison(e));
    this.maybeCompact();
    return { segments: added.size, checkpointLsn: upto };
  }

  // ---- compaction --------------------------------------------------------------------------

  /**
   * Merge a collection's small sealed segments, and rewrite those with many deletes, dropping
   * deleted rows (upserts leave the replaced row deleted, so superseded rows go too): groups
   * chosen by compactionPlan, one at a time, until none is left. Each group is atomic: the new
   * segment file is written and fsynced, then one manifest write swaps it for the old ones; a
   * crash before that leaves an orphan that open removes, a crash after leaves old folders that
   * open removes. Deletes that land while the new file is written are carried over to the new
   * segment.
   */
  async compact(name: string): Promise<{ before: number; after: number; rowsDropped: number }> {
    this.checkWritable();
    const sealed = () => this.collection(name).segments.filter((s) => s.state === 'sealed').length;
    const before = sealed();
    let rowsDropped = 0;
    for (;;) {
      // The flush lock is taken per group: flushes go on between groups.
      const dropped = await this.flushLock.run(() => this.compactGroup(name));
      if (dropped === null) break;
      rowsDropped += dropped;
    }
    return { before, after: sealed(), rowsDropped };
  }

  /**
   * The sealed segments the next compaction of `c` takes (size-tiered, like Milvus's mix
   * compaction): those below half of compactionMaxBytes or with at least a fifth of their rows
   * deleted, oldest first, as many as fit in compactionMaxBytes of live data. Full segments
   * without deletes are never rewritten, so a bulk import's write amplification stays bounded,
   * and so does the time a compaction holds the flush lock.
   */
  private compactionPlan(c: Collection): { group: MemSegment[]; small: number; deleteHeavy: boolean } {
    const max = this.opts.compactionMaxBytes;
    const bytes = new Map(c.meta.segments.map((m) => [m.id, m.bytes]));
    const group: MemSegment[] = [];
    let small = 0;
    let deleteHeavy = false;
    let total = 0;
    for (const s of [...c.segments].sort((x, y) => x.id - y.id)) {
      if (s.state !== 'sealed' || s.rows === 0) continue;
      const size = bytes.get(s.id) ?? 0;
      const heavy = s.deletedRows * 5 >= s.rows;
      if (size >= max / 2 && !heavy) continue;
      if (size < max / 2) small++;
      deleteHeavy ||= heavy;
      const live = (size * s.liveRows()) / s.rows;
      if (group.length > 0 && total + live > max) continue;
      group.push(s);
      total += live;
    }
    return { group, small, deleteHeavy };
  }

  /** Compact the next group of `name` (under the flush lock); the rows dropped, or null if there is nothing to do. */
  private async compactGroup(name: string): Promise<number | null> {
    this.checkWritable();
    const c = this.collection(name);
    const olds = this.compactionPlan(c).group;
    if (olds.length < 2 && !olds.some((s) => s.deletedRows > 0)) return null;
    for (const s of olds) await s.load();
    const parts: CompactPart[] = [];
    for (const s of olds) for (const b of s.blocks) parts.push(...keptParts(c.schema, b));
    // The rows dropped are those deleted so far, some by writes above the checkpoint that may
    // not be durable yet: make them durable before any file leaves those rows out (a delete that
    // never reached the disk must not outlive a crash in the compacted segment). Deletes from
    // here on are carried over to the new segment (swapCompacted).
    await this.settle(this.wal.sync());
    const merged = { count: parts.reduce((n, p) => n + p.batch.count, 0) };
    const id = this.nextSegmentId++;
    const minLsn = Math.min(...olds.map((s) => s.minLsn));
    const maxLsn = Math.max(...olds.map((s) => s.maxLsn));
    try {
      // Written from the kept rows' own arrays (whole blocks and long runs as they are).
      const { bytes } = merged.count > 0 ? await writeSegment(this.fs, this.segmentDir(id), { segmentId: id, collectionId: c.meta.id, minLsn, maxLsn }, c.schema, parts.map((p) => p.batch)) : { bytes: 0 };
      const meta: SegmentMeta = { id, rows: merged.count, minLsn, maxLsn, bytes, deleteFiles: [] };
      const oldIds = new Set(olds.map((s) => s.id));
      await this.metaLock.run(async () => {
        const collections = this.manifest.collections.map((m) => (m.id === c.meta.id ? { ...m, segments: [...m.segments.filter((s) => !oldIds.has(s.id)), ...(merged.count > 0 ? [meta] : [])] } : m));
        await this.commitManifest({ ...this.manifest, collections });
        c.meta = collections.find((m) => m.id === c.meta.id)!;
      });
      this.swapCompacted(c, olds, parts, meta);
      for (const s of olds) await removeTree(this.fs, this.segmentDir(s.id)).catch(() => undefined);
      return olds.reduce((n, s) => n + s.rows, 0) - merged.count;
    } catch (e) {
      this.poison(e);
      throw this.failure;
    }
  }

  /** After a flush: compact, in the background, collections with enough small or delete-heavy segments. */
  private maybeCompact(): void {
    const min = this.opts.compactionMinSegments;
    if (min <= 0) return;
    for (const [name, c] of this.collections) {
      if (this.compacting.has(c)) continue; // its running compact() takes every group there is
      const plan = this.compactionPlan(c);
      if (plan.small < min && !plan.deleteHeavy) continue;
      this.compacting.add(c);
      void this.compact(name)
        .catch(() => undefined)
        .finally(() => this.compacting.delete(c));
    }
  }

  /** Synchronously replace the old segments by the compacted one in memory (one block per part). */
  private swapCompacted(c: Collection, olds: MemSegment[], parts: CompactPart[], meta: SegmentMeta): void {
    const seg = new MemSegment(meta.id, c.meta.id, 'sealed');
    const moved = new Set<Block>();
    for (const p of parts) {
      if (p.whole) {
        // A block that had no deletes moves as it is (with the deletes it got while the file was
        // written): its keys keep pointing at it, so the index has nothing to update per row.
        seg.adopt(p.from);
        c.pkIndex?.moveBlock(p.from, seg);
        moved.add(p.from);
        continue;
      }
      const block = seg.append(p.batch, 0, 0);
      const keys = c.pkColumn(p.batch);
      const id = c.pkIndex?.blockId(seg, block) ?? 0;
      for (let i = 0; i < p.batch.count; i++) {
        const from = p.rows ? p.rows[i]! : p.offset + i;
        if (getBit(p.from.deleted, from)) seg.markDeleted({ block, row: i }, true); // deleted while we wrote
        else c.pkIndex?.setAt(keys, i, id, i);
      }
    }
    // Every live row of the old segments now points to the new one.
    c.pkIndex?.releaseBlocks(olds.flatMap((s) => s.blocks).filter((b) => !moved.has(b)));
    seg.minLsn = meta.minLsn;
    seg.maxLsn = meta.maxLsn;
    const oldSet = new Set(olds);
    const rest = c.segments.filter((s) => !oldSet.has(s));
    c.segments = seg.rows > 0 ? [seg, ...rest] : rest;
  }

  /** Delete file names carry the flush's checkpoint (unique per flush) and a counter within it. */
  private async writeDeletes(segId: number, rows: number[], upto: number, k: number): Promise<string> {
    const name = `deletes_${String(upto).padStart(12, '0')}_${k}.del`;
    await writeDeleteFile(this.fs, joinPath(this.segmentDir(segId), name), rows);
    return name;
  }

  private startTimer(): void {
    this.timer = setInterval(() => {
      if (this.memtableMaxLsn > this.manifest.checkpointLsn && !this.closed && !this.failure) void this.flush().catch(() => undefined);
    }, this.opts.flushIntervalMs);
    this.timer.unref();
  }

  // ---- state -------------------------------------------------------------------------------

  private checkWritable(): void {
    if (this.closed) throw closedError(this.dir);
    if (this.failure) throw this.failure;
  }

  private poison(e: unknown): void {
    if (this.failure) return;
    const cause = e instanceof VecwalError ? e : ioError('write', this.dir, e);
    this.failure = new VecwalError('WAL_FAILED', `database ${this.dir} failed and refuses writes until reopened: ${cause.message}`, { cause });
  }

  /** @internal for Reader */
  allCollections(): Collection[] {
    return [...this.collections.values()];
  }

  stats(): { collections: number; memtableBytes: number; checkpointLsn: number; lastLsn: number; wal: ReturnType<Wal['stats']> } {
    return { collections: this.collections.size, memtableBytes: this.memtableBytes, checkpointLsn: this.manifest.checkpointLsn, lastLsn: this.wal.lastLsn, wal: this.wal.stats() };
  }

  collectionStats(name: string): { rowCount: number; segments: number; growingRows: number } {
    const c = this.collection(name);
    let rowCount = 0;
    let growingRows = 0;
    for (const s of c.segments) {
      rowCount += s.liveRows();
      if (s.state !== 'sealed') growingRows += s.liveRows();
    }
    return { rowCount, segments: c.segments.filter((s) => s.state === 'sealed').length, growingRows };
  }

  /** Close: finish writes, then close the WAL (no flush: the WAL holds everything). */
  async close(options: { flush?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (options.flush && !this.failure) await this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.flushLock.run(async () => undefined);
    try {
      await this.wal.close();
    } finally {
      await this.lock?.release();
      this.lock = null;
    }
  }
}

function withHeader(collectionId: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(WAL_HEADER + body.length);
  new DataView(out.buffer).setUint32(0, collectionId, true);
  out.set(body, WAL_HEADER);
  return out;
}

export type { Block };

/** Rows of an old block that go into a compacted segment, and where each came from. */
interface CompactPart {
  batch: ColumnBatch;
  from: Block;
  /** Row of `from` of each row of `batch`; null: rows offset, offset + 1, ... */
  rows: Uint32Array | null;
  offset: number;
  /** The whole block, without deletes when planned: it moves to the new segment as it is. */
  whole: boolean;
}

/** Up to this many runs of kept rows of a block are kept as views rather than copied. */
const MAX_VIEW_RUNS = 8;

/**
 * The live rows of a block (deleted rows as of now), for compaction. A block with no deletes
 * is taken as it is and a few long runs as views (no copy: a copy of every vector into fresh
 * memory costs more than writing them out); a block with many holes or that lost more than a
 * quarter of its rows is copied, so the dropped rows' memory can go.
 */
function keptParts(schema: CollectionSchema, b: Block): CompactPart[] {
  const n = b.batch.count;
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (!getBit(b.deleted, i)) keep.push(i);
  if (keep.length === 0) return [];
  if (keep.length === n) return [{ batch: b.batch, from: b, rows: null, offset: 0, whole: true }];
  const runs: [number, number][] = [];
  for (let i = 0; i < keep.length; ) {
    let j = i;
    while (j + 1 < keep.length && keep[j + 1] === keep[j]! + 1) j++;
    runs.push([keep[i]!, keep[j]! + 1]);
    i = j + 1;
  }
  if (runs.length <= MAX_VIEW_RUNS && keep.length * 4 >= n * 3) return runs.map(([s, e]) => ({ batch: sliceBatch(b.batch, s, e), from: b, rows: null, offset: s, whole: false }));
  return [{ batch: concatBatches(schema, runs.map(([s, e]) => sliceBatch(b.batch, s, e))), from: b, rows: Uint32Array.from(keep), offset: 0, whole: false }];
}

const PROGRESS_TAG = 'vecwal.import.v1';

function checkProgress(p: { importId: string; rows: number; position: number }): { importId: string; rows: number; position: number } {
  if (typeof p.importId !== 'string' || p.importId === '' || p.importId.length > 256) throw invalidArgument('progress.importId must be a non-empty string of at most 256 characters');
  if (!Number.isSafeInteger(p.rows) || p.rows < 0) throw invalidArgument('progress.rows must be a non-negative integer');
  if (!Number.isSafeInteger(p.position) || p.position < 0) throw invalidArgument('progress.position must be a non-negative integer');
  return p;
}

/** Import progress travels as a MARKER record in the same WAL batch as the rows it counts. */
function encodeProgress(p: { importId: string; rows: number; position: number }): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ t: PROGRESS_TAG, id: p.importId, rows: p.rows, pos: p.position }));
}

function decodeProgress(payload: Uint8Array): { importId: string; rows: number; position: number } | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(payload)) as { t?: string; id?: string; rows?: number; pos?: number };
    return v.t === PROGRESS_TAG && typeof v.id === 'string' ? { importId: v.id, rows: Number(v.rows), position: Number(v.pos) } : null;
  } catch {
    return null;
  }
}
