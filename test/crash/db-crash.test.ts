/**
 * Crash enumeration for the database (issue: insert, upsert, delete, flush, cleanup): the
 * workload of test/support/db-workload.ts runs on the crashable in-memory FS, and the power is
 * cut at the k-th mutating filesystem operation, k = 0, 1, 2, ... until a run completes, under
 * several survival seeds. After each cut, reopening (recovery: manifest, orphan removal, WAL
 * replay) must give exactly the model after the acknowledged operations (or plus the one in
 * flight), and reopening again must give the same.
 *
 * Two shapes share the points: one writer, and two writers on their own key ranges whose
 * operations interleave (with each other and with background flushes and compactions).
 * VECWAL_DB_CRASH_POINTS sets the number of cases (default 2,400 in npm test, 30,000 in
 * `npm run test:crash`); VECWAL_SEED the seed. A flush race that lost a row (see
 * flush-race.test.ts) first showed at ~5,000 points of seed 5151: sweep wide after engine changes.
 */
import { test } from 'node:test';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { FaultInjectingFileSystem, crashAtWrite } from '../../src/fs/fault-fs.js';
import { baseSeed } from '../support/wal-workload.js';
import { checkDbRecovered, exactly, readModel, runDbWorkload } from '../support/db-workload.js';
import { sweepCrashPoints } from '../support/crash-sweep.js';

const DIR = '/db';
const TARGET = Number(process.env.VECWAL_DB_CRASH_POINTS ?? 2400);
const SURVIVAL = [0, 0.5, 1];

/** One writer (14 ops), and two writers on their own key ranges (10 ops each) racing each other and the background flushes. */
const SHAPES = [
  { writers: 1, ops: 14, share: 2 / 3 },
  { writers: 2, ops: 10, share: 1 / 3 },
];

for (const shape of SHAPES) {
  const target = Math.max(1, Math.round(TARGET * shape.share));
  test(`database survives a power cut at every filesystem operation: ${shape.writers} writer(s), ${target} crash points`, async (t) => {
    const base = baseSeed();
    t.diagnostic(`base seed ${base} (set VECWAL_SEED to replay)`);
    const { cases, workloads } = await sweepCrashPoints({
      target,
      base,
      seedStep: 104729,
      survival: SURVIVAL,
      seedMultiplier: 17,
      cut: async ({ workloadSeed, k, p, survivalSeed }) => {
        const mem = new CrashableMemFileSystem();
        let clone: CrashableMemFileSystem | null = null;
        const fs = new FaultInjectingFileSystem(mem, {
          injector: crashAtWrite(k),
          onCrash: () => { clone = mem.crashClone({ seed: survivalSeed, unsyncedKeepProbability: p }); mem.crash(); },
        });
        const log = await runDbWorkload(fs, DIR, workloadSeed, shape.ops, shape.writers);
        if (!clone) return false;
        const what = `${shape.writers} writer(s), workload seed ${workloadSeed}, crash at write op ${k}, survival p=${p} seed ${survivalSeed}`;
        const first = await readModel(clone, DIR);
        checkDbRecovered(first, log, what);
        checkDbRecovered(await readModel(clone, DIR), exactly(first), `${what} (second open)`);
        return true;
      },
    });
    t.diagnostic(`${cases} crash points over ${workloads} workloads`);
  });
}
