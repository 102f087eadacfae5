/**
 * Damage a real multi-segment log byte by byte and check what recovery makes of it.
 *
 * Goal: recovery never returns altered bytes or a batch that was not written, never silently
 * drops data that was proven durable, and repairs exactly what a crash can produce (a torn tail
 * of the last segment). Everything else must fail closed (WAL_CORRUPTED naming the file and the
 * offset) in the default mode, and the salvage modes must do what src/wal/recovery.ts says.
 *
 * Method: a small log (4 segments of at most 1 KiB, ~45 batches, syncPolicy 'always', each batch
 * appended alone so that every frame is its own fsynced group) is built once on the in-memory
 * filesystem from a fixed seed. Its frame boundaries are parsed straight from the bytes (not by
 * the product's reader). Each case works on an exact copy: (a) cut the last segment at every
 * offset; (b) flip one bit of every byte of every segment (the bit is chosen by VECWAL_SEED);
 * (c) zero-filled tails and a zeroed sector; (d) garbage after the last frame; (e) each recovery
 * mode on damage inside a sealed segment; (f) damage in the last segment that a later frame
 * proves was durable. Each outcome is compared with the exact expectation derived from the
 * parsed layout (which batches survive, the event, the offset, bytes truncated).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isVecwalError, type VecwalError } from '../../src/errors.js';
import type { FileSystem } from '../../src/fs/fs.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { joinPath } from '../../src/fs/io.js';
import { Wal, type WalBatch, type WalOptions } from '../../src/wal/wal.js';
import { OpType, segmentFileName } from '../../src/wal/format.js';
import type { RecoveryReport } from '../../src/wal/recovery.js';
import { Rng, seedFromEnv } from '../../src/util/rng.js';
import { exactCopy, expectCode, flipBit, parseFrames, snapshotDir, truncateFile, writeAt, type ParsedFrame } from '../support/wal-test-helpers.js';

const SEED = seedFromEnv('VECWAL_SEED');
const DIR = '/db/wal';
const OPTIONS: WalOptions = { segmentSizeBytes: 1024, preallocateBytes: 256, syncPolicy: 'always' };

interface Batch {
  firstLsn: number;
  lastLsn: number;
  payloads: Uint8Array[];
}

interface Segment {
  path: string;
  bytes: Uint8Array;
  frames: ParsedFrame[];
  /** Index in `batches` of this segment's first batch. */
  firstBatch: number;
}

interface Base {
  mem: CrashableMemFileSystem;
  batches: Batch[];
  segments: Segment[];
}

/**
 * The log every case starts from: appended one batch at a time (each frame its own group), until
 * there are 4 segments and the last one holds at least 6 frames. Payloads come from a fixed seed.
 */
async function buildBase(): Promise<Base> {
  const rng = new Rng(0xc0ffee);
  const mem = new CrashableMemFileSystem();
  const wal = await Wal.open(DIR, { ...OPTIONS, fs: mem, salt: () => rng.nextU32(), now: () => 1_700_000_000_000 });
  const batches: Batch[] = [];
  for (;;) {
    const segs = wal.listSegments();
    if (segs.length === 4 && segs[3]!.lastLsn - segs[3]!.firstLsn >= 8) break;
    const payloads = Array.from({ length: 1 + rng.int(3) }, () => Uint8Array.from({ length: 1 + rng.int(30) }, () => rng.int(256)));
    const r = await wal.append(payloads.map((payload) => ({ op: OpType.Insert, payload })));
    batches.push({ ...r, payloads });
  }
  await wal.close();
  const segments: Segment[] = [];
  for (let i = 1; i <= 4; i++) {
    const path = joinPath(DIR, segmentFileName(i));
    const bytes = mem.readFileSync(path);
    const frames = parseFrames(bytes);
    assert.equal(frames.length > 0 ? frames[frames.length - 1]!.offset + frames[frames.length - 1]!.size : 48, bytes.length, 'closed segments end at their last frame');
    segments.push({ path, bytes, frames, firstBatch: batches.findIndex((b) => b.firstLsn === frames[0]!.firstLsn) });
  }
  const last = segments[3]!;
  assert.ok(last.frames.length >= 6, 'fixture: several frames in the last segment');
  // Every frame but the first of a segment was written after its predecessor was fsynced.
  for (const s of segments) s.frames.slice(1).forEach((f, i) => assert.equal(f.syncedThrough, s.frames[i]!.offset + s.frames[i]!.size, 'fixture: syncedThrough'));
  return { mem, batches, segments };
}

type Outcome = { ok: true; batches: Batch[]; report: RecoveryReport; nextLsn: number } | { ok: false; error: VecwalError };

/** Open (recovery), read everything, close. WAL_CORRUPTED and other VecwalErrors are outcomes. */
async function recover(fs: FileSystem, options: WalOptions = {}): Promise<Outcome> {
  let wal: Wal;
  try {
    wal = await Wal.open(DIR, { ...OPTIONS, ...options, fs });
  } catch (e) {
    if (isVecwalError(e)) return { ok: false, error: e };
    throw e;
  }
  try {
    const batches: Batch[] = [];
    for await (const b of wal.read()) batches.push(toBatch(b));
    return { ok: true, batches, report: wal.recovery, nextLsn: wal.nextLsn };
  } finally {
    await wal.close();
  }
}

function toBatch(b: WalBatch): Batch {
  return { firstLsn: b.firstLsn, lastLsn: b.lastLsn, payloads: b.records.map((r) => r.payload.slice()) };
}

/** `got` is exactly the first `n` batches of the original log, byte for byte. */
function assertPrefix(got: Batch[], all: Batch[], n: number, what: string): void {
  assert.deepEqual(got.map((b) => b.firstLsn), all.slice(0, n).map((b) => b.firstLsn), `${what}: surviving batches`);
  got.forEach((b, i) => {
    assert.equal(b.lastLsn, all[i]!.lastLsn, `${what}: batch ${b.firstLsn} whole`);
    assert.deepEqual(b.payloads.map((p) => Buffer.from(p)), all[i]!.payloads.map((p) => Buffer.from(p)), `${what}: bytes of batch ${b.firstLsn}`);
  });
}

/** Is `got` a prefix of `all` (same bytes)? For the loose property in the bit-flip sweep. */
function isPrefix(got: Batch[], all: Batch[]): boolean {
  return got.length <= all.length && got.every((b, i) => {
    const a = all[i]!;
    return b.firstLsn === a.firstLsn && b.lastLsn === a.lastLsn && b.payloads.length === a.payloads.length &&
      b.payloads.every((p, j) => Buffer.from(p).equals(Buffer.from(a.payloads[j]!)));
  });
}

/**
 * The LSN range a failure reports: it starts at the damaged batch and ends somewhere between
 * that batch's last LSN (the damaged LSNs) and the segment's last LSN (what a cut at the damage
 * would remove). Both readings of ErrorDetails.lsnRange ("LSN range affected") are accepted.
 */
function assertAffectedRange(range: unknown, victim: ParsedFrame, seg: Segment, what: string): void {
  assert.ok(Array.isArray(range) && range.length === 2, `${what}: lsnRange ${JSON.stringify(range)}`);
  const [from, to] = range as [number, number];
  const segLast = seg.frames[seg.frames.length - 1]!.lastLsn;
  assert.equal(from, victim.firstLsn, `${what}: lsnRange starts at the damaged batch`);
  assert.ok(to >= victim.lastLsn && to <= segLast, `${what}: lsnRange [${from}, ${to}] must end in [${victim.lastLsn}, ${segLast}]`);
}

function expectFailure(out: Outcome, what: string): VecwalError {
  if (out.ok) assert.fail(`${what}: expected WAL_CORRUPTED, recovery succeeded with ${out.batches.length} batches (events ${JSON.stringify(out.report.events)})`);
  assert.equal(out.error.code, 'WAL_CORRUPTED', `${what}: ${out.error.message}`);
  return out.error;
}

function expectSuccess(out: Outcome, what: string): Extract<Outcome, { ok: true }> {
  if (!out.ok) assert.fail(`${what}: expected recovery to succeed, got ${out.error.code}: ${out.error.message}`);
  return out;
}

/** Append one batch after recovery, read it back, reopen: the log is usable again. */
async function appendAfter(fs: FileSystem, survivors: Batch[], what: string): Promise<void> {
  const wal = await Wal.open(DIR, { ...OPTIONS, fs });
  const next = survivors.length ? survivors[survivors.length - 1]!.lastLsn + 1 : 1;
  assert.equal(wal.nextLsn, next, `${what}: next LSN after recovery`);
  const payload = Uint8Array.of(0xab, 0xcd, next & 0xff);
  const r = await wal.append({ op: OpType.User, payload });
  assert.equal(r.firstLsn, next);
  await wal.close();
  const again = expectSuccess(await recover(fs), `${what} (after a new append)`);
  assert.equal(again.report.outcome, 'clean', `${what}: clean after the new append`);
  const want = [...survivors, { firstLsn: next, lastLsn: next, payloads: [payload] }];
  assertPrefix(again.batches, want, want.length, `${what} (after a new append)`);
}

describe('WAL corruption handling (in-memory log, 4 segments)', async () => {
  const base = await buildBase();
  const { batches, segments } = base;
  const last = segments[3]!;
  const lastIdx = 3;

  it('(a) cutting the last segment at every offset recovers exactly the batches before the cut', async (t) => {
    let clean = 0;
    let torn = 0;
    let headerCuts = 0;
    for (let cut = 0; cut <= last.bytes.length; cut++) {
      const what = `cut at ${cut} of ${last.bytes.length}`;
      const fs = exactCopy(base.mem);
      await truncateFile(fs, last.path, cut);
      const out = await recover(fs);
      if (cut > 0 && cut < 48) {
        // A segment exists under its final name only once its whole header was fsynced
        // (createSegmentFile: .tmp, sync, rename, syncDir), so a partial header is not a crash
        // artefact: recovery reports it as a bad header and fails closed, changing nothing.
        const e = expectFailure(out, what);
        assert.equal(e.details.file, last.path);
        assert.equal(e.details.offset, 0);
        assert.equal(e.details.finding, 'bad-header');
        assert.equal(fs.readFileSync(last.path).length, cut, `${what}: the file is left alone`);
        headerCuts++;
        continue;
      }
      const ok = expectSuccess(out, what);
      const kept = last.frames.filter((f) => f.offset + f.size <= cut);
      const n = last.firstBatch + kept.length;
      assertPrefix(ok.batches, batches, n, what);
      const rep = ok.report;
      if (cut === 0) {
        // An empty file: a creation cut short (blank) is removed.
        assert.deepEqual(rep.events.map((e) => [e.file, e.finding, e.action]), [[last.path, 'blank', 'remove']], what);
        assert.equal(rep.outcome, 'repaired');
      } else {
        const goodEnd = kept.length ? kept[kept.length - 1]!.offset + kept[kept.length - 1]!.size : 48;
        if (goodEnd === cut) {
          assert.equal(rep.outcome, 'clean', `${what}: a cut at a frame boundary is a clean end`);
          assert.deepEqual(rep.events, []);
          assert.equal(rep.bytesTruncated, 0);
          clean++;
        } else {
          assert.equal(rep.outcome, 'repaired', what);
          assert.deepEqual(rep.events.map((e) => [e.file, e.offset, e.finding, e.action, e.bytes]), [[last.path, goodEnd, 'torn', 'truncate', cut - goodEnd]], what);
          assert.equal(rep.bytesTruncated, cut - goodEnd, what);
          assert.equal(fs.readFileSync(last.path).length, goodEnd, `${what}: the torn tail was cut off`);
          torn++;
        }
      }
      // Idempotent: the repaired log opens clean, with the same content.
      const again = expectSuccess(await recover(fs), `${what} (second open)`);
      assert.equal(again.report.outcome, 'clean', `${what}: second open is clean`);
      assert.deepEqual(again.report.events, []);
      assertPrefix(again.batches, batches, n, `${what} (second open)`);
      // New appends continue at the next LSN: checked around every frame boundary and at every
      // 16th offset (each check is three more opens).
      const nearBoundary = cut <= 49 || last.frames.some((f) => Math.abs(f.offset + f.size - cut) <= 1);
      if (nearBoundary || cut % 16 === 0) await appendAfter(fs, batches.slice(0, n), what);
    }
    t.diagnostic(`last segment ${last.bytes.length} bytes: ${clean} clean cuts (frame boundaries), ${torn} torn tails repaired, ${headerCuts} cuts inside the header fail closed (bad-header), 1 empty file removed (blank)`);
    assert.equal(clean, last.frames.length + 1);
    assert.equal(headerCuts, 47);
  });

  it('(b) a bit flip anywhere fails closed or leaves an exact prefix; sealed segments always fail closed', async (t) => {
    t.diagnostic(`seed ${SEED} chooses the flipped bit of each byte (set VECWAL_SEED to replay)`);
    const rng = new Rng(SEED);
    const counts = { sealedFailClosed: 0, lastFailClosed: 0, lastRepaired: 0 };
    for (let s = 0; s < segments.length; s++) {
      const seg = segments[s]!;
      for (let at = 0; at < seg.bytes.length; at++) {
        const bit = rng.int(8);
        const what = `${seg.path} byte ${at} bit ${bit} (seed ${SEED})`;
        const fs = exactCopy(base.mem);
        await flipBit(fs, seg.path, at, bit);
        const out = await recover(fs);
        const frame = at < 48 ? null : seg.frames.find((f) => at >= f.offset && at < f.offset + f.size)!;
        // The loose property first: fail closed at the right place, or an exact prefix.
        if (!out.ok) {
          assert.equal(out.error.code, 'WAL_CORRUPTED', `${what}: ${out.error.message}`);
          assert.equal(out.error.details.file, seg.path, `${what}: names the damaged file`);
          const off = out.error.details.offset!;
          assert.ok(frame ? off >= frame.offset && off < frame.offset + frame.size : off === 0, `${what}: offset ${off} outside the damaged frame`);
        } else {
          assert.ok(isPrefix(out.batches, batches), `${what}: recovered batches are not a prefix of the original`);
        }
        // Then the exact expectation.
        if (frame === null) {
          const e = expectFailure(out, what);
          assert.equal(e.details.finding, 'bad-header', what);
          if (s === lastIdx) counts.lastFailClosed++;
          else counts.sealedFailClosed++;
        } else if (s < lastIdx || frame !== seg.frames[seg.frames.length - 1]) {
          // A sealed segment, or a frame that a later intact frame proves durable.
          const e = expectFailure(out, what);
          assert.equal(e.details.offset, frame.offset, what);
          assert.equal(e.details.finding, 'corrupt', what);
          assertAffectedRange(e.details.lsnRange, frame, seg, what);
          if (s === lastIdx) counts.lastFailClosed++;
          else counts.sealedFailClosed++;
        } else {
          // The last frame of the log: indistinguishable from a torn write, repaired.
          const ok = expectSuccess(out, what);
          assertPrefix(ok.batches, batches, batches.length - 1, what);
          assert.deepEqual(ok.report.events.map((e) => [e.offset, e.finding, e.action, e.bytes]), [[frame.offset, 'torn', 'truncate', frame.size]], what);
          counts.lastRepaired++;
        }
      }
    }
    const total = segments.reduce((n, s) => n + s.bytes.length, 0);
    t.diagnostic(`${total} flips: ${counts.sealedFailClosed} in sealed segments failed closed, ${counts.lastFailClosed} in the last segment failed closed (header or proven durable), ${counts.lastRepaired} repaired as a torn tail (the last frame)`);
    assert.equal(counts.sealedFailClosed + counts.lastFailClosed + counts.lastRepaired, total);
    assert.equal(counts.lastRepaired, last.frames[last.frames.length - 1]!.size);
  });

  it('(c) zeros after the last frame are a clean end, at any length', async () => {
    for (const len of [1, 7, 8, 39, 40, 41, 100, 511, 512, 513, 4095, 4096, 10_000]) {
      const what = `${len} zero bytes appended`;
      const fs = exactCopy(base.mem);
      await writeAt(fs, last.path, last.bytes.length, new Uint8Array(len));
      const ok = expectSuccess(await recover(fs), what);
      assert.equal(ok.report.outcome, 'clean', what);
      assert.deepEqual(ok.report.events, [], what);
      assert.equal(ok.report.bytesTruncated, 0);
      assertPrefix(ok.batches, batches, batches.length, what);
      await appendAfter(fs, batches, what);
    }
  });

  it('(c) a last segment that is all zeros (header included) is removed as blank', async () => {
    const fs = exactCopy(base.mem);
    await writeAt(fs, last.path, 0, new Uint8Array(last.bytes.length));
    const ok = expectSuccess(await recover(fs), 'all-zero last segment');
    assert.deepEqual(ok.report.events.map((e) => [e.file, e.offset, e.finding, e.action]), [[last.path, 0, 'blank', 'remove']]);
    assert.equal(ok.report.outcome, 'repaired');
    assertPrefix(ok.batches, batches, last.firstBatch, 'all-zero last segment');
    await appendAfter(fs, batches.slice(0, last.firstBatch), 'after removing a blank segment');
  });

  it('(c) a zeroed sector inside the last frame is a torn tail: the frame is cut off', async (t) => {
    // A last frame big enough to hold a whole 512-byte disk sector.
    const fs0 = exactCopy(base.mem);
    const wal = await Wal.open(DIR, { ...OPTIONS, fs: fs0 });
    const big = Uint8Array.from({ length: 1500 }, (_, i) => (i * 7 + 1) & 0xff);
    const r = await wal.append({ op: OpType.Insert, payload: big });
    await wal.close();
    const all = [...batches, { ...r, payloads: [big] }];
    const path = joinPath(DIR, segmentFileName(5));
    const frames = parseFrames(fs0.readFileSync(path));
    assert.deepEqual(frames.map((f) => [f.offset, f.size]), [[48, 1552]], 'the big frame gets a segment of its own');
    for (const [label, from] of [['file sector 512..1023', 512], ['the frame\'s 2nd 512-byte block (560..1071)', 560]] as const) {
      const fs = exactCopy(fs0);
      await writeAt(fs, path, from, new Uint8Array(512));
      const ok = expectSuccess(await recover(fs), label);
      assertPrefix(ok.batches, all, batches.length, label);
      assert.equal(ok.report.outcome, 'repaired');
      const ev = ok.report.events;
      assert.deepEqual(ev.map((e) => [e.file, e.offset, e.finding, e.action, e.bytes]), [[path, 48, 'torn', 'truncate', 1552]], label);
      assert.equal(ok.report.bytesTruncated, 1552);
      t.diagnostic(`zeroed ${label}: reason '${ev[0]!.reason}'`);
      await appendAfter(fs, batches, label);
    }
  });

  it(
    '(c) a zeroed disk sector (file offset multiple of 512) inside a frame is reported as one',
    async () => {
      const fs = exactCopy(base.mem);
      const wal = await Wal.open(DIR, { ...OPTIONS, fs });
      await wal.append({ op: OpType.Insert, payload: new Uint8Array(1500).fill(9) });
      await wal.close();
      const path = joinPath(DIR, segmentFileName(5));
      await writeAt(fs, path, 512, new Uint8Array(512));
      const ok = expectSuccess(await recover(fs), 'zeroed sector');
      assert.match(ok.report.events[0]!.reason, /zeroed sector/);
    },
  );

  it('(d) garbage after the last frame is a torn tail: cut, with bytesTruncated = its length', async (t) => {
    t.diagnostic(`seed ${SEED} (garbage bytes; set VECWAL_SEED to replay)`);
    const rng = new Rng(SEED ^ 0x9a7ba9e);
    const random = (n: number) => {
      const b = Uint8Array.from({ length: n }, () => rng.int(256));
      b[0] = 1 + rng.int(255); // never all zero
      return b;
    };
    const seg1Frame = segments[0]!.frames[2]!;
    const ownLast = last.frames[last.frames.length - 1]!;
    const cases: [string, Uint8Array][] = [
      ...[1, 8, 39, 40, 41, 64, 100, 1000].map((n): [string, Uint8Array] => [`${n} random bytes`, random(n)]),
      ['a copy of a frame of segment 1 (other salt)', segments[0]!.bytes.slice(seg1Frame.offset, seg1Frame.offset + seg1Frame.size)],
      ['a copy of the last frame itself (same salt, stale LSN)', last.bytes.slice(ownLast.offset, ownLast.offset + ownLast.size)],
    ];
    for (const [what, garbage] of cases) {
      const fs = exactCopy(base.mem);
      await writeAt(fs, last.path, last.bytes.length, garbage);
      const ok = expectSuccess(await recover(fs), what);
      assertPrefix(ok.batches, batches, batches.length, what);
      assert.equal(ok.report.outcome, 'repaired', what);
      assert.deepEqual(ok.report.events.map((e) => [e.file, e.offset, e.finding, e.action, e.bytes]), [[last.path, last.bytes.length, 'torn', 'truncate', garbage.length]], what);
      assert.equal(ok.report.bytesTruncated, garbage.length, what);
      assert.deepEqual(fs.readFileSync(last.path), last.bytes, `${what}: exactly the garbage was cut`);
      await appendAfter(fs, batches, what);
    }
  });

  describe('(e) recovery modes on damage inside a sealed segment', () => {
    const seg = segments[1]!;
    const victim = seg.frames[Math.floor(seg.frames.length / 2)]!;
    const vi = batches.findIndex((b) => b.firstLsn === victim.firstLsn);
    const damaged = async (): Promise<CrashableMemFileSystem> => {
      const fs = exactCopy(base.mem);
      await flipBit(fs, seg.path, victim.offset + 45, 3); // inside the body
      return fs;
    };

    it('default mode: WAL_CORRUPTED with file, offset and the LSN range; nothing changed on disk', async () => {
      const fs = await damaged();
      const before = await snapshotDir(fs, DIR);
      const e = expectFailure(await recover(fs), 'default');
      assert.deepEqual([e.details.file, e.details.offset], [seg.path, victim.offset]);
      assertAffectedRange(e.details.lsnRange, victim, seg, 'default mode');
      assert.deepEqual(await snapshotDir(fs, DIR), before, 'failing closed modifies nothing');
    });

    it('absolute-consistency: opens a clean log, refuses a torn tail and a damaged sealed segment', async () => {
      const clean = expectSuccess(await recover(exactCopy(base.mem), { recoveryMode: 'absolute-consistency' }), 'clean log');
      assert.equal(clean.report.outcome, 'clean');
      assertPrefix(clean.batches, batches, batches.length, 'clean log');
      const torn = exactCopy(base.mem);
      await writeAt(torn, last.path, last.bytes.length, Uint8Array.of(1, 2, 3, 4, 5));
      const before = await snapshotDir(torn, DIR);
      const e = expectFailure(await recover(torn, { recoveryMode: 'absolute-consistency' }), 'torn tail');
      assert.deepEqual([e.details.file, e.details.offset, e.details.finding], [last.path, last.bytes.length, 'torn']);
      assert.deepEqual(await snapshotDir(torn, DIR), before, 'nothing repaired');
      const e2 = expectFailure(await recover(await damaged(), { recoveryMode: 'absolute-consistency' }), 'sealed damage');
      assert.equal(e2.details.offset, victim.offset);
    });

    it('point-in-time: the log ends before the damage; later segments are renamed *.dropped', async () => {
      const fs = await damaged();
      const ok = expectSuccess(await recover(fs, { recoveryMode: 'point-in-time' }), 'point-in-time');
      assertPrefix(ok.batches, batches, vi, 'point-in-time');
      assert.equal(ok.report.outcome, 'salvaged');
      assert.equal(ok.report.lastLsn, victim.firstLsn - 1);
      assert.deepEqual(ok.report.events.map((e) => [e.file, e.action]), [[seg.path, 'truncate-rest'], [segments[2]!.path, 'truncate-rest'], [last.path, 'truncate-rest']]);
      assert.equal(fs.readFileSync(seg.path).length, victim.offset, 'the damaged segment is cut at the damage');
      for (const s of [segments[2]!, last]) {
        assert.deepEqual(fs.readFileSync(`${s.path}.dropped`), s.bytes, `${s.path} kept as .dropped, unchanged`);
      }
      assert.ok(!fs.listFiles().includes(segments[2]!.path) || fs.readFileSync(segments[2]!.path).length === 48, 'segment 3 name now holds the fresh segment, if any');
      // The log is usable: appends continue at the LSN of the lost batch; it reopens clean by default.
      await appendAfter(fs, batches.slice(0, vi), 'after point-in-time');
    });

    it('skip-corrupted: replay steps over exactly the damaged batch; later batches are kept', async () => {
      const fs = await damaged();
      const replayed: Batch[] = [];
      const wal = await Wal.open(DIR, { ...OPTIONS, fs, recoveryMode: 'skip-corrupted', onReplay: (b) => void replayed.push(toBatch(b)) });
      try {
        const want = batches.filter((_, i) => i !== vi);
        assert.deepEqual(replayed.map((b) => b.firstLsn), want.map((b) => b.firstLsn));
        replayed.forEach((b, i) => assert.deepEqual(b.payloads, want[i]!.payloads));
        const rep = wal.recovery;
        assert.equal(rep.outcome, 'salvaged');
        assert.deepEqual(rep.events.map((e) => [e.file, e.offset, e.finding, e.action, e.bytes]), [[seg.path, victim.offset, 'corrupt', 'skip', victim.size]]);
        assert.equal(rep.lastLsn, batches[batches.length - 1]!.lastLsn);
        const r = await wal.append({ op: OpType.User, payload: Uint8Array.of(1) });
        assert.equal(r.firstLsn, rep.lastLsn + 1, 'appends continue after the last batch');
      } finally {
        await wal.close();
      }
    });

    it(
      'skip-corrupted: the skip event carries the skipped LSN range',
      async () => {
        const wal = await Wal.open(DIR, { ...OPTIONS, fs: await damaged(), recoveryMode: 'skip-corrupted' });
        try {
          assert.deepEqual(wal.recovery.events[0]!.lsnRange, [victim.firstLsn, victim.lastLsn]);
        } finally {
          await wal.close();
        }
      },
    );

    it(
      'skip-corrupted: read() after the open yields the kept batches',
      async () => {
        const wal = await Wal.open(DIR, { ...OPTIONS, fs: await damaged(), recoveryMode: 'skip-corrupted' });
        try {
          const got: Batch[] = [];
          for await (const b of wal.read()) got.push(toBatch(b));
          assert.deepEqual(got.map((b) => b.firstLsn), batches.filter((_, i) => i !== vi).map((b) => b.firstLsn));
        } finally {
          await wal.close();
        }
      },
    );

    it(
      'skip-corrupted: damage in the last frame of a sealed segment keeps the later segments',
      async () => {
        const tail = seg.frames[seg.frames.length - 1]!;
        const ti = batches.findIndex((b) => b.firstLsn === tail.firstLsn);
        const fs = exactCopy(base.mem);
        await flipBit(fs, seg.path, tail.offset + 45, 3);
        const replayed: number[] = [];
        const wal = await Wal.open(DIR, { ...OPTIONS, fs, recoveryMode: 'skip-corrupted', onReplay: (b) => void replayed.push(b.firstLsn) });
        try {
          assert.deepEqual(replayed, batches.filter((_, i) => i !== ti).map((b) => b.firstLsn), 'later segments are intact and must be kept');
        } finally {
          await wal.close();
        }
      },
    );
  });

  it('(f) damage in the last segment proven durable by a later frame fails closed, no silent truncation', async () => {
    for (const fi of [0, 1, last.frames.length - 2]) {
      const victim = last.frames[fi]!;
      const later = last.frames.slice(fi + 1);
      assert.ok(later.some((f) => f.syncedThrough > victim.offset), 'precondition: a later frame says the victim was fsynced');
      for (const at of [victim.offset, victim.offset + 4, victim.offset + 8, victim.offset + 41, victim.offset + victim.size - 1]) {
        const what = `last segment frame ${fi} byte ${at}`;
        const fs = exactCopy(base.mem);
        await flipBit(fs, last.path, at, 0);
        const before = await snapshotDir(fs, DIR);
        const e = await expectCode(Wal.open(DIR, { ...OPTIONS, fs }), 'WAL_CORRUPTED', what);
        assert.deepEqual([e.details.file, e.details.offset, e.details.finding], [last.path, victim.offset, 'corrupt'], what);
        assertAffectedRange(e.details.lsnRange, victim, last, what);
        assert.match(e.message, /acknowledged as durable/);
        assert.deepEqual(await snapshotDir(fs, DIR), before, `${what}: nothing truncated`);
      }
    }
  });
});
