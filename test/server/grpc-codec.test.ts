/**
 * The gRPC fast paths (grpc-proto.ts typed-array codecs, grpc-convert.ts columnar writes):
 *   - request decoding gives what proto-loader gives, except FloatArray.data (Float32Array) and
 *     LongArray.data (BigInt64Array); packed, unpacked and chunked encodings; malformed input;
 *   - response encoding is byte-identical to proto-loader's, from strings or bigints / typed arrays;
 *   - fields_data -> engine columns: typed columns pass through, valid_data, dynamic keys, and the
 *     row fallback when $meta keys cannot be columns;
 *   - columnar and row writes of the same random requests store the same rows (values and
 *     $meta key order) and refuse bad ones with the same message;
 *   - end to end through the SDK: dynamic keys in varying order keep each row's order.
 * Seeded (VECWAL_SEED replays).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { MilvusClient, ErrorCode } from '@zilliz/milvus2-sdk-node';
import { milvusProto } from '../../src/server/grpc-proto.js';
import { columnsFromFieldsData, columnsToRows, engineColumns, rowsFromFieldsData, type FieldDataMsg } from '../../src/server/grpc-convert.js';
import { MilvusService } from '../../src/server/service.js';
import { Authenticator } from '../../src/server/auth.js';
import { createGrpcServer } from '../../src/server/grpc.js';
import type { CollectionSchema, FieldSchema } from '../../src/db/types.js';
import { Rng, seedFromEnv } from '../../src/util/rng.js';

const proto = milvusProto();

/** Typed arrays as proto-loader would give them (numbers; int64 as decimal strings); Buffers as hex. */
function plain(v: unknown): unknown {
  if (v instanceof Float32Array) return Array.from(v);
  if (v instanceof BigInt64Array) return Array.from(v, String);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const INT64_EDGES = ['0', '-1', '1', '127', '128', '16383', '16384', '2147483647', '2147483648', '-2147483649', '4294967296', '9007199254740993', '9223372036854775807', '-9223372036854775808'];

function insertRequest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    collection_name: 'c',
    num_rows: 2,
    fields_data: [
      { field_name: 'id', type: 'Int64', scalars: { long_data: { data: INT64_EDGES } } },
      { field_name: 'v', type: 'FloatVector', vectors: { dim: '2', float_vector: { data: [1.5, -2, 3.25e-20, 1e30, 0, -0, 0.1, Number.MAX_VALUE, Number.NaN, -Infinity] } } },
      { field_name: 'e', type: 'FloatVector', vectors: { dim: '2', float_vector: { data: [] } } },
      { field_name: 'f', type: 'Float', scalars: { float_data: { data: [0.1, 0.2] } } },
      { field_name: 't', type: 'Array', scalars: { array_data: { element_type: 'Int64', data: [{ long_data: { data: ['5', '-6'] } }, { long_data: { data: [] } }] } } },
      { field_name: 'j', type: 'JSON', scalars: { json_data: { data: [Buffer.from('{"a":1}'), Buffer.from('')] } }, valid_data: [true, false] },
      ...((extra.fields as unknown[]) ?? []),
    ],
    ...extra,
  };
}

describe('gRPC typed-array codecs', () => {
  it('decode Insert/Upsert/Search requests as proto-loader does, with Float32Array and BigInt64Array', () => {
    for (const method of ['Insert', 'Upsert'] as const) {
      const bytes = proto.milvusService[method]!.requestSerialize(insertRequest());
      const fast = proto.requestDecoder(method)(bytes);
      assert.deepStrictEqual(plain(fast), plain(proto.milvusService[method]!.requestDeserialize(bytes)));
      const fd = fast.fields_data as FieldDataMsg[];
      assert.ok(fd[0]!.scalars!.long_data!.data instanceof BigInt64Array);
      assert.deepEqual(Array.from(fd[0]!.scalars!.long_data!.data as BigInt64Array), INT64_EDGES.map(BigInt));
      assert.ok(fd[1]!.vectors!.float_vector!.data instanceof Float32Array);
      assert.equal(fd[2]!.vectors!.float_vector!.data.length, 0);
    }
    const search = { collection_name: 'c', placeholder_group: Buffer.from([1, 2, 3]), search_params: [{ key: 'topk', value: '3' }], expr_template_values: { x: { array_val: { long_data: { data: ['1', '9007199254740993'] } } } } };
    const bytes = proto.milvusService.Search!.requestSerialize(search);
    assert.deepStrictEqual(plain(proto.requestDecoder('Search')(bytes)), plain(proto.milvusService.Search!.requestDeserialize(bytes)));
  });

  it('accept unpacked and chunked encodings; refuse a packed float payload that is not whole floats', () => {
    const floatArray = proto.root.lookupType('milvus.proto.schema.FloatArray');
    const longArray = proto.root.lookupType('milvus.proto.schema.LongArray');
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 5).float(1.25);
    w.uint32((1 << 3) | 2).fork().float(2).float(3).ldelim();
    w.uint32((1 << 3) | 5).float(-4);
    w.uint32((2 << 3) | 0).uint32(7); // an unknown field: skipped
    assert.deepEqual(Array.from((floatArray.decode(w.finish()) as unknown as { data: Float32Array }).data), [1.25, 2, 3, -4]);
    const l = protobuf.Writer.create();
    l.uint32(8).int64('-5');
    l.uint32(10).fork().int64(7).int64('-9223372036854775808').ldelim();
    l.uint32(10).fork().int64('300').ldelim();
    assert.deepEqual(Array.from((longArray.decode(l.finish()) as unknown as { data: BigInt64Array }).data), [-5n, 7n, -9223372036854775808n, 300n]);
    const bad = protobuf.Writer.create();
    bad.uint32(10).bytes(new Uint8Array(6));
    assert.throws(() => floatArray.decode(bad.finish()), /whole number of floats/);
    const truncated = protobuf.Writer.create();
    truncated.uint32(10).bytes(new Uint8Array([0x80, 0x80]));
    assert.throws(() => longArray.decode(truncated.finish()), RangeError);
  });

  it('encode responses byte-identical to proto-loader, from decimal strings or bigints and Float32Array', () => {
    const status = { error_code: 'Success', code: 0, reason: '', retriable: false, detail: '' };
    const mutation = { status, IDs: { int_id: { data: INT64_EDGES } }, succ_index: [0, 1], err_index: [], acknowledged: true, insert_cnt: '2', upsert_cnt: '0', delete_cnt: '0', timestamp: '123456789' };
    const columns = [
      { type: 'Int64', field_name: 'id', field_id: '100', is_dynamic: false, scalars: { long_data: { data: ['5', '-6'] } } },
      { type: 'FloatVector', field_name: 'v', field_id: '101', is_dynamic: false, vectors: { dim: '2', float_vector: { data: [0.5, 1, 2, -3.5] } } },
    ];
    const search = { status, results: { num_queries: '1', top_k: '2', fields_data: columns, scores: [0.25, 0.5], ids: { int_id: { data: ['5', '-6'] } }, topks: ['2'], output_fields: ['id', 'v'], primary_field_name: 'id' }, collection_name: 'c', session_ts: '0' };
    const query = { status, fields_data: columns, output_fields: ['id', 'v'], collection_name: 'c', primary_field_name: 'id' };
    const typedColumns = [
      { ...columns[0], scalars: { long_data: { data: [5n, -6] } } },
      { ...columns[1], vectors: { dim: '2', float_vector: { data: new Float32Array([0.5, 1, 2, -3.5]) } } },
    ];
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['Insert', mutation, { ...mutation, IDs: { int_id: { data: INT64_EDGES.map(BigInt) } } }],
      ['Upsert', mutation, { ...mutation, IDs: { int_id: { data: new BigInt64Array(INT64_EDGES.map(BigInt)) } } }],
      ['Search', search, { ...search, results: { ...search.results, fields_data: typedColumns, ids: { int_id: { data: [5n, -6n] } } } }],
      ['HybridSearch', search, search],
      ['Query', query, { ...query, fields_data: typedColumns }],
    ];
    for (const [method, plainMsg, typedMsg] of cases) {
      const expected = proto.milvusService[method]!.responseSerialize(plainMsg).toString('hex');
      assert.equal(proto.responseEncoder(method)(plainMsg).toString('hex'), expected, `${method} from strings`);
      assert.equal(proto.responseEncoder(method)(typedMsg).toString('hex'), expected, `${method} from typed values`);
    }
    assert.throws(() => proto.responseEncoder('Query')({ ...query, fields_data: [{ ...columns[1], vectors: { float_vector: { data: 'nope' } } }] }), /array expected/);
  });
});

const SCHEMA: CollectionSchema = {
  name: 'c',
  enableDynamicField: true,
  metricType: 'L2',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim: 4 },
    { name: 'title', dataType: 'VarChar', maxLength: 16 },
    { name: 'note', dataType: 'VarChar', maxLength: 16, nullable: true },
    { name: 'rating', dataType: 'Float', defaultValue: 1.5 },
    { name: 'count', dataType: 'Int8' },
    { name: 'tags', dataType: 'Array', elementType: 'Int64', maxCapacity: 4 },
    { name: 'meta', dataType: 'JSON', nullable: true },
  ] as FieldSchema[],
};

const json = (v: unknown): Buffer => Buffer.from(v === undefined ? '' : JSON.stringify(v));

/** A random Insert request (as the SDK would send it) for SCHEMA, n rows from id `from`. */
function randomRequest(rng: Rng, n: number, from: number, opts: { sparse: boolean; keyOrder: 'same' | 'mixed' }): Record<string, unknown> {
  const ids = Array.from({ length: n }, (_, i) => String(from + i));
  const vec = Array.from({ length: n * 4 }, () => Math.fround(rng.next() * 2 - 1));
  const noteValid = ids.map(() => rng.chance(0.7));
  const notes = ids.map((_, i) => `n${i}`);
  const ratingValid = ids.map(() => rng.chance(0.5));
  const ratings = ids.map(() => Math.fround(rng.next() * 10));
  const metaValid = ids.map(() => rng.chance(0.6));
  const metas = ids.map((_, i) => ({ g: i % 3, s: `x${i}` }));
  const dyn = ids.map((_, i) => {
    const o: Record<string, unknown> = {};
    const keys = opts.keyOrder === 'mixed' && i % 2 === 1 ? ['b', 'a'] : ['a', 'b'];
    for (const k of keys) if (rng.chance(0.7)) o[k] = k === 'a' ? i : { deep: [i, 'q'] };
    if (i % 4 === 0) o.c = null;
    return o;
  });
  const pick = <T>(values: T[], valid: boolean[], filler: T): T[] => (opts.sparse ? values.filter((_, i) => valid[i]) : values.map((v, i) => (valid[i] ? v : filler)));
  return {
    collection_name: 'c',
    num_rows: n,
    fields_data: [
      { type: 'Int64', field_name: 'id', scalars: { long_data: { data: ids } } },
      { type: 'FloatVector', field_name: 'vector', vectors: { dim: '4', float_vector: { data: vec } } },
      { type: 'VarChar', field_name: 'title', scalars: { string_data: { data: ids.map((id) => `t${id}`) } } },
      { type: 'VarChar', field_name: 'note', scalars: { string_data: { data: pick(notes, noteValid, '') } }, valid_data: noteValid },
      { type: 'Float', field_name: 'rating', scalars: { float_data: { data: pick(ratings, ratingValid, 0) } }, valid_data: ratingValid },
      { type: 'Int8', field_name: 'count', scalars: { int_data: { data: ids.map((_, i) => (i % 200) - 100) } } },
      { type: 'Array', field_name: 'tags', scalars: { array_data: { element_type: 'Int64', data: ids.map((_, i) => ({ long_data: { data: Array.from({ length: i % 4 }, (_x, k) => String(k * 1e15)) } })) } } },
      { type: 'JSON', field_name: 'meta', scalars: { json_data: { data: pick(metas.map(json), metaValid, Buffer.alloc(0)) } }, valid_data: metaValid },
      { type: 'JSON', field_name: '$meta', is_dynamic: true, scalars: { json_data: { data: dyn.map(json) } } },
    ],
  };
}

const orderedJson = (rows: unknown): string => JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Float32Array ? Array.from(v) : v));

describe('fields_data as engine columns', () => {
  it('passes typed columns through, marks invalid rows, and falls back to rows for $meta keys that cannot be columns', () => {
    const decode = (req: Record<string, unknown>) => proto.requestDecoder('Insert')(proto.milvusService.Insert!.requestSerialize(req));
    const rng = new Rng(1);
    const req = decode(randomRequest(rng, 6, 0, { sparse: true, keyOrder: 'same' }));
    const fc = columnsFromFieldsData(SCHEMA, req.fields_data as FieldDataMsg[], 6);
    assert.ok(fc.columns.get('id') instanceof BigInt64Array, 'dense Int64: the decoded BigInt64Array');
    assert.ok(fc.columns.get('vector') instanceof Float32Array && fc.columns.get('vector')!.length === 24, 'one flat vector column');
    const note = fc.columns.get('note')!;
    const valid = (req.fields_data as FieldDataMsg[])[3]!.valid_data!;
    for (let i = 0; i < 6; i++) assert.equal(note[i] === undefined, !valid[i], `note row ${i}`);
    const cols = engineColumns(fc)!;
    assert.ok(cols, 'consistent dynamic keys become columns');
    const rows = columnsToRows(fc);
    assert.deepEqual(rows, rowsFromFieldsData(SCHEMA, req.fields_data as FieldDataMsg[], 6));
    for (const [i, row] of rows.entries()) {
      for (const k of ['a', 'b', 'c']) assert.equal((cols[k] as unknown[] | undefined)?.[i], row[k], `dynamic ${k} row ${i}`);
    }
    const mixed = decode(randomRequest(new Rng(2), 6, 0, { sparse: false, keyOrder: 'mixed' }));
    const mfc = columnsFromFieldsData(SCHEMA, mixed.fields_data as FieldDataMsg[], 6);
    const orders = mfc.dynamic!.filter((o) => o && Object.keys(o).filter((k) => k !== 'c').length === 2).map((o) => Object.keys(o!).join());
    if (new Set(orders).size > 1) assert.equal(engineColumns(mfc), null, 'rows whose keys come in different orders: rows');
    for (const key of ['$x', '__proto__']) {
      const dynOnly = { collection_name: 'c', num_rows: 1, fields_data: [{ type: 'JSON', field_name: '$meta', is_dynamic: true, scalars: { json_data: { data: [Buffer.from(`{"${key}":1}`)] } } }] };
      assert.equal(engineColumns(columnsFromFieldsData(SCHEMA, decode(dynOnly).fields_data as FieldDataMsg[], 1)), null, `${key}: rows`);
    }
  });
});

describe('columnar and row writes agree', { timeout: 60_000 }, () => {
  const seed = seedFromEnv('VECWAL_SEED', 20261124);
  let dir: string;
  let service: MilvusService;

  before(async () => {
    console.log(`grpc-codec.test seed ${seed} (VECWAL_SEED replays)`);
    dir = await mkdtemp(join(tmpdir(), 'vecwal-codec-'));
    service = await MilvusService.open({ dataDir: dir });
    for (const name of ['by_columns', 'by_rows']) {
      await service.createCollection(undefined, { collectionName: name, fields: SCHEMA.fields, enableDynamicField: true, indexes: [{ fieldName: 'vector', indexType: 'FLAT', metricType: 'L2' }] });
    }
  });

  after(async () => {
    await service?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const decode = (req: Record<string, unknown>) => proto.requestDecoder('Insert')(proto.milvusService.Insert!.requestSerialize(req));
  const schemaOf = (name: string) => service.describeCollection(undefined, name).schema;

  /** Write one request both ways; returns the two outcomes (ids or error messages). */
  async function both(req: Record<string, unknown>, upsert = false): Promise<[string, string]> {
    const fd = decode(req).fields_data as FieldDataMsg[];
    const n = Number(req.num_rows);
    // (messages name their collection: compared without it)
    const outcome = (p: Promise<{ ids: unknown[] }>) => p.then((r) => `ok ${r.ids.join()}`, (e: Error) => `error ${e.message.replace(/by_columns|by_rows/g, '<c>')}`);
    const fc = columnsFromFieldsData(schemaOf('by_columns'), fd, n);
    const cols = engineColumns(fc);
    const a = cols ? outcome(upsert ? service.upsertColumns(undefined, 'by_columns', cols) : service.insertColumns(undefined, 'by_columns', cols)) : outcome(upsert ? service.upsert(undefined, 'by_columns', columnsToRows(fc)) : service.insert(undefined, 'by_columns', columnsToRows(fc)));
    const rows = columnsToRows(columnsFromFieldsData(schemaOf('by_rows'), fd, n));
    const b = outcome(upsert ? service.upsert(undefined, 'by_rows', rows) : service.insert(undefined, 'by_rows', rows));
    return [await a, await b];
  }

  it('random requests: same rows stored (values and $meta key order)', async () => {
    const rng = new Rng(seed);
    let next = 0;
    for (let round = 0; round < 12; round++) {
      const n = 1 + rng.int(40);
      const req = randomRequest(rng, n, next, { sparse: rng.chance(0.5), keyOrder: rng.chance(0.3) ? 'mixed' : 'same' });
      next += n;
      const [a, b] = await both(req, round % 3 === 2);
      assert.equal(a, b, `round ${round}`);
      assert.match(a, /^ok /);
    }
    const query = (name: string) => service.query(undefined, { collectionName: name, filter: 'id >= 0', outputFields: ['*'] });
    const [ca, rb] = [await query('by_columns'), await query('by_rows')];
    assert.equal(ca.length, next);
    assert.equal(orderedJson(ca), orderedJson(rb));
  });

  it('bad values: the same refusal from both paths, nothing written', async () => {
    const before = service.collectionStats(undefined, 'by_columns').rowCount;
    const base = () => randomRequest(new Rng(seed + 1), 5, 1_000_000, { sparse: false, keyOrder: 'same' });
    const edits: Array<[string, (fd: Array<Record<string, any>>) => void]> = [
      ['title too long', (fd) => (fd[2]!.scalars.string_data.data[3] = 'x'.repeat(40))],
      ['Int8 out of range', (fd) => (fd[5]!.scalars.int_data.data[2] = 300)],
      ['non-finite vector', (fd) => (fd[1]!.vectors.float_vector.data[9] = Infinity)],
      ['duplicate key', (fd) => (fd[0]!.scalars.long_data.data[4] = fd[0]!.scalars.long_data.data[1])],
      ['existing key', (fd) => (fd[0]!.scalars.long_data.data[0] = '0')],
      ['dynamic value', (fd) => (fd[8]!.scalars.json_data.data[1] = Buffer.from('{"a":{"$bad":[1e999]}}'))],
      ['reserved dynamic key', (fd) => (fd[8]!.scalars.json_data.data[2] = Buffer.from('{"$x":1}'))],
      ['tags over capacity', (fd) => (fd[6]!.scalars.array_data.data[0] = { long_data: { data: ['1', '2', '3', '4', '5'] } })],
    ];
    for (const [what, edit] of edits) {
      const req = base();
      edit(req.fields_data as Array<Record<string, any>>);
      let outcomes: [string, string];
      try {
        outcomes = await both(req);
      } catch (e) {
        outcomes = [`convert ${(e as Error).message}`, `convert ${(e as Error).message}`];
      }
      assert.equal(outcomes[0], outcomes[1], what);
      assert.doesNotMatch(outcomes[0], /^ok/, what);
    }
    assert.equal(service.collectionStats(undefined, 'by_columns').rowCount, before);
  });
});

describe('dynamic keys through the SDK', { timeout: 60_000 }, () => {
  let dir: string;
  let service: MilvusService;
  let server: grpc.Server;
  let client: MilvusClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vecwal-codec-sdk-'));
    service = await MilvusService.open({ dataDir: dir });
    server = createGrpcServer(service, { auth: new Authenticator({}), maxRequestBytes: 64 << 20 });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    client = new MilvusClient({ address: `127.0.0.1:${port}`, maxRetries: 0, logLevel: 'error' });
    await client.connectPromise;
  });

  after(async () => {
    await client?.closeConnection().catch(() => undefined);
    server?.forceShutdown();
    await service?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keep each row’s key order, in one order or mixed, and return Float32 vectors exactly', async () => {
    assert.equal((await client.createCollection({ collection_name: 'dyn', dimension: 4 })).error_code, ErrorCode.SUCCESS);
    const data = [
      { id: 1, vector: [0.1, 0.2, 0.3, 0.4], x: 1, y: 'a' },
      { id: 2, vector: [1, 0, 0, 0], y: 'b', x: 2 },
      { id: 3, vector: [0, 1, 0, 0], x: 3 },
      { id: '9007199254740993', vector: [0, 0, 1, 0], z: [1, { q: true }], x: 4 },
    ];
    const ins = await client.insert({ collection_name: 'dyn', data });
    assert.equal(ins.status.error_code, ErrorCode.SUCCESS, ins.status.reason);
    const q = await client.query({ collection_name: 'dyn', filter: 'id > 0', output_fields: ['id', '$meta', 'vector'] });
    assert.equal(q.status.error_code, ErrorCode.SUCCESS, q.status.reason);
    const byId = new Map(q.data.map((r) => [String(r.id), r]));
    assert.deepEqual(Object.keys(byId.get('1')!.$meta as object), ['x', 'y']);
    assert.deepEqual(Object.keys(byId.get('2')!.$meta as object), ['y', 'x']);
    assert.deepEqual(byId.get('9007199254740993')!.$meta, { z: [1, { q: true }], x: 4 });
    assert.deepEqual(byId.get('1')!.vector, Array.from(new Float32Array([0.1, 0.2, 0.3, 0.4])));
    const s = await client.search({ collection_name: 'dyn', data: [0.1, 0.2, 0.3, 0.4], limit: 1, output_fields: ['vector', 'x'] });
    assert.equal(s.status.error_code, ErrorCode.SUCCESS, s.status.reason);
    assert.equal(String(s.results[0]!.id), '1');
    assert.deepEqual(s.results[0]!.vector, Array.from(new Float32Array([0.1, 0.2, 0.3, 0.4])));
    assert.equal(s.results[0]!.x, 1);
  });
});
