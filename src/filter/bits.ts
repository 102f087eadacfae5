/**
 * Evaluates a column plan (plan.ts) over a batch of columns into a bitset of matching rows.
 *
 * Rows are packed 32 to a word (bit j of word w = row start + 32w + j). Every plan node yields
 * two bitmaps, Milvus's data and valid (runtime.ts has the same pair as a 2-bit state): a
 * comparison on a null row is invalid, `not` flips data within valid, `and`/`or` combine data
 * with AND/OR and valid with OR. Data is always a subset of valid.
 *
 * Column leaves are tight loops over the typed arrays, branch-free per row. Each kernel only
 * ever sees one array type, so V8 keeps its element loads monomorphic: Int64 columns are read
 * as BigInt64Array and compared with bigint bounds; the other number columns are compared as
 * Float64Array, Int8..Int32 and Float columns copied 4096 rows at a time into a scratch
 * Float64Array first (a native conversion, cheaper than a polymorphic loop).
 *
 * Row leaves (the row closures of the parts with no column kernel) run on a row view only for
 * the rows that can still change the result: under `and`, the rows no cheaper part has already
 * made false; under `or`, the rows no cheaper part has made true; at the top, the rows that are
 * not skipped (deleted).
 */
import type { Row } from './compile-values.js';
import { INT64_MAX, INT64_MIN, hasRows, type LeafPlan, type Plan, type RowRun } from './plan.js';

/** A column as the evaluator reads it: ColumnData of src/db/types.ts fits. */
export interface FilterColumn {
  readonly type: string;
  readonly values: unknown;
  /** One entry per row, 0 = null (nullable columns only). */
  readonly valid?: Uint8Array | undefined;
}

/** A columnar batch: ColumnBatch of src/db/types.ts fits. */
export interface FilterBatch {
  readonly count: number;
  readonly columns: ReadonlyMap<string, FilterColumn>;
}

/** Row-view accessor for the row closures, made on first need. */
export type RowAccessor = () => (i: number) => Row;

interface Bits {
  /** Owned by the receiver (may be modified in place). */
  data: Uint32Array;
  /** null: every row valid. Shared: never modified. */
  valid: Uint32Array | null;
}

/** Rows of the number scratch buffer: a multiple of 32, small enough to stay in L1/L2. */
const CHUNK = 4096;
const scratch = new Float64Array(CHUNK);

/** Below this many keys an `in` list is a pass per key; above, a Set lookup per row. */
const IN_PASSES_MAX = 8;

/**
 * The rows of `batch` in [start, end) that `plan` matches, leaving out the rows set in `skip`
 * (a packed bitset over the whole batch: bit i & 7 of byte i >> 3). `start` must be a multiple
 * of 32. Bits past `end - start` are zero.
 */
export function planBits(plan: Plan, batch: FilterBatch, rows: RowAccessor, start = 0, end = batch.count, skip?: Uint8Array): Uint32Array {
  if ((start & 31) !== 0 || start < 0 || end > batch.count || start > end) throw new RangeError(`bad row range [${start}, ${end}) for ${batch.count} rows`);
  const n = end - start;
  const nw = (n + 31) >>> 5;
  const todo = skip ? liveWords(skip, start, end) : null;
  const r = new Evaluator(batch, rows, start, end).eval(plan, todo, false);
  const out = r.data;
  if (todo) for (let w = 0; w < nw; w++) out[w]! &= todo[w]!;
  maskTail(out, n);
  return out;
}

function maskTail(words: Uint32Array, n: number): void {
  if ((n & 31) !== 0) words[words.length - 1]! &= (1 << (n & 31)) - 1;
}

/** Words of the rows in [start, end) not set in `skip`; null when none is set. */
function liveWords(skip: Uint8Array, start: number, end: number): Uint32Array | null {
  const n = end - start;
  let any = 0;
  for (let b = start >>> 3, stop = Math.min((end + 7) >>> 3, skip.length); b < stop; b++) any |= skip[b]!;
  if (any === 0) return null;
  const out = new Uint32Array((n + 31) >>> 5);
  const b0 = start >>> 3;
  for (let w = 0; w < out.length; w++) {
    const b = b0 + (w << 2);
    out[w] = ~((skip[b] ?? 0) | ((skip[b + 1] ?? 0) << 8) | ((skip[b + 2] ?? 0) << 16) | ((skip[b + 3] ?? 0) << 24));
  }
  maskTail(out, n);
  return out;
}

class Evaluator {
  private readonly nw: number;
  private at: ((i: number) => Row) | null = null;
  private readonly validCache = new Map<string, Uint32Array | null>();

  constructor(
    private readonly batch: FilterBatch,
    private readonly rowsOf: RowAccessor,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.nw = (end - start + 31) >>> 5;
  }

  /**
   * The node's bitmaps. Only the rows in `todo` (null: all) need be right; `needValid` false
   * means only the data bitmap will be used.
   */
  eval(p: Plan, todo: Uint32Array | null, needValid: boolean): Bits {
    switch (p.k) {
      case 'const': {
        const data = new Uint32Array(this.nw);
        if (p.state & 1) data.fill(0xffffffff);
        return { data, valid: p.state & 2 ? null : new Uint32Array(this.nw) };
      }
      case 'rows': return this.rows(p.run, todo);
      case 'not': {
        const r = this.eval(p.part, todo, true);
        const { data, valid } = r;
        if (valid === null) for (let w = 0; w < this.nw; w++) data[w] = ~data[w]!;
        else for (let w = 0; w < this.nw; w++) data[w] = valid[w]! & ~data[w]!;
        return r;
      }
      case 'and':
      case 'or':
        return this.logical(p.k, p.parts, todo, needValid);
      default:
        return this.leaf(p, todo);
    }
  }

  private logical(op: 'and' | 'or', parts: Plan[], todo: Uint32Array | null, needValid: boolean): Bits {
    // Column parts first, so that row parts only run where the result is still open.
    const ordered = [...parts.filter((q) => !hasRows(q)), ...parts.filter(hasRows)];
    let acc: Bits | null = null;
    let open = todo;
    for (const part of ordered) {
      if (acc && hasRows(part)) {
        const still = this.stillOpen(op, acc, open, needValid);
        if (still === null) break; // every row is decided
        open = still;
      }
      const r = this.eval(part, open, needValid);
      if (acc === null) {
        acc = r;
        continue;
      }
      const a: Uint32Array = acc.data;
      const b: Uint32Array = r.data;
      if (op === 'and') for (let w = 0; w < this.nw; w++) a[w]! &= b[w]!;
      else for (let w = 0; w < this.nw; w++) a[w]! |= b[w]!;
      acc = { data: a, valid: orValid(acc.valid, r.valid, this.nw) };
    }
    return acc ?? { data: new Uint32Array(this.nw), valid: null };
  }

  /**
   * Rows of `todo` whose `and`/`or` result is not yet decided by `acc`, or null when none is
   * left: for `and`, rows that are not a valid false (not true, when only data is needed); for
   * `or`, rows that are not true.
   */
  private stillOpen(op: 'and' | 'or', acc: Bits, todo: Uint32Array | null, needValid: boolean): Uint32Array | null {
    const out = new Uint32Array(this.nw);
    const { data, valid } = acc;
    for (let w = 0; w < this.nw; w++) {
      let decided: number;
      if (op === 'or') decided = data[w]!;
      else if (!needValid) decided = ~data[w]!;
      else decided = (valid === null ? 0xffffffff : valid[w]!) & ~data[w]!;
      out[w] = (todo === null ? 0xffffffff : todo[w]!) & ~decided;
    }
    maskTail(out, this.end - this.start);
    for (let w = 0; w < this.nw; w++) if (out[w] !== 0) return out;
    return null;
  }

  /** A row closure over the rows of `todo` (all when null). */
  private rows(run: RowRun, todo: Uint32Array | null): Bits {
    const { nw, start } = this;
    const data = new Uint32Array(nw);
    const valid = new Uint32Array(nw);
    const at = (this.at ??= this.rowsOf());
    const n = this.end - start;
    for (let w = 0; w < nw; w++) {
      let m = todo !== null ? todo[w]! | 0 : w === nw - 1 && (n & 31) !== 0 ? (1 << (n & 31)) - 1 : -1;
      let d = 0;
      let v = 0;
      while (m !== 0) {
        const low = m & -m;
        m ^= low;
        const s = run(at(start + (w << 5) + (31 - Math.clz32(low))));
        if (s & 1) d |= low;
        if (s & 2) v |= low;
      }
      data[w] = d;
      valid[w] = v;
    }
    return { data, valid };
  }

  /** Validity words of a column (cached per evaluation; null when it has no nulls). */
  private validOf(name: string, col: FilterColumn): Uint32Array | null {
    let v = this.validCache.get(name);
    if (v === undefined) {
      v = col.valid ? bytesNonZero(col.valid, this.start, this.end, new Uint32Array(this.nw)) : null;
      this.validCache.set(name, v);
    }
    return v;
  }

  private leaf(p: LeafPlan, todo: Uint32Array | null): Bits {
    const col = this.batch.columns.get(p.col);
    if (col === undefined || col.type !== p.type) return this.rows(p.run, todo);
    const values = col.values;
    const { start, end, nw } = this;
    switch (p.k) {
      case 'num': {
        if (!isNumberArray(values)) break;
        return this.masked(numRange(values, start, end, p.lo, p.hi, new Uint32Array(nw)), p.col, col);
      }
      case 'numIn': {
        if (!isNumberArray(values)) break;
        const data = inList(p.keys, nw, (keys, out) => numSet(values, start, end, keys, out), (k, out) => numRange(values, start, end, k, k, out));
        return this.masked(data, p.col, col);
      }
      case 'big': {
        if (!(values instanceof BigInt64Array)) break;
        const data = new Uint32Array(nw);
        if (p.lo <= p.hi) bigRange(values, start, end, p.lo, p.hi, data);
        return this.masked(data, p.col, col);
      }
      case 'bigIn': {
        if (!(values instanceof BigInt64Array)) break;
        const data = inList(p.keys, nw, (keys, out) => bigSet(values, start, end, keys, out), (k, out) => bigRange(values, start, end, k, k, out));
        return this.masked(data, p.col, col);
      }
      case 'bool': {
        if (!(values instanceof Uint8Array)) break;
        const data = new Uint32Array(nw);
        if (p.whenTrue && p.whenFalse) data.fill(0xffffffff);
        else if (p.whenTrue) bytesNonZero(values, start, end, data);
        else if (p.whenFalse) {
          bytesNonZero(values, start, end, data);
          for (let w = 0; w < nw; w++) data[w] = ~data[w]!;
        }
        return this.masked(data, p.col, col);
      }
      case 'str':
      case 'strIn':
      case 'like': {
        if (!Array.isArray(values)) break;
        const data = new Uint32Array(nw);
        const valid = new Uint32Array(nw);
        if (p.k === 'like') strLike(values, col.valid, start, end, p.match, data, valid);
        else if (p.k === 'str') strRange(values, col.valid, start, end, p.lo, p.loStrict, p.hi, p.hiStrict, data, valid);
        else if (p.keys.length === 1) strEq(values, col.valid, start, end, p.keys[0]!, data, valid);
        else strSet(values, col.valid, start, end, new Set(p.keys), data, valid);
        for (let w = 0; w < nw; w++) data[w]! &= valid[w]!;
        return { data, valid };
      }
      case 'isNull': {
        // Null: the validity entry is 0, or (untyped columns) the value itself is null/undefined.
        let isValid: Uint32Array;
        if (Array.isArray(values)) isValid = arrayPresent(values, col.valid, start, end, new Uint32Array(nw));
        else if (ArrayBuffer.isView(values)) isValid = col.valid ? bytesNonZero(col.valid, start, end, new Uint32Array(nw)) : new Uint32Array(nw).fill(0xffffffff);
        else break;
        if (p.want) for (let w = 0; w < nw; w++) isValid[w] = ~isValid[w]!;
        return { data: isValid, valid: null };
      }
    }
    return this.rows(p.run, todo);
  }

  /** A typed column's data bits, masked with its validity. */
  private masked(data: Uint32Array, name: string, col: FilterColumn): Bits {
    const valid = this.validOf(name, col);
    if (valid) for (let w = 0; w < this.nw; w++) data[w]! &= valid[w]!;
    return { data, valid };
  }
}

function orValid(a: Uint32Array | null, b: Uint32Array | null, nw: number): Uint32Array | null {
  if (a === null || b === null) return null;
  const out = new Uint32Array(nw);
  for (let w = 0; w < nw; w++) out[w] = a[w]! | b[w]!;
  return out;
}

function orInto(acc: Uint32Array, x: Uint32Array): void {
  for (let w = 0; w < acc.length; w++) acc[w]! |= x[w]!;
}

/**
 * The data words of `x in keys` over `nw` words: above IN_PASSES_MAX keys one pass with a Set
 * lookup per row (`set`), else one equality pass per key (`eq`, into the scratch words it is
 * given) OR-ed together. The callbacks run once per list or once per key, never per row.
 */
function inList<K>(keys: readonly K[], nw: number, set: (keys: Set<K>, out: Uint32Array) => void, eq: (key: K, out: Uint32Array) => Uint32Array): Uint32Array {
  const data = new Uint32Array(nw);
  if (keys.length > IN_PASSES_MAX) set(new Set(keys), data);
  else if (keys.length > 0) {
    const one = new Uint32Array(nw);
    for (const k of keys) orInto(data, eq(k, one));
  }
  return data;
}

type NumberArray = Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

function isNumberArray(v: unknown): v is NumberArray {
  return v instanceof Float64Array || v instanceof Int32Array || v instanceof Float32Array || v instanceof Int16Array || v instanceof Int8Array;
}

// ---- kernels: rows [start, end) into words from out[0]; `start` is a multiple of 32 ----------

/**
 * Runs a Float64Array kernel over the number rows [start, end): a Float64Array in place, other
 * arrays through the scratch buffer, CHUNK rows at a time (`w0`: the chunk's first output word).
 * `kernel` is called once per chunk, never per row.
 */
function overF64(values: NumberArray, start: number, end: number, kernel: (v: Float64Array, from: number, n: number, w0: number) => void): void {
  if (values instanceof Float64Array) {
    kernel(values, start, end - start, 0);
    return;
  }
  for (let s = start; s < end; s += CHUNK) {
    const e = Math.min(s + CHUNK, end);
    scratch.set(values.subarray(s, e));
    kernel(scratch, 0, e - s, (s - start) >>> 5);
  }
}

/** Number column `lo <= x <= hi`. */
function numRange(values: NumberArray, start: number, end: number, lo: number, hi: number, out: Uint32Array): Uint32Array {
  overF64(values, start, end, (v, from, n, w0) => f64Range(v, from, n, lo, hi, out, w0));
  return out;
}

function f64Range(v: Float64Array, from: number, n: number, lo: number, hi: number, out: Uint32Array, w0: number): void {
  let w = w0;
  for (let base = 0; base < n; base += 32) {
    const stop = Math.min(base + 32, n);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) {
      const x = v[from + i]!;
      bits |= (+(x >= lo) & +(x <= hi)) << k;
    }
    out[w++] = bits;
  }
}

/** Number column `x in keys`. */
function numSet(values: NumberArray, start: number, end: number, keys: Set<number>, out: Uint32Array): void {
  overF64(values, start, end, (v, from, n, w0) => f64Set(v, from, n, keys, out, w0));
}

function f64Set(v: Float64Array, from: number, n: number, keys: Set<number>, out: Uint32Array, w0: number): void {
  let w = w0;
  for (let base = 0; base < n; base += 32) {
    const stop = Math.min(base + 32, n);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) bits |= +keys.has(v[from + i]!) << k;
    out[w++] = bits;
  }
}

/**
 * Int64 `lo <= x <= hi`. An open side (INT64_MIN / INT64_MAX) is not compared at all: besides
 * saving the work, V8 optimises bigint comparisons for operands it has seen fit in 64 bits, and
 * it does not count -2^63 as one, which makes the whole loop ~5x slower.
 */
function bigRange(v: BigInt64Array, start: number, end: number, lo: bigint, hi: bigint, out: Uint32Array): Uint32Array {
  if (lo === INT64_MIN && hi === INT64_MAX) return out.fill(0xffffffff);
  if (lo === INT64_MIN) return bigAtMost(v, start, end, hi, out);
  if (hi === INT64_MAX) return bigAtLeast(v, start, end, lo, out);
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) {
      const x = v[i]!;
      bits |= (+(x >= lo) & +(x <= hi)) << k;
    }
    out[w++] = bits;
  }
  return out;
}

function bigAtMost(v: BigInt64Array, start: number, end: number, hi: bigint, out: Uint32Array): Uint32Array {
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) bits |= +(v[i]! <= hi) << k;
    out[w++] = bits;
  }
  return out;
}

function bigAtLeast(v: BigInt64Array, start: number, end: number, lo: bigint, out: Uint32Array): Uint32Array {
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) bits |= +(v[i]! >= lo) << k;
    out[w++] = bits;
  }
  return out;
}

function bigSet(v: BigInt64Array, start: number, end: number, keys: Set<bigint>, out: Uint32Array): void {
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) bits |= +keys.has(v[i]!) << k;
    out[w++] = bits;
  }
}

/** Bits of the non-zero bytes (a validity array, or a Bool column's values). */
function bytesNonZero(v: Uint8Array, start: number, end: number, out: Uint32Array): Uint32Array {
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) bits |= +(v[i] !== 0) << k;
    out[w++] = bits;
  }
  return out;
}

/** Rows of an untyped column that are present: validity not 0 and a value that is not null. */
function arrayPresent(values: readonly unknown[], valid: Uint8Array | undefined, start: number, end: number, out: Uint32Array): Uint32Array {
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) bits |= +((valid === undefined || valid[i] !== 0) && values[i] != null) << k;
    out[w++] = bits;
  }
  return out;
}

// String kernels write data (the value is a string and passes) and valid (present) bits.

function strEq(values: readonly unknown[], valid: Uint8Array | undefined, start: number, end: number, key: string, data: Uint32Array, ok: Uint32Array): void {
  arrayPresent(values, valid, start, end, ok);
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) bits |= +(values[i] === key) << k;
    data[w++] = bits;
  }
}

function strSet(values: readonly unknown[], valid: Uint8Array | undefined, start: number, end: number, keys: Set<string>, data: Uint32Array, ok: Uint32Array): void {
  arrayPresent(values, valid, start, end, ok);
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) {
      const a = values[i];
      bits |= +(typeof a === 'string' && keys.has(a)) << k;
    }
    data[w++] = bits;
  }
}

function strRange(
  values: readonly unknown[], valid: Uint8Array | undefined, start: number, end: number,
  lo: string | undefined, loStrict: boolean, hi: string | undefined, hiStrict: boolean, data: Uint32Array, ok: Uint32Array,
): void {
  arrayPresent(values, valid, start, end, ok);
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    for (let i = base, k = 0; i < stop; i++, k++) {
      const a = values[i];
      if (typeof a !== 'string') continue;
      const above = lo === undefined || (loStrict ? a > lo : a >= lo);
      const below = hi === undefined || (hiStrict ? a < hi : a <= hi);
      bits |= +(above && below) << k;
    }
    data[w++] = bits;
  }
}

function strLike(values: readonly unknown[], valid: Uint8Array | undefined, start: number, end: number, match: (s: string) => boolean, data: Uint32Array, ok: Uint32Array): void {
  arrayPresent(values, valid, start, end, ok);
  let w = 0;
  for (let base = start; base < end; base += 32) {
    const stop = Math.min(base + 32, end);
    let bits = 0;
    const live = ok[w]!;
    for (let i = base, k = 0; i < stop; i++, k++) {
      if ((live & (1 << k)) === 0) continue;
      const a = values[i];
      if (typeof a === 'string' && match(a)) bits |= 1 << k;
    }
    data[w++] = bits;
  }
}
