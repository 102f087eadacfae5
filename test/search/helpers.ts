/**
 * Test helpers for the search kernel: seeded data, a naive double-precision reference and a
 * tolerance-aware comparison of a kernel's top-k with the reference.
 */
import assert from 'node:assert/strict';
import { Rng, seedFromEnv } from '../../src/util/rng.js';
import type { Metric, RowFilter, SearchHit } from '../../src/search/index.js';

/** The run's seed (VECWAL_SEED to replay), printed once so a failure can be reproduced. */
export function testSeed(): number {
  const seed = seedFromEnv('VECWAL_SEED');
  console.log(`search tests: VECWAL_SEED=${seed} (set it to replay)`);
  return seed;
}

export function randomVectors(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.next() * 2 - 1) * scale;
  return a;
}

/** Exact score of every row in double precision, plus a bound on float32 rounding error. */
export interface RefRow {
  index: number;
  score: number;
  tol: number;
}

function refScore(metric: Metric, data: Float32Array, o: number, q: Float32Array, qo: number, dim: number): RefRow {
  let s = 0, mag = 0, xx = 0, qq = 0; // prettier-ignore
  for (let j = 0; j < dim; j++) {
    const x = data[o + j]!;
    const y = q[qo + j]!;
    const t = metric === 'L2' ? (x - y) * (x - y) : x * y;
    s += t;
    mag += Math.abs(t);
    xx += x * x;
    qq += y * y;
  }
  if (metric === 'COSINE') {
    const den = Math.sqrt(xx) * Math.sqrt(qq);
    s = den > 0 ? s / den : 0;
    mag = den > 0 ? mag / den + 1 : 0;
  }
  // f32 accumulation: error grows ~linearly with the number of terms times their magnitude.
  return { index: -1, score: s, tol: 2e-7 * (dim + 8) * mag + 1e-9 };
}

export function isAllowed(allow: RowFilter | undefined, i: number): boolean {
  if (allow === undefined) return true;
  return typeof allow === 'function' ? allow(i) : ((allow[i >> 3]! >> (i & 7)) & 1) === 1;
}

/** All allowed rows' reference scores for query q, best first (ties by index). */
export function reference(metric: Metric, data: Float32Array, dim: number, count: number, q: Float32Array, qi: number, allow?: RowFilter): RefRow[] {
  const rows: RefRow[] = [];
  for (let r = 0; r < count; r++) {
    if (!isAllowed(allow, r)) continue;
    rows.push({ ...refScore(metric, data, r * dim, q, qi * dim, dim), index: r });
  }
  const sign = metric === 'L2' ? 1 : -1;
  rows.sort((a, b) => sign * (a.score - b.score) || a.index - b.index);
  return rows;
}

/**
 * Asserts `hits` is a correct top-k of `ref` (all allowed rows, best first) up to float tolerance:
 * right length, distinct allowed indices, scores close to the exact ones, sorted best first with
 * ties by index, and no row left out that is better than a returned one beyond tolerance.
 */
export function assertTopK(metric: Metric, hits: SearchHit[], ref: RefRow[], k: number, what: string): void {
  const better = (a: number, b: number): boolean => (metric === 'L2' ? a < b : a > b);
  assert.equal(hits.length, Math.min(k, ref.length), `${what}: length`);
  const byIndex = new Map(ref.map((r) => [r.index, r]));
  const seen = new Set<number>();
  hits.forEach((h, i) => {
    const r = byIndex.get(h.index);
    assert.ok(r !== undefined, `${what}: hit ${h.index} is not an allowed row`);
    assert.ok(!seen.has(h.index), `${what}: duplicate hit ${h.index}`);
    seen.add(h.index);
    assert.ok(Math.abs(h.score - r.score) <= r.tol, `${what}: row ${h.index} score ${h.score} vs exact ${r.score} (tol ${r.tol})`);
    const prev = hits[i - 1];
    if (prev !== undefined) {
      assert.ok(!better(h.score, prev.score) && (h.score !== prev.score || h.index > prev.index), `${what}: not sorted at ${i}`);
    }
  });
  const worst = hits[hits.length - 1];
  if (worst === undefined) return;
  const worstRef = byIndex.get(worst.index)!;
  for (const r of ref) {
    if (seen.has(r.index)) continue;
    const margin = r.tol + worstRef.tol;
    assert.ok(!better(r.score, worstRef.score + (metric === 'L2' ? -margin : margin)), `${what}: row ${r.index} (${r.score}) missing, beats returned ${worst.index} (${worstRef.score})`);
  }
}

/** A packed allow-bitset from a predicate. */
export function bitsetOf(count: number, keep: (i: number) => boolean): Uint8Array {
  const bits = new Uint8Array(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) if (keep(i)) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

export { Rng };
