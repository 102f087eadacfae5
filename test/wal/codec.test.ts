/**
 * Golden bytes of the WAL format (the worked example in docs/format/wal.md), and the codec's
 * answer to every truncation and every single-bit flip of a golden frame: damage is always
 * reported, never decoded as data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeFrame, decodeSegmentHeader, encodeFrame, encodeFrameGather, encodeSegmentHeader, frameScratchBytes, frameSize, saltSeed } from '../../src/wal/codec.js';
import { seedFromEnv } from '../../src/util/rng.js';
import { OpType, parseSegmentFileName, segmentFileName } from '../../src/wal/format.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const GOLDEN_HEADER = '5657414c5345470a0100300000000000010000000000000001000000000000000068e5cf8b010000785634127df42000';
const GOLDEN_FRAME =
  '04de8e961700000001000000000000000068e5cf8b0100000200000000000000300000000000000001000000030000006162630300000004000000' +
  '69643d3700';
const SALT = 0x12345678;
const TS = 1_700_000_000_000;
const RECORDS = [
  { op: OpType.Insert, payload: new TextEncoder().encode('abc') },
  { op: OpType.Delete, payload: new TextEncoder().encode('id=7') },
];

function goldenFrame(): Uint8Array {
  const out = new Uint8Array(frameSize(RECORDS));
  encodeFrame(out, 0, RECORDS, { firstLsn: 1, timestamp: TS, syncedThrough: 48, saltSeed: saltSeed(SALT) });
  return out;
}

test('segment header golden bytes', () => {
  const h = encodeSegmentHeader({ segmentNo: 1, firstLsn: 1, createdAtMs: TS, salt: SALT });
  assert.equal(hex(h), GOLDEN_HEADER);
  const d = decodeSegmentHeader(h);
  assert.deepEqual(d, { ok: true, header: { segmentNo: 1, firstLsn: 1, createdAtMs: TS, salt: SALT } });
});

test('frame golden bytes and round trip', () => {
  const f = goldenFrame();
  assert.equal(f.length, 64);
  assert.equal(hex(f), GOLDEN_FRAME.padEnd(128, '0'));
  const d = decodeFrame(f, 0, f.length, saltSeed(SALT), 1);
  assert.equal(d.kind, 'frame');
  if (d.kind !== 'frame') return;
  assert.equal(d.frame.firstLsn, 1);
  assert.equal(d.frame.timestamp, TS);
  assert.equal(d.frame.syncedThrough, 48);
  assert.deepEqual(d.frame.records.map((r) => [r.lsn, r.op, Buffer.from(r.payload).toString()]), [
    [1, OpType.Insert, 'abc'],
    [2, OpType.Delete, 'id=7'],
  ]);
});

test('a gathered frame (big parts written from the caller\'s memory) has the bytes of the copied one and decodes', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  const part = fc.uint8Array({ minLength: 0, maxLength: 40 });
  const record = fc.record({ op: fc.constantFrom(OpType.Insert, OpType.Upsert, OpType.Delete), payload: fc.oneof(part, fc.array(part, { minLength: 1, maxLength: 5 })) });
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 32 }), fc.integer({ min: 0, max: 5 }), (records, gatherMin, at) => {
      const meta = { firstLsn: 9, timestamp: TS, syncedThrough: 48, saltSeed: saltSeed(SALT) };
      const copied = new Uint8Array(frameSize(records));
      assert.equal(encodeFrame(copied, 0, records, meta), copied.length);
      const scratch = new Uint8Array(at + frameScratchBytes(records, gatherMin)).fill(0xee);
      const pieces: Uint8Array[] = [new Uint8Array([1, 2])]; // pieces already queued stay first
      const f = encodeFrameGather(scratch, at, records, meta, pieces, gatherMin);
      assert.equal(f.size, copied.length);
      assert.equal(f.used, frameScratchBytes(records, gatherMin));
      assert.deepEqual(pieces[0], new Uint8Array([1, 2]));
      const joined = Buffer.concat(pieces.slice(1));
      assert.equal(hex(joined), hex(copied));
      const d = decodeFrame(joined, 0, joined.length, saltSeed(SALT), 9);
      assert.equal(d.kind, 'frame');
    }),
    { seed, numRuns: 300 },
  );
});

test('a frame of another segment (other salt) or at another LSN does not decode', () => {
  const f = goldenFrame();
  assert.equal(decodeFrame(f, 0, f.length, saltSeed(SALT + 1), 1).kind, 'bad-crc');
  assert.equal(decodeFrame(f, 0, f.length, saltSeed(SALT), 2).kind, 'bad-content');
});

test('every truncation of a frame is reported as torn, never as data', () => {
  const f = goldenFrame();
  for (let len = 0; len < f.length; len++) {
    const d = decodeFrame(f.subarray(0, len), 0, len, saltSeed(SALT), 1);
    assert.ok(['end', 'partial-header', 'length-past-eof'].includes(d.kind), `len ${len}: ${d.kind}`);
    if (len === 0) assert.equal(d.kind, 'end');
  }
});

test('every single-bit flip of a frame is detected', () => {
  const f = goldenFrame();
  for (let i = 0; i < f.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const g = f.slice();
      g[i]! ^= 1 << bit;
      const d = decodeFrame(g, 0, g.length, saltSeed(SALT), 1);
      assert.notEqual(d.kind, 'frame', `byte ${i} bit ${bit} went unnoticed`);
    }
  }
});

test('every single-bit flip of a segment header is detected', () => {
  const h = encodeSegmentHeader({ segmentNo: 3, firstLsn: 77, createdAtMs: TS, salt: SALT });
  for (let i = 0; i < h.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const g = h.slice();
      g[i]! ^= 1 << bit;
      assert.equal(decodeSegmentHeader(g).ok, false, `byte ${i} bit ${bit}`);
    }
  }
});

test('zeroed space reads as zero/end, not as a frame', () => {
  const z = new Uint8Array(4096);
  assert.equal(decodeFrame(z, 0, z.length, saltSeed(SALT), 1).kind, 'zero');
  assert.equal(decodeFrame(z, 0, 20, saltSeed(SALT), 1).kind, 'end');
});

test('segment file names sort as numbers and parse back', () => {
  const cases: [number, string][] = [[1, 'wal_000001.log'], [42, 'wal_000042.log'], [999_999, 'wal_999999.log'], [1_000_000, 'wal_1000000.log']];
  for (const [n, name] of cases) {
    assert.equal(segmentFileName(n), name);
    assert.equal(parseSegmentFileName(name), n);
  }
  for (const bad of ['wal_1.log', 'wal_000001.log.tmp', 'wal_000000.log', 'x_000001.log', 'wal_00000a.log']) assert.equal(parseSegmentFileName(bad), null, bad);
});
