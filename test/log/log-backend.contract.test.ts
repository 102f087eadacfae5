/**
 * The LogBackend contract (src/log/log-backend.ts), run against every implementation: the file
 * WAL on the in-memory FS and on the real disk now; the JetStream log joins this list when it
 * exists. Each backend is created fresh per test through its factory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogBackend } from '../../src/log/log-backend.js';
import { Wal } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { isVecwalError } from '../../src/errors.js';

interface Factory {
  name: string;
  /** Open a backend; `reopen` gives a new instance over the same storage after close. */
  make(): Promise<{ log: LogBackend; reopen: () => Promise<LogBackend>; dispose: () => Promise<void> }>;
}

const FACTORIES: Factory[] = [
  {
    name: 'file WAL on the in-memory FS',
    async make() {
      const fs = new CrashableMemFileSystem();
      const opts = { fs, segmentSizeBytes: 1024 };
      return { log: await Wal.open('/wal', opts), reopen: () => Wal.open('/wal', opts), dispose: async () => undefined };
    },
  },
  {
    name: 'file WAL on the real disk',
    async make() {
      const dir = await mkdtemp(join(tmpdir(), 'vecwal-contract-'));
      const opts = { segmentSizeBytes: 1024 };
      return { log: await Wal.open(dir, opts), reopen: () => Wal.open(dir, opts), dispose: () => rm(dir, { recursive: true, force: true }) };
    },
  },
];

const rec = (s: string) => ({ op: OpType.Insert, payload: new TextEncoder().encode(s) });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function collect(log: LogBackend, from?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const b of log.read(from)) for (const r of b.records) out.push(`${r.lsn}:${text(r.payload)}`);
  return out;
}

for (const f of FACTORIES) {
  describe(`LogBackend contract: ${f.name}`, () => {
    test('append assigns dense increasing LSNs; batches are atomic and read back in order', async () => {
      const { log, dispose } = await f.make();
      try {
        const a = await log.append([rec('a'), rec('b')]);
        const b = await log.append(rec('c'));
        const [c, d] = await Promise.all([log.append([rec('d'), rec('e'), rec('f')]), log.append(rec('g'))]);
        assert.deepEqual([a, b, c, d], [{ firstLsn: 1, lastLsn: 2 }, { firstLsn: 3, lastLsn: 3 }, { firstLsn: 4, lastLsn: 6 }, { firstLsn: 7, lastLsn: 7 }]);
        assert.equal(log.lastLsn, 7);
        assert.equal(log.durableLsn, 7);
        assert.deepEqual(await collect(log), ['1:a', '2:b', '3:c', '4:d', '5:e', '6:f', '7:g']);
        assert.deepEqual(await collect(log, 5), ['4:d', '5:e', '6:f', '7:g'], 'a read from inside a batch yields the whole batch');
        await log.close();
      } finally {
        await dispose();
      }
    });

    test('data survives close and reopen; LSNs continue', async () => {
      const { log, reopen, dispose } = await f.make();
      try {
        for (let i = 0; i < 50; i++) await log.append(rec(`r${i}`));
        await log.close();
        const again = await reopen();
        assert.equal((await collect(again)).length, 50);
        assert.deepEqual(await again.append(rec('next')), { firstLsn: 51, lastLsn: 51 });
        await again.close();
      } finally {
        await dispose();
      }
    });

    test('truncate drops nothing above the given LSN', async () => {
      const { log, dispose } = await f.make();
      try {
        for (let i = 0; i < 100; i++) await log.append(rec(`record number ${i} with some padding to fill segments`));
        await log.truncate(60);
        const left = await collect(log, 61);
        assert.equal(left.length, 40);
        assert.equal(left[0], '61:record number 60 with some padding to fill segments');
        await log.close();
      } finally {
        await dispose();
      }
    });

    test('after close every method rejects with CLOSED', async () => {
      const { log, dispose } = await f.make();
      try {
        await log.close();
        await assert.rejects(log.append(rec('x')), (e) => isVecwalError(e, 'CLOSED'));
        await assert.rejects(collect(log), (e) => isVecwalError(e, 'CLOSED'));
        await assert.rejects(log.truncate(0), (e) => isVecwalError(e, 'CLOSED'));
      } finally {
        await dispose();
      }
    });
  });
}
