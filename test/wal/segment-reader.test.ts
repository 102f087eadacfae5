/**
 * The segment reader on logs big enough for its read path to matter (src/wal/segment-reader.ts):
 * bytes are read in 2 MiB chunks into reused staging buffers and placed into "slabs" of 2 MiB
 * that hold whole frames, planned by walking the frame headers' lengths; a frame of 512 KiB or
 * more gets a slab of its own, exactly its size, and the end of it is read straight into it.
 *
 * Goal: whatever the frame sizes and wherever a frame or its header falls against a read or a
 * slab boundary, the reader yields exactly the frames written, at their offsets, with payloads
 * that are views that stay intact after the scan (the engine keeps them), 8-aligned as in the
 * file; and damage, a torn tail, zeros and misleading frame lengths are reported as before.
 *
 * Method: one log of ~33 MB is laid out so that frame headers straddle a read boundary (at a
 * slab's end, before a frame bigger than a slab; inside a slab; before a frame with a slab of its
 * own), frames are 512 KiB (the least that gets a slab of its own) and 8 bytes less, 600 KiB,
 * 1 MiB + 8, exactly a slab, a slab + 8, 3, 5 and 9 MiB, with hundreds of small frames (random sizes from a seed) between them. It is scanned on
 * the in-memory filesystem and on the real disk, then damaged in several ways (in memory).
 * Expected values come from the layout itself (offsets, LSNs, payload bytes from the LSN).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileSystem } from '../../src/fs/fs.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { NodeFileSystem } from '../../src/fs/node-fs.js';
import { joinPath } from '../../src/fs/io.js';
import { Wal, type WalBatch } from '../../src/wal/wal.js';
import { FRAME_HEADER_SIZE, OpType, RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, alignFrame, segmentFileName } from '../../src/wal/format.js';
import { scanSegment, type SegmentScan } from '../../src/wal/segment-reader.js';
import { Rng, seedFromEnv } from '../../src/util/rng.js';
import type { Frame } from '../../src/wal/codec.js';
import { writeAt } from '../support/wal-test-helpers.js';

const SEED = seedFromEnv('VECWAL_SEED');
const MiB = 1024 * 1024;
const DIR = '/wal';

/** Payload bytes of the record with this LSN. */
function payloadOf(lsn: number, length: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = (lsn * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** A frame of one record whose frame is `frameBytes` long (a multiple of 8, at least 48). */
function recordFor(frameBytes: number): number {
  return frameBytes - FRAME_HEADER_SIZE - RECORD_HEADER_SIZE;
}

interface Planned {
  /** Payload lengths of the frame's records. */
  records: number[];
}

/** The layout: frame sizes chosen against the 2 MiB read and slab boundaries. */
function layout(seed: number): Planned[] {
  const rng = new Rng(seed);
  const out: Planned[] = [];
  let at = SEGMENT_HEADER_SIZE;
  const add = (...records: number[]) => {
    out.push({ records });
    at += alignFrame(FRAME_HEADER_SIZE + records.reduce((n, len) => n + RECORD_HEADER_SIZE + len, 0));
  };
  const frame = (bytes: number) => add(recordFor(bytes));
  const small = (n: number) => {
    for (let i = 0; i < n; i++) add(rng.int(5000));
  };
  /** A frame that makes the next one start at `target` (or 2 MiB later if too close). */
  const padTo = (target: number) => frame(target - at >= 64 ? target - at : target + 2 * MiB - at);
  frame(2 * MiB - 24 - SEGMENT_HEADER_SIZE); // ends 24 bytes before the first read (and slab) ends
  frame(3 * MiB + 8); // its header straddles both; it is bigger than a slab
  small(400);
  padTo(8 * MiB - 16);
  add(100); // a small frame whose header straddles a read boundary inside a slab
  small(20);
  frame(512 * 1024); // big enough for a slab of its own (and exactly that)
  frame(512 * 1024 - 8); // just too small for one
  small(5);
  frame(600 * 1024);
  padTo(12 * MiB - 8);
  frame(700 * 1024); // a slab of its own, its header straddling a read boundary
  frame(1024 * 1024 + 8);
  frame(2 * MiB); // exactly a slab
  frame(2 * MiB + 8); // a slab and 8 bytes
  add(3000, 100_000, 0, 250_000); // several records in one frame
  small(150);
  frame(5 * MiB);
  small(3);
  frame(9 * MiB);
  small(300);
  frame(3 * MiB);
  small(50);
  return out;
}

interface Written {
  /** Per frame: offset, first LSN, payload lengths. */
  frames: { at: number; firstLsn: number; records: number[]; size: number }[];
  path: string;
  end: number;
}

async function writeLog(fs: FileSystem, dir: string, plan: Planned[], syncPolicy: 'none' | 'always'): Promise<Written> {
  const wal = await Wal.open(dir, { fs, syncPolicy, preallocateBytes: 0, salt: () => 0x5eed5eed });
  const frames: Written['frames'] = [];
  let at = SEGMENT_HEADER_SIZE;
  let lsn = 1;
  const pending: Promise<unknown>[] = [];
  for (const p of plan) {
    const size = alignFrame(FRAME_HEADER_SIZE + p.records.reduce((n, len) => n + RECORD_HEADER_SIZE + len, 0));
    frames.push({ at, firstLsn: lsn, records: p.records, size });
    pending.push(wal.append(p.records.map((len, i) => ({ op: OpType.Insert, payload: payloadOf(lsn + i, len) }))));
    at += size;
    lsn += p.records.length;
  }
  await Promise.all(pending);
  await wal.close();
  return { frames, path: joinPath(dir, segmentFileName(1)), end: at };
}

function checkFrame(got: Frame, at: number, want: Written['frames'][number], what: string): void {
  assert.equal(at, want.at, `${what}: offset`);
  assert.equal(got.firstLsn, want.firstLsn, `${what}: first LSN`);
  assert.equal(got.size, want.size, `${what}: size`);
  assert.equal(got.records.length, want.records.length, `${what}: records`);
  got.records.forEach((r, i) => {
    assert.equal(r.lsn, want.firstLsn + i);
    assert.equal(r.payload.length, want.records[i], `${what}: payload ${i} length`);
    assert.ok(Buffer.from(r.payload).equals(payloadOf(r.lsn, want.records[i]!)), `${what}: payload ${i} bytes`);
  });
  // The first payload starts 48 bytes into an 8-aligned frame: its view keeps that alignment,
  // so the engine's column views need no copy.
  const first = got.records[0]!.payload;
  assert.equal(first.byteOffset % 8, 0, `${what}: payload alignment`);
}

async function scanAll(fs: FileSystem, path: string, skipBad = false): Promise<{ scan: SegmentScan; seen: { frame: Frame; at: number }[] }> {
  const seen: { frame: Frame; at: number }[] = [];
  const scan = await scanSegment(fs, path, { skipBad, onFrame: (frame, at) => void seen.push({ frame, at }) });
  return { scan, seen };
}

/** Every retained frame still holds its bytes (nothing handed out was overwritten). */
function recheck(seen: { frame: Frame; at: number }[], w: Written): void {
  const byAt = new Map(w.frames.map((f) => [f.at, f]));
  for (const s of seen) checkFrame(s.frame, s.at, byAt.get(s.at)!, `frame at ${s.at} after the scan`);
}

/** Flip bit 6 of the byte at `offset` (on any FileSystem: the real disk too). */
async function flip(fs: FileSystem, path: string, offset: number): Promise<void> {
  const b = new Uint8Array(1);
  const h = await fs.open(path, 'r');
  try {
    await h.read(b, 0, 1, offset);
  } finally {
    await h.close();
  }
  await writeAt(fs, path, offset, Uint8Array.of(b[0]! ^ 0x40));
}

const KINDS: { name: string; make: () => Promise<{ fs: FileSystem; dir: string; done: () => Promise<void> }> }[] = [
  { name: 'in memory', make: async () => ({ fs: new CrashableMemFileSystem(), dir: DIR, done: async () => undefined }) },
  {
    name: 'real disk',
    make: async () => {
      const root = await mkdtemp(join(tmpdir(), 'vecwal-reader-'));
      return { fs: new NodeFileSystem(), dir: join(root, 'wal'), done: () => rm(root, { recursive: true, force: true }) };
    },
  },
];

describe('segment reader on a big log', () => {
  for (const kind of KINDS) {
    it(`yields every frame in place, with payloads that stay intact (${kind.name})`, async (t) => {
      t.diagnostic(`seed ${SEED}`);
      const env = await kind.make();
      try {
        const w = await writeLog(env.fs, env.dir, layout(SEED), 'none');
        const { scan, seen } = await scanAll(env.fs, w.path);
        assert.deepEqual(scan.bad, []);
        assert.equal(scan.validEnd, w.end);
        assert.equal(scan.frames, w.frames.length);
        assert.equal(seen.length, w.frames.length);
        seen.forEach((s, i) => checkFrame(s.frame, s.at, w.frames[i]!, `frame ${i}`));
        recheck(seen, w);

        // Recovery replays the same batches; a read from the middle and a live read agree.
        const replayed: WalBatch[] = [];
        const wal = await Wal.open(env.dir, { fs: env.fs, syncPolicy: 'none', onReplay: (b) => void replayed.push(b) });
        try {
          assert.equal(wal.recovery.outcome, 'clean');
          assert.equal(replayed.length, w.frames.length);
          replayed.forEach((b, i) => assert.equal(b.firstLsn, w.frames[i]!.firstLsn));
          const mid = w.frames[w.frames.length >> 1]!;
          const tail: WalBatch[] = [];
          for await (const b of wal.read(mid.firstLsn)) tail.push(b);
          assert.equal(tail.length, w.frames.length - (w.frames.length >> 1));
          assert.ok(Buffer.from(tail[0]!.records[0]!.payload).equals(payloadOf(mid.firstLsn, mid.records[0]!)));
          // A reader that stops early (reads still in flight) lets go cleanly.
          for await (const b of wal.read(w.frames[3]!.firstLsn)) {
            assert.equal(b.firstLsn, w.frames[3]!.firstLsn);
            break;
          }
          // Appends go to a segment that is read while it is active (up to its written end).
          const more = await wal.append({ op: OpType.Insert, payload: payloadOf(wal.nextLsn, 3 * MiB) });
          const last: WalBatch[] = [];
          for await (const b of wal.read(more.firstLsn)) last.push(b);
          assert.equal(last.length, 1);
          assert.ok(Buffer.from(last[0]!.records[0]!.payload).equals(payloadOf(more.firstLsn, 3 * MiB)));
        } finally {
          await wal.close();
        }
        for (const b of replayed) {
          const f = w.frames.find((x) => x.firstLsn === b.firstLsn)!;
          b.records.forEach((r, i) => assert.ok(Buffer.from(r.payload).equals(payloadOf(r.lsn, f.records[i]!)), `replayed LSN ${r.lsn} after close`));
        }
      } finally {
        await env.done();
      }
    });
  }

  it('reports damage deep in the log where it is, and skip mode reads on past it', async () => {
    const fs = new CrashableMemFileSystem();
    const w = await writeLog(fs, DIR, layout(SEED), 'always');
    const big = w.frames.findIndex((f) => f.size === alignFrame(5 * MiB));
    const hit = w.frames[big]!;
    await flip(fs, w.path, hit.at + 3 * MiB);
    const { scan, seen } = await scanAll(fs, w.path, true);
    assert.equal(scan.bad.length, 1);
    const spot = scan.bad[0]!;
    assert.equal(spot.offset, hit.at);
    assert.equal(spot.kind, 'bad-crc');
    assert.equal(spot.resumeAt, w.frames[big + 1]!.at);
    assert.equal(spot.laterFrames, w.frames.length - big - 1);
    assert.equal(spot.provenDurable, true); // frames after it were written after syncs past it
    assert.equal(spot.lsnBefore, hit.firstLsn - 1);
    assert.equal(seen.length, w.frames.length - 1);
    const want = w.frames.filter((_, i) => i !== big);
    seen.forEach((s, i) => checkFrame(s.frame, s.at, want[i]!, `frame ${i} around the damage`));
    recheck(seen, w);
    // The default mode refuses to open: acknowledged data is damaged.
    await assert.rejects(Wal.open(DIR, { fs }), (e: { code?: string; details?: { offset?: number } }) => e.code === 'WAL_CORRUPTED' && e.details?.offset === hit.at);
  });

  it('a misleading frame length (a damaged header) does not hide the frames after it', async () => {
    const fs = new CrashableMemFileSystem();
    const w = await writeLog(fs, DIR, layout(SEED), 'none');
    // A small frame early in the log claims a 7 MiB body: plausible, so the header walk follows
    // it (slabs are planned on it) while the cursor finds a checksum mismatch and looks past.
    const i = 10;
    const hit = w.frames[i]!;
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, 7 * MiB, true);
    await writeAt(fs, w.path, hit.at + 4, len);
    const { scan, seen } = await scanAll(fs, w.path, true);
    assert.equal(scan.bad.length, 1);
    assert.equal(scan.bad[0]!.offset, hit.at);
    assert.equal(scan.bad[0]!.resumeAt, w.frames[i + 1]!.at);
    assert.equal(seen.length, w.frames.length - 1);
    const want = w.frames.filter((_, k) => k !== i);
    seen.forEach((s, k) => assert.equal(s.at, want[k]!.at, `frame ${k}`));
    recheck(seen, w);
  });

  it('a tail cut inside a big frame is a torn tail; zeros after the last frame are a clean end', async () => {
    const fs = new CrashableMemFileSystem();
    const w = await writeLog(fs, DIR, layout(SEED), 'none');
    const zeros = new Uint8Array(3 * MiB + 5);
    await writeAt(fs, w.path, w.end, zeros);
    const clean = await scanAll(fs, w.path);
    assert.deepEqual(clean.scan.bad, []);
    assert.equal(clean.scan.validEnd, w.end);
    assert.equal(clean.seen.length, w.frames.length);

    const big = w.frames.findIndex((f) => f.size === alignFrame(9 * MiB));
    const cut = w.frames[big]!.at + 4 * MiB + 3;
    const h = await fs.open(w.path, 'r+');
    await h.truncate(cut);
    await h.datasync();
    await h.close();
    const { scan, seen } = await scanAll(fs, w.path);
    assert.equal(scan.bad.length, 1);
    assert.equal(scan.bad[0]!.offset, w.frames[big]!.at);
    assert.equal(scan.bad[0]!.kind, 'length-past-eof');
    assert.equal(scan.validEnd, w.frames[big]!.at);
    assert.equal(seen.length, big);
    recheck(seen, w);
    const wal = await Wal.open(DIR, { fs });
    try {
      assert.equal(wal.recovery.outcome, 'repaired');
      assert.equal(wal.recovery.bytesTruncated, cut - w.frames[big]!.at);
      assert.equal(wal.recovery.lastLsn, w.frames[big]!.firstLsn - 1);
    } finally {
      await wal.close();
    }
  });
});
