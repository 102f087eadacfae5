/**
 * The column codec (src/db/columns.ts): golden bytes per data type (the worked examples of
 * docs/format/columns.md), exact round trips of every type and edge case, a fast-check property
 * over random schemas and batches (seed printed; VECWAL_SEED replays it), and malformed input:
 * every truncation is BAD_FORMAT, every bit flip is BAD_FORMAT or decodes, never a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  batchRow,
  concatBatches,
  decodeBatch,
  decodeDelete,
  emptyColumn,
  encodeBatch,
  encodeBatchParts,
  encodeColumn,
  encodeColumnOfBatches,
  writeBlock,
  type EncodedColumn,
  encodeDelete,
  sliceBatch,
} from '../../src/db/columns.js';
import { DATA_TYPES, type CollectionSchema, type ColumnBatch, type ColumnData, type DataType, type FieldSchema, type ScalarElementType } from '../../src/db/types.js';
import { isVecwalError } from '../../src/errors.js';
import { seedFromEnv } from '../../src/util/rng.js';
import { canon, hex, schemaOf } from '../support/batches.js';

const MIN64 = -(2n ** 63n);
const MAX64 = 2n ** 63n - 1n;

function batchOf(count: number, cols: Record<string, ColumnData>, dynamic?: (Record<string, unknown> | null)[]): ColumnBatch {
  const b: ColumnBatch = { count, columns: new Map(Object.entries(cols)) };
  if (dynamic) b.dynamic = dynamic;
  return b;
}

/** What a batch decodes as: null rows hold placeholders, JSON goes through JSON, Int64 array elements are bigints. */
function expected(schema: CollectionSchema, b: ColumnBatch): ColumnBatch {
  const columns = new Map<string, ColumnData>();
  for (const f of schema.fields) {
    const c = b.columns.get(f.name)!;
    if (c.type === 'FloatVector') {
      columns.set(f.name, c);
      continue;
    }
    const valid = f.nullable && c.valid ? Uint8Array.from(c.valid, (v) => (v ? 1 : 0)) : undefined;
    const isNull = (i: number) => valid !== undefined && !valid[i];
    let values: unknown = c.values;
    if (c.type === 'VarChar') values = c.values.map((s, i) => (isNull(i) ? '' : s));
    if (c.type === 'JSON') values = c.values.map((v, i) => (isNull(i) ? null : JSON.parse(JSON.stringify(v))));
    if (c.type === 'Array') values = c.values.map((a, i) => (isNull(i) ? [] : f.elementType === 'Int64' ? a.map((x) => BigInt(x as bigint)) : JSON.parse(JSON.stringify(a))));
    columns.set(f.name, (valid ? { type: c.type, values, valid } : { type: c.type, values }) as ColumnData);
  }
  const out: ColumnBatch = { count: b.count, columns };
  if (b.dynamic) out.dynamic = b.dynamic.map((d) => (d === null ? null : JSON.parse(JSON.stringify(d))));
  return out;
}

/** Encode, decode (aligned and unaligned), compare, and check that re-encoding is byte-identical. */
function roundTrip(schema: CollectionSchema, b: ColumnBatch): Uint8Array {
  const bytes = encodeBatch(schema, b);
  const want = canon(expected(schema, b));
  const aligned = decodeBatch(schema, bytes);
  assert.deepStrictEqual(canon(aligned), want);
  const shifted = new Uint8Array(bytes.length + 3).subarray(3);
  shifted.set(bytes);
  assert.deepStrictEqual(canon(decodeBatch(schema, shifted)), want);
  assert.deepStrictEqual(canon(decodeBatch(schema, bytes, { copy: true })), want);
  assert.equal(hex(encodeBatch(schema, aligned)), hex(bytes), 'encoding is canonical');
  return bytes;
}

function throwsCode(fn: () => unknown, code: 'BAD_FORMAT' | 'INVALID_ARGUMENT' | 'RECORD_TOO_LARGE', what = ''): void {
  assert.throws(fn, (e: unknown) => isVecwalError(e, code), what);
}

// ---------------------------------------------------------------------------------------------
// Golden bytes

interface Golden {
  name: string;
  schema: CollectionSchema;
  batch: ColumnBatch;
  hex: string;
}

const GOLDEN: Golden[] = [
  { name: 'Bool (nullable)', schema: schemaOf([{ name: 'f', dataType: 'Bool', nullable: true }]), batch: batchOf(2, { f: { type: 'Bool', values: Uint8Array.of(1, 0), valid: Uint8Array.of(1, 0) } }), hex: '010001000200000030000000000000000000010100000000100000000000000001000000000000000100000000000000' },
  { name: 'Int8', schema: schemaOf([{ name: 'f', dataType: 'Int8' }]), batch: batchOf(2, { f: { type: 'Int8', values: Int8Array.of(-1, 2) } }), hex: '0100010002000000280000000000000000000200000000000800000000000000ff02000000000000' },
  { name: 'Int16', schema: schemaOf([{ name: 'f', dataType: 'Int16' }]), batch: batchOf(2, { f: { type: 'Int16', values: Int16Array.of(-2, 300) } }), hex: '0100010002000000280000000000000000000300000000000800000000000000feff2c0100000000' },
  { name: 'Int32', schema: schemaOf([{ name: 'f', dataType: 'Int32' }]), batch: batchOf(2, { f: { type: 'Int32', values: Int32Array.of(-3, 70000) } }), hex: '0100010002000000280000000000000000000400000000000800000000000000fdffffff70110100' },
  { name: 'Int64', schema: schemaOf([{ name: 'f', dataType: 'Int64' }]), batch: batchOf(2, { f: { type: 'Int64', values: BigInt64Array.of(MIN64, MAX64) } }), hex: '01000100020000003000000000000000000005000000000010000000000000000000000000000080ffffffffffffff7f' },
  { name: 'Float', schema: schemaOf([{ name: 'f', dataType: 'Float' }]), batch: batchOf(2, { f: { type: 'Float', values: Float32Array.of(1.5, -2) } }), hex: '01000100020000002800000000000000000006000000000008000000000000000000c03f000000c0' },
  { name: 'Double', schema: schemaOf([{ name: 'f', dataType: 'Double' }]), batch: batchOf(2, { f: { type: 'Double', values: Float64Array.of(0.1, -0) } }), hex: '01000100020000003000000000000000000007000000000010000000000000009a9999999999b93f0000000000000080' },
  { name: 'VarChar (nullable)', schema: schemaOf([{ name: 'f', dataType: 'VarChar', nullable: true }]), batch: batchOf(3, { f: { type: 'VarChar', values: ['hé', '', ''], valid: Uint8Array.of(1, 1, 0) } }), hex: '010001000300000040000000000000000000080100000000200000000000000003000000000000000000000003000000030000000300000068c3a90000000000' },
  { name: 'JSON', schema: schemaOf([{ name: 'f', dataType: 'JSON' }]), batch: batchOf(2, { f: { type: 'JSON', values: [{ a: 1 }, [true, null]] } }), hex: '0100010002000000480000000000000000000900000000002800000000000000000000000700000012000000000000007b2261223a317d5b747275652c6e756c6c5d000000000000' },
  { name: 'Array<Int64>', schema: schemaOf([{ name: 'f', dataType: 'Array', elementType: 'Int64' }]), batch: batchOf(2, { f: { type: 'Array', values: [[1n, -2n], []] } }), hex: '0100010002000000400000000000000000000a00050000002000000000000000000000000a0000000c000000000000005b2231222c222d32225d5b5d00000000' },
  { name: 'Array<Double>', schema: schemaOf([{ name: 'f', dataType: 'Array', elementType: 'Double' }]), batch: batchOf(2, { f: { type: 'Array', values: [[0.5], []] } }), hex: '0100010002000000380000000000000000000a00070000001800000000000000000000000500000007000000000000005b302e355d5b5d00' },
  { name: 'FloatVector', schema: schemaOf([{ name: 'f', dataType: 'FloatVector', dim: 2 }]), batch: batchOf(2, { f: { type: 'FloatVector', values: Float32Array.of(1, 2, 3, 4), dim: 2 } }), hex: '0100010002000000300000000000000000000b000200000010000000000000000000803f000000400000404000008040' },
  {
    name: 'Int64 + dynamic field',
    schema: schemaOf([{ name: 'id', dataType: 'Int64', isPrimaryKey: true }], true),
    batch: batchOf(2, { id: { type: 'Int64', values: BigInt64Array.of(7n, 8n) } }, [{ k: 'v' }, null]),
    hex: '010002000200000068000000000000000000050000000000100000000000000007000000000000000800000000000000ffff09010000000028000000000000000100000000000000000000000900000009000000000000007b226b223a2276227d00000000000000',
  },
];

for (const g of GOLDEN) {
  test(`golden bytes: ${g.name}`, () => {
    const bytes = roundTrip(g.schema, g.batch);
    assert.equal(hex(bytes), g.hex, `actual: '${hex(bytes)}'`);
  });
}

test('golden bytes: delete payloads', () => {
  assert.equal(hex(encodeDelete([MIN64, 5n])), '0105000002000000' + '0000000000000080' + '0500000000000000');
  assert.equal(hex(encodeDelete(['ab', 'é'])), '0108000002000000' + '000000000200000004000000' + '00000000' + '6162c3a9' + '00000000');
  assert.equal(hex(encodeDelete([])), '0105000000000000');
});

// ---------------------------------------------------------------------------------------------
// Round trips

test('round trip: every data type with nulls, empty strings, unicode, empty arrays, nested JSON, extremes', () => {
  const fields: FieldSchema[] = [
    { name: 'id', dataType: 'VarChar', isPrimaryKey: true, maxLength: 100 },
    { name: 'b', dataType: 'Bool', nullable: true },
    { name: 'i8', dataType: 'Int8', nullable: true },
    { name: 'i16', dataType: 'Int16' },
    { name: 'i32', dataType: 'Int32', nullable: true },
    { name: 'i64', dataType: 'Int64', nullable: true },
    { name: 'f', dataType: 'Float' },
    { name: 'd', dataType: 'Double', nullable: true },
    { name: 's', dataType: 'VarChar', nullable: true },
    { name: 'j', dataType: 'JSON', nullable: true },
    { name: 'ab', dataType: 'Array', elementType: 'Bool' },
    { name: 'ai', dataType: 'Array', elementType: 'Int64', nullable: true },
    { name: 'as', dataType: 'Array', elementType: 'VarChar' },
    { name: 'v1', dataType: 'FloatVector', dim: 1 },
    { name: 'v768', dataType: 'FloatVector', dim: 768 },
  ];
  const n = 5;
  const v768 = new Float32Array(n * 768).map((_, i) => Math.sin(i) * 1e3);
  const batch = batchOf(n, {
    id: { type: 'VarChar', values: ['', 'ascii', 'ünïcödé', '𝄞 music 🎵', '中文'] },
    b: { type: 'Bool', values: Uint8Array.of(1, 0, 1, 0, 1), valid: Uint8Array.of(1, 1, 0, 1, 0) },
    i8: { type: 'Int8', values: Int8Array.of(-128, 127, 0, 0, 1), valid: Uint8Array.of(1, 1, 0, 1, 1) },
    i16: { type: 'Int16', values: Int16Array.of(-32768, 32767, 0, 1, -1) },
    i32: { type: 'Int32', values: Int32Array.of(-(2 ** 31), 2 ** 31 - 1, 0, 5, 0), valid: Uint8Array.of(1, 1, 1, 1, 0) },
    i64: { type: 'Int64', values: BigInt64Array.of(MIN64, MAX64, 0n, -1n, 0n), valid: Uint8Array.of(1, 1, 1, 1, 0) },
    f: { type: 'Float', values: Float32Array.of(NaN, -0, Infinity, -Infinity, 3.4028234663852886e38) },
    d: { type: 'Double', values: Float64Array.of(Number.MIN_VALUE, -Number.MAX_VALUE, NaN, 0, 1 / 3), valid: Uint8Array.of(1, 1, 1, 0, 1) },
    s: { type: 'VarChar', values: ['', 'x'.repeat(300), '', 'a\u0000b\n"\\', 'é'], valid: Uint8Array.of(1, 1, 0, 1, 1) },
    j: { type: 'JSON', values: [{ a: { b: [1, { c: null, d: 'ü' }] } }, [], null, 'str', -0.5], valid: Uint8Array.of(1, 1, 0, 1, 1) },
    ab: { type: 'Array', values: [[], [true], [false, true], [], [true, true, false]] },
    ai: { type: 'Array', values: [[MIN64, MAX64], [], [0n], [], [-1n]], valid: Uint8Array.of(1, 1, 1, 0, 1) },
    as: { type: 'Array', values: [['', 'ü'], [], ['🙂'], ['a', 'b'], []] },
    v1: { type: 'FloatVector', values: Float32Array.of(0, -1, NaN, 1e-45, -0), dim: 1 },
    v768: { type: 'FloatVector', values: v768, dim: 768 },
  }, undefined);
  roundTrip(schemaOf(fields), batch);
  roundTrip(schemaOf(fields, true), { ...batch, dynamic: [{ x: 1 }, null, {}, { nested: { deep: [1, [2, { e: 'é' }]] } }, { __proto__: 1, constructor: 'x' } as Record<string, unknown>] });
});

test('round trip: zero rows, and a schema with one field', () => {
  const fields: FieldSchema[] = DATA_TYPES.map((t, i) => fieldFor(t, `f${i}`, true, 'Float'));
  const empty: ColumnBatch = { count: 0, columns: new Map(fields.map((f) => [f.name, emptyColumn(f)])) };
  const bytes = roundTrip(schemaOf(fields), empty);
  assert.equal(decodeBatch(schemaOf(fields), bytes).count, 0);
  roundTrip(schemaOf(fields, true), { ...empty, dynamic: [] });
});

test('decode returns views into an aligned input and copies otherwise', () => {
  const schema = schemaOf([{ name: 'v', dataType: 'FloatVector', dim: 2 }, { name: 'i', dataType: 'Int64' }]);
  const bytes = encodeBatch(schema, batchOf(2, { v: { type: 'FloatVector', values: Float32Array.of(1, 2, 3, 4), dim: 2 }, i: { type: 'Int64', values: BigInt64Array.of(1n, 2n) } }));
  const view = decodeBatch(schema, bytes).columns.get('v')!.values as Float32Array;
  assert.equal(view.buffer, bytes.buffer, 'aligned: a view');
  assert.notEqual((decodeBatch(schema, bytes, { copy: true }).columns.get('v')!.values as Float32Array).buffer, bytes.buffer, 'copy: true copies');
  const odd = new Uint8Array(bytes.length + 4).subarray(4); // 4-aligned: Float32 can be a view, Int64 not
  odd.set(bytes);
  const d = decodeBatch(schema, odd);
  assert.equal((d.columns.get('v')!.values as Float32Array).buffer, odd.buffer);
  assert.notEqual((d.columns.get('i')!.values as BigInt64Array).buffer, odd.buffer);
  assert.deepEqual(Array.from(d.columns.get('i')!.values as BigInt64Array), [1n, 2n]);
});

test('headroom leaves zeroed room in front of the batch', () => {
  const g = GOLDEN[1]!;
  const out = encodeBatch(g.schema, g.batch, { headroom: 8 });
  assert.equal(hex(out.subarray(0, 8)), '0000000000000000');
  assert.equal(hex(out.subarray(8)), hex(encodeBatch(g.schema, g.batch)));
  assert.deepStrictEqual(canon(decodeBatch(g.schema, out.subarray(8))), canon(expected(g.schema, g.batch)));
});

test('delete payloads round trip: bigint extremes, unicode strings, empty', () => {
  for (const pks of [[MIN64, MAX64, 0n, -1n], ['', 'a', 'ünï', '🙂'.repeat(50)], []]) {
    assert.deepEqual(decodeDelete(encodeDelete(pks)), pks);
    const bytes = encodeDelete(pks);
    for (let len = 0; len < bytes.length; len++) throwsCode(() => decodeDelete(bytes.subarray(0, len)), 'BAD_FORMAT', `len ${len}`);
  }
  throwsCode(() => encodeDelete([1n, 'a']), 'INVALID_ARGUMENT');
  throwsCode(() => encodeDelete([2n ** 63n]), 'INVALID_ARGUMENT');
  throwsCode(() => decodeDelete(Uint8Array.of(1, 9, 0, 0, 0, 0, 0, 0)), 'BAD_FORMAT');
});

// ---------------------------------------------------------------------------------------------
// Random schemas and batches

const ELEMENT_TYPES: ScalarElementType[] = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar'];

function fieldFor(t: DataType, name: string, nullable: boolean, elementType: ScalarElementType, dim = 3): FieldSchema {
  const f: FieldSchema = { name, dataType: t };
  if (t === 'FloatVector') f.dim = dim;
  else if (nullable) f.nullable = true;
  if (t === 'Array') f.elementType = elementType;
  return f;
}

const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary-ascii' }));
const int64 = fc.bigInt({ min: MIN64, max: MAX64 });

function elementArb(t: ScalarElementType): fc.Arbitrary<unknown> {
  switch (t) {
    case 'Bool': return fc.boolean();
    case 'Int64': return int64;
    case 'VarChar': return text;
    case 'Float': case 'Double': return fc.double({ noNaN: true, noDefaultInfinity: true });
    default: return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  }
}

function columnArb(f: FieldSchema, rows: number): fc.Arbitrary<ColumnData> {
  const n = { minLength: rows, maxLength: rows };
  const validArb = f.nullable ? fc.option(fc.uint8Array({ ...n, min: 0, max: 1 }), { nil: undefined }) : fc.constant(undefined);
  const withValid = (values: fc.Arbitrary<unknown>) =>
    fc.tuple(values, validArb).map(([v, valid]) => (valid ? { type: f.dataType, values: v, valid } : { type: f.dataType, values: v }) as ColumnData);
  switch (f.dataType) {
    case 'Bool': return withValid(fc.uint8Array({ ...n, min: 0, max: 1 }));
    case 'Int8': return withValid(fc.int8Array(n));
    case 'Int16': return withValid(fc.int16Array(n));
    case 'Int32': return withValid(fc.int32Array(n));
    case 'Int64': return withValid(fc.bigInt64Array({ ...n, min: MIN64, max: MAX64 }));
    case 'Float': return withValid(fc.float32Array(n));
    case 'Double': return withValid(fc.float64Array(n));
    case 'VarChar': return withValid(fc.array(text, n));
    case 'JSON': return withValid(fc.array(fc.jsonValue(), n));
    case 'Array': return withValid(fc.array(fc.array(elementArb(f.elementType!), { maxLength: 4 }), n));
    case 'FloatVector': return fc.float32Array({ minLength: rows * f.dim!, maxLength: rows * f.dim! }).map((values) => ({ type: 'FloatVector', values, dim: f.dim! }));
  }
}

const schemaArb: fc.Arbitrary<CollectionSchema> = fc
  .array(fc.record({ t: fc.constantFrom(...DATA_TYPES), nullable: fc.boolean(), el: fc.constantFrom(...ELEMENT_TYPES), dim: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 6 })
  .chain((specs) => fc.boolean().map((dyn) => schemaOf(specs.map((s, i) => fieldFor(s.t, `f${i}`, s.nullable, s.el, s.dim)), dyn)));

const caseArb = schemaArb.chain((schema) =>
  fc.integer({ min: 0, max: 12 }).chain((rows) =>
    fc.tuple(
      fc.tuple(...schema.fields.map((f) => columnArb(f, rows))),
      schema.enableDynamicField ? fc.option(fc.array(fc.option(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }), { nil: null }), { minLength: rows, maxLength: rows }), { nil: undefined }) : fc.constant(undefined),
    ).map(([cols, dynamic]) => ({ schema, batch: batchOf(rows, Object.fromEntries(schema.fields.map((f, i) => [f.name, cols[i]!])), dynamic) })),
  ),
);

test('property: random schemas and batches round trip exactly and re-encode identically', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  fc.assert(fc.property(caseArb, ({ schema, batch }) => void roundTrip(schema, batch)), { seed, numRuns: 300 });
});

test('property: lazy-text decode (replay) yields the same rows and re-encodes to the same bytes', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  fc.assert(fc.property(caseArb, ({ schema, batch }) => {
    const bytes = encodeBatch(schema, batch);
    const lazy = decodeBatch(schema, bytes, { lazyText: true });
    // Encoding first (from the remembered bytes), then reading the strings.
    assert.equal(hex(encodeBatch(schema, lazy)), hex(bytes));
    const eager = decodeBatch(schema, bytes);
    assert.deepStrictEqual(canon(lazy), canon(eager));
    for (let i = 0; i < lazy.count; i++) assert.deepStrictEqual(batchRow(schema, lazy, i), batchRow(schema, eager, i));
  }), { seed, numRuns: 200 });
});

test('a lazy VarChar column read row by row (a search\'s few rows) gives the eager rows, before and after it makes every string', () => {
  const schema = schemaOf([fieldFor('VarChar', 'title', true, 'Int64', 1), fieldFor('Int64', 'n', false, 'Int64', 1)]);
  const rows = 100;
  const titles = Array.from({ length: rows }, (_, i) => (i % 7 === 3 ? null : i % 5 === 0 ? `café ${i} 日本` : `title ${i}`));
  const valid = Uint8Array.from(titles, (x) => (x === null ? 0 : 1));
  const batch = batchOf(rows, {
    title: { type: 'VarChar', values: titles.map((x) => x ?? ''), valid },
    n: { type: 'Int64', values: BigInt64Array.from({ length: rows }, (_, i) => BigInt(i)) },
  });
  const bytes = encodeBatch(schema, batch);
  const lazy = decodeBatch(schema, bytes, { lazyText: true });
  const eager = decodeBatch(schema, bytes);
  // A scattered order: the first rows/8 reads make single strings, the rest read the made column.
  const order = Array.from({ length: rows }, (_, i) => (i * 37) % rows);
  for (const i of order) assert.deepStrictEqual(batchRow(schema, lazy, i), batchRow(schema, eager, i), `row ${i}`);
  assert.equal(batchRow(schema, lazy, 3).title, null);
  assert.equal(batchRow(schema, lazy, 5).title, 'café 5 日本');
  assert.equal(hex(encodeBatch(schema, lazy)), hex(bytes), 'still re-encodes to the same bytes');
  assert.deepStrictEqual(canon(lazy), canon(eager));
});

test('property: a column over several batches encodes as the column of their concatenation', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  const bytesOf = (c: EncodedColumn) => {
    const out = new Uint8Array(c.size);
    assert.equal(writeBlock(out, 0, c), c.size);
    return hex(out);
  };
  fc.assert(fc.property(caseArb, fc.array(fc.nat(12), { maxLength: 4 }), fc.array(fc.boolean(), { maxLength: 5 }), ({ schema, batch }, cutsRaw, viaWal) => {
    const cuts = [0, ...cutsRaw.map((c) => Math.min(c, batch.count)).sort((a, b) => a - b), batch.count];
    const parts = cuts.slice(1).map((end, i) => sliceBatch(batch, cuts[i]!, end));
    // Some parts were encoded for the WAL first (their texts' encoding is remembered and reused).
    parts.forEach((p, i) => void (viaWal[i] ? encodeBatchParts(schema, p) : undefined));
    const whole = concatBatches(schema, parts);
    schema.fields.forEach((f, i) => assert.equal(bytesOf(encodeColumnOfBatches(f, i, parts)), bytesOf(encodeColumn(f, i, whole.columns.get(f.name), whole.count)), f.name));
  }), { seed, numRuns: 200 });
});

test('texts: ASCII, non-ASCII and mixed batches encode as UTF-8 with the right offsets', () => {
  const schema = schemaOf([{ name: 'id', dataType: 'Int64', isPrimaryKey: true }, { name: 't', dataType: 'VarChar', maxLength: 100 }, { name: 'v', dataType: 'FloatVector', dim: 1 }]);
  for (const texts of [['abc', '', 'de'], ['é', 'a', '𝄞x', ''], ['', ''], ['plain', 'ascii\u0000nul', '\u007f']]) {
    const b = batchOf(texts.length, { id: { type: 'Int64', values: BigInt64Array.from(texts.map((_, i) => BigInt(i))) }, t: { type: 'VarChar', values: texts }, v: { type: 'FloatVector', values: new Float32Array(texts.length), dim: 1 } });
    const col = encodeColumn(schema.fields[1]!, 1, b.columns.get('t'), texts.length);
    const [offsets, blob] = col.parts as Uint8Array[];
    const want = texts.map((x) => Buffer.from(x, 'utf8'));
    assert.equal(Buffer.from(blob!).toString('hex'), Buffer.concat(want).toString('hex'));
    const offs = new Uint32Array(offsets!.buffer.slice(offsets!.byteOffset, offsets!.byteOffset + offsets!.byteLength));
    assert.deepEqual(Array.from(offs), [0, ...want.map((_, i) => want.slice(0, i + 1).reduce((n, x) => n + x.length, 0))]);
    assert.deepEqual(decodeBatch(schema, encodeBatch(schema, b)).columns.get('t')!.values, texts);
  }
});

test('property: every truncation is BAD_FORMAT; every bit flip is BAD_FORMAT or decodes', (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  fc.assert(fc.property(caseArb, ({ schema, batch }) => {
    const bytes = encodeBatch(schema, batch);
    for (let len = 0; len < bytes.length; len++) throwsCode(() => decodeBatch(schema, bytes.subarray(0, len)), 'BAD_FORMAT', `truncated to ${len}`);
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    throwsCode(() => decodeBatch(schema, longer), 'BAD_FORMAT', 'trailing bytes');
    for (let i = 0; i < Math.min(bytes.length, 400); i++) {
      for (let bit = 0; bit < 8; bit++) {
        const g = bytes.slice();
        g[i]! ^= 1 << bit;
        try {
          decodeBatch(schema, g);
        } catch (e) {
          if (!isVecwalError(e, 'BAD_FORMAT')) throw new Error(`byte ${i} bit ${bit}: ${String(e)}`);
        }
      }
    }
  }), { seed, numRuns: 40 });
});

// ---------------------------------------------------------------------------------------------
// Malformed input and schema mismatch

test('a batch that does not fit the schema is INVALID_ARGUMENT, before anything is encoded', () => {
  const schema = schemaOf([{ name: 'a', dataType: 'Int32' }, { name: 's', dataType: 'VarChar' }]);
  const ok = { a: { type: 'Int32', values: Int32Array.of(1) } as ColumnData, s: { type: 'VarChar', values: ['x'] } as ColumnData };
  throwsCode(() => encodeBatch(schema, batchOf(1, { a: ok.a })), 'INVALID_ARGUMENT', 'missing column');
  throwsCode(() => encodeBatch(schema, batchOf(1, { ...ok, z: ok.a })), 'INVALID_ARGUMENT', 'extra column');
  throwsCode(() => encodeBatch(schema, batchOf(2, ok)), 'INVALID_ARGUMENT', 'wrong length');
  throwsCode(() => encodeBatch(schema, batchOf(1, { ...ok, a: { type: 'Int16', values: Int16Array.of(1) } })), 'INVALID_ARGUMENT', 'wrong type');
  throwsCode(() => encodeBatch(schema, batchOf(1, { ...ok, s: { type: 'VarChar', values: ['\ud800'] } })), 'INVALID_ARGUMENT', 'lone surrogate');
  throwsCode(() => encodeBatch(schema, batchOf(1, { ...ok, a: { type: 'Int32', values: Int32Array.of(1), valid: Uint8Array.of(0) } })), 'INVALID_ARGUMENT', 'null in a non-nullable field');
  throwsCode(() => encodeBatch(schema, batchOf(1, ok, [{}])), 'INVALID_ARGUMENT', 'dynamic field not enabled');
  const j = schemaOf([{ name: 'j', dataType: 'JSON' }], true);
  throwsCode(() => encodeBatch(j, batchOf(1, { j: { type: 'JSON', values: [{ a: 1n }] } })), 'INVALID_ARGUMENT', 'bigint in JSON');
  throwsCode(() => encodeBatch(j, batchOf(1, { j: { type: 'JSON', values: [undefined] } })), 'INVALID_ARGUMENT', 'undefined JSON');
  throwsCode(() => encodeBatch(j, batchOf(1, { j: { type: 'JSON', values: [1] } }, [[] as unknown as Record<string, unknown>])), 'INVALID_ARGUMENT', 'dynamic array');
  const arr = schemaOf([{ name: 'a', dataType: 'Array', elementType: 'Double' }]);
  throwsCode(() => encodeBatch(arr, batchOf(1, { a: { type: 'Array', values: [[NaN]] } })), 'INVALID_ARGUMENT', 'NaN in an array');
  const b = schemaOf([{ name: 'b', dataType: 'Bool' }]);
  throwsCode(() => encodeBatch(b, batchOf(1, { b: { type: 'Bool', values: Uint8Array.of(2) } })), 'INVALID_ARGUMENT', 'Bool 2');
  const v = schemaOf([{ name: 'v', dataType: 'FloatVector', dim: 2 }]);
  throwsCode(() => encodeBatch(v, batchOf(1, { v: { type: 'FloatVector', values: Float32Array.of(1, 2, 3), dim: 3 } })), 'INVALID_ARGUMENT', 'dim');
});

test('bytes decoded against another schema are BAD_FORMAT', () => {
  const g = GOLDEN.find((x) => x.name === 'Int32')!;
  const bytes = encodeBatch(g.schema, g.batch);
  throwsCode(() => decodeBatch(schemaOf([{ name: 'f', dataType: 'Int64' }]), bytes), 'BAD_FORMAT');
  throwsCode(() => decodeBatch(schemaOf([{ name: 'f', dataType: 'Int32' }, { name: 'g', dataType: 'Int32' }]), bytes), 'BAD_FORMAT');
  throwsCode(() => decodeBatch(schemaOf([{ name: 'f', dataType: 'Int32', nullable: true }]), encodeBatch(schemaOf([{ name: 'f', dataType: 'Int32', nullable: true }]), batchOf(1, { f: { type: 'Int32', values: Int32Array.of(1), valid: Uint8Array.of(1) } })).fill(0, 0, 2)), 'BAD_FORMAT');
  const vec = GOLDEN.find((x) => x.name === 'FloatVector')!;
  throwsCode(() => decodeBatch(schemaOf([{ name: 'f', dataType: 'FloatVector', dim: 4 }]), encodeBatch(vec.schema, vec.batch)), 'BAD_FORMAT');
  const nul = GOLDEN.find((x) => x.name === 'VarChar (nullable)')!;
  throwsCode(() => decodeBatch(schemaOf([{ name: 'f', dataType: 'VarChar' }]), encodeBatch(nul.schema, nul.batch)), 'BAD_FORMAT');
});

test('a huge row count in a tiny buffer is refused without allocating', () => {
  const g = GOLDEN.find((x) => x.name === 'VarChar (nullable)')!;
  const bytes = encodeBatch(g.schema, g.batch);
  new DataView(bytes.buffer).setUint32(4, 0xffffffff, true);
  throwsCode(() => decodeBatch(g.schema, bytes), 'BAD_FORMAT');
});

// ---------------------------------------------------------------------------------------------
// Batch helpers

const HELPER_SCHEMA = schemaOf([
  { name: 'id', dataType: 'Int64', isPrimaryKey: true },
  { name: 'ok', dataType: 'Bool', nullable: true },
  { name: 'name', dataType: 'VarChar', nullable: true },
  { name: 'v', dataType: 'FloatVector', dim: 2 },
], true);

function helperBatch(ids: bigint[], dynamic?: (Record<string, unknown> | null)[], withValid = true): ColumnBatch {
  const n = ids.length;
  const ok: ColumnData = withValid ? { type: 'Bool', values: new Uint8Array(n).fill(1), valid: Uint8Array.from(ids, (x) => (x % 2n === 0n ? 1 : 0)) } : { type: 'Bool', values: new Uint8Array(n) };
  return batchOf(n, {
    id: { type: 'Int64', values: BigInt64Array.from(ids) },
    ok,
    name: { type: 'VarChar', values: ids.map((x) => `n${x}`) },
    v: { type: 'FloatVector', values: Float32Array.from(ids.flatMap((x) => [Number(x), -Number(x)])), dim: 2 },
  }, dynamic);
}

test('sliceBatch and concatBatches', () => {
  const a = helperBatch([1n, 2n, 3n], [{ a: 1 }, null, { b: 2 }]);
  const b = helperBatch([4n, 5n], undefined, false);
  const all = concatBatches(HELPER_SCHEMA, [a, b]);
  assert.equal(all.count, 5);
  assert.deepEqual(Array.from(all.columns.get('id')!.values as BigInt64Array), [1n, 2n, 3n, 4n, 5n]);
  assert.deepEqual(Array.from((all.columns.get('ok') as { valid: Uint8Array }).valid), [0, 1, 0, 1, 1]);
  assert.deepEqual(all.dynamic, [{ a: 1 }, null, { b: 2 }, null, null]);
  assert.deepEqual(Array.from(all.columns.get('v')!.values as Float32Array), [1, -1, 2, -2, 3, -3, 4, -4, 5, -5]);
  const s = sliceBatch(all, 1, 4);
  assert.equal(s.count, 3);
  assert.deepStrictEqual(canon(s), canon(concatBatches(HELPER_SCHEMA, [sliceBatch(a, 1, 3), sliceBatch(b, 0, 1)])));
  assert.equal(sliceBatch(all, 2, 2).count, 0);
  assert.equal(concatBatches(HELPER_SCHEMA, []).count, 0);
  assert.throws(() => sliceBatch(all, 3, 6), (e: unknown) => isVecwalError(e, 'INVALID_ARGUMENT'));
  roundTrip(HELPER_SCHEMA, s);
});

test('batchRow materializes one row', () => {
  const batch = helperBatch([10n, 11n], [{ color: 'red', id: 'shadowed', ['__proto__']: 5 } as Record<string, unknown>, null]);
  const r0 = batchRow(HELPER_SCHEMA, batch, 0);
  assert.equal(r0.id, 10n);
  assert.equal(r0.ok, true);
  assert.equal(r0.name, 'n10');
  assert.ok(r0.v instanceof Float32Array);
  assert.deepEqual(Array.from(r0.v as Float32Array), [10, -10]);
  assert.equal(r0.color, 'red');
  assert.equal(Object.getPrototypeOf(r0), Object.prototype, '__proto__ is a key, not the prototype');
  assert.equal(Object.getOwnPropertyDescriptor(r0, '__proto__')?.value, 5);
  const r1 = batchRow(HELPER_SCHEMA, batch, 1);
  assert.equal(r1.ok, null, 'null value');
  assert.deepEqual(Object.keys(r1), ['id', 'ok', 'name', 'v']);
  const nested = batchRow(HELPER_SCHEMA, batch, 0, { dynamic: 'nested' });
  assert.deepEqual(nested.$meta, batch.dynamic![0]);
  assert.equal(nested.color, undefined);
  assert.deepEqual(batchRow(HELPER_SCHEMA, batch, 1, { dynamic: 'nested' }).$meta, {});
});
