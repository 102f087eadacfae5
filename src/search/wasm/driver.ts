/**
 * Runs the SIMD kernels over a block and feeds the keys to per-query heaps.
 *
 * Two ways to get rows into wasm memory:
 *  - resident (ResidentBlock): the block was copied into its own memory once (immutable
 *    segments); a search reads it in place. Single-query latency is then at the speed of a
 *    SIMD sum over the same bytes.
 *  - streaming (any VectorBlock): rows are copied chunk by chunk into a shared scratch memory.
 *    The copy costs about one extra pass, paid once per chunk for all queries of the call (the
 *    chunk stays in L2 while every query block is scored against it), so batches are about as
 *    fast as resident while single queries take ~2x.
 *
 * Loop order: for each round of queries (as many as the query region holds), for each chunk of
 * rows, for each block of up to 4 queries: one kernel call, then selection per query while the
 * keys are still in L1.
 */
import type { TopK } from '../topk.js';
import type { RowFilter, VectorBlock } from '../types.js';
import { selectRows } from '../select.js';
import { Arena, QUERY_BLOCK, type ScoreFn } from './arena.js';
import type { KernelKind } from './kernel-gen.js';

/** Rows per kernel call: about 256 KiB of vectors, so a streamed chunk stays in L2. */
const CHUNK_BYTES = 256 * 1024;
const MAX_CHUNK_ROWS = 16384;
/** Query region of a resident block: about 256 KiB, 4 to 1024 queries. */
const RESIDENT_QUERY_BYTES = 256 * 1024;
/** Query region of the streaming scratch: up to 16 MiB, so typical batches copy each chunk once. */
const STREAM_QUERY_BYTES = 16 * 1024 * 1024;

export function chunkRowsFor(dim: number): number {
  return Math.max(1, Math.min(MAX_CHUNK_ROWS, Math.floor(CHUNK_BYTES / (dim * 4))));
}

const align16 = (n: number): number => (n + 15) & ~15;

/** Where the queries and output keys of one search live in an arena. */
interface Layout {
  qPtr: number;
  /** Queries the query region holds. */
  qCap: number;
  outPtr: number;
  chunkRows: number;
}

function layoutAt(base: number, dim: number, qCap: number): Layout & { end: number } {
  const chunkRows = chunkRowsFor(dim);
  const qPtr = align16(base);
  const outPtr = align16(qPtr + qCap * dim * 4);
  return { qPtr, qCap, outPtr, chunkRows, end: outPtr + chunkRows * QUERY_BLOCK * 4 };
}

/** Byte addresses of a chunk's rows and of their norms. */
interface RowsAt {
  data: number;
  norms: number;
}

interface Job {
  arena: Arena;
  layout: Layout;
  kind: KernelKind;
  dim: number;
  count: number;
  rows: (r0: number, n: number) => RowsAt;
}

/** A block copied once into its own wasm memory, with row norms for cosine. Immutable. */
export class ResidentBlock {
  readonly arena: Arena;
  /** Views into the wasm memory: data, and norms (the caller's, or computed). */
  readonly block: Required<VectorBlock>;
  private readonly layout: Layout;
  private readonly normsPtr: number;

  /**
   * Throws a RangeError when the block does not fit in a wasm memory. `src.data` may also be a
   * list of arrays holding the rows back to back (copied in order, never concatenated first).
   */
  constructor(src: VectorBlock | { data: readonly Float32Array[]; dim: number; count: number }, norms: Float32Array) {
    const { dim, count } = src;
    this.normsPtr = align16(count * dim * 4);
    const qCap = Math.max(QUERY_BLOCK, Math.min(1024, Math.floor(RESIDENT_QUERY_BYTES / (dim * 4))));
    const layout = layoutAt(this.normsPtr + count * 4, dim, qCap);
    this.arena = new Arena(layout.end);
    this.layout = layout;
    const mem = this.arena.memory.buffer;
    const data = new Float32Array(mem, 0, count * dim);
    if (src.data instanceof Float32Array) {
      data.set(src.data.subarray(0, count * dim));
    } else {
      let at = 0;
      for (const part of src.data) {
        const n = Math.min(part.length, count * dim - at);
        data.set(n === part.length ? part : part.subarray(0, n), at);
        at += n;
      }
      if (at !== count * dim) throw new RangeError(`vector parts hold ${at} floats, expected ${count * dim}`);
    }
    const normsView = new Float32Array(mem, this.normsPtr, count);
    normsView.set(norms.subarray(0, count));
    this.block = { data, dim, count, norms: normsView };
  }

  job(kind: KernelKind): Job {
    const { dim, count } = this.block;
    const rows = (r0: number): RowsAt => ({ data: r0 * dim * 4, norms: this.normsPtr + r0 * 4 });
    return { arena: this.arena, layout: this.layout, kind, dim, count, rows };
  }
}

let scratch: Arena | undefined;

/** A streaming job over the shared scratch arena, or undefined if a search is already using it. */
export function streamingJob(block: VectorBlock, kind: KernelKind, nq: number): Job | undefined {
  scratch ??= new Arena(1 << 20);
  if (scratch.busy) return undefined;
  const arena = scratch;
  const { dim, count } = block;
  const qCap = Math.max(QUERY_BLOCK, Math.min(nq, Math.floor(STREAM_QUERY_BYTES / (dim * 4))));
  const layout = layoutAt(0, dim, qCap);
  const chunkPtr = align16(layout.end);
  const normsPtr = align16(chunkPtr + layout.chunkRows * dim * 4);
  arena.ensure(normsPtr + layout.chunkRows * 4);
  const rows = (r0: number, n: number): RowsAt => {
    const f32 = arena.f32;
    f32.set(block.data.subarray(r0 * dim, (r0 + n) * dim), chunkPtr >> 2);
    if (kind === 'cosn') f32.set(block.norms!.subarray(r0, r0 + n), normsPtr >> 2);
    return { data: chunkPtr, norms: normsPtr };
  };
  return { arena, layout, kind, dim, count, rows };
}

/** Scores every row against `queries` (prepared: normalised for cosine) into `heaps`. */
export function runWasm(job: Job, queries: Float32Array, nq: number, heaps: TopK[], allow: RowFilter | undefined): void {
  const { arena, layout, dim, count } = job;
  // kernels[B] scores B queries per pass; looked up once per search, not per chunk.
  const kernels: Array<ScoreFn | undefined> = [];
  arena.busy = true;
  try {
    for (let q0 = 0; q0 < nq; q0 += layout.qCap) {
      const qn = Math.min(layout.qCap, nq - q0);
      arena.f32.set(queries.subarray(q0 * dim, (q0 + qn) * dim), layout.qPtr >> 2);
      for (let r0 = 0; r0 < count; r0 += layout.chunkRows) {
        const n = Math.min(layout.chunkRows, count - r0);
        scoreChunk(job, kernels, job.rows(r0, n), r0, n, q0, qn, heaps, allow);
      }
    }
  } finally {
    arena.busy = false;
  }
}

function scoreChunk(
  job: Job,
  kernels: Array<ScoreFn | undefined>,
  at: RowsAt,
  r0: number,
  n: number,
  q0: number,
  qn: number,
  heaps: TopK[],
  allow: RowFilter | undefined,
): void {
  const { arena, layout, dim } = job;
  for (let b0 = 0; b0 < qn; b0 += QUERY_BLOCK) {
    const B = Math.min(QUERY_BLOCK, qn - b0);
    const kernel = (kernels[B] ??= arena.kernel(job.kind, dim, B));
    kernel(at.data, n, layout.qPtr + b0 * dim * 4, layout.outPtr, at.norms);
    const keys = arena.f32;
    for (let b = 0; b < B; b++) selectRows(keys, (layout.outPtr >> 2) + b, B, n, r0, heaps[q0 + b0 + b]!, allow);
  }
}
