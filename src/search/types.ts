/**
 * Shared types of the exact search kernel. Scores follow Milvus: 'L2' is the squared Euclidean
 * distance (smaller is better), 'IP' the inner product and 'COSINE' the cosine similarity in
 * [-1, 1] (larger is better).
 */
import { invalidArgument } from '../errors.js';

export type Metric = 'L2' | 'IP' | 'COSINE';

export const METRICS: readonly Metric[] = ['L2', 'IP', 'COSINE'];

/** `count` vectors of `dim` float32s, row-major in `data` (which may be longer than count*dim). */
export interface VectorBlock {
  data: Float32Array;
  dim: number;
  count: number;
  /** L2 norm of each row, for COSINE; computed on the fly when absent. */
  norms?: Float32Array;
}

/** `index` is the row index within the searched block. */
export interface SearchHit {
  index: number;
  score: number;
}

/**
 * Which rows may be returned: a packed bitset (bit i, least significant first within byte i>>3,
 * set = allowed; at least ceil(count/8) bytes) or a predicate. Both are consulted only for rows
 * good enough to enter the current top-k, so a predicate must be pure: it may be called for any
 * subset of rows, more than once, in any order.
 */
export type RowFilter = Uint8Array | ((index: number) => boolean);

export interface SearchOptions {
  /** 'auto' (default): WebAssembly SIMD where the runtime supports it, else plain JS. */
  kernel?: 'auto' | 'wasm' | 'js';
}

/**
 * Internally every kernel produces a "key" where smaller is better for all metrics, so selection
 * is one comparison direction: key = distance for L2, -similarity for IP and COSINE. Negation is
 * exact in floating point, so score and key convert losslessly.
 */
export function keyToScore(metric: Metric, key: number): number {
  return metric === 'L2' ? key : -key;
}

export function scoreToKey(metric: Metric, score: number): number {
  return metric === 'L2' ? score : -score;
}

export function checkMetric(metric: unknown): asserts metric is Metric {
  if (!METRICS.includes(metric as Metric)) {
    throw invalidArgument(`unknown metric ${String(metric)}; expected one of ${METRICS.join(', ')}`);
  }
}

function checkCount(name: string, n: unknown): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw invalidArgument(`${name} must be a non-negative integer, got ${String(n)}`);
  }
}

export function checkBlock(block: VectorBlock): void {
  checkCount('dim', block.dim);
  checkCount('count', block.count);
  if (block.dim < 1) throw invalidArgument(`dim must be at least 1, got ${block.dim}`);
  if (!(block.data instanceof Float32Array) || block.data.length < block.count * block.dim) {
    throw invalidArgument(`block data holds fewer than count*dim = ${block.count * block.dim} floats`);
  }
  if (block.norms !== undefined && (!(block.norms instanceof Float32Array) || block.norms.length < block.count)) {
    throw invalidArgument(`block norms hold fewer than count = ${block.count} floats`);
  }
}

export function checkQuery(dim: number, queries: Float32Array, nq: number, k: number): void {
  checkCount('nq', nq);
  checkCount('k', k);
  if (!(queries instanceof Float32Array) || queries.length < nq * dim) {
    throw invalidArgument(`queries hold fewer than nq*dim = ${nq * dim} floats`);
  }
}

export function checkFilter(allow: RowFilter | undefined, count: number): void {
  if (allow === undefined || typeof allow === 'function') return;
  if (!(allow instanceof Uint8Array)) throw invalidArgument('filter must be a Uint8Array bitset or a function');
  if (allow.length < Math.ceil(count / 8)) {
    throw invalidArgument(`filter bitset has ${allow.length} bytes, needs ceil(${count}/8) = ${Math.ceil(count / 8)}`);
  }
}
