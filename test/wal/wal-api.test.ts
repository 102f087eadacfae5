/**
 * The public contract of `Wal` (src/wal/wal.ts), checked on the in-memory CrashableMemFileSystem
 * (fast; it can also simulate power cuts) and once more on the real disk (NodeFileSystem in a
 * temporary directory).
 *
 * Goal: every promise the API documents holds: append/read round trip, dense LSNs under
 * concurrency, atomic batches, reads that start inside a batch, reads across rotations, LSNs
 * that continue after reopen, group commit that really shares fdatasyncs, bad input rejected
 * with its documented code and nothing written, bad options (INVALID_CONFIG), the directory
 * lock (LOCKED), use after close (CLOSED), the three sync policies, checkpoints, cleanup under
 * each retention rule with readers pinning segments, the 'pressure' and 'sync' events, and the
 * recovery report.
 *
 * Method: each case opens a fresh log, drives it through the public API only, and compares what
 * it reads back with what it wrote. "Nothing written" is checked by snapshotting the directory's
 * bytes, the stats and the LSN counters before and after. Power cuts (mem only) use
 * crashClone at p = 0, which keeps exactly the synced state. Payloads are random from a seed
 * printed with t.diagnostic; set VECWAL_SEED to replay.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileSystem } from '../../src/fs/fs.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { NodeFileSystem } from '../../src/fs/node-fs.js';
import { joinPath } from '../../src/fs/io.js';
import { Wal, type AppendInput, type WalBatch, type WalOptions } from '../../src/wal/wal.js';
import { MAX_RECORD_PAYLOAD_BYTES, OpType, segmentFileName } from '../../src/wal/format.js';
import type { RetentionPolicy } from '../../src/wal/retention.js';
import { Rng, seedFromEnv } from '../../src/util/rng.js';
import { expectCode, snapshotDir } from '../support/wal-test-helpers.js';

const SEED = seedFromEnv('VECWAL_SEED');

interface Env {
  fs: FileSystem;
  /** Set on the in-memory kind only. */
  mem: CrashableMemFileSystem | null;
  root: string;
  dir: string;
  open(options?: WalOptions, dir?: string): Promise<Wal>;
}

interface Kind {
  name: string;
  /** The real disk fsyncs for real: loops there are shorter (same coverage, fewer repetitions). */
  slow: boolean;
  run(fn: (env: Env) => Promise<void>): Promise<void>;
}

/** Runs `fn` with a fresh environment; closes every Wal it opened and removes temp dirs. */
function kind(name: string, slow: boolean, make: () => Promise<{ fs: FileSystem; mem: CrashableMemFileSystem | null; root: string; teardown: () => Promise<void> }>): Kind {
  return {
    name,
    slow,
    async run(fn) {
      const base = await make();
      const opened: Wal[] = [];
      const env: Env = {
        fs: base.fs,
        mem: base.mem,
        root: base.root,
        dir: joinPath(base.root, 'wal'),
        async open(options = {}, dir = env.dir) {
          // Small preallocation keeps the in-memory files small; pass `preallocateBytes: undefined`
          // to get the product default (8 MiB).
          const wal = await Wal.open(dir, { fs: base.fs, preallocateBytes: 64 * 1024, ...options });
          opened.push(wal);
          return wal;
        },
      };
      try {
        await fn(env);
      } finally {
        await Promise.allSettled(opened.map((w) => w.close()));
        await base.teardown();
      }
    },
  };
}

const KINDS: Kind[] = [
  kind('CrashableMemFileSystem', false, async () => {
    const mem = new CrashableMemFileSystem();
    return { fs: mem, mem, root: '/db', teardown: async () => undefined };
  }),
  kind('NodeFileSystem', true, async () => {
    const root = await mkdtemp(join(tmpdir(), 'vecwal-api-'));
    return { fs: new NodeFileSystem(), mem: null, root, teardown: () => rm(root, { recursive: true, force: true }) };
  }),
];

const OPS = [OpType.Insert, OpType.Upsert, OpType.Delete, OpType.Marker, OpType.User, OpType.CreateCollection];

function randomPayload(rng: Rng, maxLen = 300): Uint8Array {
  const pick = rng.int(10);
  const len = pick === 0 ? 0 : pick === 1 ? 1 : rng.int(maxLen + 1);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = rng.int(256);
  return out;
}

function randomBatch(rng: Rng, maxRecords = 3, maxLen = 300): AppendInput[] {
  return Array.from({ length: 1 + rng.int(maxRecords) }, () => ({ op: OPS[rng.int(OPS.length)]!, payload: randomPayload(rng, maxLen) }));
}

interface Expected {
  firstLsn: number;
  records: AppendInput[];
  timestamp?: number;
}

async function readAll(wal: Wal, fromLsn?: number, options: { toLsn?: number } = {}): Promise<WalBatch[]> {
  const out: WalBatch[] = [];
  for await (const b of fromLsn === undefined ? wal.read() : wal.read(fromLsn, options)) {
    out.push({ ...b, records: b.records.map((r) => ({ ...r, payload: r.payload.slice() })) });
  }
  return out;
}

function assertBatches(got: WalBatch[], expected: Expected[], what: string): void {
  assert.deepEqual(got.map((b) => b.firstLsn), expected.map((e) => e.firstLsn), `${what}: batch LSNs`);
  for (let i = 0; i < expected.length; i++) {
    const g = got[i]!;
    const e = expected[i]!;
    assert.equal(g.lastLsn, e.firstLsn + e.records.length - 1, `${what}: lastLsn of batch ${e.firstLsn}`);
    if (e.timestamp !== undefined) assert.equal(g.timestamp, e.timestamp, `${what}: timestamp of batch ${e.firstLsn}`);
    assert.equal(g.records.length, e.records.length, `${what}: records in batch ${e.firstLsn}`);
    g.records.forEach((r, j) => {
      assert.equal(r.lsn, e.firstLsn + j, `${what}: record LSN`);
      assert.equal(r.op, e.records[j]!.op, `${what}: op of LSN ${r.lsn}`);
      assert.deepEqual(Buffer.from(r.payload), Buffer.from(e.records[j]!.payload as Uint8Array), `${what}: payload of LSN ${r.lsn}`);
    });
  }
}

/** The expected batches that a read from `from` (through `to`) yields. */
function suffix(expected: Expected[], from: number, to = Infinity): Expected[] {
  return expected.filter((e) => e.firstLsn + e.records.length - 1 >= from && e.firstLsn <= to);
}

function seeded(t: TestContext, salt: number): Rng {
  t.diagnostic(`seed ${SEED} (set VECWAL_SEED to replay)`);
  return new Rng((SEED ^ salt) >>> 0);
}

async function poll(cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// Cleanup fixtures: one batch (one 100-byte record) per segment. A frame is 40 + 8 + 100 = 148
// bytes padded to 152, a segment 48 + 152 = 200 bytes; a second frame would not fit in 256, so segment i holds
// exactly LSN i. The clock is 1000 * i while batch i is appended: segment i (i >= 2) is created
// at 1000 * i, so segment i is sealed at 1000 * (i + 1).
const SEG_BYTES = 200;
const CLEANUP_OPTIONS: WalOptions = { segmentSizeBytes: 256, preallocateBytes: 0 };

async function buildOnePerSegment(env: Env, retention: Partial<RetentionPolicy>, n = 8): Promise<{ wal: Wal; clock: { t: number } }> {
  const clock = { t: 0 };
  const wal = await env.open({ ...CLEANUP_OPTIONS, retention, now: () => clock.t, syncPolicy: 'none' });
  for (let i = 1; i <= n; i++) {
    clock.t = 1000 * i;
    await wal.append({ op: OpType.Insert, payload: new Uint8Array(100).fill(i) });
  }
  const segs = wal.listSegments();
  assert.equal(segs.length, n, 'fixture: one segment per batch');
  segs.forEach((s, i) => {
    assert.deepEqual([s.segmentNo, s.firstLsn, s.lastLsn, s.sizeBytes], [i + 1, i + 1, i + 1, SEG_BYTES], 'fixture layout');
    assert.equal(s.sealedAtMs, i + 1 < n ? 1000 * (i + 2) : null, 'fixture seal times');
  });
  return { wal, clock };
}

function segNos(wal: Wal): number[] {
  return wal.listSegments().map((s) => s.segmentNo);
}

async function logFiles(env: Env): Promise<string[]> {
  return (await env.fs.readdir(env.dir)).filter((n) => n.endsWith('.log'));
}

const AGGRESSIVE: Partial<RetentionPolicy> = { minFiles: 1, maxFiles: 1, maxAgeMs: 0, maxTotalBytes: 1 };

for (const k of KINDS) {
  describe(`Wal API on ${k.name}`, () => {
    it('append and read round trip (ops, empty and binary payloads, timestamps)', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 1);
        const wal = await env.open({ segmentSizeBytes: 4096, preallocateBytes: undefined });
        assert.deepEqual([wal.nextLsn, wal.lastLsn, wal.durableLsn, wal.firstLsn], [1, 0, 0, 1]);
        const expected: Expected[] = [];
        const stamps = [0, 1, 1_700_000_000_000, Number.MAX_SAFE_INTEGER];
        for (let i = 0; i < 30; i++) {
          const records = i === 0 ? [{ op: OpType.User, payload: Buffer.from('a Buffer is a Uint8Array') }] : randomBatch(rng);
          const timestamp = i < stamps.length ? stamps[i]! : 1_000 + i;
          const firstLsn = wal.nextLsn;
          const r = await wal.append(i % 2 === 0 && records.length === 1 ? records[0]! : records, { timestamp });
          assert.deepEqual(r, { firstLsn, lastLsn: firstLsn + records.length - 1 });
          assert.equal(wal.nextLsn, r.lastLsn + 1);
          assert.equal(wal.lastLsn, r.lastLsn);
          assert.equal(wal.durableLsn, r.lastLsn, "syncPolicy 'always': durable when acknowledged");
          expected.push({ firstLsn, records, timestamp });
        }
        assertBatches(await readAll(wal), expected, 'read all');
        const st = wal.stats();
        assert.equal(st.appends, 30);
        assert.equal(st.records, expected.reduce((n, e) => n + e.records.length, 0));
      }));

    it('LSNs are dense and increasing across concurrent appends; every batch is atomic', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 2);
        const wal = await env.open({ segmentSizeBytes: 2048, groupCommitBytesMax: 1500 });
        const byLsn = new Map<number, Expected>();
        const order: number[] = [];
        const writer = async (w: number): Promise<void> => {
          let prev = 0;
          for (let s = 0; s < 12; s++) {
            const records = randomBatch(rng, 3, 120);
            const expectFirst = wal.nextLsn;
            const p = wal.append(records);
            assert.equal(wal.nextLsn, expectFirst + records.length, 'LSNs are assigned at call time');
            order.push(expectFirst);
            const r = await p;
            assert.deepEqual(r, { firstLsn: expectFirst, lastLsn: expectFirst + records.length - 1 }, `writer ${w}`);
            assert.ok(r.firstLsn > prev, `writer ${w}: LSNs increase`);
            prev = r.lastLsn;
            byLsn.set(r.firstLsn, { firstLsn: r.firstLsn, records });
            if (rng.chance(0.3)) await new Promise((res) => setTimeout(res, rng.int(3)));
          }
        };
        // Also a burst issued synchronously: results must come back in call order.
        const burst = Array.from({ length: 20 }, () => randomBatch(rng, 3, 60));
        const [burstResults] = await Promise.all([Promise.all(burst.map((b) => wal.append(b))), ...Array.from({ length: 6 }, (_, w) => writer(w))]);
        burstResults.forEach((r, i) => {
          byLsn.set(r.firstLsn, { firstLsn: r.firstLsn, records: burst[i]! });
          if (i > 0) assert.ok(r.firstLsn > burstResults[i - 1]!.lastLsn, 'burst results follow call order');
        });
        const expected = [...byLsn.values()].sort((a, b) => a.firstLsn - b.firstLsn);
        let next = 1;
        for (const e of expected) {
          assert.equal(e.firstLsn, next, 'no LSN hole or overlap');
          next += e.records.length;
        }
        assert.equal(wal.lastLsn, next - 1);
        assertBatches(await readAll(wal), expected, 'concurrent appends read back');
      }));

    it('read(fromLsn) inside a batch yields the whole batch; toLsn bounds the read', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 3);
        const wal = await env.open();
        const expected: Expected[] = [];
        for (const n of [1, 3, 2, 4, 1, 3]) {
          const records = Array.from({ length: n }, () => ({ op: OpType.Insert, payload: randomPayload(rng, 40) }));
          const r = await wal.append(records);
          expected.push({ firstLsn: r.firstLsn, records });
        }
        const last = wal.lastLsn;
        for (let from = 1; from <= last + 1; from++) {
          assertBatches(await readAll(wal, from), suffix(expected, from), `read(${from})`);
          for (const to of k.slow ? [from, last] : Array.from({ length: last - from + 1 }, (_, i) => from + i)) {
            assertBatches(await readAll(wal, from, { toLsn: to }), suffix(expected, from, to), `read(${from}, toLsn ${to})`);
          }
        }
        const mid = await readAll(wal, 3); // LSN 3 is the middle of the batch 2..4
        assert.equal(mid[0]!.firstLsn, 2);
        assert.equal(mid[0]!.records.length, 3);
        await expectCode(readAll(wal, 0), 'INVALID_ARGUMENT', 'read(0)');
        await expectCode(readAll(wal, 1.5), 'INVALID_ARGUMENT', 'read(1.5)');
      }));

    it('read across segment rotations, from every LSN', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 4);
        const wal = await env.open({ segmentSizeBytes: 300, preallocateBytes: 128, syncPolicy: k.slow ? 'none' : 'always' });
        const expected: Expected[] = [];
        for (let i = 0; i < (k.slow ? 20 : 40); i++) {
          const records = randomBatch(rng, 3, 90);
          const r = await wal.append(records);
          expected.push({ firstLsn: r.firstLsn, records });
        }
        const segs = wal.listSegments();
        assert.ok(segs.length >= 6, `expected many rotations, got ${segs.length} segments`);
        assert.equal(wal.stats().rotations, segs.length - 1);
        for (let i = 1; i < segs.length; i++) assert.equal(segs[i]!.firstLsn, segs[i - 1]!.lastLsn + 1, 'segments hold consecutive LSN ranges');
        for (let from = 1; from <= wal.lastLsn + 1; from++) assertBatches(await readAll(wal, from), suffix(expected, from), `read(${from})`);
      }));

    it('reopen continues LSNs; the recovery report describes the log', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 5);
        const opts: WalOptions = { segmentSizeBytes: 400, preallocateBytes: 256 };
        let wal = await env.open(opts);
        const expected: Expected[] = [];
        for (let i = 0; i < 15; i++) {
          const records = randomBatch(rng, 3, 80);
          expected.push({ firstLsn: (await wal.append(records)).firstLsn, records });
        }
        const last = wal.lastLsn;
        const segments = wal.listSegments().length;
        assert.ok(segments >= 3);
        await wal.close();
        const replayed: WalBatch[] = [];
        wal = await env.open({ ...opts, onReplay: (b) => void replayed.push(b) });
        const rep = wal.recovery;
        assert.equal(rep.mode, 'tolerate-corrupted-tail');
        assert.equal(rep.outcome, 'clean');
        assert.equal(rep.segments, segments);
        assert.equal(rep.batches, 15);
        assert.equal(rep.records, last);
        assert.deepEqual([rep.firstLsn, rep.lastLsn], [1, last]);
        assert.deepEqual([rep.replayedBatches, rep.replayedRecords], [15, last]);
        assert.equal(rep.bytesTruncated, 0);
        assert.deepEqual(rep.events, []);
        assert.deepEqual(rep.removedTempFiles, []);
        assert.ok(rep.durationMs >= 0);
        assertBatches(replayed, expected, 'replayed');
        assert.deepEqual([wal.nextLsn, wal.lastLsn, wal.durableLsn], [last + 1, last, last]);
        const records = randomBatch(rng);
        const r = await wal.append(records);
        assert.equal(r.firstLsn, last + 1, 'LSNs continue after reopen');
        expected.push({ firstLsn: r.firstLsn, records });
        assertBatches(await readAll(wal), expected, 'after reopen');
        await wal.close();
        wal = await env.open(opts);
        assertBatches(await readAll(wal), expected, 'after a second reopen');
      }));

    it('recovery report: replayFromLsn selects the replayed batches; stale .tmp files are removed', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 6);
        const opts: WalOptions = { segmentSizeBytes: 300, preallocateBytes: 0, syncPolicy: k.slow ? 'none' : 'always' };
        let wal = await env.open(opts);
        const expected: Expected[] = [];
        for (let i = 0; i < 20; i++) {
          const records = randomBatch(rng, 3, 50);
          expected.push({ firstLsn: (await wal.append(records)).firstLsn, records });
        }
        const last = wal.lastLsn;
        const segs = wal.listSegments();
        await wal.close();
        const froms = k.slow ? [2, segs[2]!.firstLsn + 1, last + 1] : [1, 2, segs[2]!.firstLsn, segs[2]!.firstLsn + 1, expected[12]!.firstLsn + 1, last, last + 1];
        for (const from of froms) {
          const replayed: WalBatch[] = [];
          wal = await env.open({ ...opts, replayFromLsn: from, onReplay: (b) => void replayed.push(b) });
          const want = suffix(expected, from);
          assertBatches(replayed, want, `replayFromLsn ${from}`);
          assert.equal(wal.recovery.replayedBatches, want.length, `replayedBatches (from ${from})`);
          assert.equal(wal.recovery.replayedRecords, want.reduce((n, e) => n + e.records.length, 0), `replayedRecords (from ${from})`);
          assert.deepEqual([wal.recovery.segments, wal.recovery.firstLsn, wal.recovery.lastLsn, wal.recovery.outcome], [segs.length, 1, last, 'clean'], `report (from ${from})`);
          await wal.close();
        }
        // A segment creation cut short leaves wal_N.log.tmp: open deletes and reports it.
        const tmp = joinPath(env.dir, `${segmentFileName(segs.length + 1)}.tmp`);
        const h = await env.fs.open(tmp, 'w');
        await h.write(new Uint8Array(48).fill(7), 0, 48, 0);
        await h.close();
        wal = await env.open(opts);
        assert.deepEqual(wal.recovery.removedTempFiles, [tmp]);
        assert.equal(await env.fs.stat(tmp), null);
        assert.equal(wal.recovery.outcome, 'clean');
        assertBatches(await readAll(wal), expected, 'after removing a .tmp');
      }));

    it('recovery report: records counts the whole log even when replayFromLsn lets recovery skip sealed segments', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 7);
        const opts: WalOptions = { segmentSizeBytes: 300, preallocateBytes: 0, syncPolicy: k.slow ? 'none' : 'always' };
        let wal = await env.open(opts);
        const firsts: number[] = [];
        for (let i = 0; i < 20; i++) firsts.push((await wal.append(randomBatch(rng, 3, 50))).firstLsn);
        const last = wal.lastLsn;
        const segs = wal.listSegments();
        const from = segs[3]!.firstLsn;
        await wal.close();
        wal = await env.open({ ...opts, replayFromLsn: from, onReplay: () => undefined });
        const rep = wal.recovery;
        assert.equal(rep.records, last, 'report.records: records in the log after recovery');
        // report.batches counts the frames recovery read; sealed segments wholly below
        // replayFromLsn (here segments 1..3) may be passed over unread.
        const inRead = firsts.filter((f) => f >= from).length;
        assert.ok(rep.batches >= inRead && rep.batches <= firsts.length, `report.batches ${rep.batches} not in [${inRead}, ${firsts.length}]`);
        assert.deepEqual([rep.segments, rep.firstLsn, rep.lastLsn], [segs.length, 1, last]);
      }));

    it('group commit: 64 concurrent appends share a few fdatasyncs; sync events report them', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 8);
        const wal = await env.open();
        const events: { durationMs: number; batches: number; bytes: number }[] = [];
        wal.on('sync', (e) => events.push(e));
        const before = wal.stats();
        const batches = Array.from({ length: 64 }, () => randomBatch(rng, 2, 100));
        const results = await Promise.all(batches.map((b) => wal.append(b)));
        const after = wal.stats();
        const syncs = after.syncs - before.syncs;
        t.diagnostic(`64 concurrent appends: ${syncs} fdatasync(s), ${after.groups - before.groups} group(s)`);
        assert.equal(after.appends - before.appends, 64);
        assert.ok(syncs >= 1 && syncs <= 8, `64 concurrent appends took ${syncs} syncs: group commit should share them`);
        assert.equal(events.length, syncs, 'one sync event per fdatasync');
        assert.equal(events.reduce((n, e) => n + e.batches, 0), 64, 'sync events account for every batch');
        assert.equal(events.reduce((n, e) => n + e.bytes, 0), after.bytesAppended - before.bytesAppended);
        for (const e of events) assert.ok(e.durationMs >= 0);
        assert.equal(wal.durableLsn, results[63]!.lastLsn);
        // A lone writer gets no added batching delay: one sync per sequential append.
        const s0 = wal.stats().syncs;
        for (let i = 0; i < 5; i++) await wal.append({ op: OpType.Insert, payload: randomPayload(rng) });
        assert.equal(wal.stats().syncs - s0, 5);
        // An explicit sync with nothing to flush does not fdatasync again; its event count stays.
        const e0 = events.length;
        await wal.sync();
        assert.equal(events.length, e0);
      }));

    it('bad input rejects with its code and writes nothing', (t) =>
      k.run(async (env) => {
        const rng = seeded(t, 9);
        const wal = await env.open();
        const good = (): AppendInput => ({ op: OpType.Insert, payload: randomPayload(rng, 20) });
        await wal.append([good(), good()]);
        const state = async () => ({
          stats: wal.stats(),
          lsns: [wal.nextLsn, wal.lastLsn, wal.durableLsn, wal.firstLsn],
          files: await snapshotDir(env.fs, env.dir),
        });
        const before = await state();
        const fake = (length: number): Uint8Array => {
          // Passes `instanceof Uint8Array` and reports a length without allocating it.
          const o = Object.create(Uint8Array.prototype) as Uint8Array;
          Object.defineProperty(o, 'length', { value: length });
          return o;
        };
        const huge = new Uint8Array(MAX_RECORD_PAYLOAD_BYTES + 1);
        const cases: [string, unknown, { timestamp?: unknown } | undefined, string][] = [
          ['empty batch', [], undefined, 'INVALID_ARGUMENT'],
          ['record that is null', [null], undefined, 'INVALID_ARGUMENT'],
          ['record that is a number', [42], undefined, 'INVALID_ARGUMENT'],
          ['op 0', { op: 0, payload: new Uint8Array(1) }, undefined, 'INVALID_ARGUMENT'],
          ['op 10', { op: 10, payload: new Uint8Array(1) }, undefined, 'INVALID_ARGUMENT'],
          ['op 255', { op: 255, payload: new Uint8Array(1) }, undefined, 'INVALID_ARGUMENT'],
          ['op -1', { op: -1, payload: new Uint8Array(1) }, undefined, 'INVALID_ARGUMENT'],
          ['op 1.5', { op: 1.5, payload: new Uint8Array(1) }, undefined, 'INVALID_ARGUMENT'],
          ["op '1'", { op: '1', payload: new Uint8Array(1) }, undefined, 'INVALID_ARGUMENT'],
          ['op missing', { payload: new Uint8Array(1) }, undefined, 'INVALID_ARGUMENT'],
          ['payload string', { op: OpType.Insert, payload: 'abc' }, undefined, 'INVALID_ARGUMENT'],
          ['payload number[]', { op: OpType.Insert, payload: [1, 2, 3] }, undefined, 'INVALID_ARGUMENT'],
          ['payload ArrayBuffer', { op: OpType.Insert, payload: new ArrayBuffer(4) }, undefined, 'INVALID_ARGUMENT'],
          ['payload Uint16Array', { op: OpType.Insert, payload: new Uint16Array(2) }, undefined, 'INVALID_ARGUMENT'],
          ['payload Uint8ClampedArray', { op: OpType.Insert, payload: new Uint8ClampedArray(2) }, undefined, 'INVALID_ARGUMENT'],
          ['payload DataView', { op: OpType.Insert, payload: new DataView(new ArrayBuffer(2)) }, undefined, 'INVALID_ARGUMENT'],
          ['payload null', { op: OpType.Insert, payload: null }, undefined, 'INVALID_ARGUMENT'],
          ['payload missing', { op: OpType.Insert }, undefined, 'INVALID_ARGUMENT'],
          ['one bad record after a good one', [good(), { op: 0, payload: new Uint8Array(1) }], undefined, 'INVALID_ARGUMENT'],
          ['payload of 64 MiB + 1', { op: OpType.Insert, payload: huge }, undefined, 'RECORD_TOO_LARGE'],
          ['good record then a payload of 64 MiB + 1', [good(), { op: OpType.Insert, payload: huge }], undefined, 'RECORD_TOO_LARGE'],
          ['batch body over 256 MiB (5 x 64 MiB, fake payloads)', Array.from({ length: 5 }, () => ({ op: OpType.Insert, payload: fake(MAX_RECORD_PAYLOAD_BYTES) })), undefined, 'RECORD_TOO_LARGE'],
          ['timestamp -1', good(), { timestamp: -1 }, 'INVALID_ARGUMENT'],
          ['timestamp 1.5', good(), { timestamp: 1.5 }, 'INVALID_ARGUMENT'],
          ['timestamp NaN', good(), { timestamp: NaN }, 'INVALID_ARGUMENT'],
          ['timestamp Infinity', good(), { timestamp: Infinity }, 'INVALID_ARGUMENT'],
          ['timestamp 2^53', good(), { timestamp: 2 ** 53 }, 'INVALID_ARGUMENT'],
          ["timestamp '5'", good(), { timestamp: '5' }, 'INVALID_ARGUMENT'],
        ];
        for (const [what, records, options, code] of cases) {
          let p: Promise<unknown>;
          try {
            p = wal.append(records as AppendInput[], options as { timestamp?: number });
          } catch (e) {
            assert.fail(`${what}: append threw synchronously instead of returning a rejected promise: ${String(e)}`);
          }
          await expectCode(p, code as 'INVALID_ARGUMENT', what);
          assert.deepEqual(await state(), before, `${what}: nothing may be written, no LSN used`);
        }
        const r = await wal.append(good());
        assert.equal(r.firstLsn, before.lsns[0], 'the next good append gets the next LSN');
      }));

    it('bad options fail with INVALID_CONFIG before touching the disk', () =>
      k.run(async (env) => {
        const cases: [string, WalOptions][] = [
          ['syncPolicy', { syncPolicy: 'sometimes' as 'none' }],
          ['syncIntervalMs 0', { syncIntervalMs: 0 }],
          ['syncIntervalMs NaN', { syncIntervalMs: NaN }],
          ['segmentSizeBytes 10', { segmentSizeBytes: 10 }],
          ['segmentSizeBytes 1000.5', { segmentSizeBytes: 1000.5 }],
          ['groupCommitBytesMax 0', { groupCommitBytesMax: 0 }],
          ['preallocateBytes -1', { preallocateBytes: -1 }],
          ['preallocateBytes 0.5', { preallocateBytes: 0.5 }],
          ['recoveryMode', { recoveryMode: 'yolo' as 'point-in-time' }],
          ['retention.minFiles 0', { retention: { minFiles: 0 } }],
          ['retention.maxFiles < minFiles', { retention: { minFiles: 5, maxFiles: 4 } }],
          ['retention.maxAgeMs -1', { retention: { maxAgeMs: -1 } }],
          ['retention.maxTotalBytes 0', { retention: { maxTotalBytes: 0 } }],
        ];
        for (const [i, [what, opts]] of cases.entries()) {
          const dir = joinPath(env.root, `bad-${i}`);
          await expectCode(env.open(opts, dir), 'INVALID_CONFIG', what);
          assert.equal(await env.fs.stat(dir), null, `${what}: the directory must not be created`);
        }
      }));

    it('a second open of the same directory is LOCKED; after close it opens', () =>
      k.run(async (env) => {
        const first = await env.open();
        await first.append({ op: OpType.Insert, payload: Uint8Array.of(1) });
        const e = await expectCode(env.open(), 'LOCKED', 'second open');
        assert.match(e.message, /in use/);
        await expectCode(env.open({}, `${env.dir}/`), 'LOCKED', 'second open, trailing slash');
        // The refused opener must not have disturbed the holder.
        await first.append({ op: OpType.Insert, payload: Uint8Array.of(2) });
        if (!env.mem) assert.notEqual(await env.fs.stat(joinPath(env.dir, 'LOCK')), null, 'the LOCK file exists while open');
        await first.close();
        const second = await env.open();
        assert.deepEqual((await readAll(second)).map((b) => b.firstLsn), [1, 2]);
        await expectCode(env.open(), 'LOCKED', 'third open while the second holds it');
      }));

    it('after close: append, sync, read and cleanup fail with CLOSED; close is idempotent', () =>
      k.run(async (env) => {
        const wal = await env.open();
        await wal.append({ op: OpType.Insert, payload: Uint8Array.of(1) });
        await wal.close();
        await expectCode(wal.append({ op: OpType.Insert, payload: Uint8Array.of(2) }), 'CLOSED', 'append');
        await expectCode(wal.sync(), 'CLOSED', 'sync');
        await expectCode(readAll(wal), 'CLOSED', 'read');
        await expectCode(() => wal.cleanup(), 'CLOSED', 'cleanup');
        await wal.close();
        const again = await env.open();
        assert.equal(again.lastLsn, 1, 'the rejected append wrote nothing');
      }));

    it("syncPolicy 'interval': appends resolve before the sync; durableLsn catches up within a few intervals", (t) =>
      k.run(async (env) => {
        const interval = 20;
        const wal = await env.open({ syncPolicy: 'interval', syncIntervalMs: interval });
        for (let i = 0; i < 5; i++) await wal.append({ op: OpType.Insert, payload: new Uint8Array(10).fill(i) });
        assert.equal(wal.lastLsn, 5);
        // A few intervals on an idle machine; the bound is generous for loaded CI hosts.
        const waited = await poll(() => wal.durableLsn === wal.lastLsn, 50 * interval);
        t.diagnostic(`durableLsn caught up after ${waited.toFixed(0)} ms (interval ${interval} ms)`);
        assert.equal(wal.durableLsn, 5, `durableLsn did not catch up within ${50 * interval} ms`);
        assert.ok(wal.stats().syncs >= 1);
        if (env.mem) {
          const cut = env.mem.crashClone({ seed: 1, unsyncedKeepProbability: 0 });
          const after = await Wal.open(env.dir, { fs: cut });
          assert.equal(after.lastLsn, 5, 'after the interval sync, a power cut keeps everything');
          await after.close();
        }
      }));

    it("syncPolicy 'none': nothing is synced until sync(); a power cut at p = 0 keeps only synced records", () =>
      k.run(async (env) => {
        const wal = await env.open({ syncPolicy: 'none' });
        await wal.append({ op: OpType.Insert, payload: Uint8Array.of(1, 2, 3) });
        assert.deepEqual([wal.lastLsn, wal.durableLsn], [1, 0]);
        await new Promise((r) => setTimeout(r, 30));
        assert.equal(wal.durableLsn, 0, "'none' has no background sync");
        if (env.mem) {
          const cut = env.mem.crashClone({ seed: 2, unsyncedKeepProbability: 0 });
          const lost = await Wal.open(env.dir, { fs: cut });
          assert.equal(lost.lastLsn, 0, 'an unsynced record does not survive a power cut that keeps nothing unsynced');
          await lost.close();
        }
        const syncs = wal.stats().syncs;
        await wal.sync();
        assert.equal(wal.durableLsn, 1);
        assert.equal(wal.stats().syncs, syncs + 1);
        if (env.mem) {
          const cut = env.mem.crashClone({ seed: 3, unsyncedKeepProbability: 0 });
          const kept = await Wal.open(env.dir, { fs: cut });
          const got = await readAll(kept);
          assert.deepEqual(got.map((b) => [b.firstLsn, Array.from(b.records[0]!.payload)]), [[1, [1, 2, 3]]], 'after sync() the record survives');
          await kept.close();
        }
      }));

    it('checkpoint: validated, bounded by the last LSN, never moves back', () =>
      k.run(async (env) => {
        const wal = await env.open();
        wal.checkpoint(0);
        await expectCode(() => wal.checkpoint(1), 'INVALID_ARGUMENT', 'checkpoint beyond an empty log');
        await wal.append([1, 2, 3].map((v) => ({ op: OpType.Insert, payload: Uint8Array.of(v) })));
        wal.checkpoint(3);
        assert.equal(wal.checkpointLsn, 3);
        for (const bad of [4, 100, -1, 1.5, NaN]) await expectCode(() => wal.checkpoint(bad), 'INVALID_ARGUMENT', `checkpoint(${bad})`);
        wal.checkpoint(2);
        assert.equal(wal.checkpointLsn, 3, 'a checkpoint never moves back');
      }));

    it('bytesAbove counts from inside a segment this process wrote (1 MiB marks), from the start of one it did not', () =>
      k.run(async (env) => {
        const MiB = 1024 * 1024;
        const wal = await env.open({ segmentSizeBytes: 64 * MiB });
        const header = wal.listSegments()[0]!.sizeBytes;
        const payload = new Uint8Array(MiB + 100); // each frame a little over a mark's spacing
        for (let i = 0; i < 6; i++) await wal.append({ op: OpType.Insert, payload });
        const size = wal.listSegments()[0]!.sizeBytes;
        const frame = (size - header) / 6;
        assert.ok(Number.isInteger(frame) && frame > MiB);
        assert.equal(wal.bytesAbove(0), size, 'nothing flushed: the whole segment, header included');
        // A mark after every frame: what lies above LSN k is exactly the 6 - k frames after it.
        for (let lsn = 1; lsn <= 6; lsn++) assert.equal(wal.bytesAbove(lsn), (6 - lsn) * frame, `bytesAbove(${lsn})`);
        await wal.close();
        const again = await env.open({ segmentSizeBytes: 64 * MiB });
        assert.equal(again.bytesAbove(3), size, 'a segment found at open has no marks: counted whole');
      }));

    describe('cleanup and retention', () => {
      it('never deletes above the checkpoint nor the active segment', () =>
        k.run(async (env) => {
          const { wal, clock } = await buildOnePerSegment(env, AGGRESSIVE);
          clock.t = 1_000_000; // everything sealed long ago
          let r = await wal.cleanup();
          assert.deepEqual(r.deleted, [], 'checkpoint 0: nothing may be deleted');
          assert.equal(r.pressure, true, 'the log breaks maxFiles with data above the checkpoint');
          wal.checkpoint(3);
          r = await wal.cleanup();
          assert.deepEqual(r.deleted, [1, 2, 3].map((n) => joinPath(env.dir, segmentFileName(n))));
          assert.deepEqual(segNos(wal), [4, 5, 6, 7, 8]);
          assert.equal(wal.firstLsn, 4);
          assert.deepEqual(await logFiles(env), [4, 5, 6, 7, 8].map(segmentFileName));
          wal.checkpoint(8); // the last LSN: it lives in the active segment
          r = await wal.cleanup();
          assert.deepEqual(segNos(wal), [8], 'the active segment stays whatever the checkpoint');
          assert.deepEqual(await logFiles(env), [segmentFileName(8)]);
          r = await wal.cleanup();
          assert.deepEqual(r.deleted, []);
          const more = await wal.append({ op: OpType.Insert, payload: Uint8Array.of(9) });
          assert.equal(more.firstLsn, 9);
          assert.deepEqual((await readAll(wal)).map((b) => b.firstLsn), [8, 9]);
        }));

      it('minFiles: never fewer files than minFiles', () =>
        k.run(async (env) => {
          const { wal, clock } = await buildOnePerSegment(env, { minFiles: 3, maxFiles: 3, maxAgeMs: 0, maxTotalBytes: 1 });
          clock.t = 1_000_000;
          wal.checkpoint(8);
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [6, 7, 8]);
        }));

      it('maxFiles: deletes eligible segments down to maxFiles; pressure when the excess is above the checkpoint', () =>
        k.run(async (env) => {
          const { wal } = await buildOnePerSegment(env, { minFiles: 1, maxFiles: 5, maxAgeMs: 1e12, maxTotalBytes: 1e12 });
          const events: unknown[] = [];
          wal.on('pressure', (p) => events.push(p));
          wal.checkpoint(2);
          let r = await wal.cleanup();
          assert.deepEqual(segNos(wal), [3, 4, 5, 6, 7, 8], 'only segments at or below the checkpoint');
          assert.equal(r.pressure, true);
          assert.deepEqual(events, [{ reason: 'max_files', files: 6, totalBytes: 6 * SEG_BYTES, bytesAboveCheckpoint: 6 * SEG_BYTES }]);
          wal.checkpoint(8);
          r = await wal.cleanup();
          assert.deepEqual(segNos(wal), [4, 5, 6, 7, 8], 'down to maxFiles, no further');
          assert.equal(r.pressure, false);
          assert.equal(events.length, 1);
        }));

      it('maxTotalBytes: deletes eligible segments until the log fits', () =>
        k.run(async (env) => {
          const { wal } = await buildOnePerSegment(env, { minFiles: 1, maxFiles: 100, maxAgeMs: 1e12, maxTotalBytes: 4 * SEG_BYTES });
          wal.checkpoint(8);
          const r = await wal.cleanup();
          assert.deepEqual(segNos(wal), [5, 6, 7, 8]);
          assert.equal(wal.stats().totalBytes, 4 * SEG_BYTES);
          assert.equal(r.pressure, false);
        }));

      it('maxAgeMs: deletes segments sealed longer ago than maxAgeMs (by the `now` clock)', () =>
        k.run(async (env) => {
          const { wal, clock } = await buildOnePerSegment(env, { minFiles: 1, maxFiles: 100, maxAgeMs: 3500, maxTotalBytes: 1e12 });
          wal.checkpoint(8);
          clock.t = 9000; // segment i was sealed at 1000 * (i + 1): 1..4 are older than 3.5 s
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [5, 6, 7, 8]);
          clock.t = 10_000; // now segment 5 (sealed at 6000) is 4 s old
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [6, 7, 8]);
          clock.t = 10_000_000;
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [8], 'everything sealed expires; the active segment stays');
        }));

      it('registered readers pin their segments until released', () =>
        k.run(async (env) => {
          const { wal, clock } = await buildOnePerSegment(env, AGGRESSIVE);
          clock.t = 1_000_000;
          wal.checkpoint(8);
          wal.registerReader('replica', 3);
          wal.registerReader('slow', 5);
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [3, 4, 5, 6, 7, 8], 'the slowest reader (at LSN 3) pins segment 3 and later');
          wal.releaseReader('replica');
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [5, 6, 7, 8]);
          wal.releaseReader('slow');
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [8]);
        }));

      it('an open read() iterator pins the segments it has not read yet', () =>
        k.run(async (env) => {
          const { wal, clock } = await buildOnePerSegment(env, AGGRESSIVE);
          clock.t = 1_000_000;
          wal.checkpoint(8);
          const it = wal.read(3)[Symbol.asyncIterator]();
          const first = await it.next();
          assert.equal(first.done, false);
          assert.equal((first.value as WalBatch).firstLsn, 3);
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [3, 4, 5, 6, 7, 8]);
          const rest: number[] = [];
          for (let n = await it.next(); !n.done; n = await it.next()) rest.push(n.value.firstLsn);
          assert.deepEqual(rest, [4, 5, 6, 7, 8]);
          await wal.cleanup();
          assert.deepEqual(segNos(wal), [8], 'released when the iteration ends');
        }));

      it("'pressure' fires when data that cannot be deleted breaks maxFiles or maxTotalBytes", () =>
        k.run(async (env) => {
          // Pressure is checked when a rotation creates a segment (header only, 48 bytes): during
          // append i (i >= 2) the log then has i files and (i - 1) * 200 + 48 bytes. Both limits
          // below are first broken at append 4.
          for (const [policy, reason] of [
            [{ minFiles: 1, maxFiles: 3 }, 'max_files'],
            [{ minFiles: 1, maxFiles: 100, maxTotalBytes: 3 * SEG_BYTES + 1 }, 'max_total_bytes'],
          ] as const) {
            const dir = joinPath(env.root, reason);
            const wal = await env.open({ ...CLEANUP_OPTIONS, retention: policy }, dir);
            const events: { append: number; reason: string; files: number; totalBytes: number; bytesAboveCheckpoint: number }[] = [];
            let append = 0;
            wal.on('pressure', (p) => events.push({ append, ...p }));
            for (append = 1; append <= 6; append++) await wal.append({ op: OpType.Insert, payload: new Uint8Array(100).fill(append) });
            const want = [4, 5, 6].map((i) => ({ append: i, reason, files: i, totalBytes: (i - 1) * SEG_BYTES + 48, bytesAboveCheckpoint: (i - 1) * SEG_BYTES + 48 }));
            assert.deepEqual(events, want, `${reason}: pressure events`);
            const r = await wal.cleanup();
            assert.deepEqual([r.deleted, r.pressure], [[], true], `${reason}: cleanup reports pressure`);
            assert.deepEqual(events[3], { append, reason, files: 6, totalBytes: 6 * SEG_BYTES, bytesAboveCheckpoint: 6 * SEG_BYTES }, `${reason}: cleanup emits pressure too`);
          }
          // Under the limits: no event.
          const calm = await env.open({ ...CLEANUP_OPTIONS }, joinPath(env.root, 'calm'));
          let fired = 0;
          calm.on('pressure', () => fired++);
          for (let i = 0; i < 5; i++) await calm.append({ op: OpType.Insert, payload: new Uint8Array(100) });
          assert.equal((await calm.cleanup()).pressure, false);
          assert.equal(fired, 0);
        }));

      it('read below firstLsn after cleanup fails with LSN_OUT_OF_RANGE', () =>
        k.run(async (env) => {
          const { wal, clock } = await buildOnePerSegment(env, AGGRESSIVE);
          clock.t = 1_000_000;
          wal.checkpoint(4);
          await wal.cleanup();
          assert.equal(wal.firstLsn, 5);
          for (const from of [1, 4]) {
            const e = await expectCode(readAll(wal, from), 'LSN_OUT_OF_RANGE', `read(${from})`);
            assert.deepEqual(e.details.lsnRange, [5, 8]);
          }
          assert.deepEqual((await readAll(wal, 5)).map((b) => b.firstLsn), [5, 6, 7, 8]);
          assert.deepEqual((await readAll(wal)).map((b) => b.firstLsn), [5, 6, 7, 8], 'read() defaults to firstLsn');
        }));
    });
  });
}
