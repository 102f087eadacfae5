/**
 * Model-based test of the Wal: random sequences of operations, including power cuts, checked
 * step by step against a plain array of batches.
 *
 * Goal: under any interleaving of appends (single and concurrent), syncs, checkpoints,
 * cleanups, clean reopens, reads from any LSN and power cuts, the log holds exactly what the
 * model says: after a clean reopen, all of it; after a power cut under syncPolicy 'always', all
 * of it; under 'none', a prefix of it that contains at least everything the Wal had reported
 * durable (durableLsn: after sync(), a rotation's seal, or close); cleanup removes only a
 * prefix at or below the checkpoint, on batch boundaries.
 *
 * Method: fast-check's fc.commands + fc.asyncModelRun over the Wal on CrashableMemFileSystem.
 * Each run draws a sync policy ('always' | 'none'), small segments (512-2048 bytes, so rotations
 * are frequent), a preallocation step, a group-commit bound and a retention policy. A power cut
 * is crashClone with a random survival probability p, block size and torn-tail setting; the
 * old filesystem is killed and the Wal reopened on the clone. The model is an array of batches
 * (first LSN, payloads) plus firstLsn, nextLsn, the durable LSN and the checkpoint. The
 * fast-check seed is printed; set VECWAL_SEED to replay (VECWAL_MODEL_RUNS sets numRuns).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { Wal, type AppendInput, type WalOptions } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { seedFromEnv } from '../../src/util/rng.js';
import { expectCode } from '../support/wal-test-helpers.js';

const DIR = '/db/wal';
const RUNS = Number(process.env.VECWAL_MODEL_RUNS ?? 150);

type Policy = 'always' | 'none';

interface MBatch {
  firstLsn: number;
  lastLsn: number;
  records: AppendInput[];
}

interface Model {
  policy: Policy;
  batches: MBatch[];
  firstLsn: number;
  nextLsn: number;
  /** Everything at or below this must survive any power cut. */
  durableLsn: number;
  checkpoint: number;
}

interface Real {
  mem: CrashableMemFileSystem;
  wal: Wal;
  opts: WalOptions;
}

async function readLog(wal: Wal, from?: number): Promise<MBatch[]> {
  const out: MBatch[] = [];
  for await (const b of from === undefined ? wal.read() : wal.read(from)) {
    out.push({ firstLsn: b.firstLsn, lastLsn: b.lastLsn, records: b.records.map((r) => ({ op: r.op, payload: r.payload.slice() })) });
  }
  return out;
}

function sameBatches(got: MBatch[], want: MBatch[], what: string): void {
  assert.deepEqual(got.map((b) => [b.firstLsn, b.lastLsn]), want.map((b) => [b.firstLsn, b.lastLsn]), `${what}: batch LSNs`);
  got.forEach((b, i) => {
    const w = want[i]!;
    b.records.forEach((r, j) => {
      assert.equal(r.op, w.records[j]!.op, `${what}: op at LSN ${b.firstLsn + j}`);
      assert.deepEqual(Buffer.from(r.payload as Uint8Array), Buffer.from(w.records[j]!.payload as Uint8Array), `${what}: payload at LSN ${b.firstLsn + j}`);
    });
  });
}

/** After every command: the Wal's counters agree with the model; note what it claims durable. */
function syncCounters(m: Model, r: Real, what: string): void {
  assert.equal(r.wal.nextLsn, m.nextLsn, `${what}: nextLsn`);
  assert.equal(r.wal.lastLsn, m.nextLsn - 1, `${what}: lastLsn`);
  assert.equal(r.wal.firstLsn, m.firstLsn, `${what}: firstLsn`);
  if (m.policy === 'always') assert.equal(r.wal.durableLsn, m.nextLsn - 1, `${what}: durable when acknowledged`);
  assert.ok(r.wal.durableLsn >= m.durableLsn, `${what}: durableLsn went back`);
  m.durableLsn = r.wal.durableLsn;
}

type Cmd = fc.AsyncCommand<Model, Real>;

/** Commands executed, by name (for the diagnostic). */
const executed = new Map<string, number>();
function count(name: string): void {
  executed.set(name, (executed.get(name) ?? 0) + 1);
}

class Append implements Cmd {
  constructor(readonly batches: AppendInput[][]) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    count('Append');
    const results = await Promise.all(this.batches.map((b) => r.wal.append(b)));
    results.forEach((res, i) => {
      const n = this.batches[i]!.length;
      assert.deepEqual(res, { firstLsn: m.nextLsn, lastLsn: m.nextLsn + n - 1 }, 'append: LSNs dense, in call order');
      m.batches.push({ firstLsn: m.nextLsn, lastLsn: m.nextLsn + n - 1, records: this.batches[i]! });
      m.nextLsn += n;
    });
    syncCounters(m, r, this.toString());
  }
  toString(): string {
    return `Append(${this.batches.map((b) => `[${b.map((x) => x.payload.length).join(',')}]`).join(' ')})`;
  }
}

class Sync implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    count('Sync');
    await r.wal.sync();
    assert.equal(r.wal.durableLsn, m.nextLsn - 1, 'sync: everything durable');
    syncCounters(m, r, 'Sync');
  }
  toString(): string {
    return 'Sync';
  }
}

class Checkpoint implements Cmd {
  constructor(readonly frac: number) {}
  check(m: Readonly<Model>): boolean {
    return m.nextLsn > 1;
  }
  async run(m: Model, r: Real): Promise<void> {
    count('Checkpoint');
    const lsn = Math.min(m.nextLsn - 1, Math.floor(this.frac * m.nextLsn));
    r.wal.checkpoint(lsn);
    m.checkpoint = Math.max(m.checkpoint, lsn);
    assert.equal(r.wal.checkpointLsn, m.checkpoint);
  }
  toString(): string {
    return `Checkpoint(${this.frac.toFixed(2)})`;
  }
}

class Cleanup implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    count('Cleanup');
    const before = r.wal.firstLsn;
    const res = await r.wal.cleanup();
    const after = r.wal.firstLsn;
    assert.ok(after >= before, 'cleanup: firstLsn never moves back');
    if (after > before) assert.ok(after - 1 <= m.checkpoint, `cleanup deleted LSN ${after - 1} above the checkpoint ${m.checkpoint}`);
    assert.ok(after === m.nextLsn || m.batches.some((b) => b.firstLsn === after), `cleanup: log now starts at ${after}, not a batch boundary`);
    for (const path of res.deleted) assert.equal(await r.mem.stat(path), null, `cleanup: ${path} still exists`);
    // (Deleting only empty segments, e.g. one left by a torn-tail repair, leaves firstLsn as is.)
    if (after > before) assert.ok(res.deleted.length > 0, 'cleanup: firstLsn moved without a deletion');
    m.batches = m.batches.filter((b) => b.firstLsn >= after);
    m.firstLsn = after;
    syncCounters(m, r, 'Cleanup');
  }
  toString(): string {
    return 'Cleanup';
  }
}

class Read implements Cmd {
  constructor(readonly frac: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    count('Read');
    if (m.firstLsn > 1 && this.frac < 0.1) {
      await expectCode(readLog(r.wal, m.firstLsn - 1), 'LSN_OUT_OF_RANGE', 'read below firstLsn');
      return;
    }
    const from = m.firstLsn + Math.floor(this.frac * (m.nextLsn - m.firstLsn + 1));
    sameBatches(await readLog(r.wal, from), m.batches.filter((b) => b.lastLsn >= from), `Read(${from})`);
  }
  toString(): string {
    return `Read(${this.frac.toFixed(2)})`;
  }
}

class Reopen implements Cmd {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    count('Reopen');
    await r.wal.close();
    r.wal = await Wal.open(DIR, { ...r.opts, fs: r.mem });
    assert.equal(r.wal.recovery.outcome, 'clean', 'a cleanly closed log reopens clean');
    sameBatches(await readLog(r.wal), m.batches, 'Reopen');
    m.checkpoint = 0;
    syncCounters(m, r, 'Reopen');
    assert.equal(m.durableLsn, m.nextLsn - 1, 'close made everything durable');
  }
  toString(): string {
    return 'Reopen';
  }
}

class Crash implements Cmd {
  constructor(readonly p: number, readonly seed: number, readonly blockSize: number, readonly tornTail: boolean) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    count('Crash');
    const clone = r.mem.crashClone({ seed: this.seed, unsyncedKeepProbability: this.p, blockSize: this.blockSize, tornTail: this.tornTail });
    r.mem.crash(); // the old Wal can no longer touch anything
    r.mem = clone;
    r.wal = await Wal.open(DIR, { ...r.opts, fs: clone });
    const rep = r.wal.recovery;
    assert.notEqual(rep.outcome, 'salvaged', `${this}: a power cut needs no salvage: ${JSON.stringify(rep.events)}`);
    const got = await readLog(r.wal);
    assert.equal(r.wal.firstLsn, m.firstLsn, `${this}: firstLsn after the power cut`);
    if (m.policy === 'always') {
      sameBatches(got, m.batches, `${this} under 'always'`);
    } else {
      sameBatches(got, m.batches.slice(0, got.length), `${this} under 'none': a prefix`);
      const kept = got.length ? got[got.length - 1]!.lastLsn : m.firstLsn - 1;
      assert.ok(kept >= m.durableLsn, `${this} under 'none': lost LSNs up to ${m.durableLsn} that were reported durable (kept through ${kept})`);
    }
    m.batches = m.batches.slice(0, got.length);
    m.nextLsn = got.length ? got[got.length - 1]!.lastLsn + 1 : m.firstLsn;
    m.checkpoint = 0;
    m.durableLsn = r.wal.durableLsn;
    syncCounters(m, r, String(this));
    assert.equal(r.wal.durableLsn, m.nextLsn - 1, `${this}: everything recovered is durable`);
  }
  toString(): string {
    return `Crash(p=${this.p.toFixed(2)}, seed=${this.seed}, block=${this.blockSize}, torn=${this.tornTail})`;
  }
}

const payloadArb = fc.uint8Array({ maxLength: 200 });
const recordArb = fc.record({ op: fc.constantFrom(OpType.Insert, OpType.Delete, OpType.User), payload: payloadArb });
const batchArb = fc.array(recordArb, { minLength: 1, maxLength: 3 });

const commandArbs = [
  batchArb.map((b) => new Append([b])),
  fc.array(batchArb, { minLength: 2, maxLength: 6 }).map((bs) => new Append(bs)), // concurrent: one group commit
  fc.constant(new Sync()),
  fc.double({ min: 0, max: 1, noNaN: true }).map((f) => new Checkpoint(f)),
  fc.constant(new Cleanup()),
  fc.double({ min: 0, max: 1, noNaN: true }).map((f) => new Read(f)),
  fc.constant(new Reopen()),
  fc.tuple(fc.constantFrom(0, 0.3, 0.5, 0.9, 1), fc.nat(), fc.constantFrom(512, 4096), fc.boolean()).map(([p, s, b, t]) => new Crash(p, s, b, t)),
];

const configArb = fc.record({
  policy: fc.constantFrom<Policy>('always', 'none'),
  segmentSizeBytes: fc.integer({ min: 512, max: 2048 }),
  preallocateBytes: fc.constantFrom(0, 128, 1024),
  groupCommitBytesMax: fc.constantFrom(256, 1 << 20),
  // Low values write payloads from the caller's memory in gathered writes (piece by piece here).
  gatherMinBytes: fc.constantFrom(1, 16, 64 * 1024),
  retention: fc.record({ minFiles: fc.constant(1), maxFiles: fc.integer({ min: 1, max: 4 }), maxAgeMs: fc.constantFrom(0, 1e12), maxTotalBytes: fc.constant(1 << 30) }),
});

test(`Wal against an array model (${RUNS} runs of up to 40 commands, power cuts included)`, async (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(configArb, fc.commands(commandArbs, { maxCommands: 40, size: 'max' }), async (cfg, cmds) => {
      runs++;
      let clock = 1_700_000_000_000;
      const opts: WalOptions = { ...cfg, syncPolicy: cfg.policy, now: () => ++clock };
      const mem = new CrashableMemFileSystem();
      const real: Real = { mem, wal: await Wal.open(DIR, { ...opts, fs: mem }), opts };
      const model: Model = { policy: cfg.policy, batches: [], firstLsn: 1, nextLsn: 1, durableLsn: 0, checkpoint: 0 };
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds);
      } finally {
        await real.wal.close().catch(() => undefined);
      }
    }),
    { seed, numRuns: RUNS },
  );
  t.diagnostic(`${runs} runs; commands executed: ${[...executed].map(([k, v]) => `${k} ${v}`).join(', ')}`);
});
