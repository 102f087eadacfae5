/**
 * extractPrimaryKeyLookup: exact key sets for `pk == v`, `pk in [..]` and ors of them, and
 * null (scan) for anything that could match other rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractPrimaryKeyLookup, parseFilter } from '../../src/filter/index.js';

const keys = (expr: string, params?: Record<string, unknown>, pk = 'id') => extractPrimaryKeyLookup(parseFilter(expr), pk, params);

test('point lookups are recognised', () => {
  assert.deepEqual(keys('id == 5'), [5]);
  assert.deepEqual(keys('5 == id'), [5]);
  assert.deepEqual(keys('id in [1, 2, 3]'), [1, 2, 3]);
  assert.deepEqual(keys('id in []'), []);
  assert.deepEqual(keys('id == 1 or id in [2, 3] or (id == 1 or id == 4)'), [1, 2, 3, 4]);
  assert.deepEqual(keys('id in [9007199254740993, 9007199254740993, -1]'), [9007199254740993n, -1]);
  assert.deepEqual(keys('pk == "a" or pk in ["b", "a"]', undefined, 'pk'), ['a', 'b']);
  assert.deepEqual(keys('id in {ids}', { ids: [7, 8n] }), [7, 8]);
  assert.deepEqual(keys('id == {x}', { x: 9007199254740993n }), [9007199254740993n]);
});

test('anything else needs a scan', () => {
  for (const expr of [
    '',
    'id > 5',
    'id != 5',
    'id not in [1]',
    'not (id == 1)',
    'id == 1 and age > 2',
    'id == 1 or age > 2',
    'id == 1.5',
    'id == other',
    'id["x"] == 1',
    'id == 1 + 1',
    'other == 1',
  ]) {
    assert.equal(keys(expr), null, expr);
  }
  assert.equal(keys('id in {ids}'), null, 'unbound template');
  assert.equal(keys('id in {ids}', { ids: null }), null, 'bad template value');
});
