/**
 * Filtered search on sealed segments reuses the allowed-rows bitset of a filter (src/db/reader.ts
 * cachedAllowBits). It must never serve a stale one: a row deleted after the first search must
 * not come back, and a different filter or different parameters must not share a bitset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Database } from '../../src/db/database.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';

test('filtered search after deletes and with other filters never reuses a stale bitset', async () => {
  const db = await Database.open('/db', { fs: new CrashableMemFileSystem(), flushIntervalMs: 0 });
  await db.createCollection({ name: 'c', dimension: 2, metricType: 'L2' });
  await db.insert('c', Array.from({ length: 100 }, (_, i) => ({ id: i, vector: [i, 0], n: i % 10 })));
  await db.flush();
  const ids = async (filter: string, exprParams?: Record<string, unknown>) =>
    (await db.read.search('c', { data: [0, 0], limit: 5, filter, ...(exprParams ? { exprParams } : {}) }))[0]!.map((h) => Number(h.id));
  assert.deepEqual(await ids('n == 3'), [3, 13, 23, 33, 43]);
  await db.delete('c', { ids: [13] });
  assert.deepEqual(await ids('n == 3'), [3, 23, 33, 43, 53], 'a row deleted after the first search came back');
  assert.deepEqual(await ids('n == 4'), [4, 14, 24, 34, 44]);
  assert.deepEqual(await ids('n == {v}', { v: 5 }), [5, 15, 25, 35, 45]);
  assert.deepEqual(await ids('n == {v}', { v: 6 }), [6, 16, 26, 36, 46], 'parameters must be part of the cache key');
  await db.close();
});
