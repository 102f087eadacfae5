/**
 * The Database API end to end (src/db/database.ts, src/db/reader.ts) on the in-memory
 * filesystem, plus one smoke test on the real disk:
 *
 *   - collection lifecycle: create (full schema, quick create), describe, list, has, rename,
 *     drop (and recreate: WAL records of the dropped collection never reach the new one, even
 *     after a reopen that replays them), COLLECTION_EXISTS / COLLECTION_NOT_FOUND;
 *   - writes: insert (rows and columns), upsert (newest wins, also over a sealed segment),
 *     delete by ids and by filter (gone for good: after flush, compaction and reopen);
 *   - reads: get, query (comparisons, in, like, JSON paths, dynamic fields, nulls, outputFields,
 *     limit/offset), search, read-your-writes;
 *   - refusals: every bad input gets its error code and writes nothing (WAL lastLsn and the
 *     collection's contents unchanged);
 *   - durability: flush + reopen (nothing replayed), reopen without flush (replayed),
 *     compaction (stats before/after, intact after reopen), LOCKED, autoID across reopens,
 *     import progress across reopens.
 *
 * The tests are deterministic (no randomness, no seed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, type DatabaseOptions } from '../../src/db/database.js';
import { validateSchema } from '../../src/db/schema.js';
import type { CollectionSchema } from '../../src/db/types.js';
import type { Row } from '../../src/db/reader.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import type { FileHandle, FileLock, FileStat, FileSystem, OpenFlags } from '../../src/fs/fs.js';
import { VecwalError, type ErrorCode } from '../../src/errors.js';
import { expectCode } from '../support/wal-test-helpers.js';

const DIR = '/db';

const BOOKS: CollectionSchema = {
  name: 'books',
  description: 'books for the database tests',
  enableDynamicField: true,
  metricType: 'L2',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vec', dataType: 'FloatVector', dim: 3 },
    { name: 'title', dataType: 'VarChar', maxLength: 64 },
    { name: 'year', dataType: 'Int32' },
    { name: 'price', dataType: 'Double', nullable: true },
    { name: 'info', dataType: 'JSON', nullable: true },
    { name: 'tags', dataType: 'Array', elementType: 'VarChar', maxCapacity: 4, maxLength: 16 },
    { name: 'stock', dataType: 'Int64', defaultValue: 7 },
  ],
};

interface Book {
  id: number;
  vec: number[];
  title: string;
  year: number;
  price?: number | null;
  info?: unknown;
  tags: string[];
  stock?: number;
  [dynamic: string]: unknown;
}

const SAMPLE: Book[] = [
  { id: 1, vec: [0, 0, 0], title: 'Dune', year: 1965, price: 9.5, info: { author: { name: 'Herbert' }, pages: 412 }, tags: ['scifi', 'classic'], color: 'red' },
  { id: 2, vec: [1, 0, 0], title: 'Dune Messiah', year: 1969, price: null, info: { author: { name: 'Herbert' }, pages: 256 }, tags: ['scifi'], color: 'blue', shelf: 3 },
  { id: 3, vec: [0, 2, 0], title: 'Emma', year: 1815, price: 4.25, info: null, tags: [], stock: 1 },
  { id: 4, vec: [0, 0, 3], title: 'Ulysses', year: 1922, info: { author: { name: 'Joyce' }, pages: 730 }, tags: ['modern', 'classic'], color: 'red', shelf: 1 },
  { id: 5, vec: [1, 1, 1], title: 'Neuromancer', year: 1984, price: 12, info: { author: { name: 'Gibson' } }, tags: ['scifi', 'cyberpunk'], stock: 40 },
];

function memOpts(fs: CrashableMemFileSystem, extra: DatabaseOptions = {}): DatabaseOptions {
  return { fs, flushIntervalMs: 0, ...extra };
}

async function openMem(extra: DatabaseOptions = {}): Promise<{ fs: CrashableMemFileSystem; db: Database; reopen: (o?: DatabaseOptions) => Promise<Database> }> {
  const fs = new CrashableMemFileSystem();
  const db = await Database.open(DIR, memOpts(fs, extra));
  return { fs, db, reopen: (o: DatabaseOptions = {}) => Database.open(DIR, memOpts(fs, { ...extra, ...o })) };
}

/** A row as plain data: vectors as number arrays, everything else as returned. */
function plain(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = v instanceof Float32Array ? Array.from(v) : v;
  return out;
}

function byId(rows: Row[]): Row[] {
  return rows.map(plain).sort((a, b) => (BigInt(a.id as bigint) < BigInt(b.id as bigint) ? -1 : 1));
}

/** What `get`/`query` with outputFields ['*'] return for a written book. */
function expectedBook(b: Book): Row {
  const { id, vec, title, year, price, info, tags, stock, ...dyn } = b;
  return { ...dyn, id: BigInt(id), vec, title, year, price: price ?? null, info: info ?? null, tags, stock: BigInt(stock ?? 7) };
}

async function all(db: Database, name: string): Promise<Row[]> {
  return byId(await db.read.query(name, { outputFields: ['*'], limit: Number.MAX_SAFE_INTEGER }));
}

async function ids(db: Database, name: string, filter = ''): Promise<bigint[]> {
  const rows = await db.read.query(name, { filter, limit: Number.MAX_SAFE_INTEGER });
  return rows.map((r) => r.id as bigint).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

const big = (...xs: number[]) => xs.map(BigInt);

// -------------------------------------------------------------------------------------------
// Collections

test('collection lifecycle: create, quick-create, describe, list, has, errors', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection(BOOKS);
  await db.createCollection({ name: 'quick', dimension: 8 });
  await db.createCollection({ name: 'alpha', dimension: 2, metricType: 'IP', idType: 'VarChar', maxLength: 32, primaryFieldName: 'key', vectorFieldName: 'emb', autoId: false } as never);
  assert.deepEqual(db.listCollections(), ['alpha', 'books', 'quick']);
  assert.ok(db.hasCollection('books'));
  assert.ok(!db.hasCollection('nope'));
  assert.ok(!db.hasCollection('Books'), 'names are case-sensitive');

  const d = db.describeCollection('books');
  assert.equal(d.name, 'books');
  assert.deepEqual(d.schema, validateSchema(BOOKS));
  assert.equal(d.schema.description, BOOKS.description);
  assert.deepEqual(d.schema.fields.map((f) => [f.name, f.dataType]), BOOKS.fields.map((f) => [f.name, f.dataType]));
  assert.equal(d.schema.fields.find((f) => f.name === 'vec')!.dim, 3);
  assert.ok(typeof d.id === 'number' && d.createdAtMs > 0);
  // describe hands out a copy
  d.schema.fields.pop();
  assert.equal(db.describeCollection('books').schema.fields.length, BOOKS.fields.length);

  const q = db.describeCollection('quick').schema;
  assert.equal(q.enableDynamicField, true);
  assert.equal(q.metricType, 'COSINE');
  const pk = q.fields.find((f) => f.isPrimaryKey)!;
  assert.deepEqual([pk.name, pk.dataType, pk.autoID], ['id', 'Int64', false]);
  const vf = q.fields.find((f) => f.dataType === 'FloatVector')!;
  assert.deepEqual([vf.name, vf.dim], ['vector', 8]);
  assert.equal(q.fields.length, 2);

  await expectCode(db.createCollection(BOOKS), 'COLLECTION_EXISTS', 'create twice');
  await expectCode(db.createCollection({ name: 'quick', dimension: 4 }), 'COLLECTION_EXISTS', 'quick-create twice');
  await expectCode(db.createCollection({ ...BOOKS, name: 'bad', fields: BOOKS.fields.filter((f) => f.name !== 'vec') }), 'SCHEMA_INVALID', 'no vector field');
  await expectCode(db.createCollection({ name: '9bad', dimension: 4 }), 'SCHEMA_INVALID', 'bad name');
  assert.deepEqual(db.listCollections(), ['alpha', 'books', 'quick'], 'failed creates leave nothing');

  expectCodeSync(() => db.describeCollection('nope'), 'COLLECTION_NOT_FOUND');
  expectCodeSync(() => db.collectionStats('nope'), 'COLLECTION_NOT_FOUND');
  await expectCode(db.dropCollection('nope'), 'COLLECTION_NOT_FOUND', 'drop unknown');
  await expectCode(db.renameCollection('nope', 'x'), 'COLLECTION_NOT_FOUND', 'rename unknown');
  await expectCode(db.insert('nope', [{ id: 1, vector: [1] }]), 'COLLECTION_NOT_FOUND', 'insert unknown');
  await expectCode(db.upsert('nope', [{ id: 1, vector: [1] }]), 'COLLECTION_NOT_FOUND', 'upsert unknown');
  await expectCode(db.delete('nope', { ids: [1] }), 'COLLECTION_NOT_FOUND', 'delete unknown');
  await expectCode(db.read.get('nope', [1]), 'COLLECTION_NOT_FOUND', 'get unknown');
  await expectCode(db.read.query('nope', { limit: 1 }), 'COLLECTION_NOT_FOUND', 'query unknown');
  await expectCode(db.read.search('nope', { data: [1] }), 'COLLECTION_NOT_FOUND', 'search unknown');

  // Schemas are durable (manifest), with and without writes in the WAL.
  await db.close();
  const db2 = await reopen();
  assert.deepEqual(db2.listCollections(), ['alpha', 'books', 'quick']);
  assert.deepEqual(db2.describeCollection('books').schema, validateSchema(BOOKS));
  assert.equal(db2.describeCollection('books').id, d.id);
  assert.equal(db2.describeCollection('alpha').schema.metricType, 'IP');
  await db2.close();
});

function expectCodeSync(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e: unknown) => e instanceof VecwalError && e.code === code);
}

test('rename keeps the data under the new name, before and after a reopen', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection(BOOKS);
  await db.createCollection({ name: 'other', dimension: 3 });
  await db.insert('books', SAMPLE.slice(0, 2));
  await db.flush();
  await db.insert('books', SAMPLE.slice(2)); // in the WAL only
  const before = await all(db, 'books');
  const id = db.describeCollection('books').id;

  await expectCode(db.renameCollection('books', 'other'), 'COLLECTION_EXISTS', 'rename onto an existing name');
  await expectCode(db.renameCollection('books', 'bad-name'), 'SCHEMA_INVALID', 'rename to an invalid name');
  await db.renameCollection('books', 'library');
  assert.deepEqual(db.listCollections(), ['library', 'other']);
  assert.ok(!db.hasCollection('books'));
  await expectCode(db.read.query('books', { limit: 10 }), 'COLLECTION_NOT_FOUND', 'old name');
  assert.equal(db.describeCollection('library').schema.name, 'library');
  assert.equal(db.describeCollection('library').id, id);
  assert.deepEqual(await all(db, 'library'), before);
  // writes go on under the new name
  await db.insert('library', [{ id: 6, vec: [2, 2, 2], title: 'Solaris', year: 1961, tags: [] }]);
  const after = await all(db, 'library');
  assert.equal(after.length, 6);

  await db.close();
  const db2 = await reopen();
  assert.deepEqual(db2.listCollections(), ['library', 'other']);
  assert.deepEqual(await all(db2, 'library'), after, 'after reopen (WAL replay into the renamed collection)');
  // the old name is free again
  await db2.createCollection(BOOKS);
  assert.deepEqual(await ids(db2, 'books'), []);
  await db2.flush();
  await db2.close();
  const db3 = await reopen();
  assert.deepEqual(await all(db3, 'library'), after, 'after flush + reopen');
  assert.deepEqual(await ids(db3, 'books'), []);
  await db3.close();
});

test('alterCollection changes the metric and stores properties; database properties; both survive reopen and rename', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection({ name: 'c', dimension: 2, metricType: 'L2' });
  await db.insert('c', [{ id: 1, vector: [1, 0] }, { id: 2, vector: [10, 10] }]);
  const nearest = async (d: Database, name: string) => (await d.read.search(name, { data: [1, 1], limit: 1 }))[0]![0]!.id;
  assert.equal(await nearest(db, 'c'), 1n, 'L2: [1,0] is closer to [1,1]');
  await db.alterCollection('c', { metricType: 'IP', properties: { index: { name: 'vector', type: 'FLAT' }, loaded: true } });
  assert.equal(db.describeCollection('c').schema.metricType, 'IP');
  assert.equal(await nearest(db, 'c'), 2n, 'IP: [10,10] has the larger inner product');
  await expectCode(db.alterCollection('c', { metricType: 'HAMMING' as never }), 'INVALID_ARGUMENT', 'unknown metric');
  await expectCode(db.alterCollection('nope', { properties: {} }), 'COLLECTION_NOT_FOUND', 'unknown collection');
  await expectCode(db.setProperties([] as never), 'INVALID_ARGUMENT', 'properties must be an object');
  await db.setProperties({ aliases: { a1: 'c' } });
  const props = db.collectionProperties('c');
  props.loaded = false; // a copy: changing it changes nothing
  assert.deepEqual(db.collectionProperties('c'), { index: { name: 'vector', type: 'FLAT' }, loaded: true });
  await db.renameCollection('c', 'd');
  await db.close();
  const db2 = await reopen();
  assert.equal(db2.describeCollection('d').schema.metricType, 'IP');
  assert.deepEqual(db2.collectionProperties('d'), { index: { name: 'vector', type: 'FLAT' }, loaded: true });
  assert.deepEqual(db2.properties(), { aliases: { a1: 'c' } });
  assert.equal(await nearest(db2, 'd'), 2n);
  await db2.close();
});

test('drop removes the data; a recreated collection starts empty, also after a reopen that replays the WAL', async () => {
  const { fs, db, reopen } = await openMem();
  await db.createCollection(BOOKS);
  await db.insert('books', SAMPLE.slice(0, 2));
  await db.flush(); // sealed segment
  await db.insert('books', SAMPLE.slice(2, 4)); // WAL only
  await db.delete('books', { ids: [1] });
  await db.upsert('books', [SAMPLE[4]!]);
  const oldId = db.describeCollection('books').id;
  const segFilesBefore = fs.listFiles().filter((p) => p.includes('/data/'));
  assert.ok(segFilesBefore.length > 0);

  await db.dropCollection('books');
  assert.ok(!db.hasCollection('books'));
  assert.deepEqual(db.listCollections(), []);
  await expectCode(db.read.get('books', [1]), 'COLLECTION_NOT_FOUND', 'get after drop');
  assert.deepEqual(fs.listFiles().filter((p) => p.includes('/data/')), [], 'segment files of the dropped collection are removed');

  await db.createCollection(BOOKS);
  assert.notEqual(db.describeCollection('books').id, oldId, 'collection ids are not reused');
  assert.deepEqual(await ids(db, 'books'), []);
  assert.equal(db.collectionStats('books').rowCount, 0);
  // the same primary keys are free in the new collection
  const fresh: Book = { id: 1, vec: [5, 5, 5], title: 'New', year: 2000, tags: ['n'] };
  await db.insert('books', [fresh]);
  assert.deepEqual(await all(db, 'books'), [expectedBook(fresh)]);

  await db.close();
  const db2 = await reopen();
  assert.ok(db2.report.replayedRecords >= 1);
  assert.deepEqual(await all(db2, 'books'), [expectedBook(fresh)], 'WAL records of the dropped collection must not be replayed into the new one');
  assert.equal(db2.collectionStats('books').rowCount, 1);
  // and a drop that only the WAL knew about (no flush since) survives a reopen as well
  await db2.insert('books', [{ id: 2, vec: [1, 1, 1], title: 'x', year: 1, tags: [] }]);
  await db2.dropCollection('books');
  await db2.close();
  const db3 = await reopen();
  assert.deepEqual(db3.listCollections(), []);
  await db3.createCollection({ name: 'books', dimension: 3 });
  assert.deepEqual(await ids(db3, 'books'), []);
  await db3.close();
  const db4 = await reopen();
  assert.deepEqual(await ids(db4, 'books'), []);
  await db4.close();
});

// -------------------------------------------------------------------------------------------
// Writes and reads

test('insert rows and columns; get; default outputFields; read-your-writes', async () => {
  const { db } = await openMem();
  await db.createCollection(BOOKS);
  const r1 = await db.insert('books', SAMPLE.slice(0, 3));
  assert.equal(r1.insertCount, 3);
  assert.deepEqual(r1.ids, big(1, 2, 3));
  // ids is made on first read, but behaves as a plain field: spread, JSON, assignment.
  assert.deepEqual({ ...r1 }, { insertCount: 3, ids: big(1, 2, 3), lsn: r1.lsn });
  assert.equal(JSON.stringify(r1, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)), `{"insertCount":3,"lsn":${r1.lsn},"ids":[1,2,3]}`);
  assert.equal(r1.ids, r1.ids, 'the same array every time');
  r1.ids = [];
  assert.deepEqual(r1.ids, []);
  assert.ok(r1.lsn >= 1);
  assert.equal(db.stats().lastLsn, r1.lsn);
  // read-your-writes: visible as soon as insert resolves, without a flush
  assert.deepEqual(await all(db, 'books'), SAMPLE.slice(0, 3).map(expectedBook));

  // columns form: a flat Float32Array vector column, and a column of vectors; dynamic columns
  const r2 = await db.insert('books', {
    id: [4, 5],
    vec: new Float32Array([0, 0, 3, 1, 1, 1]),
    title: ['Ulysses', 'Neuromancer'],
    year: [1922, 1984],
    price: [undefined, 12],
    info: [SAMPLE[3]!.info, SAMPLE[4]!.info],
    tags: [SAMPLE[3]!.tags, SAMPLE[4]!.tags],
    stock: [undefined, 40],
    color: ['red', undefined],
    shelf: [1, undefined],
  });
  assert.deepEqual(r2.ids, big(4, 5));
  assert.ok(r2.lsn > r1.lsn);
  await db.insert('books', { id: [6], vec: [[6, 6, 6]], title: ['Six'], year: [6], tags: [['a']] });
  const six: Book = { id: 6, vec: [6, 6, 6], title: 'Six', year: 6, tags: ['a'] };
  assert.deepEqual(await all(db, 'books'), [...SAMPLE, six].map(expectedBook));

  // get: default output = primary key only, Int64 as bigint, missing keys skipped, ids in any accepted form
  assert.deepEqual(byId(await db.read.get('books', [3, 1n, '2', 99])), [{ id: 1n }, { id: 2n }, { id: 3n }]);
  assert.deepEqual(await db.read.get('books', [99]), []);
  const g = await db.read.get('books', [2], ['title', 'shelf', 'stock', 'vec']);
  assert.deepEqual(g.map(plain), [{ id: 2n, title: 'Dune Messiah', shelf: 3, stock: 7n, vec: [1, 0, 0] }]);
  assert.equal(typeof g[0]!.stock, 'bigint');
  assert.ok(g[0]!.vec instanceof Float32Array);
  // '*' merges dynamic fields at the top level, no $meta
  const star = await db.read.get('books', [2], ['*']);
  assert.ok(!('$meta' in star[0]!));
  assert.deepEqual(plain(star[0]!), expectedBook(SAMPLE[1]!));
  await expectCode(db.read.get('books', ['x']), 'DATA_INVALID', 'a non-integer id');
});

test('query: comparisons, in, like, JSON paths, dynamic fields, nulls, outputFields, limit/offset', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection(BOOKS);
  await db.insert('books', SAMPLE.slice(0, 3));
  await db.flush(); // half in a sealed segment, half in the memtable
  await db.insert('books', SAMPLE.slice(3));
  await checkQueries(db, 'sealed + memtable');
  await db.close();
  let d = await reopen();
  await checkQueries(d, 'after reopen (WAL replay)');
  await d.flush();
  await d.close();
  d = await reopen();
  await checkQueries(d, 'after flush + reopen (everything read back from segment files)');
  assert.deepEqual(await all(d, 'books'), SAMPLE.map(expectedBook));
  await d.close();
});

async function checkQueries(db: Database, phase: string): Promise<void> {
  const q = (filter: string, exprParams?: Record<string, unknown>) => db.read.query('books', { filter, limit: 100, ...(exprParams ? { exprParams } : {}) }).then((rs) => rs.map((r) => Number(r.id)).sort((a, b) => a - b));
  const eq = async (filter: string, want: number[], params?: Record<string, unknown>) => assert.deepEqual(await q(filter, params), want, `${phase}: ${filter}`);

  await eq('year > 1950', [1, 2, 5]);
  await eq('year >= 1922 and year < 1969', [1, 4]);
  await eq('1900 < year <= 1965', [1, 4]);
  await eq('year == 1815 or id == 5', [3, 5]);
  await eq('year != 1815', [1, 2, 4, 5]);
  await eq('id in [2, 4, 40]', [2, 4]);
  await eq('id not in [2, 4]', [1, 3, 5]);
  await eq('title in ["Emma", "Dune"]', [1, 3]);
  await eq('title like "Dune%"', [1, 2]);
  await eq('title like "%er"', [5]);
  await eq('title like "_mma"', [3]);
  await eq('stock > 5', [1, 2, 4, 5]); // the default 7 is stored
  await eq('year > {y} and title like {p}', [1, 2, 5], { y: 1900, p: '%u%' });
  // JSON paths
  await eq('info["author"]["name"] == "Herbert"', [1, 2]);
  await eq('info["pages"] > 300', [1, 4]);
  await eq('exists info["pages"]', [1, 2, 4]);
  // dynamic fields, bare and through $meta
  await eq('color == "red"', [1, 4]);
  await eq('$meta["shelf"] >= 1', [2, 4]);
  await eq('color != "red"', [2, 3, 5]); // a missing dynamic key is != anything
  // arrays
  await eq('array_contains(tags, "classic")', [1, 4]);
  await eq('array_length(tags) == 0', [3]);
  // nulls: nullable scalar and nullable JSON
  await eq('price is null', [2, 4]);
  await eq('price is not null', [1, 3, 5]);
  await eq('price > 5', [1, 5]);
  await eq('not (price > 5)', [3]); // null rows match neither a comparison nor its negation
  await eq('info is null', [3]);
  await eq('', [1, 2, 3, 4, 5]);

  // outputFields
  const rows = await db.read.query('books', { filter: 'id == 4', outputFields: ['title', 'year', 'color', 'price'] });
  assert.deepEqual(rows.map(plain), [{ id: 4n, title: 'Ulysses', year: 1922, color: 'red', price: null }]);
  assert.deepEqual(await db.read.query('books', { filter: 'id == 4' }), [{ id: 4n }], 'default: pk only');

  // limit / offset: a window of the full result, over sealed and growing segments
  const full = (await db.read.query('books', { filter: 'id > 0', limit: 100 })).map((r) => r.id);
  assert.equal(full.length, 5);
  assert.deepEqual((await db.read.query('books', { filter: 'id > 0', limit: 2 })).map((r) => r.id), full.slice(0, 2));
  assert.deepEqual((await db.read.query('books', { filter: 'id > 0', limit: 2, offset: 2 })).map((r) => r.id), full.slice(2, 4));
  assert.deepEqual((await db.read.query('books', { filter: 'id > 0', limit: 10, offset: 4 })).map((r) => r.id), full.slice(4));
  assert.deepEqual(await db.read.query('books', { filter: 'id > 0', limit: 10, offset: 5 }), []);
  await expectCode(db.read.query('books', { filter: 'id > 0', limit: 0 }), 'INVALID_ARGUMENT', 'limit 0');
  await expectCode(db.read.query('books', { filter: 'id > 0', offset: -1 }), 'INVALID_ARGUMENT', 'negative offset');
  await expectCode(db.read.query('books', {}), 'INVALID_ARGUMENT', 'no filter and no limit');
}

test('search: exact top-k, L2 ascending, IP descending, with filter and output fields', async () => {
  const { db } = await openMem();
  await db.createCollection(BOOKS);
  await db.insert('books', SAMPLE.slice(0, 2));
  await db.flush();
  await db.insert('books', SAMPLE.slice(2));
  await db.delete('books', { ids: [1] });
  const [hits] = await db.read.search('books', { data: [0, 0, 0], limit: 3, outputFields: ['title'] });
  // squared L2 from the origin: 2 -> 1, 3 -> 4, 5 -> 3, 4 -> 9 (1 is deleted)
  assert.deepEqual(hits, [
    { id: 2n, title: 'Dune Messiah', distance: 1 },
    { id: 5n, title: 'Neuromancer', distance: 3 },
    { id: 3n, title: 'Emma', distance: 4 },
  ]);
  const res = await db.read.search('books', { data: [[0, 0, 3], [1, 0, 0]], limit: 2, filter: 'year > 1900' });
  assert.equal(res.length, 2);
  assert.deepEqual(res[0], [{ id: 4n, distance: 0 }, { id: 5n, distance: 1 + 1 + 4 }]);
  assert.deepEqual(res[1], [{ id: 2n, distance: 0 }, { id: 5n, distance: 2 }]);
  const off = await db.read.search('books', { data: [0, 0, 0], limit: 2, offset: 1 });
  assert.deepEqual(off[0]!.map((h) => h.id), [5n, 3n]);
  await expectCode(db.read.search('books', { data: [0, 0] }), 'INVALID_ARGUMENT', 'query of the wrong dimension');
  await expectCode(db.read.search('books', { data: [0, 0, 0], metricType: 'IP' }), 'INVALID_ARGUMENT', 'metric mismatch');

  await db.createCollection({ name: 'ip', dimension: 2, metricType: 'IP' });
  await db.insert('ip', [{ id: 1, vector: [1, 0] }, { id: 2, vector: [3, 1] }, { id: 3, vector: [-1, 5] }]);
  const [ipHits] = await db.read.search('ip', { data: [1, 1], limit: 3 });
  assert.deepEqual(ipHits!.map((h) => h.distance), [4, 4, 1]);
  assert.deepEqual(new Set(ipHits!.slice(0, 2).map((h) => h.id)), new Set([2n, 3n]), 'IP: larger is closer; ties in any order');
  assert.equal(ipHits![2]!.id, 1n);
});

test('upsert: newest wins, in the memtable, over a sealed segment, after flush and reopen', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection(BOOKS);
  await db.insert('books', SAMPLE);
  await db.flush(); // version 1 of every row sealed
  const v2: Book = { ...SAMPLE[1]!, title: 'Dune Messiah v2', year: 2001, price: 3 };
  const r = await db.upsert('books', [v2, { id: 7, vec: [7, 7, 7], title: 'new by upsert', year: 7, tags: [] }]);
  assert.equal(r.insertCount, 2);
  const v3: Book = { ...SAMPLE[1]!, title: 'Dune Messiah v3', year: 2002, color: 'green' };
  await db.upsert('books', [v3]);
  const want = byId([...SAMPLE.filter((b) => b.id !== 2), v3, { id: 7, vec: [7, 7, 7], title: 'new by upsert', year: 7, tags: [] }].map(expectedBook));
  const check = async (d: Database, what: string) => {
    assert.deepEqual(await all(d, 'books'), want, what);
    assert.deepEqual(await d.read.get('books', [2], ['title']), [{ id: 2n, title: 'Dune Messiah v3' }], `${what}: get`);
    assert.deepEqual(await ids(d, 'books', 'title like "Dune Messiah%"'), [2n], `${what}: one version only`);
    assert.deepEqual(await ids(d, 'books', 'year == 1969'), [], `${what}: the sealed old version never matches`);
    assert.equal(d.collectionStats('books').rowCount, 6, `${what}: live rows`);
  };
  await check(db, 'before flush');
  await db.close();
  let d = await reopen();
  await check(d, 'after reopen (replay over the sealed segment)');
  await d.flush();
  await check(d, 'after flush');
  await d.close();
  d = await reopen();
  assert.equal(d.report.replayedRecords, 0);
  await check(d, 'after flush + reopen');
  // an upsert of the same key twice before a flush, then compaction
  await d.upsert('books', [{ ...v3, title: 'Dune Messiah v4' }]);
  await d.upsert('books', [v3]);
  await d.flush();
  await d.compact('books');
  await check(d, 'after compaction');
  await d.close();
  d = await reopen();
  await check(d, 'after compaction + reopen');
  await d.close();
});

test('VarChar primary keys: insert, get, upsert, delete, query, across flush and reopen', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection({ name: 'kv', dimension: 2, idType: 'VarChar', maxLength: 16, metricType: 'L2' } as never);
  await db.insert('kv', [{ id: 'a', vector: [1, 0], v: 1 }, { id: 'b', vector: [0, 1], v: 2 }, { id: 'é', vector: [1, 1], v: 3 }]);
  await expectCode(db.insert('kv', [{ id: 'a', vector: [0, 0] }]), 'DATA_INVALID', 'duplicate VarChar key');
  await expectCode(db.insert('kv', [{ id: 5, vector: [0, 0] }]), 'DATA_INVALID', 'number for a VarChar key');
  await db.flush();
  await db.upsert('kv', [{ id: 'b', vector: [0, 2], v: 20 }]);
  await db.delete('kv', { ids: ['a', 'zz'] });
  const check = async (d: Database, what: string) => {
    const rows = (await d.read.query('kv', { filter: 'id >= "b"', outputFields: ['*'], limit: 10 })).map(plain).sort((x, y) => String(x.id).localeCompare(String(y.id)));
    assert.deepEqual(rows, [{ id: 'b', vector: [0, 2], v: 20 }, { id: 'é', vector: [1, 1], v: 3 }], what);
    assert.deepEqual(await d.read.get('kv', ['a']), [], `${what}: deleted`);
    assert.deepEqual((await d.read.get('kv', ['é', 'b'], ['v'])).map((r) => r.v).sort(), [20, 3], `${what}: get`);
    assert.deepEqual((await d.read.search('kv', { data: [0, 2], limit: 1 }))[0], [{ id: 'b', distance: 0 }], `${what}: search`);
  };
  await check(db, 'in memory');
  await db.close();
  let d = await reopen();
  await check(d, 'reopen');
  await d.close({ flush: true });
  d = await reopen();
  await check(d, 'flush + reopen');
  await d.close();
});

test('delete by ids and by filter: deleted rows never come back (flush, compaction, reopen)', async () => {
  const { db, reopen } = await openMem({ compactionMinSegments: 0 }); // compact() is called explicitly: no background compaction
  await db.createCollection(BOOKS);
  const many: Book[] = Array.from({ length: 40 }, (_, i) => ({ id: i + 1, vec: [i, 0, 0], title: `t${i + 1}`, year: 1900 + i, tags: [] }));
  await db.insert('books', many.slice(0, 20));
  await db.flush();
  await db.insert('books', many.slice(20));
  const live = new Set(many.map((b) => b.id));

  const r1 = await db.delete('books', { ids: [3, 25, 3, 999] });
  assert.equal(r1.deleteCount, 2, 'duplicates and unknown keys are not counted');
  live.delete(3);
  live.delete(25);
  const r2 = await db.delete('books', { filter: 'year >= 1910 and year < 1930' }); // ids 11..30, both segments
  assert.equal(r2.deleteCount, 19);
  for (let id = 11; id <= 30; id++) live.delete(id);
  const lsn = db.stats().lastLsn;
  const r3 = await db.delete('books', { ids: [3] });
  assert.equal(r3.deleteCount, 0);
  assert.equal(db.stats().lastLsn, lsn, 'deleting nothing writes nothing');
  const r4 = await db.delete('books', { filter: 'year > 5000' });
  assert.equal(r4.deleteCount, 0);
  assert.equal(db.stats().lastLsn, lsn);

  const want = [...live].sort((a, b) => a - b).map(BigInt);
  const check = async (d: Database, what: string) => {
    assert.deepEqual(await ids(d, 'books'), want, what);
    assert.deepEqual(await d.read.get('books', [3, 25, 11, 30]), [], `${what}: get of deleted rows`);
    assert.equal(d.collectionStats('books').rowCount, want.length, `${what}: rowCount`);
    const hits = (await d.read.search('books', { data: [12, 0, 0], limit: 100 }))[0]!;
    assert.deepEqual(hits.map((h) => h.id as bigint).sort((a, b) => (a < b ? -1 : 1)), want, `${what}: search`);
  };
  await check(db, 'in memory');
  await db.close();
  let d = await reopen();
  await check(d, 'reopen without flush');
  await d.flush();
  await check(d, 'after flush');
  await d.close();
  d = await reopen();
  await check(d, 'flush + reopen');
  const c = await d.compact('books');
  assert.ok(c.rowsDropped > 0);
  await check(d, 'after compaction');
  // deleted keys may be inserted again as new rows
  await d.insert('books', [{ id: 3, vec: [3, 3, 3], title: 'three again', year: 3, tags: [] }]);
  await d.close();
  d = await reopen();
  assert.deepEqual(await ids(d, 'books'), [...want, 3n].sort((a, b) => (a < b ? -1 : 1)));
  assert.deepEqual(await d.read.get('books', [3], ['title']), [{ id: 3n, title: 'three again' }]);
  await d.delete('books', { ids: [3] });
  await d.flush();
  await d.close();
  d = await reopen();
  await check(d, 'compaction + delete + flush + reopen');
  await d.close();
});

test('deletes of rows in several sealed segments, flushed twice, stay deleted after a reopen', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection({ name: 'c', dimension: 2, metricType: 'L2' });
  for (let s = 0; s < 3; s++) {
    await db.insert('c', [{ id: s * 10 + 1, vector: [s, 0] }, { id: s * 10 + 2, vector: [s, 1] }]);
    await db.flush(); // three sealed segments
  }
  await db.delete('c', { ids: [1, 11, 21] }); // one WAL record, three delete files in the next flush
  await db.flush();
  await db.delete('c', { ids: [12] });
  await db.flush();
  assert.deepEqual(await ids(db, 'c'), big(2, 22));
  await db.close();
  const d = await reopen();
  assert.deepEqual(await ids(d, 'c'), big(2, 22), 'row 11 was deleted and acknowledged; it must not come back');
  await d.close();
});

/**
 * A FileSystem that holds the next open of a path ending in `suffix` until released: lets a
 * test act while, say, a flush is committing its manifest.
 */
class GatedFileSystem implements FileSystem {
  private gate: { suffix: string; reached: () => void; wait: Promise<void> } | null = null;
  constructor(readonly inner: FileSystem) {}
  /** Hold the next open of `suffix`; resolves `reached` when it happens; call the returned release. */
  hold(suffix: string): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let reached!: () => void;
    const wait = new Promise<void>((r) => (release = r));
    const hit = new Promise<void>((r) => (reached = r));
    this.gate = { suffix, reached, wait };
    return { reached: hit, release };
  }
  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    const g = this.gate;
    if (g && path.endsWith(g.suffix)) {
      this.gate = null;
      g.reached();
      await g.wait;
    }
    return this.inner.open(path, flags);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  readdir(path: string): Promise<string[]> {
    return this.inner.readdir(path);
  }
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    return this.inner.mkdir(path, options);
  }
  rmdir(path: string): Promise<void> {
    return this.inner.rmdir(path);
  }
  stat(path: string): Promise<FileStat | null> {
    return this.inner.stat(path);
  }
  syncDir(path: string): Promise<void> {
    return this.inner.syncDir(path);
  }
  lock(path: string): Promise<FileLock> {
    return this.inner.lock(path);
  }
}

test(
  'a write that opens a new growing segment while a flush commits its manifest gets a segment id of its own',
  async () => {
    const mem = new CrashableMemFileSystem();
    const fs = new GatedFileSystem(mem);
    const db = await Database.open(DIR, { fs, flushIntervalMs: 0 });
    await db.createCollection({ name: 'c', dimension: 2, metricType: 'L2' });
    await db.insert('c', [{ id: 1, vector: [1, 0] }]);
    const gate = fs.hold('MANIFEST.tmp');
    const flushing = db.flush();
    await gate.reached; // the flush has written segment 1 and is committing the manifest
    await db.insert('c', [{ id: 2, vector: [2, 0] }]); // first row of a new growing segment
    gate.release();
    await flushing;
    await db.flush(); // seals the segment holding row 2
    await db.insert('c', [{ id: 3, vector: [3, 0] }]);
    await db.flush(); // a third segment: must not reuse the second one's id
    assert.deepEqual(await ids(db, 'c'), big(1, 2, 3));
    const folders = new Set(mem.listFiles().filter((p) => p.includes('/data/')).map((p) => p.split('/')[3]));
    assert.equal(folders.size, 3, `three flushes, three segment folders: ${[...folders].join(', ')}`);
    await db.close();
    const d = await Database.open(DIR, { fs: mem, flushIntervalMs: 0 });
    assert.deepEqual(await ids(d, 'c'), big(1, 2, 3), 'after reopen: row 2 lost and row 3 twice means segment 2 was overwritten');
    await d.close();
  },
);

// -------------------------------------------------------------------------------------------
// Refusals

test('bad input: each gets its error code and writes nothing', async () => {
  const { db } = await openMem();
  await db.createCollection(BOOKS);
  await db.createCollection({ name: 'strict', dimension: 2, enableDynamicField: false } as never);
  await db.insert('books', SAMPLE.slice(0, 3));
  await db.flush();
  await db.insert('books', SAMPLE.slice(3, 4));
  const snapshot = async () => ({ lsn: db.stats().lastLsn, memtable: db.stats().memtableBytes, stats: db.collectionStats('books'), rows: await all(db, 'books') });
  const before = await snapshot();
  const good = (over: Record<string, unknown>): Record<string, unknown> => ({ id: 100, vec: [1, 2, 3], title: 'ok', year: 1, tags: [], ...over });
  const cases: [string, ErrorCode, () => Promise<unknown>][] = [
    ['wrong dimension', 'DATA_INVALID', () => db.insert('books', [good({ vec: [1, 2] })])],
    ['wrong dimension, columns', 'DATA_INVALID', () => db.insert('books', { id: [100], vec: new Float32Array(4), title: ['x'], year: [1], tags: [[]] })],
    ['non-finite vector', 'DATA_INVALID', () => db.insert('books', [good({ vec: [1, NaN, 3] })])],
    ['wrong type (string for Int32)', 'DATA_INVALID', () => db.insert('books', [good({ year: '1999' })])],
    ['wrong type (number for VarChar)', 'DATA_INVALID', () => db.upsert('books', [good({ title: 5 })])],
    ['Int32 out of range', 'DATA_INVALID', () => db.insert('books', [good({ year: 2 ** 31 })])],
    ['VarChar too long', 'DATA_INVALID', () => db.insert('books', [good({ title: 'x'.repeat(65) })])],
    ['array over capacity', 'DATA_INVALID', () => db.insert('books', [good({ tags: ['a', 'b', 'c', 'd', 'e'] })])],
    ['missing field', 'DATA_INVALID', () => db.insert('books', [{ id: 100, vec: [1, 2, 3], title: 'x', tags: [] }])],
    ['missing primary key', 'DATA_INVALID', () => db.insert('books', [{ vec: [1, 2, 3], title: 'x', year: 1, tags: [] }])],
    ['null for a non-nullable field', 'DATA_INVALID', () => db.insert('books', [good({ year: null })])],
    ['a bad row after good ones (all or nothing)', 'DATA_INVALID', () => db.insert('books', [good({ id: 101 }), good({ id: 102 }), good({ id: 103, year: 'x' })])],
    ['duplicate pk on insert (existing, sealed)', 'DATA_INVALID', () => db.insert('books', [good({ id: 1 })])],
    ['duplicate pk on insert (existing, memtable)', 'DATA_INVALID', () => db.insert('books', [good({ id: 101 }), good({ id: 4 })])],
    ['duplicate pk within a batch', 'DATA_INVALID', () => db.upsert('books', [good({ id: 101 }), good({ id: 101 })])],
    ['empty batch', 'DATA_INVALID', () => db.insert('books', [])],
    ['unknown field, dynamic off', 'DATA_INVALID', () => db.insert('strict', [{ id: 1, vector: [1, 2], extra: 1 }])],
    ['reserved dynamic key', 'DATA_INVALID', () => db.insert('books', [good({ $x: 1 })])],
    ['unknown collection', 'COLLECTION_NOT_FOUND', () => db.insert('nope', [good({})])],
    ['bad import progress', 'INVALID_ARGUMENT', () => db.insert('books', [good({})], { progress: { importId: '', rows: 1, position: 0 } })],
    ['delete, bad id type', 'DATA_INVALID', () => db.delete('books', { ids: ['abc'] })],
    ['delete, ids not an array', 'INVALID_ARGUMENT', () => db.delete('books', { ids: 5 as never })],
    ['delete, unknown collection', 'COLLECTION_NOT_FOUND', () => db.delete('nope', { ids: [1] })],
    ['delete, bad filter', 'INVALID_FILTER', () => db.delete('books', { filter: 'year >' })],
    ['delete, filter type error', 'INVALID_FILTER', () => db.delete('books', { filter: 'title == 5' })],
  ];
  for (const [what, code, action] of cases) {
    await expectCode(action(), code, what);
    assert.deepEqual(await snapshot(), before, `${what}: nothing may be written`);
  }
  assert.deepEqual(await ids(db, 'strict'), []);

  // INVALID_FILTER carries the position of the offending token
  const expr = 'year > 1 and )';
  const e1 = await expectCode(db.read.query('books', { filter: expr, limit: 10 }), 'INVALID_FILTER', 'syntax error');
  assert.equal(e1.details.position, expr.indexOf(')'));
  assert.equal(e1.details.expr, expr);
  const e2 = await expectCode(db.delete('books', { filter: 'title == 5' }), 'INVALID_FILTER', 'type error');
  assert.equal(e2.details.position, 'title '.length);
  const e3 = await expectCode(db.read.search('books', { data: [0, 0, 0], filter: 'nosuch[' }), 'INVALID_FILTER', 'search filter');
  assert.equal(typeof e3.details.position, 'number');
  const e4 = await expectCode(db.read.query('strict', { filter: 'nosuch > 1', limit: 1 }), 'INVALID_FILTER', 'unknown field, dynamic off');
  assert.equal(e4.details.position, 0);
  assert.deepEqual(await snapshot(), before);

  // the database is still writable after all that
  await db.insert('books', [good({ id: 100 })]);
  assert.equal((await all(db, 'books')).length, 5);
});

// -------------------------------------------------------------------------------------------
// Durability

test('flush then reopen replays nothing; reopen without flush replays the WAL', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection(BOOKS);
  await db.insert('books', SAMPLE.slice(0, 3));
  await db.upsert('books', [{ ...SAMPLE[0]!, title: 'Dune (2nd ed.)' }]);
  await db.delete('books', { ids: [2] });
  const want = await all(db, 'books');
  assert.equal(want.length, 2);
  const f = await db.flush();
  assert.equal(f.checkpointLsn, db.stats().lastLsn);
  assert.equal(db.stats().checkpointLsn, db.stats().lastLsn);
  assert.equal(db.collectionStats('books').growingRows, 0);
  assert.ok(db.collectionStats('books').segments >= 1);
  const again = await db.flush();
  assert.deepEqual([again.segments, again.checkpointLsn], [0, f.checkpointLsn], 'nothing new to flush');
  await db.close();
  await expectCode(db.insert('books', [SAMPLE[3]!]), 'CLOSED', 'write after close');

  let d = await reopen();
  assert.equal(d.report.replayedRecords, 0, 'everything was checkpointed');
  assert.equal(d.report.checkpointLsn, f.checkpointLsn);
  assert.equal(d.report.collections, 1);
  assert.deepEqual(await all(d, 'books'), want);
  // three more writes, no flush
  await d.insert('books', SAMPLE.slice(3));
  await d.delete('books', { ids: [1] });
  await d.upsert('books', [{ ...SAMPLE[2]!, year: 1816 }]);
  const want2 = await all(d, 'books');
  const last = d.stats().lastLsn;
  await d.close();
  d = await reopen();
  assert.equal(d.report.replayedRecords, 3);
  assert.equal(d.stats().lastLsn, last, 'LSNs continue');
  assert.deepEqual(await all(d, 'books'), want2);
  const r = await d.insert('books', [{ id: 9, vec: [9, 9, 9], title: 'nine', year: 9, tags: [] }]);
  assert.equal(r.lsn, last + 1);
  await d.close({ flush: true });
  d = await reopen();
  assert.equal(d.report.replayedRecords, 0, 'close({flush: true}) checkpoints');
  assert.equal((await all(d, 'books')).length, want2.length + 1);
  await d.close();
});

test('compaction drops deleted and superseded rows; data intact after compaction and reopen', async () => {
  const { fs, db, reopen } = await openMem({ compactionMinSegments: 0 }); // compact() is called explicitly: no background compaction
  await db.createCollection(BOOKS);
  const rows: Book[] = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, vec: [i, i % 3, 1], title: `b${i + 1}`, year: 2000 + i, tags: [`t${i % 4}`], k: i }));
  for (let s = 0; s < 3; s++) {
    await db.insert('books', rows.slice(s * 10, s * 10 + 10));
    await db.flush();
  }
  await db.delete('books', { ids: [1, 2, 15, 30] });
  await db.upsert('books', [{ ...rows[4]!, title: 'five v2' }, { ...rows[19]!, title: 'twenty v2' }]);
  await db.flush(); // deletes of 6 rows in sealed segments + a segment with the 2 new versions
  const want = await all(db, 'books');
  assert.equal(want.length, 26);
  const before = db.collectionStats('books');
  assert.deepEqual(before, { rowCount: 26, segments: 4, growingRows: 0 });

  const res = await db.compact('books');
  assert.deepEqual(res, { before: 4, after: 1, rowsDropped: 6 });
  const after = db.collectionStats('books');
  assert.deepEqual(after, { rowCount: 26, segments: 1, growingRows: 0 });
  assert.deepEqual(await all(db, 'books'), want);
  const segDirs = new Set(fs.listFiles().filter((p) => p.includes('/data/')).map((p) => p.split('/')[3]));
  assert.equal(segDirs.size, 1, `old segment folders removed: ${[...segDirs].join(', ')}`);
  assert.ok(fs.listFiles().every((p) => !p.endsWith('.del')), 'the compacted segment has no delete files');
  assert.deepEqual(await db.compact('books'), { before: 1, after: 1, rowsDropped: 0 }, 'nothing to do');
  // writes after compaction
  await db.delete('books', { ids: [5] });
  await db.insert('books', [{ id: 31, vec: [0, 0, 0], title: 'b31', year: 1, tags: [] }]);
  const want2 = await all(db, 'books');
  await db.close();
  let d = await reopen();
  assert.deepEqual(await all(d, 'books'), want2, 'compaction + reopen (WAL replay over the compacted segment)');
  assert.equal(d.collectionStats('books').rowCount, 26);
  await d.flush();
  const res2 = await d.compact('books');
  assert.deepEqual(res2, { before: 2, after: 1, rowsDropped: 1 });
  await d.close();
  d = await reopen();
  assert.deepEqual(await all(d, 'books'), want2);
  assert.deepEqual(d.collectionStats('books'), { rowCount: 26, segments: 1, growingRows: 0 });
  const hits = (await d.read.search('books', { data: [7, 1, 1], limit: 1, outputFields: ['title'] }))[0]!;
  assert.deepEqual(hits, [{ id: 8n, title: 'b8', distance: 0 }]);
  await d.close();
});

test('compaction that drops every row leaves no segment behind', async () => {
  const { db, reopen } = await openMem({ compactionMinSegments: 0 }); // compact() is called explicitly: no background compaction
  await db.createCollection({ name: 'c', dimension: 2, metricType: 'L2' });
  await db.insert('c', [{ id: 1, vector: [1, 0] }, { id: 2, vector: [0, 1] }]);
  await db.flush();
  await db.delete('c', { ids: [1, 2] });
  await db.flush();
  assert.deepEqual(await db.compact('c'), { before: 1, after: 0, rowsDropped: 2 });
  assert.deepEqual(db.collectionStats('c'), { rowCount: 0, segments: 0, growingRows: 0 }, 'in memory, as compact reported');
  await db.close();
  const d = await reopen();
  assert.deepEqual(d.collectionStats('c'), { rowCount: 0, segments: 0, growingRows: 0 }, 'after reopen');
  await d.close();
});

test('a second open of the same directory is LOCKED until the first closes', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection({ name: 'c', dimension: 2 });
  await expectCode(reopen(), 'LOCKED', 'second open');
  await db.insert('c', [{ id: 1, vector: [1, 2] }]);
  await db.close();
  const d = await reopen();
  assert.deepEqual(await ids(d, 'c'), [1n]);
  await d.close();
});

test('autoID: unique ids across reopens, with and without a flush', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection({ name: 'auto', dimension: 2, autoId: true } as never);
  const seen = new Set<bigint>();
  const add = (xs: unknown[]) => {
    for (const x of xs) {
      assert.equal(typeof x, 'bigint');
      assert.ok(!seen.has(x as bigint), `autoID ${String(x)} issued twice`);
      seen.add(x as bigint);
    }
  };
  add((await db.insert('auto', [{ vector: [1, 1] }, { vector: [2, 2] }])).ids);
  await expectCode(db.insert('auto', [{ id: 5, vector: [1, 1] }]), 'DATA_INVALID', 'autoID key supplied on insert');
  add((await db.insert('auto', { vector: [[3, 3], [4, 4], [5, 5]] })).ids);
  await db.close();
  let d = await reopen(); // no flush: the ids are only in the WAL
  add((await d.insert('auto', [{ vector: [6, 6] }])).ids);
  await d.delete('auto', { ids: [...seen].slice(-2) }); // deleting the newest ids must not free them
  await d.close();
  d = await reopen();
  add((await d.insert('auto', [{ vector: [7, 7] }, { vector: [8, 8] }])).ids);
  await d.flush();
  await d.close();
  d = await reopen();
  add((await d.insert('auto', [{ vector: [9, 9] }])).ids);
  await d.flush();
  await d.delete('auto', { ids: [...seen].slice(-1) });
  await d.flush();
  await d.compact('auto');
  await d.close();
  d = await reopen();
  add((await d.insert('auto', [{ vector: [10, 10] }])).ids);
  assert.equal(seen.size, 10);
  // upsert needs the key even with autoID, and keeps it
  await d.upsert('auto', [{ id: [...seen][0], vector: [0, 0] }]);
  assert.deepEqual(plain((await d.read.get('auto', [[...seen][0]], ['vector']))[0]!), { id: [...seen][0], vector: [0, 0] });
  await d.close();
});

test('import progress round-trips across reopens, with and without a flush', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection({ name: 'c', dimension: 2 });
  assert.equal(db.importProgress('imp'), null);
  await db.insert('c', [{ id: 1, vector: [1, 0] }, { id: 2, vector: [0, 1] }], { progress: { importId: 'imp', rows: 2, position: 100 } });
  await db.insert('c', [{ id: 3, vector: [1, 1] }], { progress: { importId: 'other', rows: 1, position: 7 } });
  assert.deepEqual(pickProgress(db.importProgress('imp')), { rows: 2, position: 100 });
  await db.close();
  let d = await reopen(); // without a flush
  assert.deepEqual(pickProgress(d.importProgress('imp')), { rows: 2, position: 100 });
  assert.deepEqual(pickProgress(d.importProgress('other')), { rows: 1, position: 7 });
  assert.deepEqual(await ids(d, 'c'), big(1, 2, 3));
  await d.upsert('c', [{ id: 4, vector: [2, 2] }], { progress: { importId: 'imp', rows: 3, position: 150 } });
  await d.flush();
  await d.close();
  d = await reopen(); // with a flush in between
  assert.deepEqual(pickProgress(d.importProgress('imp')), { rows: 3, position: 150 });
  assert.deepEqual(pickProgress(d.importProgress('other')), { rows: 1, position: 7 });
  // progress in the WAL on top of progress in the manifest
  await d.insert('c', [{ id: 5, vector: [3, 3] }], { progress: { importId: 'imp', rows: 4, position: 200 } });
  await d.close();
  d = await reopen();
  assert.deepEqual(pickProgress(d.importProgress('imp')), { rows: 4, position: 200 });
  await d.flush();
  await d.close();
  d = await reopen();
  assert.deepEqual(pickProgress(d.importProgress('imp')), { rows: 4, position: 200 });
  assert.deepEqual(pickProgress(d.importProgress('other')), { rows: 1, position: 7 });
  assert.equal(d.importProgress('never'), null);
  assert.deepEqual(await ids(d, 'c'), big(1, 2, 3, 4, 5));
  await d.close();
});

test('flush after an import-tagged write checkpoints its progress record too', async () => {
  const { db, reopen } = await openMem();
  await db.createCollection({ name: 'c', dimension: 2 });
  await db.insert('c', [{ id: 1, vector: [1, 0] }], { progress: { importId: 'imp', rows: 1, position: 10 } });
  const f = await db.flush();
  assert.equal(f.checkpointLsn, db.stats().lastLsn, 'the flush covers every acknowledged record');
  await db.close();
  const d = await reopen();
  assert.equal(d.report.replayedRecords, 0, 'nothing to replay after a flush');
  assert.deepEqual(pickProgress(d.importProgress('imp')), { rows: 1, position: 10 });
  await d.close();
});

function pickProgress(p: { rows: number; position: number } | null): { rows: number; position: number } | null {
  return p && { rows: p.rows, position: p.position };
}

test('smoke test on the real disk: write, flush, reopen, LOCKED', async () => {
  const root = await mkdtemp(join(tmpdir(), 'vecwal-db-'));
  const dir = join(root, 'db');
  try {
    const db = await Database.open(dir, { flushIntervalMs: 0 });
    await db.createCollection(BOOKS);
    await db.insert('books', SAMPLE.slice(0, 3));
    await db.flush();
    await db.insert('books', SAMPLE.slice(3));
    await db.upsert('books', [{ ...SAMPLE[0]!, title: 'Dune!' }]);
    await db.delete('books', { filter: 'year < 1900' });
    const want = await all(db, 'books');
    assert.deepEqual(want.map((r) => r.id), big(1, 2, 4, 5));
    await expectCode(Database.open(dir, { flushIntervalMs: 0 }), 'LOCKED', 'second open on disk');
    await db.close();
    let d = await Database.open(dir, { flushIntervalMs: 0 });
    assert.equal(d.report.replayedRecords, 3);
    assert.deepEqual(await all(d, 'books'), want);
    await d.compact('books');
    await d.close({ flush: true });
    d = await Database.open(dir, { flushIntervalMs: 0 });
    assert.equal(d.report.replayedRecords, 0);
    assert.deepEqual(await all(d, 'books'), want);
    const [hits] = await d.read.search('books', { data: [0, 0, 3], limit: 1, outputFields: ['title'] });
    assert.deepEqual(hits, [{ id: 4n, title: 'Ulysses', distance: 0 }]);
    await d.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
