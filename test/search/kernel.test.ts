import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FlatIndex,
  type Metric,
  type RowFilter,
  type SearchOptions,
  type VectorBlock,
  computeNorms,
  createResidentBlock,
  createResidentBlockFromParts,
  isResidentBlock,
  searchBlock,
  simdAvailable,
} from '../../src/search/index.js';
import { Rng, assertTopK, bitsetOf, randomVectors, reference, testSeed } from './helpers.js';

const seed = testSeed();
const METRICS: Metric[] = ['L2', 'IP', 'COSINE'];

/** Every way a block can be searched: both kernels, streamed with and without norms, resident. */
interface Variant {
  name: string;
  block: (b: VectorBlock) => VectorBlock;
  options: SearchOptions;
}

const VARIANTS: Variant[] = [
  { name: 'js', block: (b) => b, options: { kernel: 'js' } },
  { name: 'js+norms', block: (b) => ({ ...b, norms: computeNorms(b.data, b.dim, b.count) }), options: { kernel: 'js' } },
  { name: 'wasm-stream', block: (b) => b, options: { kernel: 'wasm' } },
  { name: 'wasm-stream+norms', block: (b) => ({ ...b, norms: computeNorms(b.data, b.dim, b.count) }), options: { kernel: 'wasm' } },
  { name: 'wasm-resident', block: (b) => createResidentBlock(b), options: { kernel: 'wasm' } },
  // The rows in three arrays (as a flushed segment holds them, one per batch), copied in.
  { name: 'wasm-resident-parts', block: (b) => createResidentBlockFromParts(thirds(b), b.dim, b.count), options: { kernel: 'wasm' } },
];

/** A block's rows split into three arrays (some may be empty). */
function thirds(b: VectorBlock): Float32Array[] {
  const cuts = [0, Math.floor(b.count / 3), Math.floor((2 * b.count) / 3), b.count];
  return [0, 1, 2].map((i) => b.data.slice(cuts[i]! * b.dim, cuts[i + 1]! * b.dim));
}

function check(block: VectorBlock, queries: Float32Array, nq: number, k: number, metric: Metric, allow: RowFilter | undefined, what: string): void {
  for (const v of VARIANTS) {
    const searched = v.block(block);
    const got = searchBlock(searched, queries, nq, k, metric, allow, v.options);
    assert.equal(got.length, nq, `${what} ${v.name}: one list per query`);
    for (let q = 0; q < nq; q++) {
      const ref = reference(metric, block.data, block.dim, block.count, queries, q, allow);
      assertTopK(metric, got[q]!, ref, k, `${what} ${v.name} q${q}`);
    }
  }
}

test('SIMD is available on Node 20 (the fast path is what the tests exercise)', () => {
  assert.equal(simdAvailable(), true);
});

test('exact top-k vs double-precision reference: metrics x dims x counts x k', () => {
  const rng = new Rng(seed);
  for (const dim of [1, 3, 7, 128, 129, 768]) {
    // Counts: empty, fewer than k, and enough to span several kernel chunks at small dims.
    for (const count of [0, 1, 5, dim >= 128 ? 700 : 1500]) {
      const block = { data: randomVectors(rng, count * dim), dim, count };
      const nq = 6; // not a multiple of the 4-query kernel block
      const queries = randomVectors(rng, nq * dim);
      for (const metric of METRICS) {
        for (const k of [1, 10, count + 3]) check(block, queries, nq, k, metric, undefined, `dim=${dim} count=${count} k=${k} ${metric}`);
      }
    }
  }
});

test('filters: bitset and predicate, including none allowed and all allowed', () => {
  const rng = new Rng(seed ^ 0x51);
  for (const dim of [3, 128]) {
    const count = 1100;
    const block = { data: randomVectors(rng, count * dim), dim, count };
    const queries = randomVectors(rng, 5 * dim);
    const keep = (i: number): boolean => i % 3 !== 1 && i !== 7;
    const filters: Array<[string, RowFilter]> = [
      ['bitset', bitsetOf(count, keep)],
      ['predicate', keep],
      ['sparse predicate', (i) => i % 97 === 5],
      ['none allowed', bitsetOf(count, () => false)],
      ['all allowed', () => true],
    ];
    for (const metric of METRICS) {
      for (const [name, allow] of filters) check(block, queries, 5, 10, metric, allow, `dim=${dim} ${metric} ${name}`);
    }
  }
});

test('ties are broken by lower row index, with and without filters', () => {
  for (const dim of [4, 5, 128]) {
    const count = 1200;
    const data = new Float32Array(count * dim);
    // Rows come in groups of 3 identical vectors, so every score occurs at least 3 times.
    for (let r = 0; r < count; r++) for (let j = 0; j < dim; j++) data[r * dim + j] = (Math.floor(r / 3) % 17) * 0.25 + j * 0.001;
    const block = { data, dim, count };
    const query = data.slice(0, dim);
    for (const metric of METRICS) {
      for (const v of VARIANTS) {
        const [hits] = searchBlock(v.block(block), query, 1, 7, metric, undefined, v.options);
        for (let i = 1; i < hits!.length; i++) {
          const [a, b] = [hits![i - 1]!, hits![i]!];
          if (a.score === b.score) assert.ok(a.index < b.index, `${metric} ${v.name} dim=${dim}: tie order at ${i}`);
        }
        if (metric === 'L2') assert.deepEqual(hits!.slice(0, 3).map((h) => h.index), [0, 1, 2], `${v.name}: exact duplicates of the query`);
        const [filtered] = searchBlock(v.block(block), query, 1, 2, metric, (i) => i !== 0, v.options);
        if (metric === 'L2') assert.deepEqual(filtered!.map((h) => h.index), [1, 2], `${v.name}: filtered ties`);
      }
    }
  }
});

test('all-identical rows return the lowest indices', () => {
  const dim = 16;
  const count = 2000;
  const data = new Float32Array(count * dim).fill(0.5);
  for (const metric of METRICS) {
    for (const v of VARIANTS) {
      const [hits] = searchBlock(v.block({ data, dim, count }), new Float32Array(dim).fill(1), 1, 5, metric, undefined, v.options);
      assert.deepEqual(hits!.map((h) => h.index), [0, 1, 2, 3, 4], `${metric} ${v.name}`);
    }
  }
});

test('cosine with zero vectors scores 0 instead of NaN', () => {
  const dim = 8;
  const data = new Float32Array(3 * dim);
  data.fill(1, dim, 2 * dim); // row 1 is all ones; rows 0 and 2 are zero
  for (const v of VARIANTS) {
    const [hits] = searchBlock(v.block({ data, dim, count: 3 }), new Float32Array(dim).fill(-1), 1, 3, 'COSINE', undefined, v.options);
    assert.deepEqual(hits!.map((h) => h.index), [0, 2, 1], v.name);
    assert.deepEqual(hits!.map((h) => Math.round(h.score * 1e5) / 1e5 + 0), [0, 0, -1], v.name);
    const [zeroQ] = searchBlock(v.block({ data, dim, count: 3 }), new Float32Array(dim), 1, 3, 'COSINE', undefined, v.options);
    assert.deepEqual(zeroQ!.map((h) => h.score === 0), [true, true, true], `${v.name}: zero query`);
  }
});

test('many queries: more than a resident block query region holds (768-d)', () => {
  const rng = new Rng(seed ^ 0x768);
  const dim = 768;
  const count = 150;
  const block = { data: randomVectors(rng, count * dim), dim, count };
  const nq = 91; // the resident query region holds 85 queries of 768-d
  const queries = randomVectors(rng, nq * dim);
  for (const metric of METRICS) check(block, queries, nq, 3, metric, undefined, `768-d nq=${nq} ${metric}`);
});

test('rows and queries at unaligned offsets; data longer than count*dim', () => {
  const rng = new Rng(seed ^ 0xa11);
  const dim = 7;
  const backing = randomVectors(rng, 1 + 300 * dim + 5);
  const data = backing.subarray(1); // starts 4 bytes into the buffer, extra floats at the end
  const block = { data, dim, count: 300 };
  const queries = randomVectors(rng, 3 * dim + 1).subarray(1);
  for (const metric of METRICS) check(block, queries, 3, 4, metric, undefined, `unaligned ${metric}`);
});

test('nq = 0 and k = 0 give empty results', () => {
  const block = { data: new Float32Array(8), dim: 2, count: 4 };
  assert.deepEqual(searchBlock(block, new Float32Array(0), 0, 5, 'L2'), []);
  assert.deepEqual(searchBlock(block, new Float32Array(2), 1, 0, 'L2'), [[]]);
});

test('a predicate that searches again (re-entrant) still gets correct results', () => {
  const rng = new Rng(seed ^ 0xee);
  const dim = 32;
  const count = 600;
  const block = { data: randomVectors(rng, count * dim), dim, count };
  const query = randomVectors(rng, dim);
  const inner = searchBlock(block, query, 1, 50, 'IP')[0]!.map((h) => h.index).join();
  let innerOk = true;
  const allow = (i: number): boolean => {
    innerOk &&= searchBlock(block, query, 1, 50, 'IP')[0]!.map((h) => h.index).join() === inner;
    return i % 2 === 0;
  };
  const ref = reference('L2', block.data, dim, count, query, 0, (i) => i % 2 === 0);
  for (const b of [block, createResidentBlock(block)]) {
    assertTopK('L2', searchBlock(b, query, 1, 5, 'L2', allow)[0]!, ref, 5, 're-entrant');
    assert.ok(innerOk, 'the inner searches were correct too');
  }
});

test('invalid arguments throw INVALID_ARGUMENT', () => {
  const block = { data: new Float32Array(8), dim: 2, count: 4 };
  const q = new Float32Array(2);
  const bad: Array<[string, () => unknown]> = [
    ['unknown metric', () => searchBlock(block, q, 1, 1, 'HAMMING' as Metric)],
    ['negative k', () => searchBlock(block, q, 1, -1, 'L2')],
    ['fractional nq', () => searchBlock(block, q, 0.5, 1, 'L2')],
    ['queries too short', () => searchBlock(block, q, 2, 1, 'L2')],
    ['data too short', () => searchBlock({ ...block, count: 5 }, q, 1, 1, 'L2')],
    ['dim 0', () => searchBlock({ ...block, dim: 0 }, q, 1, 1, 'L2')],
    ['bitset too short', () => searchBlock({ data: new Float32Array(18), dim: 2, count: 9 }, q, 1, 1, 'L2', new Uint8Array(1))],
    ['norms too short', () => searchBlock({ ...block, norms: new Float32Array(3) }, q, 1, 1, 'COSINE')],
  ];
  for (const [name, fn] of bad) assert.throws(fn, (e: unknown) => (e as { code?: string }).code === 'INVALID_ARGUMENT', name);
});

test('FlatIndex: resident by default, same results as searchBlock, js option', () => {
  const rng = new Rng(seed ^ 0xf1a7);
  const dim = 24;
  const count = 777;
  const block = { data: randomVectors(rng, count * dim), dim, count };
  const queries = randomVectors(rng, 9 * dim);
  for (const metric of METRICS) {
    const flat = new FlatIndex(block, metric);
    assert.equal(flat.kind, 'FLAT');
    assert.equal(flat.count, count);
    assert.equal(flat.dim, dim);
    assert.ok(isResidentBlock(flat.block));
    assert.ok(!isResidentBlock(block));
    // Resident blocks carry norms, so compare with streaming the block with the same norms.
    const withNorms = { ...block, norms: computeNorms(block.data, dim, count) };
    assert.deepEqual(flat.search(queries, 9, 6), searchBlock(withNorms, queries, 9, 6, metric, undefined, { kernel: 'wasm' }));
    const streamed = new FlatIndex(block, metric, { resident: false });
    assert.ok(!isResidentBlock(streamed.block));
    assert.equal(streamed.block.norms !== undefined, metric === 'COSINE', 'cosine norms computed once');
    for (let q = 0; q < 9; q++) assertTopK(metric, streamed.search(queries, 9, 6)[q]!, reference(metric, block.data, dim, count, queries, q), 6, `streamed q${q}`);
    const js = new FlatIndex(block, metric, { kernel: 'js' });
    assert.ok(!isResidentBlock(js.block));
    for (let q = 0; q < 9; q++) assertTopK(metric, js.search(queries, 9, 6)[q]!, reference(metric, block.data, dim, count, queries, q), 6, `js q${q}`);
  }
});
