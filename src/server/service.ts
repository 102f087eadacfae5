/**
 * The Milvus service: Milvus semantics (databases, collections, indexes, load state, aliases,
 * partitions, entities, hybrid search) on vecwal engines, independent of the wire protocol. The
 * REST handler (rest.ts) and the gRPC handler (grpc.ts) translate requests into these calls and
 * results back; both therefore behave the same way.
 *
 * Layout of a server data directory:
 *   <data>/                    the `default` database: a vecwal Database directory (wal/, data/,
 *                              meta/, LOCK), so `vecwal search --data <data>` reads it directly
 *   <data>/databases/<name>/   every other database, each its own vecwal Database (own WAL)
 * A database exists exactly when databases/<name>/ holds a manifest. Creating one builds it
 * complete under databases/.creating-<name>-<ms>/ and renames it into place; dropping one
 * renames it to databases/.dropped-<name>-<ms>/ and then deletes it. Both renames are atomic,
 * and leftovers of either are removed at open. The default database's LOCK keeps a second
 * server out. Every service-level edit is one atomic manifest write of one engine (collection
 * and its index/load metadata together; a drop or rename with its aliases together).
 *
 * What the engine does not interpret is kept in its manifest's `properties` (src/db/database.ts
 * alterCollection / setProperties), so it changes atomically with everything else:
 *   collection properties: { indexes: IndexSpec[], loaded: boolean, consistencyLevel, properties }
 *   database properties:   { id, createdAtMs, aliases: {alias: collection}, properties }
 *
 * Semantics worth knowing (docs/server.md):
 *   - Search is exact over every live row. Index types other than FLAT and AUTOINDEX (HNSW,
 *     IVF_FLAT, ...) are accepted and recorded, so existing client code runs, and searched
 *     exactly: results are at least as good as the index would give.
 *   - Every consistency level reads the latest acknowledged write (writes are synchronous).
 *   - As Milvus, a collection must be loaded for search, query and get (code 101), and loading
 *     needs an index on the vector field (code 700). Quick-create indexes and loads.
 *   - Only the `_default` partition exists; naming another partition is an error.
 *   - Insert refuses a primary key that exists (Milvus would store a duplicate); use upsert.
 */
import type { FileSystem } from '../fs/fs.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import { joinPath, mkdirDurable, removeTree } from '../fs/io.js';
import { Database, type DatabaseEvent, type DatabaseOptions, type OpenReport } from '../db/database.js';
import type { CollectionSchema, FieldSchema, MetricType } from '../db/types.js';
import { METRIC_TYPES } from '../db/types.js';
import type { QuickCreateOptions } from '../db/schema.js';
import type { Row, SearchResultRow } from '../db/reader.js';

import { MilvusCode, MilvusError, milvusMessage, toMilvusError } from './milvus-error.js';

export const DEFAULT_DATABASE = 'default';
export const DEFAULT_PARTITION = '_default';
export const CONSISTENCY_LEVELS = ['Strong', 'Session', 'Bounded', 'Eventually', 'Customized'] as const;
export type ConsistencyLevel = (typeof CONSISTENCY_LEVELS)[number];

/** Vector index types a client may ask for. FLAT and AUTOINDEX are what runs; the others are recorded and searched exactly. */
export const VECTOR_INDEX_TYPES = ['FLAT', 'AUTOINDEX', 'IVF_FLAT', 'IVF_SQ8', 'IVF_PQ', 'HNSW', 'HNSW_SQ', 'HNSW_PQ', 'HNSW_PRQ', 'SCANN', 'DISKANN', 'BRUTE_FORCE'] as const;
/** Scalar index types: recorded; filters scan. */
export const SCALAR_INDEX_TYPES = ['INVERTED', 'STL_SORT', 'Trie', 'BITMAP', 'AUTOINDEX', ''] as const;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_DATABASES = 64;

/** An index on one field, as created by create_index. */
export interface IndexSpec {
  indexName: string;
  fieldName: string;
  indexType: string;
  /** Vector indexes only. */
  metricType?: MetricType;
  /** Index build parameters as given (M, efConstruction, nlist, ...), stringified. */
  params: Record<string, string>;
  createdAtMs: number;
}

interface CollectionProps {
  indexes: IndexSpec[];
  loaded: boolean;
  consistencyLevel: ConsistencyLevel;
  /** Milvus collection properties (collection.ttl.seconds, mmap.enabled, ...): stored, reported. */
  properties: Record<string, string>;
}

interface DatabaseProps {
  id: number;
  createdAtMs: number;
  aliases: Record<string, string>;
  properties: Record<string, string>;
}

export interface CreateCollectionRequest {
  collectionName: string;
  /** Quick create: the vector dimension (no `fields`). */
  dimension?: number;
  quick?: QuickCreateOptions;
  /** Full schema: the fields (vecwal FieldSchema; the protocol layer converts). */
  fields?: FieldSchema[];
  enableDynamicField?: boolean;
  description?: string;
  /** Metric for quick create (default COSINE) or for the index of `indexes`. */
  metricType?: MetricType;
  /** Indexes to create now (REST indexParams); then the collection is loaded. */
  indexes?: Array<Omit<IndexSpec, 'createdAtMs' | 'indexName' | 'params'> & { indexName?: string; params?: Record<string, unknown> }>;
  consistencyLevel?: ConsistencyLevel;
  properties?: Record<string, unknown>;
  /** Partition count for a partition key; only 0 (none) is supported. */
  numPartitions?: number;
}

export interface CollectionDescription {
  collectionName: string;
  collectionId: number;
  dbName: string;
  dbId: number;
  description: string;
  schema: CollectionSchema;
  autoId: boolean;
  enableDynamicField: boolean;
  /** Milvus field ids: 100 + position in the schema. */
  fieldIds: Record<string, number>;
  indexes: IndexSpec[];
  aliases: string[];
  loaded: boolean;
  consistencyLevel: ConsistencyLevel;
  properties: Record<string, string>;
  createdAtMs: number;
  /** Hybrid timestamp of creation (Milvus TSO form). */
  createdTimestamp: bigint;
  shardsNum: number;
  partitionsNum: number;
}

export interface IndexDescription extends IndexSpec {
  totalRows: number;
  indexedRows: number;
  pendingRows: number;
  state: 'Finished';
}

export interface WriteResult {
  count: number;
  /** Primary keys written, in input order (Int64 as bigint, VarChar as string). */
  ids: Array<bigint | string>;
  /** Hybrid timestamp of the write (Milvus TSO form: ms << 18 | logical). */
  timestamp: bigint;
}

export interface SearchRequest {
  collectionName: string;
  /** Query vectors. */
  data: ArrayLike<number>[];
  annsField?: string;
  filter?: string;
  exprParams?: Record<string, unknown>;
  /** Default 100 (REST) or as given (gRPC topk). */
  limit?: number;
  offset?: number;
  outputFields?: string[];
  metricType?: string;
  /** Search parameters (nprobe, ef, radius, range_filter, ...). radius/range_filter are applied. */
  params?: Record<string, unknown>;
  partitionNames?: string[];
  groupingField?: string;
  consistencyLevel?: string;
}

export interface HybridSearchRequest {
  collectionName: string;
  searches: Array<Omit<SearchRequest, 'collectionName' | 'outputFields' | 'partitionNames' | 'consistencyLevel'>>;
  rerank: { strategy: 'rrf'; k?: number } | { strategy: 'weighted'; weights: number[]; normScore?: boolean };
  limit?: number;
  offset?: number;
  outputFields?: string[];
  partitionNames?: string[];
  consistencyLevel?: string;
}

export interface SearchResult {
  /** One list per query vector; each row holds the primary key, the output fields and `distance`. */
  results: SearchResultRow[][];
  /** Name of the primary key field (it is in every row). */
  pkField: string;
  /** The output fields actually returned (pk first), for protocols that need the list. */
  outputFields: string[];
}

export interface QueryRequest {
  collectionName: string;
  filter?: string;
  exprParams?: Record<string, unknown>;
  /** Default: every field ('*'); `count(*)` returns the number of matching rows. */
  outputFields?: string[];
  /** Default 100 when there is no filter (REST convention); unlimited with a filter unless given. */
  limit?: number;
  offset?: number;
  partitionNames?: string[];
  consistencyLevel?: string;
}

export interface ServiceOptions {
  /** Server data directory (the default database). */
  dataDir: string;
  fs?: FileSystem;
  /** Engine options for every database. */
  engine?: DatabaseOptions;
  /** Engine events (WAL syncs, appends, flushes) by database, for metrics. Must not throw. */
  onEngineEvent?: (db: string, event: DatabaseEvent) => void;
  /** Called when a database opens (recovery report) or is dropped. */
  onEvent?: (event: { type: 'database-open'; db: string; report: OpenReport } | { type: 'database-drop'; db: string }) => void;
}

/** Hybrid (TSO) timestamps: milliseconds << 18 | a logical counter, strictly increasing. */
class HybridClock {
  private last = 0n;
  now(): bigint {
    let ts = BigInt(Date.now()) << 18n;
    if (ts <= this.last) ts = this.last + 1n;
    this.last = ts;
    return ts;
  }
}

export function hybridTimestamp(ms: number): bigint {
  return BigInt(ms) << 18n;
}

interface OpenDatabase {
  name: string;
  dir: string;
  engine: Database;
}

function checkName(kind: 'database' | 'collection' | 'alias' | 'partition', name: unknown, code: number = MilvusCode.ParameterInvalid): string {
  if (typeof name !== 'string' || name === '') throw new MilvusError(MilvusCode.ParameterInvalid, `${kind} name should not be empty`);
  if (name.length > 255 || !NAME_RE.test(name)) {
    throw new MilvusError(code, milvusMessage(`invalid ${kind} name: the first character must be a letter or underscore, and the rest letters, digits or underscores (at most 255)`, { [kind]: name.slice(0, 300) }));
  }
  return name;
}

function asStringMap(v: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v ?? {})) out[k] = typeof x === 'string' ? x : JSON.stringify(x);
  return out;
}

function checkConsistency(level: string | undefined): ConsistencyLevel | undefined {
  if (level === undefined || level === '') return undefined;
  const found = CONSISTENCY_LEVELS.find((l) => l.toLowerCase() === level.toLowerCase());
  if (!found) throw new MilvusError(MilvusCode.ParameterInvalid, `invalid consistency level ${level}: use one of ${CONSISTENCY_LEVELS.join(', ')}`);
  return found;
}

function checkMetric(metric: unknown): MetricType | undefined {
  if (metric === undefined || metric === null || metric === '') return undefined;
  const m = String(metric).toUpperCase();
  if (!(METRIC_TYPES as readonly string[]).includes(m)) {
    throw new MilvusError(MilvusCode.ParameterInvalid, `metric type ${String(metric)} is not supported for a float vector: use L2, IP or COSINE`);
  }
  return m as MetricType;
}

function checkPartitions(names: string[] | undefined, collection: string): void {
  for (const p of names ?? []) {
    if (p !== DEFAULT_PARTITION) throw new MilvusError(MilvusCode.PartitionNotFound, milvusMessage('partition not found', { partition: p, collection }));
  }
}

export class MilvusService {
  private readonly fs: FileSystem;
  private readonly dataDir: string;
  private readonly options: ServiceOptions;
  private readonly databases = new Map<string, OpenDatabase>();
  private readonly clock = new HybridClock();
  /** Serializes database create/drop and metadata edits that read-modify-write properties. */
  private ddl: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(options: ServiceOptions, fs: FileSystem) {
    this.options = options;
    this.fs = fs;
    this.dataDir = options.dataDir;
  }

  /** Open every database under the data directory (recovery runs for each; reports go to onEvent). */
  static async open(options: ServiceOptions): Promise<MilvusService> {
    const fs = options.fs ?? new NodeFileSystem();
    const svc = new MilvusService(options, fs);
    await mkdirDurable(fs, options.dataDir);
    await svc.openDatabase(DEFAULT_DATABASE, options.dataDir);
    try {
      const root = joinPath(options.dataDir, 'databases');
      if (await fs.stat(root)) {
        for (const name of (await fs.readdir(root)).sort()) {
          if (name.startsWith('.dropped-') || name.startsWith('.creating-')) {
            await removeTree(fs, joinPath(root, name)); // a drop that crashed after its rename, or a create before its rename
            continue;
          }
          if (!NAME_RE.test(name) || name === DEFAULT_DATABASE) continue;
          if (!(await fs.stat(joinPath(root, name, 'meta', 'MANIFEST')))) continue; // not a database: left alone
          await svc.openDatabase(name, joinPath(root, name));
        }
      }
    } catch (e) {
      await svc.close();
      throw e;
    }
    return svc;
  }

  private async openDatabase(name: string, dir: string): Promise<OpenDatabase> {
    const hook = this.options.onEngineEvent;
    const engine = await Database.open(dir, { ...this.options.engine, fs: this.fs, ...(hook ? { onEvent: (e: DatabaseEvent) => hook(name, e) } : {}) });
    const db = { name, dir, engine };
    this.databases.set(name, db);
    const props = engine.properties();
    if (props.id === undefined) {
      const p: DatabaseProps = { id: name === DEFAULT_DATABASE ? 1 : Date.now(), createdAtMs: Date.now(), aliases: {}, properties: {} };
      await engine.setProperties({ ...p });
    }
    this.options.onEvent?.({ type: 'database-open', db: name, report: engine.report });
    return db;
  }

  /** Close every engine cleanly (writes finish, the WAL closes; nothing acknowledged is lost). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ddl.catch(() => undefined);
    const errors: unknown[] = [];
    for (const db of this.databases.values()) await db.engine.close().catch((e) => errors.push(e));
    this.databases.clear();
    if (errors.length > 0) throw errors[0];
  }

  /** Engines by database name (for metrics and tests). */
  engines(): Map<string, Database> {
    return new Map([...this.databases].map(([k, v]) => [k, v.engine]));
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.ddl.then(fn, fn);
    this.ddl = run.catch(() => undefined);
    return run;
  }

  private db(name: string | undefined): OpenDatabase {
    if (this.closed) throw new MilvusError(MilvusCode.ServiceUnavailable, 'the server is shutting down');
    const dbName = name === undefined || name === '' ? DEFAULT_DATABASE : name;
    const db = this.databases.get(dbName);
    if (!db) throw new MilvusError(MilvusCode.DatabaseNotFound, milvusMessage('database not found', { database: dbName }));
    return db;
  }

  private dbProps(db: OpenDatabase): DatabaseProps {
    const p = db.engine.properties() as Partial<DatabaseProps>;
    return { id: p.id ?? 0, createdAtMs: p.createdAtMs ?? 0, aliases: p.aliases ?? {}, properties: p.properties ?? {} };
  }

  /** The collection a name or alias refers to, or CollectionNotFound. */
  private resolve(db: OpenDatabase, nameOrAlias: unknown): string {
    if (typeof nameOrAlias !== 'string' || nameOrAlias === '') throw new MilvusError(MilvusCode.ParameterInvalid, 'collection name should not be empty');
    if (db.engine.hasCollection(nameOrAlias)) return nameOrAlias;
    const target = this.dbProps(db).aliases[nameOrAlias];
    if (target !== undefined && db.engine.hasCollection(target)) return target;
    throw new MilvusError(MilvusCode.CollectionNotFound, milvusMessage('collection not found', { database: db.name, collection: nameOrAlias }));
  }

  private collProps(db: OpenDatabase, name: string): CollectionProps {
    const p = db.engine.collectionProperties(name) as Partial<CollectionProps>;
    return { indexes: p.indexes ?? [], loaded: p.loaded ?? false, consistencyLevel: p.consistencyLevel ?? 'Bounded', properties: p.properties ?? {} };
  }

  private async setCollProps(db: OpenDatabase, name: string, props: CollectionProps, metricType?: MetricType): Promise<void> {
    await db.engine.alterCollection(name, { properties: { ...props }, ...(metricType ? { metricType } : {}) });
  }

  private async wrap<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toMilvusError(e);
    }
  }

  // ---- databases -----------------------------------------------------------------------------

  listDatabases(): string[] {
    return [DEFAULT_DATABASE, ...[...this.databases.keys()].filter((n) => n !== DEFAULT_DATABASE).sort()];
  }

  async createDatabase(name: string, properties?: Record<string, unknown>): Promise<void> {
    checkName('database', name, MilvusCode.DatabaseInvalidName);
    if (name.length > 64) throw new MilvusError(MilvusCode.DatabaseInvalidName, milvusMessage('database name must be at most 64 characters', { database: name }));
    return this.serialize(() =>
      this.wrap(async () => {
        if (this.databases.has(name)) throw new MilvusError(MilvusCode.Unexpected, milvusMessage('database already exist', { database: name }));
        if (this.databases.size >= MAX_DATABASES) throw new MilvusError(MilvusCode.DatabaseNumLimitExceeded, `exceeded the limit number of database (${MAX_DATABASES})`);
        // Built complete under a temporary name, then renamed into place: a crash leaves either
        // no database or the whole one (a .creating-* leftover is removed at open).
        const root = joinPath(this.dataDir, 'databases');
        await mkdirDurable(this.fs, root);
        const tmp = joinPath(root, `.creating-${name}-${Date.now()}`);
        const staging = await Database.open(tmp, { ...this.options.engine, fs: this.fs, flushIntervalMs: 0 });
        try {
          const p: DatabaseProps = { id: Date.now(), createdAtMs: Date.now(), aliases: {}, properties: asStringMap(properties) };
          await staging.setProperties({ ...p });
        } finally {
          await staging.close();
        }
        await this.fs.rename(tmp, joinPath(root, name));
        await this.fs.syncDir(root);
        await this.openDatabase(name, joinPath(root, name));
      }),
    );
  }

  async dropDatabase(name: string): Promise<void> {
    return this.serialize(() =>
      this.wrap(async () => {
        if (name === DEFAULT_DATABASE) throw new MilvusError(MilvusCode.ParameterInvalid, 'can not drop default database');
        const db = this.db(name);
        if (db.engine.listCollections().length > 0) {
          throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('can not drop a database that still has collections: drop them first', { database: name }));
        }
        await db.engine.close();
        this.databases.delete(name);
        const root = joinPath(this.dataDir, 'databases');
        const gone = joinPath(root, `.dropped-${name}-${Date.now()}`);
        await this.fs.rename(db.dir, gone);
        await this.fs.syncDir(root);
        await removeTree(this.fs, gone);
        this.options.onEvent?.({ type: 'database-drop', db: name });
      }),
    );
  }

  describeDatabase(name: string): { dbName: string; dbId: number; createdTimestamp: bigint; properties: Record<string, string> } {
    const db = this.db(name);
    const p = this.dbProps(db);
    return { dbName: db.name, dbId: p.id, createdTimestamp: hybridTimestamp(p.createdAtMs), properties: p.properties };
  }

  async alterDatabaseProperties(name: string, set: Record<string, unknown>, dropKeys: string[] = []): Promise<void> {
    const db = this.db(name);
    return this.serialize(() =>
      this.wrap(async () => {
        const p = this.dbProps(db);
        const properties = { ...p.properties, ...asStringMap(set) };
        for (const k of dropKeys) delete properties[k];
        await db.engine.setProperties({ ...p, properties });
      }),
    );
  }

  // ---- collections ---------------------------------------------------------------------------

  async createCollection(dbName: string | undefined, req: CreateCollectionRequest): Promise<void> {
    const db = this.db(dbName);
    const name = checkName('collection', req.collectionName);
    const consistencyLevel = checkConsistency(req.consistencyLevel) ?? 'Bounded';
    if (req.numPartitions !== undefined && req.numPartitions > 0) {
      throw new MilvusError(MilvusCode.ParameterInvalid, 'partition keys are not supported by vecwal (only the _default partition exists)');
    }
    return this.serialize(() =>
      this.wrap(async () => {
        if (db.engine.hasCollection(name) || this.dbProps(db).aliases[name] !== undefined) {
          throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('collection already exists', { database: db.name, collection: name }));
        }
        const quick = !req.fields || req.fields.length === 0;
        let indexes: IndexSpec[] = [];
        // Index definitions and load state go into the same manifest write as the collection.
        const props = (): Record<string, unknown> => ({ indexes, loaded: indexes.some((i) => i.metricType !== undefined), consistencyLevel, properties: asStringMap(req.properties) }) satisfies CollectionProps;
        let metric = checkMetric(req.metricType);
        if (quick) {
          if (req.dimension === undefined) throw new MilvusError(MilvusCode.ParameterInvalid, 'dimension is required for quick create (a collection without schema fields)');
          const vectorField = req.quick?.vectorFieldName ?? 'vector';
          metric = metric ?? 'COSINE';
          indexes = [{ indexName: vectorField, fieldName: vectorField, indexType: 'AUTOINDEX', metricType: metric, params: {}, createdAtMs: Date.now() }];
          await db.engine.createCollection({
            name,
            dimension: req.dimension,
            ...req.quick,
            metricType: metric,
            ...(req.enableDynamicField !== undefined ? { enableDynamicField: req.enableDynamicField } : {}),
            ...(req.description !== undefined ? { description: req.description } : {}),
          }, { properties: props() });
        } else {
          const schema = { name, fields: req.fields!, enableDynamicField: req.enableDynamicField ?? false, metricType: metric ?? 'COSINE', ...(req.description ? { description: req.description } : {}) };
          const vector = schema.fields.find((f) => f.dataType === 'FloatVector');
          for (const spec of req.indexes ?? []) indexes.push(this.checkIndex(schema as CollectionSchema, spec, indexes));
          const vIndex = indexes.find((i) => vector && i.fieldName === vector.name);
          if (vIndex?.metricType) schema.metricType = vIndex.metricType;
          await db.engine.createCollection(schema as CollectionSchema, { properties: props() });
        }
      }),
    );
  }

  describeCollection(dbName: string | undefined, collection: string): CollectionDescription {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    const d = db.engine.describeCollection(name);
    const p = this.collProps(db, name);
    const aliases = Object.entries(this.dbProps(db).aliases).filter(([, c]) => c === name).map(([a]) => a).sort();
    const fieldIds: Record<string, number> = {};
    d.schema.fields.forEach((f, i) => (fieldIds[f.name] = 100 + i));
    return {
      collectionName: name,
      collectionId: d.id,
      dbName: db.name,
      dbId: this.dbProps(db).id,
      description: d.schema.description ?? '',
      schema: d.schema,
      autoId: d.schema.fields.some((f) => f.isPrimaryKey && f.autoID === true),
      enableDynamicField: d.schema.enableDynamicField,
      fieldIds,
      indexes: p.indexes,
      aliases,
      loaded: p.loaded,
      consistencyLevel: p.consistencyLevel,
      properties: p.properties,
      createdAtMs: d.createdAtMs,
      createdTimestamp: hybridTimestamp(d.createdAtMs),
      shardsNum: 1,
      partitionsNum: 0,
    };
  }

  listCollections(dbName: string | undefined): string[] {
    return this.db(dbName).engine.listCollections();
  }

  hasCollection(dbName: string | undefined, collection: string): boolean {
    const db = this.db(dbName);
    try {
      this.resolve(db, collection);
      return true;
    } catch (e) {
      if (e instanceof MilvusError && e.code === MilvusCode.CollectionNotFound) return false;
      throw e;
    }
  }

  async dropCollection(dbName: string | undefined, collection: string): Promise<void> {
    const db = this.db(dbName);
    return this.serialize(() =>
      this.wrap(async () => {
        if (!db.engine.hasCollection(collection)) {
          if (this.dbProps(db).aliases[collection] !== undefined) throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('cannot drop the collection via alias', { alias: collection }));
          return; // Milvus: dropping a collection that does not exist succeeds
        }
        const p = this.dbProps(db);
        const aliases = Object.fromEntries(Object.entries(p.aliases).filter(([, c]) => c !== collection));
        await db.engine.dropCollection(collection, { databaseProperties: { ...p, aliases } }); // one atomic manifest write
      }),
    );
  }

  async renameCollection(dbName: string | undefined, from: string, to: string, newDbName?: string): Promise<void> {
    const db = this.db(dbName);
    if (newDbName !== undefined && newDbName !== '' && newDbName !== db.name) {
      this.db(newDbName);
      throw new MilvusError(MilvusCode.ParameterInvalid, 'renaming a collection into another database is not supported by vecwal');
    }
    checkName('collection', to);
    return this.serialize(() =>
      this.wrap(async () => {
        const name = this.resolve(db, from);
        if (name !== from) throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('cannot rename a collection via alias', { alias: from }));
        if (this.dbProps(db).aliases[to] !== undefined) throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('the new name is an alias', { alias: to }));
        const p = this.dbProps(db);
        const aliases = Object.fromEntries(Object.entries(p.aliases).map(([a, c]) => [a, c === from ? to : c]));
        await db.engine.renameCollection(from, to, { databaseProperties: { ...p, aliases } }); // one atomic manifest write
      }),
    );
  }

  async alterCollectionProperties(dbName: string | undefined, collection: string, set: Record<string, unknown>, dropKeys: string[] = []): Promise<void> {
    const db = this.db(dbName);
    return this.serialize(() =>
      this.wrap(async () => {
        const name = this.resolve(db, collection);
        const p = this.collProps(db, name);
        const properties = { ...p.properties, ...asStringMap(set) };
        for (const k of dropKeys) delete properties[k];
        await this.setCollProps(db, name, { ...p, properties });
      }),
    );
  }

  async loadCollection(dbName: string | undefined, collection: string): Promise<void> {
    const db = this.db(dbName);
    return this.serialize(() =>
      this.wrap(async () => {
        const name = this.resolve(db, collection);
        const p = this.collProps(db, name);
        const vector = db.engine.describeCollection(name).schema.fields.find((f) => f.dataType === 'FloatVector')!;
        if (!p.indexes.some((i) => i.fieldName === vector.name)) {
          throw new MilvusError(MilvusCode.IndexNotFound, milvusMessage('index not found: create an index on the vector field before loading', { collection: name, field: vector.name }));
        }
        if (!p.loaded) await this.setCollProps(db, name, { ...p, loaded: true });
      }),
    );
  }

  async releaseCollection(dbName: string | undefined, collection: string): Promise<void> {
    const db = this.db(dbName);
    return this.serialize(() =>
      this.wrap(async () => {
        const name = this.resolve(db, collection);
        const p = this.collProps(db, name);
        if (p.loaded) await this.setCollProps(db, name, { ...p, loaded: false });
      }),
    );
  }

  loadState(dbName: string | undefined, collection: string): { state: 'LoadStateLoaded' | 'LoadStateNotLoad'; progress: number } {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    return this.collProps(db, name).loaded ? { state: 'LoadStateLoaded', progress: 100 } : { state: 'LoadStateNotLoad', progress: 0 };
  }

  /** Live rows (Milvus reports physical rows until compaction; vecwal counts live ones). */
  collectionStats(dbName: string | undefined, collection: string): { rowCount: number } {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    return { rowCount: db.engine.collectionStats(name).rowCount };
  }

  /** Flush the database's memtable to segment files (waits until done). */
  async flush(dbName: string | undefined, collections: string[]): Promise<{ collections: string[]; timestamp: bigint }> {
    const db = this.db(dbName);
    const names = collections.map((c) => this.resolve(db, c));
    await this.wrap(() => db.engine.flush());
    return { collections: names, timestamp: this.clock.now() };
  }

  async compact(dbName: string | undefined, collection: string): Promise<{ compactionId: number }> {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    await this.wrap(() => db.engine.compact(name));
    return { compactionId: Date.now() };
  }

  // ---- partitions (only _default) -------------------------------------------------------------

  listPartitions(dbName: string | undefined, collection: string): string[] {
    this.resolve(this.db(dbName), collection);
    return [DEFAULT_PARTITION];
  }

  hasPartition(dbName: string | undefined, collection: string, partition: string): boolean {
    this.resolve(this.db(dbName), collection);
    return partition === DEFAULT_PARTITION;
  }

  createPartition(dbName: string | undefined, collection: string, partition: string): never {
    this.resolve(this.db(dbName), collection);
    checkName('partition', partition);
    throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('vecwal supports only the _default partition', { partition }));
  }

  dropPartition(dbName: string | undefined, collection: string, partition: string): never {
    const name = this.resolve(this.db(dbName), collection);
    if (partition === DEFAULT_PARTITION) throw new MilvusError(MilvusCode.ParameterInvalid, 'default partition cannot be deleted');
    throw new MilvusError(MilvusCode.PartitionNotFound, milvusMessage('partition not found', { partition, collection: name }));
  }

  partitionStats(dbName: string | undefined, collection: string, partition: string): { rowCount: number } {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    checkPartitions([partition], name);
    return this.collectionStats(db.name, name);
  }

  // ---- indexes --------------------------------------------------------------------------------

  private checkIndex(schema: CollectionSchema, spec: NonNullable<CreateCollectionRequest['indexes']>[number], existing: IndexSpec[]): IndexSpec {
    const field = schema.fields.find((f) => f.name === spec.fieldName);
    if (!field) throw new MilvusError(MilvusCode.FieldNotFound, milvusMessage('field not found', { field: spec.fieldName, collection: schema.name }));
    const indexName = spec.indexName || field.name;
    const params = asStringMap(spec.params);
    const indexType = (spec.indexType || params.index_type || 'AUTOINDEX').toUpperCase() === 'TRIE' ? 'Trie' : (spec.indexType || params.index_type || 'AUTOINDEX').toUpperCase();
    delete params.index_type;
    const dup = existing.find((i) => i.fieldName === field.name || i.indexName === indexName);
    if (field.dataType === 'FloatVector') {
      if (!(VECTOR_INDEX_TYPES as readonly string[]).includes(indexType)) {
        throw new MilvusError(MilvusCode.IndexNotSupported, milvusMessage(`index type ${indexType} is not supported for a float vector field: use FLAT, AUTOINDEX, or one of ${VECTOR_INDEX_TYPES.slice(2).join(', ')} (searched exactly)`, { field: field.name }));
      }
      const metricType = checkMetric(spec.metricType ?? params.metric_type) ?? 'COSINE';
      delete params.metric_type;
      const out: IndexSpec = { indexName, fieldName: field.name, indexType, metricType, params, createdAtMs: Date.now() };
      if (dup) {
        if (dup.indexName === out.indexName && dup.fieldName === out.fieldName && dup.indexType === out.indexType && dup.metricType === out.metricType) return dup;
        throw new MilvusError(MilvusCode.IndexDuplicate, milvusMessage('at most one distinct index is allowed per field', { field: field.name, index: dup.indexName }));
      }
      return out;
    }
    if (!(SCALAR_INDEX_TYPES as readonly string[]).includes(indexType)) {
      throw new MilvusError(MilvusCode.IndexNotSupported, milvusMessage(`index type ${indexType} is not supported for a scalar field: use INVERTED, STL_SORT, Trie, BITMAP or AUTOINDEX`, { field: field.name }));
    }
    if (dup) {
      if (dup.indexName === indexName && dup.fieldName === field.name && dup.indexType === indexType) return dup;
      throw new MilvusError(MilvusCode.IndexDuplicate, milvusMessage('at most one distinct index is allowed per field', { field: field.name, index: dup.indexName }));
    }
    return { indexName, fieldName: field.name, indexType, params, createdAtMs: Date.now() };
  }

  async createIndex(dbName: string | undefined, collection: string, spec: NonNullable<CreateCollectionRequest['indexes']>[number]): Promise<void> {
    const db = this.db(dbName);
    return this.serialize(() =>
      this.wrap(async () => {
        const name = this.resolve(db, collection);
        const schema = db.engine.describeCollection(name).schema;
        const p = this.collProps(db, name);
        const index = this.checkIndex(schema, spec, p.indexes);
        if (p.indexes.includes(index)) return; // the same index again: Milvus succeeds
        await this.setCollProps(db, name, { ...p, indexes: [...p.indexes, index] }, index.metricType);
      }),
    );
  }

  listIndexes(dbName: string | undefined, collection: string, fieldName?: string): IndexDescription[] {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    const rows = db.engine.collectionStats(name).rowCount;
    return this.collProps(db, name)
      .indexes.filter((i) => !fieldName || i.fieldName === fieldName)
      .map((i) => ({ ...i, totalRows: rows, indexedRows: rows, pendingRows: 0, state: 'Finished' as const }));
  }

  describeIndex(dbName: string | undefined, collection: string, indexName?: string, fieldName?: string): IndexDescription[] {
    const all = this.listIndexes(dbName, collection);
    const found = all.filter((i) => (!indexName || i.indexName === indexName) && (!fieldName || i.fieldName === fieldName));
    if (found.length === 0) throw new MilvusError(MilvusCode.IndexNotFound, milvusMessage('index not found', { collection, indexName: indexName || fieldName || '' }));
    return found;
  }

  async dropIndex(dbName: string | undefined, collection: string, indexName: string): Promise<void> {
    const db = this.db(dbName);
    return this.serialize(() =>
      this.wrap(async () => {
        const name = this.resolve(db, collection);
        const p = this.collProps(db, name);
        const index = p.indexes.find((i) => i.indexName === indexName) ?? (indexName === '' && p.indexes.length === 1 ? p.indexes[0] : undefined);
        if (!index) throw new MilvusError(MilvusCode.IndexNotFound, milvusMessage('index not found', { collection: name, indexName }));
        if (p.loaded && index.metricType !== undefined) {
          throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('index cannot be dropped, collection is loaded, please release it first', { collection: name }));
        }
        await this.setCollProps(db, name, { ...p, indexes: p.indexes.filter((i) => i !== index) });
      }),
    );
  }

  // ---- aliases --------------------------------------------------------------------------------

  async createAlias(dbName: string | undefined, collection: string, alias: string, alter = false): Promise<void> {
    const db = this.db(dbName);
    checkName('alias', alias);
    return this.serialize(() =>
      this.wrap(async () => {
        const target = this.resolve(db, collection);
        if (target !== collection) throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('an alias cannot point to another alias', { alias: collection }));
        const p = this.dbProps(db);
        if (db.engine.hasCollection(alias)) throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage('an alias cannot have the name of a collection', { alias }));
        const existing = p.aliases[alias];
        if (!alter && existing !== undefined) {
          if (existing === target) return;
          throw new MilvusError(MilvusCode.AliasAlreadyExist, milvusMessage('alias already exist', { database: db.name, alias }));
        }
        if (alter && existing === undefined) throw new MilvusError(MilvusCode.AliasNotFound, milvusMessage('alias not found', { database: db.name, alias }));
        await db.engine.setProperties({ ...p, aliases: { ...p.aliases, [alias]: target } });
      }),
    );
  }

  async dropAlias(dbName: string | undefined, alias: string): Promise<void> {
    const db = this.db(dbName);
    return this.serialize(() =>
      this.wrap(async () => {
        const p = this.dbProps(db);
        if (p.aliases[alias] === undefined) return; // Milvus: dropping a missing alias succeeds
        const aliases = { ...p.aliases };
        delete aliases[alias];
        await db.engine.setProperties({ ...p, aliases });
      }),
    );
  }

  describeAlias(dbName: string | undefined, alias: string): { dbName: string; alias: string; collectionName: string } {
    const db = this.db(dbName);
    const target = this.dbProps(db).aliases[alias];
    if (target === undefined) throw new MilvusError(MilvusCode.AliasNotFound, milvusMessage('alias not found', { database: db.name, alias }));
    return { dbName: db.name, alias, collectionName: target };
  }

  listAliases(dbName: string | undefined, collection?: string): string[] {
    const db = this.db(dbName);
    const target = collection ? this.resolve(db, collection) : undefined;
    return Object.entries(this.dbProps(db).aliases)
      .filter(([, c]) => target === undefined || c === target)
      .map(([a]) => a)
      .sort();
  }

  // ---- entities -------------------------------------------------------------------------------

  /** Insert rows (objects keyed by field name; extra keys go to the dynamic field). */
  async insert(dbName: string | undefined, collection: string, rows: readonly Record<string, unknown>[], partitionName?: string): Promise<WriteResult> {
    return this.write(dbName, collection, rows, partitionName, false);
  }

  async upsert(dbName: string | undefined, collection: string, rows: readonly Record<string, unknown>[], partitionName?: string): Promise<WriteResult> {
    return this.write(dbName, collection, rows, partitionName, true);
  }

  /**
   * Insert columns: the engine's columnar form ({ field: values }, one value per row, `undefined`
   * for none; a FloatVector column may be one flat Float32Array of rows * dim, copied in one
   * call; columns that are not schema fields are dynamic keys). Same rules and errors as rows.
   */
  async insertColumns(dbName: string | undefined, collection: string, columns: Record<string, unknown>, partitionName?: string): Promise<WriteResult> {
    return this.write(dbName, collection, columns, partitionName, false);
  }

  async upsertColumns(dbName: string | undefined, collection: string, columns: Record<string, unknown>, partitionName?: string): Promise<WriteResult> {
    return this.write(dbName, collection, columns, partitionName, true);
  }

  private async write(dbName: string | undefined, collection: string, rows: readonly Record<string, unknown>[] | Record<string, unknown>, partitionName: string | undefined, upsert: boolean): Promise<WriteResult> {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    if (partitionName) checkPartitions([partitionName], name);
    const empty = Array.isArray(rows) ? rows.length === 0 : typeof rows !== 'object' || rows === null || Object.keys(rows).length === 0;
    if (empty) throw new MilvusError(MilvusCode.ParameterInvalid, 'no rows to write: data should be a non-empty list of rows');
    const r = await this.wrap(() => (upsert ? db.engine.upsert(name, rows) : db.engine.insert(name, rows)));
    return { count: r.insertCount, ids: r.ids, timestamp: this.clock.now() };
  }

  async delete(dbName: string | undefined, collection: string, target: { ids: unknown[] } | { filter: string; exprParams?: Record<string, unknown> }, partitionName?: string): Promise<{ deleteCount: number; timestamp: bigint }> {
    const db = this.db(dbName);
    const name = this.resolve(db, collection);
    if (partitionName) checkPartitions([partitionName], name);
    if ('filter' in target && (typeof target.filter !== 'string' || target.filter.trim() === '')) {
      throw new MilvusError(MilvusCode.ParameterInvalid, 'delete needs a filter expression or ids');
    }
    const r = await this.wrap(() => db.engine.delete(name, target));
    return { deleteCount: r.deleteCount, timestamp: this.clock.now() };
  }

  private readable(db: OpenDatabase, collection: string, partitions: string[] | undefined, consistency: string | undefined): string {
    const name = this.resolve(db, collection);
    checkPartitions(partitions, name);
    checkConsistency(consistency);
    if (!this.collProps(db, name).loaded) throw new MilvusError(MilvusCode.CollectionNotLoaded, milvusMessage('collection not loaded', { collection: name }));
    return name;
  }

  async get(dbName: string | undefined, collection: string, ids: unknown[], outputFields?: string[], partitionNames?: string[]): Promise<Row[]> {
    const db = this.db(dbName);
    const name = this.readable(db, collection, partitionNames, undefined);
    return this.wrap(() => db.engine.read.get(name, ids, outputFields && outputFields.length > 0 ? outputFields : ['*']));
  }

  async query(dbName: string | undefined, req: QueryRequest): Promise<Row[]> {
    const db = this.db(dbName);
    const name = this.readable(db, req.collectionName, req.partitionNames, req.consistencyLevel);
    const outputs = req.outputFields && req.outputFields.length > 0 ? req.outputFields : ['*'];
    const filter = req.filter ?? '';
    const countIdx = outputs.findIndex((f) => f.replace(/\s+/g, '').toLowerCase() === 'count(*)');
    return this.wrap(async () => {
      if (countIdx >= 0) {
        if (outputs.length > 1) throw new MilvusError(MilvusCode.ParameterInvalid, 'count(*) cannot be combined with other output fields');
        const pk = db.engine.describeCollection(name).schema.fields.find((f) => f.isPrimaryKey)!.name;
        const rows = await db.engine.read.query(name, { filter, ...(req.exprParams ? { exprParams: req.exprParams } : {}), outputFields: [pk], limit: Number.MAX_SAFE_INTEGER });
        return [{ 'count(*)': rows.length }];
      }
      const limit = req.limit ?? (filter.trim() === '' ? 100 : Number.MAX_SAFE_INTEGER);
      return db.engine.read.query(name, { filter, ...(req.exprParams ? { exprParams: req.exprParams } : {}), outputFields: outputs, limit, offset: req.offset ?? 0 });
    });
  }

  private vectorField(db: OpenDatabase, name: string, annsField: string | undefined, schema: CollectionSchema = db.engine.describeCollection(name).schema): FieldSchema {
    const vector = schema.fields.find((f) => f.dataType === 'FloatVector')!;
    if (annsField && annsField !== vector.name) {
      throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage(`annsField ${annsField} is not the collection's vector field (${vector.name})`, { collection: name }));
    }
    return vector;
  }

  async search(dbName: string | undefined, req: SearchRequest): Promise<SearchResult> {
    const db = this.db(dbName);
    const name = this.readable(db, req.collectionName, req.partitionNames, req.consistencyLevel);
    return this.wrap(async () => {
      const results = await this.searchOne(db, name, req, req.outputFields);
      return { results, ...this.outputsOf(db, name, req.outputFields) };
    });
  }

  private outputsOf(db: OpenDatabase, name: string, outputFields: string[] | undefined): { pkField: string; outputFields: string[] } {
    const schema = db.engine.describeCollection(name).schema;
    const pkField = schema.fields.find((f) => f.isPrimaryKey)!.name;
    let fields = outputFields ?? [];
    if (fields.includes('*')) fields = schema.fields.map((f) => f.name);
    return { pkField, outputFields: [pkField, ...fields.filter((f) => f !== pkField)] };
  }

  private async searchOne(db: OpenDatabase, name: string, req: Omit<SearchRequest, 'collectionName'>, outputFields: string[] | undefined): Promise<SearchResultRow[][]> {
    const schema = db.engine.describeCollection(name).schema; // a copy per call: read it once
    const vector = this.vectorField(db, name, req.annsField, schema);
    if (req.groupingField) throw new MilvusError(MilvusCode.ParameterInvalid, 'grouping search is not supported by vecwal');
    if (!Array.isArray(req.data) || req.data.length === 0) throw new MilvusError(MilvusCode.ParameterInvalid, 'search needs at least one query vector');
    for (const [i, v] of req.data.entries()) {
      if (!v || typeof v.length !== 'number') throw new MilvusError(MilvusCode.ParameterInvalid, `query vector ${i} is not a list of numbers`);
      if (v.length !== vector.dim) {
        throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage(`the dimension of query vector ${i} is ${v.length}, but the field ${vector.name} has dim ${vector.dim}`, { collection: name }));
      }
    }
    const collectionMetric = schema.metricType;
    const metric = checkMetric(req.metricType);
    if (metric && metric !== collectionMetric) {
      throw new MilvusError(MilvusCode.ParameterInvalid, milvusMessage(`metric type not match: invalid parameter[expected=${collectionMetric}][actual=${metric}]`, { collection: name }));
    }
    const radius = numberParam(req.params?.radius);
    const rangeFilter = numberParam(req.params?.range_filter);
    const limit = req.limit ?? 100;
    const offset = req.offset ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 16384) throw new MilvusError(MilvusCode.ParameterInvalid, `limit should be in range [1, 16384], got ${limit}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || limit + offset > 16384) throw new MilvusError(MilvusCode.ParameterInvalid, `offset should be in range [0, 16384 - limit], got ${offset}`);
    const results = await db.engine.read.search(name, {
      data: req.data,
      limit: radius === undefined ? limit : 16384 - offset,
      offset,
      ...(req.filter ? { filter: req.filter } : {}),
      ...(req.exprParams ? { exprParams: req.exprParams } : {}),
      ...(outputFields && outputFields.length > 0 ? { outputFields } : {}),
    });
    if (radius === undefined) return results;
    // Range search: L2 keeps range_filter <= d < radius; IP and COSINE keep radius < s <= range_filter.
    const keep = collectionMetric === 'L2' ? (d: number) => d < radius && (rangeFilter === undefined || d >= rangeFilter) : (s: number) => s > radius && (rangeFilter === undefined || s <= rangeFilter);
    return results.map((list) => list.filter((r) => keep(r.distance)).slice(0, limit));
  }

  /** Several searches on the vector field, merged by RRF or by weighted (normalized) scores. */
  async hybridSearch(dbName: string | undefined, req: HybridSearchRequest): Promise<SearchResult> {
    const db = this.db(dbName);
    const name = this.readable(db, req.collectionName, req.partitionNames, req.consistencyLevel);
    if (!Array.isArray(req.searches) || req.searches.length === 0) throw new MilvusError(MilvusCode.ParameterInvalid, 'hybrid search needs at least one search request');
    const rerank = req.rerank;
    if (rerank.strategy === 'weighted' && rerank.weights.length !== req.searches.length) {
      throw new MilvusError(MilvusCode.ParameterInvalid, `the number of weights (${rerank.weights.length}) must equal the number of search requests (${req.searches.length})`);
    }
    const k = rerank.strategy === 'rrf' ? (rerank.k ?? 60) : 0;
    if (rerank.strategy === 'rrf' && !(k > 0 && k < 16384)) throw new MilvusError(MilvusCode.ParameterInvalid, `the rrf parameter k should be in range (0, 16384), got ${k}`);
    const limit = req.limit ?? 100;
    const offset = req.offset ?? 0;
    return this.wrap(async () => {
      const { pkField, outputFields } = this.outputsOf(db, name, req.outputFields);
      const metric = db.engine.describeCollection(name).schema.metricType;
      const subs = await Promise.all(req.searches.map((s) => this.searchOne(db, name, s, req.outputFields)));
      const nq = subs[0]!.length;
      for (const s of subs) if (s.length !== nq) throw new MilvusError(MilvusCode.ParameterInvalid, 'every search request of a hybrid search must have the same number of query vectors');
      const results: SearchResultRow[][] = [];
      for (let q = 0; q < nq; q++) {
        const merged = new Map<string, { row: SearchResultRow; score: number }>();
        subs.forEach((sub, si) => {
          sub[q]!.forEach((row, rank) => {
            const key = String(row[pkField]);
            const add = rerank.strategy === 'rrf' ? 1 / (k + rank + 1) : rerank.weights[si]! * (rerank.normScore === false ? row.distance : normalizeScore(metric, row.distance));
            const cur = merged.get(key);
            if (cur) cur.score += add;
            else merged.set(key, { row, score: add });
          });
        });
        const ranked = [...merged.values()].sort((a, b) => b.score - a.score).slice(offset, offset + limit);
        results.push(ranked.map(({ row, score }) => ({ ...row, distance: score })));
      }
      return { results, pkField, outputFields };
    });
  }
}

function numberParam(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new MilvusError(MilvusCode.ParameterInvalid, `search parameter must be a number, got ${String(v)}`);
  return n;
}

/** Milvus's weighted-ranker normalization: every metric to [0, 1], larger is better. */
function normalizeScore(metric: MetricType, score: number): number {
  if (metric === 'COSINE') return (1 + score) / 2;
  if (metric === 'IP') return 0.5 + Math.atan(score) / Math.PI;
  return 1 - (2 * Math.atan(score)) / Math.PI;
}


