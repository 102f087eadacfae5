/**
 * Crash enumeration for the server's own metadata (src/server/service.ts): databases created
 * and dropped as directories, collections created with their index/load metadata, indexes,
 * load, aliases, renames and drops that carry alias edits, database properties, and a few
 * writes. The workload runs on the crashable in-memory FS with the power cut at the k-th
 * mutating filesystem operation, k = 0, 1, 2, ... until a run completes, under three survival
 * probabilities. After each cut the service must open and show exactly the state after the
 * acknowledged operations, or after the one in flight too: never a half-made database, a
 * collection without its index and load state, or an alias edit without its rename or drop.
 * Opening a second time must show the same.
 *
 * The expected states come from the same workload run without a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { FaultInjectingFileSystem, crashAtWrite } from '../../src/fs/fault-fs.js';
import type { FileSystem } from '../../src/fs/fs.js';
import { MilvusService } from '../../src/server/service.js';

const DIR = '/srv';
const SURVIVAL = [0, 0.5, 1];

type Snapshot = string;

async function open(fs: FileSystem): Promise<MilvusService> {
  return MilvusService.open({ dataDir: DIR, fs, engine: { flushIntervalMs: 0, compactionMinSegments: 0 } });
}

/** Everything a client can see of the metadata (and row counts), as one comparable string. */
function snapshot(svc: MilvusService): Snapshot {
  const out: Record<string, unknown> = {};
  for (const db of svc.listDatabases()) {
    const d = svc.describeDatabase(db);
    out[db] = {
      properties: d.properties,
      aliases: Object.fromEntries(svc.listAliases(db).map((a) => [a, svc.describeAlias(db, a).collectionName])),
      collections: svc.listCollections(db).map((c) => {
        const x = svc.describeCollection(db, c);
        return { name: c, metric: x.schema.metricType, loaded: x.loaded, consistency: x.consistencyLevel, indexes: x.indexes.map((i) => `${i.indexName}:${i.fieldName}:${i.indexType}:${i.metricType ?? ''}`), rows: svc.collectionStats(db, c).rowCount };
      }),
    };
  }
  return JSON.stringify(out);
}

const STEPS: Array<(s: MilvusService) => Promise<unknown>> = [
  (s) => s.createDatabase('db1', { owner: 'a' }),
  (s) => s.createCollection('db1', { collectionName: 'c1', dimension: 2, consistencyLevel: 'Strong' }),
  (s) => s.insert('db1', 'c1', [{ id: 1, vector: [1, 0] }, { id: 2, vector: [0, 1] }]),
  (s) => s.createCollection(undefined, { collectionName: 'c2', fields: [{ name: 'pk', dataType: 'Int64', isPrimaryKey: true }, { name: 'v', dataType: 'FloatVector', dim: 2 }] }),
  (s) => s.createIndex(undefined, 'c2', { fieldName: 'v', indexName: 'vi', indexType: 'HNSW', metricType: 'IP' }),
  (s) => s.loadCollection(undefined, 'c2'),
  (s) => s.insert(undefined, 'c2', [{ pk: 7, v: [2, 2] }]),
  (s) => s.createAlias(undefined, 'c2', 'a2'),
  (s) => s.renameCollection(undefined, 'c2', 'c3'),
  (s) => s.flush(undefined, []),
  (s) => s.createDatabase('db2'),
  (s) => s.alterDatabaseProperties('default', { tier: 'gold' }),
  (s) => s.dropDatabase('db2'),
  (s) => s.dropCollection('db1', 'c1'),
  (s) => s.dropDatabase('db1'),
  (s) => s.dropCollection(undefined, 'c3'),
];

/** Run the workload; returns how many steps were acknowledged and the snapshots after each. */
async function run(fs: FileSystem): Promise<{ acked: number; snaps: Snapshot[] }> {
  const snaps: Snapshot[] = [];
  let svc: MilvusService;
  try {
    svc = await open(fs);
  } catch {
    return { acked: -1, snaps };
  }
  snaps.push(snapshot(svc));
  let acked = 0;
  for (const step of STEPS) {
    try {
      await step(svc);
    } catch {
      break;
    }
    acked++;
    snaps.push(snapshot(svc));
  }
  await svc.close().catch(() => undefined);
  return { acked, snaps };
}

test('server metadata survives a power cut at every filesystem operation of a DDL workload', async (t) => {
  const reference = await run(new CrashableMemFileSystem());
  assert.equal(reference.acked, STEPS.length, 'the workload completes without a crash');
  let cases = 0;
  for (let k = 0; ; k++) {
    let completed = false;
    for (let si = 0; si < SURVIVAL.length; si++) {
      const mem = new CrashableMemFileSystem();
      let clone: CrashableMemFileSystem | null = null;
      const fs = new FaultInjectingFileSystem(mem, {
        injector: crashAtWrite(k),
        onCrash: () => {
          clone = mem.crashClone({ seed: k * 31 + si, unsyncedKeepProbability: SURVIVAL[si]! });
          mem.crash();
        },
      });
      const { acked } = await run(fs);
      cases++;
      if (!clone) {
        completed = true;
        break;
      }
      const what = `crash at write op ${k}, survival p=${SURVIVAL[si]}, ${Math.max(acked, 0)} steps acknowledged`;
      const allowed = new Set([reference.snaps[Math.max(acked, 0)], reference.snaps[Math.max(acked, 0) + 1]]);
      const svc = await open(clone);
      const got = snapshot(svc);
      await svc.close();
      assert.ok(allowed.has(got), `${what}: recovered state is neither the acknowledged one nor the one with the step in flight:\n  got      ${got}\n  expected ${[...allowed].join('\n        or ')}`);
      const again = await open(clone);
      assert.equal(snapshot(again), got, `${what}: a second open shows the same`);
      await again.close();
    }
    if (completed) break;
  }
  t.diagnostic(`${cases} crash points`);
});
