/**
 * Search and primary-key bookkeeping over segments made of many blocks, checked against brute
 * force over a model (pk -> vector, n):
 *   - a growing segment mixing large batches (searched in place, one kernel block each) and
 *     runs of small ones (concatenated), as it grows between searches (the view is extended);
 *   - with deletes, upserts and filters;
 *   - after a flush (a sealed segment of many blocks, made resident from its per-batch arrays),
 *     after compaction (blocks without deletes move to the new segment as they are, the others
 *     are sliced or copied) and after a reopen (replayed batches, VarChar strings made lazily).
 * Vectors have small integer coordinates and the metric is L2, so distances are exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Database } from '../../src/db/database.js';
import type { CollectionSchema } from '../../src/db/types.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';

const DIM = 4;
const SCHEMA: CollectionSchema = {
  name: 'c',
  enableDynamicField: false,
  metricType: 'L2',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'v', dataType: 'FloatVector', dim: DIM },
    { name: 'n', dataType: 'Int32' },
    { name: 't', dataType: 'VarChar', maxLength: 16 },
  ],
};

interface Row {
  v: number[];
  n: number;
}

/** A deterministic vector with small integer coordinates. */
function vec(id: number, salt: number): number[] {
  return Array.from({ length: DIM }, (_, j) => ((id * 31 + j * 7 + salt * 13) % 17) - 8);
}

function dist(a: number[], b: number[]): number {
  return a.reduce((s, x, j) => s + (x - b[j]!) ** 2, 0);
}

async function insertBatch(db: Database, model: Map<number, Row>, ids: number[], salt: number, upsert = false): Promise<void> {
  const v = new Float32Array(ids.length * DIM);
  const rows = ids.map((id, i) => {
    const r = { v: vec(id, salt), n: (id * 7 + salt) % 100 };
    v.set(r.v, i * DIM);
    return r;
  });
  const cols = { id: ids, v, n: rows.map((r) => r.n), t: ids.map((id) => `t${id % 50}`) };
  await (upsert ? db.upsert('c', cols) : db.insert('c', cols));
  ids.forEach((id, i) => model.set(id, rows[i]!));
}

/** Top-k must be exactly the model's k smallest distances (any order among ties), each at its distance. */
async function checkSearch(db: Database, model: Map<number, Row>, label: string): Promise<void> {
  for (const [qi, filter] of [[1, ''], [2, 'n < 40'], [3, 'n >= 40 and t like "t1%"']] as const) {
    const q = vec(qi * 1000 + 3, 5);
    const k = 25;
    const hits = (await db.read.search('c', { data: q, limit: k, filter, outputFields: ['n', 't'] }))[0]!;
    const allowed = [...model].filter(([id, r]) => {
      if (filter === 'n < 40') return r.n < 40;
      if (filter.startsWith('n >= 40')) return r.n >= 40 && `t${id % 50}`.startsWith('t1');
      return true;
    });
    const want = allowed.map(([, r]) => dist(q, r.v)).sort((a, b) => a - b).slice(0, k);
    assert.deepEqual(hits.map((h) => h.distance).sort((a, b) => a - b), want, `${label} filter '${filter}'`);
    for (const h of hits) {
      const r = model.get(Number(h.id));
      assert.ok(r, `${label}: hit ${h.id} is not live`);
      assert.equal(h.distance, dist(q, r.v), `${label}: distance of ${h.id}`);
      assert.equal(h.n, r.n);
      assert.equal(h.t, `t${Number(h.id) % 50}`);
    }
  }
  const stats = db.collectionStats('c');
  assert.equal(stats.rowCount, model.size, `${label}: row count`);
  // Every live key is found once, with its newest values.
  const ids = [...model.keys()].filter((id) => id % 97 === 0);
  const got = await db.read.get('c', ids, ['n']);
  assert.deepEqual(got.map((r) => Number(r.id)).sort((a, b) => a - b), ids.sort((a, b) => a - b), `${label}: get`);
  for (const r of got) assert.equal(r.n, model.get(Number(r.id))!.n);
}

test('search over growing, flushed, compacted and replayed segments of large and small batches', async () => {
  const fs = new CrashableMemFileSystem();
  const opts = { fs, memtableBytesMax: 1 << 30, flushIntervalMs: 0, compactionMinSegments: 0 };
  let db = await Database.open('/db', opts);
  await db.createCollection(SCHEMA);
  const model = new Map<number, Row>();
  let next = 0;
  const range = (n: number) => Array.from({ length: n }, () => next++);
  // Large, small, small, large, a run of small ones, large: the view grows between searches.
  for (const [i, n] of [1500, 3, 40, 2048, 7, 1, 100, 13, 1200, 5].entries()) {
    await insertBatch(db, model, range(n), i);
    await checkSearch(db, model, `growing after batch ${i}`);
  }
  // Deletes and upserts land in large and small blocks alike.
  const victims = [...model.keys()].filter((id) => id % 11 === 0);
  await db.delete('c', { ids: victims });
  for (const id of victims) model.delete(id);
  await insertBatch(db, model, [...model.keys()].filter((id) => id % 13 === 1).slice(0, 300), 99, true);
  await checkSearch(db, model, 'growing with deletes and upserts');

  await db.flush();
  await checkSearch(db, model, 'sealed after flush');
  // A second segment; a delete in one block of the first only, so compaction moves some blocks
  // as they are and slices or copies the others.
  for (const n of [1100, 9, 30]) await insertBatch(db, model, range(n), n);
  const more = [...model.keys()].filter((id) => id < 1500 && id % 5 === 2);
  await db.delete('c', { ids: more });
  for (const id of more) model.delete(id);
  await db.flush();
  await checkSearch(db, model, 'two sealed segments');
  const r = await db.compact('c');
  assert.equal(r.after, 1);
  await checkSearch(db, model, 'after compaction');
  // Writes after compaction find the moved blocks through the primary key index.
  const moved = [...model.keys()].filter((id) => id > 1600 && id % 9 === 4).slice(0, 50);
  await insertBatch(db, model, moved, 123, true);
  await assert.rejects(db.insert('c', { id: [moved[0]!], v: new Float32Array(DIM), n: [1], t: ['x'] }), /already exists/);
  await db.delete('c', { ids: moved.slice(0, 10) });
  for (const id of moved.slice(0, 10)) model.delete(id);
  await checkSearch(db, model, 'writes after compaction');

  // Reopen without a flush: the last writes are replayed; then with a flush.
  await db.close();
  db = await Database.open('/db', opts);
  await checkSearch(db, model, 'after reopen (replayed)');
  await db.flush();
  await db.close();
  db = await Database.open('/db', opts);
  await checkSearch(db, model, 'after flush and reopen');
  await db.close();
});
