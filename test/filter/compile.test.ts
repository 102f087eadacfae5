/**
 * compileFilter semantics over small row tables: each test states which ids match, so a
 * reader can check the Milvus behaviour row by row (nulls, JSON paths, dynamic fields,
 * arrays, LIKE, int64 ids), plus every compile-time error with its position.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, parseFilter, type FilterSchema, type Row } from '../../src/filter/index.js';
import { isVecwalError } from '../../src/errors.js';

const SCHEMA: FilterSchema = {
  enableDynamicField: true,
  fields: [
    { name: 'id', type: 'Int64' },
    { name: 'age', type: 'Int32', nullable: true },
    { name: 'score', type: 'Float' },
    { name: 'price', type: 'Double', nullable: true },
    { name: 'name', type: 'VarChar', nullable: true },
    { name: 'active', type: 'Bool', nullable: true },
    { name: 'tags', type: 'Array', elementType: 'VarChar', nullable: true },
    { name: 'nums', type: 'Array', elementType: 'Int64' },
    { name: 'meta', type: 'JSON', nullable: true },
    { name: 'vec', type: 'FloatVector' },
  ],
};

const f32 = Math.fround;
const ROWS: Row[] = [
  { id: 1, age: 30, score: f32(0.1), price: 9.5, name: 'alice', active: true, tags: ['a', 'b'], nums: [1, 2, 3],
    meta: { a: { b: 1 }, list: [1, 'x', [2]], s: 'str', n: 2.5, flag: true }, $meta: { color: 'red', size: 10 }, vec: [0, 0] },
  { id: 2, age: null, score: f32(1.5), price: null, name: 'bob', active: false, tags: [], nums: [],
    meta: { a: { b: 'one' } }, $meta: { color: 'blue' }, vec: [0, 0] },
  { id: 3, age: 17, score: f32(2.5), price: 100, name: null, active: null, tags: null, nums: [9007199254740993n],
    meta: null, $meta: {}, vec: [0, 0] },
  { id: 4, age: 65, score: f32(-1), price: 0, name: 'a%b_c.d', tags: ['b', 'c'], nums: [4],
    meta: { list: [] }, $meta: { color: 'Red', size: '10' }, vec: [0, 0] },
  { id: 9007199254740993n, age: 5, score: 0, price: 1, name: 'Ālice\nx', active: true, tags: ['a'], nums: [5, 5],
    meta: { a: { b: 2 } }, $meta: { size: 3, nested: { k: [10, 20] } }, vec: [0, 0] },
];

function ids(expr: string, params?: Record<string, unknown>, schema: FilterSchema = SCHEMA, rows: Row[] = ROWS): unknown[] {
  const pred = compileFilter(expr, schema, params);
  return rows.filter(pred).map((r) => r.id);
}

function check(cases: [string, unknown[]][], params?: Record<string, unknown>): void {
  for (const [expr, expected] of cases) assert.deepEqual(ids(expr, params), expected, expr);
}

function assertCompileError(expr: string, position: number, message: string, schema: FilterSchema = SCHEMA, params?: Record<string, unknown>): void {
  assert.throws(
    () => compileFilter(expr, schema, params),
    (e: unknown) => {
      assert.ok(isVecwalError(e, 'INVALID_FILTER'), `expected INVALID_FILTER for ${expr}, got ${String(e)}`);
      assert.equal(e.details.position, position, `${expr}: ${e.message}`);
      assert.ok(e.message.includes(message), `${expr}: ${e.message}`);
      return true;
    },
  );
}

const BIG = 9007199254740993n;

test('comparisons on numbers, strings and booleans', () => {
  check([
    ['age > 18', [1, 4]],
    ['age >= 17 and age < 65', [1, 3]],
    ['18 < age', [1, 4]],
    ['age == 30 or age == 5', [1, BIG]],
    ['age != 30', [3, 4, BIG]],
    ['age > 17.5', [1, 4]],
    ['price <= 9.5', [1, 4, BIG]],
    ['name == "bob"', [2]],
    ["name != 'bob'", [1, 4, BIG]],
    ['name > "b"', [2, BIG]],
    ['active == true', [1, BIG]],
    ['active', [1, BIG]],
    ['active != true', [2]],
    ['not active', [2]],
    ['age > price', [1, 4, BIG]],
    ['true', [1, 2, 3, 4, BIG]],
    ['false or 1 == 2', []],
    ['', [1, 2, 3, 4, BIG]],
  ]);
});

test('Float columns compare in float32 like Milvus casts the constant', () => {
  check([
    ['score == 0.1', [1]],
    ['score > 0.1', [2, 3]],
    ['score in [0.1, 2.5]', [1, 3]],
    ['0.1 <= score <= 0.1', [1]],
  ]);
});

test('nulls: comparisons are false, and not keeps null rows out (Milvus valid bitmap)', () => {
  check([
    ['age > 0', [1, 3, 4, BIG]],
    ['not (age > 0)', []],
    ['age <= 0', []],
    ['not (age <= 0)', [1, 3, 4, BIG]],
    ['age != 30', [3, 4, BIG]],
    ['not (age == 30)', [3, 4, BIG]],
    ['age not in [30]', [3, 4, BIG]],
    ['not (age in [30])', [3, 4, BIG]],
    ['age is null', [2]],
    ['age IS NOT NULL', [1, 3, 4, BIG]],
    ['not (age is null)', [1, 3, 4, BIG]],
    ['name is null or tags is null', [3]],
    ['active is null', [3, 4]],
    ['meta is null', [3]],
    ['not active', [2]],
    ['not (not active)', [1, BIG]],
    // AND/OR combine data with AND/OR and validity with OR, as Milvus's bitmaps do:
    // row 2 (age null): `age > 100` is invalid, `id == 2` valid true.
    ['not (age > 100 or id == 2)', [1, 3, 4, BIG]],
    ['not (age > 100 and id == 2)', [1, 2, 3, 4, BIG]],
    ['not (age > 100 or price > 100)', [1, 3, 4, BIG]],
    ['not (age > 100 and price > 100)', [1, 3, 4, BIG]],
    ['not (age > 0 or price > 0)', []],
    ['age > 0 or price > 0', [1, 3, 4, BIG]],
  ]);
});

test('JSON paths: nested keys, indexes, type mismatches and missing keys', () => {
  check([
    ['meta["a"]["b"] == 1', [1]],
    ['meta["a"]["b"] >= 1', [1, BIG]],
    ['meta["a"]["b"] == "one"', [2]],
    ['meta["a"]["b"] != 1', [2, 4, BIG]],
    ['not (meta["a"]["b"] == 1)', [2, 4, BIG]],
    ['meta["list"][0] == 1', [1]],
    ['meta["list"][2] == [2]', [1]],
    ['meta["list"]["1"] == "x"', [1]],
    ['meta["n"] > 2', [1]],
    ['meta["n"] < 3 and meta["s"] like "s%"', [1]],
    ['meta["flag"] == true', [1]],
    ['meta["a"] == 1', []],
    ['meta["a"]["b"] in [1, "one"]', [1, 2]],
    ['meta["a"]["b"] not in [1, "one"]', [4, BIG]],
    ['1 <= meta["a"]["b"] < 3', [1, BIG]],
    ['meta["a"]["b"] + 1 == 2', [1]],
    ['meta["a"]["b"] * 2 > 3', [BIG]],
    ['array_length(meta["list"]) == 0', [4]],
    ['array_length(meta["list"]) > 1', [1]],
  ]);
});

test('dynamic fields: bare names and $meta resolve to row.$meta', () => {
  check([
    ['color == "red"', [1]],
    ['$meta["color"] == "red"', [1]],
    ['color like "R%"', [4]],
    ['color != "red"', [2, 3, 4, BIG]],
    ['size == 10', [1]],
    ['size == "10"', [4]],
    ['size > 5', [1]],
    ['exists color', [1, 2, 4]],
    ['color is null', [3, BIG]],
    ['color is not null', [1, 2, 4]],
    ['exists $meta["nested"]["k"]', [BIG]],
    ['nested["k"][1] == 20', [BIG]],
    ['json_contains(nested["k"], 10)', [BIG]],
    ['color in ["red", "blue"]', [1, 2]],
  ]);
});

test('prototype properties are never read as values', () => {
  check([
    ['constructor is null', [1, 2, 3, 4, BIG]],
    ['exists toString', []],
    ['meta["__proto__"] is not null', []],
    ['meta["a"]["constructor"] == 1', []],
    ['meta["list"]["length"] == 3', []],
  ]);
});

test('array fields and functions', () => {
  check([
    ['array_contains(tags, "a")', [1, BIG]],
    ['ARRAY_CONTAINS(nums, 9007199254740993)', [3]],
    ['array_contains_all(tags, ["a", "b"])', [1]],
    ['array_contains_all(tags, [])', [1, 2, 4, BIG]],
    ['array_contains_any(tags, ["c", "x"])', [4]],
    ['array_contains_any(nums, [5, 4])', [4, BIG]],
    ['not array_contains(tags, "a")', [2, 4]],
    ['array_length(tags) == 0', [2]],
    ['array_length(nums) >= 2', [1, BIG]],
    ['tags[0] == "b"', [4]],
    ['tags[1] == "b" or nums[0] > 3', [1, 3, 4, BIG]],
    ['nums[0] in [1, 4]', [1, 4]],
    ['tags[5] is null', [1, 2, 3, 4, BIG]],
    ['json_contains(meta["list"], "x")', [1]],
    ['json_contains(meta["list"], [2])', [1]],
    ['json_contains_any(meta["list"], [3, 1])', [1]],
    ['json_contains_all(meta["list"], [1, "x", [2]])', [1]],
    ['array_contains(meta["s"], "s")', []],
  ]);
});

test('like: % and _ wildcards, escapes, regex metacharacters are literal', () => {
  check([
    ['name like "a%"', [1, 4]],
    ['name like "%b"', [2]],
    ['name like "%li%"', [1, BIG]],
    ['name like "b_b"', [2]],
    ['name like "_lice"', [1]],
    ['name like "%"', [1, 2, 4, BIG]],
    ['name like "alice"', [1]],
    ['name like "ali"', []],
    ['name like "a\\%b%"', [4]],
    ['name like "a%b\\_c%"', [4]],
    ['name like "a\\%b\\_c.d"', [4]],
    ['name like "a%b_c_d"', [4]],
    ['name like "%.d"', [4]],
    ['name like "a.b%"', []],
    ['name like "(%"', []],
    ['name like "Ā%x"', [BIG]],
    ['name like "_lice_x"', [BIG]],
    ['not (name like "a%")', [2, BIG]],
    ['tags[0] like "b%"', [4]],
  ]);
});

test('int64: bigint rows and literals beyond 2^53 compare exactly', () => {
  const rows: Row[] = [
    { id: 9007199254740992 }, // 2^53 as a number
    { id: 9007199254740993n },
    { id: 9007199254740994n },
    { id: -9223372036854775808n },
    { id: 9223372036854775807n },
    { id: 7n },
    { id: 8 },
  ];
  const schema: FilterSchema = { fields: [{ name: 'id', type: 'Int64' }], enableDynamicField: false };
  const q = (e: string, p?: Record<string, unknown>) => ids(e, p, schema, rows);
  assert.deepEqual(q('id in [9007199254740993]'), [9007199254740993n]);
  assert.deepEqual(q('id == 9007199254740993'), [9007199254740993n]);
  assert.deepEqual(q('id == 9007199254740992'), [9007199254740992]);
  assert.deepEqual(q('id > 9007199254740992'), [9007199254740993n, 9007199254740994n, 9223372036854775807n]);
  assert.deepEqual(q('id in [7, 8, 9007199254740994]'), [9007199254740994n, 7n, 8]);
  assert.deepEqual(q('id == -9223372036854775808'), [-9223372036854775808n]);
  assert.deepEqual(q('id == 9223372036854775807'), [9223372036854775807n]);
  assert.deepEqual(q('id + 1 == 9007199254740994'), [9007199254740993n]);
  assert.deepEqual(q('id - 1 == 9007199254740991'), [9007199254740992]);
  assert.deepEqual(q('id * 2 == 18014398509481986'), [9007199254740993n]);
  assert.deepEqual(q('id == {x}', { x: 9007199254740993n }), [9007199254740993n]);
  assert.deepEqual(q('id in {xs}', { xs: [7, 9007199254740994n] }), [9007199254740994n, 7n]);
  assert.deepEqual(q('9007199254740992 < id < 9007199254740994'), [9007199254740993n]);
});

test('arithmetic inside comparisons: integer division truncates, % keeps the sign', () => {
  check([
    ['age + 1 == 31', [1]],
    ['age - 5 < 1', [BIG]],
    ['age * 2 >= 60', [1, 4]],
    ['age / 2 == 8', [3]],
    ['age / 2.0 == 8.5', [3]],
    ['age % 2 == 1', [3, 4, BIG]],
    ['-age < -60', [4]],
    ['-age % 2 == -1', [3, 4, BIG]],
    ['age / 0 == 1 or age % 0 == 0', []],
    ['age + price > 39', [1, 3, 4]],
    ['2 ** 2 == age - 1', [BIG]],
    ['array_length(nums) * 2 == age', []],
    ['(age + 1) * 2 == 62', [1]],
  ]);
});

test('ranges, both directions and inclusivity', () => {
  check([
    ['17 < age < 65', [1]],
    ['17 <= age <= 65', [1, 3, 4]],
    ['65 > age >= 17', [1, 3]],
    ['"a" <= name < "b"', [1, 4]],
    ['not (17 < age < 65)', [3, 4, BIG]],
  ]);
});

test('templates bind exprParams values', () => {
  const params = { min: 18, names: ['bob', 'alice'], pat: 'a%', big: BIG, t: true, lo: 1, hi: 40, f: 0.1, tags: ['c'] };
  check([
    ['age > {min}', [1, 4]],
    ['name in {names}', [1, 2]],
    ['name like {pat}', [1, 4]],
    ['nums[0] == {big}', [3]],
    ['active == {t}', [1, BIG]],
    ['{lo} < age < {hi}', [1, 3, BIG]],
    ['score == {f}', [1]],
    ['array_contains_any(tags, {tags})', [4]],
    ['id in [{lo}, 2]', [1, 2]],
  ], params);
  const ast = parseFilter('age > {min}');
  assert.deepEqual(ROWS.filter(compileFilter(ast, SCHEMA, { min: 60 })).map((r) => r.id), [4]);
  assert.deepEqual(ROWS.filter(compileFilter(ast, SCHEMA, { min: 20 })).map((r) => r.id), [1, 4]);
});

test('compile-time errors report positions', () => {
  const strict: FilterSchema = { ...SCHEMA, enableDynamicField: false };
  const cases: [string, number, string][] = [
    ['age > 1 and color == "red"', 12, "unknown field 'color'"],
    ['$meta["a"] == 1', 0, 'dynamic field is not enabled'],
  ];
  for (const [e, p, m] of cases) assertCompileError(e, p, m, strict);
  const errors: [string, number, string][] = [
    ['name == 5', 5, "cannot compare VarChar field 'name' with number 5"],
    ['5 < name', 2, 'cannot compare number 5 with VarChar'],
    ['age == "x"', 4, 'cannot compare Int32 field'],
    ['active > true', 7, "operator '>' does not apply to booleans"],
    ['active == 1', 7, 'cannot compare Bool field'],
    ['age like "1%"', 0, "'like' needs a VarChar or JSON field, got Int32 field 'age'"],
    ['tags like "a%"', 0, "'like' needs a VarChar or JSON field"],
    ['lower(name) like "a%"', 0, "unknown function 'lower'"],
    ['array_contains(name, "a")', 15, 'array_contains() needs an Array or JSON field'],
    ['array_contains_any(age, [1])', 19, 'needs an Array or JSON field'],
    ['array_length(age) > 1', 13, 'array_length() needs an Array or JSON field'],
    ['array_contains(tags, 1)', 21, 'number 1 cannot be used with the elements of Array field'],
    ['array_contains_all(tags, "a")', 25, 'needs a list as its second argument'],
    ['array_contains(tags, name)', 21, 'needs a constant'],
    ['tags == ["a"]', 0, "cannot compare Array field 'tags' directly"],
    ['tags in ["a"]', 0, 'use array_contains_any()'],
    ['tags["x"] == 1', 0, 'can only be indexed by one integer'],
    ['age[0] == 1', 0, 'cannot be indexed'],
    ['vec is null', 0, "vector field 'vec' cannot be used in a filter"],
    ['age > 1 or array_length(vec) > 0', 24, "vector field 'vec'"],
    ['not age', 0, "'not' needs a boolean operand, got Int32 field 'age'"],
    ['not age > 1', 0, "'not' binds tighter than comparisons"],
    ['age', 0, 'expected a boolean expression'],
    ['age + 1', 0, 'expected a boolean expression'],
    ['color', 0, 'expected a boolean expression'],
    ['age and active', 0, 'expected a boolean expression'],
    ['(age > 1) == true', 1, 'expected a value here'],
    ['age ** 2 > 1', 4, "'**' only applies to constants"],
    ['price % 2 == 1', 6, "'%' only applies to integers"],
    ['name + 1 == 2', 0, "operator '+' needs numbers, got VarChar field 'name'"],
    ['-name == 1', 0, "operator '-' needs a number"],
    ['1 / 0 == age', 2, 'division by zero'],
    ['age < price < 10', 0, 'range bounds must be constants'],
    ['10 < age < 1', 0, 'invalid range'],
    ['5 < age < 5', 0, 'invalid range'],
    ['age + 1 in [1]', 0, "'in' needs a field or JSON path"],
    ['age in [1, 2.5]', 11, 'number 2.5 cannot be used with Int32 field'],
    ['name in ["a", 1]', 14, 'number 1 cannot be used with VarChar field'],
    ['age in [1, age]', 11, 'list elements must be constants'],
    ['age == [1]', 7, "cannot compare with a list; use 'in'"],
    ['exists age', 7, "'exists' needs a JSON key"],
    ['exists meta', 7, "'exists' needs a JSON key"],
    ['name like {n}', 10, "'like' needs a string pattern"],
    ['age > {missing}', 6, 'no value given for template {missing}'],
    ['age in {bad}', 7, 'template {bad} has an unsupported value (object)'],
    ['age in {n}', 7, "the right side of 'in' must be a list"],
  ];
  for (const [e, p, m] of errors) assertCompileError(e, p, m, SCHEMA, { n: 5, bad: { x: 1 } });
});

test('compile errors on a parsed tree still quote the source', () => {
  const ast = parseFilter('age > 1 and\n  name == 5');
  try {
    compileFilter(ast, SCHEMA);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isVecwalError(e, 'INVALID_FILTER'));
    assert.equal(e.details.position, 19);
    assert.equal(e.details.expr, 'age > 1 and\n  name == 5');
    assert.equal(e.message, "cannot compare VarChar field 'name' with number 5 at position 19\n    name == 5\n         ^");
  }
});

test('a long generated or-chain compiles flat and evaluates fast', () => {
  const chain = Array.from({ length: 2000 }, (_, i) => `id == ${i * 2}`).join(' or ');
  const pred = compileFilter(chain, SCHEMA);
  assert.equal(pred({ id: 3000 }), true);
  assert.equal(pred({ id: 3001 }), false);
});
