/**
 * The Milvus gRPC protocol (milvus.proto.milvus.MilvusService) on top of MilvusService.
 *
 * This layer only translates: it decodes requests (schemas, columnar fields_data, placeholder
 * groups, KeyValuePair parameters) into service calls, and service results back into Milvus
 * responses. Every semantic decision (names, load state, errors and their codes) is the
 * service's, so gRPC and REST behave the same. See docs/server-grpc.md.
 *
 * Conventions the official Node SDK relies on (checked against @zilliz/milvus2-sdk-node 3.0.x):
 *   - application errors are not gRPC errors: the call succeeds and carries
 *     common.Status {code: <Milvus code>, error_code: <legacy enum, never 'Success'>, reason};
 *     only authentication failures (UNAUTHENTICATED) and unknown methods (UNIMPLEMENTED) are
 *     gRPC statuses;
 *   - the database is the request's db_name when set, else the `dbname` metadata, else default;
 *   - search and query results are columns in fields_data named by output_fields; the primary
 *     key is always a column; dynamic keys travel in the `$meta` JSON column.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Authenticator, RequestObserver } from './auth.js';
import { MilvusCode, MilvusError, milvusMessage, toMilvusError } from './milvus-error.js';
import { DEFAULT_DATABASE, type CollectionDescription, type ConsistencyLevel, type HybridSearchRequest, type MilvusService, type SearchRequest } from './service.js';
import type { CollectionSchema, MetricType } from '../db/types.js';
import type { SearchResultRow } from '../db/reader.js';
import { milvusProto, packageVersion, type MilvusProto } from './grpc-proto.js';
import {
  COUNT_FIELD,
  intParam,
  invalid,
  kvMap,
  parseJsonParam,
  planOutputs,
  columnsFromFieldsData,
  columnsToRows,
  engineColumns,
  rowsToFieldsData,
  schemaFromProto,
  schemaToProto,
  templateValues,
  toKvList,
  vectorsFromPlaceholders,
  type FieldDataMsg,
  type KeyValuePair,
  type OutputPlan,
  type TemplateValueMsg,
} from './grpc-convert.js';

export interface GrpcOptions {
  auth: Authenticator;
  /** Largest request message accepted (grpc.max_receive_message_length). */
  maxRequestBytes: number;
  logger?: Logger;
  observe?: RequestObserver;
}

/**
 * A decoded request. @grpc/proto-loader (defaults: true) fills in every field the proto declares
 * with its type's default, so the declared fields are always present with their proto types:
 * strings, numbers, int64 as decimal strings, enums as names, repeated fields as arrays,
 * messages as objects or null, bytes as Buffers.
 */
type Req = { readonly [field: string]: any };

interface Ctx {
  /** The database the call addresses (undefined: the default database). */
  db: string | undefined;
}

type Handler = (req: Req, ctx: Ctx) => Promise<Record<string, unknown> | void> | Record<string, unknown> | void;

/** Milvus's deprecated common.ErrorCode for a code (the SDK checks `error_code !== 'Success'`). */
function legacyErrorCode(code: number): string {
  switch (code) {
    case MilvusCode.ServiceNotReady:
    case MilvusCode.ServiceUnavailable:
      return 'NotReadyServe';
    case MilvusCode.CollectionNotFound:
      return 'CollectionNotExists';
    case MilvusCode.PartitionNotFound:
      return 'MetaFailed';
    case MilvusCode.IndexNotFound:
      return 'IndexNotExist';
    case MilvusCode.ParameterInvalid:
      return 'IllegalArgument';
    case MilvusCode.RateLimited:
      return 'RateLimit';
    default:
      return 'UnexpectedError';
  }
}

const OK_STATUS = { error_code: 'Success', code: 0, reason: '', retriable: false, detail: '' };

function errorStatus(e: MilvusError): Record<string, unknown> {
  return { error_code: legacyErrorCode(e.code), code: e.code, reason: e.message, retriable: false, detail: e.message };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function optional(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function kvObject(list: KeyValuePair[] | undefined | null): Record<string, unknown> {
  return Object.fromEntries(kvMap(list));
}

/** IDs (int_id as bigints: only for responses encoded by the typed-array codecs, FAST_RESPONSES). */
function idsMessage(schema: CollectionSchema, ids: ReadonlyArray<bigint | string>): Record<string, unknown> {
  const pk = schema.fields.find((f) => f.isPrimaryKey)!;
  return pk.dataType === 'VarChar' ? { str_id: { data: ids.map(String) } } : { int_id: { data: ids } };
}

/**
 * Methods whose requests are decoded by the typed-array codecs of grpc-proto.ts (float vectors
 * as one Float32Array, int64 columns as a BigInt64Array), and whose responses are encoded by
 * them (handlers may answer Float32Array vectors and bigint int64 values: idsMessage,
 * rowsToFieldsData). Every other method keeps proto-loader's codecs.
 */
const FAST_REQUESTS = ['Insert', 'Upsert', 'Search', 'HybridSearch'] as const;
const FAST_RESPONSES = ['Insert', 'Upsert', 'Search', 'HybridSearch', 'Query'] as const;

/** proto-loader's MilvusService definition with the typed-array codecs on the hot methods (a copy). */
function serverDefinition(proto: MilvusProto): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = { ...proto.milvusService };
  for (const m of FAST_REQUESTS) def[m] = { ...def[m]!, requestDeserialize: proto.requestDecoder(m) };
  for (const m of FAST_RESPONSES) def[m] = { ...def[m]!, responseSerialize: proto.responseEncoder(m) as (value: unknown) => Buffer };
  return def as grpc.ServiceDefinition;
}

/** A required serialized message inside a request: `missing` when absent or empty, `undecodable` when `decode` throws. */
function decodeRequired(bytes: Uint8Array | undefined, decode: (bytes: Uint8Array) => Record<string, unknown>, missing: string, undecodable: string): Record<string, unknown> {
  if (!bytes || bytes.byteLength === 0) throw invalid(missing);
  try {
    return decode(bytes);
  } catch {
    throw invalid(undecodable);
  }
}

/** One search (top-level Search, or one request of a HybridSearch) as a service search. */
function parseSearch(proto: MilvusProto, r: Req): Omit<SearchRequest, 'collectionName' | 'outputFields' | 'partitionNames' | 'consistencyLevel'> {
  if (r.ids && typeof r.ids === 'object' && r.ids.id_field) throw invalid('search by primary keys (ids) is not supported by vecwal: search with query vectors');
  if (r.function_score && Array.isArray(r.function_score.functions) && r.function_score.functions.length > 0) throw invalid('function rerankers (function_score) are not supported by vecwal');
  if (r.search_aggregation) throw invalid('search aggregation is not supported by vecwal');
  if (Array.isArray(r.sub_reqs) && r.sub_reqs.length > 0) throw invalid('sub-requests in a search are not supported by vecwal: use HybridSearch');
  const kv = kvMap(r.search_params as KeyValuePair[]);
  if (kv.get('iterator') === 'true' || kv.get('search_iter_v2') === 'true') throw invalid('search iterators are not supported by vecwal: page with limit and offset');
  const params = parseJsonParam('search_params.params', kv.get('params'));
  for (const k of ['radius', 'range_filter']) {
    const v = kv.get(k);
    if (v !== undefined && v !== '' && params[k] === undefined) params[k] = v;
  }
  const group = decodeRequired(
    r.placeholder_group as Uint8Array | undefined,
    (b) => proto.decodePlaceholderGroup(b),
    'the search request has no query vectors (placeholder_group is empty)',
    'placeholder_group does not decode as milvus.proto.common.PlaceholderGroup',
  );
  const out: ReturnType<typeof parseSearch> = { data: vectorsFromPlaceholders(group), params };
  const limit = intParam('topk', kv.get('topk') ?? kv.get('limit'));
  const offset = intParam('offset', kv.get('offset'));
  if (limit !== undefined) out.limit = limit;
  if (offset !== undefined) out.offset = offset;
  const anns = optional(kv.get('anns_field'));
  if (anns) out.annsField = anns;
  const metric = optional(kv.get('metric_type'));
  if (metric) out.metricType = metric;
  const group_by = optional(kv.get('group_by_field'));
  if (group_by) out.groupingField = group_by;
  const filter = str(r.dsl);
  if (filter.trim() !== '') out.filter = filter;
  const exprParams = templateValues(r.expr_template_values as Record<string, TemplateValueMsg>);
  if (exprParams) out.exprParams = exprParams;
  return out;
}

function searchResultData(d: CollectionDescription, results: SearchResultRow[][], plan: OutputPlan, topK: number | undefined): Record<string, unknown> {
  const flat = results.flat();
  const pk = d.schema.fields.find((f) => f.isPrimaryKey)!;
  const { fieldsData, outputFields } = rowsToFieldsData(d.schema, d.fieldIds, flat, plan);
  return {
    num_queries: String(results.length),
    top_k: String(topK ?? Math.max(0, ...results.map((l) => l.length))),
    fields_data: fieldsData,
    scores: flat.map((r) => r.distance),
    ids: idsMessage(d.schema, flat.map((r) => r[pk.name] as bigint | string)),
    topks: results.map((l) => String(l.length)),
    output_fields: outputFields,
    primary_field_name: pk.name,
  };
}

function loadedPercent(service: MilvusService, db: string | undefined, name: string): number {
  return service.loadState(db, name).state === 'LoadStateLoaded' ? 100 : 0;
}

function handlers(service: MilvusService, proto: MilvusProto): Record<string, Handler> {
  const version = packageVersion();
  let nextIdentifier = (Date.now() % 1_000_000_000) + 1;

  const describe = (ctx: Ctx, req: Req): CollectionDescription => {
    const name = str(req.collection_name);
    const id = str(req.collectionID);
    if (name === '' && id !== '' && id !== '0') {
      for (const c of service.listCollections(ctx.db)) {
        const d = service.describeCollection(ctx.db, c);
        if (String(d.collectionId) === id) return d;
      }
      throw new MilvusError(MilvusCode.CollectionNotFound, milvusMessage('collection not found', { database: ctx.db ?? DEFAULT_DATABASE, collectionID: id }));
    }
    return service.describeCollection(ctx.db, name);
  };

  const checkPartitions = (ctx: Ctx, collection: string, names: string[]): void => {
    for (const p of names ?? []) {
      if (!service.hasPartition(ctx.db, collection, p)) throw new MilvusError(MilvusCode.PartitionNotFound, milvusMessage('partition not found', { partition: p, collection }));
    }
  };

  const write = async (req: Req, ctx: Ctx, upsert: boolean): Promise<Record<string, unknown>> => {
    if (upsert && (req.partial_update === true || (Array.isArray(req.field_ops) && req.field_ops.length > 0))) {
      throw invalid('partial update (partial_update, field_ops) is not supported by vecwal: upsert whole rows');
    }
    const d = service.describeCollection(ctx.db, str(req.collection_name));
    const fc = columnsFromFieldsData(d.schema, req.fields_data as FieldDataMsg[], Number(req.num_rows ?? 0));
    const partition = optional(req.partition_name);
    // The engine's columnar form (one copy of the vectors); rows only when $meta keys cannot be columns.
    const columns = engineColumns(fc);
    let r;
    if (columns) r = upsert ? await service.upsertColumns(ctx.db, d.collectionName, columns, partition) : await service.insertColumns(ctx.db, d.collectionName, columns, partition);
    else {
      const rows = columnsToRows(fc);
      r = upsert ? await service.upsert(ctx.db, d.collectionName, rows, partition) : await service.insert(ctx.db, d.collectionName, rows, partition);
    }
    return {
      IDs: idsMessage(d.schema, r.ids),
      succ_index: r.ids.map((_, i) => i),
      err_index: [],
      acknowledged: true,
      insert_cnt: String(r.count),
      upsert_cnt: upsert ? String(r.count) : '0',
      delete_cnt: '0',
      timestamp: String(r.timestamp),
    };
  };

  const silent: Handler = () => ({});

  return {
    // ---- connection -----------------------------------------------------------------------------
    Connect: (_req, ctx) => {
      service.describeDatabase(ctx.db ?? DEFAULT_DATABASE); // the database must exist (code 800)
      return {
        server_info: { build_tags: `vecwal-${version}`, build_time: '', git_commit: '', go_version: `node ${process.version}`, deploy_mode: 'vecwal', reserved: {} },
        identifier: String(nextIdentifier++),
      };
    },
    GetVersion: () => ({ version: `vecwal-${version}` }),
    CheckHealth: () => ({ isHealthy: true, reasons: [], quota_states: [] }),

    // ---- databases ------------------------------------------------------------------------------
    CreateDatabase: async (req) => {
      await service.createDatabase(str(req.db_name), kvObject(req.properties));
    },
    DropDatabase: async (req) => {
      await service.dropDatabase(str(req.db_name));
    },
    ListDatabases: () => {
      const names = service.listDatabases();
      const ds = names.map((n) => service.describeDatabase(n));
      return { db_names: names, created_timestamp: ds.map((d) => String(d.createdTimestamp)), db_ids: ds.map((d) => String(d.dbId)) };
    },
    DescribeDatabase: (_req, ctx) => {
      const d = service.describeDatabase(ctx.db ?? DEFAULT_DATABASE);
      return { db_name: d.dbName, dbID: String(d.dbId), created_timestamp: String(d.createdTimestamp), properties: toKvList(d.properties) };
    },
    AlterDatabase: async (req, ctx) => {
      await service.alterDatabaseProperties(ctx.db ?? DEFAULT_DATABASE, kvObject(req.properties), (req.delete_keys as string[]) ?? []);
    },

    // ---- collections ----------------------------------------------------------------------------
    CreateCollection: async (req, ctx) => {
      const raw = decodeRequired(
        req.schema as Uint8Array | undefined,
        (b) => proto.decodeCollectionSchema(b),
        'schema is required: CreateCollection carries a serialized milvus.proto.schema.CollectionSchema',
        'schema does not decode as milvus.proto.schema.CollectionSchema',
      );
      const s = schemaFromProto(raw);
      const name = str(req.collection_name) || s.name;
      if (s.name !== '' && s.name !== name) throw invalid(milvusMessage(`collection name [${name}] does not match the schema name [${s.name}]`, { collection: name }));
      if (s.fields.length === 0) throw invalid(milvusMessage('the schema has no fields', { collection: name }));
      await service.createCollection(ctx.db, {
        collectionName: name,
        fields: s.fields,
        enableDynamicField: s.enableDynamicField,
        ...(s.description !== '' ? { description: s.description } : {}),
        consistencyLevel: (str(req.consistency_level) || 'Bounded') as ConsistencyLevel,
        properties: kvObject(req.properties),
        numPartitions: Number(req.num_partitions ?? 0),
      });
    },
    DescribeCollection: (req, ctx) => {
      const d = describe(ctx, req);
      return {
        schema: schemaToProto(d),
        collectionID: String(d.collectionId),
        virtual_channel_names: [],
        physical_channel_names: [],
        created_timestamp: String(d.createdTimestamp),
        created_utc_timestamp: String(d.createdAtMs),
        shards_num: d.shardsNum,
        aliases: d.aliases,
        start_positions: [],
        consistency_level: d.consistencyLevel,
        collection_name: d.collectionName,
        properties: toKvList(d.properties),
        db_name: d.dbName,
        num_partitions: String(d.partitionsNum),
        db_id: String(d.dbId),
        update_timestamp: String(d.createdTimestamp),
        update_timestamp_str: String(d.createdTimestamp),
      };
    },
    HasCollection: (req, ctx) => ({ value: service.hasCollection(ctx.db, str(req.collection_name)) }),
    ShowCollections: (req, ctx) => {
      let names = service.listCollections(ctx.db);
      const wanted = (req.collection_names as string[]) ?? [];
      if (wanted.length > 0) {
        names = wanted.map((n) => service.describeCollection(ctx.db, n).collectionName);
      }
      const ds = names.map((n) => service.describeCollection(ctx.db, n));
      const loaded = ds.map((d) => (d.loaded ? 100 : 0));
      const keep = ds.map((_, i) => str(req.type) !== 'InMemory' || loaded[i] === 100);
      const pick = <T>(xs: T[]): T[] => xs.filter((_, i) => keep[i]);
      return {
        collection_names: pick(ds.map((d) => d.collectionName)),
        collection_ids: pick(ds.map((d) => String(d.collectionId))),
        created_timestamps: pick(ds.map((d) => String(d.createdTimestamp))),
        created_utc_timestamps: pick(ds.map((d) => String(d.createdAtMs))),
        inMemory_percentages: pick(loaded.map(String)),
        query_service_available: pick(loaded.map((p) => p === 100)),
        shards_num: pick(ds.map((d) => d.shardsNum)),
      };
    },
    DropCollection: async (req, ctx) => {
      await service.dropCollection(ctx.db, str(req.collection_name));
    },
    RenameCollection: async (req, ctx) => {
      await service.renameCollection(ctx.db, str(req.oldName), str(req.newName), optional(req.newDBName));
    },
    AlterCollection: async (req, ctx) => {
      await service.alterCollectionProperties(ctx.db, str(req.collection_name), kvObject(req.properties), (req.delete_keys as string[]) ?? []);
    },
    LoadCollection: async (req, ctx) => {
      await service.loadCollection(ctx.db, str(req.collection_name));
    },
    ReleaseCollection: async (req, ctx) => {
      await service.releaseCollection(ctx.db, str(req.collection_name));
    },
    GetLoadingProgress: (req, ctx) => {
      const name = str(req.collection_name);
      checkPartitions(ctx, name, req.partition_names as string[]);
      if (loadedPercent(service, ctx.db, name) !== 100) throw new MilvusError(MilvusCode.CollectionNotLoaded, milvusMessage('collection not loaded', { collection: name }));
      return { progress: '100', refresh_progress: '100' };
    },
    GetLoadState: (req, ctx) => {
      const name = str(req.collection_name);
      checkPartitions(ctx, name, req.partition_names as string[]);
      return { state: service.loadState(ctx.db, name).state };
    },
    GetCollectionStatistics: (req, ctx) => ({ stats: [{ key: 'row_count', value: String(service.collectionStats(ctx.db, str(req.collection_name)).rowCount) }] }),
    Flush: async (req, ctx) => {
      const r = await service.flush(ctx.db, (req.collection_names as string[]) ?? []);
      const per = <T>(v: () => T): Record<string, T> => Object.fromEntries(r.collections.map((c) => [c, v()]));
      const seconds = String(Math.floor(Date.now() / 1000));
      return {
        db_name: ctx.db ?? DEFAULT_DATABASE,
        coll_segIDs: per(() => ({ data: [] })),
        flush_coll_segIDs: per(() => ({ data: [] })),
        coll_seal_times: per(() => seconds),
        coll_flush_ts: per(() => String(r.timestamp)),
      };
    },
    FlushAll: async (_req, ctx) => {
      const r = await service.flush(ctx.db, []);
      return { flush_all_ts: String(r.timestamp) };
    },
    GetFlushState: () => ({ flushed: true }),
    GetFlushAllState: () => ({ flushed: true, flush_states: [] }),

    // ---- partitions (only _default) ------------------------------------------------------------
    ShowPartitions: (req, ctx) => {
      const d = describe(ctx, req);
      let names = service.listPartitions(ctx.db, d.collectionName);
      const wanted = (req.partition_names as string[]) ?? [];
      if (wanted.length > 0) {
        checkPartitions(ctx, d.collectionName, wanted);
        names = wanted;
      }
      const pct = d.loaded ? 100 : 0;
      return {
        partition_names: names,
        partitionIDs: names.map(() => String(d.collectionId + 1)),
        created_timestamps: names.map(() => String(d.createdTimestamp)),
        created_utc_timestamps: names.map(() => String(d.createdAtMs)),
        inMemory_percentages: names.map(() => String(pct)),
      };
    },
    HasPartition: (req, ctx) => ({ value: service.hasPartition(ctx.db, str(req.collection_name), str(req.partition_name)) }),
    CreatePartition: (req, ctx) => {
      service.createPartition(ctx.db, str(req.collection_name), str(req.partition_name));
    },
    DropPartition: (req, ctx) => {
      service.dropPartition(ctx.db, str(req.collection_name), str(req.partition_name));
    },
    LoadPartitions: async (req, ctx) => {
      const name = str(req.collection_name);
      const parts = (req.partition_names as string[]) ?? [];
      if (parts.length === 0) throw invalid('partition_names is required');
      checkPartitions(ctx, name, parts);
      await service.loadCollection(ctx.db, name);
    },
    ReleasePartitions: async (req, ctx) => {
      const name = str(req.collection_name);
      const parts = (req.partition_names as string[]) ?? [];
      if (parts.length === 0) throw invalid('partition_names is required');
      checkPartitions(ctx, name, parts);
      await service.releaseCollection(ctx.db, name);
    },
    GetPartitionStatistics: (req, ctx) => ({ stats: [{ key: 'row_count', value: String(service.partitionStats(ctx.db, str(req.collection_name), str(req.partition_name)).rowCount) }] }),

    // ---- indexes --------------------------------------------------------------------------------
    CreateIndex: async (req, ctx) => {
      const kv = kvMap(req.extra_params as KeyValuePair[]);
      const params: Record<string, unknown> = parseJsonParam('extra_params.params', kv.get('params'));
      for (const [k, v] of kv) if (k !== 'params' && k !== 'index_type' && k !== 'metric_type' && params[k] === undefined) params[k] = v;
      const metric = kv.get('metric_type');
      await service.createIndex(ctx.db, str(req.collection_name), {
        fieldName: str(req.field_name),
        ...(optional(req.index_name) ? { indexName: str(req.index_name) } : {}),
        indexType: kv.get('index_type') ?? '',
        ...(metric !== undefined && metric !== '' ? { metricType: metric as MetricType } : {}),
        params,
      });
    },
    DescribeIndex: (req, ctx) => ({ index_descriptions: indexDescriptions(service, ctx, req) }),
    GetIndexStatistics: (req, ctx) => ({ index_descriptions: indexDescriptions(service, ctx, req) }),
    GetIndexState: (req, ctx) => {
      indexDescriptions(service, ctx, req);
      return { state: 'Finished', fail_reason: '' };
    },
    GetIndexBuildProgress: (req, ctx) => {
      const [first] = service.describeIndex(ctx.db, str(req.collection_name), optional(req.index_name), optional(req.field_name));
      return { indexed_rows: String(first!.indexedRows), total_rows: String(first!.totalRows) };
    },
    DropIndex: async (req, ctx) => {
      const name = str(req.collection_name);
      let indexName = str(req.index_name);
      if (indexName === '' && str(req.field_name) !== '') {
        const [found] = service.listIndexes(ctx.db, name, str(req.field_name));
        if (!found) throw new MilvusError(MilvusCode.IndexNotFound, milvusMessage('index not found', { collection: name, field: str(req.field_name) }));
        indexName = found.indexName;
      }
      await service.dropIndex(ctx.db, name, indexName);
    },

    // ---- aliases --------------------------------------------------------------------------------
    CreateAlias: async (req, ctx) => {
      await service.createAlias(ctx.db, str(req.collection_name), str(req.alias));
    },
    AlterAlias: async (req, ctx) => {
      await service.createAlias(ctx.db, str(req.collection_name), str(req.alias), true);
    },
    DropAlias: async (req, ctx) => {
      await service.dropAlias(ctx.db, str(req.alias));
    },
    DescribeAlias: (req, ctx) => {
      const a = service.describeAlias(ctx.db, str(req.alias));
      return { db_name: a.dbName, alias: a.alias, collection: a.collectionName };
    },
    ListAliases: (req, ctx) => ({
      db_name: ctx.db ?? DEFAULT_DATABASE,
      collection_name: str(req.collection_name),
      aliases: service.listAliases(ctx.db, optional(req.collection_name)),
    }),

    // ---- entities -------------------------------------------------------------------------------
    Insert: (req, ctx) => write(req, ctx, false),
    Upsert: (req, ctx) => write(req, ctx, true),
    Delete: async (req, ctx) => {
      const expr = str(req.expr);
      if (expr.trim() === '') throw invalid('delete needs an expression (expr): the SDK builds one from ids');
      const exprParams = templateValues(req.expr_template_values as Record<string, TemplateValueMsg>);
      const r = await service.delete(ctx.db, str(req.collection_name), { filter: expr, ...(exprParams ? { exprParams } : {}) }, optional(req.partition_name));
      return { succ_index: [], err_index: [], acknowledged: true, insert_cnt: '0', delete_cnt: String(r.deleteCount), upsert_cnt: '0', timestamp: String(r.timestamp) };
    },
    Query: async (req, ctx) => {
      const d = service.describeCollection(ctx.db, str(req.collection_name));
      const kv = kvMap(req.query_params as KeyValuePair[]);
      for (const k of ['order_by_fields', 'group_by_fields']) {
        if (optional(kv.get(k))) throw invalid(`${k} is not supported by vecwal`);
      }
      if (kv.get('iterator') === 'true') throw invalid('query iterators with element filters are not supported by vecwal');
      const requested = ((req.output_fields as string[]) ?? []).map((f) => f.trim()).filter((f) => f !== '');
      const limit = intParam('limit', kv.get('limit'));
      const offset = intParam('offset', kv.get('offset'));
      const exprParams = templateValues(req.expr_template_values as Record<string, TemplateValueMsg>);
      const partitionNames = (req.partition_names as string[]) ?? [];
      const pk = d.schema.fields.find((f) => f.isPrimaryKey)!;
      const base = {
        collectionName: d.collectionName,
        filter: str(req.expr),
        ...(exprParams ? { exprParams } : {}),
        ...(partitionNames.length > 0 ? { partitionNames } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(offset !== undefined ? { offset } : {}),
      };
      if (requested.some((f) => f.replace(/\s+/g, '').toLowerCase() === COUNT_FIELD)) {
        const rows = await service.query(ctx.db, { ...base, outputFields: requested });
        const count = rows[0]?.[COUNT_FIELD] ?? 0;
        return {
          fields_data: [{ type: 'Int64', field_name: COUNT_FIELD, is_dynamic: false, scalars: { long_data: { data: [String(count)] } } }],
          output_fields: [COUNT_FIELD],
          collection_name: d.collectionName,
          primary_field_name: pk.name,
        };
      }
      const plan = planOutputs(d.schema, requested);
      const rows = await service.query(ctx.db, { ...base, outputFields: plan.serviceOutputs });
      const { fieldsData, outputFields } = rowsToFieldsData(d.schema, d.fieldIds, rows, plan);
      return { fields_data: fieldsData, output_fields: outputFields, collection_name: d.collectionName, primary_field_name: pk.name };
    },
    Search: async (req, ctx) => {
      const d = service.describeCollection(ctx.db, str(req.collection_name));
      const sub = parseSearch(proto, req);
      const plan = planOutputs(d.schema, (req.output_fields as string[]) ?? []);
      const partitionNames = (req.partition_names as string[]) ?? [];
      const r = await service.search(ctx.db, { collectionName: d.collectionName, ...sub, outputFields: plan.serviceOutputs, ...(partitionNames.length > 0 ? { partitionNames } : {}) });
      return { results: searchResultData(d, r.results, plan, sub.limit), collection_name: d.collectionName, session_ts: '0' };
    },
    HybridSearch: async (req, ctx) => {
      const d = service.describeCollection(ctx.db, str(req.collection_name));
      const requests = (req.requests as Req[]) ?? [];
      if (requests.length === 0) throw invalid('hybrid search needs at least one search request');
      const rank = kvMap(req.rank_params as KeyValuePair[]);
      const strategy = (rank.get('strategy') ?? '').toLowerCase();
      const rp = parseJsonParam('rank_params.params', rank.get('params'));
      let rerank: HybridSearchRequest['rerank'];
      if (strategy === 'rrf') {
        rerank = rp.k !== undefined ? { strategy: 'rrf', k: Number(rp.k) } : { strategy: 'rrf' };
      } else if (strategy === 'weighted') {
        const weights = rp.weights;
        if (!Array.isArray(weights) || !weights.every((w) => typeof w === 'number' && Number.isFinite(w))) throw invalid('the weighted ranker needs params {"weights": [numbers]}');
        rerank = { strategy: 'weighted', weights: weights as number[], ...(rp.norm_score !== undefined ? { normScore: rp.norm_score === true || rp.norm_score === 'true' } : {}) };
      } else if (strategy === '' && req.function_score) {
        throw invalid('function rerankers (function_score) are not supported by vecwal: use the rrf or weighted ranker');
      } else {
        throw invalid(`unknown rerank strategy ${JSON.stringify(strategy)}: use rrf or weighted`);
      }
      const limit = intParam('limit', rank.get('limit'));
      const offset = intParam('offset', rank.get('offset'));
      const plan = planOutputs(d.schema, (req.output_fields as string[]) ?? []);
      const partitionNames = (req.partition_names as string[]) ?? [];
      const r = await service.hybridSearch(ctx.db, {
        collectionName: d.collectionName,
        searches: requests.map((s) => parseSearch(proto, s)),
        rerank,
        ...(limit !== undefined ? { limit } : {}),
        ...(offset !== undefined ? { offset } : {}),
        outputFields: plan.serviceOutputs,
        ...(partitionNames.length > 0 ? { partitionNames } : {}),
      });
      return { results: searchResultData(d, r.results, plan, limit), collection_name: d.collectionName, session_ts: '0' };
    },

    // ---- RBAC: silent success, as Milvus Lite (vecwal has one credential, see auth.ts) ----------
    CreateCredential: silent,
    UpdateCredential: silent,
    DeleteCredential: silent,
    ListCredUsers: () => ({ usernames: [] }),
    CreateRole: silent,
    AlterRole: silent,
    DropRole: silent,
    OperateUserRole: silent,
    SelectRole: () => ({ results: [] }),
    SelectUser: () => ({ results: [] }),
    OperatePrivilege: silent,
    OperatePrivilegeV2: silent,
    SelectGrant: () => ({ entities: [] }),
    BackupRBAC: silent,
    RestoreRBAC: silent,
    CreatePrivilegeGroup: silent,
    DropPrivilegeGroup: silent,
    ListPrivilegeGroups: () => ({ privilege_groups: [] }),
    OperatePrivilegeGroup: silent,
  };
}

function indexDescriptions(service: MilvusService, ctx: Ctx, req: Req): Record<string, unknown>[] {
  return service.describeIndex(ctx.db, str(req.collection_name), optional(req.index_name), optional(req.field_name)).map((i) => ({
    index_name: i.indexName,
    indexID: String(i.createdAtMs),
    params: [
      { key: 'index_type', value: i.indexType },
      ...(i.metricType ? [{ key: 'metric_type', value: i.metricType }] : []),
      { key: 'params', value: JSON.stringify(i.params) },
    ],
    field_name: i.fieldName,
    indexed_rows: String(i.indexedRows),
    total_rows: String(i.totalRows),
    state: 'Finished',
    index_state_fail_reason: '',
    pending_index_rows: String(i.pendingRows),
  }));
}

/**
 * A grpc-js Server with MilvusService and ClientTelemetryService. Not bound: the caller binds it
 * (bindAsync) or feeds it connections (createConnectionInjector) and shuts it down.
 */
export function createGrpcServer(service: MilvusService, options: GrpcOptions): grpc.Server {
  const proto = milvusProto();
  // Channelz (grpc-js's per-call and per-socket call counters and traces) is off: vecwal serves
  // no channelz service to read them, and its bookkeeping runs on every call.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': options.maxRequestBytes, 'grpc.max_send_message_length': -1, 'grpc.enable_channelz': 0 });
  const table = handlers(service, proto);
  const { auth, observe, logger } = options;

  const finish = (method: string, started: bigint, code: number): void => {
    if (!observe) return;
    try {
      observe({ protocol: 'grpc', method, code, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    } catch (e) {
      logger?.warn({ err: e, method }, 'grpc: request observer failed');
    }
  };

  const authenticated = (call: grpc.ServerUnaryCall<Req, unknown>): boolean => {
    if (!auth.enabled) return true;
    return auth.checkGrpcMetadata(call.metadata.get('authorization')[0]);
  };

  const unary =
    (method: string, handler: Handler | undefined, statusOnly: boolean): grpc.handleUnaryCall<Req, unknown> =>
    (call, callback) => {
      const started = process.hrtime.bigint();
      if (!authenticated(call)) {
        finish(method, started, MilvusCode.NotAuthenticated);
        callback({ code: grpc.status.UNAUTHENTICATED, details: "user hasn't authenticated: send a valid token or user:password (the authorization metadata, base64)" });
        return;
      }
      if (!handler) {
        finish(method, started, MilvusCode.ServiceUnimplemented);
        callback({ code: grpc.status.UNIMPLEMENTED, details: `vecwal does not implement ${method}` });
        return;
      }
      const req = call.request ?? {};
      const dbField = optional(req.db_name);
      const dbMeta = call.metadata.get('dbname')[0];
      const ctx: Ctx = { db: dbField ?? (typeof dbMeta === 'string' && dbMeta !== '' ? dbMeta : undefined) };
      Promise.resolve()
        .then(() => handler(req, ctx))
        .then(
          (resp) => {
            callback(null, statusOnly ? OK_STATUS : { ...(resp ?? {}), status: OK_STATUS });
            finish(method, started, MilvusCode.Success);
          },
          (e: unknown) => {
            const err = toMilvusError(e);
            if (err.code === MilvusCode.Unexpected || err.code === MilvusCode.ServiceInternal) logger?.error({ err: e, method }, `grpc ${method} failed`);
            else logger?.debug({ method, code: err.code, reason: err.message }, `grpc ${method} refused`);
            const status = errorStatus(err);
            callback(null, statusOnly ? status : { status });
            finish(method, started, err.code);
          },
        )
        .catch((e: unknown) => {
          // The callback itself failed (it should not: grpc-js reports serialization errors to the client).
          logger?.error({ err: e, method }, `grpc ${method}: could not send the response`);
        });
    };

  const impl: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(proto.milvusService)) {
    if (def.requestStream || def.responseStream) continue; // streaming RPCs: grpc-js answers UNIMPLEMENTED
    const statusOnly = proto.methods.get(method)?.responseType === 'common.Status';
    impl[method] = unary(method, table[method], statusOnly);
  }
  server.addService(serverDefinition(proto), impl);

  const telemetry: Record<string, Handler> = {
    ClientHeartbeat: () => ({ server_timestamp: String(Date.now()), commands: [] }),
    GetClientTelemetry: () => ({ clients: [] }),
  };
  const telemetryImpl: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(proto.telemetryService)) {
    if (def.requestStream || def.responseStream) continue;
    telemetryImpl[method] = unary(method, telemetry[method], false);
  }
  server.addService(proto.telemetryService, telemetryImpl);
  return server;
}
