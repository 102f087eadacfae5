/**
 * Feeds a run of kernel keys into a TopK. Keys for rows base..base+n-1 sit at
 * keys[start], keys[start+stride], ... (kernels interleave the keys of the queries they score
 * together). Rows arrive in increasing index order, so once the heap is full a row enters only
 * if its key is strictly below the current worst: most rows cost one compare.
 *
 * The filter is consulted only for rows that pass that compare: rejecting a row costs nothing
 * unless it would have ranked, which matters for a predicate that looks up deleted rows.
 */
import type { TopK } from './topk.js';
import type { RowFilter } from './types.js';

export function selectRows(
  keys: Float32Array,
  start: number,
  stride: number,
  n: number,
  base: number,
  heap: TopK,
  allow: RowFilter | undefined,
): void {
  if (allow === undefined) selectAll(keys, start, stride, n, base, heap);
  else if (typeof allow === 'function') selectFn(keys, start, stride, n, base, heap, allow);
  else selectBits(keys, start, stride, n, base, heap, allow);
}

/** Fills the heap from the first rows; returns how many rows were consumed. */
function fill(keys: Float32Array, start: number, stride: number, n: number, base: number, heap: TopK, allow: RowFilter | undefined): number {
  let r = 0;
  for (; r < n && !heap.full; r++) {
    if (allow === undefined || allowed(allow, base + r)) heap.pushKey(base + r, keys[start + r * stride]!);
  }
  return r;
}

function allowed(allow: RowFilter, i: number): boolean {
  return typeof allow === 'function' ? allow(i) : ((allow[i >> 3]! >> (i & 7)) & 1) === 1;
}

// Three copies of the scan loop, one per filter kind, so each stays monomorphic for the JIT.

function selectAll(keys: Float32Array, start: number, stride: number, n: number, base: number, heap: TopK): void {
  let r = heap.full ? 0 : fill(keys, start, stride, n, base, heap, undefined);
  let worst = heap.worstKey;
  for (let i = start + r * stride; r < n; r++, i += stride) {
    const key = keys[i]!;
    if (key < worst) {
      heap.pushKey(base + r, key);
      worst = heap.worstKey;
    }
  }
}

function selectBits(keys: Float32Array, start: number, stride: number, n: number, base: number, heap: TopK, bits: Uint8Array): void {
  let r = heap.full ? 0 : fill(keys, start, stride, n, base, heap, bits);
  let worst = heap.worstKey;
  for (let i = start + r * stride; r < n; r++, i += stride) {
    const key = keys[i]!;
    const row = base + r;
    if (key < worst && ((bits[row >> 3]! >> (row & 7)) & 1) === 1) {
      heap.pushKey(row, key);
      worst = heap.worstKey;
    }
  }
}

function selectFn(keys: Float32Array, start: number, stride: number, n: number, base: number, heap: TopK, accept: (i: number) => boolean): void {
  let r = heap.full ? 0 : fill(keys, start, stride, n, base, heap, accept);
  let worst = heap.worstKey;
  for (let i = start + r * stride; r < n; r++, i += stride) {
    const key = keys[i]!;
    if (key < worst && accept(base + r)) {
      heap.pushKey(base + r, key);
      worst = heap.worstKey;
    }
  }
}
