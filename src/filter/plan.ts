/**
 * Column plans: the form of a compiled filter that runs over a batch's column arrays
 * (src/filter/bits.ts) instead of row by row. The predicate compiler (compile-preds.ts)
 * attaches one to each predicate it builds, from the same resolved types, casts and constants
 * as the row closure, so both forms mean the same thing:
 *
 *  - comparisons and ranges of a plain numeric, Bool or VarChar column with constants become
 *    an inclusive range `lo <= x <= hi` in the column's own domain (doubles for Int8..Int32,
 *    Float and Double; bigints for Int64), or a string comparison;
 *  - `in` lists become key lists of the column's type; `like` on a VarChar column a matcher;
 *    `is null` on any plain column a validity test;
 *  - `and`, `or` and `not` combine the parts' data/valid bitmaps exactly as the row states do
 *    (runtime.ts); `!=` is `not (==)`, which is the same on a column;
 *  - anything else (JSON paths, dynamic fields, arithmetic, array functions, comparisons of two
 *    fields) stays a `rows` leaf: the row closure, run on a row view for the rows that still
 *    matter.
 *
 * Every column leaf keeps its row closure too, used when a batch lacks the column or holds it
 * in an unexpected form.
 */
import type { CompareOp } from './ast.js';
import type { FilterField, Row } from './compile-values.js';

export type RowRun = (row: Row) => number;

interface ColumnLeaf {
  /** Field name: the batch column to read. */
  col: string;
  /** The schema type the column must have (`ColumnData.type`); otherwise `run` is used. */
  type: string;
  run: RowRun;
}

export type Plan =
  | { k: 'const'; state: number }
  | { k: 'rows'; run: RowRun }
  | { k: 'and' | 'or'; parts: Plan[] }
  | { k: 'not'; part: Plan }
  /** Int8, Int16, Int32, Float, Double: `lo <= x <= hi` on the value as a double (NaN bound: never). */
  | (ColumnLeaf & { k: 'num'; lo: number; hi: number })
  /** Int64: `lo <= x <= hi` (lo > hi: never). */
  | (ColumnLeaf & { k: 'big'; lo: bigint; hi: bigint })
  /** Number column value equal to one of `keys`. */
  | (ColumnLeaf & { k: 'numIn'; keys: number[] })
  | (ColumnLeaf & { k: 'bigIn'; keys: bigint[] })
  /** VarChar: each bound optional. */
  | (ColumnLeaf & { k: 'str'; lo: string | undefined; loStrict: boolean; hi: string | undefined; hiStrict: boolean })
  | (ColumnLeaf & { k: 'strIn'; keys: string[] })
  | (ColumnLeaf & { k: 'like'; match: (s: string) => boolean })
  /** Bool: the result for a true value and for a false value. */
  | (ColumnLeaf & { k: 'bool'; whenTrue: boolean; whenFalse: boolean })
  /** `is null` (want true) / `is not null` (want false): always valid. */
  | (ColumnLeaf & { k: 'isNull'; want: boolean });

/** A plan node that reads one column. */
export type LeafPlan = Extract<Plan, { col: string }>;

export function isLeaf(p: Plan): p is LeafPlan {
  return 'col' in p;
}

const NUMBER_TYPES = new Set(['Int8', 'Int16', 'Int32', 'Float', 'Double']);

// ---- double bounds --------------------------------------------------------------------------

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** The next double above x (NaN above +Infinity and for NaN). */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return NaN;
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  u64[0] = x > 0 ? u64[0]! + 1n : u64[0]! - 1n;
  return f64[0];
}

export function nextDown(x: number): number {
  return -nextUp(-x);
}

/**
 * The least double d such that, for every double x, `x >= d` exactly when `x > c` (strict) or
 * `x >= c`, with JavaScript's exact number/bigint ordering. NaN when no x qualifies.
 */
export function doubleLower(c: number | bigint, strict: boolean): number {
  if (typeof c === 'number') return strict ? nextUp(c) : c;
  const d = Number(c);
  if (d === Infinity) return Infinity; // c > MAX_VALUE: only +Infinity is above it
  if (d === -Infinity) return -Number.MAX_VALUE;
  const b = BigInt(d);
  return (strict ? b > c : b >= c) ? d : nextUp(d);
}

/** The greatest double d such that `x <= d` exactly when `x < c` (strict) or `x <= c`. */
export function doubleUpper(c: number | bigint, strict: boolean): number {
  if (typeof c === 'number') return strict ? nextDown(c) : c;
  const d = Number(c);
  if (d === -Infinity) return -Infinity;
  if (d === Infinity) return Number.MAX_VALUE;
  const b = BigInt(d);
  return (strict ? b < c : b <= c) ? d : nextDown(d);
}

// ---- int64 bounds ---------------------------------------------------------------------------

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
/** An empty int64 range. */
const NEVER = { lo: 1n, hi: 0n };

/** Least int64 x with `x > c` / `x >= c`, or undefined when there is none. */
function bigLower(c: number | bigint, strict: boolean): bigint | undefined {
  let v: bigint;
  if (typeof c === 'bigint') v = strict ? c + 1n : c;
  else if (Number.isNaN(c) || c === Infinity) return undefined;
  else if (c === -Infinity) return INT64_MIN;
  else v = strict ? BigInt(Math.floor(c)) + 1n : BigInt(Math.ceil(c));
  return v > INT64_MAX ? undefined : v < INT64_MIN ? INT64_MIN : v;
}

/** Greatest int64 x with `x < c` / `x <= c`, or undefined when there is none. */
function bigUpper(c: number | bigint, strict: boolean): bigint | undefined {
  let v: bigint;
  if (typeof c === 'bigint') v = strict ? c - 1n : c;
  else if (Number.isNaN(c) || c === -Infinity) return undefined;
  else if (c === Infinity) return INT64_MAX;
  else v = strict ? BigInt(Math.ceil(c)) - 1n : BigInt(Math.floor(c));
  return v < INT64_MIN ? undefined : v > INT64_MAX ? INT64_MAX : v;
}

// ---- builders (called by compile-preds.ts with already checked operands) ----------------------

interface Bound {
  value: unknown;
  strict: boolean;
}

const asNum = (v: unknown): number | bigint | undefined => (typeof v === 'number' || typeof v === 'bigint' ? v : undefined);

/**
 * `lower (<|<=) x (<|<=) upper` on a plain column, either bound optional; undefined when the
 * column type has no column kernel. `f32`: a Float column, compared after rounding both sides
 * to float32 as the row closure does.
 */
function boundsPlan(field: FilterField, lower: Bound | undefined, upper: Bound | undefined, f32: boolean, run: RowRun): Plan | undefined {
  const leaf = { col: field.name, type: field.type, run };
  if (NUMBER_TYPES.has(field.type)) {
    const conv = (v: unknown): number | bigint | undefined => {
      const n = asNum(v);
      return n === undefined ? undefined : f32 ? Math.fround(Number(n)) : n;
    };
    const lo = lower ? conv(lower.value) : -Infinity;
    const hi = upper ? conv(upper.value) : Infinity;
    if (lo === undefined || hi === undefined) return undefined;
    return {
      k: 'num',
      ...leaf,
      lo: lower ? doubleLower(lo, lower.strict) : -Infinity,
      hi: upper ? doubleUpper(hi, upper.strict) : Infinity,
    };
  }
  if (field.type === 'Int64') {
    const lo = lower ? asNum(lower.value) : INT64_MIN;
    const hi = upper ? asNum(upper.value) : INT64_MAX;
    if (lo === undefined || hi === undefined) return undefined;
    const l = lower ? bigLower(lo, lower.strict) : INT64_MIN;
    const h = upper ? bigUpper(hi, upper.strict) : INT64_MAX;
    return { k: 'big', ...leaf, ...(l === undefined || h === undefined || l > h ? NEVER : { lo: l, hi: h }) };
  }
  if (field.type === 'VarChar') {
    for (const b of [lower, upper]) if (b && typeof b.value !== 'string') return undefined;
    return {
      k: 'str',
      ...leaf,
      lo: lower?.value as string | undefined,
      loStrict: lower?.strict ?? false,
      hi: upper?.value as string | undefined,
      hiStrict: upper?.strict ?? false,
    };
  }
  return undefined;
}

/** `field op constant`, the field on the left; undefined when not a column kernel. */
export function comparePlan(field: FilterField, op: CompareOp, value: unknown, f32: boolean, run: RowRun): Plan | undefined {
  if (op === '!=') {
    const eq = comparePlan(field, '==', value, f32, run);
    return eq && { k: 'not', part: eq };
  }
  if (field.type === 'Bool') {
    if (typeof value !== 'boolean' || op !== '==') return undefined;
    return { k: 'bool', col: field.name, type: field.type, run, whenTrue: value, whenFalse: !value };
  }
  if (op === '==' && field.type === 'VarChar') {
    return typeof value === 'string' ? { k: 'strIn', col: field.name, type: field.type, run, keys: [value] } : undefined;
  }
  switch (op) {
    case '==': return boundsPlan(field, { value, strict: false }, { value, strict: false }, f32, run);
    case '<': return boundsPlan(field, undefined, { value, strict: true }, f32, run);
    case '<=': return boundsPlan(field, undefined, { value, strict: false }, f32, run);
    case '>': return boundsPlan(field, { value, strict: true }, undefined, f32, run);
    default: return boundsPlan(field, { value, strict: false }, undefined, f32, run);
  }
}

export function rangePlan(field: FilterField, lo: unknown, loInclusive: boolean, hi: unknown, hiInclusive: boolean, f32: boolean, run: RowRun): Plan | undefined {
  return boundsPlan(field, { value: lo, strict: !loInclusive }, { value: hi, strict: !hiInclusive }, f32, run);
}

/**
 * `field in keys`, with the keys already converted and normalised the way the row closure
 * looks them up (canonical integers, float32-rounded for Float, Number for Double).
 */
export function inPlan(field: FilterField, keys: unknown[], run: RowRun): Plan | undefined {
  const leaf = { col: field.name, type: field.type, run };
  if (NUMBER_TYPES.has(field.type)) {
    const nums: number[] = [];
    for (const k of keys) {
      // Int8..Int32 values are safe integers: a bigint key (beyond 2^53) never matches. A
      // Double key may be canonicalised to a bigint; Number() gives back the same double.
      if (typeof k === 'number') nums.push(k);
      else if (typeof k === 'bigint') {
        if (field.type === 'Double') nums.push(Number(k));
      } else return undefined;
    }
    // The row closure looks keys up with SameValueZero, under which NaN equals NaN.
    if (nums.some((k) => Number.isNaN(k))) return undefined;
    return { k: 'numIn', ...leaf, keys: [...new Set(nums)] };
  }
  if (field.type === 'Int64') {
    const bigs: bigint[] = [];
    for (const k of keys) {
      if (typeof k === 'bigint') bigs.push(k);
      else if (typeof k === 'number' && Number.isInteger(k)) bigs.push(BigInt(k));
      else return undefined;
    }
    return { k: 'bigIn', ...leaf, keys: [...new Set(bigs)] };
  }
  if (field.type === 'VarChar') {
    if (!keys.every((k) => typeof k === 'string')) return undefined;
    return { k: 'strIn', ...leaf, keys: [...new Set(keys as string[])] };
  }
  if (field.type === 'Bool') {
    if (!keys.every((k) => typeof k === 'boolean')) return undefined;
    return { k: 'bool', ...leaf, whenTrue: keys.includes(true), whenFalse: keys.includes(false) };
  }
  return undefined;
}

export function likePlan(field: FilterField, match: (s: string) => boolean, run: RowRun): Plan | undefined {
  return field.type === 'VarChar' ? { k: 'like', col: field.name, type: field.type, run, match } : undefined;
}

/** A Bool field used as a condition. */
export function boolFieldPlan(field: FilterField, run: RowRun): Plan | undefined {
  return field.type === 'Bool' ? { k: 'bool', col: field.name, type: field.type, run, whenTrue: true, whenFalse: false } : undefined;
}

export function isNullPlan(field: FilterField, want: boolean, run: RowRun): Plan {
  return { k: 'isNull', col: field.name, type: field.type, run, want };
}

/** How a plan runs: 'columns' (no row closure), 'rows' (only row closures), 'mixed', or 'constant'. */
export function planMode(plan: Plan): 'constant' | 'columns' | 'rows' | 'mixed' {
  if (plan.k === 'const') return 'constant';
  let rows = false;
  let columns = false;
  const walk = (p: Plan): void => {
    if (p.k === 'rows') rows = true;
    else if (p.k === 'and' || p.k === 'or') p.parts.forEach(walk);
    else if (p.k === 'not') walk(p.part);
    else if (p.k !== 'const') columns = true;
  };
  walk(plan);
  return rows && columns ? 'mixed' : rows ? 'rows' : 'columns';
}

/** Does evaluating the plan run row closures (so it is worth skipping decided rows)? */
export function hasRows(plan: Plan): boolean {
  if (plan.k === 'rows') return true;
  if (plan.k === 'and' || plan.k === 'or') return plan.parts.some(hasRows);
  if (plan.k === 'not') return hasRows(plan.part);
  return false;
}
