/**
 * The gRPC server (src/server/grpc.ts) driven by the OFFICIAL Milvus Node SDK (MilvusClient),
 * on a real data directory:
 *   - connect/version/health; quick create (index + load) and a custom schema with scalar,
 *     JSON, Array, nullable and default-valued fields plus the dynamic field; describe, list,
 *     has, rename, drop, properties, partitions (only _default);
 *   - 10,000 rows inserted in batches; queries (comparison, in, like, dynamic key by bare name,
 *     JSON path, is null, templates, count(*), limit/offset) checked against the rows we wrote;
 *     searches with output fields checked against a naive top-k for L2, IP and COSINE;
 *   - upsert (newest wins), delete by ids and by filter, flush, statistics, databases (field
 *     and `dbname` metadata), aliases, hybrid search (RRF and weighted) against a hand
 *     computation;
 *   - bad input (wrong dimension, wrong types, missing fields, unknown collection, bad filter,
 *     a bad token with auth on, raw messages the SDK would not send): the Milvus code and
 *     message, and the data unchanged;
 *   - ClientTelemetryService answers, unknown methods are UNIMPLEMENTED, the observer sees calls.
 * Seeds: VECWAL_SEED replays the data.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { MilvusClient, DataType, ErrorCode, RRFRanker, WeightedRanker, type RowData } from '@zilliz/milvus2-sdk-node';
import { MilvusService } from '../../src/server/service.js';
import { Authenticator, type RequestObserver } from '../../src/server/auth.js';
import { createGrpcServer } from '../../src/server/grpc.js';
import { milvusProto } from '../../src/server/grpc-proto.js';
import { Rng, seedFromEnv } from '../../src/util/rng.js';

const DIM = 8;
const N = 10_000;
const COLORS = ['red', 'green', 'blue'];
type Metric = 'L2' | 'IP' | 'COSINE';

interface Item {
  id: number;
  vector: Float32Array;
  title: string;
  price: number;
  count: number;
  tags: string[];
  meta: { group: number; even: boolean };
  note: string | null;
  rating: number;
  color: string;
  size?: number;
}

function makeItem(rng: Rng, id: number): Item {
  const vector = new Float32Array(DIM);
  rng.fillUniform(vector, 0, DIM, -1, 1);
  const item: Item = {
    id,
    vector,
    title: `item_${id}`,
    price: Math.round(rng.next() * 100000) / 100,
    count: id % 20,
    tags: [`t${id % 3}`, `u${id % 5}`],
    meta: { group: id % 7, even: id % 2 === 0 },
    note: id % 4 === 0 ? null : `n${id}`,
    rating: id % 10 === 0 ? 1.5 : Math.fround((id % 9) + 0.25),
    color: COLORS[id % 3]!,
  };
  if (id % 5 === 0) item.size = id % 11;
  return item;
}

/** The row the SDK sends: rows with id % 10 == 0 omit `rating` (its default 1.5 applies). */
function toRow(it: Item): RowData {
  const row: Record<string, unknown> = { id: it.id, vector: Array.from(it.vector), title: it.title, price: it.price, count: it.count, tags: it.tags, meta: it.meta, note: it.note, color: it.color };
  if (it.id % 10 !== 0) row.rating = it.rating;
  if (it.size !== undefined) row.size = it.size;
  return row as RowData;
}

/** The primary keys of a MutationResult. */
function idsOf(r: { IDs: object }): string[] {
  const ids = r.IDs as { int_id?: { data: unknown[] }; str_id?: { data: unknown[] } };
  return (ids.int_id?.data ?? ids.str_id?.data ?? []).map(String);
}

function score(metric: Metric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
    l2 += (a[i]! - b[i]!) ** 2;
  }
  if (metric === 'L2') return l2;
  if (metric === 'IP') return dot;
  return dot / Math.sqrt(na * nb);
}

/** Naive exact top-k: [id, score] best first. */
function naiveTopK(items: Iterable<Item>, q: ArrayLike<number>, metric: Metric, k: number, pred: (it: Item) => boolean = () => true): Array<[number, number]> {
  const all: Array<[number, number]> = [];
  for (const it of items) if (pred(it)) all.push([it.id, score(metric, it.vector, q)]);
  all.sort((x, y) => (metric === 'L2' ? x[1] - y[1] : y[1] - x[1]));
  return all.slice(0, k);
}

const close = (a: number, b: number, tol = 1e-4): boolean => Math.abs(a - b) <= tol * (1 + Math.abs(b));

/** Search hits match the naive top-k: same scores in order, each hit's own score right, and the same ids where there is no near-tie. */
function assertTopK(hits: Array<Record<string, unknown>>, expected: Array<[number, number]>, byId: Map<number, Item>, metric: Metric, q: ArrayLike<number>, what: string): void {
  assert.equal(hits.length, expected.length, `${what}: number of hits`);
  hits.forEach((h, i) => {
    const id = Number(h.id);
    const item = byId.get(id);
    assert.ok(item, `${what}: hit ${i} has id ${String(h.id)} that is not a live row`);
    assert.ok(close(Number(h.score), score(metric, item.vector, q)), `${what}: hit ${i} (id ${id}) score ${String(h.score)} is not its ${metric} score`);
    assert.ok(close(Number(h.score), expected[i]![1]), `${what}: hit ${i} score ${String(h.score)}, expected ${expected[i]![1]}`);
  });
  const gaps = expected.slice(1).map((e, i) => Math.abs(e[1] - expected[i]![1]));
  if (gaps.every((g) => g > 1e-4)) assert.deepEqual(hits.map((h) => Number(h.id)), expected.map((e) => e[0]), `${what}: ids in order`);
}

function bind(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
}

type Raw = grpc.Client & Record<string, (req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void>;

function rawClient(def: grpc.ServiceDefinition, port: number): Raw {
  const Ctor = grpc.makeGenericClientConstructor(def, 'Svc');
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Raw;
}

function rawCall(client: Raw, method: string, req: unknown, md = new grpc.Metadata()): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => client[method]!(req, md, (err, res) => (err ? reject(err) : resolve(res))));
}

interface Status {
  error_code: string;
  code: number;
  reason: string;
}

describe('gRPC server through the official Milvus SDK', { timeout: 60_000 }, () => {
  const seed = seedFromEnv('VECWAL_SEED', 20260501);
  const rng = new Rng(seed);
  const live = new Map<number, Item>();
  const events: Parameters<RequestObserver>[0][] = [];
  let dir: string;
  let service: MilvusService;
  let server: grpc.Server;
  let authServer: grpc.Server | undefined;
  let port: number;
  let client: MilvusClient;
  const others: MilvusClient[] = [];

  const count = async (collection_name: string, filter = '', db_name?: string): Promise<number> => {
    const r = await client.count({ collection_name, filter, ...(db_name ? { db_name } : {}) });
    assert.equal(r.status.error_code, ErrorCode.SUCCESS, `count ${collection_name}: ${r.status.reason}`);
    return r.data;
  };

  before(async () => {
    console.log(`grpc.test seed ${seed} (VECWAL_SEED replays)`);
    dir = await mkdtemp(join(tmpdir(), 'vecwal-grpc-'));
    service = await MilvusService.open({ dataDir: dir });
    server = createGrpcServer(service, { auth: new Authenticator({}), maxRequestBytes: 64 << 20, observe: (e) => events.push(e) });
    port = await bind(server);
    client = new MilvusClient({ address: `127.0.0.1:${port}`, maxRetries: 0, logLevel: 'error' });
    await client.connectPromise;
  });

  after(async () => {
    for (const c of [client, ...others]) await c?.closeConnection().catch(() => undefined);
    server?.forceShutdown();
    authServer?.forceShutdown();
    await service?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('connects, reports its version and health', async () => {
    const v = await client.getVersion();
    assert.match(v.version, /^vecwal-\d+\.\d+\.\d+/);
    const h = await client.checkHealth();
    assert.equal(h.isHealthy, true);
    const c = events.find((e) => e.method === 'Connect');
    assert.ok(c && c.code === 0 && c.protocol === 'grpc', 'Connect was observed');
  });

  it('quick create: id + vector + dynamic field, indexed and loaded; insert and search with dynamic keys', async () => {
    const res = await client.createCollection({ collection_name: 'quick', dimension: 4 });
    assert.equal(res.error_code, ErrorCode.SUCCESS, res.reason);
    assert.equal((await client.hasCollection({ collection_name: 'quick' })).value, true);
    const d = await client.describeCollection({ collection_name: 'quick' });
    assert.deepEqual(d.schema.fields.map((f) => [f.name, f.data_type]), [['id', 'Int64'], ['vector', 'FloatVector'], ['$meta', 'JSON']]);
    assert.equal(d.schema.enable_dynamic_field, true);
    assert.equal(d.schema.fields[2]!.is_dynamic, true);
    assert.equal((await client.getLoadState({ collection_name: 'quick' })).state, 'LoadStateLoaded');
    const idx = await client.describeIndex({ collection_name: 'quick' });
    assert.equal(idx.index_descriptions[0]!.field_name, 'vector');
    assert.ok(idx.index_descriptions[0]!.params.some((p) => p.key === 'metric_type' && p.value === 'COSINE'));

    const ins = await client.insert({ collection_name: 'quick', data: [{ id: 1, vector: [1, 0, 0, 0], color: 'red' }, { id: 2, vector: [0, 1, 0, 0], color: 'blue', n: 7 }] });
    assert.equal(ins.status.error_code, ErrorCode.SUCCESS, ins.status.reason);
    assert.deepEqual(idsOf(ins), ['1', '2']);
    assert.equal(Number(ins.insert_cnt), 2);
    const s = await client.search({ collection_name: 'quick', data: [0.9, 0.1, 0, 0], limit: 2, output_fields: ['id', 'color', 'n'] });
    assert.equal(s.status.error_code, ErrorCode.SUCCESS, s.status.reason);
    assert.deepEqual(
      s.results.map((r) => [String(r.id), r.color, r.n]),
      [
        ['1', 'red', undefined],
        ['2', 'blue', 7],
      ],
    );
    // Default output ('*'): every field, and the dynamic keys under $meta (as Milvus returns them).
    const all = await client.search({ collection_name: 'quick', data: [0, 1, 0, 0], limit: 1 });
    assert.deepEqual(all.results[0]!.vector, [0, 1, 0, 0]);
    assert.deepEqual(all.results[0]!.$meta, { color: 'blue', n: 7 });
    const q = await client.query({ collection_name: 'quick', filter: 'n == 7', output_fields: ['id'] });
    assert.deepEqual(q.data.map((r) => String(r.id)), ['2']);
    // Int64 beyond 2^53 round-trips exactly (decimal strings on the wire, bigint inside).
    const big = await client.insert({ collection_name: 'quick', data: [{ id: '9007199254740993', vector: [0, 0, 1, 0] }] });
    assert.equal(big.status.error_code, ErrorCode.SUCCESS, big.status.reason);
    assert.deepEqual(idsOf(big), ['9007199254740993']);
    const qb = await client.query({ collection_name: 'quick', filter: 'id == 9007199254740993', output_fields: ['id'] });
    assert.deepEqual(qb.data.map((r) => String(r.id)), ['9007199254740993']);
  });

  it('custom schema: scalar, JSON, Array, nullable and default fields, HNSW/L2 index, loaded; describe', async () => {
    const res = await client.createCollection({
      collection_name: 'items',
      enable_dynamic_field: true,
      description: 'test items',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
        { name: 'vector', data_type: DataType.FloatVector, dim: DIM },
        { name: 'title', data_type: DataType.VarChar, max_length: 64 },
        { name: 'price', data_type: DataType.Double },
        { name: 'count', data_type: DataType.Int32 },
        { name: 'tags', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 4, max_length: 16 },
        { name: 'meta', data_type: DataType.JSON },
        { name: 'note', data_type: DataType.VarChar, max_length: 32, nullable: true },
        { name: 'rating', data_type: DataType.Float, default_value: 1.5 },
      ],
      index_params: [{ field_name: 'vector', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 64 } }],
    });
    assert.equal(res.error_code, ErrorCode.SUCCESS, res.reason);
    const d = await client.describeCollection({ collection_name: 'items' });
    assert.equal(d.status.error_code, ErrorCode.SUCCESS);
    assert.equal(d.schema.description, 'test items');
    const f = new Map(d.schema.fields.map((x) => [x.name, x]));
    assert.deepEqual([...f.keys()], ['id', 'vector', 'title', 'price', 'count', 'tags', 'meta', 'note', 'rating', '$meta']);
    assert.equal(f.get('id')!.is_primary_key, true);
    assert.equal(f.get('vector')!.dim, String(DIM));
    assert.equal(f.get('title')!.max_length, '64');
    assert.equal(f.get('tags')!.data_type, 'Array');
    assert.equal(f.get('tags')!.element_type, 'VarChar');
    assert.equal(f.get('tags')!.max_capacity, '4');
    assert.equal(f.get('note')!.nullable, true);
    assert.equal(f.get('rating')!.default_value, 1.5);
    assert.equal(d.consistency_level, 'Bounded');
    assert.ok(Number(d.collectionID) > 0);
    const idx = await client.describeIndex({ collection_name: 'items', field_name: 'vector' });
    const params = new Map(idx.index_descriptions[0]!.params.map((p) => [p.key, p.value]));
    assert.equal(params.get('index_type'), 'HNSW');
    assert.equal(params.get('metric_type'), 'L2');
    assert.deepEqual(JSON.parse(String(params.get('params'))), { M: '8', efConstruction: '64' });
    const list = await client.showCollections();
    assert.deepEqual(list.data.map((c) => c.name).sort(), ['items', 'quick']);
    assert.ok(list.data.every((c) => Number(c.loadedPercentage) === 100));
  });

  it(`inserts ${N} rows in batches`, async () => {
    const BATCH = 2_000;
    for (let start = 0; start < N; start += BATCH) {
      const items: Item[] = [];
      for (let id = start + 1; id <= start + BATCH; id++) items.push(makeItem(rng, id));
      const r = await client.insert({ collection_name: 'items', data: items.map(toRow) });
      assert.equal(r.status.error_code, ErrorCode.SUCCESS, r.status.reason);
      assert.equal(Number(r.insert_cnt), BATCH);
      assert.deepEqual(idsOf(r).map(Number), items.map((x) => x.id));
      assert.equal(r.succ_index.length, BATCH);
      assert.ok(BigInt(r.timestamp) > 0n);
      for (const it of items) live.set(it.id, it);
    }
    assert.equal(await count('items'), N);
    const st = await client.getCollectionStatistics({ collection_name: 'items' });
    assert.equal(st.data.row_count, String(N));
  });

  it('queries with filters match the rows written', async () => {
    const items = [...live.values()];
    const cases: Array<[string, (x: Item) => boolean]> = [
      ['price > 500 and count < 10', (x) => x.price > 500 && x.count < 10],
      ['id in [3, 7, 11, 99999]', (x) => [3, 7, 11].includes(x.id)],
      ['title like "item_12%"', (x) => x.title.startsWith('item_12')],
      ['color == "red"', (x) => x.color === 'red'],
      ['size >= 5', (x) => x.size !== undefined && x.size >= 5],
      ['meta["group"] == 3', (x) => x.meta.group === 3],
      ['note is null', (x) => x.note === null],
      ['array_contains(tags, "u4")', (x) => x.tags.includes('u4')],
      ['rating == 1.5', (x) => x.rating === 1.5],
    ];
    for (const [filter, pred] of cases) assert.equal(await count('items', filter), items.filter(pred).length, filter);

    const q = await client.query({ collection_name: 'items', filter: 'id in [4, 5, 10]', output_fields: ['id', 'title', 'price', 'count', 'tags', 'meta', 'note', 'rating', 'vector', 'color', 'size'] });
    assert.equal(q.status.error_code, ErrorCode.SUCCESS, q.status.reason);
    const got = new Map(q.data.map((r) => [Number(r.id), r]));
    assert.deepEqual([...got.keys()].sort((a, b) => a - b), [4, 5, 10]);
    for (const id of [4, 5, 10]) {
      const r = got.get(id)!;
      const it = live.get(id)!;
      assert.equal(r.title, it.title);
      assert.equal(r.price, it.price);
      assert.equal(r.count, it.count);
      assert.deepEqual(r.tags, it.tags);
      assert.deepEqual(r.meta, it.meta);
      assert.equal(r.note, it.note);
      assert.equal(r.rating, it.rating);
      assert.deepEqual(r.vector, Array.from(it.vector));
      assert.deepEqual(r.$meta, { color: it.color, ...(it.size !== undefined ? { size: it.size } : {}) });
    }
    // Templates (expr_template_values), limit and offset.
    const t = await client.query({ collection_name: 'items', filter: 'id in {ids} and title != {t}', exprValues: { ids: [20, 21, 22], t: 'item_21' }, output_fields: ['id'] });
    assert.deepEqual(t.data.map((r) => Number(r.id)).sort((a, b) => a - b), [20, 22]);
    const page = await client.query({ collection_name: 'items', filter: 'count == 3', output_fields: ['id'], limit: 5, offset: 2 });
    assert.equal(page.data.length, 5);
    const allIds = (await client.query({ collection_name: 'items', filter: 'count == 3', output_fields: ['id'], limit: 100 })).data.map((r) => String(r.id));
    assert.deepEqual(page.data.map((r) => String(r.id)), allIds.slice(2, 7));
    const g = await client.get({ collection_name: 'items', ids: [8, 9], output_fields: ['title'] });
    assert.deepEqual(g.data.map((r) => r.title).sort(), ['item_8', 'item_9']);
  });

  it('search with output fields matches a naive L2 top-k (single, multiple vectors, filtered)', async () => {
    const q1 = Array.from({ length: DIM }, () => rng.next() * 2 - 1);
    const q2 = Array.from({ length: DIM }, () => rng.next() * 2 - 1);
    const s = await client.search({ collection_name: 'items', data: q1, limit: 10, output_fields: ['title', 'color'] });
    assert.equal(s.status.error_code, ErrorCode.SUCCESS, s.status.reason);
    assertTopK(s.results, naiveTopK(live.values(), q1, 'L2', 10), live, 'L2', q1, 'L2 search');
    for (const h of s.results) {
      const it = live.get(Number(h.id))!;
      assert.equal(h.title, it.title);
      assert.equal(h.color, it.color);
      assert.equal(h.vector, undefined, 'only the asked fields');
    }
    const m = await client.search({ collection_name: 'items', data: [q1, q2], limit: 5, filter: 'count < 5 and color != "blue"', output_fields: ['count'] });
    const mr = m.results as unknown as Array<Array<Record<string, unknown>>>;
    assert.equal(mr.length, 2);
    const pred = (x: Item): boolean => x.count < 5 && x.color !== 'blue';
    assertTopK(mr[0]!, naiveTopK(live.values(), q1, 'L2', 5, pred), live, 'L2', q1, 'multi q1');
    assertTopK(mr[1]!, naiveTopK(live.values(), q2, 'L2', 5, pred), live, 'L2', q2, 'multi q2');
    assert.ok(mr.flat().every((h) => Number(h.count) < 5));
    // offset pages past the first hits
    const off = await client.search({ collection_name: 'items', data: q1, limit: 3, offset: 4, output_fields: ['id'] });
    assertTopK(off.results, naiveTopK(live.values(), q1, 'L2', 7).slice(4), live, 'L2', q1, 'offset');
  });

  it('IP and COSINE collections rank as a naive computation does', async () => {
    const small = new Map<number, Item>();
    for (let id = 1; id <= 300; id++) small.set(id, makeItem(rng, id));
    for (const metric of ['IP', 'COSINE'] as const) {
      const name = `m_${metric.toLowerCase()}`;
      if (metric === 'IP') {
        const c = await client.createCollection({ collection_name: name, dimension: DIM, metric_type: metric });
        assert.equal(c.error_code, ErrorCode.SUCCESS, c.reason);
      } else {
        // Custom schema without an index: not loaded until createIndex + loadCollection.
        const c = await client.createCollection({
          collection_name: name,
          fields: [
            { name: 'id', data_type: DataType.Int64, is_primary_key: true },
            { name: 'vector', data_type: DataType.FloatVector, dim: DIM },
          ],
        });
        assert.equal(c.error_code, ErrorCode.SUCCESS, c.reason);
        assert.equal((await client.getLoadState({ collection_name: name })).state, 'LoadStateNotLoad');
        assert.equal((await client.loadCollectionAsync({ collection_name: name })).code, 700, 'no index: cannot load');
        assert.equal((await client.describeIndex({ collection_name: name })).status.error_code, 'IndexNotExist');
        const ci = await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'FLAT', metric_type: metric });
        assert.equal(ci.error_code, ErrorCode.SUCCESS, ci.reason);
        assert.equal((await client.getIndexState({ collection_name: name, field_name: 'vector' })).state, 'Finished');
        assert.equal((await client.loadCollectionSync({ collection_name: name })).error_code, ErrorCode.SUCCESS);
        assert.equal((await client.getLoadState({ collection_name: name })).state, 'LoadStateLoaded');
      }
      const r = await client.insert({ collection_name: name, data: [...small.values()].map((x) => ({ id: x.id, vector: Array.from(x.vector) })) });
      assert.equal(r.status.error_code, ErrorCode.SUCCESS, r.status.reason);
      const q = Array.from({ length: DIM }, () => rng.next() * 2 - 1);
      const s = await client.search({ collection_name: name, data: q, limit: 10, output_fields: ['id'] });
      assertTopK(s.results, naiveTopK(small.values(), q, metric, 10), small, metric, q, `${metric} search`);
    }
  });

  it('upsert replaces rows (newest wins), delete by ids and by filter', async () => {
    const before = await count('items');
    const changed = [5, 6].map((id) => ({ ...live.get(id)!, title: `changed_${id}`, price: 1.25 }));
    const u = await client.upsert({ collection_name: 'items', data: changed.map(toRow) });
    assert.equal(u.status.error_code, ErrorCode.SUCCESS, u.status.reason);
    assert.equal(Number(u.upsert_cnt), 2);
    for (const c of changed) live.set(c.id, c);
    assert.equal(await count('items'), before, 'upsert of existing keys adds no rows');
    const q = await client.query({ collection_name: 'items', filter: 'id in [5, 6]', output_fields: ['title', 'price'] });
    assert.deepEqual(q.data.map((r) => [Number(r.id), r.title, r.price]).sort((a, b) => Number(a[0]) - Number(b[0])), [
      [5, 'changed_5', 1.25],
      [6, 'changed_6', 1.25],
    ]);

    const d1 = await client.delete({ collection_name: 'items', ids: [1, 2, 3] });
    assert.equal(d1.status.error_code, ErrorCode.SUCCESS, d1.status.reason);
    assert.equal(Number(d1.delete_cnt), 3);
    [1, 2, 3].forEach((id) => live.delete(id));
    const victims = [...live.values()].filter((x) => x.count === 7 && x.color === 'green').map((x) => x.id);
    const d2 = await client.delete({ collection_name: 'items', filter: 'count == 7 and color == "green"' });
    assert.equal(Number(d2.delete_cnt), victims.length);
    victims.forEach((id) => live.delete(id));
    assert.equal(await count('items'), live.size);
    assert.equal((await client.query({ collection_name: 'items', filter: 'id in [1, 2, 3]', output_fields: ['id'] })).data.length, 0);
    // searches no longer see deleted rows
    const q1 = Array.from(live.get(4)!.vector);
    const s = await client.search({ collection_name: 'items', data: q1, limit: 10, output_fields: ['id'] });
    assertTopK(s.results, naiveTopK(live.values(), q1, 'L2', 10), live, 'L2', q1, 'search after delete');
  });

  it('flush keeps every row; statistics, load/release, properties, partitions', async () => {
    const f = await client.flush({ collection_names: ['items'] });
    assert.equal(f.status.error_code, ErrorCode.SUCCESS, f.status.reason);
    const fs = await client.flushSync({ collection_names: ['items'] });
    assert.equal(fs.flushed, true);
    assert.equal(await count('items'), live.size);
    assert.equal((await client.getCollectionStatistics({ collection_name: 'items' })).data.row_count, String(live.size));

    assert.equal((await client.releaseCollection({ collection_name: 'items' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.getLoadState({ collection_name: 'items' })).state, 'LoadStateNotLoad');
    const unloaded = await client.query({ collection_name: 'items', filter: 'id == 4', output_fields: ['id'] });
    assert.equal(unloaded.status.code, 101, 'query on a released collection: collection not loaded');
    assert.equal((await client.loadCollectionSync({ collection_name: 'items' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.getLoadingProgress({ collection_name: 'items' })).progress, '100');

    const a = await client.alterCollectionProperties({ collection_name: 'items', properties: { 'collection.ttl.seconds': 3600 } });
    assert.equal(a.error_code, ErrorCode.SUCCESS, a.reason);
    const d = await client.describeCollection({ collection_name: 'items' });
    assert.ok(d.properties.some((p) => p.key === 'collection.ttl.seconds' && p.value === '3600'));

    const parts = await client.listPartitions({ collection_name: 'items' });
    assert.deepEqual(parts.partition_names, ['_default']);
    assert.equal((await client.hasPartition({ collection_name: 'items', partition_name: '_default' })).value, true);
    assert.equal((await client.hasPartition({ collection_name: 'items', partition_name: 'p1' })).value, false);
    assert.equal((await client.createPartition({ collection_name: 'items', partition_name: 'p1' })).code, 1100);
    const ps = await client.getPartitionStatistics({ collection_name: 'items', partition_name: '_default' });
    assert.equal(ps.data.row_count, String(live.size));
    assert.equal((await client.loadPartitions({ collection_name: 'items', partition_names: ['_default'] })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.loadPartitions({ collection_name: 'items', partition_names: ['nope'] })).code, 200);
  });

  it('databases: create, list, describe, select by db_name and by dbname metadata, drop', async () => {
    assert.equal((await client.createDatabase({ db_name: 'db2' })).error_code, ErrorCode.SUCCESS);
    const l = await client.listDatabases();
    assert.deepEqual(l.db_names, ['default', 'db2']);
    const dd = await client.describeDatabase({ db_name: 'db2' });
    assert.equal(dd.db_name, 'db2');
    assert.equal((await client.describeDatabase({ db_name: 'nope' })).status.code, 800);

    const c = await client.createCollection({ collection_name: 'in_db2', dimension: 4, db_name: 'db2' });
    assert.equal(c.error_code, ErrorCode.SUCCESS, c.reason);
    const ins = await client.insert({ collection_name: 'in_db2', db_name: 'db2', data: [{ id: 1, vector: [1, 2, 3, 4] }] });
    assert.equal(ins.status.error_code, ErrorCode.SUCCESS, ins.status.reason);
    assert.equal(await count('in_db2', '', 'db2'), 1);
    assert.ok(!(await client.showCollections()).data.some((x) => x.name === 'in_db2'), 'not in default');
    assert.equal((await client.describeCollection({ collection_name: 'in_db2' })).status.code, 100);

    // A client whose database is db2 sends `dbname` metadata.
    const c2 = new MilvusClient({ address: `127.0.0.1:${port}`, database: 'db2', maxRetries: 0, logLevel: 'error' });
    others.push(c2);
    await c2.connectPromise;
    assert.deepEqual((await c2.showCollections()).data.map((x) => x.name), ['in_db2']);
    assert.equal((await c2.count({ collection_name: 'in_db2' })).data, 1);

    assert.equal((await client.dropDatabase({ db_name: 'db2' })).code, 1100, 'a database with collections is not dropped');
    assert.equal((await client.dropCollection({ collection_name: 'in_db2', db_name: 'db2' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.dropDatabase({ db_name: 'db2' })).error_code, ErrorCode.SUCCESS);
    assert.deepEqual((await client.listDatabases()).db_names, ['default']);
  });

  it('aliases: create, describe, list, use, alter, drop', async () => {
    assert.equal((await client.createAlias({ collection_name: 'items', alias: 'items_alias' })).error_code, ErrorCode.SUCCESS);
    const da = await client.describeAlias({ alias: 'items_alias', collection_name: 'items' });
    assert.equal(da.collection, 'items');
    assert.deepEqual((await client.listAliases({ collection_name: 'items' })).aliases, ['items_alias']);
    assert.deepEqual((await client.describeCollection({ collection_name: 'items' })).aliases, ['items_alias']);
    assert.equal(await count('items_alias'), live.size);
    assert.equal((await client.alterAlias({ collection_name: 'm_ip', alias: 'items_alias' })).error_code, ErrorCode.SUCCESS);
    assert.equal(await count('items_alias'), 300);
    assert.equal((await client.dropAlias({ alias: 'items_alias' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.describeAlias({ alias: 'items_alias', collection_name: 'items' })).status.code, 1600);
  });

  it('hybrid search: RRF and weighted rankers match a hand computation', async () => {
    const q1 = Array.from({ length: DIM }, () => rng.next() * 2 - 1);
    const q2 = Array.from({ length: DIM }, () => rng.next() * 2 - 1);
    const pred = (x: Item): boolean => x.count < 10;
    const sub1 = naiveTopK(live.values(), q1, 'L2', 20, pred);
    const sub2 = naiveTopK(live.values(), q2, 'L2', 20);
    const data = [
      { data: q1, anns_field: 'vector', params: {}, limit: 20, expr: 'count < 10' },
      { data: q2, anns_field: 'vector', params: {}, limit: 20 },
    ];
    const check = (hits: Array<Record<string, unknown>>, expected: Map<number, number>, what: string): void => {
      assert.equal(hits.length, 10, what);
      const ranked = [...expected.values()].sort((a, b) => b - a);
      hits.forEach((h, i) => {
        const want = expected.get(Number(h.id));
        assert.ok(want !== undefined, `${what}: hit ${String(h.id)} is in neither sub-result`);
        assert.ok(close(Number(h.score), want, 1e-5), `${what}: hit ${String(h.id)} score ${String(h.score)} != ${want}`);
        assert.ok(close(Number(h.score), ranked[i]!, 1e-5), `${what}: hit ${i} is not the ${i}th best merged score`);
        assert.equal(h.title, live.get(Number(h.id))!.title);
      });
    };

    const rrf = new Map<number, number>();
    for (const sub of [sub1, sub2]) sub.forEach(([id], rank) => rrf.set(id, (rrf.get(id) ?? 0) + 1 / (60 + rank + 1)));
    const r = await client.hybridSearch({ collection_name: 'items', data, rerank: RRFRanker(60), limit: 10, output_fields: ['title'] });
    assert.equal(r.status.error_code, ErrorCode.SUCCESS, r.status.reason);
    check(r.results, rrf, 'rrf');

    const norm = (d: number): number => 1 - (2 * Math.atan(d)) / Math.PI;
    const weighted = new Map<number, number>();
    [sub1, sub2].forEach((sub, si) => sub.forEach(([id, d]) => weighted.set(id, (weighted.get(id) ?? 0) + [0.7, 0.3][si]! * norm(d))));
    const w = await client.hybridSearch({ collection_name: 'items', data, rerank: WeightedRanker([0.7, 0.3]), limit: 10, output_fields: ['title'] });
    assert.equal(w.status.error_code, ErrorCode.SUCCESS, w.status.reason);
    check(w.results, weighted, 'weighted');
  });

  it('rename and drop collections', async () => {
    assert.equal((await client.createCollection({ collection_name: 'tmp1', dimension: 4 })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.renameCollection({ collection_name: 'tmp1', new_collection_name: 'tmp2' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.hasCollection({ collection_name: 'tmp1' })).value, false);
    assert.equal((await client.hasCollection({ collection_name: 'tmp2' })).value, true);
    assert.equal((await client.dropCollection({ collection_name: 'tmp2' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.hasCollection({ collection_name: 'tmp2' })).value, false);
    // An index is dropped once the collection is released; without it the collection cannot load.
    assert.equal((await client.releaseCollection({ collection_name: 'quick' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.dropIndex({ collection_name: 'quick', field_name: 'vector' })).error_code, ErrorCode.SUCCESS);
    assert.equal((await client.describeIndex({ collection_name: 'quick' })).status.code, 700);
    assert.equal((await client.loadCollectionAsync({ collection_name: 'quick' })).code, 700);
    assert.deepEqual((await client.showCollections()).data.map((c) => c.name).sort(), ['items', 'm_cosine', 'm_ip', 'quick']);
  });

  it('bad input gets the Milvus code and message, and the data stays intact', async () => {
    const before = await count('items');
    const base = (id: number): RowData => toRow(makeItem(new Rng(id), 900_000 + id));

    // wrong dimension
    const wrongDim = await client.insert({ collection_name: 'items', data: [base(1), { ...base(2), vector: [1, 2, 3] }] });
    assert.equal(wrongDim.status.code, 1100);
    assert.equal(wrongDim.status.error_code, 'IllegalArgument');
    assert.match(wrongDim.status.reason, /dim/);
    const qDim = await client.search({ collection_name: 'items', data: [1, 2, 3], limit: 3 });
    assert.equal(qDim.status.code, 1100);
    assert.match(qDim.status.reason, /dimension/);

    // wrong types: a string where a Double goes reaches the server as NaN
    const wrongType = await client.insert({ collection_name: 'items', data: [base(3), { ...base(4), price: 'cheap' }] });
    assert.equal(wrongType.status.code, 1100);
    assert.match(wrongType.status.reason, /price/);

    // missing field (not nullable, no default)
    const { title: _t, ...noTitle } = base(5);
    const missing = await client.insert({ collection_name: 'items', data: [base(6), noTitle] });
    assert.equal(missing.status.code, 1100);
    assert.match(missing.status.reason, /title/);

    // unknown collection
    assert.equal((await client.describeCollection({ collection_name: 'nope' })).status.code, 100);
    assert.equal((await client.query({ collection_name: 'nope', filter: 'id > 0' })).status.code, 100);
    assert.equal((await client.deleteEntities({ collection_name: 'nope', filter: 'id > 0' })).status.code, 100);
    assert.equal((await client.getCollectionStatistics({ collection_name: 'nope' })).status.code, 100);
    await assert.rejects(client.insert({ collection_name: 'nope', data: [base(7)] }), (e: { status?: Status }) => e.status?.code === 100 && e.status.error_code === 'CollectionNotExists');

    // bad filter
    const bq = await client.query({ collection_name: 'items', filter: 'price >>> 3', output_fields: ['id'] });
    assert.equal(bq.status.code, 1100);
    assert.match(bq.status.reason, /failed to create query plan/);
    const bd = await client.delete({ collection_name: 'items', filter: 'count === 3' });
    assert.equal(bd.status.code, 1100);
    const bs = await client.search({ collection_name: 'items', data: Array(DIM).fill(0.1), filter: 'unknown_fn(count)', limit: 3 });
    assert.equal(bs.status.code, 1100);

    // unsupported schema: a second vector field, a binary vector
    const twoVectors = await client.createCollection({
      collection_name: 'bad_schema',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v1', data_type: DataType.FloatVector, dim: 4 },
        { name: 'v2', data_type: DataType.FloatVector, dim: 4 },
      ],
    }).catch((e: Status) => e);
    assert.equal(twoVectors.code, 1100);
    assert.match(twoVectors.reason, /FloatVector/);
    const binary = await client.createCollection({
      collection_name: 'bad_schema',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.BinaryVector, dim: 16 },
      ],
    }).catch((e: Status) => e);
    assert.equal(binary.code, 1100);
    assert.match(binary.reason, /BinaryVector/);
    assert.equal((await client.hasCollection({ collection_name: 'bad_schema' })).value, false);

    assert.equal(await count('items'), before, 'no bad request changed the data');
    assert.equal((await client.query({ collection_name: 'items', filter: 'id >= 900000', output_fields: ['id'] })).data.length, 0);
    for (const code of [100, 1100]) assert.ok(events.some((e) => e.code === code), `observer saw code ${code}`);
  });

  it('raw requests the SDK would not send: type mismatch, unknown field, telemetry, unimplemented', async () => {
    const proto = milvusProto();
    const raw = rawClient(proto.milvusService, port);
    const before = await count('items');
    try {
      const column = (name: string, scalars: unknown) => ({ field_name: name, type: 'None', scalars });
      const good = live.get(4)!;
      const req = (fields: unknown[]) => ({ collection_name: 'items', num_rows: 1, fields_data: fields });
      const fixed = [
        column('id', { long_data: { data: ['990001'] } }),
        { field_name: 'vector', type: 'FloatVector', vectors: { dim: String(DIM), float_vector: { data: Array.from(good.vector) } } },
        column('title', { string_data: { data: ['x'] } }),
        column('price', { double_data: { data: [1] } }),
        column('tags', { array_data: { data: [{ string_data: { data: ['a'] } }], element_type: 'VarChar' } }),
        column('meta', { json_data: { data: [Buffer.from('{}')] } }),
        column('note', { string_data: { data: ['n'] } }),
        column('rating', { float_data: { data: [2] } }),
      ];
      const mismatch = await rawCall(raw, 'Insert', req([...fixed, column('count', { string_data: { data: ['3'] } })]));
      assert.equal((mismatch.status as Status).code, 1100);
      assert.match((mismatch.status as Status).reason, /count is Int32 and needs int_data/);
      const unknown = await rawCall(raw, 'Insert', req([...fixed, column('count', { int_data: { data: [3] } }), column('bogus', { int_data: { data: [1] } })]));
      assert.equal((unknown.status as Status).code, 1100);
      assert.match((unknown.status as Status).reason, /bogus is not in the schema/);
      const badJson = await rawCall(raw, 'Insert', req([...fixed.slice(0, 5), column('meta', { json_data: { data: [Buffer.from('{oops')] } }), ...fixed.slice(6), column('count', { int_data: { data: [3] } })]));
      assert.equal((badJson.status as Status).code, 1100);
      assert.match((badJson.status as Status).reason, /invalid JSON/);
      assert.equal(await count('items'), before);

      const notImplemented = await rawCall(raw, 'GetReplicas', { collectionID: '1' }).then(
        () => null,
        (e: grpc.ServiceError) => e,
      );
      assert.equal(notImplemented?.code, grpc.status.UNIMPLEMENTED);

      const tele = rawClient(proto.telemetryService, port);
      try {
        const hb = await rawCall(tele, 'ClientHeartbeat', { report_timestamp: String(Date.now()) });
        assert.equal((hb.status as Status).error_code, 'Success');
      } finally {
        tele.close();
      }
    } finally {
      raw.close();
    }
  });

  it('auth on: a bad token is UNAUTHENTICATED and changes nothing; the right one works', async () => {
    const authEvents: Parameters<RequestObserver>[0][] = [];
    authServer = createGrpcServer(service, { auth: new Authenticator({ user: 'root', password: 'Milvus' }), maxRequestBytes: 1 << 20, observe: (e) => authEvents.push(e) });
    const authPort = await bind(authServer);
    const before = await count('items');

    const bad = new MilvusClient({ address: `127.0.0.1:${authPort}`, token: 'root:wrong', maxRetries: 0, logLevel: 'error' });
    others.push(bad);
    const connected = await bad.connectPromise.then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
    assert.equal(connected?.code, grpc.status.UNAUTHENTICATED);
    await assert.rejects(bad.showCollections(), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED && /authenticated/.test(e.details));
    await assert.rejects(
      bad.deleteEntities({ collection_name: 'items', filter: 'id > 0' }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
    );
    assert.ok(authEvents.some((e) => e.code === 1800));

    const good = new MilvusClient({ address: `127.0.0.1:${authPort}`, username: 'root', password: 'Milvus', maxRetries: 0, logLevel: 'error' });
    others.push(good);
    await good.connectPromise;
    assert.equal((await good.count({ collection_name: 'items' })).data, before);
    assert.equal(await count('items'), before, 'the bad token deleted nothing');

    // This server takes at most 1 MiB per request (maxRequestBytes).
    const big = { ...toRow(makeItem(new Rng(1), 990_002)), blob: 'x'.repeat(2 << 20) } as RowData;
    await assert.rejects(good.insert({ collection_name: 'items', data: [big] }), (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(await count('items'), before);
  });

  it('every call was observed with protocol grpc, a method name, a code and a duration', () => {
    assert.ok(events.length > 50);
    for (const e of events) {
      assert.equal(e.protocol, 'grpc');
      assert.ok(typeof e.method === 'string' && e.method.length > 0);
      assert.ok(Number.isInteger(e.code));
      assert.ok(e.seconds >= 0 && e.seconds < 30);
    }
    for (const m of ['CreateCollection', 'Insert', 'Query', 'Search', 'HybridSearch', 'Delete', 'Upsert', 'Flush']) {
      assert.ok(events.some((e) => e.method === m && e.code === 0), `${m} observed`);
    }
  });
});
