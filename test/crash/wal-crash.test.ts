/**
 * Crash enumeration (after Pebble's TestDBWALRotationCrash): run the WAL workload on the
 * crashable in-memory FS and cut the power at the k-th mutating filesystem operation, for
 * k = 0, 1, 2, ... until a run completes without reaching k. Each cut is cloned under several
 * survival seeds (random partial survival of unsynced blocks and directory entries, zero holes,
 * torn sectors). On every clone: recover, check the oracle (test/support/wal-workload.ts), and
 * check that recovery is idempotent, including a second power cut in the middle of recovery.
 *
 * Scale: VECWAL_CRASH_POINTS (default 2,400 in `npm test`; `npm run test:crash` sets 100,000)
 * is the number of (workload, k, survival seed) cases. VECWAL_SEED pins the base seed; every
 * failure message names the workload seed, k and the survival seed to replay it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { FaultInjectingFileSystem, crashAtWrite } from '../../src/fs/fault-fs.js';
import { baseSeed, checkRecovered, readAll, runWalWorkload, type Recovered } from '../support/wal-workload.js';
import { sweepCrashPoints } from '../support/crash-sweep.js';

const DIR = '/db/wal';
const TARGET = Number(process.env.VECWAL_CRASH_POINTS ?? 2400);
const SURVIVAL = [0, 0.5, 1]; // probability that each unsynced block / entry survives

interface CrashCase {
  clone: CrashableMemFileSystem | null;
  log: Awaited<ReturnType<typeof runWalWorkload>>;
}

async function crashAt(workloadSeed: number, k: number, survivalSeed: number, p: number): Promise<CrashCase> {
  const mem = new CrashableMemFileSystem();
  let clone: CrashableMemFileSystem | null = null;
  const fs = new FaultInjectingFileSystem(mem, {
    injector: crashAtWrite(k),
    onCrash: () => {
      clone = mem.crashClone({ seed: survivalSeed, unsyncedKeepProbability: p });
      mem.crash();
    },
  });
  const log = await runWalWorkload(fs, DIR, workloadSeed);
  return { clone, log };
}

function sameLog(a: Recovered, b: Recovered, what: string): void {
  assert.equal(a.lastLsn, b.lastLsn, `${what}: recovery not idempotent (last LSN)`);
  assert.deepEqual(a.batches.map((x) => x.firstLsn), b.batches.map((x) => x.firstLsn), `${what}: recovery not idempotent`);
}

/** Recover the clone once normally, and once with a second power cut during recovery. */
async function verifyClone(clone: CrashableMemFileSystem, log: CrashCase['log'], what: string, seed: number): Promise<void> {
  const second = clone.crashClone({ seed: seed ^ 0x9e37, unsyncedKeepProbability: 0.5 });
  const first = await readAll(clone, DIR);
  checkRecovered(first, log, what);
  const again = await readAll(clone, DIR);
  sameLog(first, again, what);
  // A power cut at the j-th mutating op of recovery itself, then recovery again.
  const mem = second;
  let cut: CrashableMemFileSystem | null = null;
  const j = seed % 5;
  const fs = new FaultInjectingFileSystem(mem, { injector: crashAtWrite(j), onCrash: () => { cut = mem.crashClone({ seed, unsyncedKeepProbability: 0.5 }); mem.crash(); } });
  await readAll(fs, DIR).catch(() => undefined);
  const after = await readAll(cut ?? mem, DIR);
  checkRecovered(after, log, `${what} (crash during recovery at op ${j})`);
}

test(`WAL survives a power cut at every filesystem operation (${TARGET} crash points)`, async (t) => {
  const base = baseSeed();
  t.diagnostic(`base seed ${base} (set VECWAL_SEED to replay)`);
  const { cases, workloads } = await sweepCrashPoints({
    target: TARGET,
    base,
    seedStep: 7919,
    survival: SURVIVAL,
    seedMultiplier: 31,
    cut: async ({ workloadSeed, k, p, survivalSeed }) => {
      const c = await crashAt(workloadSeed, k, survivalSeed, p);
      if (!c.clone) return false;
      await verifyClone(c.clone, c.log, `workload seed ${workloadSeed}, crash at write op ${k}, survival p=${p} seed ${survivalSeed}`, survivalSeed);
      return true;
    },
  });
  t.diagnostic(`${cases} crash points over ${workloads} workloads`);
  assert.ok(cases >= TARGET);
});
