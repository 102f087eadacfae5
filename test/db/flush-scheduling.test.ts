/**
 * When flushes run and when writers wait (src/db/database.ts, flush() and backpressure()).
 *
 * The segment file's fsync is held until the test releases it, so a flush can be caught in the
 * middle and the test can check what writers and other flush triggers do meanwhile:
 *   - writers go on into a fresh memtable while a flush is written, however large it grows, as
 *     long as the WAL above the checkpoint stays within memtable.max_replay_size;
 *   - every size trigger that fires during a flush adds up to one more flush, which takes
 *     everything written since (not one flush per trigger);
 *   - past the replay budget a writer waits for the flush and an onEvent 'stall' reports it;
 *   - flush() calls made while a flush runs share the one that follows it, and when they
 *     resolve everything written before them is in segment files (checkpoint = last LSN).
 * Mutation check: reinstating "wait for a flush when the memtable is twice memtable.max_size"
 * fails the first test; queuing one flush per call fails the third.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { Database, type DatabaseEvent, type DatabaseOptions } from '../../src/db/database.js';
import { schemaOf } from '../support/batches.js';
import { withOverrides, wrapHandles } from '../support/fs-test-helpers.js';

const DIR = '/db';
const DIM = 8;
const ROWS = 500; // ~20 KB of WAL payload per batch
const SCHEMA = schemaOf([
  { name: 'id', dataType: 'Int64', isPrimaryKey: true },
  { name: 'vec', dataType: 'FloatVector', dim: DIM },
]);

/** A FileSystem over `mem` whose segment files' fsync waits, while `hold` is on, for release(). */
function holdingFs(mem: CrashableMemFileSystem) {
  const state = { hold: true, held: [] as (() => void)[] };
  const fs = wrapHandles(mem, (h) =>
    h.path.includes('/data/')
      ? withOverrides(h, {
          sync: async () => {
            if (state.hold) await new Promise<void>((release) => state.held.push(release));
            return h.sync();
          },
        })
      : h,
  );
  /** Stop holding and let every held fsync go on. */
  const releaseAll = () => {
    state.hold = false;
    for (const r of state.held.splice(0)) r();
  };
  return { fs, state, releaseAll };
}

/** Let continuations and in-memory I/O run until `cond` holds, or give up after `ticks`. */
async function within(cond: () => boolean, ticks = 2000): Promise<boolean> {
  for (let i = 0; i < ticks; i++) {
    if (cond()) return true;
    await new Promise((r) => setImmediate(r));
  }
  return cond();
}

async function countRows(db: Database): Promise<number> {
  return (await db.read.query('c', { filter: 'id >= 0', outputFields: ['id'], limit: 1_000_000 })).length;
}

async function setup(options: DatabaseOptions) {
  const mem = new CrashableMemFileSystem();
  const h = holdingFs(mem);
  const events: DatabaseEvent[] = [];
  h.state.hold = false; // creating the collection is not held
  const db = await Database.open(DIR, { fs: h.fs, flushIntervalMs: 0, compactionMinSegments: 0, onEvent: (e) => events.push(e), ...options });
  await db.createCollection(SCHEMA);
  h.state.hold = true;
  let next = 0;
  const batch = () => {
    const id = Array.from({ length: ROWS }, () => next++);
    const vec = new Float32Array(ROWS * DIM).map((_, i) => i % 7);
    return { id, vec };
  };
  /** Insert one batch; report whether it was acknowledged within the tick budget. */
  const insert = async (): Promise<{ acked: boolean; done: Promise<unknown> }> => {
    let acked = false;
    const done = db.insert('c', batch()).then(() => (acked = true));
    return { acked: await within(() => acked), done };
  };
  const flushes = () => events.filter((e) => e.type === 'flush').length;
  const count = async () => countRows(db);
  return { mem, h, db, events, insert, flushes, count, rows: () => next };
}

test('writers go on into a fresh memtable while a flush is written, and the triggers during it add one flush', async () => {
  const s = await setup({ memtableBytesMax: 64 * 1024, replayBytesMax: 64 * 1024 * 1024 });
  // Fill the memtable until a flush starts and waits on its segment file's fsync.
  for (let i = 0; i < 10 && s.h.state.held.length === 0; i++) assert.ok((await s.insert()).acked);
  assert.ok(await within(() => s.h.state.held.length === 1), 'a flush is held at its segment fsync');
  // 20 more batches (~400 KB, six times memtable.max_size) while it is held: none waits.
  for (let i = 0; i < 20; i++) assert.ok((await s.insert()).acked, `batch ${i} acknowledged while the flush is held`);
  assert.equal(s.flushes(), 0);
  assert.ok(!s.events.some((e) => e.type === 'stall'), 'no write stalled');
  s.h.releaseAll();
  await s.db.flush();
  assert.equal(s.flushes(), 2, 'the held flush, then one flush for everything written meanwhile');
  const st = s.db.stats();
  assert.equal(st.checkpointLsn, st.lastLsn);
  assert.equal(await s.count(), s.rows());
  await s.db.close();
  // Power cut: every acknowledged row is still there.
  const db2 = await Database.open(DIR, { fs: s.mem.crashClone({ seed: 1, unsyncedKeepProbability: 0 }), flushIntervalMs: 0 });
  assert.equal(await countRows(db2), s.rows());
  await db2.close();
});

test('past memtable.max_replay_size a writer waits for the flush, and onEvent reports the stall', async () => {
  const budget = 128 * 1024;
  const s = await setup({ memtableBytesMax: 64 * 1024, replayBytesMax: budget });
  for (let i = 0; i < 10 && s.h.state.held.length === 0; i++) assert.ok((await s.insert()).acked);
  assert.ok(await within(() => s.h.state.held.length === 1));
  let waiting: Promise<unknown> | null = null;
  for (let i = 0; i < 20 && !waiting; i++) {
    const r = await s.insert();
    if (!r.acked) waiting = r.done;
  }
  assert.ok(waiting, 'a write waits once the WAL above the checkpoint passes the budget');
  assert.ok(!(await within(() => false, 200)), 'and keeps waiting while the flush is held');
  s.h.releaseAll();
  await waiting;
  const stalls = s.events.filter((e): e is Extract<DatabaseEvent, { type: 'stall' }> => e.type === 'stall');
  assert.equal(stalls.length, 1);
  assert.ok(stalls[0]!.bytesAboveCheckpoint > budget, `reported ${stalls[0]!.bytesAboveCheckpoint} bytes above the checkpoint`);
  assert.ok(stalls[0]!.durationMs >= 0);
  await s.db.flush();
  assert.equal(await s.count(), s.rows());
  await s.db.close();
});

test('flush() calls made while a flush runs share the next one, which covers every write before them', async () => {
  const s = await setup({ memtableBytesMax: 64 * 1024 * 1024 });
  assert.ok((await s.insert()).acked);
  const first = s.db.flush();
  assert.ok(await within(() => s.h.state.held.length === 1), 'the first flush is held');
  assert.ok((await s.insert()).acked);
  const second = s.db.flush();
  const third = s.db.flush();
  assert.equal(second, third, 'calls before the next flush starts share it');
  assert.notEqual(first, second);
  s.h.releaseAll();
  const [r1, r2] = await Promise.all([first, second, third]);
  assert.equal(s.flushes(), 2);
  assert.ok(r2.checkpointLsn > r1.checkpointLsn);
  assert.equal(r2.checkpointLsn, s.db.stats().lastLsn, 'the shared flush covers the write made before it was called');
  assert.deepEqual(await s.db.flush(), { segments: 0, checkpointLsn: r2.checkpointLsn }, 'nothing left to flush');
  await s.db.close();
});
