/**
 * The primary key index (src/db/pk-index.ts): the Int64 open-addressing hash table checked
 * against a Map by fast-check (random sets, overwrites and deletes, small key spaces so that
 * collisions, long probe runs and backward-shift deletion are exercised, and growth from an
 * empty table), and PrimaryKeyIndex over Int64 and VarChar columns (blocks, deleted rows,
 * take, released blocks). Seeds are printed; VECWAL_SEED replays them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Int64HashTable, PrimaryKeyIndex, joinInt64, splitInt64 } from '../../src/db/pk-index.js';
import { MemSegment } from '../../src/db/mem-segment.js';
import type { ColumnBatch, ColumnData } from '../../src/db/types.js';
import { seedFromEnv } from '../../src/util/rng.js';

const MIN64 = -(2n ** 63n);
const MAX64 = 2n ** 63n - 1n;

type Op = { kind: 'set'; key: bigint; a: number; b: number } | { kind: 'delete'; key: bigint } | { kind: 'get'; key: bigint };

/** Keys from a small pool (many repeats and collisions) plus extremes and random 64-bit values. */
const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -40, max: 40 }).map(BigInt) },
  { weight: 2, arbitrary: fc.constantFrom(0n, -1n, MIN64, MAX64, 2n ** 32n, -(2n ** 32n), 2n ** 32n - 1n, 2n ** 31n, -(2n ** 31n)) },
  { weight: 2, arbitrary: fc.bigInt({ min: MIN64, max: MAX64 }) },
  // Keys that differ only in the high word: the hash must mix both words.
  { weight: 2, arbitrary: fc.integer({ min: -20, max: 20 }).map((h) => BigInt(h) << 32n) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), key: keyArb, a: fc.integer({ min: 0, max: 2 ** 31 - 2 }), b: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), key: keyArb }) },
);

function check(t: Int64HashTable, model: Map<bigint, [number, number]>): void {
  assert.equal(t.size, model.size);
  for (const [k, [a, b]] of model) {
    const [lo, hi] = splitInt64(k);
    const slot = t.find(lo, hi);
    assert.ok(slot >= 0, `key ${k} missing`);
    assert.deepEqual([t.valueA(slot), t.valueB(slot)], [a, b], `values of key ${k}`);
  }
  const seen = new Map<bigint, [number, number]>();
  t.forEach((lo, hi, a, b) => {
    const k = joinInt64(lo, hi);
    assert.ok(!seen.has(k), `key ${k} twice`);
    seen.set(k, [a, b]);
  });
  assert.deepEqual(seen, model);
}

test('splitInt64 / joinInt64 round trip at the edges', () => {
  for (const k of [0n, 1n, -1n, MIN64, MAX64, 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), 2n ** 31n, -(2n ** 31n) - 1n, 123456789012345n]) {
    const [lo, hi] = splitInt64(k);
    assert.ok(Number.isInteger(lo) && lo >= -(2 ** 31) && lo < 2 ** 31);
    assert.ok(Number.isInteger(hi) && hi >= -(2 ** 31) && hi < 2 ** 31);
    assert.equal(joinInt64(lo, hi), k);
    // The words are those of the key's BigInt64Array storage.
    const w = new Int32Array(BigInt64Array.of(k).buffer);
    assert.deepEqual(new Set([w[0], w[1]]), new Set([lo, hi]));
  }
});

test('Int64HashTable agrees with a Map under random sets, overwrites, deletes and growth', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 400 }), fc.integer({ min: 0, max: 64 }), (ops, expected) => {
      const table = new Int64HashTable(expected);
      const model = new Map<bigint, [number, number]>();
      for (const op of ops) {
        const [lo, hi] = splitInt64(op.key);
        if (op.kind === 'set') {
          table.set(lo, hi, op.a, op.b);
          model.set(op.key, [op.a, op.b]);
        } else if (op.kind === 'delete') {
          assert.equal(table.delete(lo, hi), model.delete(op.key));
        } else {
          const slot = table.find(lo, hi);
          const want = model.get(op.key);
          assert.equal(slot >= 0, want !== undefined);
          if (want) assert.deepEqual([table.valueA(slot), table.valueB(slot)], want);
          assert.equal(table.has(lo, hi), want !== undefined);
        }
        assert.equal(table.size, model.size);
      }
      check(table, model);
      // Load stays at most 3/4 and the capacity is a power of two.
      assert.ok(table.size * 4 <= table.capacity * 3);
      assert.equal(table.capacity & (table.capacity - 1), 0);
    }),
    { seed, numRuns: 300 },
  );
});

test('Int64HashTable: deleting every key in random order after many inserts leaves it empty and consistent', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  fc.assert(
    fc.property(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 300 }), fc.integer(), (keys, shuffleSeed) => {
      const table = new Int64HashTable();
      const model = new Map<bigint, [number, number]>();
      keys.forEach((k, i) => {
        const [lo, hi] = splitInt64(k);
        table.set(lo, hi, i, -i | 0);
        model.set(k, [i, -i | 0]);
      });
      check(table, model);
      const order = keys.slice();
      let s = shuffleSeed >>> 0;
      for (let i = order.length - 1; i > 0; i--) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const j = s % (i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const [n, k] of order.entries()) {
        const [lo, hi] = splitInt64(k);
        assert.ok(table.delete(lo, hi));
        model.delete(k);
        if (n % 17 === 0) check(table, model);
      }
      check(table, model);
      assert.equal(table.size, 0);
    }),
    { seed, numRuns: 200 },
  );
});

test('Int64HashTable: sequential keys (autoID) up to 200k grow the table and all stay findable', () => {
  const table = new Int64HashTable();
  const n = 200_000;
  const keys = new BigInt64Array(n);
  for (let i = 0; i < n; i++) keys[i] = BigInt(i) * 4096n + 1n; // strided: the low bits repeat
  const w = new Int32Array(keys.buffer);
  for (let i = 0; i < n; i++) table.set(w[2 * i]!, w[2 * i + 1]!, i & 0xffff, i);
  assert.equal(table.size, n);
  for (let i = 0; i < n; i += 7) {
    const slot = table.find(w[2 * i]!, w[2 * i + 1]!);
    assert.ok(slot >= 0);
    assert.equal(table.valueB(slot), i);
    assert.equal(table.valueA(slot), i & 0xffff);
  }
  const [lo, hi] = splitInt64(-5n);
  assert.equal(table.find(lo, hi), -1);
  table.reserve(1_000_000);
  assert.equal(table.size, n);
  assert.ok(table.capacity * 3 >= (n + 1_000_000) * 4);
  for (let i = 0; i < n; i += 13) assert.equal(table.valueB(table.find(w[2 * i]!, w[2 * i + 1]!)), i);
});

function int64Batch(keys: bigint[]): ColumnBatch {
  return { count: keys.length, columns: new Map<string, ColumnData>([['id', { type: 'Int64', values: BigInt64Array.from(keys) }]]) };
}

function stringBatch(keys: string[]): ColumnBatch {
  return { count: keys.length, columns: new Map<string, ColumnData>([['id', { type: 'VarChar', values: keys }]]) };
}

test('PrimaryKeyIndex (Int64 and VarChar) agrees with a Map of refs under random block appends, upserts and deletes', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  const step = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('append' as const), keys: fc.uniqueArray(fc.integer({ min: -30, max: 30 }), { maxLength: 12 }), upsert: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), keys: fc.array(fc.integer({ min: -30, max: 30 }), { maxLength: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('seal' as const) }) },
    // Keys above every key so far (imports, autoID): the index skips probing such batches.
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('ascending' as const), count: fc.integer({ min: 1, max: 6 }), gap: fc.integer({ min: -1, max: 3 }), upsert: fc.boolean() }) },
  );
  fc.assert(
    fc.property(fc.constantFrom('Int64' as const, 'VarChar' as const), fc.array(step, { maxLength: 60 }), (type, steps) => {
      const index = new PrimaryKeyIndex(type);
      const model = new Map<string, { seg: MemSegment; row: number; block: unknown }>();
      const key = (n: number) => (type === 'Int64' ? BigInt(n) : `k${n}`);
      let segId = 1;
      let seg = new MemSegment(segId++, 1, 'growing');
      let top = 30; // the largest key any step made
      for (const step of steps) {
        const s = step.kind === 'ascending' ? { kind: 'append' as const, upsert: step.upsert, keys: Array.from({ length: step.count }, (_, i) => top + 1 + step.gap + i) } : step;
        if (s.kind === 'append') top = Math.max(top, ...s.keys);
        if (s.kind === 'seal') {
          seg = new MemSegment(segId++, 1, 'growing');
          continue;
        }
        if (s.kind === 'delete') {
          for (const k of s.keys) {
            const ref = index.take(key(k));
            const want = model.get(String(k));
            assert.equal(ref !== undefined, want !== undefined);
            if (ref && want) {
              assert.equal(ref.seg, want.seg);
              assert.equal(ref.block, want.block);
              assert.equal(ref.row, want.row);
              ref.seg.markDeleted(ref, false);
            }
            model.delete(String(k));
          }
          continue;
        }
        const batch = type === 'Int64' ? int64Batch(s.keys.map(BigInt)) : stringBatch(s.keys.map((k) => `k${k}`));
        const col = batch.columns.get('id')!;
        const present = index.firstPresent(col);
        const firstInModel = s.keys.findIndex((k) => model.has(String(k)));
        assert.equal(present, firstInModel);
        if (s.upsert) {
          index.takeColumn(col, (ref) => ref.seg.markDeleted(ref, false));
          for (const k of s.keys) model.delete(String(k));
        } else if (firstInModel >= 0) {
          continue; // an insert of an existing key is refused
        }
        const block = seg.append(batch, 1, 0);
        index.addBlock(seg, block, col);
        s.keys.forEach((k, row) => model.set(String(k), { seg, block, row }));
      }
      assert.equal(index.size, model.size);
      const entries = index.entries();
      assert.equal(entries.length, model.size);
      for (const [k, ref] of entries) {
        const want = model.get(type === 'Int64' ? String(k) : String(k).slice(1));
        assert.ok(want, `unexpected key ${String(k)}`);
        assert.equal(ref.block, want.block);
        assert.equal(ref.row, want.row);
        assert.ok(index.has(k));
        assert.equal(index.get(k)!.row, want.row);
      }
    }),
    { seed, numRuns: 200 },
  );
});

test('PrimaryKeyIndex: batches above every key skip probing; a batch reaching below finds present keys and misses deleted ones', () => {
  const index = new PrimaryKeyIndex('Int64');
  const seg = new MemSegment(1, 1, 'growing');
  const col = (keys: bigint[]) => int64Batch(keys).columns.get('id')!;
  const add = (keys: bigint[]) => index.addBlock(seg, seg.append(int64Batch(keys), 1, 0), col(keys));
  // Signed order across the word boundary: -1 (hi -1) < 0 < 2^32 - 1 (hi 0, lo 0xffffffff) < 2^32 (hi 1).
  add([-(2n ** 40n), -1n, 5n]);
  assert.equal(index.firstPresent(col([6n, 2n ** 32n - 1n])), -1);
  add([6n, 2n ** 32n - 1n]);
  assert.equal(index.firstPresent(col([2n ** 32n, 2n ** 32n + 1n])), -1);
  assert.equal(index.firstPresent(col([2n ** 40n, 2n ** 32n - 1n])), 1, 'the largest key so far is present');
  assert.equal(index.firstPresent(col([7n, 8n, -1n])), 2, 'a key far below the maximum is found');
  // Deletes never lower the bound, so a deleted key below it is looked up (and absent).
  assert.ok(index.take(2n ** 32n - 1n));
  assert.equal(index.firstPresent(col([2n ** 32n - 1n])), -1);
  assert.equal(index.firstPresent(col([2n ** 32n - 1n, 6n])), 1);
  let taken = 0;
  index.takeColumn(col([2n ** 33n]), () => taken++);
  assert.equal(taken, 0);
  index.takeColumn(col([2n ** 33n, 5n]), () => taken++);
  assert.equal(taken, 1);
  assert.equal(index.has(5n), false);
  assert.equal(index.size, 3);
});

test('PrimaryKeyIndex defers indexing: ascending batches stay queued; the first lookup indexes them, oldest first', () => {
  const index = new PrimaryKeyIndex('Int64');
  const seg = new MemSegment(1, 1, 'growing');
  const col = (keys: bigint[]) => int64Batch(keys).columns.get('id')!;
  const blocks = [];
  for (let b = 0; b < 5; b++) {
    const keys = Array.from({ length: 4 }, (_, i) => BigInt(b * 4 + i));
    assert.equal(index.firstPresent(col(keys)), -1);
    let taken = 0;
    index.takeColumn(col(keys), () => taken++); // an upsert of new keys
    assert.equal(taken, 0);
    const block = seg.append(int64Batch(keys), 1, 0);
    index.addBlock(seg, block, col(keys));
    blocks.push(block);
  }
  assert.equal(index.pendingRows, 20, 'nothing was looked up: nothing was hashed');
  // A row deleted before its block is indexed (as a delete file marks it) is not indexed.
  seg.markDeleted({ block: blocks[1]!, row: 2 }, false);
  // A batch reaching below the bound drains the queue, then finds the key.
  assert.equal(index.firstPresent(col([100n, 3n])), 1);
  assert.equal(index.pendingRows, 0);
  assert.equal(index.size, 19);
  assert.equal(index.has(6n), false);
  assert.equal(index.get(7n)!.block, blocks[1]);
  // A later row for a queued key (compaction's setAt) wins over the queued one.
  const seg2 = new MemSegment(2, 1, 'sealed');
  const moved = int64Batch([9n]);
  const nb = seg2.append(moved, 0, 0);
  index.addBlock(seg, seg.append(int64Batch([20n]), 1, 0), col([20n]));
  assert.equal(index.pendingRows, 1);
  index.setAt(moved.columns.get('id')!, 0, index.blockId(seg2, nb), 0);
  assert.equal(index.pendingRows, 0);
  assert.equal(index.get(9n)!.seg, seg2);
  assert.equal(index.get(20n)!.row, 0);
});

test('PrimaryKeyIndex: addBlock skips deleted rows; released blocks are forgotten; wrong key types are absent', () => {
  const index = new PrimaryKeyIndex('Int64');
  const seg = new MemSegment(1, 1, 'sealed');
  const batch = int64Batch([10n, 11n, 12n, 13n]);
  const block = seg.append(batch, 0, 0);
  seg.markDeleted({ block, row: 1 }, false);
  index.addBlock(seg, block, batch.columns.get('id')!);
  assert.equal(index.size, 3);
  assert.equal(index.has(11n), false);
  assert.equal(index.get(12n)!.row, 2);
  assert.equal(index.has('12'), false);
  assert.equal(index.get('12'), undefined);
  // Compaction moves every live row to a new block, then releases the old one.
  const seg2 = new MemSegment(2, 1, 'sealed');
  const merged = int64Batch([10n, 12n, 13n]);
  const nb = seg2.append(merged, 0, 0);
  const id = index.blockId(seg2, nb);
  merged.columns.get('id')!.values.forEach((_, i) => index.setAt(merged.columns.get('id')!, i, id, i));
  index.releaseBlocks(seg.blocks);
  assert.deepEqual(index.entries().map(([k, r]) => [k, r.seg.id, r.row]).sort((a, b) => Number(a[2]) - Number(b[2])), [[10n, 2, 0], [12n, 2, 1], [13n, 2, 2]]);
  const vi = new PrimaryKeyIndex('VarChar');
  assert.equal(vi.has(1n), false);
  assert.equal(vi.take(1n), undefined);
});
