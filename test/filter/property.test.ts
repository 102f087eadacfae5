/**
 * Property tests: random filter trees over three nullable Int64 fields are printed to a
 * string (random keyword spellings, minimal or extra parentheses), parsed and compiled, and
 * the predicate is compared row by row with a reference evaluator written here from
 * Milvus's data/valid bitmap rules. The seed is printed; set VECWAL_SEED to replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFilter, extractPrimaryKeyLookup, formatFilter, parseFilter, type FilterSchema, type Row } from '../../src/filter/index.js';
import { seedFromEnv } from '../../src/util/rng.js';

const SEED = seedFromEnv('VECWAL_SEED');
console.log(`filter property tests: VECWAL_SEED=${SEED} (set it to replay)`);

type Field = 'a' | 'b' | 'c';
type Term =
  | { t: 'field'; f: Field; paren: boolean }
  | { t: 'const'; v: number }
  | { t: 'arith'; op: '+' | '-' | '*'; l: Term; r: Term };
type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
type G =
  | { t: 'cmp'; op: CmpOp; l: Term; r: Term }
  | { t: 'range'; f: Field; lo: number; hi: number; loInc: boolean; hiInc: boolean; rev: boolean }
  | { t: 'in'; f: Field; neg: boolean; vals: number[] }
  | { t: 'null'; f: Field; neg: boolean; upper: boolean }
  | { t: 'bool'; v: boolean }
  | { t: 'and' | 'or'; a: G; b: G; sp: number; paren: boolean }
  | { t: 'not'; a: G; sp: number };

const SCHEMA: FilterSchema = {
  enableDynamicField: false,
  fields: [
    { name: 'a', type: 'Int64', nullable: true },
    { name: 'b', type: 'Int64', nullable: true },
    { name: 'c', type: 'Int64', nullable: true },
  ],
};

const field = fc.constantFrom<Field>('a', 'b', 'c');
const small = fc.integer({ min: -6, max: 6 });

const { pred: predArb } = fc.letrec<{ term: Term; pred: G }>((tie) => ({
  term: fc.oneof(
    { maxDepth: 2, depthIdentifier: 'term' },
    fc.record({ t: fc.constant('field' as const), f: field, paren: fc.boolean() }),
    fc.record({ t: fc.constant('const' as const), v: small }),
    fc.record({ t: fc.constant('arith' as const), op: fc.constantFrom('+' as const, '-' as const, '*' as const), l: tie('term'), r: tie('term') }),
  ),
  pred: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'pred' },
    fc.record({ t: fc.constant('cmp' as const), op: fc.constantFrom<CmpOp>('==', '!=', '<', '<=', '>', '>='), l: tie('term'), r: tie('term') }),
    fc.record({ t: fc.constant('range' as const), f: field, lo: small, hi: small, loInc: fc.boolean(), hiInc: fc.boolean(), rev: fc.boolean() })
      .filter((r) => r.lo < r.hi),
    fc.record({ t: fc.constant('in' as const), f: field, neg: fc.boolean(), vals: fc.array(small, { maxLength: 4 }) }),
    fc.record({ t: fc.constant('null' as const), f: field, neg: fc.boolean(), upper: fc.boolean() }),
    fc.record({ t: fc.constant('bool' as const), v: fc.boolean() }),
    fc.record({ t: fc.constantFrom('and' as const, 'or' as const), a: tie('pred'), b: tie('pred'), sp: fc.nat(2), paren: fc.boolean() }),
    fc.record({ t: fc.constant('not' as const), a: tie('pred'), sp: fc.nat(2) }),
  ),
}));

/** Row values: null, missing, or small ints as number or bigint (both Int64 encodings). */
const value = fc.oneof(fc.constant(null), fc.constant(undefined), small, small.map((v) => BigInt(v)));
const rowArb = fc.record({ a: value, b: value, c: value });

// ---- printer: minimal parentheses from the precedence table, plus random extra ones ----

const ARITH_LEVEL = { '+': 1, '-': 1, '*': 2 } as const;

function printTerm(x: Term, minLevel = 0): string {
  if (x.t === 'field') return x.paren ? `(${x.f})` : x.f;
  if (x.t === 'const') return String(x.v);
  const level = ARITH_LEVEL[x.op];
  // Left-associative: the right operand needs parentheses at the same level.
  const s = `${printTerm(x.l, level)} ${x.op} ${printTerm(x.r, level + 1)}`;
  return level < minLevel ? `(${s})` : s;
}

const SPELL = { and: ['and', '&&', 'AND'], or: ['or', '||', 'OR'], not: ['not ', '!', 'NOT '] } as const;

/** `level`: 0 anywhere, 1 inside `and`, 2 as the operand of `not`. */
function print(g: G, level = 0): string {
  switch (g.t) {
    case 'cmp': return wrap(`${printTerm(g.l)} ${g.op} ${printTerm(g.r)}`, level >= 2);
    case 'range': {
      const [o1, o2] = [g.loInc ? '<=' : '<', g.hiInc ? '<=' : '<'];
      const s = g.rev ? `${g.hi} ${o2.replace('<', '>')} ${g.f} ${o1.replace('<', '>')} ${g.lo}` : `${g.lo} ${o1} ${g.f} ${o2} ${g.hi}`;
      return wrap(s, level >= 2);
    }
    case 'in': return wrap(`${g.f} ${g.neg ? 'not in' : 'in'} [${g.vals.join(', ')}]`, level >= 2);
    case 'null': {
      const s = `${g.f} is ${g.neg ? 'not ' : ''}null`;
      return g.upper ? s.toUpperCase().replace(g.f.toUpperCase(), g.f) : s;
    }
    case 'bool': return String(g.v);
    case 'not': return `${SPELL.not[g.sp]}${print(g.a, 2)}`;
    case 'and': return wrap(`${print(g.a, 1)} ${SPELL.and[g.sp]} ${print(g.b, 1)}`, g.paren || level >= 2);
    case 'or': return wrap(`${print(g.a, 0)} ${SPELL.or[g.sp]} ${print(g.b, 0)}`, g.paren || level >= 1);
  }
}

const wrap = (s: string, yes: boolean): string => (yes ? `(${s})` : s);

// ---- reference evaluator: Milvus keeps a data bit and a valid bit per row ----

interface R {
  data: boolean;
  valid: boolean;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function evalTerm(x: Term, row: Row): number | null {
  if (x.t === 'field') return num(row[x.f]);
  if (x.t === 'const') return x.v;
  const [l, r] = [evalTerm(x.l, row), evalTerm(x.r, row)];
  if (l === null || r === null) return null;
  return x.op === '+' ? l + r : x.op === '-' ? l - r : l * r;
}

const CMP: Record<CmpOp, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b, '!=': (a, b) => a !== b, '<': (a, b) => a < b,
  '<=': (a, b) => a <= b, '>': (a, b) => a > b, '>=': (a, b) => a >= b,
};

function reference(g: G, row: Row): R {
  const nullRow = { data: false, valid: false };
  switch (g.t) {
    case 'cmp': {
      const [l, r] = [evalTerm(g.l, row), evalTerm(g.r, row)];
      return l === null || r === null ? nullRow : { data: CMP[g.op](l, r), valid: true };
    }
    case 'range': {
      const x = num(row[g.f]);
      if (x === null) return nullRow;
      return { data: (g.loInc ? x >= g.lo : x > g.lo) && (g.hiInc ? x <= g.hi : x < g.hi), valid: true };
    }
    case 'in': {
      const x = num(row[g.f]);
      return x === null ? nullRow : { data: g.vals.includes(x) !== g.neg, valid: true };
    }
    case 'null': return { data: (num(row[g.f]) === null) !== g.neg, valid: true };
    case 'bool': return { data: g.v, valid: true };
    case 'not': {
      const a = reference(g.a, row);
      return { data: !a.data && a.valid, valid: a.valid };
    }
    default: {
      const [a, b] = [reference(g.a, row), reference(g.b, row)];
      const data = g.t === 'and' ? a.data && b.data : a.data || b.data;
      return { data, valid: a.valid || b.valid };
    }
  }
}

test('compiled filters agree with a reference evaluator of Milvus semantics', (t) => {
  t.diagnostic(`seed ${SEED} (set VECWAL_SEED to replay)`);
  fc.assert(
    fc.property(predArb, fc.array(rowArb, { minLength: 1, maxLength: 25 }), (g, rows) => {
      const text = print(g);
      const compiled = compileFilter(text, SCHEMA);
      // The canonical print must mean the same thing (a round trip through the formatter).
      const reformatted = compileFilter(formatFilter(parseFilter(text)), SCHEMA);
      for (const row of rows) {
        const want = reference(g, row).data;
        assert.equal(compiled(row), want, `${text} on ${JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
        assert.equal(reformatted(row), want, `formatted ${text}`);
      }
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('primary-key lookups return exactly the keys the compiled filter matches', (t) => {
  t.diagnostic(`seed ${SEED} (set VECWAL_SEED to replay)`);
  const clause = fc.oneof(
    small.map((v) => `id == ${v}`),
    fc.array(small, { maxLength: 4 }).map((vs) => `id in [${vs.join(', ')}]`),
  );
  const schema: FilterSchema = { enableDynamicField: false, fields: [{ name: 'id', type: 'Int64' }] };
  fc.assert(
    fc.property(fc.array(clause, { minLength: 1, maxLength: 6 }), (clauses) => {
      const text = clauses.join(' or ');
      const keys = extractPrimaryKeyLookup(parseFilter(text), 'id');
      assert.ok(keys !== null, text);
      assert.equal(new Set(keys).size, keys.length, 'no duplicates');
      const pred = compileFilter(text, schema);
      for (let id = -7; id <= 7; id++) {
        assert.equal(pred({ id }), keys.includes(id), `${text} at id ${id}`);
        assert.equal(pred({ id: BigInt(id) }), keys.includes(id), `${text} at id ${id}n`);
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});
