import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopK, mergeTopK } from '../../src/search/index.js';

test('TopK: L2 keeps smallest, IP/COSINE keep largest, best first', () => {
  const l2 = new TopK(2, 'L2');
  const ip = new TopK(2, 'IP');
  for (const [i, s] of [[0, 3], [1, 1], [2, 2], [3, 0.5]] as const) {
    l2.push(i, s);
    ip.push(i, s);
  }
  assert.deepEqual(l2.results(), [{ index: 3, score: 0.5 }, { index: 1, score: 1 }]);
  assert.deepEqual(ip.results(), [{ index: 0, score: 3 }, { index: 2, score: 2 }]);
  assert.equal(l2.size, 2);
  assert.ok(l2.full);
  assert.equal(l2.worstKey, 1);
  assert.equal(ip.worstKey, -2, 'keys are negated similarities');
});

test('TopK: ties keep the lower index even when it arrives later', () => {
  const heap = new TopK(2, 'COSINE');
  heap.push(9, 0.5);
  heap.push(8, 0.5);
  heap.push(7, 0.5);
  heap.push(10, 0.5);
  assert.deepEqual(heap.results().map((h) => h.index), [7, 8]);
});

test('TopK: NaN never enters, k = 0 keeps nothing, infinities rank', () => {
  const heap = new TopK(3, 'L2');
  assert.equal(heap.push(0, NaN), false);
  heap.push(1, Infinity);
  heap.push(2, 1);
  assert.deepEqual(heap.results(), [{ index: 2, score: 1 }, { index: 1, score: Infinity }]);
  const none = new TopK(0, 'IP');
  assert.equal(none.push(0, 1), false);
  assert.deepEqual(none.results(), []);
  heap.clear();
  assert.equal(heap.size, 0);
  assert.throws(() => new TopK(-1, 'L2'));
  assert.throws(() => new TopK(1, 'l2' as 'L2'));
});

test('mergeTopK: global best across lists, metric direction, NaN dropped, k bounds', () => {
  const a = [{ index: 4, score: 0.9 }, { index: 1, score: 0.2 }];
  const b = [{ index: 0, score: 0.5 }, { index: 2, score: NaN }, { index: 3, score: 0.9 }];
  assert.deepEqual(mergeTopK([a, b], 3, 'IP'), [{ index: 3, score: 0.9 }, { index: 4, score: 0.9 }, { index: 0, score: 0.5 }]);
  assert.deepEqual(mergeTopK([a, b], 2, 'L2'), [{ index: 1, score: 0.2 }, { index: 0, score: 0.5 }]);
  assert.deepEqual(mergeTopK([a, b], 0, 'L2'), []);
  assert.equal(mergeTopK([a, b], 100, 'L2').length, 4);
  assert.deepEqual(mergeTopK([], 5, 'COSINE'), []);
  assert.throws(() => mergeTopK([a], -1, 'L2'));
});
