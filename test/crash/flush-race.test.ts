/**
 * Deletes that land while a flush or a compaction writes its files (found by the crash
 * enumeration at 20,000 points, seed 5151): an upsert or delete is applied in memory as soon as
 * its batch is appended, before the batch is durable. A flush or compaction running at that
 * moment must not put that delete in a file it commits (a delete file, or a compacted segment
 * that leaves the row out) unless the write is durable: if the power goes before the write's
 * fdatasync, the row must come back as it was, since its delete was never acknowledged.
 *
 * Each test parks the flush or compaction at the creation of its segment file, makes every later
 * WAL fdatasync hang (so the write that follows is appended but never durable), lets the flush
 * or compaction commit its manifest, cuts the power (unsynced bytes lost), and reopens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import type { FileSystem, OpenFlags } from '../../src/fs/fs.js';
import { Database } from '../../src/db/database.js';
import { schemaOf } from '../support/batches.js';
import { withOverrides, wrapHandles } from '../support/fs-test-helpers.js';

const DIR = '/db';
const SCHEMA = schemaOf([
  { name: 'id', dataType: 'Int64', isPrimaryKey: true },
  { name: 'vector', dataType: 'FloatVector', dim: 2 },
  { name: 'text', dataType: 'VarChar', maxLength: 32 },
]);

/**
 * A filesystem whose next segment-file creation (once armed) waits for `release`, and whose WAL
 * fdatasyncs wait for `releaseWal` while `holdWalSyncs` is set.
 */
function gatedFs(mem: CrashableMemFileSystem) {
  const state = { holdWalSyncs: false, manifestCommits: 0, parked: false };
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let parked!: () => void;
  const parkedAt = new Promise<void>((r) => (parked = r));
  let gateArmed = false;
  let releaseWal!: () => void;
  const walReleased = new Promise<void>((r) => (releaseWal = r));
  const synced = wrapHandles(mem, (h) =>
    h.path.includes('/wal/') ? withOverrides(h, { datasync: async () => (state.holdWalSyncs && (await walReleased), h.datasync()) }) : h,
  );
  const fs: FileSystem = withOverrides(synced, {
    open: async (path: string, flags: OpenFlags) => {
      if (gateArmed && path.endsWith('data.seg.tmp')) {
        gateArmed = false;
        state.parked = true;
        parked();
        await released;
      }
      return synced.open(path, flags);
    },
    rename: async (from: string, to: string) => {
      await synced.rename(from, to);
      if (to.endsWith('/MANIFEST')) state.manifestCommits++;
    },
  });
  return { fs, state, release, releaseWal, parkedAt, arm: () => (gateArmed = true) };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(cond(), 'timed out waiting');
}

async function rowsOf(mem: CrashableMemFileSystem): Promise<Map<bigint, string>> {
  const db = await Database.open(DIR, { fs: mem, flushIntervalMs: 0 });
  try {
    const rows = await db.read.query('c', { outputFields: ['id', 'text'], limit: 1000 });
    return new Map(rows.map((r) => [r.id as bigint, r.text as string]));
  } finally {
    await db.close();
  }
}

const row = (id: number, text: string) => ({ id, vector: [id, 0], text });

for (const kind of ['upsert', 'delete'] as const) {
  test(`flush: ${kind === 'upsert' ? 'an upsert' : 'a delete'} applied after the freeze is not recorded in the flush's delete file unless durable`, async () => {
    const mem = new CrashableMemFileSystem();
    const g = gatedFs(mem);
    const db = await Database.open(DIR, { fs: g.fs, flushIntervalMs: 0, compactionMinSegments: 0 });
    await db.createCollection(SCHEMA);
    await db.insert('c', [row(1, 'one')]);
    await db.flush(); // row 1 in a sealed segment
    await db.insert('c', [row(2, 'two')]); // row 2 in the memtable
    g.arm();
    const flushing = db.flush().catch(() => undefined);
    await g.parkedAt; // frozen (row 2 is in the frozen segment), WAL synced, segment file not yet created
    const commits = g.state.manifestCommits;
    g.state.holdWalSyncs = true;
    // Both rows are hit: row 1 in a sealed segment, row 2 in the frozen one. Never acknowledged.
    void (kind === 'upsert' ? db.upsert('c', [row(1, 'one v2'), row(2, 'two v2')]) : db.delete('c', { ids: [1, 2] })).catch(() => undefined);
    g.release();
    await until(() => g.state.manifestCommits > commits); // the flush committed its manifest
    const clone = mem.crashClone({ seed: 7, unsyncedKeepProbability: 0 });
    mem.crash();
    g.releaseWal(); // everything still waiting fails on the crashed filesystem
    await flushing;
    await db.close().catch(() => undefined);
    assert.deepEqual(await rowsOf(clone), new Map([[1n, 'one'], [2n, 'two']]));
  });
}

test('compaction: leaves out rows deleted by a write that is not durable yet only once that write is', async () => {
  const mem = new CrashableMemFileSystem();
  const g = gatedFs(mem);
  const db = await Database.open(DIR, { fs: g.fs, flushIntervalMs: 0, compactionMinSegments: 0 });
  await db.createCollection(SCHEMA);
  for (const id of [1, 2, 3]) {
    await db.insert('c', [row(id, `r${id}`)]);
    await db.flush(); // three small sealed segments
  }
  // The delete is applied in memory at once; its fdatasync waits.
  g.state.holdWalSyncs = true;
  const deleting = db.delete('c', { ids: [2] });
  g.arm();
  const compacting = db.compact('c');
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(g.state.parked, false, 'the compaction wrote a segment leaving out row 2 before its delete was durable');
  // A power cut now loses the delete, and the compaction has committed nothing.
  const early = mem.crashClone({ seed: 7, unsyncedKeepProbability: 0 });
  assert.deepEqual(await rowsOf(early), new Map([[1n, 'r1'], [2n, 'r2'], [3n, 'r3']]));
  // Once the delete is durable the compaction goes on, and drops the row.
  g.releaseWal();
  await g.parkedAt;
  g.release();
  assert.deepEqual(await deleting.then((r) => r.deleteCount), 1);
  await compacting;
  await db.close();
  assert.deepEqual(await rowsOf(mem.crashClone({ seed: 7, unsyncedKeepProbability: 0 })), new Map([[1n, 'r1'], [3n, 'r3']]));
});
