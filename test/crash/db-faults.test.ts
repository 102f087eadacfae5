/**
 * I/O faults under the database workload (test/support/db-workload.ts: two writers inserting,
 * upserting and deleting by ids and by filter, with flushes and compactions, foreground and
 * background): EIO at every filesystem operation (reads included), then ENOSPC at every
 * mutating one, k = 0, 1, 2, ... until a run ends without reaching op k.
 *
 * Each run must settle (no hang), every failure must reach the caller as a coded VecwalError,
 * and what is on disk afterwards must satisfy the workload's oracle, both when the process dies
 * right after the workload (crashClone keeping every unsynced byte: the page cache survives)
 * and on a power cut at that moment (crashClone keeping none): every acknowledged operation of
 * each writer, plus at most its one in flight, nothing half-applied.
 *
 * Short writes (every write may move fewer bytes than asked) must be invisible: the workload
 * completes without an error and reads back exactly. And reads: EIO at every read-only operation
 * of an open, a query, a search and a get must reach the caller coded, poison nothing (writes
 * still work), and be forgotten once the disk heals (the same database reads every row). And
 * recovery: reopening a power-cut database (torn tail, orphans, rows to replay) and flushing it
 * with EIO or ENOSPC at every mutating operation loses nothing, whatever happens after.
 *
 * VECWAL_SEED sets the workload seed (printed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { FaultInjectingFileSystem, crashAtWrite, failAt, failWritesAt, shortWrites, type Injector } from '../../src/fs/fault-fs.js';
import { isVecwalError } from '../../src/errors.js';
import { baseSeed } from '../support/wal-workload.js';
import { COLL, DB_WORKLOAD_OPTIONS, checkDbRecovered, modelOf, readModel, runDbWorkload } from '../support/db-workload.js';
import { Database } from '../../src/db/database.js';

const DIR = '/db';
/** Ops per writer: enough for flushes, a compaction or two, and cleanups on the small WAL. */
const OPS = 10;

async function settled<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: the workload did not settle in 30 s (hang)`)), 30_000)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const CASES: [string, (k: number) => Injector][] = [
  ['EIO at every operation', (k) => failAt(k, 'EIO')],
  ['ENOSPC at every mutating operation', (k) => failWritesAt(k, 'ENOSPC')],
];

for (const [name, injectorAt] of CASES) {
  test(`database under I/O faults: ${name}; failures are coded, and a process crash or power cut after them loses nothing acknowledged`, async (t) => {
    const seed = baseSeed();
    t.diagnostic(`workload seed ${seed} (set VECWAL_SEED to replay)`);
    const codes = new Map<string, number>();
    let k = 0;
    for (; ; k++) {
      const mem = new CrashableMemFileSystem();
      let fired = false;
      const inject = injectorAt(k);
      const fs = new FaultInjectingFileSystem(mem, {
        injector: (op) => {
          const f = inject(op);
          if (f) fired = true;
          return f;
        },
      });
      const what = `${name}, op ${k}, seed ${seed}`;
      const log = await settled(runDbWorkload(fs, DIR, seed, OPS, 2), what);
      if (!fired) break;
      for (const e of log.errors) {
        assert.ok(isVecwalError(e), `${what}: an error without a code reached the caller: ${(e as Error)?.stack ?? String(e)}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
      for (const [p, after] of [[1, 'process crash'], [0, 'power cut']] as const) {
        const clone = mem.crashClone({ seed: seed + k, unsyncedKeepProbability: p });
        checkDbRecovered(await readModel(clone, DIR), log, `${what}, ${after} after the fault`);
      }
    }
    assert.ok(k > 50, `only ${k} ops: the workload is too small to mean much`);
    t.diagnostic(`${k} fault points; error codes seen: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  });
}

test('database under short writes: invisible (no error, every row back exactly)', async (t) => {
  const seed = baseSeed();
  t.diagnostic(`workload seed ${seed} (set VECWAL_SEED to replay)`);
  for (let round = 0; round < 5; round++) {
    const mem = new CrashableMemFileSystem();
    let shortened = 0;
    const inject = shortWrites(seed + round, 0.5);
    const fs = new FaultInjectingFileSystem(mem, {
      injector: (op) => {
        const f = inject(op);
        if (f) shortened++;
        return f;
      },
    });
    const what = `short writes, round ${round}, seed ${seed}`;
    const log = await settled(runDbWorkload(fs, DIR, seed + round, OPS, 2), what);
    assert.deepEqual(log.errors, [], `${what}: short writes must not fail anything`);
    assert.ok(shortened > 10, `${what}: only ${shortened} writes were shortened`);
    for (const wl of log.writers) wl.withInFlight = null; // nothing was in flight: exactly the acknowledged rows
    checkDbRecovered(await readModel(mem.crashClone({ seed, unsyncedKeepProbability: 0 }), DIR), log, what);
  }
});

test('database reads under EIO (open, query, search, get): failures are coded, nothing is poisoned or lost', async (t) => {
  const seed = baseSeed();
  t.diagnostic(`workload seed ${seed} (set VECWAL_SEED to replay)`);
  // A database with sealed segments, delete files and rows in the WAL.
  const mem = new CrashableMemFileSystem();
  const log = await runDbWorkload(mem, DIR, seed, OPS, 2);
  assert.deepEqual(log.errors, []);
  for (const wl of log.writers) wl.withInFlight = null;
  const codes = new Map<string, number>();
  let readFaults = 0;
  let k = 0;
  for (; ; k++) {
    let fired = false;
    // Every operation that only reads (stat, readdir, open for reading, read) may fail.
    const fs = new FaultInjectingFileSystem(mem.crashClone({ seed, unsyncedKeepProbability: 1 }), {
      injector: (op) => (op.writeIndex === undefined && op.index === k ? ((fired = true), { error: 'EIO' }) : undefined),
    });
    const what = `read EIO at op ${k}, seed ${seed}`;
    const errors: unknown[] = [];
    const attempt = async <T>(p: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await p();
      } catch (e) {
        errors.push(e);
        return undefined;
      }
    };
    const db = await attempt(() => Database.open(DIR, { fs, flushIntervalMs: 0 }));
    if (db) {
      await attempt(() => db.read.query(COLL, { filter: 'n >= 0', outputFields: ['*'], limit: 1000 }));
      await attempt(() => db.read.search(COLL, { data: [[1, 2, 3, 4]], limit: 5, outputFields: ['text'] }));
      await attempt(() => db.read.get(COLL, [1, 2, 1_000_001], ['text']));
      // A failed read poisons nothing: writes still work.
      await attempt(() => db.insert(COLL, [{ id: 999_999, vector: [0, 0, 0, 0], text: 'probe', n: 1 }]).then(() => db.delete(COLL, { ids: [999_999] })));
    }
    for (const e of errors) {
      assert.ok(isVecwalError(e), `${what}: an error without a code reached the caller: ${(e as Error)?.stack ?? String(e)}`);
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
    fs.setInjector(undefined);
    if (db) {
      // Nothing is remembered of the failure: the same database reads everything once healed.
      checkDbRecovered(await modelOf(db), log, `${what}, then healed (same database)`);
      await db.close();
    }
    if (k >= fs.opsSeen) break; // the run had no op k: every op has had its turn
    if (!fired) continue; // op k changes something: not a read
    readFaults++;
    checkDbRecovered(await readModel(fs, DIR), log, `${what}, then healed (reopened)`);
  }
  assert.ok(readFaults > 20, `only ${readFaults} read ops`);
  t.diagnostic(`${readFaults} read fault points of ${k} ops; error codes seen: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
});

test('recovery under I/O faults: reopening a power-cut database with EIO or ENOSPC at every mutating operation', async (t) => {
  const seed = baseSeed();
  t.diagnostic(`workload seed ${seed} (set VECWAL_SEED to replay)`);
  // A database cut mid-workload, half its unsynced bytes kept: a torn WAL tail, orphans of a
  // flush or compaction, rows above the checkpoint to replay.
  const full = new FaultInjectingFileSystem(new CrashableMemFileSystem());
  await runDbWorkload(full, DIR, seed, OPS, 2);
  const cutAt = Math.floor(full.writesSeen / 2);
  const mem = new CrashableMemFileSystem();
  let crashed: CrashableMemFileSystem | null = null;
  const cutting = new FaultInjectingFileSystem(mem, { injector: crashAtWrite(cutAt), onCrash: () => ((crashed = mem.crashClone({ seed, unsyncedKeepProbability: 0.5 })), mem.crash()) });
  const log = await runDbWorkload(cutting, DIR, seed, OPS, 2);
  assert.ok(crashed, 'the workload was cut');
  const base: CrashableMemFileSystem = crashed;
  const codes = new Map<string, number>();
  let points = 0;
  for (const code of ['EIO', 'ENOSPC']) {
    for (let k = 0; ; k++) {
      const disk = base.crashClone({ seed, unsyncedKeepProbability: 1 }); // an exact copy
      const fs = new FaultInjectingFileSystem(disk, { injector: failWritesAt(k, code) });
      const what = `recovery, ${code} at mutating op ${k}, seed ${seed}`;
      try {
        // Recovery, then a flush of what it replayed (segment files, manifest, WAL cleanup).
        const db = await settled(Database.open(DIR, { ...DB_WORKLOAD_OPTIONS, fs }), what);
        try {
          await db.flush();
        } finally {
          await db.close().catch(() => undefined);
        }
      } catch (e) {
        assert.ok(isVecwalError(e), `${what}: an error without a code reached the caller: ${(e as Error)?.stack ?? String(e)}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
      if (k >= fs.writesSeen) break;
      points++;
      for (const [p, after] of [[1, 'process crash'], [0, 'power cut']] as const) {
        checkDbRecovered(await readModel(disk.crashClone({ seed: seed + k, unsyncedKeepProbability: p }), DIR), log, `${what}, ${after} after it`);
      }
    }
  }
  assert.ok(points > 20, `only ${points} fault points`);
  t.diagnostic(`${points} fault points; error codes seen: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
});
