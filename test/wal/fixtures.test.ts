/**
 * Committed WAL v1 logs (test/fixtures/, made by test/fixtures/make-wal-v1.ts) must open in
 * every later version with the same records, and the torn one must be repaired the same way.
 * The fixtures are copied to a temp dir first: opening takes a lock and may repair.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { FIXTURE_BATCHES, fixturePayload } from '../fixtures/make-wal-v1.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures');

async function openCopy(name: string): Promise<{ wal: Wal; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vecwal-fixture-'));
  await cp(join(FIXTURES, name), join(dir, 'wal'), { recursive: true });
  const wal = await Wal.open(join(dir, 'wal'));
  return { wal, cleanup: async () => { await wal.close(); await rm(dir, { recursive: true, force: true }); } };
}

async function checkRecords(wal: Wal): Promise<void> {
  let batches = 0;
  for await (const b of wal.read(1)) {
    assert.equal(b.records.length, 2);
    assert.equal(b.timestamp, 1_700_000_000_000 + batches);
    assert.equal(b.records[0]!.op, batches % 3 === 2 ? OpType.Delete : OpType.Insert);
    assert.equal(b.records[1]!.op, OpType.Upsert);
    for (const r of b.records) assert.deepEqual(r.payload, fixturePayload(r.lsn));
    batches++;
  }
  assert.equal(batches, FIXTURE_BATCHES);
}

test('wal-v1 fixture opens clean with every record', async () => {
  const { wal, cleanup } = await openCopy('wal-v1');
  try {
    assert.equal(wal.recovery.outcome, 'clean');
    assert.equal(wal.recovery.segments, 3);
    assert.equal(wal.recovery.lastLsn, FIXTURE_BATCHES * 2);
    await checkRecords(wal);
  } finally {
    await cleanup();
  }
});

test('wal-v1-torn fixture: the torn tail is cut and reported, records intact', async () => {
  const { wal, cleanup } = await openCopy('wal-v1-torn');
  try {
    assert.equal(wal.recovery.outcome, 'repaired');
    assert.equal(wal.recovery.bytesTruncated, 12);
    assert.equal(wal.recovery.events[0]?.finding, 'torn');
    assert.equal(wal.recovery.events[0]?.offset, 1008);
    await checkRecords(wal);
    const r = await wal.append({ op: OpType.Insert, payload: fixturePayload(61) });
    assert.equal(r.firstLsn, 61);
  } finally {
    await cleanup();
  }
});
