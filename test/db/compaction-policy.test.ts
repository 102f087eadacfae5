/**
 * Which segments compaction rewrites (src/db/database.ts, compactionPlan): size-tiered.
 *
 *   - small segments (below half of compactionMaxBytes) are merged, oldest first, in groups of at
 *     most compactionMaxBytes of live data; full segments without deletes are left as they are;
 *   - a segment with at least a fifth of its rows deleted is rewritten whatever its size;
 *   - compact() goes group by group until nothing is left to do, and every row reads back the same;
 *   - the background trigger counts small segments only (and fires for a delete-heavy one).
 * The segments a test expects to survive are identified by their folder names on the in-memory FS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { Database, type DatabaseOptions } from '../../src/db/database.js';
import { schemaOf } from '../support/batches.js';

const DIR = '/db';
const DIM = 16;
const SCHEMA = schemaOf([
  { name: 'id', dataType: 'Int64', isPrimaryKey: true },
  { name: 'vec', dataType: 'FloatVector', dim: DIM },
]);
/** ~64 KiB: a segment of 1,000 rows (72 bytes each and more) is "full", one of 50 is small. */
const MAX = 64 * 1024;

async function open(options: DatabaseOptions = {}) {
  const fs = new CrashableMemFileSystem();
  const db = await Database.open(DIR, { fs, flushIntervalMs: 0, compactionMinSegments: 0, compactionMaxBytes: MAX, ...options });
  await db.createCollection(SCHEMA);
  let next = 0;
  /** Insert `n` rows and flush them into a segment of their own; returns its folder name. */
  const segment = async (n: number): Promise<string> => {
    const before = new Set(folders());
    const id = Array.from({ length: n }, () => next++);
    await db.insert('c', { id, vec: new Float32Array(n * DIM).map((_, i) => (i % 13) / 13) });
    await db.flush();
    const added = folders().filter((f) => !before.has(f));
    assert.equal(added.length, 1);
    return added[0]!;
  };
  const folders = (): string[] => [...new Set(fs.listFiles().filter((p) => p.includes('/data/segment_') && p.endsWith('/data.seg')).map((p) => p.split('/')[3]!))].sort();
  const ids = async (): Promise<number[]> => (await db.read.query('c', { filter: 'id >= 0', outputFields: ['id'], limit: 1_000_000 })).map((r) => Number(r.id)).sort((a, b) => a - b);
  const bytesOf = async (folder: string): Promise<number> => fs.readFileSync(`${DIR}/data/${folder}/data.seg`).length;
  return { fs, db, segment, folders, ids, bytesOf, rows: () => next };
}

test('compact() merges the small segments and leaves the full one as it is', async () => {
  const t = await open();
  const full = await t.segment(1000);
  assert.ok((await t.bytesOf(full)) >= MAX / 2, 'the 1,000-row segment counts as full');
  const smalls = [await t.segment(50), await t.segment(50), await t.segment(50)];
  const want = await t.ids();
  const r = await t.db.compact('c');
  assert.deepEqual(r, { before: 4, after: 2, rowsDropped: 0 });
  const now = t.folders();
  assert.ok(now.includes(full), 'the full segment was not rewritten');
  for (const s of smalls) assert.ok(!now.includes(s), `${s} was merged`);
  assert.deepEqual(await t.ids(), want);
  assert.deepEqual(await t.db.compact('c'), { before: 2, after: 2, rowsDropped: 0 }, 'nothing left to do');
  await t.db.close();
});

test('a segment with a fifth of its rows deleted is rewritten, whatever its size', async () => {
  const t = await open();
  const full = await t.segment(1000);
  const other = await t.segment(1000);
  await t.db.delete('c', { ids: Array.from({ length: 250 }, (_, i) => i * 4) }); // a quarter of the first
  await t.db.flush();
  const want = await t.ids();
  const r = await t.db.compact('c');
  assert.deepEqual(r, { before: 2, after: 2, rowsDropped: 250 });
  const now = t.folders();
  assert.ok(!now.includes(full), 'the delete-heavy segment was rewritten');
  assert.ok(now.includes(other), 'the full one without deletes was not');
  assert.deepEqual(await t.ids(), want);
  await t.db.close();
});

test('groups hold at most compactionMaxBytes of live rows; compact() goes on until none is left', async () => {
  const t = await open();
  const smalls: string[] = [];
  for (let i = 0; i < 12; i++) smalls.push(await t.segment(200)); // each below MAX / 2, together far above MAX
  const total = (await Promise.all(smalls.map((s) => t.bytesOf(s)))).reduce((a, b) => a + b, 0);
  assert.ok(total > 2 * MAX);
  const want = await t.ids();
  const r = await t.db.compact('c');
  assert.equal(r.before, 12);
  assert.ok(r.after >= 2 && r.after < 12, `merged into a few segments, not one: ${r.after}`);
  for (const f of t.folders()) assert.ok((await t.bytesOf(f)) <= MAX + 4096, `${f} holds at most about MAX bytes`);
  assert.deepEqual(await t.ids(), want);
  await t.db.close();
  // Reopen: the compacted layout is what the manifest says, and every row is there.
  const db2 = await Database.open(DIR, { fs: t.fs.crashClone({ seed: 2, unsyncedKeepProbability: 0 }), flushIntervalMs: 0 });
  assert.equal((await db2.read.query('c', { filter: 'id >= 0', outputFields: ['id'], limit: 1_000_000 })).length, t.rows());
  await db2.close();
});

test('the background trigger counts small segments only, and fires for a delete-heavy one', async () => {
  const t = await open({ compactionMinSegments: 3 });
  await t.segment(1000);
  await t.segment(1000);
  await t.segment(1000);
  assert.equal(t.folders().length, 3, 'three full segments: no compaction');
  await t.segment(50);
  await t.segment(50);
  assert.equal(t.folders().length, 5);
  await t.segment(50); // the third small one: compaction starts in the background
  for (let i = 0; i < 1000 && t.folders().length !== 4; i++) await new Promise((r) => setImmediate(r));
  assert.equal(t.folders().length, 4, 'the three small segments became one');
  const before = t.folders();
  await t.db.delete('c', { ids: Array.from({ length: 300 }, (_, i) => i) }); // 30% of the first segment
  await t.db.flush();
  for (let i = 0; i < 1000 && t.folders().includes(before[0]!); i++) await new Promise((r) => setImmediate(r));
  assert.ok(!t.folders().includes(before[0]!), 'the delete-heavy segment was rewritten in the background');
  assert.equal((await t.ids()).length, t.rows() - 300);
  await t.db.close();
});
