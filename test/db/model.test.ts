/**
 * Model-based test of the Database: random sequences of writes, reads, flushes, compactions,
 * clean reopens and power cuts, checked step by step against a plain Map (pk -> row) and naive
 * scans over it.
 *
 * Goal: under any sequence of commands, the database holds exactly the model: every
 * acknowledged insert/upsert with its newest value, no deleted or superseded row back, a
 * duplicate insert refused without a trace; get, query (range filter) and exact search agree
 * with naive computations over the model; and a power cut right after the last acknowledged
 * operation (crashClone with p = 0: only what was fsynced survives; syncPolicy 'always', so
 * every acknowledged write was) loses nothing, whatever background flush was in progress.
 *
 * Method: fast-check's fc.commands + fc.asyncModelRun over a Database on
 * CrashableMemFileSystem, with a tiny memtable (1.5 KiB) and WAL segments (4 KiB), so that
 * background flushes (fired by writes, not awaited), WAL rotations and cleanups happen in
 * almost every run and overlap the following commands. Vectors have small integer coordinates
 * and the metric is L2, so squared distances are exact: search results must give exactly the
 * model's k smallest distances, each hit at its own exact distance, any order among ties.
 *
 * Two tests: one where flushes only happen in the background (memtable full, WAL pressure),
 * and one that adds explicit Flush commands (this one found the delete-file name collision of
 * Database.writeFlush, fixed since: e.g. [Upsert, Flush, Insert, Flush, Upsert(two old keys),
 * Flush, Upsert(one of them), Flush, Reopen] returned a row twice).
 *
 * They also found a segment id race, fixed since: a write that started a new growing segment
 * while a background flush committed the manifest got an id that was handed out again later
 * (about 1 run in 2000-5000; e.g. VECWAL_SEED=760582907 VECWAL_DB_MODEL_RUNS=1500).
 *
 * Each test prints its fast-check seed; set VECWAL_SEED to replay (VECWAL_DB_MODEL_RUNS sets
 * numRuns of the first test, the second runs half as many).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Database, type DatabaseOptions } from '../../src/db/database.js';
import type { CollectionSchema } from '../../src/db/types.js';
import type { Row } from '../../src/db/reader.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { seedFromEnv } from '../../src/util/rng.js';
import { expectCode } from '../support/wal-test-helpers.js';

const DIR = '/db';
const COLL = 'items';
const DIM = 8;
const RUNS = Number(process.env.VECWAL_DB_MODEL_RUNS ?? 80);
const MAX_COMMANDS = 80;

const SCHEMA: CollectionSchema = {
  name: COLL,
  enableDynamicField: false,
  metricType: 'L2',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim: DIM },
    { name: 'n', dataType: 'Int32' },
    { name: 'tag', dataType: 'VarChar', maxLength: 32 },
  ],
};

const OPTIONS: Omit<DatabaseOptions, 'fs'> = {
  memtableBytesMax: 1536,
  flushIntervalMs: 0,
  wal: { syncPolicy: 'always', segmentSizeBytes: 4096, preallocateBytes: 1024, retention: { minFiles: 1, maxFiles: 6, maxAgeMs: 0, maxTotalBytes: 1 << 20 } },
};

interface Value {
  vector: number[];
  n: number;
  tag: string;
}

interface Model {
  rows: Map<bigint, Value>;
  /** Next fresh primary key: never used by any earlier write. */
  nextId: bigint;
}

interface Real {
  mem: CrashableMemFileSystem;
  db: Database;
  /** Per-run WAL clock and salt source, so that a run (and its shrinking) is deterministic. */
  clock: { t: number; salt: number };
}

type Cmd = fc.AsyncCommand<Model, Real>;

/**
 * Open on `mem` with a deterministic WAL clock (1 ms per reading: retention's age rule, with
 * maxAgeMs 0, then depends on the sequence of calls only, not on the wall clock) and salts.
 */
function open(mem: CrashableMemFileSystem, clock: Real['clock']): Promise<Database> {
  const now = () => (clock.t += 1);
  const salt = () => (clock.salt = (Math.imul(clock.salt, 1664525) + 1013904223) >>> 0);
  return Database.open(DIR, { ...OPTIONS, fs: mem, wal: { ...OPTIONS.wal, now, salt } });
}

// -------------------------------------------------------------------------------------------
// Comparison helpers

function valueOf(r: Row): Value {
  return { vector: Array.from(r.vector as Float32Array), n: r.n as number, tag: r.tag as string };
}

function sortIds(xs: bigint[]): bigint[] {
  return xs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function asMap(rows: Row[], what: string): Map<bigint, Value> {
  const m = new Map<bigint, Value>();
  for (const r of rows) {
    const id = r.id as bigint;
    assert.equal(typeof id, 'bigint', `${what}: Int64 pk returned as bigint`);
    assert.ok(!m.has(id), `${what}: row ${id} returned twice`);
    m.set(id, valueOf(r));
  }
  return m;
}

function sameRows(got: Map<bigint, Value>, want: Map<bigint, Value>, what: string): void {
  const missing = [...want.keys()].filter((id) => !got.has(id));
  const extra = [...got.keys()].filter((id) => !want.has(id));
  assert.ok(missing.length === 0 && extra.length === 0, `${what}: missing ids [${sortIds(missing).join(',')}], unexpected ids [${sortIds(extra).join(',')}]`);
  for (const [id, v] of want) assert.deepEqual(got.get(id), v, `${what}: row ${id}`);
}

async function checkAll(m: Model, r: Real, what: string): Promise<void> {
  const rows = await r.db.read.query(COLL, { outputFields: ['*'], limit: Number.MAX_SAFE_INTEGER });
  sameRows(asMap(rows, what), m.rows, what);
  assert.equal(r.db.collectionStats(COLL).rowCount, m.rows.size, `${what}: collectionStats.rowCount`);
}

function l2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

const inRange = (v: Value, lo: number, hi: number) => v.n >= lo && v.n < hi;

// -------------------------------------------------------------------------------------------
// Arbitraries

const coord = fc.integer({ min: -3, max: 3 });
const vectorArb = fc.array(coord, { minLength: DIM, maxLength: DIM });
const valueArb: fc.Arbitrary<Value> = fc
  .record({ vector: vectorArb, n: fc.integer({ min: 0, max: 49 }), tag: fc.string({ maxLength: 16 }) }, { noNullPrototype: true })
  .map((v) => ({ vector: [...v.vector], n: v.n, tag: v.tag }));
/** A key chooser resolved against the model at run time: an index into [1, nextId + 2). */
const pickArb = fc.nat({ max: 1_000_000 });

function pickId(m: Model, p: number): bigint {
  return 1n + BigInt(p % (Number(m.nextId) + 1));
}

// -------------------------------------------------------------------------------------------
// Commands

class Insert implements Cmd {
  constructor(readonly values: Value[]) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const rows = this.values.map((v) => ({ id: m.nextId++, ...v }));
    const res = await r.db.insert(COLL, rows);
    assert.equal(res.insertCount, rows.length);
    assert.deepEqual(res.ids, rows.map((x) => x.id));
    for (const { id, ...v } of rows) m.rows.set(id, v);
    assert.equal(r.db.collectionStats(COLL).rowCount, m.rows.size, 'rowCount after insert');
  }
  toString = () => `Insert(${this.values.length})`;
}

class InsertDuplicate implements Cmd {
  constructor(readonly pick: number, readonly fresh: Value, readonly dup: Value) {}
  check = (m: Readonly<Model>) => m.rows.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const existing = [...m.rows.keys()];
    const id = existing[this.pick % existing.length]!;
    const lsn = r.db.stats().lastLsn;
    await expectCode(r.db.insert(COLL, [{ id: m.nextId, ...this.fresh }, { id, ...this.dup }]), 'DATA_INVALID', `insert of existing key ${id}`);
    assert.equal(r.db.stats().lastLsn, lsn, 'a refused insert writes nothing to the WAL');
    assert.deepEqual(asMap(await r.db.read.get(COLL, [id, m.nextId], ['*']), 'get after refused insert'), new Map([[id, m.rows.get(id)!]]));
    assert.equal(r.db.collectionStats(COLL).rowCount, m.rows.size);
  }
  toString = () => `InsertDuplicate(${this.pick})`;
}

class Upsert implements Cmd {
  constructor(readonly items: { pick: number; value: Value }[]) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const byId = new Map<bigint, Value>();
    for (const { pick, value } of this.items) {
      const id = pickId(m, pick);
      if (id >= m.nextId) m.nextId = id + 1n; // now used: Insert must not reuse it
      byId.set(id, value); // one row per key in a batch
    }
    const rows = [...byId].map(([id, v]) => ({ id, ...v }));
    const res = await r.db.upsert(COLL, rows);
    assert.equal(res.insertCount, rows.length);
    for (const [id, v] of byId) m.rows.set(id, v);
    assert.equal(r.db.collectionStats(COLL).rowCount, m.rows.size, 'rowCount after upsert');
  }
  toString = () => `Upsert(${this.items.map((x) => x.pick).join(',')})`;
}

class DeleteIds implements Cmd {
  constructor(readonly picks: number[]) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const ids = this.picks.map((p) => pickId(m, p));
    const want = new Set(ids.filter((id) => m.rows.has(id)));
    const res = await r.db.delete(COLL, { ids });
    assert.equal(res.deleteCount, want.size, `deleteCount of ids ${ids.join(',')}`);
    for (const id of want) m.rows.delete(id);
    assert.equal(r.db.collectionStats(COLL).rowCount, m.rows.size, 'rowCount after delete');
  }
  toString = () => `DeleteIds(${this.picks.join(',')})`;
}

class DeleteFilter implements Cmd {
  constructor(readonly lo: number, readonly width: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const hi = this.lo + this.width;
    const want = [...m.rows].filter(([, v]) => inRange(v, this.lo, hi)).map(([id]) => id);
    const res = await r.db.delete(COLL, { filter: `n >= ${this.lo} and n < ${hi}` });
    assert.equal(res.deleteCount, want.length, 'deleteCount by filter');
    for (const id of want) m.rows.delete(id);
    assert.equal(r.db.collectionStats(COLL).rowCount, m.rows.size, 'rowCount after delete by filter');
  }
  toString = () => `DeleteFilter(${this.lo} <= n < ${this.lo + this.width})`;
}

class Flush implements Cmd {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.db.flush();
    assert.equal(r.db.stats().checkpointLsn, r.db.stats().lastLsn, 'flush checkpoints every acknowledged write');
    assert.equal(r.db.collectionStats(COLL).growingRows, 0);
    await checkAll(m, r, 'after flush');
  }
  toString = () => 'Flush';
}

class Compact implements Cmd {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.db.compact(COLL);
    await checkAll(m, r, 'after compact');
  }
  toString = () => 'Compact';
}

class Reopen implements Cmd {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.db.close();
    r.db = await open(r.mem, r.clock);
    await checkAll(m, r, 'after clean reopen');
  }
  toString = () => 'Reopen';
}

class Crash implements Cmd {
  constructor(readonly seed: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    // Power cut now: right after the last acknowledged operation, maybe in the middle of a
    // background flush. p = 0: only fsynced data and directory entries survive.
    const clone = r.mem.crashClone({ seed: this.seed, unsyncedKeepProbability: 0 });
    r.mem.crash(); // the old instance can no longer touch anything
    r.mem = clone;
    r.db = await open(clone, r.clock);
    await checkAll(m, r, 'after power cut');
    // and recovery is stable: a second open sees the same
    await r.db.close();
    r.db = await open(clone, r.clock);
    await checkAll(m, r, 'after power cut + clean reopen');
  }
  toString = () => `Crash(${this.seed})`;
}

class Get implements Cmd {
  constructor(readonly picks: number[]) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const ids = this.picks.map((p) => pickId(m, p));
    const want = new Map<bigint, Value>();
    for (const id of ids) if (m.rows.has(id)) want.set(id, m.rows.get(id)!);
    sameRows(asMap(await r.db.read.get(COLL, ids, ['vector', 'n', 'tag']), 'get'), want, `get ${ids.join(',')}`);
  }
  toString = () => `Get(${this.picks.join(',')})`;
}

class Query implements Cmd {
  constructor(readonly lo: number, readonly width: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const hi = this.lo + this.width;
    const want = new Map([...m.rows].filter(([, v]) => inRange(v, this.lo, hi)));
    const rows = await r.db.read.query(COLL, { filter: `${this.lo} <= n < ${hi}`, outputFields: ['*'], limit: Number.MAX_SAFE_INTEGER });
    sameRows(asMap(rows, 'query'), want, `query ${this.lo} <= n < ${hi}`);
  }
  toString = () => `Query(${this.lo} <= n < ${this.lo + this.width})`;
}

class Search implements Cmd {
  constructor(readonly query: number[], readonly topK: number, readonly range: [number, number] | null) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const filter = this.range ? `n >= ${this.range[0]} and n < ${this.range[0] + this.range[1]}` : '';
    const live = [...m.rows].filter(([, v]) => !this.range || inRange(v, this.range[0], this.range[0] + this.range[1]));
    const dist = new Map(live.map(([id, v]) => [id, l2(v.vector, this.query)]));
    const want = [...dist.values()].sort((a, b) => a - b).slice(0, this.topK);
    const [hits] = await r.db.read.search(COLL, { data: this.query, limit: this.topK, outputFields: ['n'], filter });
    const what = `search ${JSON.stringify(this.query)} k=${this.topK} filter '${filter}'`;
    assert.ok(hits, `${what}: one result list per query`);
    assert.deepEqual(hits.map((h) => h.distance), want, `${what}: distances (best first)`);
    const seen = new Set<bigint>();
    for (const h of hits) {
      const id = h.id as bigint;
      assert.ok(!seen.has(id), `${what}: ${id} returned twice`);
      seen.add(id);
      assert.ok(dist.has(id), `${what}: ${id} is not a live matching row`);
      assert.equal(h.distance, dist.get(id), `${what}: distance of ${id}`);
      assert.equal(h.n, m.rows.get(id)!.n, `${what}: output field n of ${id}`);
    }
    // every row strictly closer than the k-th distance is in the result
    const kth = want[want.length - 1];
    if (kth !== undefined) for (const [id, d] of dist) if (d < kth) assert.ok(seen.has(id), `${what}: ${id} at ${d} < ${kth} missing`);
  }
  toString = () => `Search(${JSON.stringify(this.query)}, k=${this.topK}${this.range ? `, ${this.range[0]}<=n<${this.range[0] + this.range[1]}` : ''})`;
}

const insertArb = fc.array(valueArb, { minLength: 1, maxLength: 10 }).map((vs) => new Insert(vs));
const upsertArb = fc.array(fc.record({ pick: pickArb, value: valueArb }, { noNullPrototype: true }), { minLength: 1, maxLength: 5 }).map((xs) => new Upsert(xs));

function commandArbs(explicitFlush: boolean): fc.Arbitrary<Cmd>[] {
  return [
    insertArb,
    insertArb, // writes twice as often as the rest, so that the memtable fills and flushes in the background
    fc.tuple(pickArb, valueArb, valueArb).map(([p, a, b]) => new InsertDuplicate(p, a, b)),
    upsertArb,
    upsertArb,
    fc.array(pickArb, { minLength: 1, maxLength: 5 }).map((ps) => new DeleteIds(ps)),
    fc.tuple(fc.integer({ min: 0, max: 49 }), fc.integer({ min: 1, max: 8 })).map(([lo, w]) => new DeleteFilter(lo, w)),
    ...(explicitFlush ? [fc.constant(null).map(() => new Flush())] : []),
    fc.constant(null).map(() => new Compact()),
    fc.constant(null).map(() => new Reopen()),
    fc.nat().map((s) => new Crash(s)),
    fc.array(pickArb, { minLength: 1, maxLength: 6 }).map((ps) => new Get(ps)),
    fc.tuple(fc.integer({ min: 0, max: 49 }), fc.integer({ min: 1, max: 25 })).map(([lo, w]) => new Query(lo, w)),
    fc
      .tuple(vectorArb, fc.integer({ min: 1, max: 12 }), fc.option(fc.tuple(fc.integer({ min: 0, max: 49 }), fc.integer({ min: 1, max: 30 })), { nil: null }))
      .map(([q, k, range]) => new Search(q, k, range)),
  ];
}

async function runModel(t: { diagnostic: (msg: string) => void }, explicitFlush: boolean, runs: number): Promise<void> {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  let commands = 0;
  let flushed = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands(commandArbs(explicitFlush), { maxCommands: MAX_COMMANDS, size: 'large' }), async (cmds) => {
      const mem = new CrashableMemFileSystem();
      const clock = { t: 1_700_000_000_000, salt: 1 };
      const db = await open(mem, clock);
      await db.createCollection(SCHEMA);
      const real: Real = { mem, db, clock };
      try {
        await fc.asyncModelRun(() => ({ model: { rows: new Map(), nextId: 1n }, real }), cmds);
        commands += [...cmds].length;
        if (real.db.stats().checkpointLsn > 0) flushed++;
      } finally {
        await real.db.close().catch(() => undefined);
      }
    }),
    { seed, numRuns: runs, includeErrorInReport: true },
  );
  t.diagnostic(`${runs} runs, ${commands} commands, ${flushed} runs flushed at least once`);
}

test(`database model test, background flushes only (${RUNS} runs)`, async (t) => {
  await runModel(t, false, RUNS);
});

test(`database model test with explicit Flush commands (${Math.ceil(RUNS / 2)} runs)`, async (t) => {
  await runModel(t, true, Math.ceil(RUNS / 2));
});
