/**
 * Flat (exact) search through the Database: top-10, one query per call, L2 and COSINE, at
 * 100,000 and 1,000,000 vectors of 128 dims.
 *
 *   npm run bench:search                      100k and 1M (about 5-8 minutes)
 *   node dist/bench/search.js --quick         100k only, fewer queries
 *   node dist/bench/search.js --sizes 200000 --queries 300
 *   node dist/bench/search.js --peers         also LanceDB flat search (../shared/bench-peers/ann.mjs lancedb-flat)
 *
 * Loading: a fresh database (engine defaults, syncPolicy 'always'), columnar inserts of 10,000
 * rows {id Int64, vector 128 x f32} (uniform random in [0, 1), as the peers' ann.mjs), then
 * db.flush(). Loading is not timed. Then `db.read.search(name, {data: q, limit: 10})`, one
 * query vector per call, awaited one after the other.
 *
 * Baselines, measured in the same process on the same data, interleaved query by query so both
 * see the same machine state:
 *  - js-sequential-scan: one pass summing every float of the same Float32Array (8 accumulators,
 *    the fastest plain JS loop): the memory-speed floor of touching the data once from JS. The
 *    goal: search latency <= 2x this.
 *  - js-brute-force: the straightforward JS loop (distance per row, sorted top-k insert), what
 *    someone would write by hand; measured on fewer queries (it is slow).
 * Filtered search: the same queries with `filter: "id < N/2"`, compared with unfiltered.
 * First filtered search (search-filter-first): a new filter text per query, so no cached
 * allowed-rows bitset: `id < X` (a column comparison) and `id % 1000 < X` (arithmetic).
 * After-reopen lines: the database closed and reopened, then searched (segments as loaded from
 * their files rather than as left by the flush).
 *
 * Output: JSON lines {bench, metric, unit, value, baseline, baselineName, ratio, better, ...};
 * `distance` names the metric type (L2/COSINE), `n` the collection size. Last line: summary.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Database } from '../src/db/database.js';
import type { CollectionSchema, MetricType } from '../src/db/types.js';
import {
  DIM,
  FastRng,
  Goals,
  emit,
  ensurePeersInstalled,
  jsScan,
  loadavg1,
  logTo,
  makeRoot,
  median,
  now,
  peersDir,
  percentile,
  randomVectors,
  rm,
  round,
  runNodeJson,
  scanSink,
  simdScanner,
  srcFingerprint,
  timeMs,
} from './util.js';

const log = logTo('bench:search');
const K = 10;
const BATCH = 10_000;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    queries: { type: 'string' },
    metrics: { type: 'string' },
    peers: { type: 'boolean', default: false },
    'peer-queries': { type: 'string' },
    'no-reopen': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (args.help) {
  process.stderr.write(
    [
      'usage: node dist/bench/search.js [--quick] [--sizes N,N] [--queries Q] [--metrics L2,COSINE] [--peers] [--peer-queries Q] [--no-reopen]',
      '  --sizes      collection sizes (default 100000,1000000; --quick: 100000)',
      '  --queries    timed single queries per size and metric (default 200 at <= 100k, 100 above; quick 100)',
      '  --peers      LanceDB flat search via ../shared/bench-peers/ann.mjs on the same size (L2)',
      '  --peer-queries  queries for the peer scripts (default 100 at <= 100k, 30 above)',
      '  --no-reopen  skip the after-reopen lines',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const QUICK = args.quick ?? false;
const SIZES = (args.sizes ?? (QUICK ? '100000' : '100000,1000000')).split(',').map((s) => Math.round(Number(s)));
for (const n of SIZES) if (!Number.isSafeInteger(n) || n < 1000) throw new Error(`--sizes: bad size ${n}`);
const METRICS = (args.metrics ?? 'L2,COSINE').split(',').map((s) => s.trim()) as MetricType[];
const queriesFor = (n: number): number => (args.queries ? Number(args.queries) : QUICK ? 100 : n <= 100_000 ? 200 : 100);
const peerQueriesFor = (n: number): number => (args['peer-queries'] ? Number(args['peer-queries']) : n <= 100_000 ? 100 : 30);

// ---------------------------------------------------------------------------------------------
// Baselines (plain JS, written here; the sequential scans are in util.ts)

/** The hand-written brute force: score per row, sorted top-k insert. Returns row indices, best first. */
function naiveSearch(data: Float32Array, n: number, q: Float32Array, metric: MetricType): number[] {
  const best: { i: number; s: number }[] = []; // ascending s (smaller is better)
  let qn = 0;
  for (let j = 0; j < DIM; j++) qn += q[j]! * q[j]!;
  for (let r = 0; r < n; r++) {
    const o = r * DIM;
    let s: number;
    if (metric === 'L2') {
      s = 0;
      for (let j = 0; j < DIM; j++) {
        const t = data[o + j]! - q[j]!;
        s += t * t;
      }
    } else {
      let dot = 0;
      let nn = 0;
      for (let j = 0; j < DIM; j++) {
        dot += data[o + j]! * q[j]!;
        nn += data[o + j]! * data[o + j]!;
      }
      s = -dot / Math.sqrt(nn * qn);
    }
    if (best.length < K || s < best[best.length - 1]!.s) {
      best.push({ i: r, s });
      best.sort((x, y) => x.s - y.s);
      if (best.length > K) best.pop();
    }
  }
  return best.map((b) => b.i);
}

// ---------------------------------------------------------------------------------------------

const goals = new Goals();
let root = '';

interface SizeCtx {
  n: number;
  data: Float32Array;
  queries: Float32Array;
  nq: number;
  simd: (() => void) | null;
}

const qv = (ctx: SizeCtx, j: number): Float32Array => ctx.queries.subarray((j % ctx.nq) * DIM, ((j % ctx.nq) + 1) * DIM);

interface Timed {
  ms: number[];
  scan: number[];
  simd: number[];
  totalMs: number;
  results: bigint[][];
}

/** Runs `count` searches, each preceded by one JS scan of the data (interleaved baseline). */
async function timedSearches(ctx: SizeCtx, count: number, search: (q: Float32Array) => Promise<Record<string, unknown>[][]>): Promise<Timed> {
  const ms: number[] = [];
  const scan: number[] = [];
  const simd: number[] = [];
  const results: bigint[][] = [];
  let totalMs = 0;
  for (let j = 0; j < count; j++) {
    scan.push(timeMs(() => jsScan(ctx.data)));
    if (ctx.simd) simd.push(timeMs(ctx.simd));
    const q = qv(ctx, j);
    const t0 = now();
    const res = await search(q);
    const dt = now() - t0;
    ms.push(dt);
    totalMs += dt;
    results.push(res[0]!.map((r) => r.id as bigint));
  }
  return { ms, scan, simd, totalMs, results };
}

function recallVs(results: bigint[][], truth: number[][]): number {
  let hit = 0;
  for (let j = 0; j < truth.length; j++) {
    const want = new Set(truth[j]!.map((i) => BigInt(i)));
    for (const id of results[j]!.slice(0, K)) if (want.has(id)) hit++;
  }
  return hit / (truth.length * K);
}

async function loadDb(dir: string, ctx: SizeCtx, metric: MetricType): Promise<{ db: Database; loadS: number; flushMs: number }> {
  const schema: CollectionSchema = {
    name: 'vecs',
    fields: [
      { name: 'id', dataType: 'Int64', isPrimaryKey: true },
      { name: 'vector', dataType: 'FloatVector', dim: DIM },
    ],
    enableDynamicField: false,
    metricType: metric,
  };
  const t0 = now();
  const db = await Database.open(dir, { wal: { syncPolicy: 'always' } });
  await db.createCollection(schema);
  for (let s = 0; s < ctx.n; s += BATCH) {
    const m = Math.min(BATCH, ctx.n - s);
    const id = new Array<number>(m);
    for (let k = 0; k < m; k++) id[k] = s + k;
    await db.insert('vecs', { id, vector: ctx.data.subarray(s * DIM, (s + m) * DIM) });
  }
  const f0 = now();
  await db.flush();
  const flushMs = now() - f0;
  return { db, loadS: (now() - t0) / 1000, flushMs };
}

async function benchMetric(ctx: SizeCtx, metric: MetricType, brute: { ms: number[]; scan: number[]; truth: number[][] }): Promise<number> {
  const { n } = ctx;
  const dir = path.join(root, `search-${n}-${metric}`);
  log(`n=${n} ${metric}: loading (insert + flush)`);
  const { db, loadS, flushMs } = await loadDb(dir, ctx, metric);
  const stats = db.collectionStats('vecs');
  const common = { n, dim: DIM, k: K, distance: metric, segments: stats.segments, growingRows: stats.growingRows };
  const search = (filter?: string) => (q: Float32Array) => db.read.search('vecs', filter ? { data: q, limit: K, filter } : { data: q, limit: K });
  let qps = NaN;
  try {
    // First query: builds whatever the reader caches per segment (resident copies, views).
    const f0 = now();
    await search()(qv(ctx, 0));
    const firstMs = now() - f0;
    for (let j = 1; j < 3; j++) await search()(qv(ctx, j)); // warm-up (JIT)
    const nq = ctx.nq;
    log(`n=${n} ${metric}: ${nq} timed queries`);
    const t = await timedSearches(ctx, nq, search());
    const p50 = percentile(t.ms, 0.5);
    const p99 = percentile(t.ms, 0.99);
    const scanP50 = percentile(t.scan, 0.5);
    const scanP99 = percentile(t.scan, 0.99);
    qps = (nq * 1000) / t.totalMs;
    const bruteMs = median(brute.ms);
    const recall = recallVs(t.results.slice(0, brute.truth.length), brute.truth);
    const extra = { ...common, queries: nq, recallVsBruteForce: recall, recallQueries: brute.truth.length, loadS, flushMs, firstQueryMs: firstMs };
    emit({ bench: 'search', metric: 'latency_p50', unit: 'ms', value: p50, baseline: scanP50, baselineName: 'js-sequential-scan (one pass summing all floats of the same Float32Array, p50)', better: 'lower', ...extra });
    if (t.simd.length > 0) {
      const simdP50 = percentile(t.simd, 0.5);
      emit({ bench: 'search', metric: 'latency_p50', unit: 'ms', value: p50, baseline: simdP50, baselineName: 'simd-sequential-scan (the same one-pass sum in WebAssembly SIMD: the read floor, p50)', better: 'lower', ...common, queries: nq });
    }
    emit({ bench: 'search', metric: 'latency_p99', unit: 'ms', value: p99, baseline: scanP99, baselineName: 'js-sequential-scan (p99)', better: 'lower', ...common, queries: nq });
    emit({ bench: 'search', metric: 'latency_p50', unit: 'ms', value: p50, baseline: bruteMs, baselineName: 'js-brute-force (hand-written loop, median)', better: 'lower', ...common, bruteQueries: brute.ms.length });
    emit({ bench: 'search', metric: 'qps', unit: 'queries/s', value: qps, baseline: 1000 / bruteMs, baselineName: 'js-brute-force QPS', better: 'higher', ...common, queries: nq, scanPassesPerS: 1000 / scanP50 });
    goals.add(`search n=${n} ${metric}: p50 latency <= 2x js sequential scan`, p50 / scanP50, '<=', 2, 'x scan');

    // Filtered: id < n/2 (half the rows pass).
    const fq = Math.max(10, Math.round(nq / (n > 100_000 ? 10 : 4)));
    const half = Math.floor(n / 2);
    log(`n=${n} ${metric}: ${fq} filtered queries (id < ${half})`);
    await search(`id < ${half}`)(qv(ctx, 0)); // warm-up
    const tf = await timedSearches(ctx, fq, search(`id < ${half}`));
    const bad = tf.results.flat().filter((id) => id >= BigInt(half)).length;
    const fp50 = percentile(tf.ms, 0.5);
    emit({
      bench: 'search-filter', metric: 'latency_p50', unit: 'ms', value: fp50, baseline: p50, baselineName: 'the same search without a filter (p50)', better: 'lower', ...common, queries: fq,
      filter: `id < ${half}`, selectivity: 0.5, filterCostMsPerQuery: fp50 - p50, filterCostNsPerRow: ((fp50 - p50) * 1e6) / n, p99: percentile(tf.ms, 0.99), resultsViolatingFilter: bad,
    });
    emit({ bench: 'search-filter', metric: 'latency_p50', unit: 'ms', value: fp50, baseline: percentile(tf.scan, 0.5), baselineName: 'js-sequential-scan (p50)', better: 'lower', ...common, queries: fq, filter: `id < ${half}` });

    // First search per filter: every query has a filter text of its own, so the per-segment
    // allowed-rows bitset cache (src/db/reader.ts) never hits and each query evaluates its
    // filter over every row. `id < X` is a plain column comparison; `id % 1000 < X` has
    // arithmetic, which the filter evaluates row by row.
    for (const [shape, make] of [
      ['id < X', (j: number) => `id < ${half - j}`],
      ['id % 1000 < X', (j: number) => `id % 1000 < ${500 - j}`],
    ] as const) {
      let j = 0;
      await search(make(10_000 + j))(qv(ctx, 0)); // warm-up (JIT), not cached for the timed ones
      const tc = await timedSearches(ctx, fq, (q) => search(make(j++))(q));
      const cp50 = percentile(tc.ms, 0.5);
      emit({
        bench: 'search-filter-first', metric: 'latency_p50', unit: 'ms', value: cp50, baseline: p50, baselineName: 'the same search without a filter (p50)', better: 'lower', ...common, queries: fq,
        filter: shape, note: 'a new filter text per query: no cached bitset', filterCostMsPerQuery: cp50 - p50, filterCostNsPerRow: ((cp50 - p50) * 1e6) / n, p99: percentile(tc.ms, 0.99),
        scanP50: percentile(tc.scan, 0.5),
      });
    }

    if (!args['no-reopen']) {
      await db.close();
      const o0 = now();
      const db2 = await Database.open(dir, { wal: { syncPolicy: 'always' } });
      const openMs = now() - o0;
      try {
        const s2 = (q: Float32Array) => db2.read.search('vecs', { data: q, limit: K });
        const r0 = now();
        await s2(qv(ctx, 0));
        const firstMs2 = now() - r0;
        for (let j = 1; j < 3; j++) await s2(qv(ctx, j));
        const rq = Math.max(10, Math.round(nq / 4));
        log(`n=${n} ${metric}: after reopen, ${rq} queries`);
        const t2 = await timedSearches(ctx, rq, s2);
        const st2 = db2.collectionStats('vecs');
        emit({
          bench: 'search-after-reopen', metric: 'latency_p50', unit: 'ms', value: percentile(t2.ms, 0.5), baseline: percentile(t2.scan, 0.5), baselineName: 'js-sequential-scan (p50)', better: 'lower',
          ...common, segments: st2.segments, queries: rq, openMs, firstQueryMs: firstMs2, p99: percentile(t2.ms, 0.99), qps: (rq * 1000) / t2.totalMs, note: 'firstQueryMs loads the sealed segments from disk',
        });
      } finally {
        await db2.close();
      }
    }
  } finally {
    await db.close().catch(() => undefined);
    rm(dir);
  }
  return qps;
}

function peers(n: number, vecwalL2Qps: number): void {
  const inst = ensurePeersInstalled(log);
  if (!inst.ok) {
    log(`peers unavailable: ${inst.error}`);
    emit({ bench: 'search-peer', metric: 'error', unit: '', value: NaN, baseline: NaN, baselineName: '', better: 'higher', error: inst.error });
    return;
  }
  const q = peerQueriesFor(n);
  const script = path.join(peersDir(), 'ann.mjs');
  const env = { BENCH_DIR: root };
  log(`peers n=${n}: ann.mjs bruteforce ${n} ${q} (ground truth)`);
  const bf = runNodeJson(script, ['bruteforce', String(n), String(q)], { env, cwd: peersDir() });
  if (!bf.ok) {
    log(`peer bruteforce failed: ${bf.error}`);
    emit({ bench: 'search-peer', metric: 'qps', unit: 'queries/s', value: NaN, baseline: vecwalL2Qps, baselineName: 'vecwal L2 QPS (this run)', better: 'higher', lib: 'bruteforce', n, error: bf.error });
    return;
  }
  emit({ bench: 'search-peer', metric: 'qps', unit: 'queries/s', value: Number(bf.value.qps), baseline: vecwalL2Qps, baselineName: 'vecwal L2 QPS (this run)', better: 'higher', lib: 'bruteforce (peers ann.mjs, plain JS)', n, queries: q });
  log(`peers n=${n}: ann.mjs lancedb-flat ${n} ${q}`);
  const ld = runNodeJson(script, ['lancedb-flat', String(n), String(q)], { env, cwd: peersDir() });
  if (!ld.ok) {
    log(`peer lancedb-flat failed: ${ld.error}`);
    emit({ bench: 'search-peer', metric: 'qps', unit: 'queries/s', value: NaN, baseline: vecwalL2Qps, baselineName: 'vecwal L2 QPS (this run)', better: 'higher', lib: 'lancedb-flat', n, error: ld.error });
    return;
  }
  const lq = Number(ld.value.qps);
  emit({ bench: 'search-peer', metric: 'qps', unit: 'queries/s', value: lq, baseline: vecwalL2Qps, baselineName: 'vecwal L2 QPS (this run)', better: 'higher', lib: 'lancedb-flat', n, queries: q, recall: Number(ld.value.recall), note: String(ld.value.note ?? '') });
  emit({ bench: 'search', metric: 'qps_vs_lancedb_flat', unit: 'queries/s', value: vecwalL2Qps, baseline: lq, baselineName: 'LanceDB flat search QPS (ann.mjs lancedb-flat, same n, L2)', better: 'higher', n, distance: 'L2' });
  goals.add(`search n=${n} L2: >= 4x LanceDB flat QPS`, vecwalL2Qps / lq, '>=', 4, 'x LanceDB');
}

async function benchSize(n: number): Promise<void> {
  const nq = queriesFor(n);
  log(`n=${n}: generating data`);
  const data = randomVectors(new FastRng(1234), n);
  const ctx: SizeCtx = { n, data, queries: randomVectors(new FastRng(5678), nq), nq, simd: simdScanner(data) };
  const scanWarm = [0, 1, 2].map(() => timeMs(() => jsScan(ctx.data)));
  void scanWarm;
  const bq = Math.min(nq, n > 100_000 ? 5 : 15); // brute-force queries: the first bq of the nq timed ones
  const brute = new Map<MetricType, { ms: number[]; scan: number[]; truth: number[][] }>();
  for (const metric of METRICS) {
    log(`n=${n} ${metric}: js brute force, ${bq} queries`);
    const b = { ms: [] as number[], scan: [] as number[], truth: [] as number[][] };
    for (let j = 0; j < bq; j++) {
      b.scan.push(timeMs(() => jsScan(ctx.data)));
      let r: number[] = [];
      b.ms.push(timeMs(() => (r = naiveSearch(ctx.data, n, qv(ctx, j), metric))));
      b.truth.push(r);
    }
    brute.set(metric, b);
    emit({ bench: 'js-brute-force', metric: 'latency_p50', unit: 'ms', value: median(b.ms), baseline: median(b.scan), baselineName: 'js-sequential-scan (p50)', better: 'lower', n, dim: DIM, k: K, distance: metric, queries: bq });
  }
  let l2Qps = NaN;
  for (const metric of METRICS) {
    const qps = await benchMetric(ctx, metric, brute.get(metric)!);
    if (metric === 'L2') l2Qps = qps;
  }
  if (args.peers && METRICS.includes('L2')) peers(n, l2Qps);
}

async function main(): Promise<void> {
  root = makeRoot('search');
  const t0 = now();
  const fp0 = srcFingerprint();
  const load0 = loadavg1();
  log(`data dir ${root}; sizes=${SIZES.join(',')} metrics=${METRICS.join(',')}${QUICK ? ' (quick)' : ''}${args.peers ? ' +peers' : ''}`);
  try {
    for (const n of SIZES) await benchSize(n);
  } finally {
    rm(root);
  }
  if (scanSink() === 42) log('');
  process.stdout.write(
    `${JSON.stringify(goals.summary({ srcFingerprint: fp0, srcChangedDuringRun: srcFingerprint() !== fp0, node: process.version, cpus: os.cpus().length, sizes: SIZES, quick: QUICK, date: new Date().toISOString(), elapsedS: round((now() - t0) / 1000), loadavg1Start: load0, loadavg1End: loadavg1() }))}\n`,
  );
}

process.on('SIGINT', () => {
  if (root) rm(root);
  process.exit(130);
});

main().catch((e) => {
  if (root) rm(root);
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
