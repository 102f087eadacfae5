/**
 * Findings about recovery's report and set-aside files, met while building `vecwal wal repair`
 * (which works around both: it computes cut LSN ranges from its own scan, and keeps a copy of
 * every set-aside file in its backup directory). Both are fixed; these tests keep them fixed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { readFile } from '../../src/fs/io.js';
import { Wal, type WalOptions } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { scanSegment } from '../../src/wal/segment-reader.js';

const DIR = '/wal';
const OPTIONS: WalOptions = { segmentSizeBytes: 1024, preallocateBytes: 0, now: () => 1_700_000_000_000 };

/** A closed log of 2-record batches over several 1 KiB segments. */
async function logWithSegments(fs: CrashableMemFileSystem, batches: number): Promise<void> {
  const wal = await Wal.open(DIR, { ...OPTIONS, fs });
  for (let b = 0; b < batches; b++) {
    await wal.append([{ op: OpType.Insert, payload: new TextEncoder().encode(`batch ${b} a`) }, { op: OpType.Upsert, payload: new TextEncoder().encode(`batch ${b} b`) }]);
  }
  await wal.close();
}

async function frames(fs: CrashableMemFileSystem, path: string): Promise<{ at: number; firstLsn: number; last: number }[]> {
  const out: { at: number; firstLsn: number; last: number }[] = [];
  await scanSegment(fs, path, { onFrame: (f, at) => void out.push({ at, firstLsn: f.firstLsn, last: f.firstLsn + f.records.length - 1 }) });
  return out;
}

async function flipByte(fs: CrashableMemFileSystem, path: string, offset: number): Promise<void> {
  const h = await fs.open(path, 'r+');
  const b = new Uint8Array(1);
  await h.read(b, 0, 1, offset);
  b[0] = b[0]! ^ 0xff;
  await h.write(b, 0, 1, offset);
  await h.datasync();
  await h.close();
}

test(
  'point-in-time: the truncate-rest event of the damaged segment covers every LSN the cut removes',
  async () => {
    const fs = new CrashableMemFileSystem();
    await logWithSegments(fs, 30);
    const seg2 = `${DIR}/wal_000002.log`;
    const f = await frames(fs, seg2);
    await flipByte(fs, seg2, f[1]!.at + 50);
    const wal = await Wal.open(DIR, { ...OPTIONS, fs, recoveryMode: 'point-in-time' });
    try {
      const e = wal.recovery.events.find((x) => x.file === seg2)!;
      assert.equal(e.action, 'truncate-rest');
      // The cut at f[1].at removes f[1] (damaged) and f[2..] (intact, but behind the cut).
      assert.deepEqual(e.lsnRange, [f[1]!.firstLsn, f[f.length - 1]!.last]);
    } finally {
      await wal.close();
    }
  },
);

test(
  'point-in-time twice: setting a segment aside never replaces an earlier *.dropped file',
  async () => {
    const fs = new CrashableMemFileSystem();
    await logWithSegments(fs, 30);
    const seg2 = `${DIR}/wal_000002.log`;
    const seg3 = `${DIR}/wal_000003.log`;
    const firstDropped = await readFile(fs, seg3);
    await flipByte(fs, seg2, (await frames(fs, seg2))[1]!.at + 50);
    // First salvage: seg 2 cut, seg 3 (and later) set aside; open then creates a fresh wal_000003.log.
    const wal1 = await Wal.open(DIR, { ...OPTIONS, fs, recoveryMode: 'point-in-time' });
    for (let i = 0; i < 40; i++) await wal1.append({ op: OpType.User, payload: new TextEncoder().encode(`after ${i}`) });
    await wal1.close();
    assert.deepEqual(await readFile(fs, `${seg3}.dropped`), firstDropped);
    // Second salvage: damage the first frame of wal_000002.log (its CRC), so the new wal_000003.log is set aside too.
    await flipByte(fs, seg2, 48);
    const wal2 = await Wal.open(DIR, { ...OPTIONS, fs, recoveryMode: 'point-in-time' });
    await wal2.close();
    assert.deepEqual(await readFile(fs, `${seg3}.dropped`), firstDropped, 'the first set-aside copy of wal_000003.log survives');
  },
);
