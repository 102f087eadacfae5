/**
 * Exact (brute-force) top-k search over one block of vectors, and merging of per-block results.
 *
 * Kernel choice: WebAssembly SIMD when available (see wasm/driver.ts for why it is fast),
 * plain JS otherwise or on request. Both give the same results up to float32 rounding: SIMD
 * accumulates in f32, JS in f64.
 */
import { invalidArgument } from '../errors.js';
import { jsScore } from './js-kernel.js';
import { selectRows } from './select.js';
import { TopK } from './topk.js';
import {
  type Metric,
  type RowFilter,
  type SearchHit,
  type SearchOptions,
  type VectorBlock,
  checkBlock,
  checkFilter,
  checkMetric,
  checkQuery,
  scoreToKey,
} from './types.js';
import { simdAvailable } from './wasm/arena.js';
import { ResidentBlock, chunkRowsFor, runWasm, streamingJob } from './wasm/driver.js';
import type { KernelKind } from './wasm/kernel-gen.js';

/** Blocks made by createResidentBlock, by their data view. */
const residents = new WeakMap<Float32Array, ResidentBlock>();

/** L2 norm of each row, accumulated in double. */
export function computeNorms(data: Float32Array, dim: number, count: number): Float32Array {
  const norms = new Float32Array(count);
  for (let r = 0, o = 0; r < count; r++, o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[o + j]! * data[o + j]!;
    norms[r] = Math.sqrt(s);
  }
  return norms;
}

/**
 * Copies an immutable block into WebAssembly memory (with its row norms, computed if absent) so
 * searches read it in place instead of streaming it through scratch memory: about 2x faster for
 * single queries. Returns a block whose `data` and `norms` are views of that memory; pass that
 * block to searchBlock. The caller may drop its own copy and use the returned `data` instead.
 * Must not be modified afterwards. Throws INVALID_ARGUMENT if it cannot be had (no SIMD, or
 * larger than a wasm memory's 4 GiB).
 */
export function createResidentBlock(block: VectorBlock): VectorBlock {
  checkBlock(block);
  if (!simdAvailable()) throw invalidArgument('WebAssembly SIMD is not available in this runtime');
  const norms = block.norms ?? computeNorms(block.data, block.dim, block.count);
  let resident: ResidentBlock;
  try {
    resident = new ResidentBlock(block, norms);
  } catch (e) {
    throw invalidArgument(`cannot place ${block.count}x${block.dim} vectors in WebAssembly memory`, { cause: e });
  }
  residents.set(resident.block.data, resident);
  return resident.block;
}

/**
 * createResidentBlock for rows held in several arrays (`parts`, each a whole number of rows,
 * `count` rows in all): copied straight into WebAssembly memory, with no concatenated copy in
 * between (a flushed segment keeps its rows in per-batch arrays).
 */
export function createResidentBlockFromParts(parts: readonly Float32Array[], dim: number, count: number): VectorBlock {
  if (parts.length === 1) return createResidentBlock({ data: parts[0]!, dim, count });
  if (!simdAvailable()) throw invalidArgument('WebAssembly SIMD is not available in this runtime');
  let total = 0;
  for (const p of parts) {
    if (p.length % dim !== 0) throw invalidArgument(`a vector part of ${p.length} floats is not a whole number of ${dim}-dimensional rows`);
    checkBlock({ data: p, dim, count: p.length / dim });
    total += p.length / dim;
  }
  if (total !== count) throw invalidArgument(`vector parts hold ${total} rows, expected ${count}`);
  const norms = new Float32Array(count);
  let row = 0;
  for (const p of parts) {
    norms.set(computeNorms(p, dim, p.length / dim), row);
    row += p.length / dim;
  }
  let resident: ResidentBlock;
  try {
    resident = new ResidentBlock({ data: parts, dim, count }, norms);
  } catch (e) {
    throw invalidArgument(`cannot place ${count}x${dim} vectors in WebAssembly memory`, { cause: e });
  }
  residents.set(resident.block.data, resident);
  return resident.block;
}

/** Whether searches of this block read it in place from WebAssembly memory. */
export function isResidentBlock(block: VectorBlock): boolean {
  return residents.has(block.data);
}

/** Queries as f32; for cosine each divided by its norm (a zero query stays zero and scores 0). */
function prepareQueries(queries: Float32Array, nq: number, dim: number, metric: Metric): Float32Array {
  if (metric !== 'COSINE') return queries.subarray(0, nq * dim);
  const out = new Float32Array(nq * dim);
  for (let q = 0, o = 0; q < nq; q++, o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += queries[o + j]! * queries[o + j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[o + j] = queries[o + j]! * inv;
  }
  return out;
}

function kernelKind(metric: Metric, haveNorms: boolean): KernelKind {
  if (metric === 'L2') return 'l2';
  if (metric === 'IP') return 'ip';
  return haveNorms ? 'cosn' : 'cos';
}

/**
 * Exact top-k of each query over the block's rows. Returns nq lists, each best first (ties by
 * lower row index) with min(k, allowed rows) hits. Rows whose score is NaN are never returned.
 *
 * COSINE: a zero vector (row or query) scores 0. Without `block.norms`, the SIMD kernel computes
 * row norms in float32, so a row whose squared norm underflows (|x| < ~1e-19) also counts as zero.
 */
export function searchBlock(
  block: VectorBlock,
  queries: Float32Array,
  nq: number,
  k: number,
  metric: Metric,
  allow?: RowFilter,
  options: SearchOptions = {},
): SearchHit[][] {
  checkMetric(metric);
  checkBlock(block);
  checkQuery(block.dim, queries, nq, k);
  checkFilter(allow, block.count);
  const heaps = Array.from({ length: nq }, () => new TopK(Math.min(k, block.count), metric));
  if (nq > 0 && k > 0 && block.count > 0) {
    const prepared = prepareQueries(queries, nq, block.dim, metric);
    if (!runSimd(block, prepared, nq, metric, heaps, allow, options)) runJs(block, prepared, nq, metric, heaps, allow);
  }
  return heaps.map((h) => h.results());
}

/** Runs the SIMD kernels if allowed and possible; returns false to fall back to JS. */
function runSimd(
  block: VectorBlock,
  prepared: Float32Array,
  nq: number,
  metric: Metric,
  heaps: TopK[],
  allow: RowFilter | undefined,
  options: SearchOptions,
): boolean {
  const mode = options.kernel ?? 'auto';
  if (mode === 'js') return false;
  if (!simdAvailable()) {
    if (mode === 'wasm') throw invalidArgument('WebAssembly SIMD is not available in this runtime');
    return false;
  }
  const resident = residents.get(block.data);
  // A busy resident block means a filter callback re-entered search on it: stream instead.
  const inPlace = resident !== undefined && resident.block.count === block.count && resident.block.dim === block.dim && !resident.arena.busy;
  const job = inPlace ? resident.job(kernelKind(metric, true)) : streamingJob(block, kernelKind(metric, block.norms !== undefined), nq);
  // undefined: re-entered while the streaming scratch memory is in use too.
  if (job === undefined) return false;
  runWasm(job, prepared, nq, heaps, allow);
  return true;
}

function runJs(block: VectorBlock, prepared: Float32Array, nq: number, metric: Metric, heaps: TopK[], allow: RowFilter | undefined): void {
  const { dim, count } = block;
  const kind = kernelKind(metric, block.norms !== undefined);
  const rows = { data: block.data, dim, norms: block.norms };
  const chunk = chunkRowsFor(dim);
  const keys = new Float32Array(chunk);
  // Chunked like the SIMD path so the keys buffer stays small and in cache.
  for (let r0 = 0; r0 < count; r0 += chunk) {
    const n = Math.min(chunk, count - r0);
    for (let q = 0; q < nq; q++) {
      jsScore(rows, r0, n, prepared, q * dim, kind, keys);
      selectRows(keys, 0, 1, n, r0, heaps[q]!, allow);
    }
  }
}

/**
 * The global top-k of several per-block result lists (memtable plus segments): best first, ties
 * by lower index, then by earlier list. Lists need not be sorted. NaN scores are dropped.
 */
export function mergeTopK<T extends SearchHit>(lists: readonly (readonly T[])[], k: number, metric: Metric): T[] {
  checkMetric(metric);
  if (!Number.isSafeInteger(k) || k < 0) throw invalidArgument(`k must be a non-negative integer, got ${k}`);
  const all: T[] = [];
  for (const list of lists) for (const hit of list) if (hit.score === hit.score) all.push(hit);
  // Array.prototype.sort is stable, so equal (score, index) keep list order.
  all.sort((a, b) => scoreToKey(metric, a.score) - scoreToKey(metric, b.score) || a.index - b.index);
  return all.slice(0, k);
}
