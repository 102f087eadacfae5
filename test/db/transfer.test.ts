/**
 * Columnar writes with `transfer: true` (WriteOptions.transfer): the vector column's memory
 * changes hands instead of being copied.
 *   - a Float32Array spanning its whole ArrayBuffer is taken: the caller's array is detached,
 *     and the rows read back, search, flush and survive a power cut exactly as copied ones do;
 *   - anything else (a view into a larger buffer, number[], WebAssembly memory, which cannot be
 *     detached) is copied and left to the caller;
 *   - an invalid batch (non-finite value, duplicate keys within it) is refused before anything
 *     changes hands: the caller keeps an intact array;
 *   - upsert takes it over the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { Database } from '../../src/db/database.js';
import { wasmApi } from '../../src/search/wasm/api.js';
import { schemaOf } from '../support/batches.js';

const DIM = 4;
const SCHEMA = schemaOf([
  { name: 'id', dataType: 'Int64', isPrimaryKey: true },
  { name: 'vec', dataType: 'FloatVector', dim: DIM },
]);

async function open() {
  const fs = new CrashableMemFileSystem();
  const db = await Database.open('/db', { fs, flushIntervalMs: 0 });
  await db.createCollection(SCHEMA);
  return { fs, db };
}

const vectors = (n: number, base: number) => Float32Array.from({ length: n * DIM }, (_, i) => base + i / 8);

async function readVectors(db: Database): Promise<Map<number, number[]>> {
  const rows = await db.read.query('c', { filter: 'id >= 0', outputFields: ['id', 'vec'], limit: 100_000 });
  return new Map(rows.map((r) => [Number(r.id), Array.from(r.vec as Float32Array)]));
}

test('a whole-buffer Float32Array is taken over: detached for the caller, the same rows for the database', async () => {
  const { fs, db } = await open();
  const vec = vectors(3, 1);
  const want = Array.from(vec);
  await db.insert('c', { id: [1, 2, 3], vec }, { transfer: true });
  assert.equal(vec.length, 0, "the caller's array is detached");
  assert.equal(vec.buffer.byteLength, 0);
  const got = await readVectors(db);
  assert.deepEqual([...got.keys()].sort(), [1, 2, 3]);
  assert.deepEqual([1, 2, 3].flatMap((id) => got.get(id)!), want);
  const hit = (await db.read.search('c', { data: want.slice(DIM, 2 * DIM), limit: 1 }))[0]![0]!;
  assert.equal(hit.id, 2n);
  // Upsert takes it over too; newest wins.
  const v2 = vectors(1, 100);
  await db.upsert('c', { id: [2], vec: v2 }, { transfer: true });
  assert.equal(v2.length, 0);
  assert.deepEqual((await readVectors(db)).get(2), Array.from(vectors(1, 100)));
  await db.flush();
  await db.insert('c', { id: [4], vec: vectors(1, 7) }, { transfer: true });
  await db.close();
  const again = await Database.open('/db', { fs: fs.crashClone({ seed: 5, unsyncedKeepProbability: 0 }), flushIntervalMs: 0 });
  const after = await readVectors(again);
  assert.deepEqual(after.get(1), want.slice(0, DIM));
  assert.deepEqual(after.get(2), Array.from(vectors(1, 100)));
  assert.deepEqual(after.get(4), Array.from(vectors(1, 7)), 'the unflushed one, from the WAL');
  await again.close();
});

test('anything else is copied: a view into a larger buffer, a number[]', async () => {
  const { db } = await open();
  const big = vectors(4, 1);
  const view = big.subarray(DIM, 3 * DIM); // rows 1-2 of a larger buffer
  await db.insert('c', { id: [10, 11], vec: view }, { transfer: true });
  assert.equal(view.length, 2 * DIM, 'not taken');
  big.fill(0); // the caller may reuse it: the stored rows are a copy
  const plain = Array.from(vectors(1, 9));
  await db.insert('c', { id: [12], vec: plain }, { transfer: true });
  // WebAssembly memory spans its whole buffer but cannot be detached: copied, never shared.
  const wasm = new Float32Array(new wasmApi!.Memory({ initial: 1 }).buffer); // 64 KiB
  wasm.fill(0.5);
  const n = wasm.length / DIM;
  await db.insert('c', { id: Array.from({ length: n }, (_, i) => 100 + i), vec: wasm }, { transfer: true });
  assert.equal(wasm.length, n * DIM, 'WebAssembly memory stays with the caller');
  wasm.fill(9); // the stored rows are a copy
  const got = await readVectors(db);
  assert.deepEqual(got.get(10), Array.from(vectors(4, 1).subarray(DIM, 2 * DIM)));
  assert.deepEqual(got.get(12), plain);
  assert.deepEqual(got.get(100 + n - 1), [0.5, 0.5, 0.5, 0.5]);
  await db.close();
});

test('an invalid batch is refused before its memory changes hands', async () => {
  const { db } = await open();
  const bad = vectors(2, 1);
  bad[DIM + 1] = Number.NaN;
  await assert.rejects(db.insert('c', { id: [1, 2], vec: bad }, { transfer: true }), { code: 'DATA_INVALID' });
  assert.equal(bad.length, 2 * DIM, 'a refused batch leaves the array with the caller');
  const dup = vectors(2, 1);
  await assert.rejects(db.insert('c', { id: [5, 5], vec: dup }, { transfer: true }), { code: 'DATA_INVALID' });
  assert.equal(dup.length, 2 * DIM);
  assert.equal((await readVectors(db)).size, 0, 'nothing written');
  await db.close();
});
