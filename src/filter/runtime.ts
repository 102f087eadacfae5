/**
 * Value-level helpers the compiled closures call per row: canonical numbers (so int64 ids
 * compare exactly whether they arrive as number or bigint), JSON-typed comparison, integer
 * arithmetic without precision loss, and LIKE matching. No AST here.
 */

/**
 * Milvus's nullable semantics, as a 2-bit state: bit 1 = "valid" (the operands were not
 * null), bit 0 = "data" (the predicate holds). Milvus keeps exactly these two bitmaps per
 * expression (segcore LogicalBinaryExpr / LogicalUnaryExpr), so the numbers below are its
 * truth table: AND/OR combine data bits and OR the valid bits; NOT flips data and masks it
 * with valid. A row matches when the data bit is set.
 */
export const NUL = 0;
export const F = 2;
export const T = 3;
export type State = typeof NUL | typeof F | typeof T;

/** NOT: an invalid (null) result stays invalid, so `not (x > 1)` is false when x is null. */
export function notState(s: number): number {
  return s === NUL ? NUL : s ^ 1;
}

/**
 * One canonical JS value per mathematical integer: safe integers are numbers, larger ones
 * bigints. Makes Set/=== lookups exact across number/bigint inputs; non-numbers pass through.
 */
export function canon(v: unknown): unknown {
  if (typeof v === 'number') {
    return Number.isInteger(v) && !Number.isSafeInteger(v) ? BigInt(v) : v;
  }
  if (typeof v === 'bigint') {
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  }
  return v;
}

export function isNum(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

/**
 * JS compares number with bigint by mathematical value (`2**53 < 2n**53n + 1n` is true), so
 * the plain operators are exact across the two representations.
 */
export function numCmp(op: string): (a: number | bigint, b: number | bigint) => boolean {
  switch (op) {
    case '==': return (a, b) => a == b; // loose: number vs bigint by value
    case '!=': return (a, b) => a != b;
    case '<': return (a, b) => a < b;
    case '<=': return (a, b) => a <= b;
    case '>': return (a, b) => a > b;
    default: return (a, b) => a >= b;
  }
}

export function strCmp(op: string): (a: string, b: string) => boolean {
  switch (op) {
    case '==': return (a, b) => a === b;
    case '!=': return (a, b) => a !== b;
    case '<': return (a, b) => a < b;
    case '<=': return (a, b) => a <= b;
    case '>': return (a, b) => a > b;
    default: return (a, b) => a >= b;
  }
}

/** Structural equality of JSON values with canonical numbers (lists from `[..]` literals). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isNum(a) && isNum(b)) return a == b;
  return a === b;
}

/**
 * Comparison of values whose type is only known per row (JSON keys, dynamic fields).
 * Returns undefined when the types are incomparable; the caller turns that into false for
 * `==` and ordering and true for `!=`, as Milvus does for JSON.
 */
export function jsonComparer(op: string): (a: unknown, b: unknown) => boolean | undefined {
  const num = numCmp(op);
  const str = strCmp(op);
  const equality = op === '==' || op === '!=';
  const want = op === '==';
  return (a, b) => {
    if (isNum(a) && isNum(b)) return num(a, b);
    if (typeof a === 'string' && typeof b === 'string') return str(a, b);
    if (!equality) return undefined;
    if (typeof a === 'boolean' && typeof b === 'boolean') return (a === b) === want;
    if (Array.isArray(a) && Array.isArray(b)) return deepEqual(a, b) === want;
    return undefined;
  };
}

function toBig(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

/**
 * Integer arithmetic as Milvus does it on int64 columns (`/` truncates, `%` keeps the sign
 * of the dividend), exact beyond 2^53 by falling back to bigint. Undefined on division by
 * zero or a non-integer operand. There is no int64 wrap-around: results are exact.
 */
export function intArith(op: string): (a: unknown, b: unknown) => unknown {
  const big = bigArith(op);
  return (a, b) => {
    if (typeof a === 'number' && typeof b === 'number' && Number.isInteger(a) && Number.isInteger(b)) {
      let r: number;
      switch (op) {
        case '+': r = a + b; break;
        case '-': r = a - b; break;
        case '*': r = a * b; break;
        case '/': if (b === 0) return undefined; r = (a - (a % b)) / b; break;
        default: if (b === 0) return undefined; r = a % b; break;
      }
      if (Number.isSafeInteger(r)) return r;
    }
    const x = toBig(a);
    const y = toBig(b);
    return x === undefined || y === undefined ? undefined : big(x, y);
  };
}

function bigArith(op: string): (x: bigint, y: bigint) => unknown {
  switch (op) {
    case '+': return (x, y) => canon(x + y);
    case '-': return (x, y) => canon(x - y);
    case '*': return (x, y) => canon(x * y);
    case '/': return (x, y) => (y === 0n ? undefined : canon(x / y));
    default: return (x, y) => (y === 0n ? undefined : canon(x % y));
  }
}

/** Floating-point arithmetic; `%` is only reached for JSON values that are integers. */
export function floatArith(op: string): (a: unknown, b: unknown) => unknown {
  const int = intArith(op);
  return (a, b) => {
    if (!isNum(a) || !isNum(b)) return undefined;
    if (op === '%') return int(a, b);
    const x = Number(a);
    const y = Number(b);
    switch (op) {
      case '+': return x + y;
      case '-': return x - y;
      case '*': return x * y;
      case '/': return x / y;
      default: return x ** y;
    }
  };
}

/** Characters with a meaning in a `u`-flag regular expression, escaped when literal. */
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/;

type LikePart = { wild: '%' | '_' } | { lit: string };

function likeParts(pattern: string): LikePart[] {
  const parts: LikePart[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '%' || c === '_') {
      parts.push({ wild: c });
    } else if (c === '\\' && i + 1 < pattern.length) {
      // A backslash makes the next character literal: `\%`, `\_`, `\\`.
      parts.push({ lit: String.fromCodePoint(pattern.codePointAt(++i) as number) });
      if ((pattern.codePointAt(i) as number) > 0xffff) i++;
    } else {
      parts.push({ lit: c });
    }
  }
  return parts;
}

/**
 * A matcher for a SQL LIKE pattern: `%` any run, `_` exactly one character (code point),
 * backslash escapes. Common shapes (exact, prefix, suffix, infix) avoid regular expressions;
 * the general case builds an anchored regex with every literal metacharacter escaped.
 */
export function likeMatcher(pattern: string): (s: string) => boolean {
  const parts = likeParts(pattern);
  const wild = parts.filter((p) => 'wild' in p);
  const text = (ps: LikePart[]) => ps.map((p) => ('lit' in p ? p.lit : '')).join('');
  if (wild.length === 0) {
    const exact = text(parts);
    return (s) => s === exact;
  }
  if (wild.every((p) => 'wild' in p && p.wild === '%')) {
    const inner = text(parts);
    const first = parts[0] as LikePart;
    const last = parts[parts.length - 1] as LikePart;
    const contiguous = parts.filter((p, i) => 'wild' in p && i !== 0 && i !== parts.length - 1).length === 0;
    if (contiguous && inner === '') return () => true;
    if (contiguous && 'wild' in first && 'wild' in last) return (s) => s.includes(inner);
    if (contiguous && 'wild' in last) return (s) => s.startsWith(inner);
    if (contiguous && 'wild' in first) return (s) => s.endsWith(inner);
  }
  const source = parts
    .map((p) => ('wild' in p ? (p.wild === '%' ? '[^]*' : '[^]') : REGEX_SYNTAX.test(p.lit) ? `\\${p.lit}` : p.lit))
    .join('');
  const re = new RegExp(`^${source}$`, 'u');
  return (s) => re.test(s);
}
