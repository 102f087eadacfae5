/**
 * The REST v2 handler (src/server/rest.ts) driven by the official SDK's HttpClient and by raw
 * fetch, mounted on its own node:http server over a MilvusService in a temp directory:
 *   - collection lifecycle (quick and custom schema, describe shape, list, has, rename, load
 *     state, drop), 10,000 rows inserted in batches, query filters (comparison, in, like, a
 *     dynamic field by bare name, count(*)) checked against the generated rows, search (pk and
 *     output fields present, order and distances equal to a naive computation), search by ids,
 *     hybrid search, upsert (newest wins), delete by filter and by id, flush, get_stats;
 *   - databases, aliases, indexes, partitions;
 *   - bad input: every case gets the Milvus code and message, and the row count is unchanged;
 *   - wire conventions: case-insensitive keys, Int64 as strings unless Accept-Type-Allow-Int64,
 *     an int64 above 2^53 round-tripping exactly, 404s, 413, 401, code 10 routes, observe.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '@zilliz/milvus2-sdk-node';
import { MilvusService } from '../../src/server/service.js';
import { Authenticator } from '../../src/server/auth.js';
import { createRestHandler } from '../../src/server/rest.js';
import { float32String, parseJson, stringifyJson } from '../../src/server/rest-json.js';
import { Rng } from '../../src/util/rng.js';

const DIM = 8;
const ROWS = 10_000;
const MAX_BODY = 2 * 1024 * 1024;
const COLORS = ['red', 'green', 'blue'];

let dir: string;
let svc: MilvusService;
let server: Server;
let authServer: Server;
let base: string;
let authBase: string;
let http: HttpClient;
const observed: { protocol: string; method: string; code: number; seconds: number }[] = [];

interface Item {
  id: number;
  title: string;
  price: number;
  category: number;
  vector: number[];
  color: string;
}
/** The rows of `items` as the test believes they are (kept in step with every write). */
const items = new Map<number, Item>();

function listen(s: Server): Promise<string> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vecwal-rest-'));
  svc = await MilvusService.open({ dataDir: dir });
  server = createServer(createRestHandler(svc, { auth: new Authenticator({}), maxRequestBytes: MAX_BODY, observe: (e) => observed.push(e) }));
  authServer = createServer(createRestHandler(svc, { auth: new Authenticator({ token: 'secret-token' }), maxRequestBytes: MAX_BODY }));
  base = await listen(server);
  authBase = await listen(authServer);
  http = new HttpClient({ endpoint: base });
});

after(async () => {
  server.closeAllConnections();
  authServer.closeAllConnections();
  await new Promise((r) => server.close(r));
  await new Promise((r) => authServer.close(r));
  await svc.close();
  await rm(dir, { recursive: true, force: true });
});

interface Raw {
  status: number;
  text: string;
  body: { code: number; message?: string; data?: unknown; [k: string]: unknown };
  headers: Headers;
}

/** POST a raw body (a string is sent as is; anything else as JSON.stringify). */
async function post(path: string, body: unknown, headers: Record<string, string> = {}, url = base): Promise<Raw> {
  const res = await fetch(`${url}/v2/vectordb/${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: Raw['body'];
  try {
    parsed = JSON.parse(text) as Raw['body'];
  } catch {
    parsed = { code: -1 };
  }
  return { status: res.status, text, body: parsed, headers: res.headers };
}

async function count(collectionName: string, dbName = 'default'): Promise<number> {
  const r = await http.query({ collectionName, dbName, filter: '', outputFields: ['count(*)'] });
  assert.equal(r.code, 0, JSON.stringify(r));
  return (r.data[0] as Record<string, number>)['count(*)']!;
}

function expectError(res: { code: number; message?: string } | Raw, code: number, ...fragments: (string | RegExp)[]): void {
  const r = 'body' in res && 'status' in res ? res.body : (res as { code: number; message?: string });
  assert.equal(r.code, code, `expected code ${code}, got ${JSON.stringify(r)}`);
  assert.equal(typeof r.message, 'string');
  for (const f of fragments) {
    if (typeof f === 'string') assert.ok(r.message!.includes(f), `message ${JSON.stringify(r.message)} should contain ${JSON.stringify(f)}`);
    else assert.match(r.message!, f);
  }
}

function makeItems(from: number, n: number, rng: Rng): Item[] {
  const out: Item[] = [];
  for (let i = from; i < from + n; i++) {
    const vector = Array.from({ length: DIM }, () => Math.fround(rng.next() * 2 - 1));
    out.push({ id: i, title: `item_${i}`, price: Math.fround(Math.round(rng.next() * 10000) / 100), category: i % 10, vector, color: COLORS[i % 3]! });
  }
  return out;
}

function l2(a: number[], b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

test('collection lifecycle through the SDK: quick create, describe, list, has, rename, load state, drop', async () => {
  assert.deepEqual(await http.listCollections(), { code: 0, data: [] });
  assert.equal((await http.createCollection({ collectionName: 'quick', dimension: 4 })).code, 0);
  assert.deepEqual((await http.hasCollection({ collectionName: 'quick', dbName: 'default' })).data, { has: true });
  assert.deepEqual((await http.hasCollection({ collectionName: 'nope', dbName: 'default' })).data, { has: false });
  const d = await http.describeCollection({ collectionName: 'quick' });
  assert.equal(d.code, 0);
  const desc = d.data as unknown as Record<string, any>;
  assert.equal(desc.collectionName, 'quick');
  assert.equal(desc.autoId, false);
  assert.equal(desc.enableDynamicField, true);
  assert.equal(desc.load, 'LoadStateLoaded');
  assert.equal(desc.consistencyLevel, 'Bounded');
  assert.deepEqual(
    desc.fields.map((f: Record<string, unknown>) => [f.name, f.type, f.primaryKey, f.id]),
    [
      ['id', 'Int64', true, 100],
      ['vector', 'FloatVector', false, 101],
    ],
  );
  assert.deepEqual(desc.fields[1].params, [{ key: 'dim', value: '4' }]);
  assert.deepEqual(desc.indexes, [{ indexName: 'vector', fieldName: 'vector', metricType: 'COSINE' }]);
  assert.deepEqual(desc.properties, []);
  assert.deepEqual(await http.getCollectionLoadState({ collectionName: 'quick', dbName: 'default' }), { code: 0, data: { loadState: 'LoadStateLoaded', loadProgress: 100 } });
  assert.equal((await http.releaseCollection({ collectionName: 'quick' })).code, 0);
  assert.deepEqual((await http.getCollectionLoadState({ collectionName: 'quick', dbName: 'default' })).data, { loadState: 'LoadStateNotLoad' });
  // Reads of a released collection: 101, as Milvus.
  expectError(await http.query({ collectionName: 'quick', filter: 'id > 0', outputFields: ['id'] }), 101, 'collection not loaded');
  assert.equal((await http.loadCollection({ collectionName: 'quick' })).code, 0);
  assert.equal((await http.renameCollection({ collectionName: 'quick', newCollectionName: 'quick2' })).code, 0);
  assert.deepEqual((await http.listCollections()).data, ['quick2']);
  // Quick create options: VarChar id, names, metric, no dynamic field, consistency, autoID.
  const q = await http.createCollection({
    collectionName: 'quickv',
    dimension: 3,
    metricType: 'L2',
    idType: 'VarChar',
    primaryFieldName: 'pk',
    vectorFieldName: 'emb',
    params: { max_length: 64, enableDynamicField: false, consistencyLevel: 'Strong' },
  });
  assert.equal(q.code, 0, JSON.stringify(q));
  const dv = (await http.describeCollection({ collectionName: 'quickv' })).data as unknown as Record<string, any>;
  assert.deepEqual(dv.fields.map((f: Record<string, unknown>) => [f.name, f.type]), [
    ['pk', 'VarChar'],
    ['emb', 'FloatVector'],
  ]);
  assert.deepEqual(dv.fields[0].params, [{ key: 'max_length', value: '64' }]);
  assert.equal(dv.enableDynamicField, false);
  assert.equal(dv.consistencyLevel, 'Strong');
  assert.deepEqual(dv.indexes, [{ indexName: 'emb', fieldName: 'emb', metricType: 'L2' }]);
  const ins = await http.insert({ collectionName: 'quickv', data: [{ pk: 'a', emb: [1, 2, 3] }] });
  assert.deepEqual(ins, { code: 0, cost: 0, data: { insertCount: 1, insertIds: ['a'] } });
  const auto = await http.createCollection({ collectionName: 'quicka', dimension: 2, autoID: true });
  assert.equal(auto.code, 0);
  const ai = await http.insert({ collectionName: 'quicka', data: [{ vector: [1, 0] }, { vector: [0, 1] }] });
  assert.equal(ai.code, 0);
  assert.equal(ai.data.insertCount, 2);
  for (const id of ai.data.insertIds as string[]) assert.match(id, /^-?\d+$/, 'auto ids are int64 strings');
  for (const c of ['quick2', 'quickv', 'quicka']) assert.equal((await http.dropCollection({ collectionName: c })).code, 0);
  assert.deepEqual((await http.listCollections()).data, []);
  assert.deepEqual((await http.hasCollection({ collectionName: 'quick2', dbName: 'default' })).data, { has: false });
});

test('custom schema with indexParams: every supported type, describe shape, unsupported types refused', async () => {
  const r = await http.createCollection({
    collectionName: 'items',
    schema: {
      autoID: false,
      enableDynamicField: true,
      fields: [
        { fieldName: 'id', dataType: 'Int64', isPrimary: true },
        { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: '64' } },
        { fieldName: 'price', dataType: 'Float' },
        { fieldName: 'category', dataType: 'Int32' },
        { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: String(DIM) } },
      ],
    } as never,
    indexParams: [{ fieldName: 'vector', indexName: 'vidx', metricType: 'L2', params: { index_type: 'HNSW', M: '16', efConstruction: '200' } }] as never,
  });
  assert.equal(r.code, 0, JSON.stringify(r));
  const desc = (await http.describeCollection({ collectionName: 'items' })).data as unknown as Record<string, any>;
  assert.equal(desc.load, 'LoadStateLoaded', 'indexParams → loaded');
  assert.deepEqual(desc.indexes, [{ indexName: 'vidx', fieldName: 'vector', metricType: 'L2' }]);
  assert.deepEqual(desc.fields.map((f: Record<string, unknown>) => f.type), ['Int64', 'VarChar', 'Float', 'Int32', 'FloatVector']);
  assert.deepEqual(desc.fields[1].params, [{ key: 'max_length', value: '64' }]);

  // Every other type, Array with elementDataType, nullable, defaultValue; no indexParams → not loaded.
  const all = await post('collections/create', {
    collectionName: 'alltypes',
    schema: {
      autoId: true, // the SDK's own tests spell it this way; keys are case-insensitive
      fields: [
        { fieldName: 'pk', dataType: 'Int64', isPrimary: true },
        { fieldName: 'b', dataType: 'Bool', nullable: true },
        { fieldName: 'i8', dataType: 'Int8', defaultValue: 7 },
        { fieldName: 'i16', dataType: 'Int16' },
        { fieldName: 'i64', dataType: 'Int64' },
        { fieldName: 'd', dataType: 'Double' },
        { fieldName: 'j', dataType: 'JSON' },
        { fieldName: 'tags', dataType: 'Array', elementDataType: 'VarChar', elementTypeParams: { max_capacity: 4, max_length: 10 } },
        { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 2 } },
      ],
    },
  });
  assert.equal(all.body.code, 0, all.text);
  const ad = (await http.describeCollection({ collectionName: 'alltypes' })).data as unknown as Record<string, any>;
  assert.equal(ad.autoId, true);
  assert.equal(ad.load, 'LoadStateNotLoad');
  assert.equal(ad.enableDynamicField, false);
  const byName = Object.fromEntries(ad.fields.map((f: Record<string, unknown>) => [f.name, f]));
  assert.equal(byName.b.nullable, true);
  assert.equal(byName.i8.defaultValue, 7);
  assert.equal(byName.tags.elementType, 'VarChar');
  assert.deepEqual(byName.tags.params, [
    { key: 'max_length', value: '10' },
    { key: 'max_capacity', value: '4' },
  ]);
  assert.equal(byName.pk.autoId, true);
  // Loading without an index: 700; with one created through indexes/create: loads.
  expectError(await http.loadCollection({ collectionName: 'alltypes' }), 700, 'index not found');
  assert.equal((await http.createIndex({ collectionName: 'alltypes', indexParams: [{ fieldName: 'v', indexName: 'v', metricType: 'IP', params: { index_type: 'FLAT' } }] } as never)).code, 0);
  assert.equal((await http.loadCollection({ collectionName: 'alltypes' })).code, 0);
  const ins = await post('entities/insert', { collectionName: 'alltypes', data: [{ b: true, i16: 3, i64: '9223372036854775807', d: 1.5, j: { a: [1, 2] }, tags: ['x', 'y'], v: [0.1, 0.2] }] });
  assert.equal(ins.body.code, 0, ins.text);
  const rows = await post('entities/query', { collectionName: 'alltypes', filter: 'i16 == 3', outputFields: ['*'] });
  assert.equal(rows.body.code, 0, rows.text);
  const row = (rows.body.data as Record<string, unknown>[])[0]!;
  assert.deepEqual({ ...row, pk: typeof row.pk }, { pk: 'string', b: true, i8: 7, i16: 3, i64: '9223372036854775807', d: 1.5, j: { a: [1, 2] }, tags: ['x', 'y'], v: [0.1, 0.2] });

  // Unsupported types and a second vector field: 1100 naming the problem; nothing created.
  const sparse = await post('collections/create', { collectionName: 'bad1', schema: { fields: [{ fieldName: 'id', dataType: 'Int64', isPrimary: true }, { fieldName: 's', dataType: 'SparseFloatVector' }] } });
  expectError(sparse.body, 1100, 'SparseFloatVector', 'not support');
  const binary = await post('collections/create', { collectionName: 'bad2', schema: { fields: [{ fieldName: 'id', dataType: 'Int64', isPrimary: true }, { fieldName: 'b', dataType: 'BinaryVector', elementTypeParams: { dim: 8 } }] } });
  expectError(binary.body, 1100, 'BinaryVector');
  const twoVectors = await post('collections/create', {
    collectionName: 'bad3',
    schema: { fields: [{ fieldName: 'id', dataType: 'Int64', isPrimary: true }, { fieldName: 'a', dataType: 'FloatVector', elementTypeParams: { dim: 2 } }, { fieldName: 'b', dataType: 'FloatVector', elementTypeParams: { dim: 2 } }] },
  });
  expectError(twoVectors.body, 1100, 'exactly one');
  const lower = await post('collections/create', { collectionName: 'bad4', schema: { fields: [{ fieldName: 'id', dataType: 'int64', isPrimary: true }, { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 2 } }] } });
  expectError(lower.body, 1100, 'case-sensitive');
  const partKey = await post('collections/create', { collectionName: 'bad5', schema: { fields: [{ fieldName: 'id', dataType: 'Int64', isPrimary: true, isPartitionKey: true }, { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 2 } }] } });
  expectError(partKey.body, 1100, 'partition key');
  const noDim = await post('collections/create', { collectionName: 'bad6', schema: { fields: [{ fieldName: 'id', dataType: 'Int64', isPrimary: true }, { fieldName: 'v', dataType: 'FloatVector' }] } });
  expectError(noDim.body, 1100, 'dim');
  const missingType = await post('collections/create', { collectionName: 'bad7', schema: { fields: [{ fieldName: 'id', isPrimary: true }] } });
  expectError(missingType.body, 1802, 'missing required parameters', 'dataType');
  const quickNoDim = await post('collections/create', { collectionName: 'bad8' });
  expectError(quickNoDim.body, 1802, 'dimension');
  assert.deepEqual((await http.listCollections()).data, ['alltypes', 'items']);
  assert.equal((await http.dropCollection({ collectionName: 'alltypes' })).code, 0);
});

test('insert 10,000 rows in batches; query filters, count(*), get, search and hybrid search against naive answers', async () => {
  const rng = new Rng(20240601);
  const all = makeItems(0, ROWS, rng);
  for (let from = 0; from < ROWS; from += 2500) {
    const batch = all.slice(from, from + 2500);
    const r = await http.insert({ collectionName: 'items', data: batch });
    assert.equal(r.code, 0, JSON.stringify(r).slice(0, 300));
    assert.equal(r.data.insertCount, batch.length);
    assert.deepEqual(r.data.insertIds, batch.map((b) => String(b.id)), 'Int64 ids are strings by default');
    assert.equal((r as unknown as { cost: number }).cost, 0);
  }
  for (const it of all) items.set(it.id, it);
  assert.equal(await count('items'), ROWS);

  // count(*) with a filter, comparison, in, like, a dynamic field by bare name.
  const cat3 = await http.query({ collectionName: 'items', filter: 'category == 3', outputFields: ['count(*)'] });
  assert.deepEqual(cat3.data, [{ 'count(*)': all.filter((x) => x.category === 3).length }]);
  const cmp = await http.query({ collectionName: 'items', filter: 'price > 50 and category < 2', outputFields: ['id'], limit: 16384 });
  assert.deepEqual(
    cmp.data.map((r) => Number(r.id)).sort((a, b) => a - b),
    all.filter((x) => x.price > 50 && x.category < 2).map((x) => x.id),
  );
  const inq = await http.query({ collectionName: 'items', filter: 'id in [3, 1, 4159]', outputFields: ['id', 'title', 'color', 'price'] });
  assert.deepEqual(
    inq.data.sort((a, b) => Number(a.id) - Number(b.id)),
    [1, 3, 4159].map((i) => ({ id: String(i), title: `item_${i}`, color: items.get(i)!.color, price: Number(float32String(items.get(i)!.price)) })),
  );
  const like = await http.query({ collectionName: 'items', filter: 'title like "item_99%"', outputFields: ['title'], limit: 1000 });
  assert.deepEqual(
    like.data.map((r) => r.title).sort(),
    all.filter((x) => x.title.startsWith('item_99')).map((x) => x.title).sort(),
  );
  const dyn = await http.query({ collectionName: 'items', filter: 'color == "blue" and id < 30', outputFields: ['id', 'color'] });
  assert.deepEqual(
    dyn.data.map((r) => Number(r.id)).sort((a, b) => a - b),
    all.filter((x) => x.color === 'blue' && x.id < 30).map((x) => x.id),
  );
  // Default limit 100; offset.
  const dflt = await http.query({ collectionName: 'items', filter: 'id >= 0', outputFields: ['id'] });
  assert.equal(dflt.data.length, 100);
  const page = await post('entities/query', { collectionName: 'items', filter: 'id >= 0', outputFields: ['id'], limit: 5, offset: 10 });
  assert.equal((page.body.data as unknown[]).length, 5);
  // exprParams templates.
  const tmpl = await post('entities/query', { collectionName: 'items', filter: 'id in {ids}', exprParams: { ids: [7, 8] }, outputFields: ['id'] });
  assert.deepEqual((tmpl.body.data as { id: string }[]).map((r) => r.id).sort(), ['7', '8']);

  // get: the key is literally `id`; vectors come back as float32 numbers.
  const got = await http.get({ collectionName: 'items', id: [5, 6], outputFields: ['id', 'vector', 'title'] });
  assert.equal(got.code, 0);
  const got5 = got.data.find((r) => r.id === '5')!;
  assert.deepEqual(got5.vector, items.get(5)!.vector.map((x) => Number(float32String(x))));
  assert.equal(got5.title, 'item_5');

  // search: pk and output fields present, order and distances equal to a naive L2 top-k.
  const q = Array.from({ length: DIM }, () => rng.next() * 2 - 1);
  const naive = all.map((x) => ({ id: x.id, d: l2(q, x.vector) })).sort((a, b) => a.d - b.d);
  const s = await http.search({ collectionName: 'items', data: [q], limit: 10, outputFields: ['title', 'color'] });
  assert.equal(s.code, 0, JSON.stringify(s));
  assert.deepEqual(s.topks, [10]);
  const hits = s.data as Record<string, any>[];
  assert.deepEqual(hits.map((h) => Number(h.id)), naive.slice(0, 10).map((n) => n.id));
  for (const [i, h] of hits.entries()) {
    assert.equal(h.title, `item_${h.id}`);
    assert.equal(h.color, items.get(Number(h.id))!.color);
    assert.ok(Math.abs(h.distance - naive[i]!.d) < 1e-4, `distance ${h.distance} vs ${naive[i]!.d}`);
  }
  // Filtered search and two query vectors (the SDK splits by topks).
  const filtered = await http.search({ collectionName: 'items', data: [q], limit: 5, filter: 'category == 4', outputFields: ['category'] });
  assert.deepEqual((filtered.data as Record<string, any>[]).map((h) => Number(h.id)), naive.filter((n) => n.id % 10 === 4).slice(0, 5).map((n) => n.id));
  const two = await http.search({ collectionName: 'items', data: [q, items.get(42)!.vector], limit: 3, outputFields: [] });
  assert.deepEqual(two.topks, [3, 3]);
  const groups = two.data as unknown as Record<string, any>[][];
  assert.deepEqual(groups[0]!.map((h) => Number(h.id)), naive.slice(0, 3).map((n) => n.id));
  assert.equal(groups[1]![0]!.id, '42');
  assert.equal(groups[1]![0]!.distance, 0);
  // Search by primary keys: the stored vector of row 42 is the query.
  const byIds = await post('entities/search', { collectionName: 'items', ids: [42], limit: 2 });
  assert.equal(byIds.body.code, 0, byIds.text);
  assert.equal((byIds.body.data as { id: string }[])[0]!.id, '42');
  // Range search through searchParams.params (L2 keeps range_filter <= d < radius).
  const range = await post('entities/search', { collectionName: 'items', data: [q], limit: 50, searchParams: { metricType: 'L2', params: { radius: naive[5]!.d + 1e-6, range_filter: naive[2]!.d - 1e-6 } } });
  assert.deepEqual((range.body.data as { id: string }[]).map((h) => Number(h.id)), naive.slice(2, 6).map((n) => n.id));
  // Hybrid search (RRF): two searches, fused.
  const hy = await http.hybridSearch({
    collectionName: 'items',
    search: [
      { data: [q], limit: 5 },
      { data: [q], limit: 5, filter: 'category == 4' },
    ],
    rerank: { strategy: 'rrf', params: { k: 60 } },
    limit: 3,
    outputFields: ['title'],
  });
  assert.equal(hy.code, 0, JSON.stringify(hy));
  const hyRows = hy.data as Record<string, any>[];
  assert.equal(hyRows.length, 3);
  for (const h of hyRows) assert.equal(h.title, `item_${h.id}`);
  const adv = await post('entities/advanced_search', { collectionName: 'items', search: [{ data: [q], limit: 3 }], rerank: { strategy: 'weighted', params: { weights: [1] } }, limit: 3 });
  assert.deepEqual((adv.body.data as { id: string }[]).map((h) => Number(h.id)), naive.slice(0, 3).map((n) => n.id));
  assert.deepEqual(adv.body.topks, [3]);
});

test('upsert (newest wins), delete by filter and by id, flush, describe, get_stats', async () => {
  const before = await count('items');
  const up = await http.upsert({ collectionName: 'items', data: [{ ...items.get(5)!, title: 'renamed', color: 'violet' }] });
  assert.deepEqual(up, { code: 0, cost: 0, data: { upsertCount: 1, upsertIds: ['5'] } });
  items.set(5, { ...items.get(5)!, title: 'renamed', color: 'violet' });
  const got = await http.get({ collectionName: 'items', id: 5, outputFields: ['title', 'color'] });
  assert.deepEqual(got.data, [{ id: '5', title: 'renamed', color: 'violet' }]);
  assert.equal(await count('items'), before, 'upsert replaces');

  const toDelete = [...items.values()].filter((x) => x.category === 9).length;
  const del = await http.delete({ collectionName: 'items', filter: 'category == 9' });
  assert.deepEqual(del, { code: 0, data: { deleteCount: toDelete } });
  for (const [k, v] of items) if (v.category === 9) items.delete(k);
  const delIds = await post('entities/delete', { collectionName: 'items', id: [1, 2] });
  assert.deepEqual(delIds.body, { code: 0, data: { deleteCount: 2 } });
  items.delete(1);
  items.delete(2);
  assert.equal(await count('items'), items.size);
  assert.deepEqual((await http.get({ collectionName: 'items', id: [1, 2, 3], outputFields: ['id'] })).data, [{ id: '3' }]);

  assert.deepEqual(await http.flushCollection({ collectionName: 'items' }), { code: 0, data: {} });
  assert.deepEqual(await http.getCollectionStatistics({ collectionName: 'items' }), { code: 0, data: { rowCount: items.size } });
  const compact = await post('collections/compact', { collectionName: 'items' });
  assert.equal(compact.body.code, 0);
  assert.equal(typeof (compact.body.data as { compactionID: number }).compactionID, 'number');
  const state = await post('collections/get_compaction_state', { jobID: (compact.body.data as { compactionID: number }).compactionID });
  assert.equal((state.body.data as { state: string }).state, 'Completed');
  assert.equal(await count('items'), items.size, 'same rows after flush and compaction');
  assert.equal((await http.describeCollection({ collectionName: 'items' })).code, 0);
  // Properties.
  assert.equal((await http.alterCollectionProperties({ collectionName: 'items', properties: { 'collection.ttl.seconds': 60 } })).code, 0);
  const props = ((await http.describeCollection({ collectionName: 'items' })).data as unknown as { properties: unknown }).properties;
  assert.deepEqual(props, [{ key: 'collection.ttl.seconds', value: '60' }]);
  assert.equal((await http.dropCollectionProperties({ collectionName: 'items', propertyKeys: ['collection.ttl.seconds'] })).code, 0);
  assert.deepEqual(((await http.describeCollection({ collectionName: 'items' })).data as unknown as { properties: unknown }).properties, []);
});

test('databases: create, use through dbName and the DB-Name header, describe, list, drop', async () => {
  assert.equal((await http.createDatabase({ dbName: 'db2', properties: { 'database.max.collections': 10 } } as never)).code, 0);
  assert.deepEqual((await http.listDatabases()).data, ['default', 'db2']);
  const d = await http.describeDatabase({ dbName: 'db2' });
  assert.equal((d.data as { dbName: string }).dbName, 'db2');
  assert.deepEqual((d.data as unknown as { properties: unknown }).properties, [{ key: 'database.max.collections', value: '10' }]);
  const db2 = new HttpClient({ endpoint: base, database: 'db2' });
  assert.equal((await db2.createCollection({ collectionName: 'other', dimension: 2 })).code, 0);
  assert.equal((await db2.insert({ collectionName: 'other', data: [{ id: 1, vector: [1, 2] }] })).code, 0);
  assert.deepEqual((await db2.listCollections({ dbName: 'db2' })).data, ['other']); // the SDK's listCollections defaults dbName to 'default'
  assert.ok(!((await http.listCollections()).data as string[]).includes('other'));
  // The DB-Name header when the body has no dbName.
  const viaHeader = await post('entities/query', { collectionName: 'other', filter: 'id == 1', outputFields: ['id'] }, { 'DB-Name': 'db2' });
  assert.deepEqual(viaHeader.body.data, [{ id: '1' }]);
  const notThere = await post('entities/query', { collectionName: 'other', filter: 'id == 1' });
  expectError(notThere.body, 100, 'collection not found');
  expectError(await post('collections/list', { dbName: 'nodb' }), 800, 'database not found');
  expectError((await http.dropDatabase({ dbName: 'db2' })), 1100, 'still has collections');
  assert.equal((await http.alterDatabaseProperties({ dbName: 'db2', properties: { a: 'b' } })).code, 0);
  assert.equal((await http.dropDatabaseProperties({ dbName: 'db2', propertyKeys: ['a'] })).code, 0);
  assert.equal((await db2.dropCollection({ collectionName: 'other' })).code, 0);
  assert.equal((await http.dropDatabase({ dbName: 'db2' })).code, 0);
  assert.deepEqual((await http.listDatabases()).data, ['default']);
  expectError(await http.createDatabase({ dbName: 'bad name' } as never), 802, 'invalid database name');
  expectError(await post('databases/drop', {}), 1802, 'dbName');
});

test('aliases, indexes and partitions', async () => {
  assert.equal((await http.createAlias({ collectionName: 'items', aliasName: 'shop' })).code, 0);
  assert.deepEqual((await http.describeAlias({ aliasName: 'shop' })).data, { aliasName: 'shop', collectionName: 'items', dbName: 'default' });
  assert.deepEqual((await http.listAliases({ collectionName: 'items' } as never)).data, ['shop']);
  assert.deepEqual((await http.query({ collectionName: 'shop', filter: 'id == 3', outputFields: ['title'] })).data, [{ id: '3', title: 'item_3' }]);
  assert.deepEqual(((await http.describeCollection({ collectionName: 'items' })).data as unknown as { aliases: string[] }).aliases, ['shop']);
  assert.equal((await http.createCollection({ collectionName: 'spare', dimension: 2 })).code, 0);
  assert.equal((await http.alterAlias({ collectionName: 'spare', aliasName: 'shop' })).code, 0);
  assert.equal((await http.describeAlias({ aliasName: 'shop' })).data.collectionName, 'spare');
  expectError(await http.createAlias({ collectionName: 'items', aliasName: 'shop' }), 1602, 'alias already exist');
  assert.equal((await http.dropAlias({ aliasName: 'shop' })).code, 0);
  expectError(await http.describeAlias({ aliasName: 'shop' }), 1600, 'alias not found');
  assert.equal((await http.dropCollection({ collectionName: 'spare' })).code, 0);

  assert.deepEqual((await http.listIndexes({ collectionName: 'items' })).data, ['vidx']);
  const di = await http.describeIndex({ collectionName: 'items', indexName: 'vidx' });
  assert.equal(di.code, 0);
  const idx = (di.data as unknown as Record<string, unknown>[])[0]!;
  assert.equal(idx.indexType, 'HNSW');
  assert.equal(idx.metricType, 'L2');
  assert.equal(idx.indexState, 'Finished');
  assert.equal(idx.totalRows, items.size);
  assert.equal((await http.createIndex({ collectionName: 'items', indexParams: [{ fieldName: 'category', indexName: 'cat', params: { index_type: 'INVERTED' } }] } as never)).code, 0);
  assert.deepEqual((await http.listIndexes({ collectionName: 'items' })).data, ['vidx', 'cat']);
  expectError(await http.createIndex({ collectionName: 'items', indexParams: [{ fieldName: 'vector', indexName: 'other', metricType: 'IP', params: { index_type: 'FLAT' } }] } as never), 702);
  expectError(await http.createIndex({ collectionName: 'items', indexParams: [{ fieldName: 'nope', indexName: 'x' }] } as never), 1700, 'field not found');
  expectError(await post('indexes/alter_properties', { collectionName: 'items', indexName: 'cat', properties: { 'mmap.enabled': true } }), 10, 'not supported');
  expectError(await post('indexes/alter_properties', { collectionName: 'items', indexName: 'zzz', properties: {} }), 700);
  assert.equal((await http.dropIndex({ collectionName: 'items', indexName: 'cat' })).code, 0);
  expectError(await http.describeIndex({ collectionName: 'items', indexName: 'cat' }), 700, 'index not found');

  assert.deepEqual((await http.listPartitions({ collectionName: 'items' } as never)).data, ['_default']);
  assert.deepEqual((await http.hasPartition({ collectionName: 'items', partitionName: '_default' })).data, { has: true });
  assert.deepEqual((await http.hasPartition({ collectionName: 'items', partitionName: 'p1' })).data, { has: false });
  expectError(await http.createPartition({ collectionName: 'items', partitionName: 'p1' }), 1100, '_default');
  expectError(await http.dropPartition({ collectionName: 'items', partitionName: 'p1' }), 200, 'partition not found');
  assert.deepEqual((await http.getPartitionStatistics({ collectionName: 'items', partitionName: '_default' })).data, { rowCount: items.size });
  assert.equal((await http.loadPartitions({ collectionName: 'items', partitionNames: ['_default'] } as never)).code, 0);
  expectError(await http.loadPartitions({ collectionName: 'items', partitionNames: ['p1'] } as never), 200);
  expectError(await post('entities/insert', { collectionName: 'items', partitionName: 'p1', data: [{ ...items.get(3)!, id: 999999 }] }), 200, 'partition not found');
});

test('bad input gets the Milvus code and message, and the data stays intact', async () => {
  const n = await count('items');
  const row = { id: 500000, title: 't', price: 1, category: 1, vector: Array(DIM).fill(0.5) };
  // Wrong dimension, wrong types, a missing field, a duplicate primary key: 1804 naming row and field.
  expectError(await http.insert({ collectionName: 'items', data: [row, { ...row, id: 500001, vector: [1, 2, 3] }] }), 1804, 'fail to deal the insert data', 'row 1', 'vector');
  expectError(await http.insert({ collectionName: 'items', data: [{ ...row, title: 123 }] }), 1804, 'row 0', 'title');
  expectError(await http.insert({ collectionName: 'items', data: [{ ...row, category: 'x' }] }), 1804, 'category');
  const { vector: _v, ...noVector } = row;
  expectError(await http.insert({ collectionName: 'items', data: [noVector] }), 1804, 'vector');
  expectError(await http.insert({ collectionName: 'items', data: [{ ...row, id: 3 }] }), 1804, 'already exists');
  expectError(await http.upsert({ collectionName: 'items', data: [{ ...row, price: 'cheap' }] }), 1804, 'price');
  expectError(await post('entities/insert', { collectionName: 'items', data: [1, 2] }), 1804, 'row 0');
  expectError(await post('entities/insert', { collectionName: 'items' }), 1802, 'missing required parameters', 'data');
  // Search with a wrong dimension, a bad filter (position in the message), unknown collection.
  expectError(await http.search({ collectionName: 'items', data: [[1, 2, 3]], outputFields: [] }), 1100, 'dimension');
  const badFilter = await http.query({ collectionName: 'items', filter: 'category === 3', outputFields: ['id'] });
  expectError(badFilter, 1100, /position \d+/);
  expectError(await http.delete({ collectionName: 'items', filter: 'category >' }), 1100, 'position');
  expectError(await http.query({ collectionName: 'nope', filter: 'id > 0', outputFields: ['id'] }), 100, 'collection not found[database=default][collection=nope]');
  expectError(await http.insert({ collectionName: 'nope', data: [row] }), 100);
  expectError(await http.describeCollection({ collectionName: 'nope' }), 100);
  // Missing and wrongly typed parameters.
  expectError(await post('collections/describe', {}), 1802, "missing required parameters, error: Key: 'collectionName'");
  expectError(await post('entities/query', { collectionName: 42 }), 1801, 'cannot unmarshal number 42', 'collectionName');
  expectError(await post('entities/search', { collectionName: 'items' }), 1802, "either 'ids'");
  expectError(await post('entities/search', { collectionName: 'items', data: [row.vector], ids: [1] }), 1100, 'mutually exclusive');
  expectError(await post('entities/search', { collectionName: 'items', data: [['a']] }), 1801);
  expectError(await post('entities/get', { collectionName: 'items' }), 1802, 'id');
  expectError(await post('entities/get', { collectionName: 'items', id: ['abc'] }), 1806, 'primary key');
  expectError(await post('entities/delete', { collectionName: 'items' }), 1802, 'filter');
  expectError(await post('entities/hybrid_search', { collectionName: 'items', search: [{ data: [row.vector] }], rerank: { strategy: 'magic' } }), 1100, 'rrf or weighted');
  // Malformed JSON, empty body, a JSON value that is not an object: 1801.
  const malformed = await post('entities/insert', '{"collectionName": "items", "data": [');
  assert.equal(malformed.status, 200);
  expectError(malformed.body, 1801, 'can only accept json format request');
  const empty = await post('entities/insert', '');
  expectError(empty.body, 1801, 'can only accept json format request, the request body should be nil, however {} is valid');
  expectError((await post('entities/insert', '[1,2]')).body, 1801);
  // Oversized body: 413 with code 1102, not read.
  const big = JSON.stringify({ collectionName: 'items', data: [{ ...row, title: 'x'.repeat(MAX_BODY + 10) }] });
  const tooLarge = await post('entities/insert', big);
  assert.equal(tooLarge.status, 413);
  expectError(tooLarge.body, 1102, 'too large');
  // The same without Content-Length (chunked): counted while streaming, reading stops, 413.
  let sent = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= 64 * MAX_BODY) return c.close();
      sent += 65536;
      c.enqueue(new Uint8Array(65536).fill(32));
    },
  });
  const streamed = await fetch(`${base}/v2/vectordb/entities/insert`, { method: 'POST', body: endless, duplex: 'half' } as RequestInit);
  assert.equal(streamed.status, 413);
  assert.equal(((await streamed.json()) as { code: number }).code, 1102);
  assert.ok(sent < 16 * MAX_BODY, `the server stopped reading (client sent ${sent} bytes)`);
  // A client that goes away mid-body: no crash, no response, observed as 499.
  const observedBefore = observed.length;
  await new Promise<void>((resolve) => {
    const sock = connect(Number(new URL(base).port), '127.0.0.1', () => {
      sock.write('POST /v2/vectordb/entities/insert HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"collectionName":');
      setTimeout(() => {
        sock.destroy();
        resolve();
      }, 50);
    });
  });
  for (let i = 0; i < 50 && observed.length === observedBefore; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(observed.slice(observedBefore).map((e) => e.code), [499]);
  // The server still serves, and nothing was written by any bad request.
  assert.equal(await count('items'), n, 'nothing was written by any bad request');
});

test('wire conventions: 404s, auth, unsupported routes, case-insensitive keys, int64 precision, observe', async () => {
  // Unknown paths and non-POST methods: gin's plain-text 404.
  for (const [method, path] of [
    ['POST', '/v2/vectordb/collections/nope'],
    ['POST', '/v1/vector/collections'],
    ['GET', '/v2/vectordb/collections/list'],
    ['PUT', '/v2/vectordb/entities/insert'],
  ] as const) {
    const res = await fetch(`${base}${path}`, { method, ...(method === 'GET' ? {} : { body: '{}' }) });
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(await res.text(), '404 page not found');
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  }
  // The SDK surfaces the 404 as an HttpError.
  await assert.rejects(http.POST('/vectordb/collections/nope', {}), /404/);
  // Milvus routes vecwal does not serve: code 10 naming the path.
  for (const path of ['users/list', 'roles/create', 'jobs/import/create', 'resource_groups/list', 'collections/truncate']) {
    const r = await post(path, { collectionName: 'items' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { code: 10, message: `/v2/vectordb/${path} is not supported by vecwal` });
  }

  // Auth on: no or a bad token → 401/1800 and nothing written; the right token works (Bearer or Basic).
  const n = await count('items');
  const row = { id: 600000, title: 't', price: 1, category: 1, vector: Array(DIM).fill(0.25) };
  const bad = new HttpClient({ endpoint: authBase, token: 'wrong' });
  await assert.rejects(bad.insert({ collectionName: 'items', data: [row] }), /401/);
  const noToken = await post('entities/insert', { collectionName: 'items', data: [row] }, {}, authBase);
  assert.equal(noToken.status, 401);
  assert.deepEqual(noToken.body, { code: 1800, message: "user hasn't authenticated" });
  assert.equal(await count('items'), n);
  const good = new HttpClient({ endpoint: authBase, token: 'secret-token' });
  assert.equal((await good.getCollectionStatistics({ collectionName: 'items' })).data.rowCount, n);
  const basic = await post('collections/has', { collectionName: 'items' }, { Authorization: `Basic ${Buffer.from('secret-token').toString('base64')}` }, authBase);
  assert.deepEqual(basic.body, { code: 0, data: { has: true } });
  // Unknown paths are 404 before auth, as gin.
  assert.equal((await fetch(`${authBase}/v2/vectordb/x/y`, { method: 'POST', body: '{}' })).status, 404);

  // Case-insensitive keys, top level and nested; Content-Type ignored.
  const ci = await post('entities/query', { COLLECTIONNAME: 'items', Filter: 'id in [3, 4]', OUTPUTFIELDS: ['title'], LiMiT: 1 }, { 'Content-Type': 'application/x-anything' });
  assert.equal(ci.body.code, 0, ci.text);
  assert.equal((ci.body.data as unknown[]).length, 1);
  const cs = await post('entities/search', { collectionname: 'items', DATA: [row.vector], limit: 2, SearchParams: { METRICTYPE: 'L2', PARAMS: {} } });
  assert.equal(cs.body.code, 0, cs.text);
  assert.deepEqual(cs.body.topks, [2]);
  const cc = await post('collections/create', {
    collectionname: 'ci',
    SCHEMA: { FIELDS: [{ FIELDNAME: 'k', DATATYPE: 'Int64', ISPRIMARY: true }, { fieldname: 'v', datatype: 'FloatVector', ELEMENTTYPEPARAMS: { dim: 2 } }] },
    indexparams: [{ FIELDNAME: 'v', METRICTYPE: 'IP' }],
  });
  assert.equal(cc.body.code, 0, cc.text);
  assert.equal(((await http.describeCollection({ collectionName: 'ci' })).data as unknown as { load: string }).load, 'LoadStateLoaded');

  // Int64: strings by default, exact numbers with Accept-Type-Allow-Int64; beyond 2^53 both ways.
  const big = '9007199254740993'; // 2^53 + 1: JSON.parse would make it ...992
  const huge = '9223372036854775807';
  const ins = await post('entities/insert', `{"collectionName":"ci","data":[{"k":${big},"v":[1,0]},{"k":"${huge}","v":[0,1]}]}`);
  assert.equal(ins.body.code, 0, ins.text);
  assert.match(ins.text, new RegExp(`"insertIds":\\["${big}","${huge}"\\]`));
  const asNumbers = await post('entities/get', `{"collectionName":"ci","id":[${big},${huge}]}`, { 'Accept-Type-Allow-Int64': 'true' });
  assert.equal(asNumbers.body.code, 0, asNumbers.text);
  assert.ok(asNumbers.text.includes(`"k":${big}`) && asNumbers.text.includes(`"k":${huge}`), asNumbers.text);
  assert.deepEqual(
    (parseJson(asNumbers.text).value as { data: { k: bigint }[] }).data.map((r) => r.k).sort(),
    [BigInt(big), BigInt(huge)],
  );
  const asStrings = await post('entities/query', `{"collectionName":"ci","filter":"k == ${big}","outputFields":["k"]}`);
  assert.deepEqual(asStrings.body.data, [{ k: big }]);
  const upIds = await post('entities/upsert', `{"collectionName":"ci","data":[{"k":${big},"v":[1,1]}]}`, { 'Accept-Type-Allow-Int64': 'true' });
  assert.ok(upIds.text.includes(`"upsertIds":[${big}]`), upIds.text);
  const sdkNumbers = new HttpClient({ endpoint: base, acceptInt64: true });
  const s = await sdkNumbers.search({ collectionName: 'ci', data: [[1, 0]], limit: 1, outputFields: [] });
  assert.equal(typeof (s.data as Record<string, unknown>[])[0]!.k, 'number');
  // A big integer in a JSON/dynamic value cannot be stored exactly: refused, not altered.
  expectError((await post('entities/insert', `{"collectionName":"items","data":[{"id":700000,"title":"t","price":1,"category":1,"vector":[0,0,0,0,0,0,0,1],"ts":${big}}]}`)).body, 1804, 'ts', big);
  assert.equal((await http.dropCollection({ collectionName: 'ci' })).code, 0);

  // observe: every request, with the route path and the Milvus code.
  const before = observed.length;
  await post('collections/has', { collectionName: 'items' });
  await post('collections/describe', { collectionName: 'nope' });
  await fetch(`${base}/nowhere`, { method: 'POST', body: '{}' });
  assert.deepEqual(
    observed.slice(before).map((e) => [e.protocol, e.method, e.code]),
    [
      ['rest', '/v2/vectordb/collections/has', 0],
      ['rest', '/v2/vectordb/collections/describe', 100],
      ['rest', 'unknown', 404],
    ],
  );
  assert.ok(observed.every((e) => e.seconds >= 0 && e.seconds < 60));
});

test('rest-json: lossless parse and the int64 / float32 serializer', () => {
  assert.deepEqual(parseJson('{"a":1,"b":[1.5,-2e3],"c":"x"}'), { value: { a: 1, b: [1.5, -2000], c: 'x' }, hasBigInt: false });
  const p = parseJson('{"a":-9223372036854775808,"b":12345678901234567.5,"c":"12345678901234567890","d":9007199254740991}');
  assert.equal(p.hasBigInt, true);
  assert.deepEqual(p.value, { a: -9223372036854775808n, b: 12345678901234567.5, c: '12345678901234567890', d: 9007199254740991 });
  assert.deepEqual(parseJson('{"a":1,"a":2}').value, { a: 2 }, 'the last duplicate key wins, as Go');
  assert.deepEqual(parseJson('{"a":1,"a":2,"b":12345678901234567890}').value, { a: 2, b: 12345678901234567890n });
  assert.throws(() => parseJson('{"a":1,}'));
  assert.throws(() => parseJson('{"a":12345678901234567890,}'));
  assert.equal(stringifyJson({ a: 5n, b: [1n], c: undefined, d: NaN, e: 'q"' }, false), '{"a":"5","b":["1"],"d":null,"e":"q\\""}');
  assert.equal(stringifyJson({ a: 9223372036854775807n }, true), '{"a":9223372036854775807}');
  assert.equal(stringifyJson(new Float32Array([0.1, 1 / 3, 0, -2.5, 1e-7]), false), '[0.1,0.33333334,0,-2.5,1e-7]');
  for (const x of [0.1, 1 / 3, 123456.789, -1e-30, 3.4e38, 5e-45]) {
    const f = Math.fround(x);
    assert.equal(Math.fround(Number(float32String(f))), f, `round trip of ${x}`);
    assert.ok(float32String(f).replace(/^-|\.|e.*$/g, '').replace(/^0+/, '').length <= 9);
  }
});
