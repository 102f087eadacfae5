/**
 * The server through the official Milvus Node SDK, against the in-process API in the same run.
 *
 *   npm run bench:server                    100,000 rows per insert case, 100,000-vector search
 *   node dist/bench/server.js --quick       20,000 rows, 20,000 vectors, shorter search rounds
 *   node dist/bench/server.js --rows 50000 --search-rows 100000 --seconds 5
 *
 * Setup: `vecwal serve` runs as a child process (dist/src/cli/main.js serve --port 0) on a fresh
 * data directory under BENCH_DIR (or the OS temp dir), engine defaults (sync policy `always`:
 * every acknowledged batch is fdatasynced). The client side (this process) uses MilvusClient
 * (gRPC) and HttpClient (REST) from @zilliz/milvus2-sdk-node.
 *
 * Insert: rows {id Int64, vector 128 x f32, text ~60 chars} into a quick-created collection,
 * batches of 1,000 and 10,000, one request at a time. Baseline: the same rows through
 * `Database.insert` in this process on the same disk (a fresh directory, same defaults).
 * Goal: gRPC >= 60% of in-process rows/s. Also printed: rows per second of server handler time
 * (from the server's own /metrics), i.e. the server's cost without the SDK's client-side work
 * (the SDK JSON-stringifies and deep-copies every request in JS) and the wire.
 *
 * Where the time goes (both sides of every phase, so the lines show who is the bottleneck):
 *   - server CPU: the server's own `vecwal_process_cpu_seconds_total` (prom-client's
 *     process.cpuUsage: all threads, so decoding, handlers, GC, JIT and the fsync calls),
 *     scraped before and after each phase: `rows per server CPU-second` against the in-process
 *     insert's rows per CPU-second (this process's CPU during that phase), and server CPU per
 *     query against the in-process search's CPU per query;
 *   - client CPU: this process's process.cpuUsage() over the phase, i.e. the SDK's own work
 *     (serializing, deep copies, HTTP/2 or HTTP client) per row or per query;
 *   - added to every insert and search line: serverCpuUsPerRow / clientCpuUsPerRow (or
 *     ...PerQuery) and handlerUsPerRow (handler time, from vecwal_request_seconds_sum).
 * With client and server on one machine, end-to-end rows/s is bounded by the sum of both; the
 * CPU lines separate the server's cost (ours) from the SDK's.
 *
 * Search: `--search-rows` vectors (uniform random) inserted over gRPC and flushed, then top-10
 * searches (one vector each) from 1, 8 and 32 concurrent SDK clients (each its own
 * MilvusClient, i.e. its own connection; then the same with HttpClient) for `--seconds` each:
 * QPS, p50 and p99 latency.
 * Baseline: one in-process caller (`db.read.search`) on the same vectors, same queries.
 *
 * Output: JSON lines {bench, metric, unit, value, baseline, baselineName, ratio, better, ...};
 * last line: summary with the goals.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MilvusClient, HttpClient } from '@zilliz/milvus2-sdk-node';
import { Database } from '../src/db/database.js';
import { DIM, FastRng, Goals, emit, loadavg1, logTo, makeRoot, now, percentile, randomTexts, randomVectors, rm, round, srcFingerprint } from './util.js';

const log = logTo('bench:server');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rows: { type: 'string' },
    'search-rows': { type: 'string' },
    seconds: { type: 'string' },
  },
});
const QUICK = args.quick!;
const ROWS = Number(args.rows ?? (QUICK ? 20_000 : 100_000));
const SEARCH_ROWS = Number(args['search-rows'] ?? (QUICK ? 20_000 : 100_000));
const SECONDS = Number(args.seconds ?? (QUICK ? 2 : 5));
const BATCHES = [1_000, 10_000];
const CONCURRENCY = [1, 8, 32];
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

type RowIn = { id: number; vector: number[]; text: string };

function makeRows(seed: number, n: number, from: number): RowIn[] {
  const rng = new FastRng(seed);
  const vecs = randomVectors(rng, n, DIM);
  const texts = randomTexts(rng, n);
  return Array.from({ length: n }, (_, i) => ({ id: from + i, vector: Array.from(vecs.subarray(i * DIM, (i + 1) * DIM)), text: texts[i]! }));
}

async function startServe(dataDir: string): Promise<{ child: ChildProcess; port: number; metricsPort: number }> {
  const c2 = spawn(process.execPath, [MAIN, 'serve', '--data', dataDir, '--port', '0', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { port, metricsPort } = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    const rl = createInterface({ input: c2.stdout! });
    rl.on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; port?: number; metricsPort?: number };
        if (rec.msg?.startsWith('vecwal serving') && rec.port && rec.metricsPort) resolve({ port: rec.port, metricsPort: rec.metricsPort });
      } catch {
        /* not a log line */
      }
    });
    c2.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { child: c2, port, metricsPort };
}

/** One scrape of the server's /metrics: its process CPU seconds and handler seconds by protocol and method. */
interface ServerSample {
  cpuS: number;
  handlers: Array<{ protocol: string; method: string; seconds: number }>;
}

async function scrape(metricsPort: number): Promise<ServerSample> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const cpu = /^vecwal_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (!cpu) throw new Error('the server /metrics has no vecwal_process_cpu_seconds_total');
  const handlers = [...text.matchAll(/^vecwal_request_seconds_sum\{protocol="([^"]*)",method="([^"]*)"\} (\S+)$/gm)].map((m) => ({ protocol: m[1]!, method: m[2]!, seconds: Number(m[3]) }));
  return { cpuS: Number(cpu[1]), handlers };
}

/** Seconds the server spent in handlers of methods matching `method`, between two samples. */
function handlerSeconds(a: ServerSample, b: ServerSample, protocol: string, method: RegExp): number {
  const sum = (s: ServerSample) => s.handlers.reduce((acc, h) => acc + (h.protocol === protocol && method.test(h.method) ? h.seconds : 0), 0);
  return sum(b) - sum(a);
}

/** This process's CPU seconds (user + system, all threads) since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

async function stopServe(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

function grpcClient(port: number): MilvusClient {
  return new MilvusClient({ address: `127.0.0.1:${port}`, telemetry: { enabled: false } } as ConstructorParameters<typeof MilvusClient>[0]);
}

const goals = new Goals();
const t0 = now();
const fp0 = srcFingerprint();
const load0 = loadavg1();
const root = makeRoot('server');
log(`rows ${ROWS}, search rows ${SEARCH_ROWS}, ${SECONDS}s per search round, dir ${root}`);

try {
  // ---- insert -------------------------------------------------------------------------------
  const rows = makeRows(1, ROWS, 0);
  const { child, port, metricsPort } = await startServe(path.join(root, 'serve'));
  const grpc = grpcClient(port);
  await grpc.connectPromise;
  const http = new HttpClient({ endpoint: `http://127.0.0.1:${port}` });
  const inproc = await Database.open(path.join(root, 'inproc'));
  try {
    const INSERT_METHOD = /^(Insert|.*entities\/insert)$/;
    for (const batch of BATCHES) {
      const rates: Record<string, number> = {};
      /** CPU microseconds per row: server (from /metrics), client (this process), handler time. */
      const cost: Record<string, { serverUs: number; clientUs: number; handlerUs: number }> = {};
      let inprocCpuUsPerRow = 0;
      for (const kind of ['inproc', 'grpc', 'rest'] as const) {
        const name = `ins_${kind}_${batch}`;
        if (kind === 'inproc') await inproc.createCollection({ name, dimension: DIM, metricType: 'L2' });
        else if (kind === 'grpc') await grpc.createCollection({ collection_name: name, dimension: DIM, metric_type: 'L2' } as Parameters<MilvusClient['createCollection']>[0]);
        else await http.createCollection({ collectionName: name, dimension: DIM, metricType: 'L2' });
        const sample0 = await scrape(metricsPort);
        const cpu0 = process.cpuUsage();
        const start = now();
        for (let i = 0; i < rows.length; i += batch) {
          const data = rows.slice(i, i + batch);
          if (kind === 'inproc') await inproc.insert(name, data);
          else if (kind === 'grpc') {
            const r = await grpc.insert({ collection_name: name, data });
            if (r.status.error_code !== 'Success') throw new Error(`gRPC insert failed: ${r.status.reason}`);
          } else {
            const r = await http.insert({ collectionName: name, data });
            if (r.code !== 0) throw new Error(`REST insert failed: ${JSON.stringify(r)}`);
          }
        }
        rates[kind] = rows.length / ((now() - start) / 1000);
        const clientS = cpuSince(cpu0);
        if (kind === 'inproc') {
          inprocCpuUsPerRow = (clientS * 1e6) / rows.length;
          log(`insert batch ${batch} inproc: ${round(rates.inproc!)} rows/s, ${round(inprocCpuUsPerRow)} CPU us/row`);
          continue;
        }
        // Rows per second of server handler time (after decoding, to the durable ack): the
        // server's own cost, without the SDK's client-side encoding and the wire.
        const sample1 = await scrape(metricsPort);
        const handlerS = handlerSeconds(sample0, sample1, kind, INSERT_METHOD);
        rates[`${kind}-handler`] = rows.length / handlerS;
        cost[kind] = { serverUs: ((sample1.cpuS - sample0.cpuS) * 1e6) / rows.length, clientUs: (clientS * 1e6) / rows.length, handlerUs: (handlerS * 1e6) / rows.length };
        log(`insert batch ${batch} ${kind}: ${round(rates[kind]!)} rows/s, server handlers ${round(rates[`${kind}-handler`]!)} rows/s; CPU per row: server ${round(cost[kind]!.serverUs)} us, client (SDK) ${round(cost[kind]!.clientUs)} us`);
      }
      for (const kind of ['grpc', 'rest'] as const) {
        const c = cost[kind]!;
        const where = { serverCpuUsPerRow: c.serverUs, clientCpuUsPerRow: c.clientUs, handlerUsPerRow: c.handlerUs, inprocCpuUsPerRow };
        emit({ bench: 'server-insert', metric: `${kind} insert rows/s`, unit: 'rows/s', value: rates[kind]!, baseline: rates.inproc!, baselineName: 'in-process Database.insert', better: 'higher', batch, rows: ROWS, ...where });
        emit({ bench: 'server-insert', metric: `${kind} insert rows/s of server handler time`, unit: 'rows/s', value: rates[`${kind}-handler`]!, baseline: rates.inproc!, baselineName: 'in-process Database.insert', better: 'higher', batch, rows: ROWS, ...where });
        emit({ bench: 'server-insert', metric: `${kind} insert rows per server CPU-second`, unit: 'rows/CPU-s', value: 1e6 / c.serverUs, baseline: 1e6 / inprocCpuUsPerRow, baselineName: 'in-process Database.insert, rows per CPU-second of this process', better: 'higher', batch, rows: ROWS, ...where });
        emit({ bench: 'server-insert', metric: `${kind} insert rows per client (SDK) CPU-second`, unit: 'rows/CPU-s', value: 1e6 / c.clientUs, baseline: 1e6 / inprocCpuUsPerRow, baselineName: 'in-process Database.insert, rows per CPU-second of this process', better: 'higher', batch, rows: ROWS, ...where });
      }
      goals.add(`insert batch ${batch}: gRPC >= 60% of in-process`, rates.grpc! / rates.inproc!, '>=', 0.6, 'x in-process');
    }

    // ---- search -------------------------------------------------------------------------------
    const srng = new FastRng(7);
    const vecs = randomVectors(srng, SEARCH_ROWS, DIM);
    await grpc.createCollection({ collection_name: 'search', dimension: DIM, metric_type: 'L2' } as Parameters<MilvusClient['createCollection']>[0]);
    await inproc.createCollection({ name: 'search', dimension: DIM, metricType: 'L2' });
    for (let i = 0; i < SEARCH_ROWS; i += 10_000) {
      const n = Math.min(10_000, SEARCH_ROWS - i);
      const data = Array.from({ length: n }, (_, j) => ({ id: i + j, vector: Array.from(vecs.subarray((i + j) * DIM, (i + j + 1) * DIM)) }));
      const r = await grpc.insert({ collection_name: 'search', data });
      if (r.status.error_code !== 'Success') throw new Error(`gRPC insert failed: ${r.status.reason}`);
      await inproc.insert('search', data);
    }
    await grpc.flush({ collection_names: ['search'] });
    await inproc.flush();
    const queries = Array.from(randomVectors(new FastRng(11), 256, DIM));
    const q = (i: number) => queries.slice((i % 256) * DIM, ((i % 256) + 1) * DIM);
    // warm both sides (segment residency, kernels)
    for (let i = 0; i < 5; i++) {
      await inproc.read.search('search', { data: q(i), limit: 10 });
      await grpc.search({ collection_name: 'search', data: q(i), limit: 10 });
    }
    const inLat: number[] = [];
    const inCpu0 = process.cpuUsage();
    const inStart = now();
    for (let i = 0; now() - inStart < SECONDS * 1000; i++) {
      const s = now();
      await inproc.read.search('search', { data: q(i), limit: 10 });
      inLat.push(now() - s);
    }
    const inQps = inLat.length / ((now() - inStart) / 1000);
    const inCpuUsPerQuery = (cpuSince(inCpu0) * 1e6) / inLat.length;
    log(`search in-process: ${round(inQps)} QPS, p50 ${round(percentile(inLat, 0.5))} ms, ${round(inCpuUsPerQuery)} CPU us/query`);
    for (const kind of ['grpc', 'rest'] as const) {
      for (const c of CONCURRENCY) {
        const grpcs = kind === 'grpc' ? Array.from({ length: c }, () => grpcClient(port)) : [];
        await Promise.all(grpcs.map((x) => x.connectPromise));
        const https = kind === 'rest' ? Array.from({ length: c }, () => new HttpClient({ endpoint: `http://127.0.0.1:${port}` })) : [];
        const lat: number[] = [];
        const sample0 = await scrape(metricsPort);
        const cpu0 = process.cpuUsage();
        const start = now();
        let next = 0;
        await Promise.all(
          Array.from({ length: c }, async (_, ci) => {
            while (now() - start < SECONDS * 1000) {
              const s = now();
              if (kind === 'grpc') {
                const r = await grpcs[ci]!.search({ collection_name: 'search', data: q(next++), limit: 10 });
                if (r.status.error_code !== 'Success') throw new Error(`search failed: ${r.status.reason}`);
              } else {
                const r = await https[ci]!.search({ collectionName: 'search', data: [q(next++)], limit: 10, outputFields: [] });
                if (r.code !== 0) throw new Error(`search failed: ${JSON.stringify(r)}`);
              }
              lat.push(now() - s);
            }
          }),
        );
        const qps = lat.length / ((now() - start) / 1000);
        const clientUs = (cpuSince(cpu0) * 1e6) / lat.length;
        const sample1 = await scrape(metricsPort);
        const serverUs = ((sample1.cpuS - sample0.cpuS) * 1e6) / lat.length;
        const handlerUs = (handlerSeconds(sample0, sample1, kind, /^(Search|.*entities\/search)$/) * 1e6) / lat.length;
        for (const x of grpcs) x.closeConnection?.();
        log(`search ${kind} x${c}: ${round(qps)} QPS, p50 ${round(percentile(lat, 0.5))} ms, p99 ${round(percentile(lat, 0.99))} ms; CPU per query: server ${round(serverUs)} us, client (SDK) ${round(clientUs)} us`);
        const where = { serverCpuUsPerQuery: serverUs, clientCpuUsPerQuery: clientUs, handlerUsPerQuery: handlerUs, inprocCpuUsPerQuery: inCpuUsPerQuery };
        emit({ bench: 'server-search', metric: `${kind} search QPS, ${c} clients`, unit: 'QPS', value: qps, baseline: inQps, baselineName: 'in-process db.read.search, 1 caller', better: 'higher', clients: c, n: SEARCH_ROWS, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99), inprocP50Ms: percentile(inLat, 0.5), ...where });
        emit({ bench: 'server-search', metric: `${kind} search server CPU per query, ${c} clients`, unit: 'us', value: serverUs, baseline: inCpuUsPerQuery, baselineName: 'in-process db.read.search, CPU per query of this process', better: 'lower', clients: c, n: SEARCH_ROWS, ...where });
      }
    }
  } finally {
    grpc.closeConnection?.();
    await inproc.close();
    await stopServe(child);
  }
  process.stdout.write(
    `${JSON.stringify(goals.summary({ srcFingerprint: fp0, srcChangedDuringRun: srcFingerprint() !== fp0, node: process.version, cpus: os.cpus().length, rows: ROWS, searchRows: SEARCH_ROWS, quick: QUICK, date: new Date().toISOString(), elapsedS: round((now() - t0) / 1000), loadavg1Start: load0, loadavg1End: loadavg1() }))}\n`,
  );
} finally {
  rm(root);
}
