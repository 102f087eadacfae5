/**
 * Compilation of boolean expressions into closures `(row) => State` (see runtime.ts for the
 * three states). All schema and type checks run here, once, so the per-row closures only
 * read values and compare. Logical chains are flattened into n-ary closures: a generated
 * `id == 1 or id == 2 or ...` with thousands of terms neither recurses per row nor overflows.
 */
import type {
  CallExpr,
  CompareExpr,
  CompareOp,
  ExistsExpr,
  FilterExpr,
  InExpr,
  IsNullExpr,
  LikeExpr,
  LogicalExpr,
  RangeExpr,
  UnaryExpr,
} from './ast.js';
import { compileValue, fieldVal, type Ctx, type FilterField, type Row, type Val, type ValType } from './compile-values.js';
import { flattenLogical } from './format.js';
import { boolFieldPlan, comparePlan, inPlan, isLeaf, isNullPlan, likePlan, rangePlan, type LeafPlan, type Plan } from './plan.js';
import {
  F,
  NUL,
  T,
  canon,
  deepEqual,
  isNum,
  jsonComparer,
  likeMatcher,
  notState,
  numCmp,
  strCmp,
} from './runtime.js';

/**
 * A compiled predicate; `k` is set when the result is the same for every row. `vec` is the
 * column plan of the same predicate (plan.ts), when it has one beyond its row closure.
 */
export interface Pred {
  run: (row: Row) => number;
  k?: number;
  vec?: Plan;
}

const constant = (s: number): Pred => ({ run: () => s, k: s });

/** The column plan of a predicate: its own, its constant, or its row closure. */
export function planOf(p: Pred): Plan {
  if (p.k !== undefined) return { k: 'const', state: p.k };
  return p.vec ?? { k: 'rows', run: p.run };
}

/** A Pred with the column plan `vec` when there is one. */
function withPlan(p: Pred, vec: Plan | undefined): Pred {
  if (vec) p.vec = vec;
  return p;
}

/**
 * The schema field a value reads whole (no JSON path, no array index, not `$meta`): what the
 * column kernels can work on. Undefined for anything else.
 */
function plainField(ctx: Ctx, v: Val): FilterField | undefined {
  const c = v.column;
  if (!c || c.path.length !== 0 || c.root === '$meta') return undefined;
  return ctx.fields.get(c.root);
}

export function compilePred(ctx: Ctx, node: FilterExpr): Pred {
  switch (node.kind) {
    case 'matchAll': return constant(T);
    case 'bool': return constant(node.value ? T : F);
    case 'logical': return node.op === 'and' ? andPred(ctx, node) : orPred(ctx, node);
    case 'compare': return comparePred(ctx, node);
    case 'range': return rangePred(ctx, node);
    case 'in': return inPred(ctx, node);
    case 'like': return likePred(ctx, node);
    case 'isNull': return isNullPred(ctx, node);
    case 'exists': return existsPred(ctx, node);
    case 'unary': if (node.op === 'not') return notPred(ctx, node); break;
    case 'call': if (node.fn !== 'array_length') return containsPred(ctx, node); break;
    default: break;
  }
  return boolValuePred(ctx, node);
}

/** A Bool field (or bool constant) used directly as a condition: `active`, `not active`. */
function boolValuePred(ctx: Ctx, node: FilterExpr): Pred {
  const v = compileValue(ctx, node);
  if (v.type !== 'bool') ctx.fail(`expected a boolean expression, got ${v.desc}`, node.span.start);
  if (v.konst) return constant(v.konst.value === true ? T : F);
  const [g, m] = [v.get, v.miss];
  const p: Pred = {
    run: (row) => {
      const a = g(row);
      if (a == null) return m(row);
      return a === true ? T : F;
    },
  };
  const field = plainField(ctx, v);
  return withPlan(p, field && boolFieldPlan(field, p.run));
}

const VALUE_KINDS = new Set(['int', 'float', 'string', 'list', 'field', 'arith', 'template']);

function negate(p: Pred): Pred {
  if (p.k !== undefined) return constant(notState(p.k));
  const run = p.run;
  return withPlan({ run: (row) => notState(run(row)) }, p.vec && { k: 'not', part: p.vec });
}

function notPred(ctx: Ctx, node: UnaryExpr): Pred {
  const o = node.operand;
  const valueLike = VALUE_KINDS.has(o.kind) || (o.kind === 'unary' && o.op !== 'not') || (o.kind === 'call' && o.fn === 'array_length');
  if (valueLike) {
    const v = compileValue(ctx, o);
    if (v.type !== 'bool') {
      ctx.fail(`'not' needs a boolean operand, got ${v.desc} ('not' binds tighter than comparisons: write not (...))`, node.span.start);
    }
  }
  return negate(compilePred(ctx, o));
}

/**
 * The column plan of an n-ary and/or over `live` parts, plus the constant one (if any): none
 * when no part has a column plan (the row closure of the whole is then the cheaper form).
 */
function logicalPlan(op: 'and' | 'or', live: Pred[], konst: number | undefined): Plan | undefined {
  if (!live.some((p) => p.vec)) return undefined;
  // The parts without a column plan become one row closure (and/or are associative and
  // commutative on the states), so their rows are visited once, not once per part.
  const slow = live.filter((p) => !p.vec).map((p) => p.run);
  const parts = live.filter((p) => p.vec).map(planOf);
  if (slow.length === 1) parts.push({ k: 'rows', run: slow[0]! });
  if (slow.length > 1) parts.push({ k: 'rows', run: (op === 'and' ? andRun(slow, false) : orRun(slow, NUL)).run });
  if (konst !== undefined) parts.push({ k: 'const', state: konst });
  return { k: op, parts: op === 'or' ? mergeEqualities(parts) : parts };
}

/**
 * `x == 1 or x == 2 or ...` on one column is `x in [1, 2, ...]` (the same states row by row:
 * null when x is null, else whether x is one of them), and one pass over the column instead
 * of one per term.
 */
function mergeEqualities(parts: Plan[]): Plan[] {
  const keysOf = (p: Plan): unknown[] | undefined => {
    switch (p.k) {
      case 'num': return p.lo === p.hi ? [p.lo] : undefined;
      case 'big': return p.lo === p.hi ? [p.lo] : undefined;
      case 'numIn': case 'bigIn': case 'strIn': return p.keys;
      default: return undefined;
    }
  };
  const groups = new Map<string, { first: LeafPlan; keys: unknown[]; n: number }>();
  for (const p of parts) {
    const keys = keysOf(p);
    if (!keys || !isLeaf(p)) continue;
    const g = groups.get(p.col);
    if (g === undefined) groups.set(p.col, { first: p, keys: [...keys], n: 1 });
    else if (g.first.type === p.type) {
      g.keys.push(...keys);
      g.n++;
    }
  }
  const out: Plan[] = [];
  for (const p of parts) {
    const g = isLeaf(p) ? groups.get(p.col) : undefined;
    if (!g || g.n < 2 || !isLeaf(p) || keysOf(p) === undefined || g.first.type !== p.type) {
      out.push(p);
      continue;
    }
    if (g.first !== p) continue;
    const { col, type, run } = g.first;
    const merged: Plan =
      type === 'Int64' ? { k: 'bigIn', col, type, run, keys: [...new Set(g.keys as bigint[])] }
      : type === 'VarChar' ? { k: 'strIn', col, type, run, keys: [...new Set(g.keys as string[])] }
      : { k: 'numIn', col, type, run, keys: [...new Set(g.keys as number[])] };
    out.push(merged);
  }
  return out;
}

function andPred(ctx: Ctx, node: LogicalExpr): Pred {
  const parts = flattenLogical(node).map((n) => compilePred(ctx, n));
  if (parts.some((p) => p.k === F)) return constant(F);
  const constT = parts.some((p) => p.k === T);
  const livePreds = parts.filter((p) => p.k === undefined);
  const live = livePreds.map((p) => p.run);
  if (live.length === 0) return constant(T);
  if (live.length === 1 && !constT) return livePreds[0]!;
  const vec = logicalPlan('and', livePreds, constT ? T : undefined);
  return withPlan(andRun(live, constT), vec);
}

function andRun(live: ((row: Row) => number)[], constT: boolean): Pred {
  const [a, b] = live as [(row: Row) => number, (row: Row) => number];
  if (live.length === 2 && !constT) {
    return {
      run: (row) => {
        const x = a(row);
        if (x === F) return F;
        const y = b(row);
        if (y === F) return F;
        // Milvus: data bits AND, valid bits OR; so T with NULL is a valid false.
        return x === T ? (y === T ? T : F) : y === T ? F : NUL;
      },
    };
  }
  return {
    run: (row) => {
      let sawT = constT;
      let sawNull = false;
      for (const f of live) {
        const s = f(row);
        if (s === F) return F;
        if (s === T) sawT = true;
        else sawNull = true;
      }
      return !sawNull ? T : sawT ? F : NUL;
    },
  };
}

function orPred(ctx: Ctx, node: LogicalExpr): Pred {
  const parts = flattenLogical(node).map((n) => compilePred(ctx, n));
  if (parts.some((p) => p.k === T)) return constant(T);
  const base = parts.some((p) => p.k === F) ? F : NUL;
  const livePreds = parts.filter((p) => p.k === undefined);
  const live = livePreds.map((p) => p.run);
  if (live.length === 0) return constant(base);
  if (live.length === 1 && base === NUL) return livePreds[0]!;
  const vec = logicalPlan('or', livePreds, base === F ? F : undefined);
  return withPlan(orRun(live, base), vec);
}

function orRun(live: ((row: Row) => number)[], base: number): Pred {
  const [a, b] = live as [(row: Row) => number, (row: Row) => number];
  if (live.length === 2 && base === NUL) {
    return {
      run: (row) => {
        const x = a(row);
        return x === T ? T : x | b(row);
      },
    };
  }
  return {
    run: (row) => {
      // Bitwise OR of the 2-bit states is exactly "data OR, valid OR".
      let acc = base;
      for (const f of live) {
        acc |= f(row);
        if (acc === T) return T;
      }
      return acc;
    },
  };
}

type Kind = 'num' | 'str' | 'bool' | 'json';

/** Milvus's compile-time comparability rules; returns how to compare at run time. */
function compareKind(ctx: Ctx, l: Val, r: Val, op: CompareOp, pos: number): Kind {
  for (const [v, other] of [[l, r], [r, l]] as const) {
    // A JSON value may hold an array, so `meta["k"] == [1, 2]` is a (deep) equality test.
    if (v.type === 'list' && other.type !== 'json') {
      ctx.fail("cannot compare with a list; use 'in' to test membership", v.node.span.start);
    }
    if (v.type === 'array') {
      ctx.fail(`cannot compare ${v.desc} directly; use array_contains() or an element like [0]`, v.node.span.start);
    }
  }
  if (l.type === 'json' || r.type === 'json') return 'json';
  const numeric = (v: Val): boolean => v.type === 'int' || v.type === 'float';
  if (numeric(l) && numeric(r)) return 'num';
  if (l.type === 'string' && r.type === 'string') return 'str';
  if (l.type === 'bool' && r.type === 'bool') {
    if (op !== '==' && op !== '!=') ctx.fail(`operator '${op}' does not apply to booleans`, pos);
    return 'bool';
  }
  return ctx.fail(`cannot compare ${l.desc} with ${r.desc}`, pos);
}

type Tester = (a: unknown, b: unknown) => boolean | undefined;

/**
 * `(a, b) => boolean`, or undefined when a row value has an incomparable type (JSON). Float
 * (float32) columns compare after rounding both sides to float32, as Milvus casts the
 * constant to the column type: `price == 0.1` matches a stored float32 0.1.
 */
function tester(kind: Kind, op: CompareOp, f32: boolean): Tester {
  switch (kind) {
    case 'num': {
      const cmp = numCmp(op);
      if (f32) return (a, b) => (isNum(a) && isNum(b) ? cmp(Math.fround(Number(a)), Math.fround(Number(b))) : undefined);
      return (a, b) => (isNum(a) && isNum(b) ? cmp(a, b) : undefined);
    }
    case 'str': {
      const cmp = strCmp(op);
      return (a, b) => (typeof a === 'string' && typeof b === 'string' ? cmp(a, b) : undefined);
    }
    case 'bool': {
      const want = op === '==';
      return (a, b) => (typeof a === 'boolean' && typeof b === 'boolean' ? (a === b) === want : undefined);
    }
    default:
      return jsonComparer(op);
  }
}

const FLIP: Record<CompareOp, CompareOp> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** Milvus on JSON: incomparable or missing means `!=` holds and everything else fails. */
const verdict = (t: boolean | undefined, ne: boolean): number => (t === undefined ? (ne ? T : F) : t ? T : F);
const missVerdict = (m: number, ne: boolean): number => (ne && m === F ? T : m);

function comparePred(ctx: Ctx, node: CompareExpr): Pred {
  let l = compileValue(ctx, node.left);
  let r = compileValue(ctx, node.right);
  let op = node.op;
  const kind = compareKind(ctx, l, r, op, node.opPos);
  if (l.konst && !r.konst) {
    [l, r, op] = [r, l, FLIP[op]];
  }
  const test = tester(kind, op, l.f32 === true || r.f32 === true);
  const ne = op === '!=';
  if (l.konst && r.konst) return constant(verdict(test(l.konst.value, r.konst.value), ne));
  const [g, m] = [l.get, l.miss];
  if (r.konst) {
    const b = r.konst.value;
    const p: Pred = {
      run: (row) => {
        const a = g(row);
        return a == null ? missVerdict(m(row), ne) : verdict(test(a, b), ne);
      },
    };
    const field = kind === 'json' ? undefined : plainField(ctx, l);
    return withPlan(p, field && comparePlan(field, op, b, l.f32 === true || r.f32 === true, p.run));
  }
  const [g2, m2] = [r.get, r.miss];
  return {
    run: (row) => {
      const a = g(row);
      const b = g2(row);
      if (a == null || b == null) return missVerdict((a == null ? m(row) : F) & (b == null ? m2(row) : F), ne);
      return verdict(test(a, b), ne);
    },
  };
}

/** Milvus rejects ranges that can never hold (`5 < x < 1`, `1 < x < 1`). */
function checkRangeBounds(ctx: Ctx, node: RangeExpr, lo: unknown, hi: unknown): void {
  const comparable = (isNum(lo) && isNum(hi)) || (typeof lo === 'string' && typeof hi === 'string');
  if (!comparable) return;
  const both = node.lowerInclusive && node.upperInclusive;
  if ((lo as number) > (hi as number) || (!both && lo == hi)) {
    ctx.fail('invalid range: the lower bound is not below the upper bound', node.span.start);
  }
}

function rangePred(ctx: Ctx, node: RangeExpr): Pred {
  const f = fieldVal(ctx, node.field);
  const lo = compileValue(ctx, node.lower);
  const hi = compileValue(ctx, node.upper);
  for (const b of [lo, hi]) {
    if (!b.konst) ctx.fail('range bounds must be constants (as in Milvus)', b.node.span.start);
  }
  const kLo = compareKind(ctx, f, lo, '<', lo.node.span.start);
  const kHi = compareKind(ctx, f, hi, '<', hi.node.span.start);
  const [vLo, vHi] = [lo.konst?.value, hi.konst?.value];
  checkRangeBounds(ctx, node, vLo, vHi);
  const tLo = tester(kLo, node.lowerInclusive ? '>=' : '>', f.f32 === true);
  const tHi = tester(kHi, node.upperInclusive ? '<=' : '<', f.f32 === true);
  const [g, m] = [f.get, f.miss];
  const p: Pred = {
    run: (row) => {
      const a = g(row);
      if (a == null) return m(row);
      return tLo(a, vLo) === true && tHi(a, vHi) === true ? T : F;
    },
  };
  const field = kLo === 'json' || kHi === 'json' ? undefined : plainField(ctx, f);
  return withPlan(p, field && rangePlan(field, vLo, node.lowerInclusive, vHi, node.upperInclusive, f.f32 === true, p.run));
}

/**
 * A list item converted to the column's type, as Milvus's castValue does: ints for integer
 * columns (a float in the list is an error), numbers for float columns, anything for JSON.
 */
function castItem(ctx: Ctx, target: ValType, item: Val, what: string): unknown {
  const value = item.konst?.value;
  const ok =
    target === 'json' ||
    item.type === target ||
    (target === 'float' && item.type === 'int');
  if (!ok) ctx.fail(`${item.desc} cannot be used with ${what}`, item.node.span.start);
  return target === 'float' ? Number(value) : value;
}

/** Maps a row value to the canonical key the constant keys were built with. */
function normalizer(v: Val): (a: unknown) => unknown {
  if (v.f32) return (a) => (typeof a === 'number' ? Math.fround(a) : canon(a));
  if (v.type === 'string' || v.type === 'bool') return (a) => a;
  return canon;
}

function inPred(ctx: Ctx, node: InExpr): Pred {
  const v = compileValue(ctx, node.operand);
  if (!v.column) ctx.fail("'in' needs a field or JSON path on its left side", node.operand.span.start);
  if (v.type === 'array') ctx.fail(`'in' cannot test ${v.desc} as a whole; use array_contains_any()`, node.operand.span.start);
  const list = compileValue(ctx, node.list);
  if (list.items === undefined) return ctx.fail("the right side of 'in' must be a list", node.list.span.start);
  const norm = normalizer(v);
  const keys = list.items.map((i) => norm(castItem(ctx, v.type, i, v.desc)));
  const set = new Set(keys.filter((k) => !Array.isArray(k)));
  const nested = keys.filter((k) => Array.isArray(k));
  const [g, m] = [v.get, v.miss];
  const hit = nested.length === 0
    ? (a: unknown) => set.has(norm(a))
    : (a: unknown) => set.has(norm(a)) || nested.some((k) => deepEqual(a, k));
  const p: Pred = {
    run: (row) => {
      const a = g(row);
      if (a == null) return m(row);
      return hit(a) ? T : F;
    },
  };
  const field = nested.length === 0 ? plainField(ctx, v) : undefined;
  withPlan(p, field && inPlan(field, keys, p.run));
  return node.negated ? negate(p) : p;
}

function likePred(ctx: Ctx, node: LikeExpr): Pred {
  const v = compileValue(ctx, node.operand);
  if (!v.column || (v.type !== 'string' && v.type !== 'json')) {
    ctx.fail(`'like' needs a VarChar or JSON field, got ${v.desc}`, node.operand.span.start);
  }
  const pattern = compileValue(ctx, node.pattern);
  if (pattern.type !== 'string' || !pattern.konst) ctx.fail("'like' needs a string pattern", node.pattern.span.start);
  const match = likeMatcher(pattern.konst.value as string);
  const [g, m] = [v.get, v.miss];
  const p: Pred = {
    run: (row) => {
      const a = g(row);
      if (a == null) return m(row);
      return typeof a === 'string' && match(a) ? T : F;
    },
  };
  const field = plainField(ctx, v);
  return withPlan(p, field && likePlan(field, match, p.run));
}

/**
 * `x is null` on a column checks the column; on a JSON key (or a dynamic field) Milvus
 * rewrites it to `not exists`, which this matches since a missing key reads as absent.
 * The result is never "invalid": `not (x is null)` is `x is not null`.
 */
function isNullPred(ctx: Ctx, node: IsNullExpr): Pred {
  const v = fieldVal(ctx, node.field);
  const g = v.get;
  const want = !node.negated;
  const p: Pred = { run: (row) => ((g(row) == null) === want ? T : F) };
  const field = plainField(ctx, v);
  return withPlan(p, field && isNullPlan(field, want, p.run));
}

function existsPred(ctx: Ctx, node: ExistsExpr): Pred {
  const o = node.operand;
  const v = o.kind === 'field' ? fieldVal(ctx, o) : undefined;
  if (!v?.column?.json || v.column.path.length === 0) {
    return ctx.fail("'exists' needs a JSON key such as meta[\"key\"] or a dynamic field name", o.span.start);
  }
  const g = v.get;
  return { run: (row) => (g(row) != null ? T : F) };
}

/** The array matcher behind array_contains / json_contains and their _all / _any forms. */
function arrayMatcher(mode: 'one' | 'all' | 'any', needles: unknown[], norm: (a: unknown) => unknown): (arr: unknown[]) => boolean {
  const hasList = needles.some((n) => Array.isArray(n));
  const eq = (e: unknown, n: unknown): boolean => (Array.isArray(n) ? deepEqual(e, n) : norm(e) === n);
  if (mode === 'one') {
    const n = needles[0];
    return (arr) => arr.some((e) => eq(e, n));
  }
  if (mode === 'any') {
    if (hasList) return (arr) => arr.some((e) => needles.some((n) => eq(e, n)));
    const set = new Set(needles);
    return (arr) => arr.some((e) => set.has(norm(e)));
  }
  if (hasList) return (arr) => needles.every((n) => arr.some((e) => eq(e, n)));
  return (arr) => {
    const present = new Set(arr.map(norm));
    return needles.every((n) => present.has(n));
  };
}

function containsPred(ctx: Ctx, node: CallExpr): Pred {
  const [first, second] = node.args as [FilterExpr, FilterExpr];
  const arr = compileValue(ctx, first);
  if (!arr.column || (arr.type !== 'array' && arr.type !== 'json')) {
    ctx.fail(`${node.fn}() needs an Array or JSON field, got ${arr.desc}`, first.span.start);
  }
  const target: ValType = arr.type === 'array' ? (arr.elem as ValType) : 'json';
  const needle = compileValue(ctx, second);
  if (!needle.konst) ctx.fail(`${node.fn}() needs a constant as its second argument`, second.span.start);
  const mode = node.fn.endsWith('_all') ? 'all' : node.fn.endsWith('_any') ? 'any' : 'one';
  if (mode !== 'one' && needle.items === undefined) ctx.fail(`${node.fn}() needs a list as its second argument`, second.span.start);
  const elemVal: Val = { ...arr, type: target };
  const norm = normalizer(elemVal);
  const what = `the elements of ${arr.desc}`;
  const needles = mode === 'one' ? [norm(castItem(ctx, target, needle, what))] : (needle.items ?? []).map((i) => norm(castItem(ctx, target, i, what)));
  const match = arrayMatcher(mode, needles, norm);
  const [g, m] = [arr.get, arr.miss];
  return {
    run: (row) => {
      const a = g(row);
      if (a == null) return m(row);
      return Array.isArray(a) && match(a) ? T : F;
    },
  };
}
