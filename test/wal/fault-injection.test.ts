/**
 * I/O faults under a concurrent WAL workload: every failure must be reported, sticky, and
 * harmless to what was acknowledged.
 *
 * Goal: whichever filesystem operation fails (EIO at any operation, ENOSPC at any mutating
 * operation), the workload settles (no hang), the failing append and every later one reject
 * with WAL_FAILED (or the open fails with IO_ERROR), the log stays failed even once the
 * filesystem works again (the fsyncgate rule: a failed write or fsync is never retried), close
 * still works, and both a reopen on the healed filesystem and a power cut taken after the fault
 * recover every acknowledged batch. Short writes everywhere must be invisible. A failed
 * fdatasync poisons the log with one shared cause.
 *
 * Method: FaultInjectingFileSystem over CrashableMemFileSystem. The workload (several
 * concurrent appenders, small segments so rotations happen, checkpoints and cleanups; payloads
 * from test/support/wal-workload.ts) runs with failAt(k) for k = 0, 1, 2, ... until a run ends
 * without reaching op k, once on a fresh directory and once on a directory that already holds a
 * log (so the faults also hit recovery), then with failWritesAt(k, 'ENOSPC') likewise. Each run
 * is checked with the workload oracle (checkRecovered) on the healed filesystem and on
 * crashClone(p = 0) copies taken right after the workload and after close. VECWAL_SEED sets the
 * workload seed (printed).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VecwalError, isVecwalError } from '../../src/errors.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { FaultInjectingFileSystem, failAt, failWritesAt, shortWrites, type Injector, type Op } from '../../src/fs/fault-fs.js';
import { Wal } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { Rng } from '../../src/util/rng.js';
import { WORKLOAD_WAL_OPTIONS, baseSeed, checkRecovered, checkpointAndCleanup, payloadFor, readAll, runWalWorkload, type WorkloadLog } from '../support/wal-workload.js';
import { exactCopy, expectCode, withTimeout } from '../support/wal-test-helpers.js';

const DIR = '/db/wal';
const SEED = baseSeed();
const RUN_TIMEOUT_MS = 10_000;

interface FaultRun {
  fired: Op | null;
  openError: unknown;
  appendErrors: unknown[];
  cleanupErrors: unknown[];
  closeError: unknown;
  /** wal.failed once the workload settled. */
  failed: VecwalError | null;
  log: WorkloadLog;
  mem: CrashableMemFileSystem;
  fs: FaultInjectingFileSystem;
  /** Power cuts that keep only synced data: right after the workload, and after close. */
  cutAfterWorkload: CrashableMemFileSystem;
  cutAfterClose: CrashableMemFileSystem;
}

/**
 * The workload of test/support/wal-workload.ts (3 writers x 6 batches, a checkpoint and cleanup
 * now and then), but keeping the Wal in hand after a fault for the stickiness checks.
 */
async function runWithFault(start: CrashableMemFileSystem, injector: Injector, seed: number): Promise<FaultRun> {
  const mem = start;
  let fired: Op | null = null;
  const fs = new FaultInjectingFileSystem(mem, {
    injector: (op) => {
      const f = injector(op);
      if (f && !fired) fired = op;
      return f;
    },
  });
  const rng = new Rng(seed);
  const log: WorkloadLog = { tried: new Map(), acked: new Set(), checkpoint: 0, errors: [] };
  const run: Omit<FaultRun, 'cutAfterWorkload' | 'cutAfterClose'> & Partial<FaultRun> = {
    fired: null, openError: undefined, appendErrors: [], cleanupErrors: [], closeError: undefined, failed: null, log, mem, fs,
  };
  let wal: Wal | null = null;
  try {
    wal = await Wal.open(DIR, { ...WORKLOAD_WAL_OPTIONS, fs, salt: () => rng.nextU32(), now: () => 1_700_000_000_000 });
  } catch (e) {
    run.openError = e;
  }
  if (wal) {
    const w0 = wal;
    const writer = async (w: number): Promise<void> => {
      for (let s = 0; s < 6; s++) {
        const payloads = Array.from({ length: 1 + rng.int(3) }, (_, i) => payloadFor(rng, w, s * 4 + i));
        const firstLsn = w0.nextLsn;
        const p = w0.append(payloads.map((payload) => ({ op: OpType.Insert, payload })));
        log.tried.set(firstLsn, { firstLsn, payloads });
        try {
          await p;
          log.acked.add(firstLsn);
        } catch (e) {
          run.appendErrors.push(e);
          return;
        }
        // acked holds w0's own three batches by now, so a checkpoint is always marked.
        if (w === 0 && s % 3 === 2) await checkpointAndCleanup(w0, log, run.cleanupErrors);
      }
    };
    await Promise.all([0, 1, 2].map(writer));
  }
  run.cutAfterWorkload = mem.crashClone({ seed, unsyncedKeepProbability: 0 });
  run.failed = wal?.failed ?? null;
  if (wal) {
    if (wal.failed) {
      // Sticky: heal the filesystem; the log must still refuse writes with the same error.
      fs.setInjector(undefined);
      const e = await expectCode(wal.append({ op: OpType.Insert, payload: Uint8Array.of(1) }), 'WAL_FAILED', 'append after healing');
      assert.equal(e, wal.failed, 'the same failure, every time');
      assert.equal(await expectCode(wal.sync(), 'WAL_FAILED', 'sync after healing'), wal.failed);
      await expectCode(() => wal.cleanup(), 'WAL_FAILED', 'cleanup after healing');
    }
    try {
      await wal.close(); // with the injector still armed if nothing failed yet: faults in close count too
    } catch (e) {
      run.closeError = e;
    }
  }
  run.cutAfterClose = mem.crashClone({ seed: seed + 1, unsyncedKeepProbability: 0 });
  fs.setInjector(undefined);
  run.fired = fired;
  return run as FaultRun;
}

/** The system error an injected fault produced, through VecwalError causes. */
function rootCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    if (!(cur instanceof VecwalError)) return (cur as { code?: string }).code;
    cur = cur.details.cause;
  }
  return undefined;
}

function merge(a: WorkloadLog, b: WorkloadLog): WorkloadLog {
  return { tried: new Map([...a.tried, ...b.tried]), acked: new Set([...a.acked, ...b.acked]), checkpoint: Math.max(a.checkpoint, b.checkpoint), errors: [] };
}

interface Tally {
  runs: number;
  openFailed: number;
  poisoned: number;
  absorbed: string[];
  cleanupOnly: number;
  closeFailed: number;
}

/** Every check on one faulted run. */
async function verifyRun(run: FaultRun, code: string, prior: WorkloadLog | null, what: string, tally: Tally): Promise<void> {
  tally.runs++;
  const log = prior ? merge(prior, run.log) : run.log;
  if (run.openError !== undefined) {
    assert.ok(run.fired, `${what}: open failed without a fault: ${String(run.openError)}`);
    assert.ok(isVecwalError(run.openError, 'IO_ERROR'), `${what}: open failed with ${String(run.openError)}, not IO_ERROR`);
    assert.equal(rootCode(run.openError), code, `${what}: the cause is the injected error`);
    tally.openFailed++;
  }
  if (run.failed) {
    assert.ok(run.fired, `${what}: WAL failed without a fault`);
    assert.equal(run.failed.code, 'WAL_FAILED');
    const cause = run.failed.details.cause;
    assert.ok(isVecwalError(cause, 'IO_ERROR'), `${what}: WAL_FAILED's cause is an IO_ERROR`);
    assert.equal(rootCode(run.failed), code, `${what}: the root cause is the injected ${code}`);
    assert.ok(run.appendErrors.length > 0, `${what}: the failure reached an append`);
    assert.equal(run.closeError, undefined, `${what}: close of a failed log works`);
    tally.poisoned++;
  }
  for (const e of run.appendErrors) {
    assert.ok(isVecwalError(e, 'WAL_FAILED'), `${what}: append rejected with ${String(e)}`);
    assert.equal(e, run.failed, `${what}: every rejected append carries the same failure`);
  }
  for (const e of run.cleanupErrors) {
    assert.ok(isVecwalError(e, 'IO_ERROR') || isVecwalError(e, 'WAL_FAILED'), `${what}: cleanup failed with ${String(e)}`);
    // Only the injected error: e.g. never ENOENT from a later cleanup unlinking a segment again.
    if (isVecwalError(e, 'IO_ERROR')) assert.equal(rootCode(e), code, `${what}: cleanup error ${e.message}`);
  }
  if (run.cleanupErrors.length > 0 && !run.failed) tally.cleanupOnly++;
  if (run.closeError !== undefined) {
    assert.ok(isVecwalError(run.closeError, 'IO_ERROR'), `${what}: close failed with ${String(run.closeError)}`);
    assert.equal(rootCode(run.closeError), code);
    tally.closeFailed++;
  }
  if (run.fired && run.openError === undefined && !run.failed && run.cleanupErrors.length === 0 && run.closeError === undefined) {
    tally.absorbed.push(`${run.fired.kind}#${run.fired.index}`);
  }
  // Every acknowledged batch survives: reopen on the healed filesystem (twice: recovery is
  // idempotent), and after power cuts right after the workload and after close.
  const healed = await readAll(run.fs, DIR);
  checkRecovered(healed, log, `${what}, reopened on the healed filesystem`);
  const again = await readAll(run.fs, DIR);
  assert.deepEqual(again.batches.map((b) => b.firstLsn), healed.batches.map((b) => b.firstLsn), `${what}: second reopen`);
  checkRecovered(await readAll(run.cutAfterWorkload, DIR), log, `${what}, power cut after the workload`);
  checkRecovered(await readAll(run.cutAfterClose, DIR), log, `${what}, power cut after close`);
}

/** Run with the fault at k = 0, 1, 2, ... until a run never reaches it. */
async function enumerate(
  label: string, code: string, make: (k: number) => Injector, start: () => CrashableMemFileSystem, prior: WorkloadLog | null,
  diag: (msg: string) => void,
): Promise<Tally> {
  const tally: Tally = { runs: 0, openFailed: 0, poisoned: 0, absorbed: [], cleanupOnly: 0, closeFailed: 0 };
  for (let k = 0; k < 10_000; k++) {
    const what = `${label}: ${code} at op ${k} (seed ${SEED})`;
    const run = await withTimeout(runWithFault(start(), make(k), SEED), RUN_TIMEOUT_MS, what);
    if (!run.fired) {
      diag(`${label}: ${k} fault points; ${tally.poisoned} poisoned the log, ${tally.openFailed} failed the open ` +
        `(IO_ERROR), ${tally.cleanupOnly} failed only a cleanup, ` +
        `${tally.closeFailed} failed close, ${tally.absorbed.length} absorbed (${[...new Set(tally.absorbed.map((s) => s.split('#')[0]))].join(', ') || 'none'})`);
      // The run without a fault acknowledged everything.
      assert.equal(run.log.acked.size, run.log.tried.size, `${label}: the fault-free run acknowledged every batch`);
      await verifyRun(run, code, prior, `${label}: fault-free run`, tally);
      return tally;
    }
    await verifyRun(run, code, prior, what, tally);
  }
  assert.fail(`${label}: the workload never ended`);
}

/** A directory that already holds a closed log written by the same workload. */
async function existingLog(): Promise<{ mem: CrashableMemFileSystem; log: WorkloadLog }> {
  const mem = new CrashableMemFileSystem();
  const log = await runWalWorkload(mem, DIR, SEED ^ 0xabcdef);
  assert.deepEqual(log.errors, []);
  return { mem, log };
}

describe('WAL under injected I/O faults', () => {
  it('EIO at every operation, fresh directory: settles, fails sticky, keeps every acknowledged batch', async (t) => {
    t.diagnostic(`workload seed ${SEED} (set VECWAL_SEED to replay)`);
    const tally = await enumerate('fresh dir', 'EIO', (k) => failAt(k, 'EIO'), () => new CrashableMemFileSystem(), null, (m) => t.diagnostic(m));
    assert.ok(tally.poisoned > 0);
  });

  it('EIO at every operation, existing log (faults during recovery too)', async (t) => {
    t.diagnostic(`workload seed ${SEED} (set VECWAL_SEED to replay)`);
    const base = await existingLog();
    const tally = await enumerate('existing log', 'EIO', (k) => failAt(k, 'EIO'), () => exactCopy(base.mem), base.log, (m) => t.diagnostic(m));
    assert.ok(tally.poisoned > 0 && tally.openFailed > 0);
  });

  it('ENOSPC at every mutating operation, existing log', async (t) => {
    t.diagnostic(`workload seed ${SEED} (set VECWAL_SEED to replay)`);
    const base = await existingLog();
    const tally = await enumerate('existing log', 'ENOSPC', (k) => failWritesAt(k, 'ENOSPC'), () => exactCopy(base.mem), base.log, (m) => t.diagnostic(m));
    assert.ok(tally.poisoned > 0);
  });

  it(
    'an I/O error while opening is always reported as IO_ERROR',
    async () => {
      const base = await existingLog();
      const bad: string[] = [];
      for (let k = 0; ; k++) {
        let fired: Op | null = null;
        const fs = new FaultInjectingFileSystem(exactCopy(base.mem), { injector: (op) => (op.index === k ? ((fired = op), { error: 'EIO' }) : undefined) });
        try {
          const wal = await Wal.open(DIR, { ...WORKLOAD_WAL_OPTIONS, fs });
          await wal.close();
        } catch (e) {
          const f = fired as Op | null;
          if (!isVecwalError(e, 'IO_ERROR')) bad.push(`op #${k} ${f?.kind} ${f?.path}: ${String(e)}`);
        }
        if (!fired) break;
      }
      assert.deepEqual(bad, [], 'every failed open is a VecwalError IO_ERROR');
    },
  );

  it(
    'a cleanup whose directory sync failed does not break later cleanups or reads',
    async () => {
      const mem = new CrashableMemFileSystem();
      const fs = new FaultInjectingFileSystem(mem);
      const wal = await Wal.open(DIR, { fs, segmentSizeBytes: 256, preallocateBytes: 0, retention: { minFiles: 1, maxFiles: 1, maxAgeMs: 0, maxTotalBytes: 1 } });
      try {
        for (let i = 1; i <= 4; i++) await wal.append({ op: OpType.Insert, payload: new Uint8Array(100).fill(i) }); // one batch per segment
        wal.checkpoint(4);
        let syncDirs = 0;
        fs.setInjector((op) => (op.kind === 'syncDir' && syncDirs++ === 0 ? { error: 'EIO' } : undefined));
        const e = await expectCode(() => wal.cleanup(), 'IO_ERROR', 'first cleanup (its syncDir fails)');
        assert.equal(rootCode(e), 'EIO');
        assert.equal(await mem.stat(`${DIR}/wal_000001.log`), null, 'the unlink itself happened');
        fs.setInjector(undefined);
        assert.equal(wal.firstLsn, 2, 'segment 1 is gone, so the log starts at LSN 2');
        const lsns: number[] = [];
        for await (const b of wal.read()) lsns.push(b.firstLsn);
        assert.deepEqual(lsns, [2, 3, 4]);
        await wal.cleanup(); // the filesystem works again: cleanup must work again
        assert.deepEqual(wal.listSegments().map((s) => s.segmentNo), [4]);
      } finally {
        await wal.close();
      }
    },
  );

  it('short writes everywhere: everything acknowledged, bytes intact', async (t) => {
    t.diagnostic(`workload seed ${SEED} (set VECWAL_SEED to replay)`);
    for (let i = 0; i < 6; i++) {
      const seed = (SEED + i * 7919) >>> 0;
      const run = await withTimeout(runWithFault(new CrashableMemFileSystem(), shortWrites(seed, 0.7), seed), RUN_TIMEOUT_MS, `short writes, seed ${seed}`);
      const what = `short writes (seed ${seed})`;
      assert.deepEqual([run.openError, run.appendErrors, run.cleanupErrors, run.closeError], [undefined, [], [], undefined], `${what}: no error`);
      assert.equal(run.log.acked.size, run.log.tried.size, `${what}: every batch acknowledged`);
      const short = run.fs.ops.filter((o) => o.kind === 'write').length;
      assert.ok(short > 0);
      for (const fs of [run.fs, run.cutAfterWorkload, run.cutAfterClose]) {
        const rec = await readAll(fs, DIR);
        checkRecovered(rec, run.log, what);
        const present = new Set(rec.batches.map((b) => b.firstLsn));
        for (const lsn of run.log.acked) {
          if (lsn + run.log.tried.get(lsn)!.payloads.length - 1 > run.log.checkpoint) assert.ok(present.has(lsn), `${what}: batch ${lsn}`);
        }
      }
    }
  });

  it('a failed fdatasync is sticky: that append and every later one reject with the same cause', async () => {
    const mem = new CrashableMemFileSystem();
    const fs = new FaultInjectingFileSystem(mem);
    const wal = await Wal.open(DIR, { fs, preallocateBytes: 4096 });
    const first = await wal.append({ op: OpType.Insert, payload: Uint8Array.of(1) });
    assert.equal(wal.durableLsn, first.lastLsn);
    let datasyncs = 0;
    fs.setInjector((op) => (op.kind === 'datasync' && datasyncs++ === 0 ? { error: 'EIO' } : undefined));
    // Three appends in one group; the group's fdatasync fails.
    const group = [2, 3, 4].map((v) => wal.append({ op: OpType.Insert, payload: Uint8Array.of(v) }));
    const errors = await Promise.all(group.map((p) => expectCode(p, 'WAL_FAILED', 'append in the failed group')));
    const failure = wal.failed;
    assert.ok(failure);
    for (const e of errors) assert.equal(e, failure);
    const cause = failure.details.cause as VecwalError;
    assert.equal(cause.code, 'IO_ERROR');
    assert.equal(cause.details.op, 'fdatasync');
    assert.equal((cause.details.cause as { code?: string }).code, 'EIO');
    assert.equal(wal.durableLsn, first.lastLsn, 'nothing became durable');
    // Later appends reject at once with the same error, without touching the filesystem, even
    // though fdatasync works again (a failed fsync is never retried).
    const opsBefore = fs.opsSeen;
    for (let i = 0; i < 3; i++) assert.equal(await expectCode(wal.append({ op: OpType.Insert, payload: Uint8Array.of(9) }), 'WAL_FAILED', 'later append'), failure);
    assert.equal(await expectCode(wal.sync(), 'WAL_FAILED', 'sync'), failure);
    assert.equal(fs.opsSeen, opsBefore, 'a failed log does no more I/O for appends');
    assert.equal(datasyncs, 1);
    assert.equal(wal.failed, failure);
    await wal.close();
    // A power cut now keeps exactly the acknowledged batch; a reopen (page cache intact) may keep
    // the failed group too. Either way the log is usable again after reopen.
    const cut = mem.crashClone({ seed: 5, unsyncedKeepProbability: 0 });
    const afterCut = await readAll(cut, DIR);
    assert.deepEqual(afterCut.batches.map((b) => b.firstLsn), [1]);
    const reopened = await Wal.open(DIR, { fs });
    const lsns: number[] = [];
    for await (const b of reopened.read()) lsns.push(b.firstLsn);
    assert.ok(lsns[0] === 1 && lsns.length <= 4, `after reopen: ${lsns.join(',')}`);
    const r = await reopened.append({ op: OpType.Insert, payload: Uint8Array.of(10) });
    assert.equal(r.firstLsn, lsns[lsns.length - 1]! + 1);
    await reopened.close();
  });
});
