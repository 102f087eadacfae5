import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Metric, type RowFilter, TopK, createResidentBlock, mergeTopK, searchBlock } from '../../src/search/index.js';
import { assertTopK, bitsetOf, reference, testSeed } from './helpers.js';

const seed = testSeed();
const runs = (n: number): fc.Parameters<unknown> => ({ seed, numRuns: n });

const metric = fc.constantFrom<Metric>('L2', 'IP', 'COSINE');
/**
 * Small integers as floats make exact ties common; fractions make them rare. Both matter.
 * Magnitudes below 1e-6 become 0: a vector whose squared norm underflows float32 (|x| < ~1e-19)
 * is a zero vector to the f32 cosine kernel (documented in search.ts).
 */
const value = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }).map((v) => (Math.abs(v) < 1e-6 ? 0 : v)),
);

const problem = fc
  .record({ dim: fc.integer({ min: 1, max: 20 }), count: fc.integer({ min: 0, max: 60 }), nq: fc.integer({ min: 1, max: 6 }) })
  .chain(({ dim, count, nq }) =>
    fc.record({
      dim: fc.constant(dim),
      count: fc.constant(count),
      nq: fc.constant(nq),
      data: fc.array(value, { minLength: count * dim, maxLength: count * dim }),
      queries: fc.array(value, { minLength: nq * dim, maxLength: nq * dim }),
      k: fc.integer({ min: 1, max: 12 }),
      metric,
      keep: fc.option(fc.array(fc.boolean(), { minLength: count, maxLength: count })),
      bitset: fc.boolean(),
      kernel: fc.constantFrom('js', 'wasm', 'resident'),
    }),
  );

test('property: kernel top-k equals the naive top-k up to float tolerance', () => {
  fc.assert(
    fc.property(problem, (p) => {
      const data = Float32Array.from(p.data);
      const queries = Float32Array.from(p.queries);
      const block = { data, dim: p.dim, count: p.count };
      let allow: RowFilter | undefined;
      if (p.keep !== null) {
        const keep = p.keep;
        allow = p.bitset ? bitsetOf(p.count, (i) => keep[i]!) : (i) => keep[i]!;
      }
      const searched = p.kernel === 'resident' && p.count > 0 ? createResidentBlock(block) : block;
      const kernel = p.kernel === 'js' ? 'js' : 'wasm';
      const got = searchBlock(searched, queries, p.nq, p.k, p.metric, allow, { kernel });
      for (let q = 0; q < p.nq; q++) {
        assertTopK(p.metric, got[q]!, reference(p.metric, data, p.dim, p.count, queries, q, allow), p.k, `q${q}`);
      }
    }),
    runs(300),
  );
});

const hit = fc.record({ index: fc.nat({ max: 50 }), score: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -10, max: 10, noNaN: true })) });

test('property: TopK keeps the k best (ties by index) whatever the push order', () => {
  fc.assert(
    fc.property(fc.array(hit, { maxLength: 80 }), fc.nat({ max: 12 }), metric, (hits, k, m) => {
      const heap = new TopK(k, m);
      for (const h of hits) heap.push(h.index, h.score);
      const sign = m === 'L2' ? 1 : -1;
      const expected = [...hits].sort((a, b) => sign * (a.score - b.score) || a.index - b.index).slice(0, k);
      // results() makes plain objects; fast-check's records have a null prototype.
      const plain = expected.map(({ index, score }) => ({ index, score }));
      assert.deepEqual(heap.results(), plain);
    }),
    runs(300),
  );
});

test('property: mergeTopK equals sorting the concatenation (ties: index, then list order)', () => {
  fc.assert(
    fc.property(fc.array(fc.array(hit, { maxLength: 15 }), { maxLength: 6 }), fc.nat({ max: 20 }), metric, (lists, k, m) => {
      const tagged = lists.map((l, li) => l.map((h) => ({ ...h, list: li })));
      const sign = m === 'L2' ? 1 : -1;
      const expected = tagged.flat().sort((a, b) => sign * (a.score - b.score) || a.index - b.index || a.list - b.list);
      assert.deepEqual(mergeTopK(tagged, k, m), expected.slice(0, k));
    }),
    runs(300),
  );
});
