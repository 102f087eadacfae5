/**
 * Exact top-k search kernel benchmark: seeded uniform random 128-d vectors, 100k and 1M rows,
 * top-10 for L2, IP and COSINE. One JSON object per line.
 *
 * Every kernel figure is compared with baselines measured in the same run (the machine is shared
 * and noisy, so only same-run ratios mean anything):
 *  - js-sequential-scan: one pass summing every float of the same Float32Array in plain JS
 *    (8 accumulators, the fastest plain loop): the time to merely touch the data from JS.
 *  - simd-sequential-scan: the same pass as a WebAssembly SIMD sum: the real floor for reading
 *    the data on this machine.
 *  - js-brute-force: the straightforward JS loop (distance per row, sorted top-k insert), i.e.
 *    what the peers table calls "plain JS brute force".
 * Single-query latency is measured one query per call, each interleaved with a scan so both see
 * the same machine state; medians are reported.
 *
 * Env: VECWAL_SEED (data seed), BENCH_SIZES (e.g. "100000,1000000"), BENCH_QUERIES (default 200).
 */
import { Rng, seedFromEnv } from '../src/util/rng.js';
import { FlatIndex, type Metric, type SearchHit, searchBlock } from '../src/search/index.js';
import { jsScan, scanSink, simdScanner, timeMs } from './util.js';

const DIM = 128;
const K = 10;
const METRICS: Metric[] = ['L2', 'IP', 'COSINE'];

interface Line {
  bench: string;
  metric: Metric | 'none';
  unit: string;
  value: number;
  baseline: number;
  baselineName: string;
  ratio: number;
  [extra: string]: unknown;
}

function emit(line: Line): void {
  const round = (x: number): number => Number(x.toPrecision(4));
  console.log(JSON.stringify({ ...line, value: round(line.value), baseline: round(line.baseline), ratio: round(line.ratio) }));
}

function randomVectors(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next() * 2 - 1;
  return a;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** The straightforward brute-force loop (L2 only), as someone would write it without tuning. */
function naiveL2(data: Float32Array, count: number, q: Float32Array, qo: number): SearchHit[] {
  const top: SearchHit[] = [];
  for (let r = 0; r < count; r++) {
    let s = 0;
    for (let j = 0; j < DIM; j++) {
      const d = data[r * DIM + j]! - q[qo + j]!;
      s += d * d;
    }
    if (top.length < K || s < top[top.length - 1]!.score) {
      top.push({ index: r, score: s });
      top.sort((x, y) => x.score - y.score);
      if (top.length > K) top.pop();
    }
  }
  return top;
}

type QueryFn = (q: number) => void;

/** Per-query latency (median), each query interleaved with a JS and a SIMD scan. */
function singleQuery(fn: QueryFn, nq: number, scanJs: () => void, scanSimd: () => void): { ms: number; js: number; simd: number } {
  for (let q = 0; q < Math.min(3, nq); q++) fn(q); // warm-up: lets V8 tier the kernels up
  const ms: number[] = [];
  const js: number[] = [];
  const simd: number[] = [];
  for (let q = 0; q < nq; q++) {
    js.push(timeMs(scanJs));
    simd.push(timeMs(scanSimd));
    ms.push(timeMs(() => fn(q)));
  }
  return { ms: median(ms), js: median(js), simd: median(simd) };
}

interface Ctx {
  n: number;
  data: Float32Array;
  queries: Float32Array;
  nq: number;
  scanJs: () => void;
  scanSimd: () => void;
  bruteMs: number;
}

function reportLatency(ctx: Ctx, bench: string, metric: Metric, r: { ms: number; js: number; simd: number }, nq: number): void {
  const common = { bench, metric, unit: 'ms/query', value: r.ms, n: ctx.n, dim: DIM, k: K, queries: nq };
  emit({ ...common, baseline: r.js, baselineName: 'js-sequential-scan', ratio: r.ms / r.js });
  emit({ ...common, baseline: r.simd, baselineName: 'simd-sequential-scan', ratio: r.ms / r.simd });
  emit({ ...common, baseline: ctx.bruteMs, baselineName: 'js-brute-force', ratio: r.ms / ctx.bruteMs });
  // The same figure as queries per second, one query per call.
  emit({ ...common, unit: 'QPS', value: 1000 / r.ms, baseline: 1000 / ctx.bruteMs, baselineName: 'js-brute-force', ratio: ctx.bruteMs / r.ms });
}

/**
 * Throughput of one call with all queries (median of 5, each interleaved with a JS scan);
 * baselines as passes (or brute-force queries) per second.
 */
function reportBatch(ctx: Ctx, bench: string, metric: Metric, run: () => void): void {
  run(); // warm-up
  const js: number[] = [];
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    js.push(timeMs(ctx.scanJs));
    runs.push(timeMs(run));
  }
  const ms = median(runs);
  const qps = (ctx.nq * 1000) / ms;
  const common = { bench, metric, unit: 'QPS', value: qps, n: ctx.n, dim: DIM, k: K, queries: ctx.nq };
  emit({ ...common, baseline: 1000 / median(js), baselineName: 'js-sequential-scan', ratio: (qps * median(js)) / 1000 });
  emit({ ...common, baseline: 1000 / ctx.bruteMs, baselineName: 'js-brute-force', ratio: (qps * ctx.bruteMs) / 1000 });
}

/** How many of the first queries agree exactly (same indices) between two result sets. */
function agreement(a: SearchHit[][], b: SearchHit[][]): number {
  return a.filter((hits, q) => hits.map((h) => h.index).join() === b[q]!.map((h) => h.index).join()).length;
}

function benchMetric(ctx: Ctx, metric: Metric): void {
  const { data, queries, n } = ctx;
  const block = { data, dim: DIM, count: n };
  const flat = new FlatIndex(block, metric);
  const one = (search: (q: Float32Array) => unknown): QueryFn => (q) => search(queries.subarray(q * DIM, (q + 1) * DIM));
  const few = Math.max(5, Math.floor(ctx.nq / (n >= 1e6 ? 10 : 4)));

  reportLatency(ctx, 'flat-resident-wasm', metric, singleQuery(one((q) => flat.search(q, 1, K)), ctx.nq, ctx.scanJs, ctx.scanSimd), ctx.nq);
  reportLatency(ctx, 'stream-wasm', metric, singleQuery(one((q) => searchBlock(block, q, 1, K, metric)), few, ctx.scanJs, ctx.scanSimd), few);
  const js = (q: Float32Array): unknown => searchBlock(block, q, 1, K, metric, undefined, { kernel: 'js' });
  reportLatency(ctx, 'plain-js-kernel', metric, singleQuery(one(js), few, ctx.scanJs, ctx.scanSimd), few);

  reportBatch(ctx, 'flat-resident-wasm-batch', metric, () => flat.search(queries, ctx.nq, K));
  reportBatch(ctx, 'stream-wasm-batch', metric, () => searchBlock(block, queries, ctx.nq, K, metric));

  const check = Math.min(20, ctx.nq);
  const agree = agreement(flat.search(queries, check, K), searchBlock(block, queries, check, K, metric, undefined, { kernel: 'js' }));
  emit({ bench: 'wasm-vs-js-agreement', metric, unit: 'queries', value: agree, baseline: check, baselineName: 'queries-checked', ratio: agree / check, n });
}

function benchSize(rng: Rng, n: number, nq: number): void {
  const data = randomVectors(rng, n * DIM);
  const queries = randomVectors(rng, nq * DIM);
  const scanSimd = simdScanner(data);
  if (!scanSimd) throw new Error(`search-kernel bench: no WebAssembly SIMD, or no wasm memory for ${n} vectors`);
  const scanJs = (): void => jsScan(data);
  const brute = singleQuery((q) => naiveL2(data, n, queries, q * DIM), n >= 1e6 ? 5 : 15, scanJs, scanSimd);
  const bruteMs = brute.ms;
  const ctx: Ctx = { n, data, queries, nq, scanJs, scanSimd, bruteMs };
  emit({ bench: 'js-brute-force', metric: 'L2', unit: 'ms/query', value: bruteMs, baseline: brute.js, baselineName: 'js-sequential-scan', ratio: bruteMs / brute.js, n });
  emit({ bench: 'js-brute-force', metric: 'L2', unit: 'QPS', value: 1000 / bruteMs, baseline: 1000 / brute.js, baselineName: 'js-sequential-scan', ratio: brute.js / bruteMs, n });
  emit({ bench: 'simd-sequential-scan', metric: 'none', unit: 'ms/pass', value: brute.simd, baseline: brute.js, baselineName: 'js-sequential-scan', ratio: brute.simd / brute.js, n });
  for (const metric of METRICS) benchMetric(ctx, metric);
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.length > 0) {
    // Configured by environment only; an argument (even --help) must not start a full run.
    const help = argv.includes('--help') || argv.includes('-h');
    process.stderr.write(`usage: node dist/bench/search-kernel.js (no arguments)\n  env: VECWAL_SEED (data seed, default 42), BENCH_SIZES (default 100000,1000000), BENCH_QUERIES (default 200)\n`);
    if (!help) process.stderr.write(`unexpected arguments: ${argv.join(' ')}\n`);
    process.exit(help ? 0 : 2);
  }
  const seed = seedFromEnv('VECWAL_SEED', 42);
  const sizes = (process.env['BENCH_SIZES'] ?? '100000,1000000').split(',').map(Number);
  const nq = Number(process.env['BENCH_QUERIES'] ?? 200);
  console.error(`search-kernel bench: seed=${seed} sizes=${sizes.join(',')} queries=${nq} dim=${DIM} k=${K}`);
  const rng = new Rng(seed);
  for (const n of sizes) benchSize(rng, n, n >= 1e6 ? Math.min(nq, 50) : nq);
  if (scanSink() === 42) console.error(''); // use the sink
}

main();
