/**
 * The column form of a filter (compileBatchFilter(...).bits, src/filter/bits.ts) must give,
 * row for row, what the row closure (compileFilter) gives on the row view the reader uses.
 *
 * Property: random schemas (every scalar type, nullable or not, with or without the dynamic
 * field), random batches (nulls, with junk values under the nulls; NaN, -0, infinities,
 * int64 beyond 2^53; strings with LIKE metacharacters), random row ranges and deleted-row
 * bitmaps, and random filters: trees of and/or/not over conditions the column kernels handle
 * (those filters must evaluate entirely over columns), and mixed with conditions that stay row
 * closures (JSON paths, dynamic fields, arithmetic, two-field comparisons, array functions).
 * The seed is printed; set VECWAL_SEED to replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileBatchFilter, compileFilter, type FilterSchema, type ScalarType } from '../../src/filter/index.js';
import { rowView } from '../../src/db/columns.js';
import type { CollectionSchema, ColumnBatch, ColumnData, DataType } from '../../src/db/types.js';
import { seedFromEnv } from '../../src/util/rng.js';

const SEED = seedFromEnv('VECWAL_SEED');
console.log(`filter bits property tests: VECWAL_SEED=${SEED} (set it to replay)`);

type FieldType = 'Bool' | 'Int8' | 'Int16' | 'Int32' | 'Int64' | 'Float' | 'Double' | 'VarChar' | 'JSON' | 'Array';
interface F {
  name: string;
  type: FieldType;
  nullable: boolean;
}
interface Schema {
  fields: F[];
  dynamic: boolean;
}

const TYPES: FieldType[] = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar', 'JSON', 'Array'];
const NUMERIC = new Set<FieldType>(['Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double']);
const INTEGER = new Set<FieldType>(['Int8', 'Int16', 'Int32', 'Int64']);

// ---- stored values ----------------------------------------------------------------------------

const SMALL = [-3, -2, -1, 0, 1, 2, 3];
const VALUES: Record<FieldType, unknown[]> = {
  Bool: [0, 1],
  Int8: [...SMALL, -128, 127],
  Int16: [...SMALL, -32768, 32767, 300],
  Int32: [...SMALL, -2147483648, 2147483647, 70000],
  Int64: [...SMALL.map(BigInt), -(2n ** 63n), 2n ** 63n - 1n, 9007199254740992n, 9007199254740993n, -9007199254740993n],
  Float: [...SMALL, -0, 0.1, 2.5, -2.5, NaN, Infinity, -Infinity, 3.4028234663852886e38, 16777217, 2 ** 63, -(2 ** 63)].map(Math.fround),
  Double: [...SMALL, -0, 0.1, 2.5, -2.5, NaN, Infinity, -Infinity, 9007199254740992, 9007199254740994, 1e300, 2 ** 63, -(2 ** 63)],
  VarChar: ['', 'a', 'ab', 'abc', 'b', 'B', 'é', '😀', 'a%b', 'a_b', 'ba'],
  JSON: [1, 2.5, 'a', true, { k: 1 }, { k: 'a' }, { k: [1, 2] }, [1, 2], { k: null }, null],
  Array: [[], [1], [1, 2], [3, 2, 1]],
};

/** Literals as filter text, by column kind. */
const NUM_LITERALS = ['-3', '-2', '0', '1', '2', '3', '127', '-128', '2.5', '-2.5', '0.1', '-0.0', '1e300', '16777217',
  '2147483647', '9007199254740992', '9007199254740993', '9007199254740994', '9223372036854775807', '-9223372036854775808', '70000'];
const INT_LITERALS = NUM_LITERALS.filter((s) => /^-?\d+$/.test(s));
const STR_LITERALS = ['""', '"a"', '"ab"', '"b"', '"B"', '"é"', '"😀"', '"a%b"', '"ba"', '"zz"'];
const LIKE_PATTERNS = ['"a%"', '"%b"', '"%a%"', '"a_b"', '"a\\\\%b"', '"_"', '"%"', '"ab"', '"_b%"'];

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);

const schemaArb: fc.Arbitrary<Schema> = fc
  .record({
    types: fc.array(fc.record({ type: pick(TYPES), nullable: fc.boolean() }), { minLength: 1, maxLength: 7 }),
    dynamic: fc.boolean(),
  })
  .map(({ types, dynamic }) => ({ fields: types.map((t, i) => ({ name: `f${i}`, ...t })), dynamic }));

interface Batch {
  count: number;
  columns: Map<string, ColumnData>;
  dynamic?: (Record<string, unknown> | null)[];
}

function columnArb(f: F, count: number): fc.Arbitrary<ColumnData> {
  const vals = fc.array(pick(VALUES[f.type]), { minLength: count, maxLength: count });
  const valid = f.nullable ? fc.array(fc.boolean(), { minLength: count, maxLength: count }).map((b) => Uint8Array.from(b, Number)) : fc.constant(undefined);
  return fc.tuple(vals, valid).map(([v, ok]) => {
    // Junk under null rows stays in the arrays: the kernels must mask it.
    const withValid = <C extends object>(c: C): C => (ok ? { ...c, valid: ok } : c);
    switch (f.type) {
      case 'Bool': return withValid({ type: 'Bool', values: Uint8Array.from(v as number[]) });
      case 'Int8': return withValid({ type: 'Int8', values: Int8Array.from(v as number[]) });
      case 'Int16': return withValid({ type: 'Int16', values: Int16Array.from(v as number[]) });
      case 'Int32': return withValid({ type: 'Int32', values: Int32Array.from(v as number[]) });
      case 'Int64': return withValid({ type: 'Int64', values: BigInt64Array.from(v as bigint[]) });
      case 'Float': return withValid({ type: 'Float', values: Float32Array.from(v as number[]) });
      case 'Double': return withValid({ type: 'Double', values: Float64Array.from(v as number[]) });
      case 'VarChar': return withValid({ type: 'VarChar', values: v as string[] });
      case 'JSON': return withValid({ type: 'JSON', values: v });
      case 'Array': return withValid({ type: 'Array', values: v as unknown[][] });
    }
  });
}

const dynArb = fc.oneof(
  fc.constant(null),
  fc.record({ d: pick([1, 2, 'a', null, 2.5]), x: pick(['a', 'b', 1]) }, { requiredKeys: [] }),
);

function batchArb(s: Schema): fc.Arbitrary<Batch> {
  return fc.integer({ min: 0, max: 140 }).chain((count) =>
    fc.tuple(fc.tuple(...s.fields.map((f) => columnArb(f, count))), fc.array(dynArb, { minLength: count, maxLength: count })).map(([cols, dyn]) => {
      const columns = new Map<string, ColumnData>(s.fields.map((f, i) => [f.name, cols[i]!]));
      return s.dynamic ? { count, columns, dynamic: dyn } : { count, columns };
    }),
  );
}

// ---- filters --------------------------------------------------------------------------------

const CMP = ['==', '!=', '<', '<=', '>', '>='] as const;

function literalArb(f: F): fc.Arbitrary<string> {
  if (f.type === 'VarChar') return pick(STR_LITERALS);
  if (f.type === 'Bool') return pick(['true', 'false']);
  return pick(NUM_LITERALS);
}

/** Conditions with a column kernel. */
function fastLeaf(s: Schema): fc.Arbitrary<string> {
  const options: fc.Arbitrary<string>[] = [];
  for (const f of s.fields) {
    const n = f.name;
    options.push(fc.tuple(fc.boolean(), pick(['is null', 'is not null', 'IS NULL', 'is NOT null'])).map(([paren, s]) => (paren ? `(${n} ${s})` : `${n} ${s}`)));
    if (NUMERIC.has(f.type) || f.type === 'VarChar') {
      options.push(fc.tuple(pick(CMP), literalArb(f), fc.boolean()).map(([op, c, flip]) => (flip ? `${c} ${op} ${n}` : `${n} ${op} ${c}`)));
      options.push(fc.tuple(literalArb(f), literalArb(f), pick(['<', '<=']), pick(['<', '<=']), fc.boolean()).map(([a, b, o1, o2, rev]) =>
        rev ? `${b} ${o2.replace('<', '>')} ${n} ${o1.replace('<', '>')} ${a}` : `${a} ${o1} ${n} ${o2} ${b}`));
      const lits = f.type === 'VarChar' ? STR_LITERALS : INTEGER.has(f.type) ? INT_LITERALS : NUM_LITERALS;
      options.push(fc.tuple(fc.array(pick(lits), { maxLength: 12 }), fc.boolean()).map(([xs, neg]) => `${n} ${neg ? 'not in' : 'in'} [${xs.join(', ')}]`));
      options.push(fc.array(literalArb(f), { minLength: 2, maxLength: 10 }).map((xs) => `(${xs.map((x) => `${n} == ${x}`).join(' or ')})`));
    }
    if (f.type === 'VarChar') options.push(pick(LIKE_PATTERNS).map((p) => `${n} like ${p}`));
    if (f.type === 'Bool') {
      options.push(pick([n, `${n} == true`, `${n} == false`, `${n} != true`, `false != ${n}`, `${n} in [true]`, `${n} in [false]`, `${n} in [true, false]`, `${n} not in []`, `${n} in []`]));
    }
  }
  options.push(pick(['true', 'false']));
  return fc.oneof(...options);
}

/** Conditions that stay row closures. */
function slowLeaf(s: Schema): fc.Arbitrary<string> {
  const options: fc.Arbitrary<string>[] = [];
  const nums = s.fields.filter((f) => NUMERIC.has(f.type));
  for (const f of s.fields) {
    const n = f.name;
    if (NUMERIC.has(f.type)) {
      options.push(fc.tuple(pick(['+', '-', '*']), pick(['1', '2', '-1']), pick(CMP), pick(['0', '1', '2', '4'])).map(([a, k, op, c]) => `${n} ${a} ${k} ${op} ${c}`));
      options.push(fc.tuple(pick(nums), pick(CMP)).map(([g, op]) => `${n} ${op} ${g.name}`));
    }
    if (f.type === 'JSON') {
      options.push(fc.tuple(pick(CMP), pick(['1', '2', '"a"', '2.5'])).map(([op, c]) => `${n}["k"] ${op} ${c}`));
      options.push(pick([`exists ${n}["k"]`, `${n}["k"] is null`, `${n} == 1`, `json_contains(${n}["k"], 1)`, `${n}["k"] in [1, "a"]`]));
    }
    if (f.type === 'Array') options.push(pick([`array_contains(${n}, 1)`, `array_length(${n}) > 1`, `${n}[0] == 1`, `${n}[1] is null`]));
    if (f.type === 'VarChar') options.push(pick([`${n} > ${n}`, `${n} == ${n}`]));
  }
  if (s.dynamic) options.push(fc.tuple(pick(['d', 'x', '$meta["d"]', 'nokey']), pick(CMP), pick(['1', '2', '"a"'])).map(([k, op, c]) => `${k} ${op} ${c}`));
  return options.length > 0 ? fc.oneof(...options) : fc.constant('true');
}

function treeArb(leaf: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const { node } = fc.letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { maxDepth: 4, depthIdentifier: 'tree' },
      leaf,
      fc.tuple(tie('node'), tie('node'), pick(['and', 'or', '&&', '||', 'AND'])).map(([a, b, op]) => `(${a}) ${op} (${b})`),
      fc.tuple(tie('node'), tie('node'), tie('node'), pick(['and', 'or'])).map(([a, b, c, op]) => `(${a}) ${op} (${b}) ${op} (${c})`),
      tie('node').map((a) => `not (${a})`),
    ),
  }));
  return node;
}

function toFilterSchema(s: Schema): FilterSchema {
  return {
    enableDynamicField: s.dynamic,
    fields: s.fields.map((f) => ({ name: f.name, type: f.type as ScalarType, nullable: f.nullable, ...(f.type === 'Array' ? { elementType: 'Int64' as ScalarType } : {}) })),
  };
}

function toCollectionSchema(s: Schema): CollectionSchema {
  return {
    name: 'c',
    enableDynamicField: s.dynamic,
    metricType: 'L2',
    fields: s.fields.map((f) => ({ name: f.name, dataType: f.type as DataType, nullable: f.nullable, ...(f.type === 'Array' ? { elementType: 'Int64' as const } : {}) })),
  };
}

const show = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));

/** Compiles both ways (same error or none) and compares every row of a random range. */
function check(s: Schema, batch: Batch, text: string, range: { from: number; len: number; skip: boolean[] }, wantMode?: (m: string) => boolean): void {
  const fs = toFilterSchema(s);
  let pred: ReturnType<typeof compileFilter>;
  try {
    pred = compileFilter(text, fs);
  } catch (e) {
    assert.throws(() => compileBatchFilter(text, fs), (e2: Error) => e2.message === (e as Error).message);
    return;
  }
  const bf = compileBatchFilter(text, fs);
  if (wantMode) assert.ok(wantMode(bf.mode), `${text}: mode ${bf.mode}`);
  const view = rowView(toCollectionSchema(s), batch as ColumnBatch);
  const start = Math.min(range.from * 32, batch.count - (batch.count % 32));
  const end = Math.min(batch.count, start + range.len);
  let skip: Uint8Array | undefined;
  if (range.skip.length > 0) {
    skip = new Uint8Array((batch.count + 7) >> 3);
    range.skip.forEach((d, i) => {
      if (d && i < batch.count) skip![i >> 3]! |= 1 << (i & 7);
    });
  }
  let made = 0;
  const bits = bf.bits(batch, () => {
    made++;
    return (i) => view.at(i);
  }, start, end, skip);
  assert.ok(made <= 1, 'the row view is made at most once');
  assert.equal(bits.length, (end - start + 31) >>> 5);
  for (let j = 0; j < bits.length * 32; j++) {
    const i = start + j;
    const got = (bits[j >>> 5]! & (1 << (j & 31))) !== 0;
    const deleted = skip !== undefined && (skip[i >> 3]! & (1 << (i & 7))) !== 0;
    const want = i < end && !deleted && pred(view.at(i));
    if (got !== want) {
      const row: Record<string, unknown> = { ...view.at(i) };
      assert.fail(`${text}\nrow ${i} (range [${start}, ${end})${deleted ? ', deleted' : ''}): bits say ${got}, row closure ${want}\nrow ${show(row)}\nmode ${bf.mode}`);
    }
  }
  // The row predicate of a BatchFilter is the row closure.
  for (let i = 0; i < batch.count; i++) assert.equal(bf.test(view.at(i)), pred(view.at(i)));
}

const rangeArb = fc.record({ from: fc.oneof(fc.constant(0), fc.nat(4)), len: fc.oneof(fc.constant(1000), fc.nat(160)), skip: fc.oneof(fc.constant([] as boolean[]), fc.array(fc.boolean(), { maxLength: 140 })) });

test('column kernels agree with the row closure on filters they fully handle', (t) => {
  t.diagnostic(`seed ${SEED} (set VECWAL_SEED to replay)`);
  fc.assert(
    fc.property(
      schemaArb.chain((s) => fc.tuple(fc.constant(s), batchArb(s), treeArb(fastLeaf(s)), rangeArb)),
      ([s, batch, text, range]) => check(s, batch, text, range, (m) => m === 'columns' || m === 'constant'),
    ),
    { seed: SEED, numRuns: 600 },
  );
});

test('mixed filters (column kernels and row closures) agree with the row closure', (t) => {
  t.diagnostic(`seed ${SEED} (set VECWAL_SEED to replay)`);
  fc.assert(
    fc.property(
      schemaArb.chain((s) => fc.tuple(fc.constant(s), batchArb(s), treeArb(fc.oneof(fastLeaf(s), slowLeaf(s))), rangeArb)),
      ([s, batch, text, range]) => check(s, batch, text, range),
    ),
    { seed: SEED + 1, numRuns: 600 },
  );
});

test('every comparison and range of every literal agrees with the row closure on every stored value', () => {
  for (const type of TYPES.filter((t) => NUMERIC.has(t) || t === 'VarChar')) {
    const s: Schema = { fields: [{ name: 'x', type, nullable: true }], dynamic: false };
    const values = VALUES[type];
    const count = values.length + 1;
    const col = (vals: unknown[]): ColumnData => {
      const valid = Uint8Array.from({ length: count }, (_, i) => (i < values.length ? 1 : 0));
      switch (type) {
        case 'Int8': return { type, values: Int8Array.from(vals as number[]), valid };
        case 'Int16': return { type, values: Int16Array.from(vals as number[]), valid };
        case 'Int32': return { type, values: Int32Array.from(vals as number[]), valid };
        case 'Int64': return { type, values: BigInt64Array.from(vals as bigint[]), valid };
        case 'Float': return { type, values: Float32Array.from(vals as number[]), valid };
        case 'Double': return { type, values: Float64Array.from(vals as number[]), valid };
        default: return { type: 'VarChar', values: vals as string[], valid };
      }
    };
    const batch: Batch = { count, columns: new Map([['x', col([...values, values[1]])]]) }; // the last row is null
    const lits = type === 'VarChar' ? STR_LITERALS : NUM_LITERALS;
    const all = { from: 0, len: count, skip: [] };
    for (const a of lits) {
      for (const op of CMP) {
        check(s, batch, `x ${op} ${a}`, all, (m) => m === 'columns');
        check(s, batch, `not (${a} ${op} x)`, all, (m) => m === 'columns');
      }
      for (const b of lits) {
        for (const [o1, o2] of [['<', '<'], ['<', '<='], ['<=', '<'], ['<=', '<=']]) check(s, batch, `${a} ${o1} x ${o2} ${b}`, all);
      }
      check(s, batch, `x in [${a}, ${lits[0]}]`, all);
    }
  }
});

test('a batch without a column, or with an unexpected one, falls back to the row closure', () => {
  const schema: Schema = { fields: [{ name: 'a', type: 'Int64', nullable: true }, { name: 'b', type: 'Int32', nullable: false }], dynamic: false };
  const count = 70;
  const batch: Batch = {
    count,
    columns: new Map<string, ColumnData>([['b', { type: 'Int32', values: Int32Array.from({ length: count }, (_, i) => i % 5) }]]),
  };
  for (const text of ['a > 1', 'a is null', 'not (a == 1) or b == 2', 'b in [1, 2] and a is null', 'b > 2']) {
    check(schema, batch, text, { from: 0, len: count, skip: [] });
  }
  // Int32 data where the schema says Int64: the kernel does not read it as Int64.
  const odd: Batch = { count, columns: new Map<string, ColumnData>([['a', { type: 'Int32', values: new Int32Array(count).fill(5) }], ['b', batch.columns.get('b')!]]) };
  check(schema, odd, 'a > 1 and b < 3', { from: 0, len: count, skip: [] });
});

test('compileBatchFilter reports how the filter runs', () => {
  const schema: FilterSchema = {
    enableDynamicField: true,
    fields: [{ name: 'id', type: 'Int64' }, { name: 'price', type: 'Float' }, { name: 'name', type: 'VarChar' }, { name: 'meta', type: 'JSON' }],
  };
  const mode = (f: string) => compileBatchFilter(f, schema).mode;
  assert.equal(mode('id < 5'), 'columns');
  assert.equal(mode('10 < price <= 20.5 and name like "a%" or id in [1, 2, 3]'), 'columns');
  assert.equal(mode('not (id != 1) and name is not null'), 'columns');
  assert.equal(mode('meta["a"] == 1'), 'rows');
  assert.equal(mode('id < 5 and meta["a"] == 1'), 'mixed');
  assert.equal(mode('id + 1 < 5 or color == "red"'), 'rows');
  assert.equal(mode(''), 'constant');
  assert.equal(mode('true or id < 5'), 'constant');
});

test('row closures run only on rows the column parts leave undecided', () => {
  const schema: FilterSchema = { enableDynamicField: false, fields: [{ name: 'id', type: 'Int64' }, { name: 'meta', type: 'JSON' }] };
  const count = 1000;
  const batch = {
    count,
    columns: new Map<string, ColumnData>([
      ['id', { type: 'Int64', values: BigInt64Array.from({ length: count }, (_, i) => BigInt(i)) }],
      ['meta', { type: 'JSON', values: Array.from({ length: count }, (_, i) => ({ k: i % 3 })) }],
    ]),
  };
  const coll = toCollectionSchema({ fields: [{ name: 'id', type: 'Int64', nullable: false }, { name: 'meta', type: 'JSON', nullable: false }], dynamic: false });
  const runs = (text: string): { calls: number; matches: number } => {
    const view = rowView(coll, batch as ColumnBatch);
    let calls = 0;
    const bits = compileBatchFilter(text, schema).bits(batch, () => (i) => {
      calls++;
      return view.at(i);
    });
    let matches = 0;
    for (const w of bits) for (let x = w; x !== 0; x &= x - 1) matches++;
    return { calls, matches };
  };
  assert.deepEqual(runs('id < 100 and meta["k"] == 0'), { calls: 100, matches: 34 });
  assert.deepEqual(runs('id >= 100 or meta["k"] == 0'), { calls: 100, matches: 934 });
  // Under `not`, the `and` needs its valid bits too: a valid false decides, nothing else does.
  assert.deepEqual(runs('not (id < 100 and meta["k"] == 0)'), { calls: 100, matches: 966 });
});
