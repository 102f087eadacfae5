/**
 * Schema validation (every SCHEMA_INVALID rule), quick create, and the row/column conversion of
 * insert and upsert: exact expected columns for hand-written batches, every DATA_INVALID rule,
 * and properties: random valid rows always convert to exactly their values (in row and column
 * form alike); random invalid mutations always throw DATA_INVALID, never a TypeError.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VecwalError } from '../../src/errors.js';
import {
  SCHEMA_LIMITS,
  columnsToBatch,
  normalizePrimaryKey,
  primaryKeysOf,
  quickCreateSchema,
  rowsToBatch,
  validateSchema,
  type ToBatchOptions,
} from '../../src/db/schema.js';
import type { CollectionSchema, ColumnBatch, ColumnData, FieldSchema, ScalarElementType } from '../../src/db/types.js';

type Row = Record<string, unknown>;

/** Run fn, expect a VecwalError with `code` whose message contains every needle. */
function expectError(fn: () => unknown, code: string, ...needles: string[]): VecwalError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof VecwalError, `expected VecwalError ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.equal(err.code, code, err.message);
  for (const n of needles) assert.ok(err.message.includes(n), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(n)}`);
  return err;
}

// ---------------------------------------------------------------------------------------------
// validateSchema

const ID = { name: 'id', dataType: 'Int64', isPrimaryKey: true };
const VEC = { name: 'vector', dataType: 'FloatVector', dim: 4 };
const schemaWith = (...extra: unknown[]): Row => ({ name: 'books', fields: [ID, VEC, ...extra] });

const long = 'a'.repeat(256);
const tooManyFields = Array.from({ length: 63 }, (_, i) => ({ name: `f${i}`, dataType: 'Bool' }));
const SCHEMA_REJECTIONS: [string, unknown, ...string[]][] = [
  ['not an object', null, 'must be an object'],
  ['an array', [], 'must be an object'],
  ['unknown schema property', { ...schemaWith(), autoId: true }, 'unknown property "autoId"'],
  ['bad collection name', { ...schemaWith(), name: '1books' }, 'collection name "1books" is invalid'],
  ['empty collection name', { ...schemaWith(), name: '' }, 'collection name must be a non-empty string'],
  ['collection name too long', { ...schemaWith(), name: long }, 'over 255'],
  ['collection name with $', { ...schemaWith(), name: '$c' }, 'reserved'],
  ['no fields', { name: 'c', fields: [] }, 'fields must be a non-empty array'],
  ['fields not an array', { name: 'c', fields: {} }, 'fields must be a non-empty array'],
  ['too many fields', schemaWith(...tooManyFields), 'over the limit of 64'],
  ['field not an object', schemaWith('title'), 'fields[2] must be an object'],
  ['bad field name', schemaWith({ name: 'my-field', dataType: 'Bool' }), 'fields[2].name "my-field" is invalid'],
  ['field name too long', schemaWith({ name: long, dataType: 'Bool' }), 'over 255'],
  ['field named $meta', schemaWith({ name: '$meta', dataType: 'JSON' }), '"$meta" is reserved'],
  ['field named $x', schemaWith({ name: '$x', dataType: 'Bool' }), '"$x" is reserved'],
  ['field named __proto__', schemaWith({ name: '__proto__', dataType: 'Bool' }), '"__proto__" is reserved'],
  ['unknown field property', schemaWith({ name: 'title', dataType: 'VarChar', max_length: 5 }), 'field "title" has unknown property "max_length"'],
  ['lowercase data type', schemaWith({ name: 'title', dataType: 'varchar', maxLength: 5 }), 'field "title": dataType must be one of', 'case-sensitive'],
  ['Milvus-only data type', schemaWith({ name: 's', dataType: 'SparseFloatVector' }), 'SparseFloatVector is a Milvus type that vecwal does not support'],
  ['duplicate field name', schemaWith({ name: 'id', dataType: 'Bool' }), 'duplicate field name "id"'],
  ['no primary key', { name: 'c', fields: [VEC] }, 'no primary key'],
  ['two primary keys', schemaWith({ name: 'k', dataType: 'Int64', isPrimaryKey: true }), '2 primary key fields ("id", "k")'],
  ['Float primary key', { name: 'c', fields: [{ name: 'k', dataType: 'Float', isPrimaryKey: true }, VEC] }, 'field "k": the primary key must be Int64 or VarChar'],
  ['VarChar pk without maxLength', { name: 'c', fields: [{ name: 'k', dataType: 'VarChar', isPrimaryKey: true }, VEC] }, 'field "k": maxLength must be an integer from 1 to 65535, got undefined'],
  ['autoID VarChar pk', { name: 'c', fields: [{ name: 'k', dataType: 'VarChar', isPrimaryKey: true, autoID: true, maxLength: 9 }, VEC] }, 'autoID is only supported for an Int64'],
  ['autoID on a non-pk field', schemaWith({ name: 'n', dataType: 'Int64', autoID: true }), 'field "n": autoID applies only to the primary key'],
  ['isPrimaryKey not boolean', { name: 'c', fields: [{ ...ID, isPrimaryKey: 'yes' }, VEC] }, 'field "id": isPrimaryKey must be a boolean'],
  ['no vector field', { name: 'c', fields: [ID] }, 'no FloatVector field'],
  ['two vector fields', schemaWith({ name: 'v2', dataType: 'FloatVector', dim: 4 }), '2 FloatVector fields ("vector", "v2")', 'Milvus allows several vector fields', 'vecwal supports exactly one'],
  ['dim 0', { name: 'c', fields: [ID, { ...VEC, dim: 0 }] }, 'field "vector": dim must be an integer from 1 to 32768, got 0'],
  ['dim too large', { name: 'c', fields: [ID, { ...VEC, dim: 32769 }] }, 'dim must be an integer from 1 to 32768'],
  ['dim fractional', { name: 'c', fields: [ID, { ...VEC, dim: 1.5 }] }, 'dim must be an integer'],
  ['dim missing', { name: 'c', fields: [ID, { name: 'vector', dataType: 'FloatVector' }] }, 'dim must be an integer', 'got undefined'],
  ['dim on a scalar', schemaWith({ name: 'n', dataType: 'Int32', dim: 4 }), 'field "n": dim applies only to FloatVector fields'],
  ['maxLength 0', schemaWith({ name: 't', dataType: 'VarChar', maxLength: 0 }), 'field "t": maxLength must be an integer from 1 to 65535'],
  ['maxLength too large', schemaWith({ name: 't', dataType: 'VarChar', maxLength: 65536 }), 'maxLength must be an integer from 1 to 65535'],
  ['maxLength on Int64', schemaWith({ name: 'n', dataType: 'Int64', maxLength: 4 }), 'maxLength applies only to VarChar'],
  ['Array without elementType', schemaWith({ name: 'a', dataType: 'Array', maxCapacity: 4 }), 'field "a": elementType must be one of', 'not JSON, Array or a vector'],
  ['Array of JSON', schemaWith({ name: 'a', dataType: 'Array', elementType: 'JSON', maxCapacity: 4 }), 'elementType must be one of'],
  ['Array of Array', schemaWith({ name: 'a', dataType: 'Array', elementType: 'Array', maxCapacity: 4 }), 'elementType must be one of'],
  ['Array of vectors', schemaWith({ name: 'a', dataType: 'Array', elementType: 'FloatVector', maxCapacity: 4 }), 'elementType must be one of'],
  ['Array without maxCapacity', schemaWith({ name: 'a', dataType: 'Array', elementType: 'Int32' }), 'maxCapacity must be an integer from 1 to 4096'],
  ['Array maxCapacity too large', schemaWith({ name: 'a', dataType: 'Array', elementType: 'Int32', maxCapacity: 4097 }), 'maxCapacity must be an integer from 1 to 4096'],
  ['Array of VarChar without maxLength', schemaWith({ name: 'a', dataType: 'Array', elementType: 'VarChar', maxCapacity: 2 }), 'field "a": maxLength must be an integer'],
  ['elementType on a scalar', schemaWith({ name: 'n', dataType: 'Int32', elementType: 'Int32' }), 'elementType applies only to Array'],
  ['nullable primary key', { name: 'c', fields: [{ ...ID, nullable: true }, VEC] }, 'field "id": the primary key cannot be nullable'],
  ['nullable vector', { name: 'c', fields: [ID, { ...VEC, nullable: true }] }, 'field "vector": a vector field cannot be nullable'],
  ['nullable not boolean', schemaWith({ name: 'n', dataType: 'Int32', nullable: 'yes' }), 'field "n": nullable must be a boolean'],
  ['default on the primary key', { name: 'c', fields: [{ ...ID, defaultValue: 1 }, VEC] }, 'defaultValue is not allowed on the primary key'],
  ['default on the vector', { name: 'c', fields: [ID, { ...VEC, defaultValue: [1, 2, 3, 4] }] }, 'defaultValue is not allowed on a FloatVector field'],
  ['default on JSON', schemaWith({ name: 'j', dataType: 'JSON', defaultValue: {} }), 'defaultValue is not allowed on a JSON field'],
  ['default on Array', schemaWith({ name: 'a', dataType: 'Array', elementType: 'Int8', maxCapacity: 2, defaultValue: [] }), 'defaultValue is not allowed on a Array field'],
  ['default out of Int8 range', schemaWith({ name: 'n', dataType: 'Int8', defaultValue: 300 }), 'field "n": defaultValue is out of range', '-128 to 127'],
  ['default wrong type (Bool)', schemaWith({ name: 'b', dataType: 'Bool', defaultValue: 'true' }), 'field "b": defaultValue must be a boolean'],
  ['default unsafe Int64 number', schemaWith({ name: 'n', dataType: 'Int64', defaultValue: 2 ** 60 }), 'not a safe integer'],
  ['default NaN Float', schemaWith({ name: 'f', dataType: 'Float', defaultValue: NaN }), 'must be a finite number (Float)'],
  ['default Float overflow', schemaWith({ name: 'f', dataType: 'Float', defaultValue: 1e39 }), 'outside the range of Float'],
  ['default VarChar too long', schemaWith({ name: 't', dataType: 'VarChar', maxLength: 3, defaultValue: '日' + 'x' }), 'is 4 bytes long in UTF-8, over maxLength 3'],
  ['default null', schemaWith({ name: 'n', dataType: 'Int32', defaultValue: null }), 'defaultValue may not be null'],
  ['bad metricType', { ...schemaWith(), metricType: 'HAMMING' }, 'metricType must be one of L2, IP, COSINE'],
  ['enableDynamicField not boolean', { ...schemaWith(), enableDynamicField: 'true' }, 'enableDynamicField must be a boolean'],
  ['description not a string', { ...schemaWith(), description: 5 }, 'collection description must be a string'],
];

describe('validateSchema', () => {
  test('normalizes a valid schema with every data type', () => {
    const s = validateSchema({
      name: 'All_types_1',
      description: 'every type',
      fields: [
        { name: 'pk', dataType: 'VarChar', isPrimaryKey: true, maxLength: 64, description: 'key' },
        { name: 'emb', dataType: 'FloatVector', dim: '8' },
        { name: 'b', dataType: 'Bool', defaultValue: true },
        { name: 'i8', dataType: 'Int8', nullable: true, defaultValue: -3 },
        { name: 'i16', dataType: 'Int16' },
        { name: 'i32', dataType: 'Int32', defaultValue: 7n },
        { name: 'big', dataType: 'Int64', defaultValue: '9007199254740993' },
        { name: 'small', dataType: 'Int64', defaultValue: '12' },
        { name: 'f', dataType: 'Float', defaultValue: 0.1 },
        { name: 'd', dataType: 'Double', nullable: false },
        { name: 'title', dataType: 'VarChar', maxLength: 5, defaultValue: 'héllo'.slice(0, 4) },
        { name: 'j', dataType: 'JSON', nullable: true },
        { name: 'tags', dataType: 'Array', elementType: 'VarChar', maxCapacity: 4, maxLength: 16 },
        { name: 'Tags', dataType: 'Array', elementType: 'Double', maxCapacity: 4096 },
      ],
      enableDynamicField: true,
      metricType: 'L2',
    });
    assert.deepEqual(s, {
      name: 'All_types_1',
      description: 'every type',
      fields: [
        { name: 'pk', dataType: 'VarChar', isPrimaryKey: true, autoID: false, maxLength: 64, description: 'key' },
        { name: 'emb', dataType: 'FloatVector', dim: 8 },
        { name: 'b', dataType: 'Bool', defaultValue: true },
        { name: 'i8', dataType: 'Int8', nullable: true, defaultValue: -3 },
        { name: 'i16', dataType: 'Int16' },
        { name: 'i32', dataType: 'Int32', defaultValue: 7 },
        { name: 'big', dataType: 'Int64', defaultValue: '9007199254740993' },
        { name: 'small', dataType: 'Int64', defaultValue: 12 },
        { name: 'f', dataType: 'Float', defaultValue: 0.1 },
        { name: 'd', dataType: 'Double' },
        { name: 'title', dataType: 'VarChar', maxLength: 5, defaultValue: 'héll' },
        { name: 'j', dataType: 'JSON', nullable: true },
        { name: 'tags', dataType: 'Array', elementType: 'VarChar', maxCapacity: 4, maxLength: 16 },
        { name: 'Tags', dataType: 'Array', elementType: 'Double', maxCapacity: 4096 },
      ],
      enableDynamicField: true,
      metricType: 'L2',
    });
  });

  test('defaults: metricType COSINE, enableDynamicField false; the result is JSON-safe', () => {
    const s = validateSchema(schemaWith({ name: 'n', dataType: 'Int64', defaultValue: 2n ** 62n }));
    assert.equal(s.metricType, 'COSINE');
    assert.equal(s.enableDynamicField, false);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
    assert.equal(s.fields[2]!.defaultValue, (2n ** 62n).toString());
  });

});

describe('validateSchema rejections (SCHEMA_INVALID)', () => {
  for (const [name, input, ...needles] of SCHEMA_REJECTIONS) {
    test(`rejects: ${name}`, () => {
      expectError(() => validateSchema(input), 'SCHEMA_INVALID', ...needles);
    });
  }

  test('field names are case-sensitive, as Milvus', () => {
    const s = validateSchema(schemaWith({ name: 'Title', dataType: 'Bool' }, { name: 'title', dataType: 'Bool' }));
    assert.deepEqual(
      s.fields.map((f) => f.name),
      ['id', 'vector', 'Title', 'title'],
    );
  });

  test('SCHEMA_INVALID names the field in details', () => {
    const e = expectError(() => validateSchema(schemaWith({ name: 'n', dataType: 'Int8', defaultValue: 300 })), 'SCHEMA_INVALID');
    assert.equal(e.details.field, 'n');
  });
});

describe('quickCreateSchema', () => {
  test('makes what Milvus quick create makes: id Int64 pk, vector, dynamic field on, COSINE', () => {
    assert.deepEqual(quickCreateSchema('quick', 8), {
      name: 'quick',
      fields: [
        { name: 'id', dataType: 'Int64', isPrimaryKey: true, autoID: false },
        { name: 'vector', dataType: 'FloatVector', dim: 8 },
      ],
      enableDynamicField: true,
      metricType: 'COSINE',
    });
  });

  test('options', () => {
    const s = quickCreateSchema('q', 3, { primaryFieldName: 'pk', idType: 'VarChar', maxLength: 36, vectorFieldName: 'emb', metricType: 'L2', enableDynamicField: false });
    assert.deepEqual(s.fields, [
      { name: 'pk', dataType: 'VarChar', isPrimaryKey: true, autoID: false, maxLength: 36 },
      { name: 'emb', dataType: 'FloatVector', dim: 3 },
    ]);
    assert.equal(s.metricType, 'L2');
    assert.equal(s.enableDynamicField, false);
    assert.equal(quickCreateSchema('q', 3, { autoId: true }).fields[0]!.autoID, true);
  });

  test('rejections go through validateSchema', () => {
    expectError(() => quickCreateSchema('q', 3, { idType: 'VarChar' }), 'SCHEMA_INVALID', 'field "id": maxLength');
    expectError(() => quickCreateSchema('q', 3, { idType: 'VarChar', maxLength: 8, autoId: true }), 'SCHEMA_INVALID', 'autoID is only supported for an Int64');
    expectError(() => quickCreateSchema('q', 0), 'SCHEMA_INVALID', 'dim must be an integer from 1 to 32768');
    expectError(() => quickCreateSchema('bad name', 4), 'SCHEMA_INVALID', 'collection name "bad name" is invalid');
  });
});

// ---------------------------------------------------------------------------------------------
// rowsToBatch / columnsToBatch: exact columns

const FULL = validateSchema({
  name: 'full',
  enableDynamicField: true,
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim: 3 },
    { name: 'b', dataType: 'Bool' },
    { name: 'i8', dataType: 'Int8' },
    { name: 'i16', dataType: 'Int16', nullable: true },
    { name: 'i32', dataType: 'Int32', defaultValue: 7 },
    { name: 'i64', dataType: 'Int64', nullable: true, defaultValue: '-5' },
    { name: 'f', dataType: 'Float' },
    { name: 'd', dataType: 'Double', nullable: true },
    { name: 's', dataType: 'VarChar', maxLength: 6, defaultValue: 'none' },
    { name: 'j', dataType: 'JSON', nullable: true },
    { name: 'a', dataType: 'Array', elementType: 'Int64', maxCapacity: 3 },
    { name: 'as', dataType: 'Array', elementType: 'VarChar', maxCapacity: 2, maxLength: 3, nullable: true },
    { name: 'toString', dataType: 'Int32', nullable: true },
  ],
});

function fullRows(): Row[] {
  return [
    { id: 1, vector: [1, 2, 3], b: true, i8: -128, i16: 300, i32: 5, i64: 2n ** 62n, f: 0.1, d: 0.1, s: 'héllo', j: { k: [1, 'x'] }, a: [1, '2', 3n], as: ['ab'], extra: 'x', toString: 9 },
    { id: '2', vector: new Float32Array([4, 5, 6]), b: false, i8: 127, i16: null, i64: null, f: -1, s: null, a: [], tag: { nested: true } },
    { id: 3n, vector: new Float64Array([7, 8, 9]), b: false, i8: 0n, f: 1e38, d: -0.5, j: null, a: new BigInt64Array([9007199254740993n]), as: null, undef: undefined },
  ];
}

function fullExpected(): ColumnBatch {
  const columns = new Map<string, ColumnData>([
    ['id', { type: 'Int64', values: BigInt64Array.from([1n, 2n, 3n]) }],
    ['vector', { type: 'FloatVector', values: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), dim: 3 }],
    ['b', { type: 'Bool', values: Uint8Array.from([1, 0, 0]) }],
    ['i8', { type: 'Int8', values: Int8Array.from([-128, 127, 0]) }],
    ['i16', { type: 'Int16', values: Int16Array.from([300, 0, 0]), valid: Uint8Array.from([1, 0, 0]) }],
    ['i32', { type: 'Int32', values: Int32Array.from([5, 7, 7]) }],
    ['i64', { type: 'Int64', values: BigInt64Array.from([2n ** 62n, -5n, -5n]), valid: Uint8Array.from([1, 1, 1]) }],
    ['f', { type: 'Float', values: Float32Array.from([0.1, -1, 1e38]) }],
    ['d', { type: 'Double', values: Float64Array.from([0.1, 0, -0.5]), valid: Uint8Array.from([1, 0, 1]) }],
    ['s', { type: 'VarChar', values: ['héllo', 'none', 'none'] }],
    ['j', { type: 'JSON', values: [{ k: [1, 'x'] }, null, null], valid: Uint8Array.from([1, 0, 0]) }],
    ['a', { type: 'Array', values: [[1n, 2n, 3n], [], [9007199254740993n]] }],
    ['as', { type: 'Array', values: [['ab'], [], []], valid: Uint8Array.from([1, 0, 0]) }],
    ['toString', { type: 'Int32', values: Int32Array.from([9, 0, 0]), valid: Uint8Array.from([1, 0, 0]) }],
  ]);
  return { count: 3, columns, dynamic: [{ extra: 'x' }, { tag: { nested: true } }, null] };
}

/** The columnar form of rows: one array per key (undefined where a row lacks it). */
function toColumns(rows: Row[], vectorName: string | null, dim: number): Record<string, unknown> {
  // A Map, not an object: a field may be called toString.
  const cols = new Map<string, unknown[]>();
  rows.forEach((r, i) => {
    for (const k of Object.keys(r)) {
      if (!cols.has(k)) cols.set(k, new Array(rows.length).fill(undefined));
      cols.get(k)![i] = r[k];
    }
  });
  const vectors = vectorName === null ? undefined : cols.get(vectorName);
  if (vectors) {
    const flat = new Float32Array(rows.length * dim);
    vectors.forEach((v, i) => flat.set(Array.from(v as ArrayLike<number>), i * dim));
    cols.set(vectorName!, flat as unknown as unknown[]);
  }
  return Object.fromEntries(cols);
}

describe('rowsToBatch / columnsToBatch', () => {
  test('rows convert to exactly the expected columns', () => {
    assert.deepStrictEqual(rowsToBatch(FULL, fullRows()), fullExpected());
  });

  test('columns (flat Float32Array vector) give the same batch as rows', () => {
    assert.deepStrictEqual(columnsToBatch(FULL, toColumns(fullRows(), 'vector', 3)), fullExpected());
  });

  test('columns with number[][] vectors and flat number[] vectors give the same batch', () => {
    const cols = toColumns(fullRows(), null, 3);
    assert.deepStrictEqual(columnsToBatch(FULL, cols), fullExpected());
    assert.deepStrictEqual(columnsToBatch(FULL, { ...cols, vector: [1, 2, 3, 4, 5, 6, 7, 8, 9] }), fullExpected());
  });

});

describe('rowsToBatch / columnsToBatch: conversions', () => {
  test('typed-array scalar columns are accepted', () => {
    const s = validateSchema(schemaWith({ name: 'n', dataType: 'Int32' }, { name: 'x', dataType: 'Double' }));
    const b = columnsToBatch(s, { id: BigInt64Array.from([5n, 6n]), vector: new Float32Array(8).fill(0.5), n: Int32Array.from([1, 2]), x: Float64Array.from([0.5, 1.5]) });
    assert.deepStrictEqual(b.columns.get('id'), { type: 'Int64', values: BigInt64Array.from([5n, 6n]) });
    assert.deepStrictEqual(b.columns.get('n'), { type: 'Int32', values: Int32Array.from([1, 2]) });
    assert.deepStrictEqual(b.columns.get('x'), { type: 'Double', values: Float64Array.from([0.5, 1.5]) });
    assert.equal(b.dynamic, undefined);
  });

  test('the batch copies the vectors: later changes to the input do not leak in', () => {
    const s = quickCreateSchema('q', 2);
    const v = new Float32Array([1, 2]);
    const flat = new Float32Array([1, 2, 3, 4]);
    const b1 = rowsToBatch(s, [{ id: 1, vector: v }]);
    const b2 = columnsToBatch(s, { id: [1, 2], vector: flat });
    v[0] = 9;
    flat[0] = 9;
    assert.equal((b1.columns.get('vector')!.values as Float32Array)[0], 1);
    assert.equal((b2.columns.get('vector')!.values as Float32Array)[0], 1);
  });

  test('Int64 accepts safe numbers, bigint and decimal strings at the edges of the range', () => {
    const s = quickCreateSchema('q', 1);
    const b = rowsToBatch(s, [
      { id: '9223372036854775807', vector: [0] },
      { id: '-9223372036854775808', vector: [0] },
      { id: Number.MAX_SAFE_INTEGER, vector: [0] },
      { id: '+42', vector: [0] },
    ]);
    assert.deepEqual(primaryKeysOf(s, b), [2n ** 63n - 1n, -(2n ** 63n), BigInt(Number.MAX_SAFE_INTEGER), 42n]);
  });

  test('VarChar length counts UTF-8 bytes, as Milvus', () => {
    const s = validateSchema(schemaWith({ name: 't', dataType: 'VarChar', maxLength: 6 }));
    const b = rowsToBatch(s, [{ id: 1, vector: [0, 0, 0, 0], t: '日本' }, { id: 2, vector: [0, 0, 0, 0], t: 'abcdef' }, { id: 3, vector: [0, 0, 0, 0], t: '😀é' }]);
    assert.deepEqual(b.columns.get('t')!.values, ['日本', 'abcdef', '😀é']);
    expectError(() => rowsToBatch(s, [{ id: 1, vector: [0, 0, 0, 0], t: '日本語' }]), 'DATA_INVALID', 'row 0: field "t" is 9 bytes long in UTF-8, over maxLength 6');
  });

  test('autoID insert generates keys; upsert requires and keeps them', () => {
    const s = quickCreateSchema('q', 2, { autoId: true });
    let next = 100n;
    const gen = () => next++;
    const b = rowsToBatch(s, [{ vector: [1, 2] }, { vector: [3, 4] }], { nextAutoId: gen });
    assert.deepEqual(primaryKeysOf(s, b), [100n, 101n]);
    const c = columnsToBatch(s, { vector: new Float32Array(4) }, { nextAutoId: gen });
    assert.deepEqual(primaryKeysOf(s, c), [102n, 103n]);
    const u = rowsToBatch(s, [{ id: 7, vector: [1, 2] }], { forUpsert: true });
    assert.deepEqual(primaryKeysOf(s, u), [7n]);
    expectError(() => rowsToBatch(s, [{ vector: [1, 2] }]), 'INVALID_ARGUMENT', 'nextAutoId');
  });

  test('a collection without the dynamic field has no dynamic array', () => {
    const s = validateSchema(schemaWith());
    assert.equal(rowsToBatch(s, [{ id: 1, vector: [1, 2, 3, 4] }]).dynamic, undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// DATA_INVALID, case by case

const S = validateSchema({
  name: 'strict',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim: 4 },
    { name: 'title', dataType: 'VarChar', maxLength: 8 },
    { name: 'n8', dataType: 'Int8', defaultValue: 0 },
    { name: 'n16', dataType: 'Int16', defaultValue: 0 },
    { name: 'n32', dataType: 'Int32', defaultValue: 0 },
    { name: 'big', dataType: 'Int64', defaultValue: 0 },
    { name: 'f', dataType: 'Float', defaultValue: 0 },
    { name: 'd', dataType: 'Double', defaultValue: 0 },
    { name: 'flag', dataType: 'Bool', defaultValue: false },
    { name: 'meta', dataType: 'JSON', nullable: true },
    { name: 'tags', dataType: 'Array', elementType: 'Int32', maxCapacity: 3, nullable: true },
  ],
});
const DYN = quickCreateSchema('dyn', 4);
const VC = validateSchema({ name: 'vc', fields: [{ name: 'k', dataType: 'VarChar', isPrimaryKey: true, maxLength: 8 }, VEC] });
const AUTO = quickCreateSchema('auto', 4, { autoId: true });

const good = (i: number, extra: Row = {}): Row => ({ id: i, vector: [0.5, 1, 1.5, 2], title: `t${i}`, ...extra });
/** Three good rows, the middle one (row 1) changed by `extra`. */
const withRow1 = (extra: Row): Row[] => [good(0), good(1, extra), good(2)];
const cyclic: Row = { a: 1 };
cyclic.self = cyclic;

const ROW_REJECTIONS: [string, CollectionSchema, unknown, ToBatchOptions, ...string[]][] = [
  ['rows not an array', S, { id: 1 }, {}, 'rows must be an array of objects'],
  ['no rows', S, [], {}, 'no rows'],
  ['row not an object', S, [good(0), null], {}, 'row 1: must be an object, got null'],
  ['row is an array', S, [[1, 2]], {}, 'row 0: must be an object, got an array of 2'],
  ['missing required field', S, [good(0), { id: 1, vector: [1, 2, 3, 4] }], {}, 'row 1: field "title" is missing'],
  ['missing primary key', S, [{ vector: [1, 2, 3, 4], title: 'x' }], {}, 'row 0: field "id" is missing'],
  ['missing vector', S, [{ id: 1, title: 'x' }], {}, 'row 0: field "vector" is missing'],
  ['null for non-nullable without default', S, withRow1({ title: null }), {}, 'row 1: field "title" is null, but the field is not nullable and has no default'],
  ['VarChar wrong type', S, withRow1({ title: 5 }), {}, 'row 1: field "title" must be a string (VarChar), got 5'],
  ['VarChar too long', S, withRow1({ title: 'abcdefghi' }), {}, 'row 1: field "title" is 9 bytes long in UTF-8, over maxLength 8'],
  ['VarChar lone surrogate', S, withRow1({ title: 'a\uD800' }), {}, 'row 1: field "title" holds a lone UTF-16 surrogate'],
  ['Int8 out of range', S, withRow1({ n8: 128 }), {}, 'row 1: field "n8" is out of range: must be an integer from -128 to 127 (Int8), got 128'],
  ['Int8 bigint out of range', S, withRow1({ n8: -129n }), {}, 'field "n8" is out of range'],
  ['Int16 out of range', S, withRow1({ n16: -32769 }), {}, 'field "n16" is out of range: must be an integer from -32768 to 32767 (Int16)'],
  ['Int32 out of range', S, withRow1({ n32: 2 ** 31 }), {}, 'field "n32" is out of range: must be an integer from -2147483648 to 2147483647 (Int32), got 2147483648'],
  ['Int32 not an integer', S, withRow1({ n32: 1.5 }), {}, 'field "n32" must be an integer from -2147483648 to 2147483647 (Int32), got 1.5'],
  ['Int32 as a string', S, withRow1({ n32: '5' }), {}, 'field "n32" must be an integer', 'got string "5"'],
  ['Int64 unsafe number', S, withRow1({ big: 2 ** 53 }), {}, 'row 1: field "big" is 9007199254740992, not a safe integer: pass Int64 values beyond ±(2^53-1) as bigint or a decimal string'],
  ['Int64 fraction', S, withRow1({ big: 1.5 }), {}, 'field "big" must be an integer (Int64), got 1.5'],
  ['Int64 non-numeric string', S, withRow1({ big: '12a' }), {}, 'field "big" must be an integer (Int64) as a number, bigint or decimal string, got string "12a"'],
  ['Int64 hex string', S, withRow1({ big: '0x10' }), {}, 'field "big" must be an integer (Int64)'],
  ['Int64 bigint over range', S, withRow1({ big: 2n ** 63n }), {}, 'field "big" is out of range for Int64'],
  ['Int64 string over range', S, withRow1({ big: '9223372036854775808' }), {}, 'field "big" is out of range for Int64'],
  ['Int64 boolean', S, withRow1({ big: true }), {}, 'field "big" must be an integer (Int64)', 'got true'],
  ['primary key unsafe number', S, [good(0), { ...good(1), id: 2 ** 60 }], {}, 'row 1: field "id"', 'not a safe integer'],
  ['Float NaN', S, withRow1({ f: NaN }), {}, 'row 1: field "f" must be a finite number (Float), got NaN'],
  ['Float overflow', S, withRow1({ f: 1e39 }), {}, 'field "f" is 1e+39, outside the range of Float (float32)'],
  ['Float as a string', S, withRow1({ f: '1' }), {}, 'field "f" must be a number (Float), got string "1"'],
  ['Double Infinity', S, withRow1({ d: Infinity }), {}, 'field "d" must be a finite number (Double), got Infinity'],
  ['Bool as a string', S, withRow1({ flag: 'true' }), {}, 'field "flag" must be a boolean, got string "true"'],
  ['Bool as a number', S, withRow1({ flag: 1 }), {}, 'field "flag" must be a boolean, got 1'],
  ['vector short', S, withRow1({ vector: [1, 2, 3] }), {}, 'row 1: field "vector" has 3 dimensions, expected 4'],
  ['vector Float32Array long', S, withRow1({ vector: new Float32Array(5) }), {}, 'row 1: field "vector" has 5 dimensions, expected 4'],
  ['vector NaN', S, withRow1({ vector: [1, 2, NaN, 4] }), {}, 'row 1: field "vector" element 2 is NaN: vectors must hold finite float32 numbers'],
  ['vector Infinity in Float32Array', S, withRow1({ vector: new Float32Array([1, -Infinity, 3, 4]) }), {}, 'field "vector" element 1 is -Infinity'],
  ['vector float32 overflow', S, withRow1({ vector: [1e39, 2, 3, 4] }), {}, 'field "vector" element 0 is 1e+39'],
  ['vector string element', S, withRow1({ vector: [1, 'x', 3, 4] }), {}, 'field "vector" element 1 is string "x", not a number'],
  ['vector hole', S, withRow1({ vector: [1, , 3, 4] }), {}, 'field "vector" element 1 is undefined, not a number'],
  ['vector BigInt64Array', S, withRow1({ vector: new BigInt64Array(4) }), {}, 'field "vector" element 0 is 0n, not a number'],
  ['vector not an array', S, withRow1({ vector: 'abcd' }), {}, 'field "vector" must be an array of 4 numbers (number[] or Float32Array), got string "abcd"'],
  ['vector null', S, withRow1({ vector: null }), {}, 'field "vector" is null, but the field is not nullable'],
  ['Array over capacity', S, withRow1({ tags: [1, 2, 3, 4] }), {}, 'row 1: field "tags" has 4 elements, over maxCapacity 3'],
  ['Array bad element', S, withRow1({ tags: [1, 'x'] }), {}, 'row 1: field "tags" element 1 must be an integer from -2147483648 to 2147483647 (Int32), got string "x"'],
  ['Array null element', S, withRow1({ tags: [1, null] }), {}, 'field "tags" element 1 must be an integer', 'got null'],
  ['Array not an array', S, withRow1({ tags: 5 }), {}, 'field "tags" must be an array of Int32, got 5'],
  ['JSON function', S, withRow1({ meta: { f: () => 1 } }), {}, 'row 1: field "meta" (JSON) holds a function, which is not JSON'],
  ['JSON bigint', S, withRow1({ meta: [1n] }), {}, 'field "meta" (JSON) holds 1n, which is not JSON'],
  ['JSON NaN', S, withRow1({ meta: { x: NaN } }), {}, 'field "meta" (JSON) holds NaN, which JSON cannot represent'],
  ['JSON undefined inside', S, withRow1({ meta: { x: undefined } }), {}, 'field "meta" (JSON) holds undefined'],
  ['JSON Date', S, withRow1({ meta: new Date(0) }), {}, 'field "meta" (JSON) holds a Date, which is not plain JSON'],
  ['JSON Map', S, withRow1({ meta: new Map() }), {}, 'holds a Map'],
  ['JSON symbol', S, withRow1({ meta: Symbol('s') }), {}, 'holds a symbol'],
  ['JSON circular', S, withRow1({ meta: cyclic }), {}, 'field "meta" (JSON) is nested deeper than 64 levels (or is circular)'],
  ['unknown field without the dynamic field', S, withRow1({ color: 'red' }), {}, 'row 1: field "color" is not in the schema of collection "strict" and its dynamic field is off'],
  ['reserved dynamic key', DYN, [{ id: 1, vector: [1, 2, 3, 4], $meta: { a: 1 } }], {}, 'row 0: field "$meta" is a reserved name'],
  ['dynamic __proto__ key', DYN, [JSON.parse('{"id":1,"vector":[1,2,3,4],"__proto__":{"a":1}}')], {}, 'field "__proto__" is a reserved name'],
  ['dynamic value not JSON', DYN, [{ id: 1, vector: [1, 2, 3, 4], when: new Date(0) }], {}, 'row 0: field "when" (dynamic field) holds a Date'],
  ['duplicate Int64 key', S, [good(5), good(6), good(5)], {}, 'row 2: field "id" repeats primary key 5 of row 0'],
  ['duplicate key in different forms', S, [good(5), { ...good(6), id: '5' }], {}, 'row 1: field "id" repeats primary key 5 of row 0'],
  ['duplicate VarChar key', VC, [{ k: 'a', vector: [1, 2, 3, 4] }, { k: 'a', vector: [1, 2, 3, 4] }], {}, 'row 1: field "k" repeats primary key a of row 0'],
  ['duplicate key on upsert', S, [good(5), good(5)], { forUpsert: true }, 'repeats primary key 5'],
  ['VarChar key too long', VC, [{ k: 'abcdefghij', vector: [1, 2, 3, 4] }], {}, 'field "k" is 10 bytes long'],
  ['autoID key supplied on insert', AUTO, [{ vector: [1, 2, 3, 4] }, { id: 5, vector: [1, 2, 3, 4] }], { nextAutoId: () => 1n }, 'row 1: field "id" is the autoID primary key', 'must not be supplied'],
  ['autoID key missing on upsert', AUTO, [{ vector: [1, 2, 3, 4] }], { forUpsert: true }, 'row 0: field "id" is missing (upsert needs the primary key even with autoID)'],
];

describe('rowsToBatch rejections (DATA_INVALID)', () => {
  for (const [name, schema, rows, opts, ...needles] of ROW_REJECTIONS) {
    test(name, () => {
      expectError(() => rowsToBatch(schema, rows as Row[], opts), 'DATA_INVALID', ...needles);
    });
  }

  test('the brief example message', () => {
    const s = quickCreateSchema('q', 128);
    const rows = Array.from({ length: 4 }, (_, i) => ({ id: i, vector: new Array(i === 3 ? 127 : 128).fill(0.5) }));
    const e = expectError(() => rowsToBatch(s, rows), 'DATA_INVALID');
    assert.equal(e.message, 'row 3: field "vector" has 127 dimensions, expected 128');
    assert.deepEqual([e.details.row, e.details.field], [3, 'vector']);
  });
});

const cols = (extra: Row = {}): Row => ({ id: [1, 2, 3], vector: new Float32Array(12), title: ['a', 'b', 'c'], ...extra });
const COLUMN_REJECTIONS: [string, CollectionSchema, unknown, ToBatchOptions, ...string[]][] = [
  ['columns not an object', S, [1, 2], {}, 'columns must be an object of arrays'],
  ['no columns', S, {}, {}, 'no rows'],
  ['column not an array', S, cols({ title: 'abc' }), {}, 'column "title" must be an array or typed array, got string "abc"'],
  ['length mismatch', S, cols({ title: ['a', 'b'] }), {}, 'column "title" has 2 rows, but column "id" has 3'],
  ['vector rows mismatch', S, cols({ vector: new Float32Array(8) }), {}, 'column "vector" has 2 rows, but column "id" has 3'],
  ['flat vector not a multiple of dim', S, cols({ vector: new Float32Array(13) }), {}, 'column "vector" holds 13 numbers, not a multiple of dim 4'],
  ['flat vector NaN', S, cols({ vector: Float32Array.from({ length: 12 }, (_, k) => (k === 6 ? NaN : 1)) }), {}, 'row 1: field "vector" element 2 is NaN'],
  ['flat number[] vector with a string', S, cols({ vector: [...new Array(11).fill(1), 'x'] }), {}, 'row 2: field "vector" element 3 is string "x", not a number'],
  ['nested vector wrong dim', S, cols({ vector: [[1, 2, 3, 4], [1, 2, 3], [1, 2, 3, 4]] }), {}, 'row 1: field "vector" has 3 dimensions, expected 4'],
  ['missing column', S, { id: [1], vector: [[1, 2, 3, 4]] }, {}, 'row 0: field "title" is missing'],
  ['unknown column', S, cols({ color: ['r', 'g', 'b'] }), {}, 'column "color" is not in the schema of collection "strict" and its dynamic field is off'],
  ['reserved dynamic column', DYN, { id: [1], vector: [[1, 2, 3, 4]], $x: [1] }, {}, 'column "$x" has a reserved name'],
  ['dynamic column value not JSON', DYN, { id: [1, 2], vector: [[1, 2, 3, 4], [1, 2, 3, 4]], x: [1, NaN] }, {}, 'row 1: field "x" (dynamic field) holds NaN'],
  ['bad value', S, cols({ title: ['a', 5, 'c'] }), {}, 'row 1: field "title" must be a string (VarChar), got 5'],
  ['duplicate keys', S, cols({ id: [1, 2, 1] }), {}, 'row 2: field "id" repeats primary key 1 of row 0'],
  ['autoID column on insert', AUTO, { id: [1], vector: [[1, 2, 3, 4]] }, { nextAutoId: () => 1n }, 'field "id" is the autoID primary key'],
];

describe('columnsToBatch rejections (DATA_INVALID)', () => {
  for (const [name, schema, columns, opts, ...needles] of COLUMN_REJECTIONS) {
    test(name, () => {
      expectError(() => columnsToBatch(schema, columns as Row, opts), 'DATA_INVALID', ...needles);
    });
  }
});

describe('primary keys', () => {
  test('primaryKeysOf returns bigint or string keys in row order', () => {
    assert.deepEqual(primaryKeysOf(FULL, rowsToBatch(FULL, fullRows())), [1n, 2n, 3n]);
    assert.deepEqual(primaryKeysOf(VC, rowsToBatch(VC, [{ k: 'b', vector: [1, 2, 3, 4] }, { k: 'a', vector: [1, 2, 3, 4] }])), ['b', 'a']);
  });

  test('normalizePrimaryKey', () => {
    assert.equal(normalizePrimaryKey(S, 5), 5n);
    assert.equal(normalizePrimaryKey(S, '5'), 5n);
    assert.equal(normalizePrimaryKey(S, '-9223372036854775808'), -(2n ** 63n));
    assert.equal(normalizePrimaryKey(S, 5n), 5n);
    assert.equal(normalizePrimaryKey(VC, 'abc'), 'abc');
    expectError(() => normalizePrimaryKey(S, 1.5), 'DATA_INVALID', 'primary key "id" must be an integer (Int64)');
    expectError(() => normalizePrimaryKey(S, 2 ** 60), 'DATA_INVALID', 'primary key "id"', 'not a safe integer');
    expectError(() => normalizePrimaryKey(S, 'abc'), 'DATA_INVALID', 'primary key "id"');
    expectError(() => normalizePrimaryKey(S, null), 'DATA_INVALID', 'got null');
    expectError(() => normalizePrimaryKey(VC, 5), 'DATA_INVALID', 'primary key "k" must be a string (VarChar), got 5');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const SCALARS = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar'] as const;
const RANGES: Record<string, [number, number]> = { Int8: [-128, 127], Int16: [-32768, 32767], Int32: [-2147483648, 2147483647] };
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Valid inputs of a scalar type, in every accepted form. */
function scalarArb(t: ScalarElementType, maxLength = 1): fc.Arbitrary<unknown> {
  switch (t) {
    case 'Bool':
      return fc.boolean();
    case 'Int8':
    case 'Int16':
    case 'Int32': {
      const [min, max] = RANGES[t]!;
      return fc.integer({ min, max }).chain((i) => fc.constantFrom<unknown>(i, BigInt(i)));
    }
    case 'Int64':
      return fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).chain((b) => {
        const forms: unknown[] = [b, b.toString()];
        if (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)) forms.push(Number(b));
        return fc.constantFrom(...forms);
      });
    case 'Float':
      return fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: -3e38, max: 3e38, noNaN: true }));
    case 'Double':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'VarChar':
      // Up to maxLength ASCII characters, or up to maxLength/4 arbitrary code points (<= 4 bytes each).
      return fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength }), fc.string({ unit: 'binary', maxLength: Math.floor(maxLength / 4) }));
  }
}

/** The stored form of a valid scalar input: an independent reference for the conversion. */
function stored(t: ScalarElementType, v: unknown): unknown {
  switch (t) {
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return Number(v);
    case 'Int64':
      return BigInt(v as string);
    case 'Float':
      return Math.fround(v as number);
    default:
      return v;
  }
}

const fieldSpecArb = fc.record({
  dataType: fc.constantFrom(...SCALARS, 'JSON' as const, 'Array' as const),
  nullable: fc.boolean(),
  withDefault: fc.boolean(),
  maxLength: fc.integer({ min: 1, max: 12 }),
  elementType: fc.constantFrom(...SCALARS),
  maxCapacity: fc.integer({ min: 1, max: 4 }),
});

/** A random valid schema: Int64 or VarChar key, a vector of 1..6 dims, 0..6 other fields. */
const schemaArb: fc.Arbitrary<CollectionSchema> = fc
  .record({ pkVarChar: fc.boolean(), dim: fc.integer({ min: 1, max: 6 }), dynamic: fc.boolean(), others: fc.array(fieldSpecArb, { maxLength: 6 }) })
  .chain((spec) => {
    const defaults = spec.others.map((o) =>
      o.withDefault && o.dataType !== 'JSON' && o.dataType !== 'Array' ? scalarArb(o.dataType, o.maxLength).map((v) => (typeof v !== 'bigint' ? v : o.dataType === 'Int64' ? v.toString() : Number(v))) : fc.constant(undefined),
    );
    return fc.tuple(fc.constant(spec), fc.tuple(...defaults));
  })
  .map(([spec, defaults]) => {
    const fields: Row[] = [
      spec.pkVarChar ? { name: 'id', dataType: 'VarChar', isPrimaryKey: true, maxLength: 20 } : { name: 'id', dataType: 'Int64', isPrimaryKey: true },
      { name: 'vec', dataType: 'FloatVector', dim: spec.dim },
    ];
    spec.others.forEach((o, i) => {
      const f: Row = { name: `f${i}`, dataType: o.dataType };
      if (o.nullable) f.nullable = true;
      if (defaults[i] !== undefined) f.defaultValue = defaults[i];
      if (o.dataType === 'VarChar') f.maxLength = o.maxLength;
      if (o.dataType === 'Array') Object.assign(f, { elementType: o.elementType, maxCapacity: o.maxCapacity }, o.elementType === 'VarChar' ? { maxLength: o.maxLength } : {});
      fields.push(f);
    });
    return validateSchema({ name: 'prop', fields, enableDynamicField: spec.dynamic });
  });

function valueArb(f: FieldSchema): fc.Arbitrary<unknown> {
  if (f.dataType === 'FloatVector') {
    const arr = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: f.dim!, maxLength: f.dim! });
    return fc.oneof(arr, arr.map((a) => Float32Array.from(a)));
  }
  // A JSON null is a null: valid only where the field allows null (cellArb adds it there).
  if (f.dataType === 'JSON') return fc.jsonValue({ maxDepth: 3 }).filter((v) => v !== null);
  if (f.dataType === 'Array') return fc.array(scalarArb(f.elementType!, f.maxLength ?? 1), { maxLength: f.maxCapacity! });
  return scalarArb(f.dataType as ScalarElementType, f.maxLength ?? 1);
}

/** A cell: a value, or null / absent where the field allows it. */
function cellArb(f: FieldSchema): fc.Arbitrary<unknown> {
  const v = valueArb(f);
  return f.nullable || f.defaultValue !== undefined ? fc.oneof(v, fc.constant(null), fc.constant(undefined)) : v;
}

interface Case {
  schema: CollectionSchema;
  rows: Row[];
}

/** A schema and 1..6 valid rows with unique keys (and dynamic extras when the schema allows). */
const caseArb: fc.Arbitrary<Case> = schemaArb.chain((schema) => {
  const others = schema.fields.filter((f) => !f.isPrimaryKey);
  const rowArb = fc.record({
    cells: fc.tuple(...others.map(cellArb)),
    extras: schema.enableDynamicField ? fc.dictionary(fc.stringMatching(/^x_[a-z]{1,3}$/), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }) : fc.constant({}),
  });
  const keyArb = schema.fields[0]!.dataType === 'Int64' ? fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map((b): unknown => b) : fc.string({ unit: 'grapheme-ascii', maxLength: 20 });
  return fc.integer({ min: 1, max: 6 }).chain((n) =>
    fc.tuple(fc.uniqueArray(keyArb, { minLength: n, maxLength: n }), fc.array(rowArb, { minLength: n, maxLength: n })).map(([keys, rs]) => ({
      schema,
      rows: rs.map((r, i) => {
        const row: Row = { id: keys[i], ...r.extras };
        others.forEach((f, k) => {
          if (r.cells[k] !== undefined || k % 2 === 0) row[f.name] = r.cells[k];
        });
        return row;
      }),
    })),
  );
});

/** The column a field must become, computed independently of the implementation. */
function expectedColumn(f: FieldSchema, cells: unknown[]): ColumnData {
  const n = cells.length;
  const valid = f.nullable ? new Uint8Array(n) : undefined;
  const vals = cells.map((c, i) => {
    const v = c ?? f.defaultValue ?? null;
    if (v !== null && valid) valid[i] = 1;
    return v;
  });
  const t = f.dataType;
  const scalar = (v: unknown) => (v === null ? null : stored(t as ScalarElementType, v));
  const withValid = <T extends object>(c: T) => (valid ? { ...c, valid } : c);
  switch (t) {
    case 'FloatVector':
      return { type: t, values: Float32Array.from(vals.flatMap((v) => Array.from(v as ArrayLike<number>))), dim: f.dim! };
    case 'Bool':
      return withValid({ type: t, values: Uint8Array.from(vals, (v) => (v === true ? 1 : 0)) });
    case 'Int8':
      return withValid({ type: t, values: Int8Array.from(vals, (v) => (scalar(v) as number | null) ?? 0) });
    case 'Int16':
      return withValid({ type: t, values: Int16Array.from(vals, (v) => (scalar(v) as number | null) ?? 0) });
    case 'Int32':
      return withValid({ type: t, values: Int32Array.from(vals, (v) => (scalar(v) as number | null) ?? 0) });
    case 'Int64':
      return withValid({ type: t, values: BigInt64Array.from(vals, (v) => (scalar(v) as bigint | null) ?? 0n) });
    case 'Float':
      return withValid({ type: t, values: Float32Array.from(vals, (v) => (scalar(v) as number | null) ?? 0) });
    case 'Double':
      return withValid({ type: t, values: Float64Array.from(vals, (v) => (scalar(v) as number | null) ?? 0) });
    case 'VarChar':
      return withValid({ type: t, values: vals.map((v) => (v ?? '') as string) });
    case 'JSON':
      return withValid({ type: t, values: vals });
    case 'Array':
      return withValid({ type: t, values: vals.map((v) => (v === null ? [] : Array.from(v as ArrayLike<unknown>, (e) => stored(f.elementType!, e)))) });
  }
}

function checkBatch(c: Case, batch: ColumnBatch): void {
  assert.equal(batch.count, c.rows.length);
  assert.equal(batch.columns.size, c.schema.fields.length);
  for (const f of c.schema.fields) {
    assert.deepStrictEqual(batch.columns.get(f.name), expectedColumn(f, c.rows.map((r) => r[f.name])), `field ${f.name}`);
  }
  if (c.schema.enableDynamicField) {
    const names = new Set(c.schema.fields.map((f) => f.name));
    const extras = c.rows.map((r) => {
      const e = Object.entries(r).filter(([k, v]) => !names.has(k) && v !== undefined);
      return e.length === 0 ? null : Object.fromEntries(e);
    });
    assert.deepStrictEqual(batch.dynamic, extras);
  } else {
    assert.equal(batch.dynamic, undefined);
  }
}

const mutationArb = fc.record({ kind: fc.nat(), row: fc.nat(), field: fc.nat(), pick: fc.nat() });
const anythingArb = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withBoxedValues: true,
  withObjectString: true,
  withUnicodeString: true,
});

describe('properties', () => {
  test('valid random rows always convert, and the columns hold exactly their values', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        checkBatch(c, rowsToBatch(c.schema, c.rows));
      }),
      { numRuns: 300 },
    );
  });

  test('the columnar form of the same rows gives the same batch', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), (c, flat) => {
        const vec = c.schema.fields[1]!;
        const cols = toColumns(c.rows, flat ? vec.name : null, vec.dim!);
        checkBatch(c, columnsToBatch(c.schema, cols));
      }),
      { numRuns: 200 },
    );
  });

  test('random invalid mutations always throw DATA_INVALID, never anything else', () => {
    fc.assert(
      fc.property(caseArb, mutationArb, (c, m) => {
        const rows = c.rows.map((r) => ({ ...r }));
        const what = mutate(c.schema, rows, m);
        let err: unknown;
        try {
          rowsToBatch(c.schema, rows);
        } catch (e) {
          err = e;
        }
        assert.ok(err instanceof VecwalError && err.code === 'DATA_INVALID', `${what}: expected DATA_INVALID, got ${String(err)}`);
      }),
      { numRuns: 500 },
    );
  });

  test('arbitrary values anywhere convert or throw DATA_INVALID, never a TypeError', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), fc.nat(), anythingArb, fc.boolean(), (c, r, f, value, columnar) => {
        const rows = c.rows.map((x) => ({ ...x }));
        const name = c.schema.fields[f % c.schema.fields.length]!.name;
        rows[r % rows.length]![name] = value;
        try {
          if (columnar) {
            const cols = toColumns(rows, null, 1);
            if (r % 3 === 0) cols[name] = value;
            columnsToBatch(c.schema, cols);
          } else {
            rowsToBatch(c.schema, r % 5 === 0 ? [value as Row] : rows);
          }
        } catch (e) {
          assert.ok(e instanceof VecwalError && e.code === 'DATA_INVALID', `expected DATA_INVALID, got ${String(e)}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** Values that no field of this type accepts (null and absence excluded). */
function invalidValues(f: FieldSchema): unknown[] {
  const common = [{}, Symbol('s'), () => 0];
  switch (f.dataType) {
    case 'Bool':
      return [0, 1, 'true', [], ...common];
    case 'Int8':
    case 'Int16':
    case 'Int32': {
      const [min, max] = RANGES[f.dataType]!;
      return [min - 1, max + 1, BigInt(max) + 1n, 0.5, NaN, Infinity, '1', true, [], ...common];
    }
    case 'Int64':
      return [2 ** 53, -(2 ** 60), 0.5, NaN, Infinity, '1.0', '0x10', '', ' 1', '1e3', true, 2n ** 63n, INT64_MIN - 1n, '9223372036854775808', ...common];
    case 'Float':
      return [NaN, Infinity, -Infinity, 1e39, -1e300, '1', true, 1n, [], ...common];
    case 'Double':
      return [NaN, Infinity, -Infinity, '1', true, 1n, [], ...common];
    case 'VarChar':
      return ['a'.repeat(f.maxLength! + 1), 'é'.repeat(Math.ceil((f.maxLength! + 1) / 2)), '\uD800', 5, true, [], ...common];
    case 'JSON':
      return [() => 1, Symbol('s'), 1n, NaN, Infinity, new Date(0), new Map(), { a: undefined }, [undefined], cyclic, { x: 1n }, new Uint8Array(2)];
    case 'Array': {
      const tooMany = new Array(f.maxCapacity! + 1).fill(f.elementType === 'Bool' ? true : f.elementType === 'VarChar' ? '' : 0);
      const badElements = invalidValues({ name: 'e', dataType: f.elementType!, maxLength: f.maxLength } as FieldSchema).filter((v) => !Array.isArray(v));
      return ['x', 5, {}, tooMany, [null], ...badElements.map((v) => [v])];
    }
    case 'FloatVector': {
      const ok = new Array(f.dim!).fill(0.5);
      return [[...ok, 1], ok.slice(1), [NaN, ...ok.slice(1)], [...ok.slice(1), Infinity], [1e39, ...ok.slice(1)], ['1', ...ok.slice(1)], [null, ...ok.slice(1)], Float32Array.from([NaN, ...ok.slice(1)]), 'x', 5, {}];
    }
  }
}

/** Apply one invalid change to `rows` (in place) chosen by the seeds; returns what it did. */
function mutate(schema: CollectionSchema, rows: Row[], m: { kind: number; row: number; field: number; pick: number }): string {
  const i = m.row % rows.length;
  const required = schema.fields.filter((f) => !f.nullable && f.defaultValue === undefined);
  const kinds = ['value', 'delete', 'null', 'extra', 'row'];
  if (rows.length >= 2) kinds.push('duplicate');
  const kind = kinds[m.kind % kinds.length]!;
  if (kind === 'value') {
    const f = schema.fields[m.field % schema.fields.length]!;
    const bad = invalidValues(f);
    rows[i]![f.name] = bad[m.pick % bad.length];
    return `value of ${f.name}`;
  }
  if (kind === 'delete' || kind === 'null') {
    const f = required[m.field % required.length]!;
    if (kind === 'delete') delete rows[i]![f.name];
    else rows[i]![f.name] = null;
    return `${kind} ${f.name}`;
  }
  if (kind === 'extra') {
    if (!schema.enableDynamicField) rows[i]!.zz_unknown = 1;
    else if (m.pick % 2 === 0) rows[i]!.$reserved = 1;
    else rows[i]!.x_bad = [1n, NaN, () => 1][m.pick % 3];
    return 'extra key';
  }
  if (kind === 'row') {
    rows[i] = [null, 5, 'x', [], true][m.pick % 5] as unknown as Row;
    return 'row not an object';
  }
  const j = (i + 1 + (m.pick % (rows.length - 1))) % rows.length;
  rows[j]!.id = rows[i]!.id;
  return 'duplicate key';
}

test('limits are exported', () => {
  assert.deepEqual([SCHEMA_LIMITS.maxDim, SCHEMA_LIMITS.maxVarCharLength, SCHEMA_LIMITS.maxArrayCapacity, SCHEMA_LIMITS.maxNameLength], [32768, 65535, 4096, 255]);
});
