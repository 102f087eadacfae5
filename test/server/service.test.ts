/**
 * The protocol-neutral Milvus service (src/server/service.ts) on the in-memory filesystem:
 * the semantics both REST and gRPC inherit.
 *   - databases: default always there; create, list, describe, properties, drop (refused while
 *     it has collections; default never), reopen keeps them; leftovers of a crash mid-drop
 *     (`.dropped-*`) or mid-create (`.creating-*`) are removed at open;
 *   - collections: quick create indexes + loads; custom schema without an index is not loaded,
 *     and load without an index is IndexNotFound (700); search/query/get on an unloaded
 *     collection is CollectionNotLoaded (101); index/load state/aliases survive a reopen;
 *   - aliases: resolve everywhere, follow a rename, vanish with the collection;
 *   - entities: count(*), range search, hybrid search (RRF and weighted) against a hand
 *     computation; Milvus codes for bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { MilvusService, DEFAULT_DATABASE } from '../../src/server/service.js';
import { MilvusCode, MilvusError } from '../../src/server/milvus-error.js';
import { joinPath, mkdirDurable } from '../../src/fs/io.js';

const DIR = '/srv';

async function open(fs: CrashableMemFileSystem): Promise<MilvusService> {
  return MilvusService.open({ dataDir: DIR, fs, engine: { flushIntervalMs: 0 } });
}

async function expectMilvus(p: Promise<unknown> | (() => unknown), code: number, what: string): Promise<MilvusError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof MilvusError, `${what}: expected a MilvusError, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: code (message: ${e.message})`);
    return e;
  }
  assert.fail(`${what}: expected Milvus code ${code}, but it succeeded`);
}

test('databases: create, describe, properties, drop rules, reopen, crash leftovers cleaned', async () => {
  const fs = new CrashableMemFileSystem();
  let svc = await open(fs);
  assert.deepEqual(svc.listDatabases(), [DEFAULT_DATABASE]);
  await svc.createDatabase('db1', { owner: 'team-a' });
  await svc.createDatabase('db0');
  assert.deepEqual(svc.listDatabases(), [DEFAULT_DATABASE, 'db0', 'db1']);
  await expectMilvus(svc.createDatabase('db1'), MilvusCode.Unexpected, 'duplicate database');
  await expectMilvus(svc.createDatabase('../etc'), MilvusCode.DatabaseInvalidName, 'path tricks');
  await expectMilvus(svc.createDatabase('a/b'), MilvusCode.DatabaseInvalidName, 'slash');
  assert.equal(svc.describeDatabase('db1').properties.owner, 'team-a');
  await svc.alterDatabaseProperties('db1', { level: 3 }, ['owner']);
  assert.deepEqual(svc.describeDatabase('db1').properties, { level: '3' });
  await svc.createCollection('db1', { collectionName: 'c', dimension: 2 });
  assert.deepEqual(svc.listCollections('db1'), ['c']);
  assert.deepEqual(svc.listCollections(undefined), [], 'collections are per database');
  await expectMilvus(svc.dropDatabase('db1'), MilvusCode.ParameterInvalid, 'drop a database with collections');
  await expectMilvus(svc.dropDatabase(DEFAULT_DATABASE), MilvusCode.ParameterInvalid, 'drop default');
  await expectMilvus(() => svc.listCollections('nope'), MilvusCode.DatabaseNotFound, 'unknown database');
  await svc.dropDatabase('db0');
  await svc.close();

  // leftovers of a crashed drop and a crashed create
  await mkdirDurable(fs, joinPath(DIR, 'databases', '.dropped-x-1', 'meta'));
  await mkdirDurable(fs, joinPath(DIR, 'databases', '.creating-y-2', 'meta'));
  await mkdirDurable(fs, joinPath(DIR, 'databases', 'notadb', 'stuff'));
  svc = await open(fs);
  assert.deepEqual(svc.listDatabases(), [DEFAULT_DATABASE, 'db1']);
  assert.deepEqual((await fs.readdir(joinPath(DIR, 'databases'))).sort(), ['db1', 'notadb'], 'leftovers removed; a directory without a manifest is not ours to delete');
  assert.deepEqual(svc.describeDatabase('db1').properties, { level: '3' });
  assert.deepEqual(svc.listCollections('db1'), ['c']);
  await svc.close();
});

test('load state and indexes: quick create is loaded; a custom schema needs an index, then load', async () => {
  const fs = new CrashableMemFileSystem();
  let svc = await open(fs);
  await svc.createCollection(undefined, { collectionName: 'quick', dimension: 3 });
  assert.deepEqual(svc.loadState(undefined, 'quick'), { state: 'LoadStateLoaded', progress: 100 });
  assert.equal(svc.describeCollection(undefined, 'quick').indexes[0]!.metricType, 'COSINE');

  await svc.createCollection(undefined, {
    collectionName: 'custom',
    fields: [
      { name: 'pk', dataType: 'Int64', isPrimaryKey: true },
      { name: 'v', dataType: 'FloatVector', dim: 2 },
      { name: 'tag', dataType: 'VarChar', maxLength: 16 },
    ],
  });
  assert.equal(svc.loadState(undefined, 'custom').state, 'LoadStateNotLoad');
  await svc.insert(undefined, 'custom', [{ pk: 1, v: [0, 1], tag: 'a' }, { pk: 2, v: [5, 5], tag: 'b' }]);
  await expectMilvus(svc.query(undefined, { collectionName: 'custom', filter: 'pk > 0' }), MilvusCode.CollectionNotLoaded, 'query before load');
  await expectMilvus(svc.search(undefined, { collectionName: 'custom', data: [[0, 1]] }), MilvusCode.CollectionNotLoaded, 'search before load');
  await expectMilvus(svc.loadCollection(undefined, 'custom'), MilvusCode.IndexNotFound, 'load without an index');
  await expectMilvus(svc.createIndex(undefined, 'custom', { fieldName: 'v', indexType: 'BIN_FLAT', metricType: 'L2' }), MilvusCode.IndexNotSupported, 'unknown index type');
  await svc.createIndex(undefined, 'custom', { fieldName: 'v', indexName: 'vidx', indexType: 'HNSW', metricType: 'IP', params: { M: 16, efConstruction: 200 } });
  await svc.createIndex(undefined, 'custom', { fieldName: 'v', indexName: 'vidx', indexType: 'HNSW', metricType: 'IP' }); // same again: fine
  await expectMilvus(svc.createIndex(undefined, 'custom', { fieldName: 'v', indexName: 'other', indexType: 'FLAT', metricType: 'L2' }), MilvusCode.IndexDuplicate, 'a second distinct index');
  await svc.createIndex(undefined, 'custom', { fieldName: 'tag', indexType: 'INVERTED' });
  await svc.loadCollection(undefined, 'custom');
  const hits = (await svc.search(undefined, { collectionName: 'custom', data: [[1, 1]], limit: 2 })).results[0]!;
  assert.deepEqual(hits.map((h) => h.pk), [2n, 1n], 'IP from the index metric: [5,5] scores 10, [0,1] scores 1');
  assert.deepEqual(hits.map((h) => h.distance), [10, 1]);
  await expectMilvus(svc.dropIndex(undefined, 'custom', 'vidx'), MilvusCode.ParameterInvalid, 'drop the vector index while loaded');
  await svc.close();

  svc = await open(fs);
  assert.equal(svc.loadState(undefined, 'custom').state, 'LoadStateLoaded');
  const idx = svc.describeIndex(undefined, 'custom', 'vidx')[0]!;
  assert.equal(idx.indexType, 'HNSW');
  assert.equal(idx.metricType, 'IP');
  assert.deepEqual(idx.params, { M: '16', efConstruction: '200' });
  assert.equal(idx.totalRows, 2);
  await svc.releaseCollection(undefined, 'custom');
  await svc.dropIndex(undefined, 'custom', 'vidx');
  await expectMilvus(() => svc.describeIndex(undefined, 'custom', 'vidx'), MilvusCode.IndexNotFound, 'dropped index');
  await svc.close();
});

test('aliases resolve everywhere, follow a rename and go with their collection', async () => {
  const fs = new CrashableMemFileSystem();
  const svc = await open(fs);
  await svc.createCollection(undefined, { collectionName: 'books', dimension: 2 });
  await svc.createCollection(undefined, { collectionName: 'films', dimension: 2 });
  await svc.createAlias(undefined, 'books', 'latest');
  await expectMilvus(svc.createAlias(undefined, 'films', 'latest'), MilvusCode.AliasAlreadyExist, 'alias taken');
  await expectMilvus(svc.createAlias(undefined, 'books', 'films'), MilvusCode.ParameterInvalid, 'alias named like a collection');
  await svc.insert(undefined, 'latest', [{ id: 1, vector: [1, 0] }]);
  assert.equal(svc.collectionStats(undefined, 'books').rowCount, 1, 'insert through the alias');
  assert.equal(svc.describeCollection(undefined, 'latest').collectionName, 'books');
  assert.deepEqual(svc.describeCollection(undefined, 'books').aliases, ['latest']);
  await svc.renameCollection(undefined, 'books', 'novels');
  assert.deepEqual(svc.describeAlias(undefined, 'latest'), { dbName: DEFAULT_DATABASE, alias: 'latest', collectionName: 'novels' });
  await svc.createAlias(undefined, 'films', 'latest', true); // alter
  assert.equal(svc.describeCollection(undefined, 'latest').collectionName, 'films');
  await svc.createAlias(undefined, 'novels', 'old');
  await svc.dropCollection(undefined, 'novels');
  assert.deepEqual(svc.listAliases(undefined), ['latest']);
  await expectMilvus(() => svc.describeAlias(undefined, 'old'), MilvusCode.AliasNotFound, 'alias of a dropped collection');
  await svc.dropCollection(undefined, 'never-existed'); // Milvus: success
  await svc.close();
});

test('count(*), range search and hybrid search (RRF and weighted) match a hand computation', async () => {
  const fs = new CrashableMemFileSystem();
  const svc = await open(fs);
  await svc.createCollection(undefined, { collectionName: 'c', dimension: 2, metricType: 'L2' });
  const rows = [
    { id: 1, vector: [0, 0], color: 'red' },
    { id: 2, vector: [1, 0], color: 'blue' },
    { id: 3, vector: [3, 0], color: 'red' },
    { id: 4, vector: [0, 4], color: 'red' },
  ];
  await svc.insert(undefined, 'c', rows);
  assert.deepEqual(await svc.query(undefined, { collectionName: 'c', filter: 'color == "red"', outputFields: ['count(*)'] }), [{ 'count(*)': 3 }]);
  assert.deepEqual(await svc.query(undefined, { collectionName: 'c', outputFields: ['count(*)'] }), [{ 'count(*)': 4 }]);
  const q = await svc.query(undefined, { collectionName: 'c' });
  assert.equal(q.length, 4, 'no filter: default limit 100, every field');
  assert.deepEqual(Object.keys(q[0]!).sort(), ['color', 'id', 'vector']);

  // L2 range search: keep 1 <= d < 10 (squared distances from [0,0]: 0, 1, 9, 16)
  const range = await svc.search(undefined, { collectionName: 'c', data: [[0, 0]], params: { radius: 10, range_filter: 1 } });
  assert.deepEqual(range.results[0]!.map((r) => r.id), [2n, 3n]);

  // RRF with k=1 over two searches: from [0,0] ranks 1,2,3,4; from [0,4] ranks 4,1,2,3 (d: 0,16,17,25)
  const rrf = await svc.hybridSearch(undefined, {
    collectionName: 'c',
    searches: [{ data: [[0, 0]], limit: 4 }, { data: [[0, 4]], limit: 4 }],
    rerank: { strategy: 'rrf', k: 1 },
    limit: 4,
    outputFields: ['color'],
  });
  const expect: Record<string, number> = { 1: 1 / 2 + 1 / 3, 2: 1 / 3 + 1 / 4, 3: 1 / 4 + 1 / 5, 4: 1 / 5 + 1 / 2 };
  const got = rrf.results[0]!;
  assert.deepEqual(got.map((r) => String(r.id)), ['1', '4', '2', '3']);
  for (const r of got) assert.ok(Math.abs(r.distance - expect[String(r.id)]!) < 1e-9, `rrf score of ${String(r.id)}`);
  assert.equal(got[0]!.color, 'red');
  assert.deepEqual(rrf.outputFields, ['id', 'color']);

  // weighted: only the first search counts (weights 1, 0): order of the first search
  const weighted = await svc.hybridSearch(undefined, {
    collectionName: 'c',
    searches: [{ data: [[0, 0]], limit: 4 }, { data: [[0, 4]], limit: 4 }],
    rerank: { strategy: 'weighted', weights: [1, 0] },
    limit: 2,
  });
  assert.deepEqual(weighted.results[0]!.map((r) => r.id), [1n, 2n]);
  assert.ok(Math.abs(weighted.results[0]![0]!.distance - 1) < 1e-9, 'L2 distance 0 normalizes to 1');

  await expectMilvus(svc.search(undefined, { collectionName: 'c', data: [[0, 0, 0]] }), MilvusCode.ParameterInvalid, 'wrong dimension');
  await expectMilvus(svc.search(undefined, { collectionName: 'c', data: [[0, 0]], metricType: 'IP' }), MilvusCode.ParameterInvalid, 'metric mismatch');
  await expectMilvus(svc.search(undefined, { collectionName: 'c', data: [[0, 0]], filter: 'color ==' }), MilvusCode.ParameterInvalid, 'bad filter');
  await expectMilvus(svc.search(undefined, { collectionName: 'nope', data: [[0, 0]] }), MilvusCode.CollectionNotFound, 'unknown collection');
  await expectMilvus(svc.insert(undefined, 'c', [{ id: 9, vector: [1] }]), MilvusCode.ParameterInvalid, 'wrong dimension on insert');
  await expectMilvus(svc.insert(undefined, 'c', [{ id: 1, vector: [1, 1] }], 'p1'), MilvusCode.PartitionNotFound, 'unknown partition');
  assert.equal(svc.collectionStats(undefined, 'c').rowCount, 4, 'bad input wrote nothing');
  await svc.close();
});
