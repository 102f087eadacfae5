/**
 * The seam for vector indexes: the engine searches every sealed segment through a VectorIndex
 * and merges with mergeTopK. FlatIndex is the exact one (Milvus "FLAT"); ANN indexes (HNSW,
 * IVF) can implement the same interface later.
 */
import { isVecwalError } from '../errors.js';
import { computeNorms, createResidentBlock, searchBlock } from './search.js';
import { type Metric, type RowFilter, type SearchHit, type SearchOptions, type VectorBlock, checkBlock, checkMetric } from './types.js';
import { simdAvailable } from './wasm/arena.js';

export interface VectorIndex {
  /** Index type, Milvus-style: 'FLAT', 'HNSW', ... */
  readonly kind: string;
  readonly metric: Metric;
  readonly dim: number;
  /** Rows indexed; hit indices are in [0, count). */
  readonly count: number;
  /** Top-k per query, best first; `allow` as for searchBlock. */
  search(queries: Float32Array, nq: number, k: number, allow?: RowFilter): SearchHit[][];
}

export interface FlatIndexOptions {
  /**
   * Copy the vectors into WebAssembly memory once (default true when SIMD is available), which
   * makes single-query search ~2x faster than streaming them from the caller's array. Costs a
   * second copy of the vectors unless the caller switches to `index.block.data`.
   */
  resident?: boolean;
  kernel?: SearchOptions['kernel'];
}

export class FlatIndex implements VectorIndex {
  readonly kind = 'FLAT';
  readonly metric: Metric;
  /** The searched block: the resident copy when there is one. Treat as read-only. */
  readonly block: VectorBlock;
  private readonly options: SearchOptions;

  constructor(block: VectorBlock, metric: Metric, options: FlatIndexOptions = {}) {
    checkMetric(metric);
    checkBlock(block);
    this.metric = metric;
    this.options = { kernel: options.kernel ?? 'auto' };
    const wantResident = (options.resident ?? true) && options.kernel !== 'js' && simdAvailable();
    this.block = (wantResident ? tryResident(block) : undefined) ?? withNorms(block, metric);
  }

  get dim(): number {
    return this.block.dim;
  }

  get count(): number {
    return this.block.count;
  }

  search(queries: Float32Array, nq: number, k: number, allow?: RowFilter): SearchHit[][] {
    return searchBlock(this.block, queries, nq, k, this.metric, allow, this.options);
  }
}

/** Indexed blocks are immutable, so cosine norms are worth computing once even when streamed. */
function withNorms(block: VectorBlock, metric: Metric): VectorBlock {
  if (metric !== 'COSINE' || block.norms !== undefined) return block;
  return { ...block, norms: computeNorms(block.data, block.dim, block.count) };
}

/** The resident copy, or undefined when it does not fit (the block is then streamed). */
function tryResident(block: VectorBlock): VectorBlock | undefined {
  try {
    return createResidentBlock(block);
  } catch (e) {
    if (isVecwalError(e, 'INVALID_ARGUMENT')) return undefined;
    throw e;
  }
}

