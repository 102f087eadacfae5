/**
 * The filter parser: every construct of the Milvus core grammar, precedence as in Plan.g4,
 * literal lexing, and the exact position of every syntax error. Trees are compared through
 * formatFilter, which parenthesises every compound node, so `(a or (b and c))` states the
 * grouping directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFilter, parseFilter, type FilterExpr } from '../../src/filter/index.js';
import { isVecwalError } from '../../src/errors.js';

const fmt = (s: string): string => formatFilter(parseFilter(s));

/** Asserts `expr` fails with INVALID_FILTER at `position`, with `message` in the text. */
function assertSyntaxError(expr: string, position: number, message: string): void {
  assert.throws(
    () => parseFilter(expr),
    (e: unknown) => {
      assert.ok(isVecwalError(e, 'INVALID_FILTER'), `expected INVALID_FILTER for ${expr}, got ${String(e)}`);
      assert.equal(e.details.position, position, `position for ${JSON.stringify(expr)}: ${e.message}`);
      assert.equal(e.details.expr, expr);
      assert.ok(e.message.includes(message), `message for ${JSON.stringify(expr)}: ${e.message}`);
      assert.ok(e.message.includes(`at position ${position}`), e.message);
      return true;
    },
  );
}

test('every core construct parses', () => {
  const cases: [string, string][] = [
    ['age > 18', '(age > 18)'],
    ['age >= 18 && age <= 65', '((age >= 18) and (age <= 65))'],
    ['a == 1 || b != 2', '((a == 1) or (b != 2))'],
    ['name == "x" AND score < 0.5', '((name == "x") and (score < 0.5))'],
    ['flag OR not other', '(flag or (not other))'],
    ['!(a > 1)', '(not (a > 1))'],
    ['NOT (a > 1)', '(not (a > 1))'],
    ['1 < age < 10', '(1 < age < 10)'],
    ['1 <= age < 10', '(1 <= age < 10)'],
    ['10 >= x > 1', '(10 >= x > 1)'],
    ['10 > x >= 1', '(10 > x >= 1)'],
    ['id in [1, 2, 3]', '(id in [1, 2, 3])'],
    ['id IN [1, 2, 3,]', '(id in [1, 2, 3])'],
    ['id not in []', '(id not in [])'],
    ['id NOT IN [-1, "a", 2.5, true]', '(id not in [-1, "a", 2.5, true])'],
    ['name like "pre%"', '(name like "pre%")'],
    ['name LIKE \'%suf\'', '(name like "%suf")'],
    ['meta["a"]["b"] == 1', '(meta["a"]["b"] == 1)'],
    ["meta['a'][0] == 1", '(meta["a"][0] == 1)'],
    ['arr[0] > 2', '(arr[0] > 2)'],
    ['$meta["color"] == "red"', '($meta["color"] == "red")'],
    ['x is null', '(x is null)'],
    ['x IS NOT NULL', '(x is not null)'],
    ['meta["k"] is not null', '(meta["k"] is not null)'],
    ['exists meta["k"]', '(exists meta["k"])'],
    ['EXISTS meta["k"] and a', '((exists meta["k"]) and a)'],
    ['array_contains(tags, "a")', 'array_contains(tags, "a")'],
    ['ARRAY_CONTAINS_ALL(tags, ["a", "b"])', 'array_contains_all(tags, ["a", "b"])'],
    ['array_contains_any(tags, [1, 2])', 'array_contains_any(tags, [1, 2])'],
    ['array_length(tags) == 2', '(array_length(tags) == 2)'],
    ['array_length(meta["list"]) > 0', '(array_length(meta["list"]) > 0)'],
    ['json_contains(meta["x"], 1)', 'json_contains(meta["x"], 1)'],
    ['json_contains_all(meta, [1, 2])', 'json_contains_all(meta, [1, 2])'],
    ['JSON_CONTAINS_ANY(meta["x"], [[1], 2])', 'json_contains_any(meta["x"], [[1], 2])'],
    ['id == {id}', '(id == {id})'],
    ['id in {ids} and name like {pat}', '((id in {ids}) and (name like {pat}))'],
    ['{lo} < age < {hi}', '({lo} < age < {hi})'],
    ['a + 1 > 2', '((a + 1) > 2)'],
    ['a % 2 == 1', '((a % 2) == 1)'],
    ['-a < 0', '((-a) < 0)'],
    ['+a < 0', '((+a) < 0)'],
    ['true', 'true'],
    ['False or TRUE', '(false or true)'],
    ['a>=1and b<2||c!=3', '(((a >= 1) and (b < 2)) or (c != 3))'],
  ];
  for (const [input, expected] of cases) assert.equal(fmt(input), expected, input);
});

test('an empty filter is a documented match-all node', () => {
  assert.deepEqual(parseFilter(''), { kind: 'matchAll', span: { start: 0, end: 0 } });
  assert.deepEqual(parseFilter(' \n\t '), { kind: 'matchAll', span: { start: 0, end: 4 } });
});

test('precedence follows Milvus Plan.g4', () => {
  const cases: [string, string][] = [
    // or is looser than and, on both sides.
    ['a or b and c', '(a or (b and c))'],
    ['a and b or c', '((a and b) or c)'],
    ['a or b or c and d', '(a or b or (c and d))'],
    // not is unary: it takes only the operand right after it.
    ['not a and b', '((not a) and b)'],
    ['not a or not b', '((not a) or (not b))'],
    ['not not a', '(not (not a))'],
    ['not a == 1', '((not a) == 1)'],
    ['not a like "x%"', '(not (a like "x%"))'],
    // arithmetic: ** > unary > * / % > + -, all left-associative.
    ['1 + 2 * 3 == x', '((1 + (2 * 3)) == x)'],
    ['(1 + 2) * 3 == x', '(((1 + 2) * 3) == x)'],
    ['a - b - c > 0', '(((a - b) - c) > 0)'],
    ['a / b * c > 0', '(((a / b) * c) > 0)'],
    ['2 ** 3 ** 2 == x', '(((2 ** 3) ** 2) == x)'],
    ['-2 ** 2 == x', '((-(2 ** 2)) == x)'],
    ['2 ** -1 == x', '((2 ** -1) == x)'],
    ['-a * b > 0', '(((-a) * b) > 0)'],
    // comparisons: relational binds tighter than equality, in tighter than both.
    ['a < b == c > d', '((a < b) == (c > d))'],
    ['a in [1] == b in [2]', '((a in [1]) == (b in [2]))'],
    ['a + 1 in [2]', '((a + 1) in [2])'],
    ['x == 1 < y < 3', '(x == (1 < y < 3))'],
    // a range needs a bare field in the middle and two operators of one direction.
    ['1 < (x) < 3', '((1 < x) < 3)'],
    ['1 < x > 0', '((1 < x) > 0)'],
    ['1 < x + 1 < 3', '((1 < (x + 1)) < 3)'],
    ['1 + 1 < x < 2 * 5', '((1 + 1) < x < (2 * 5))'],
    ['0 < a < 5 and 5 > b >= 0', '((0 < a < 5) and (5 > b >= 0))'],
    ['(a or b) and c', '((a or b) and c)'],
    ['a is null or b is not null and c', '((a is null) or ((b is not null) and c))'],
  ];
  for (const [input, expected] of cases) assert.equal(fmt(input), expected, input);
});

test('literals: integers (decimal, octal, hex, binary), floats, booleans', () => {
  const value = (s: string) => {
    const e = parseFilter(`x == ${s}`);
    assert.equal(e.kind, 'compare');
    return (e as Extract<FilterExpr, { kind: 'compare' }>).right;
  };
  assert.deepEqual(value('42'), { kind: 'int', value: 42n, span: { start: 5, end: 7 } });
  assert.deepEqual(value('0'), { kind: 'int', value: 0n, span: { start: 5, end: 6 } });
  assert.equal((value('010') as { value: bigint }).value, 8n, 'leading 0 is octal, as Go ParseInt(s, 0, 64)');
  assert.equal((value('0x1F') as { value: bigint }).value, 31n);
  assert.equal((value('0B101') as { value: bigint }).value, 5n);
  assert.equal((value('9007199254740993') as { value: bigint }).value, 9007199254740993n);
  assert.equal((value('9223372036854775807') as { value: bigint }).value, 9223372036854775807n);
  assert.equal((value('-9223372036854775808') as { value: bigint }).value, -9223372036854775808n);
  assert.deepEqual(value('-7'), { kind: 'int', value: -7n, span: { start: 5, end: 7 } });
  for (const [text, v] of [['1.5', 1.5], ['.5', 0.5], ['1.', 1], ['1e3', 1000], ['2.5E-1', 0.25], ['-1.5', -1.5]] as const) {
    assert.deepEqual({ ...value(text), span: null }, { kind: 'float', value: v, span: null }, text);
  }
  for (const t of ['true', 'True', 'TRUE']) assert.deepEqual(value(t).kind, 'bool');
  assert.equal(fmt('x == -(5)'), '(x == (-(5)))');
});

test('string literals: both quotes, C/Go escapes, raw strings', () => {
  const str = (src: string): string => {
    const e = parseFilter(`s == ${src}`) as Extract<FilterExpr, { kind: 'compare' }>;
    assert.equal(e.right.kind, 'string', src);
    return (e.right as { value: string }).value;
  };
  assert.equal(str('"abc"'), 'abc');
  assert.equal(str("'abc'"), 'abc');
  assert.equal(str('""'), '');
  assert.equal(str(String.raw`"it's \"q\""`), 'it\'s "q"');
  assert.equal(str(String.raw`'it\'s "q"'`), 'it\'s "q"');
  assert.equal(str(String.raw`"a\nb\tc\\d\re\?"`), 'a\nb\tc\\d\re?');
  assert.equal(str(String.raw`"\a\b\f\v"`), '\x07\b\f\v');
  assert.equal(str(String.raw`"\x41\101\u00e9\U0001F600"`), 'AAé😀');
  assert.equal(str('"line\\\ncontinued"'), 'linecontinued');
  assert.equal(str(String.raw`"50\%"`), '50\\%', 'unknown escapes keep their backslash (for like)');
  assert.equal(str(String.raw`r"C:\dir\n"`), String.raw`C:\dir\n`);
  assert.equal(str(String.raw`R'a\'b'`), String.raw`a\'b`);
  assert.equal(str('"日本語"'), '日本語');
});

test('keywords are all-lower or all-upper only, like Milvus', () => {
  assert.equal(fmt('a AND b OR c'), '((a and b) or c)');
  assertSyntaxError('a And b', 2, "unexpected token 'And'");
  assert.equal(fmt('And == 1'), '(And == 1)', 'a mixed-case keyword is an identifier');
  assert.equal(fmt('Array_Length == 1'), '(Array_Length == 1)');
  assertSyntaxError('Array_Length(a) == 1', 0, "unknown function 'Array_Length'");
});

test('syntax errors report the exact position', () => {
  const cases: [string, number, string][] = [
    // unbalanced parentheses
    ['(a > 1', 6, "unexpected end of expression, expected ')'"],
    ['a > 1)', 5, "unexpected token ')'"],
    ['((a > 1) and (b < 2)', 20, "expected ')'"],
    ['a > 1 and (b or c))', 18, "unexpected token ')'"],
    ['()', 1, "unexpected token ')'"],
    // trailing or dangling operators
    ['a > 1 and', 9, 'unexpected end of expression'],
    ['a > 1 and ', 10, 'unexpected end of expression'],
    ['a >', 3, 'unexpected end of expression'],
    ['a > > 1', 4, "unexpected token '>'"],
    ['and a', 0, "unexpected token 'and'"],
    ['a == 1 b == 2', 7, "unexpected token 'b'"],
    // unterminated strings point at the opening quote
    ['name == "abc', 8, 'unterminated string'],
    ["name == 'abc\" and x", 8, 'unterminated string'],
    ['a == 1 and b == "x\ny"', 16, 'unterminated string'],
    ['s == "bad \\x4"', 10, 'invalid escape sequence'],
    // bad tokens
    ['a # b', 2, "unexpected character '#'"],
    ['a > 1 @', 6, "unexpected character '@'"],
    ['a >\u00a01', 3, 'unexpected character U+00A0'],
    ['é > 1', 0, "unexpected character 'é'"],
    ['a = 1', 2, "use '==' for equality"],
    ['a & b', 2, "operator '&' is not supported"],
    ['a << 1 > 2', 2, "operator '<<' is not supported"],
    ['a =~ "x"', 2, "regex operator '=~' is not supported"],
    ['~a > 1', 0, "operator '~' is not supported"],
    ['$[x] > 1', 0, "'$' is only supported as '$meta'"],
    ['x == 12abc', 7, "unexpected token 'abc'"],
    ['x == 1.2.3', 8, "unexpected token '.3'"],
    ['x == 09', 5, 'invalid octal literal'],
    ['x == 0x', 5, 'malformed number'],
    ['x == 9223372036854775808', 5, 'out of the int64 range'],
    ['x == 99999999999999999999', 5, 'out of the int64 range'],
    ['x == 1e999', 5, 'out of range'],
    ['x == null', 5, "'null' is not a value"],
    // in without a list
    ['id in 5', 6, "expected a list '[...]' or a {template} after 'in'"],
    ['id in', 5, "expected a list '[...]'"],
    ['id in (1, 2)', 6, "expected a list '[...]'"],
    ['id not 5', 7, "expected 'in' after 'not'"],
    ['id in [1 2]', 9, "expected ',' or ']'"],
    ['id in [1,,2]', 9, "unexpected token ','"],
    // functions
    ['foo(a)', 0, "unknown function 'foo'"],
    ['a > 1 and bar(a, 1)', 10, "unknown function 'bar'"],
    ['text_match(a, "x")', 0, "function 'text_match' is not supported"],
    ['array_contains(a)', 0, 'array_contains() takes 2 arguments, got 1'],
    ['array_length(a, b) > 1', 0, 'array_length() takes 1 argument, got 2'],
    ['array_length(1) > 1', 13, 'array_length() takes a field name'],
    ['array_contains(a, 1', 19, "expected ',' or ')'"],
    // like, is null, templates, paths
    ['name like 5', 10, "expected a string pattern after 'like'"],
    ['a is 5', 5, "expected 'null' or 'not null' after 'is'"],
    ['a is not', 8, "expected 'null' or 'not null'"],
    ['a + 1 is null', 6, "unexpected token 'is'"],
    ['{} > 1', 1, 'expected a template name'],
    ['{and} > 1', 1, 'expected a template name'],
    ['{x > 1', 3, "expected '}'"],
    ['meta[a] == 1', 5, 'JSON keys must be quoted'],
    ['meta[""] == 1', 5, 'JSON key must not be empty'],
    ['meta[1.5] == 1', 5, 'expected a quoted JSON key or an integer index'],
    ['meta["a" == 1', 9, "expected ']'"],
  ];
  for (const [expr, position, message] of cases) assertSyntaxError(expr, position, message);
});

test('error messages carry a caret excerpt under the offending token', () => {
  try {
    parseFilter('age > 1 and )');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isVecwalError(e, 'INVALID_FILTER'));
    assert.equal(e.message, "unexpected token ')' at position 12\n  age > 1 and )\n              ^");
    assert.equal(e.details.position, 12);
    assert.equal(e.details.expr, 'age > 1 and )');
  }
  // Multi-line filters show only the offending line; long lines are windowed.
  try {
    parseFilter('a > 1\nand b ==');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isVecwalError(e));
    assert.equal(e.message, 'unexpected end of expression at position 14\n  and b ==\n          ^');
  }
  const long = `${'a > 1 and '.repeat(20)})`;
  try {
    parseFilter(long);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isVecwalError(e));
    const [, line, caret] = e.message.split('\n') as [string, string, string];
    assert.ok(line.startsWith('  ...'), line);
    assert.equal(caret.indexOf('^'), line.indexOf(')'));
  }
});

test('every node carries its source span', () => {
  const e = parseFilter('not (age > 1) or tags[0] in [1]');
  assert.deepEqual(e, {
    kind: 'logical',
    op: 'or',
    opPos: 14,
    span: { start: 0, end: 31 },
    left: {
      kind: 'unary',
      op: 'not',
      span: { start: 0, end: 12 },
      operand: {
        kind: 'compare',
        op: '>',
        opPos: 9,
        span: { start: 5, end: 12 },
        left: { kind: 'field', name: 'age', path: [], span: { start: 5, end: 8 } },
        right: { kind: 'int', value: 1n, span: { start: 11, end: 12 } },
      },
    },
    right: {
      kind: 'in',
      negated: false,
      opPos: 25,
      span: { start: 17, end: 31 },
      operand: { kind: 'field', name: 'tags', path: [0], span: { start: 17, end: 24 } },
      list: { kind: 'list', items: [{ kind: 'int', value: 1n, span: { start: 29, end: 30 } }], span: { start: 28, end: 31 } },
    },
  });
});

test('formatFilter output parses back to the same shape', () => {
  const inputs = [
    'a or b and not c',
    '1 < x <= 2 or 5 >= y > 0',
    'name like "a\\"b%" and meta["k\\n"][0] in [1, -2, 3.5, "s", [1, 2]]',
    'x == 1.0 and y == -(3) and z == 1e21',
    'array_contains_any(tags, {t}) or exists $meta["q"] or a is not null',
    '-a ** 2 > 1 - 2 - 3',
  ];
  for (const s of inputs) {
    const once = fmt(s);
    assert.equal(fmt(once), once, s);
  }
});

test('hostile inputs fail cleanly instead of overflowing the stack', () => {
  assertSyntaxError(`${'('.repeat(1000)}a${')'.repeat(1000)}`, 256, 'nested too deeply');
  assertSyntaxError(`${'not '.repeat(1000)}a`, 1024, 'nested too deeply');
  assert.throws(() => parseFilter(`${'a + '.repeat(2000)}a > 1`), /nested too deeply/);
  // A long same-operator chain is flat, not deep: generated `id == 1 or id == 2 or ...`.
  const chain = Array.from({ length: 5000 }, (_, i) => `id == ${i}`).join(' or ');
  assert.equal(parseFilter(chain).kind, 'logical');
});
