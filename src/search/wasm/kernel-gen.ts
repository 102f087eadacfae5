/**
 * Generates a WebAssembly SIMD distance kernel specialised for one (metric, dimension, query
 * block size). The kernel scores `nrows` consecutive rows against `B` queries in one pass:
 *
 *   score(data: i32, nrows: i32, queries: i32, out: i32, norms: i32)
 *     data    byte address of row 0 (rows are dim f32s, back to back, any 4-byte alignment)
 *     queries byte address of B queries, dim f32s each, back to back
 *     out     byte address of nrows*B f32 keys, row-major: key(row r, query b) at out[r*B + b]
 *     norms   byte address of nrows f32 row norms ('cosn' only)
 *
 * Keys are "smaller is better" for every metric (squared L2 as is, IP and cosine negated), so
 * the JavaScript selection loop is one monomorphic "key < threshold" scan.
 *
 * Why these choices (measured in bench/search-kernel.ts):
 *  - B queries per pass: each data vector loaded into a register is reused B times, so a batch
 *    reads the data from memory once per B queries instead of once per query.
 *  - Specialised per dimension: loop trip counts and load offsets are constants (memarg
 *    immediates), and dim % 4 leftovers are a few scalar ops instead of a loop.
 *  - Small loop bodies (2-4 chunks of 4 floats), not a fully unrolled row: V8's TurboFan hoists
 *    every load of a long straight-line body to its top and then spills SIMD registers to the
 *    stack (seen with --print-wasm-code), which measured ~20-60% slower.
 *  - Several accumulators per query (A): f32x4.add has a ~3-4 cycle latency, so one accumulator
 *    chain would stall the adder; A independent chains keep it busy. Only needed when B is small.
 *  - L2 as sum((x-q)^2), not |x|^2+|q|^2-2x.q: the expansion cancels catastrophically for near
 *    neighbours, exactly the rows that matter, and the extra f32x4.sub is free when memory-bound.
 *  - Cosine divides x.q by the row norm (queries are pre-normalised by the caller). 'cosn' reads
 *    precomputed norms (one f32 per row); 'cos' computes |x|^2 in the same pass for blocks
 *    without norms, which costs an extra mul+add per 4 floats that query blocking cannot share.
 */
import { F32, FuncBuilder, I32, OP, SIMD, V128, VOID_BLOCK, encodeModule } from './emit.js';

/** 'cos' computes each row's norm in the pass; 'cosn' reads it from a norms array. */
export type KernelKind = 'l2' | 'ip' | 'cos' | 'cosn';

export interface KernelShape {
  kind: KernelKind;
  dim: number;
  /** Queries scored per pass over a row. */
  queries: number;
  /** Independent v128 accumulators per query. */
  accumulators: number;
  /** Above this many 4-float chunks per row, the chunk loop is rolled (keeps code size bounded). */
  maxUnrolledChunks: number;
}

/** Locals of the generated function, by role. */
interface Locals {
  row: number;
  np: number;
  end: number;
  out: number;
  x: number;
  t: number;
  acc: number[][]; // [query][accumulator]
  nacc: number[]; // cosine |x|^2 accumulators
  tail: number[]; // scalar accumulators for dim % 4 leftovers, per query
  ntail: number;
  xs: number;
  ts: number;
  xp: number;
  qp: number;
  cnt: number;
  sum: number;
  norm: number;
  vsum: number;
}

const P_DATA = 0;
const P_NROWS = 1;
const P_QUERIES = 2;
const P_OUT = 3;
const P_NORMS = 4;

function declareLocals(f: FuncBuilder, s: KernelShape): Locals {
  const many = (n: number, t: number): number[] => Array.from({ length: n }, () => f.local(t));
  return {
    row: f.local(I32),
    np: f.local(I32),
    end: f.local(I32),
    out: f.local(I32),
    xp: f.local(I32),
    qp: f.local(I32),
    cnt: f.local(I32),
    x: f.local(V128),
    t: f.local(V128),
    vsum: f.local(V128),
    acc: Array.from({ length: s.queries }, () => many(s.accumulators, V128)),
    nacc: s.kind === 'cos' ? many(s.accumulators, V128) : [],
    tail: many(s.queries, F32),
    ntail: f.local(F32),
    xs: f.local(F32),
    ts: f.local(F32),
    sum: f.local(F32),
    norm: f.local(F32),
  };
}

/** One 4-float chunk at byte `off`: x = row[off]; acc[b][a] += f(x, query_b[off]) for each query b. */
function emitChunk(f: FuncBuilder, s: KernelShape, L: Locals, xBase: number, qBase: number, off: number, a: number): void {
  const qStride = s.dim * 4;
  f.get(xBase).v128Load(off).set(L.x);
  for (let b = 0; b < s.queries; b++) {
    const acc = L.acc[b]![a]!;
    f.get(acc).get(L.x).get(qBase).v128Load(off + b * qStride);
    if (s.kind === 'l2') f.simd(SIMD.f32x4Sub).tee(L.t).get(L.t);
    f.simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc);
  }
  if (s.kind === 'cos') {
    const n = L.nacc[a]!;
    f.get(n).get(L.x).get(L.x).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(n);
  }
}

/** All full chunks of a row: rolled in groups when the row is long, the rest unrolled. */
function emitChunks(f: FuncBuilder, s: KernelShape, L: Locals): void {
  const chunks = s.dim >> 2;
  let done = 0;
  if (chunks > s.maxUnrolledChunks) {
    const group = s.maxUnrolledChunks;
    const iterations = Math.floor(chunks / group);
    f.get(L.row).set(L.xp).get(P_QUERIES).set(L.qp).i32(iterations).set(L.cnt);
    f.op(OP.loop, VOID_BLOCK);
    for (let u = 0; u < group; u++) emitChunk(f, s, L, L.xp, L.qp, u * 16, u % s.accumulators);
    f.get(L.xp).i32(group * 16).op(OP.i32Add).set(L.xp);
    f.get(L.qp).i32(group * 16).op(OP.i32Add).set(L.qp);
    f.get(L.cnt).i32(1).op(OP.i32Sub).tee(L.cnt).op(OP.brIf, 0);
    f.op(OP.end);
    done = iterations * group;
  }
  for (let c = done; c < chunks; c++) emitChunk(f, s, L, L.row, P_QUERIES, c * 16, c % s.accumulators);
}

/** The dim % 4 leftover floats, scalar. */
function emitTail(f: FuncBuilder, s: KernelShape, L: Locals): void {
  const qStride = s.dim * 4;
  for (let j = s.dim & ~3; j < s.dim; j++) {
    f.get(L.row).f32Load(j * 4).set(L.xs);
    for (let b = 0; b < s.queries; b++) {
      const t = L.tail[b]!;
      f.get(t).get(L.xs).get(P_QUERIES).f32Load(j * 4 + b * qStride);
      if (s.kind === 'l2') f.op(OP.f32Sub).tee(L.ts).get(L.ts);
      f.op(OP.f32Mul, OP.f32Add).set(t);
    }
    if (s.kind === 'cos') f.get(L.ntail).get(L.xs).get(L.xs).op(OP.f32Mul, OP.f32Add).set(L.ntail);
  }
}

/** sum = hsum(acc[0] + acc[1] + ...) + tail, in a fixed order so results are deterministic. */
function emitReduce(f: FuncBuilder, accs: number[], tail: number, sum: number, vsum: number): void {
  f.get(accs[0]!);
  for (let a = 1; a < accs.length; a++) f.get(accs[a]!).simd(SIMD.f32x4Add);
  f.set(vsum);
  f.get(vsum).extractLane(0).get(vsum).extractLane(1).op(OP.f32Add);
  f.get(vsum).extractLane(2).get(vsum).extractLane(3).op(OP.f32Add).op(OP.f32Add);
  f.get(tail).op(OP.f32Add).set(sum);
}

function emitZero(f: FuncBuilder, L: Locals): void {
  for (const accs of L.acc) for (const a of accs) f.v128Zero().set(a);
  for (const a of L.nacc) f.v128Zero().set(a);
  for (const t of L.tail) f.f32(0).set(t);
  f.f32(0).set(L.ntail);
}

/** Reduces each query's accumulators to a key and stores it at out[r*B + b]. */
function emitStore(f: FuncBuilder, s: KernelShape, L: Locals): void {
  const cosine = s.kind === 'cos' || s.kind === 'cosn';
  if (s.kind === 'cos') {
    emitReduce(f, L.nacc, L.ntail, L.sum, L.vsum);
    f.get(L.sum).op(OP.f32Sqrt).set(L.norm);
  } else if (s.kind === 'cosn') {
    f.get(L.np).f32Load(0).set(L.norm);
  }
  for (let b = 0; b < s.queries; b++) {
    emitReduce(f, L.acc[b]!, L.tail[b]!, L.sum, L.vsum);
    f.get(L.out);
    // cosine: norm > 0 ? dot / norm : 0, so a zero row scores 0 instead of NaN.
    if (cosine) f.get(L.sum).get(L.norm).op(OP.f32Div).f32(0).get(L.norm).f32(0).op(OP.f32Gt, OP.select);
    else f.get(L.sum);
    if (s.kind !== 'l2') f.op(OP.f32Neg);
    f.f32Store(b * 4);
  }
}

function buildScore(s: KernelShape): FuncBuilder {
  const f = new FuncBuilder([I32, I32, I32, I32, I32]);
  const L = declareLocals(f, s);
  const rowBytes = s.dim * 4;
  f.get(P_DATA).set(L.row).get(P_OUT).set(L.out).get(P_NORMS).set(L.np);
  f.get(P_DATA).get(P_NROWS).i32(rowBytes).op(OP.i32Mul, OP.i32Add).set(L.end);
  f.op(OP.block, VOID_BLOCK).get(P_NROWS).op(OP.i32Eqz, OP.brIf, 0);
  f.op(OP.loop, VOID_BLOCK);
  emitZero(f, L);
  emitChunks(f, s, L);
  emitTail(f, s, L);
  emitStore(f, s, L);
  f.get(L.row).i32(rowBytes).op(OP.i32Add).set(L.row);
  f.get(L.out).i32(s.queries * 4).op(OP.i32Add).set(L.out);
  if (s.kind === 'cosn') f.get(L.np).i32(4).op(OP.i32Add).set(L.np);
  f.get(L.row).get(L.end).op(OP.i32LtU, OP.brIf, 0);
  f.op(OP.end, OP.end);
  return f;
}

/** The module bytes exporting `score` for this shape (importing a shared memory if asked). */
export function generateKernel(s: KernelShape, sharedMaxPages?: number): Uint8Array {
  if (!(s.dim >= 1 && s.queries >= 1 && s.accumulators >= 1 && s.maxUnrolledChunks >= 1)) {
    throw new RangeError(`bad kernel shape ${JSON.stringify(s)}`);
  }
  return encodeModule([{ name: 'score', fn: buildScore(s) }], 1, sharedMaxPages);
}

/**
 * sum(ptr, n4): the sum of n4*4 consecutive f32s (n4 a multiple of 4, else the last n4 % 4
 * groups are skipped), 4 accumulators wide. Not used for search: it
 * is the "touch every byte as fast as SIMD can" floor that the benchmark compares kernels with.
 */
export function generateSumKernel(): Uint8Array {
  const f = new FuncBuilder([I32, I32], [F32]);
  const [p, end] = [f.local(I32), f.local(I32)];
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const vsum = f.local(V128);
  const zero = f.local(F32);
  f.get(0).set(p).get(0).get(1).i32(16).op(OP.i32Mul, OP.i32Add).i32(-64).op(OP.i32Add).set(end);
  f.op(OP.block, VOID_BLOCK).get(1).i32(4).op(OP.i32LtU, OP.brIf, 0);
  f.op(OP.loop, VOID_BLOCK);
  acc.forEach((a, i) => f.get(a).get(p).v128Load(i * 16).simd(SIMD.f32x4Add).set(a));
  f.get(p).i32(64).op(OP.i32Add).tee(p).get(end).op(OP.i32GtU, OP.i32Eqz, OP.brIf, 0);
  f.op(OP.end, OP.end);
  emitReduce(f, acc, zero, zero, vsum);
  f.get(zero);
  return encodeModule([{ name: 'sum', fn: f }], 1);
}
