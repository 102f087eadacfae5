/**
 * Milvus RESTful API v2 (`POST /v2/vectordb/<category>/<action>`) over the MilvusService.
 *
 * This layer only translates: HTTP and JSON in, service calls, JSON out. Every semantic
 * decision (names, load state, indexes, partitions, limits) is the service's, so REST and gRPC
 * behave the same. Conventions, as Milvus (../shared/reference/milvus-api.md §2; docs/server-rest.md):
 *   - every route is POST; the body is JSON whatever Content-Type says (the SDK sends text/plain);
 *     keys match case-insensitively (rest-params.ts);
 *   - success is HTTP 200 {code: 0, data}; errors are HTTP 200 {code, message} with Milvus codes,
 *     except auth (401 {code: 1800}), an oversized body (413 {code: 1102}) and unknown paths or
 *     methods (gin's plain-text `404 page not found`);
 *   - the database is the body's dbName, else the DB-Name header, else `default`;
 *   - Int64 values (and int64 primary keys) are JSON strings unless the request says
 *     `Accept-Type-Allow-Int64: true`; int64 input beyond 2^53 stays exact (rest-json.ts).
 * Milvus routes outside vecwal's surface (users, roles, import jobs, resource groups, ...)
 * answer {code: 10} naming the path. A handler never throws to node:http: every failure is an
 * envelope, unexpected ones are logged.
 */
import * as nodeBuffer from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { VecwalError } from '../errors.js';
import type { CollectionSchema, FieldSchema } from '../db/types.js';
import type { Row } from '../db/reader.js';
import type { Authenticator, RequestObserver } from './auth.js';
import { MilvusCode, MilvusError, toMilvusError } from './milvus-error.js';
import { DEFAULT_PARTITION, type HybridSearchRequest, type MilvusService, type SearchRequest } from './service.js';
import { bigIntsToNumbers, containsBigInt, firstBigInt, float32Number, parseJson, stringifyJson } from './rest-json.js';
import { Params, givenFields, isPlainObject, missing, typeError, type JsonObject } from './rest-params.js';
import { describeForRest, propertiesOf, toCreateRequest, toIndexRequest } from './rest-schema.js';

export interface RestOptions {
  auth: Authenticator;
  /** Largest request body accepted, in bytes; larger bodies get HTTP 413 and are not read. */
  maxRequestBytes: number;
  logger?: Logger;
  /** Called once per request: protocol 'rest', method = the route path, the Milvus code, seconds. */
  observe?: RequestObserver;
}

export const REST_PREFIX = '/v2/vectordb';

/** Milvus routes vecwal does not serve: HTTP 200 {code: 10, message: "<path> is not supported by vecwal"}. */
const UNSUPPORTED_ROUTES = new Set(
  [
    'collections/truncate',
    'collections/add_function',
    'collections/alter_function',
    'collections/drop_function',
    'collections/add_function_field',
    'collections/drop_function_field',
    'collections/fields/add',
    'collections/fields/drop',
    'collections/fields/alter_properties',
    'collections/struct_fields/add',
    ...['list', 'describe', 'create', 'update_password', 'drop', 'grant_role', 'revoke_role'].map((a) => `users/${a}`),
    ...['list', 'describe', 'create', 'alter', 'drop', 'grant_privilege', 'revoke_privilege', 'grant_privilege_v2', 'revoke_privilege_v2'].map((a) => `roles/${a}`),
    ...['create', 'drop', 'list', 'add_privileges_to_group', 'remove_privileges_from_group'].map((a) => `privilege_groups/${a}`),
    ...['list', 'create', 'get_progress', 'describe', 'commit', 'abort'].map((a) => `jobs/import/${a}`),
    ...['restore_external', 'export', 'describe', 'list'].map((a) => `jobs/snapshot/${a}`),
    ...['refresh', 'describe', 'list'].map((a) => `jobs/external_collection/${a}`),
    ...['create', 'drop', 'alter', 'describe', 'list', 'transfer_replica'].map((a) => `resource_groups/${a}`),
    ...['add', 'remove', 'list'].map((a) => `file_resources/${a}`),
    'segments/describe',
    'quotacenter/describe',
    'common/run_analyzer',
  ].map((r) => `${REST_PREFIX}/${r}`),
);

interface Ctx {
  /** The request body. */
  p: Params;
  /** The database: body dbName, else the DB-Name header, else undefined (the service's default). */
  db: string | undefined;
  /** True when some integer in the body was beyond ±(2^53-1) (a bigint). */
  hasBigInt: boolean;
}

interface Reply {
  data: unknown;
  /** Extra top-level members (cost, topks). */
  extra?: JsonObject;
}

type Route = (ctx: Ctx) => Promise<Reply> | Reply;

const EMPTY_BODY_MESSAGE = 'can only accept json format request, the request body should be nil, however {} is valid';

/** Go's strconv.ParseBool truth values, as Milvus reads Accept-Type-Allow-Int64. */
function headerTrue(v: string | string[] | undefined): boolean {
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s.trim());
}

function headerString(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

class BodyTooLarge extends Error {}
class ClientAborted extends Error {}

/** Observed code of a request whose client went away before sending its body (nginx's 499). */
export const CLIENT_CLOSED_CODE = 499;
/** Observed code of an unknown path or method (the HTTP status: no Milvus code applies). */
export const NOT_FOUND_CODE = 404;

/** A request body as received: the socket's chunks (not concatenated) and their total size. */
interface Body {
  chunks: Buffer[];
  size: number;
}

/**
 * Read the body, counting bytes as they stream. Past `max` it rejects with BodyTooLarge at once
 * (nothing more is buffered; the caller answers 413 and calls `discardRest`).
 */
function readBody(req: IncomingMessage, max: number): Promise<Body> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve({ chunks, size });
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        req.pause();
        finish(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(null);
    const onError = (e: Error): void => finish(e);
    const onClose = (): void => finish(new ClientAborted('the client closed the connection before sending the whole body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** After a 413: bytes of the refused body still read and thrown away, and for how long. */
const LINGER_BYTES = 16 * 1024 * 1024;
const LINGER_MS = 5000;

/**
 * After a 413, throw the rest of the body away (never buffered) so the client, which is usually
 * still sending, reads the response: closing at once would reset the connection and the client
 * would see EPIPE/ECONNRESET instead of the 413 (the classic lingering-close problem). A body
 * that ends within LINGER_BYTES leaves the connection reusable; past that, or after LINGER_MS,
 * the connection is closed.
 */
function discardRest(req: IncomingMessage): void {
  let seen = 0;
  const close = (): void => {
    clearTimeout(timer);
    req.socket?.destroy();
  };
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  const stop = (): void => clearTimeout(timer);
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > LINGER_BYTES) close();
  });
  req.once('end', stop);
  req.once('close', stop);
  req.on('error', () => undefined);
  req.resume();
}

/** Bodies up to this size are assembled in one reused buffer (see BodyDecoder). */
const POOLED_BODY_BYTES = 32 * 1024 * 1024;

/**
 * Body bytes -> text. The chunks are copied into one buffer that is reused from request to
 * request (a fresh multi-megabyte buffer per request costs more in page faults than the copy),
 * and an all-ASCII body (the usual JSON) is decoded as latin1, a plain copy, several times
 * faster than UTF-8 decoding and the same text. Synchronous: the buffer is free again when it
 * returns, so concurrent requests never share it.
 */
class BodyDecoder {
  private pool: Buffer = Buffer.alloc(0);

  text(body: Body): string {
    const { chunks, size } = body;
    if (size === 0) return '';
    let buf: Buffer;
    if (chunks.length === 1) buf = chunks[0]!;
    else {
      if (size <= POOLED_BODY_BYTES && this.pool.length < size) this.pool = Buffer.allocUnsafeSlow(Math.min(POOLED_BODY_BYTES, Math.max(size, 2 * this.pool.length)));
      buf = size <= this.pool.length ? this.pool : Buffer.allocUnsafeSlow(size);
      let at = 0;
      for (const c of chunks) at += c.copy(buf, at);
    }
    return isAscii(buf.subarray(0, size)) ? buf.toString('latin1', 0, size) : buf.toString('utf8', 0, size);
  }
}

/** buffer.isAscii (Node >= 20.6); on older Node every body takes the UTF-8 decoder. */
const isAscii: (b: Uint8Array) => boolean = (nodeBuffer as { isAscii?: (b: Uint8Array) => boolean }).isAscii ?? (() => false);

function send(res: ServerResponse, status: number, body: string, contentType: string): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  send(res, status, body, 'application/json; charset=utf-8');
}

function errorBody(code: number, message: string): string {
  return JSON.stringify({ code, message });
}

/** Insert/upsert data problems are Milvus's 1804 "fail to deal the insert data". */
function insertError(e: unknown): unknown {
  const cause = e instanceof MilvusError ? e.cause : e;
  if (cause instanceof VecwalError && cause.code === 'DATA_INVALID') {
    return new MilvusError(MilvusCode.InvalidInsertData, `fail to deal the insert data, error: ${cause.message}`, { cause });
  }
  return e;
}

/** A primary key of the wrong type given to get/delete by id is Milvus's 1806. */
function primaryKeyError(e: unknown): unknown {
  const cause = e instanceof MilvusError ? e.cause : e;
  if (cause instanceof VecwalError && cause.code === 'DATA_INVALID') {
    return new MilvusError(MilvusCode.InvalidPrimaryKey, `please check the primary key and its' type can only in [int, string], error: ${cause.message}`, { cause });
  }
  return e;
}

function isFloat32Field(f: FieldSchema): boolean {
  return f.dataType === 'Float' || (f.dataType === 'Array' && f.elementType === 'Float');
}

/** Rows for output: Float values print as float32 (vectors are Float32Array: the serializer does it). */
function renderRows<T extends Row>(rows: T[], schema: CollectionSchema): T[] {
  const floats = schema.fields.filter(isFloat32Field);
  if (floats.length === 0) return rows;
  for (const row of rows) {
    for (const f of floats) {
      const v = row[f.name];
      if (typeof v === 'number') (row as Row)[f.name] = float32Number(v);
      else if (Array.isArray(v)) (row as Row)[f.name] = v.map((x) => (typeof x === 'number' ? float32Number(x) : x));
    }
  }
  return rows;
}

/**
 * Rows whose JSON held integers beyond 2^53 (bigint): exact where the field is Int64, numbers
 * where it is floating point, refused where a JSON value would have to store them (the engine
 * keeps JSON numbers as doubles and would lose digits silently).
 */
function prepareBigIntRows(rows: JsonObject[], schema: CollectionSchema): void {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  rows.forEach((row, i) => {
    for (const k of Object.keys(row)) {
      const v = row[k];
      if (!containsBigInt(v)) continue;
      const f = byName.get(k);
      if (f && (f.dataType === 'Int64' || (f.dataType === 'Array' && f.elementType === 'Int64'))) continue;
      const floating = (t: string | undefined): boolean => t === 'Float' || t === 'Double' || t === 'FloatVector';
      if (f && (floating(f.dataType) || (f.dataType === 'Array' && floating(f.elementType)))) {
        row[k] = bigIntsToNumbers(v);
        continue;
      }
      if (!f || f.dataType === 'JSON') {
        throw new MilvusError(
          MilvusCode.InvalidInsertData,
          `fail to deal the insert data, error: row ${i}: field "${k}" holds the integer ${String(firstBigInt(v))}, beyond ±(2^53-1): vecwal stores JSON numbers as doubles and would change its digits; send it as a string`,
        );
      }
      // Other types (Int8..Int32, Bool, VarChar): the engine refuses the value with a clear message.
    }
  });
}

/** The rows of an insert/upsert body: a list of objects (one object is one row, as Milvus). */
function rowsOf(p: Params): JsonObject[] {
  const data = p.raw('data', { required: true });
  const rows = Array.isArray(data) ? data : [data];
  rows.forEach((r, i) => {
    if (!isPlainObject(r)) throw new MilvusError(MilvusCode.InvalidInsertData, `fail to deal the insert data, error: row ${i} is not a JSON object: data must be a list of rows such as [{"id": 1, "vector": [0.1, 0.2]}]`);
  });
  return rows as JsonObject[];
}

/** Query vectors of a search body: lists of numbers (bigint literals become numbers). */
function vectorsOf(v: unknown, path: string): number[][] {
  if (!Array.isArray(v)) throw typeError(path, v, '[][]float32');
  // One flat vector is accepted as one query, as Milvus does.
  const list = v.length > 0 && !Array.isArray(v[0]) && (typeof v[0] === 'number' || typeof v[0] === 'bigint') ? [v] : v;
  return list.map((q, i) => {
    if (!Array.isArray(q)) throw new MilvusError(MilvusCode.InvalidJsonBody, `can only accept json format request, error: ${path}[${i}] is not a list of numbers`);
    return q.map((x, j) => {
      if (typeof x === 'number') return x;
      if (typeof x === 'bigint') return Number(x);
      throw new MilvusError(MilvusCode.InvalidJsonBody, `can only accept json format request, error: ${path}[${i}][${j}] is not a number`);
    });
  });
}

/** Optional fields a search and each hybrid_search sub-request share, copied when given (`metricType`: the caller's precedence). */
function searchOptions(p: Params, metricType: string | undefined): Pick<SearchRequest, 'annsField' | 'filter' | 'exprParams' | 'offset' | 'metricType' | 'groupingField'> {
  return givenFields({ annsField: p.str('annsField'), filter: p.str('filter'), exprParams: p.map('exprParams'), offset: p.int('offset'), metricType, groupingField: p.str('groupingField') });
}

/** searchParams {metricType, params: {...}, radius?, range_filter?, ...} flattened as Milvus does. */
function searchParamsOf(sp: Params | undefined): { metricType?: string; params: JsonObject } {
  if (!sp) return { params: {} };
  const params: JsonObject = { ...(sp.map('params') ?? {}) };
  for (const [k, v] of Object.entries(sp.obj)) {
    const lk = k.toLowerCase();
    if (lk === 'metrictype' || lk === 'metric_type' || lk === 'params') continue;
    if (!(k in params)) params[k] = v;
  }
  const metricType = sp.str('metricType') ?? sp.str('metric_type');
  return metricType ? { metricType, params } : { params };
}

function flatten(results: Row[][]): { rows: Row[]; topks: number[] } {
  const rows: Row[] = [];
  for (const list of results) rows.push(...list);
  return { rows, topks: results.map((l) => l.length) };
}

function buildRoutes(service: MilvusService): Map<string, Route> {
  const r = new Map<string, Route>();
  const add = (path: string, fn: Route): void => void r.set(`${REST_PREFIX}/${path}`, fn);
  const ok = (data: unknown = {}): Reply => ({ data });
  const coll = (p: Params): string => p.str('collectionName', { required: true });
  const schemaOf = (db: string | undefined, name: string): CollectionSchema => service.describeCollection(db, name).schema;

  // ---- collections --------------------------------------------------------------------------
  add('collections/create', async ({ p, db }) => {
    await service.createCollection(db, toCreateRequest(p));
    return ok();
  });
  add('collections/describe', ({ p, db }) => ok(describeForRest(service.describeCollection(db, coll(p)))));
  add('collections/list', ({ db }) => ok(service.listCollections(db)));
  add('collections/has', ({ p, db }) => ok({ has: service.hasCollection(db, coll(p)) }));
  add('collections/drop', async ({ p, db }) => {
    await service.dropCollection(db, coll(p));
    return ok();
  });
  add('collections/rename', async ({ p, db }) => {
    const from = coll(p);
    const to = p.str('newCollectionName', { required: true });
    await service.renameCollection(db, from, to, p.str('newDbName'));
    return ok();
  });
  add('collections/get_stats', ({ p, db }) => ok({ rowCount: service.collectionStats(db, coll(p)).rowCount }));
  const load: Route = async ({ p, db }) => {
    await service.loadCollection(db, coll(p));
    return ok();
  };
  add('collections/load', load);
  add('collections/refresh_load', load);
  add('collections/release', async ({ p, db }) => {
    await service.releaseCollection(db, coll(p));
    return ok();
  });
  add('collections/get_load_state', ({ p, db }) => {
    const name = coll(p);
    const partitions = p.strList('partitionNames') ?? [];
    const s = service.loadState(db, name);
    for (const part of partitions) {
      if (!service.hasPartition(db, name, part)) throw new MilvusError(MilvusCode.PartitionNotFound, `partition not found[partition=${part}]`);
    }
    return ok(s.state === 'LoadStateLoaded' ? { loadState: s.state, loadProgress: s.progress } : { loadState: s.state });
  });
  add('collections/flush', async ({ p, db }) => {
    await service.flush(db, [coll(p)]);
    return ok();
  });
  add('collections/compact', async ({ p, db }) => {
    p.bool('isClustering');
    const r = await service.compact(db, coll(p));
    return ok({ compactionID: r.compactionId });
  });
  // Compaction runs to completion inside `compact`, so every job is Completed.
  add('collections/get_compaction_state', ({ p }) => {
    p.int('jobID');
    return ok({ state: 'Completed', executingPlan: 0, timeoutPlan: 0, completedPlan: 1 });
  });
  add('collections/alter_properties', async ({ p, db }) => {
    const name = coll(p);
    await service.alterCollectionProperties(db, name, propertiesOf(p.raw('properties', { required: true }), 'properties'));
    return ok();
  });
  add('collections/drop_properties', async ({ p, db }) => {
    const name = coll(p);
    await service.alterCollectionProperties(db, name, {}, p.strList('propertyKeys', { required: true }));
    return ok();
  });

  // ---- entities -----------------------------------------------------------------------------
  const write = (upsert: boolean): Route => async ({ p, db, hasBigInt }) => {
    const name = coll(p);
    const rows = rowsOf(p);
    if (hasBigInt) prepareBigIntRows(rows, schemaOf(db, name));
    const partition = p.str('partitionName') || undefined;
    try {
      const res = upsert ? await service.upsert(db, name, rows, partition) : await service.insert(db, name, rows, partition);
      return { data: upsert ? { upsertCount: res.count, upsertIds: res.ids } : { insertCount: res.count, insertIds: res.ids }, extra: { cost: 0 } };
    } catch (e) {
      throw insertError(e);
    }
  };
  add('entities/insert', write(false));
  add('entities/upsert', write(true));
  add('entities/delete', async ({ p, db }) => {
    const name = coll(p);
    const filter = p.str('filter') ?? '';
    const partition = p.str('partitionName') || undefined;
    if (filter.trim() !== '') {
      const exprParams = p.map('exprParams');
      const r = await service.delete(db, name, exprParams ? { filter, exprParams } : { filter }, partition);
      return ok({ deleteCount: r.deleteCount });
    }
    const id = p.raw('id');
    if (id === undefined) throw missing('filter', 'give a filter expression, or the primary keys as id');
    try {
      const r = await service.delete(db, name, { ids: Array.isArray(id) ? id : [id] }, partition);
      return ok({ deleteCount: r.deleteCount });
    } catch (e) {
      throw primaryKeyError(e);
    }
  });
  add('entities/get', async ({ p, db }) => {
    const name = coll(p);
    const id = p.raw('id', { required: true });
    const ids = Array.isArray(id) ? id : [id];
    const outputFields = p.strList('outputFields');
    const partitions = p.strList('partitionNames');
    p.str('consistencyLevel');
    let rows: Row[];
    try {
      rows = await service.get(db, name, ids, outputFields, partitions);
    } catch (e) {
      throw primaryKeyError(e);
    }
    return { data: renderRows(rows, schemaOf(db, name)), extra: { cost: 0 } };
  });
  add('entities/query', async ({ p, db }) => {
    const name = coll(p);
    const outputFields = p.strList('outputFields');
    const isCount = outputFields?.length === 1 && outputFields[0]!.replace(/\s+/g, '').toLowerCase() === 'count(*)';
    // Milvus REST: limit defaults to 100; 0 means "no limit"; count(*) ignores it.
    const given = p.int('limit', { min: 0 });
    const limit = isCount ? undefined : given === undefined ? 100 : given > 0 ? given : undefined;
    const offset = p.int('offset', { min: 0 });
    const exprParams = p.map('exprParams');
    const partitionNames = p.strList('partitionNames');
    const consistencyLevel = p.str('consistencyLevel');
    const rows = await service.query(db, {
      collectionName: name,
      filter: p.str('filter') ?? '',
      ...givenFields({ outputFields, limit, offset, exprParams, partitionNames, consistencyLevel }),
    });
    return { data: isCount ? rows : renderRows(rows, schemaOf(db, name)), extra: { cost: 0 } };
  });
  add('entities/search', async ({ p, db }) => {
    const name = coll(p);
    const data = p.raw('data');
    const ids = p.raw('ids');
    const hasData = Array.isArray(data) ? data.length > 0 : data !== undefined;
    const hasIds = Array.isArray(ids) ? ids.length > 0 : ids !== undefined;
    if (hasData && hasIds) {
      throw new MilvusError(MilvusCode.ParameterInvalid, "primary keys (ids) and query vectors (data) are mutually exclusive. Please provide either 'ids' or 'data', not both");
    }
    if (!hasData && !hasIds) {
      throw new MilvusError(MilvusCode.MissingRequiredParameters, "missing required parameters, error: either 'ids' (for primary key search) or 'data' (for vector search) must be provided");
    }
    const schema = schemaOf(db, name);
    const partitionNames = p.strList('partitionNames');
    let vectors: ArrayLike<number>[];
    if (hasData) vectors = vectorsOf(data, 'data');
    else vectors = await vectorsByIds(db, name, schema, Array.isArray(ids) ? ids : [ids], partitionNames);
    const sp = searchParamsOf(p.child('searchParams'));
    const req: SearchRequest = {
      collectionName: name, data: vectors, limit: p.int('limit') ?? 100, params: sp.params, ...searchOptions(p, sp.metricType ?? p.str('metricType')),
      ...givenFields({ outputFields: p.strList('outputFields'), partitionNames, consistencyLevel: p.str('consistencyLevel') }),
    };
    const res = await service.search(db, req);
    const { rows, topks } = flatten(res.results);
    return { data: renderRows(rows, schema), extra: { cost: 0, topks } };
  });
  const hybrid: Route = async ({ p, db }) => {
    const name = coll(p);
    const searches = p.children('search', { required: true })!;
    const rp = p.child('rerank', { required: true })!;
    const strategy = rp.str('strategy', { required: true }).toLowerCase();
    const rparams = rp.child('params') ?? new Params({}, `${rp.path}.params`);
    let rerank: HybridSearchRequest['rerank'];
    if (strategy === 'rrf') {
      const k = rparams.raw('k');
      if (k !== undefined && typeof k !== 'number') throw typeError(`${rparams.path}.k`, k, 'float64');
      rerank = k === undefined ? { strategy: 'rrf' } : { strategy: 'rrf', k };
    } else if (strategy === 'weighted') {
      const weights = rparams.list('weights', { required: true })!;
      for (const [i, w] of weights.entries()) if (typeof w !== 'number') throw typeError(`${rparams.path}.weights[${i}]`, w, 'float64');
      const norm = rparams.looseBool('norm_score');
      rerank = { strategy: 'weighted', weights: weights as number[], ...(norm !== undefined ? { normScore: norm } : {}) };
    } else {
      throw new MilvusError(MilvusCode.ParameterInvalid, `rerank strategy ${strategy} is not supported: use rrf or weighted`);
    }
    const subs: HybridSearchRequest['searches'] = searches.map((s) => {
      const sp = searchParamsOf(s.child('searchParams'));
      const params = { ...sp.params, ...(s.map('params') ?? {}) };
      return { data: vectorsOf(s.raw('data', { required: true }), `${s.path}.data`), params, limit: s.int('limit') ?? 100, ...searchOptions(s, s.str('metricType') ?? sp.metricType) };
    });
    const req: HybridSearchRequest = {
      collectionName: name, searches: subs, rerank, limit: p.int('limit') ?? 100,
      ...givenFields({ offset: p.int('offset'), outputFields: p.strList('outputFields'), partitionNames: p.strList('partitionNames'), consistencyLevel: p.str('consistencyLevel') }),
    };
    const res = await service.hybridSearch(db, req);
    const { rows, topks } = flatten(res.results);
    return { data: renderRows(rows, schemaOf(db, name)), extra: { cost: 0, topks } };
  };
  add('entities/hybrid_search', hybrid);
  add('entities/advanced_search', hybrid);

  /** Search by primary keys: the stored vectors of those rows are the queries, in the given order. */
  async function vectorsByIds(db: string | undefined, name: string, schema: CollectionSchema, ids: unknown[], partitions: string[] | undefined): Promise<ArrayLike<number>[]> {
    const pk = schema.fields.find((f) => f.isPrimaryKey)!.name;
    const vector = schema.fields.find((f) => f.dataType === 'FloatVector')!.name;
    let rows: Row[];
    try {
      rows = await service.get(db, name, ids, [vector], partitions);
    } catch (e) {
      throw primaryKeyError(e);
    }
    const byPk = new Map(rows.map((row) => [String(row[pk]), row[vector] as ArrayLike<number>]));
    return ids.map((id) => {
      const v = byPk.get(String(id));
      if (!v) throw new MilvusError(MilvusCode.ParameterInvalid, `primary key ${String(id)} not found in collection ${name}: search by ids needs existing rows`);
      return v;
    });
  }

  // ---- indexes ------------------------------------------------------------------------------
  add('indexes/create', async ({ p, db }) => {
    const name = coll(p);
    const specs = p.children('indexParams', { required: true })!;
    if (specs.length === 0) throw missing('indexParams');
    for (const ip of specs) await service.createIndex(db, name, toIndexRequest(ip));
    return ok();
  });
  add('indexes/describe', ({ p, db }) => {
    const name = coll(p);
    const indexName = p.str('indexName', { required: true });
    return ok(
      service.describeIndex(db, name, indexName).map((i) => ({
        indexName: i.indexName,
        fieldName: i.fieldName,
        indexType: i.indexType,
        metricType: i.metricType ?? '',
        totalRows: i.totalRows,
        indexedRows: i.indexedRows,
        pendingRows: i.pendingRows,
        indexState: i.state,
        failReason: '',
        indexParams: Object.entries(i.params).map(([key, value]) => ({ key, value })),
      })),
    );
  });
  add('indexes/list', ({ p, db }) => ok(service.listIndexes(db, coll(p)).map((i) => i.indexName)));
  add('indexes/drop', async ({ p, db }) => {
    const name = coll(p);
    await service.dropIndex(db, name, p.str('indexName', { required: true }));
    return ok();
  });
  const indexProperties: Route = ({ p, db }) => {
    const name = coll(p);
    const indexName = p.str('indexName', { required: true });
    service.describeIndex(db, name, indexName); // index not found → 700
    throw new MilvusError(MilvusCode.ServiceUnimplemented, `index properties (mmap.enabled, ...) are not supported by vecwal[index=${indexName}]`);
  };
  add('indexes/alter_properties', indexProperties);
  add('indexes/drop_properties', indexProperties);

  // ---- partitions (only _default) ---------------------------------------------------------------
  add('partitions/list', ({ p, db }) => ok(service.listPartitions(db, coll(p))));
  add('partitions/has', ({ p, db }) => ok({ has: service.hasPartition(db, coll(p), p.str('partitionName', { required: true })) }));
  add('partitions/create', ({ p, db }) => service.createPartition(db, coll(p), p.str('partitionName', { required: true })));
  add('partitions/drop', ({ p, db }) => service.dropPartition(db, coll(p), p.str('partitionName', { required: true })));
  add('partitions/get_stats', ({ p, db }) => ok({ rowCount: service.partitionStats(db, coll(p), p.str('partitionName', { required: true })).rowCount }));
  const partitionLoad = (release: boolean): Route => async ({ p, db }) => {
    const name = coll(p);
    const parts = p.strList('partitionNames', { required: true })!;
    for (const part of parts) service.partitionStats(db, name, part); // only _default: others are not found
    if (parts.includes(DEFAULT_PARTITION)) {
      if (release) await service.releaseCollection(db, name);
      else await service.loadCollection(db, name);
    }
    return ok();
  };
  add('partitions/load', partitionLoad(false));
  add('partitions/release', partitionLoad(true));

  // ---- databases (dbName is the database operated on, and required) -----------------------------
  const dbName = (p: Params): string => p.str('dbName', { required: true });
  add('databases/create', async ({ p }) => {
    await service.createDatabase(dbName(p), propertiesOf(p.raw('properties'), 'properties'));
    return ok();
  });
  add('databases/drop', async ({ p }) => {
    await service.dropDatabase(dbName(p));
    return ok();
  });
  add('databases/list', () => ok(service.listDatabases()));
  add('databases/describe', ({ p }) => {
    const d = service.describeDatabase(dbName(p));
    return ok({ dbName: d.dbName, dbID: d.dbId, properties: Object.entries(d.properties).map(([key, value]) => ({ key, value })) });
  });
  const alterDb: Route = async ({ p }) => {
    const name = dbName(p);
    await service.alterDatabaseProperties(name, propertiesOf(p.raw('properties', { required: true }), 'properties'));
    return ok();
  };
  add('databases/alter', alterDb);
  add('databases/alter_properties', alterDb);
  add('databases/drop_properties', async ({ p }) => {
    const name = dbName(p);
    await service.alterDatabaseProperties(name, {}, p.strList('propertyKeys', { required: true }));
    return ok();
  });

  // ---- aliases ------------------------------------------------------------------------------
  const alias = (p: Params): string => p.str('aliasName', { required: true });
  add('aliases/create', async ({ p, db }) => {
    await service.createAlias(db, coll(p), alias(p));
    return ok();
  });
  add('aliases/alter', async ({ p, db }) => {
    await service.createAlias(db, coll(p), alias(p), true);
    return ok();
  });
  add('aliases/drop', async ({ p, db }) => {
    await service.dropAlias(db, alias(p));
    return ok();
  });
  add('aliases/describe', ({ p, db }) => {
    const d = service.describeAlias(db, alias(p));
    return ok({ aliasName: d.alias, collectionName: d.collectionName, dbName: d.dbName });
  });
  add('aliases/list', ({ p, db }) => ok(service.listAliases(db, p.str('collectionName') || undefined)));
  return r;
}

/** The request handler to mount on a node:http server (docs/server-rest.md). */
export function createRestHandler(service: MilvusService, options: RestOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = buildRoutes(service);
  const log = options.logger;
  const decoder = new BodyDecoder();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<{ method: string; code: number }> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const route = routes.get(path);
    const unsupported = route === undefined && UNSUPPORTED_ROUTES.has(path);
    if (req.method !== 'POST' || (route === undefined && !unsupported)) {
      send(res, 404, '404 page not found', 'text/plain; charset=utf-8');
      return { method: 'unknown', code: NOT_FOUND_CODE };
    }
    if (options.auth.enabled && !options.auth.checkHttpHeader(headerString(req.headers.authorization))) {
      sendJson(res, 401, errorBody(MilvusCode.NotAuthenticated, "user hasn't authenticated"));
      return { method: path, code: MilvusCode.NotAuthenticated };
    }
    if (unsupported) {
      sendJson(res, 200, errorBody(MilvusCode.ServiceUnimplemented, `${path} is not supported by vecwal`));
      return { method: path, code: MilvusCode.ServiceUnimplemented };
    }
    let body: Body;
    try {
      body = await readBody(req, options.maxRequestBytes);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        sendJson(res, 413, errorBody(MilvusCode.ParameterTooLarge, `request body too large: the limit is ${options.maxRequestBytes} bytes`));
        discardRest(req);
        return { method: path, code: MilvusCode.ParameterTooLarge };
      }
      if (e instanceof ClientAborted || req.destroyed) {
        log?.debug({ path }, 'REST client went away before sending the whole body');
        return { method: path, code: CLIENT_CLOSED_CODE };
      }
      throw e;
    }
    const allowInt64 = headerTrue(req.headers['accept-type-allow-int64']);
    let code: number;
    let text: string;
    try {
      const reply = await run(route!, body, req);
      text = stringifyJson({ code: MilvusCode.Success, ...reply.extra, data: reply.data }, allowInt64);
      code = MilvusCode.Success;
    } catch (e) {
      const me = toMilvusError(e);
      if (!(e instanceof MilvusError) || me.code === MilvusCode.Unexpected || me.code === MilvusCode.ServiceInternal) {
        log?.error({ err: e, path, code: me.code }, 'REST request failed');
      }
      code = me.code;
      text = errorBody(me.code, me.message);
    }
    sendJson(res, 200, text);
    return { method: path, code };
  }

  async function run(route: Route, body: Body, req: IncomingMessage): Promise<Reply> {
    const text = decoder.text(body);
    if (text.trim() === '') throw new MilvusError(MilvusCode.InvalidJsonBody, EMPTY_BODY_MESSAGE);
    let parsed: ReturnType<typeof parseJson>;
    try {
      parsed = parseJson(text);
    } catch (e) {
      throw new MilvusError(MilvusCode.InvalidJsonBody, `can only accept json format request, error: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (parsed.value !== null && !isPlainObject(parsed.value)) {
      throw new MilvusError(MilvusCode.InvalidJsonBody, `can only accept json format request, error: json: cannot unmarshal ${Array.isArray(parsed.value) ? 'array' : typeof parsed.value} into a request object`);
    }
    const p = Params.of(parsed.value, '');
    const db = p.str('dbName') || headerString(req.headers['db-name']);
    return route({ p, db, hasBigInt: parsed.hasBigInt });
  }

  return (req, res) => {
    const started = process.hrtime.bigint();
    const done = (method: string, code: number): void => {
      if (!options.observe) return;
      try {
        options.observe({ protocol: 'rest', method, code, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      } catch (e) {
        log?.warn({ err: e }, 'REST request observer threw');
      }
    };
    handle(req, res).then(
      ({ method, code }) => done(method, code),
      (e: unknown) => {
        // Only reachable on a broken connection or a bug: answer if still possible, never throw.
        const me = toMilvusError(e);
        log?.error({ err: e, url: req.url }, 'REST request failed unexpectedly');
        try {
          sendJson(res, 200, errorBody(me.code, me.message));
        } catch {
          res.destroy();
        }
        done((req.url ?? '/').split('?', 1)[0]!, me.code);
      },
    );
  };
}
