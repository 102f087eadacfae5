/**
 * The recovery decision table (src/wal/recovery.ts, docs/design/recovery.md): every finding
 * that can occur has exactly one action in every mode, and the safety rules hold: the default
 * mode never silently drops data that was proven durable, and only a torn tail or a blank file
 * is repaired without the user choosing a salvage mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECISIONS, RECOVERY_MODES, decide, type FindingKind, type Position } from '../../src/wal/recovery.js';

const FINDINGS = Object.keys(DECISIONS) as FindingKind[];
const POSITIONS: Position[] = ['last', 'sealed'];

test('every possible (finding, position, mode) has exactly one action', () => {
  let cells = 0;
  for (const f of FINDINGS) {
    for (const p of POSITIONS) {
      const row = DECISIONS[f][p];
      if (!row) {
        assert.throws(() => decide(f, p, 'tolerate-corrupted-tail'));
        continue;
      }
      for (const m of RECOVERY_MODES) {
        assert.equal(typeof decide(f, p, m), 'string');
        cells++;
      }
    }
  }
  assert.equal(cells, 40);
});

test('default mode repairs only torn tails and blank files; fails on everything else', () => {
  for (const f of FINDINGS) {
    for (const p of POSITIONS) {
      if (!DECISIONS[f][p]) continue;
      const a = decide(f, p, 'tolerate-corrupted-tail');
      if (f === 'clean') assert.equal(a, 'accept');
      else if (f === 'torn') assert.equal(a, 'truncate');
      else if (f === 'blank') assert.equal(a, 'remove');
      else assert.equal(a, 'fail', `${f}/${p}`);
    }
  }
});

test('absolute-consistency accepts only clean logs (and blank unfinished segment files)', () => {
  for (const f of FINDINGS) for (const p of POSITIONS) {
    if (!DECISIONS[f][p]) continue;
    const a = decide(f, p, 'absolute-consistency');
    assert.ok(f === 'clean' ? a === 'accept' : f === 'blank' ? a === 'remove' : a === 'fail', `${f}/${p}: ${a}`);
  }
});
