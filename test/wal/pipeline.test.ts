/**
 * The commit pipeline's overlap: the next group is written while the previous group's
 * fdatasync runs (src/wal/wal.ts, "Commit pipeline").
 *
 * On the in-memory filesystem a sync completes at once, so the crash sweeps never see a write
 * land while a sync is in flight. Here every fdatasync after open is held until the test
 * releases it (the sync persists what was written when it was called, as a real fdatasync at
 * least does), which makes the overlap happen on purpose and lets the test check what each
 * moment promises:
 *   - group B is written while A's sync is held, and B's own sync starts only after A's ended;
 *   - A is acknowledged when its sync ends, B only when its own does; durableLsn never counts a
 *     group whose sync started after it was written... i.e. never claims B on A's sync;
 *   - a frame written during a sync does not claim (syncedThrough) the bytes that sync is still
 *     making durable: with B's bytes lost and C's kept (allowed after a power cut: neither was
 *     synced), recovery sees a torn tail, keeps A and drops B and C, and reports no corruption.
 * Mutation check: taking the durable end when a sync completes instead of when it started
 * (durableEnd = writeEnd) fails the durableLsn assertion and the recovery assertion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { joinPath } from '../../src/fs/io.js';
import { Wal } from '../../src/wal/wal.js';
import { OpType, segmentFileName } from '../../src/wal/format.js';
import { exactCopy, flipBit } from '../support/wal-test-helpers.js';
import { withOverrides, wrapHandles } from '../support/fs-test-helpers.js';

const DIR = '/wal';

interface Held {
  release: () => void;
  /** Make this sync fail with EIO instead. */
  fail: () => void;
}

/** A FileSystem over `mem` whose handles' datasync, while `hold` is on, waits for the test. */
function holdingFs(mem: CrashableMemFileSystem) {
  const state = { hold: false, syncs: [] as Held[], writes: [] as { path: string; position: number; length: number }[] };
  const fs = wrapHandles(mem, (h) =>
    withOverrides(h, {
      datasync: async () => {
        const done = h.datasync(); // persists what is written now
        if (state.hold) {
          await new Promise<void>((release, reject) =>
            state.syncs.push({ release, fail: () => reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) }),
          );
        }
        return done;
      },
      write: (buf: Uint8Array, offset: number, length: number, position: number) => {
        state.writes.push({ path: h.path, position, length });
        return h.write(buf, offset, length, position);
      },
    }),
  );
  return { fs, state };
}

/** Let promise continuations and queued I/O run until `cond` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

function tracked<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  const promise = p.finally(() => {
    done = true;
  });
  return { settled: () => done, promise };
}

const payload = (tag: number) => new Uint8Array(20_000).fill(tag);

/** Open a log with syncs held, append A, and once A's sync is running, append B and wait for B's write. */
async function overlapAB(tagA: number, tagB: number) {
  const mem = new CrashableMemFileSystem();
  const { fs, state } = holdingFs(mem);
  const wal = await Wal.open(DIR, { fs, syncPolicy: 'always', preallocateBytes: 0 });
  const segment = joinPath(DIR, segmentFileName(wal.listSegments().at(-1)!.segmentNo));
  state.hold = true;
  state.writes.length = 0;
  const a = tracked(wal.append({ op: OpType.User, payload: payload(tagA) }));
  await until(() => state.syncs.length === 1, "A's sync started");
  const b = tracked(wal.append({ op: OpType.User, payload: payload(tagB) }));
  await until(() => state.writes.length === 2, 'B written while A syncs');
  return { mem, state, wal, segment, a, b };
}

test('the next group is written during the previous sync; acks, durableLsn and syncedThrough only claim what a finished sync covered', async () => {
  const { mem, state, wal, segment, a, b } = await overlapAB(0xa, 0xb);
  assert.equal(state.syncs.length, 1, "B's sync waits for A's");
  assert.ok(!a.settled() && !b.settled(), 'nothing acknowledged before a sync ended');
  assert.equal(wal.durableLsn, 0);

  state.syncs[0]!.release();
  assert.deepEqual(await a.promise, { firstLsn: 1, lastLsn: 1 });
  await until(() => state.syncs.length === 2, "B's sync started");
  assert.equal(wal.durableLsn, 1, "A's sync covered A only: B was written after it started");
  assert.ok(!b.settled(), 'B is acknowledged by its own sync only');

  const c = tracked(wal.append({ op: OpType.User, payload: payload(0xc) }));
  await until(() => state.writes.length === 3, 'C written while B syncs');
  const [wa, wb, wc] = state.writes;
  assert.ok(wa!.path === segment && wb!.path === segment && wc!.path === segment);
  assert.ok(wa!.position < wb!.position && wb!.position < wc!.position);

  // A power cut now may keep any of B's and C's bytes (neither is synced). Keep C, lose B.
  const cut = exactCopy(mem);
  await flipBit(cut, segment, wb!.position + 100, 3);
  const after = await Wal.open(DIR, { fs: cut });
  try {
    const rep = after.recovery;
    assert.notEqual(rep.outcome, 'salvaged', JSON.stringify(rep));
    for (const e of rep.events) assert.ok(e.action === 'truncate' || e.action === 'remove', `a torn tail, not corruption: ${JSON.stringify(e)}`);
    const got: number[] = [];
    for await (const batch of after.read()) for (const r of batch.records) got.push(r.payload[0]!);
    assert.deepEqual(got, [0xa], 'A survives; B (torn) and C (after it) are gone');
  } finally {
    await after.close();
  }

  state.syncs[1]!.release();
  assert.deepEqual(await b.promise, { firstLsn: 2, lastLsn: 2 });
  await until(() => state.syncs.length === 3, "C's sync started");
  state.hold = false;
  state.syncs[2]!.release();
  assert.deepEqual(await c.promise, { firstLsn: 3, lastLsn: 3 });
  assert.equal(wal.durableLsn, 3);
  await wal.close();
});

test('a failed sync rejects its group and the group written during it, and poisons the log', async () => {
  const { state, wal, a, b } = await overlapAB(1, 2);
  state.syncs[0]!.fail();
  const walFailed = (e: Error & { code?: string }) => e.code === 'WAL_FAILED';
  await assert.rejects(a.promise, walFailed);
  await assert.rejects(b.promise, walFailed, 'B was written during the failed sync: never acknowledged');
  assert.equal(state.syncs.length, 1, 'no sync was attempted after the failure (fsyncgate: never retried)');
  await assert.rejects(wal.append({ op: OpType.User, payload: payload(3) }), (e: Error & { code?: string }) => e.code === 'WAL_FAILED');
  await wal.close().catch(() => undefined);
});
