/**
 * Filtered reads through the Database evaluate filters over block columns (src/filter/bits.ts
 * via src/db/reader.ts). Whatever the block layout (sealed segments of several batches, growing
 * runs of small batches at unaligned offsets, blocks larger than one scan chunk) and deletes,
 * query, query with offset/limit, search and delete-by-filter must select exactly the live rows
 * the row closure (compileFilter) selects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Database } from '../../src/db/database.js';
import type { CollectionSchema } from '../../src/db/types.js';
import { compileFilter, type FilterSchema } from '../../src/filter/index.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';

const SCHEMA: CollectionSchema = {
  name: 'c',
  enableDynamicField: true,
  metricType: 'L2',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim: 2 },
    { name: 'a', dataType: 'Int32', nullable: true },
    { name: 'big', dataType: 'Int64' },
    { name: 's', dataType: 'VarChar', maxLength: 16, nullable: true },
    { name: 'f', dataType: 'Float' },
    { name: 'b', dataType: 'Bool', nullable: true },
    { name: 'meta', dataType: 'JSON', nullable: true },
  ],
};

const FILTER_SCHEMA: FilterSchema = {
  enableDynamicField: true,
  fields: SCHEMA.fields.filter((f) => f.dataType !== 'FloatVector').map((f) => ({ name: f.name, type: f.dataType as never, ...(f.nullable ? { nullable: true } : {}) })),
};

const FILTERS = [
  'a < 3',
  'a >= 2 and a != 4',
  'not (a > 2)',
  'a is null or s like "x%"',
  '1 <= a <= 3 and b',
  'not b',
  'b == false or a in [0, 5, 6]',
  'big > 9007199254740992',
  'f > 0.5 and f <= 1.7 or s in ["xa", "yb"]',
  'not (a == 1 and s == "xa")',
  's > "x" and s < "y"',
  'meta["k"] == 1 and a < 4',
  'd == "p" or a == 0',
  'not (a < 3 or meta["k"] > 0)',
  'a + 1 > 3',
  'id % 7 == 0 and b is not null',
  'id < 50 or id > 2900',
];

interface Model {
  id: number;
  row: Record<string, unknown>;
  view: Record<string, unknown>;
}

function makeRow(id: number): Model {
  const a = id % 11 === 0 ? null : id % 7;
  const s = id % 5 === 0 ? null : ['xa', 'yb', 'xc', 'z'][id % 4]!;
  const f = (id % 9) / 4;
  const b = id % 6 === 0 ? null : id % 2 === 0;
  const meta = id % 13 === 0 ? null : { k: id % 3 };
  const big = id % 3 === 0 ? 9007199254740993n + BigInt(id) : BigInt(id);
  const dyn: Record<string, unknown> = id % 4 === 0 ? { d: 'p' } : {};
  const row = { id, vector: [id % 17, id % 5], a, big, s, f, b, meta, ...dyn };
  // What a filter sees: Int64 as bigint, Float rounded, dynamic fields under $meta.
  const view = { id: BigInt(id), a, big, s, f: Math.fround(f), b, meta, $meta: dyn };
  return { id, row, view };
}

test('filtered query, search and delete select exactly what the row closure selects', async () => {
  const db = await Database.open('/db', { fs: new CrashableMemFileSystem(), flushIntervalMs: 0 });
  await db.createCollection(SCHEMA);
  const model = new Map<number, Model>();
  let next = 0;
  const insert = async (n: number) => {
    const rows = Array.from({ length: n }, () => makeRow(next++));
    for (const r of rows) model.set(r.id, r);
    await db.insert('c', rows.map((r) => r.row));
  };
  // Sealed: several batches of odd sizes, one larger than a scan chunk.
  for (const n of [1, 7, 33, 50, 1200, 3, 100]) await insert(n);
  await db.flush();
  // Growing: runs of small batches at unaligned offsets, and a big batch searched in place.
  for (const n of [5, 31, 64, 1100, 2, 400]) await insert(n);
  const del = [0, 3, 40, 41, 1300, 1301, 2500, next - 1];
  await db.delete('c', { ids: del });
  for (const id of del) model.delete(id);

  const ids = (rows: Record<string, unknown>[]) => rows.map((r) => Number(r.id));
  for (const filter of FILTERS) {
    const pred = compileFilter(filter, FILTER_SCHEMA);
    const want = [...model.values()].filter((m) => pred(m.view)).map((m) => m.id).sort((x, y) => x - y);
    const all = ids(await db.read.query('c', { filter, limit: Number.MAX_SAFE_INTEGER }));
    assert.deepEqual([...all].sort((x, y) => x - y), want, `query ${filter}`);
    const page = ids(await db.read.query('c', { filter, offset: 3, limit: 5 }));
    assert.deepEqual(page, all.slice(3, 8), `query ${filter} offset 3 limit 5: the same order as the whole result`);
    const [hits] = await db.read.search('c', { data: [0, 0], limit: model.size, filter });
    assert.deepEqual(ids(hits!).sort((x, y) => x - y), want, `search ${filter}`);
    // Again: sealed segments now answer from the cached bitset.
    const [again] = await db.read.search('c', { data: [0, 0], limit: model.size, filter });
    assert.deepEqual(ids(again!).sort((x, y) => x - y), want, `search ${filter} (cached)`);
  }

  const filter = 'a in [1, 2] and s is not null';
  const pred = compileFilter(filter, FILTER_SCHEMA);
  const doomed = [...model.values()].filter((m) => pred(m.view)).map((m) => m.id);
  const res = await db.delete('c', { filter });
  assert.equal(res.deleteCount, doomed.length, 'deleteCount by filter');
  for (const id of doomed) model.delete(id);
  assert.deepEqual(await db.read.query('c', { filter, limit: 10 }), [], 'deleted rows are gone');
  const left = ids(await db.read.query('c', { filter: 'a >= 0 or a is null', limit: Number.MAX_SAFE_INTEGER })).sort((x, y) => x - y);
  assert.deepEqual(left, [...model.keys()].sort((x, y) => x - y));
  await db.close();
});
