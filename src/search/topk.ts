/**
 * A bounded top-k collector: a binary max-heap on (key, index) holding the k best candidates
 * seen, with the worst of them at the root so a new candidate is compared with one number.
 *
 * Keys are "smaller is better" for every metric (see keyToScore); candidates with equal keys are
 * ordered by lower index, so results are deterministic whatever order candidates arrive in.
 * NaN keys are never kept. Keys and indices live in typed arrays: no per-candidate allocation.
 */
import { invalidArgument } from '../errors.js';
import { type Metric, type SearchHit, checkMetric, keyToScore, scoreToKey } from './types.js';

export class TopK {
  readonly k: number;
  readonly metric: Metric;
  private readonly keys: Float64Array;
  private readonly ids: Float64Array;
  private n = 0;

  constructor(k: number, metric: Metric) {
    if (!Number.isSafeInteger(k) || k < 0) throw invalidArgument(`k must be a non-negative integer, got ${k}`);
    checkMetric(metric);
    this.k = k;
    this.metric = metric;
    this.keys = new Float64Array(k);
    this.ids = new Float64Array(k);
  }

  get size(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n >= this.k;
  }

  /**
   * The key a candidate must be strictly below to enter once the heap is full (+Infinity before).
   * Hot loops that feed rows in increasing index order can test `key < worstKey` and skip the
   * call for most rows: an equal key with a higher index never beats the current worst.
   */
  get worstKey(): number {
    if (this.n < this.k) return Infinity;
    return this.k === 0 ? -Infinity : this.keys[0]!;
  }

  /** Offers a candidate by score (in the metric's own direction). Returns whether it was kept. */
  push(index: number, score: number): boolean {
    return this.pushKey(index, scoreToKey(this.metric, score));
  }

  /** Offers a candidate by key (smaller is better). Returns whether it was kept. */
  pushKey(index: number, key: number): boolean {
    if (key !== key || this.k === 0) return false; // NaN never ranks
    if (this.n < this.k) {
      this.siftUp(this.n++, key, index);
      return true;
    }
    if (!this.worse(this.keys[0]!, this.ids[0]!, key, index)) return false;
    this.siftDown(key, index);
    return true;
  }

  /** The kept candidates, best first. Does not change the heap. */
  results(): SearchHit[] {
    const order = Array.from({ length: this.n }, (_, i) => i);
    order.sort((a, b) => this.keys[a]! - this.keys[b]! || this.ids[a]! - this.ids[b]!);
    return order.map((i) => ({ index: this.ids[i]!, score: keyToScore(this.metric, this.keys[i]!) }));
  }

  clear(): void {
    this.n = 0;
  }

  /** Whether (k1, i1) ranks after (k2, i2). */
  private worse(k1: number, i1: number, k2: number, i2: number): boolean {
    return k1 > k2 || (k1 === k2 && i1 > i2);
  }

  private siftUp(pos: number, key: number, id: number): void {
    const { keys, ids } = this;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.worse(key, id, keys[parent]!, ids[parent]!)) break;
      keys[pos] = keys[parent]!;
      ids[pos] = ids[parent]!;
      pos = parent;
    }
    keys[pos] = key;
    ids[pos] = id;
  }

  /** Replaces the root (the worst) with (key, id) and restores the heap. */
  private siftDown(key: number, id: number): void {
    const { keys, ids, n } = this;
    let pos = 0;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.worse(keys[right]!, ids[right]!, keys[child]!, ids[child]!)) child = right;
      if (!this.worse(keys[child]!, ids[child]!, key, id)) break;
      keys[pos] = keys[child]!;
      ids[pos] = ids[child]!;
      pos = child;
    }
    keys[pos] = key;
    ids[pos] = id;
  }
}
