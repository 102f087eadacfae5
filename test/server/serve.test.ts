/**
 * `vecwal serve` as users run it: a real child process (dist/src/cli/main.js serve), driven by
 * the official Milvus SDK through BOTH protocols on ONE port.
 *   - gRPC (MilvusClient) and REST (HttpClient) see the same data on the same port; Prometheus
 *     metrics on --metrics-port count the requests and the WAL;
 *   - a second server on the same data directory is refused by the lock (exit 1, LOCKED);
 *   - auth: with --token, REST without it is 401/1800 and gRPC with a wrong one fails; data is
 *     untouched;
 *   - kill -9 mid-ingest (gRPC and REST writers at once), restart: every acknowledged batch is
 *     there, and every batch is all-or-nothing;
 *   - SIGTERM mid-request: the in-flight insert completes and is acknowledged, the process
 *     exits 0 after closing the engine, and the rows are there after a restart;
 *   - SIGTERM with idle connections open (an HTTP/2 session, the SDK's gRPC channel, an HTTP/1
 *     keep-alive, a connection that never spoke): the server closes them and exits at once.
 * Every test is bounded and every child is SIGKILLed after the file: a server that fails to
 * stop fails a test instead of stalling CI (as one did, 1 run in ~6, before the fix).
 * Seeds: VECWAL_SEED replays the kill timing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { MilvusClient, HttpClient, DataType } from '@zilliz/milvus2-sdk-node';
import { Rng, seedFromEnv } from '../../src/util/rng.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Served {
  child: ChildProcess;
  port: number;
  metricsPort: number | undefined;
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

// Never leave a server behind, whatever a test does: a live child would keep this file (and CI) waiting.
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
/** Each test is bounded; a hang fails that test instead of stalling the suite. */
const BOUNDED = { timeout: 120_000 };

/** Start `vecwal serve` on a free port; resolves once it logs that it is serving. */
async function serve(dataDir: string, extra: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--data', dataDir, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
  const logs: Record<string, unknown>[] = [];
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(rec);
      if (typeof rec.msg === 'string' && rec.msg.startsWith('vecwal serving')) resolve(rec);
    });
    void exited.then((x) => reject(new Error(`serve exited early (code ${x.code}, signal ${x.signal}): ${x.stderr}`)));
  });
  const rec = await ready;
  return { child, port: rec.port as number, metricsPort: rec.metricsPort as number | undefined, logs, exited };
}

function grpcClient(port: number, token?: string): MilvusClient {
  return new MilvusClient({ address: `127.0.0.1:${port}`, ...(token ? { token } : {}), telemetry: { enabled: false }, maxRetries: 0 } as ConstructorParameters<typeof MilvusClient>[0]);
}

function httpClient(port: number, token?: string): HttpClient {
  return new HttpClient({ endpoint: `http://127.0.0.1:${port}`, ...(token ? { token } : {}) });
}

function vec(i: number, dim: number): number[] {
  return Array.from({ length: dim }, (_, d) => Math.sin(i * 7 + d));
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vecwal-serve-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('one port, both protocols, metrics; a second server on the same directory is refused', BOUNDED, async (t) => {
  const dir = await tempDir(t);
  const s = await serve(dir, ['--metrics-port', '0']);
  const grpc = grpcClient(s.port);
  const http = httpClient(s.port);
  try {
    await grpc.connectPromise;
    const created = await grpc.createCollection({ collection_name: 'docs', dimension: 4, metric_type: 'L2' } as Parameters<MilvusClient['createCollection']>[0]);
    assert.equal(created.error_code, 'Success', JSON.stringify(created));
    const ins = await http.insert({ collectionName: 'docs', data: Array.from({ length: 50 }, (_, i) => ({ id: i, vector: vec(i, 4), text: `doc ${i}` })) });
    assert.equal(ins.code, 0, JSON.stringify(ins));
    const q = await grpc.query({ collection_name: 'docs', filter: 'id < 5', output_fields: ['id', 'text'] });
    assert.equal(q.data.length, 5, 'gRPC sees what REST wrote');
    // SDK 3.x query rows keep dynamic keys under $meta (it names columns after fields_data)
    const row3 = q.data.find((r) => String(r.id) === '3') as { text?: string; $meta?: { text?: string } } | undefined;
    assert.equal(row3?.text ?? row3?.$meta?.text, 'doc 3');
    const hs = await http.search({ collectionName: 'docs', data: [vec(7, 4)], limit: 3, outputFields: ['text'] });
    assert.equal(hs.code, 0, JSON.stringify(hs));
    const first = (hs.data as Record<string, unknown>[])[0]!;
    assert.equal(String(first.id), '7', 'REST search finds the exact vector first');
    assert.equal(first.text, 'doc 7');

    const metrics = await (await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`)).text();
    for (const name of ['vecwal_wal_append_seconds', 'vecwal_wal_fsync_seconds', 'vecwal_wal_group_size', 'vecwal_wal_appended_bytes_total', 'vecwal_checkpoint_lag_records', 'vecwal_memtable_bytes', 'vecwal_flushes_total', 'vecwal_write_stall_seconds', 'vecwal_requests_total', 'vecwal_request_seconds']) {
      assert.ok(metrics.includes(name), `metric ${name} is exported`);
    }
    assert.match(metrics, /vecwal_requests_total\{[^}]*protocol="rest"[^}]*\} [1-9]/, 'REST requests counted');
    assert.match(metrics, /vecwal_requests_total\{[^}]*protocol="grpc"[^}]*\} [1-9]/, 'gRPC requests counted');
    assert.match(metrics, /vecwal_checkpoint_lag_records\{db="default"\} [1-9]/, 'unflushed records are lag');

    // a second server on the same data directory
    const second = spawn(process.execPath, [MAIN, 'serve', '--data', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    second.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)));
    assert.equal(code, 1, 'the second server fails');
    assert.match(err, /LOCKED/);
  } finally {
    grpc.closeConnection?.();
    s.child.kill('SIGTERM');
    const x = await s.exited;
    assert.equal(x.code, 0, `clean exit on SIGTERM: ${x.stderr}`);
  }
});

test('auth: with --token, REST needs the bearer token (401/1800), gRPC a valid authorization', BOUNDED, async (t) => {
  const dir = await tempDir(t);
  const s = await serve(dir, ['--token', 'sesame']);
  const good = httpClient(s.port, 'sesame');
  try {
    assert.equal((await good.createCollection({ collectionName: 'c', dimension: 2 })).code, 0);
    assert.equal((await good.insert({ collectionName: 'c', data: [{ id: 1, vector: [1, 2] }] })).code, 0);

    const raw = await fetch(`http://127.0.0.1:${s.port}/v2/vectordb/collections/list`, { method: 'POST', body: '{}' });
    assert.equal(raw.status, 401);
    assert.equal(((await raw.json()) as { code: number }).code, 1800);
    const wrong = await fetch(`http://127.0.0.1:${s.port}/v2/vectordb/entities/delete`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: JSON.stringify({ collectionName: 'c', filter: 'id > 0' }) });
    assert.equal(wrong.status, 401);

    const bad = grpcClient(s.port, 'nope');
    let rejected = false;
    try {
      await bad.connectPromise;
      const r = await bad.deleteEntities({ collection_name: 'c', filter: 'id > 0' });
      rejected = r.status.error_code !== 'Success';
    } catch {
      rejected = true;
    } finally {
      bad.closeConnection?.();
    }
    assert.ok(rejected, 'a wrong gRPC token is refused');
    const ok = grpcClient(s.port, 'sesame');
    await ok.connectPromise;
    const stats = await ok.getCollectionStatistics({ collection_name: 'c' });
    assert.equal(String(stats.data.row_count), '1', 'the refused delete deleted nothing');
    ok.closeConnection?.();
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

test('kill -9 mid-ingest through gRPC and REST: after a restart every acknowledged batch is there, each batch all-or-nothing', BOUNDED, async (t) => {
  const dir = await tempDir(t);
  const seed = seedFromEnv('VECWAL_SEED');
  const rng = new Rng(seed);
  t.diagnostic(`seed ${seed} (replay with VECWAL_SEED=${seed})`);
  const DIM = 16;
  const BATCH = 200;
  let s = await serve(dir);
  const setup = httpClient(s.port);
  assert.equal((await setup.createCollection({ collectionName: 'ingest', dimension: DIM, metricType: 'L2' })).code, 0);

  const acked = new Set<number>(); // batch numbers
  const attempted = new Set<number>();
  let next = 0;
  let dead = false;
  const grpc = grpcClient(s.port);
  await grpc.connectPromise;
  const http = httpClient(s.port);
  const writer = async (kind: 'grpc' | 'http') => {
    while (!dead) {
      const b = next++;
      attempted.add(b);
      const data = Array.from({ length: BATCH }, (_, i) => ({ id: b * BATCH + i, vector: vec(b * BATCH + i, DIM), batch: b }));
      try {
        if (kind === 'grpc') {
          const r = await grpc.insert({ collection_name: 'ingest', data });
          if (r.status.error_code === 'Success' && Number(r.insert_cnt) === BATCH) acked.add(b);
        } else {
          const r = await http.insert({ collectionName: 'ingest', data });
          if (r.code === 0 && r.data.insertCount === BATCH) acked.add(b);
        }
      } catch {
        return; // the server is gone
      }
    }
  };
  const writers = [writer('grpc'), writer('grpc'), writer('http'), writer('http')];
  const killAfterMs = 300 + rng.int(700);
  await new Promise((r) => setTimeout(r, killAfterMs));
  s.child.kill('SIGKILL');
  dead = true;
  await s.exited;
  await Promise.all(writers);
  grpc.closeConnection?.();
  assert.ok(acked.size > 0, 'some batches were acknowledged before the kill');

  s = await serve(dir);
  try {
    const reader = httpClient(s.port);
    const rows: { id: string; batch: number }[] = [];
    for (let from = 0; from < next * BATCH; from += 16384) {
      const r = await reader.query({ collectionName: 'ingest', filter: `id >= ${from} and id < ${from + 16384}`, outputFields: ['id', 'batch'], limit: 16384 });
      assert.equal(r.code, 0, JSON.stringify(r));
      rows.push(...(r.data as { id: string; batch: number }[]));
    }
    const perBatch = new Map<number, number>();
    for (const r of rows) perBatch.set(r.batch, (perBatch.get(r.batch) ?? 0) + 1);
    for (const b of acked) assert.equal(perBatch.get(b), BATCH, `acknowledged batch ${b} is complete`);
    for (const [b, n] of perBatch) {
      assert.ok(attempted.has(b), `batch ${b} was written by a writer`);
      assert.equal(n, BATCH, `batch ${b} is all-or-nothing`);
    }
    t.diagnostic(`killed after ${killAfterMs} ms: ${acked.size} batches acknowledged, ${perBatch.size} present, ${attempted.size} attempted`);
    const opened = s.logs.find((l) => l.msg === 'database opened (recovery report)');
    assert.ok(opened && (opened.replayedRecords as number) > 0, 'the restart replayed the WAL and logged its report');
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

test('SIGTERM mid-request: the in-flight insert is acknowledged, exit 0, rows there after a restart', BOUNDED, async (t) => {
  const dir = await tempDir(t);
  let s = await serve(dir);
  const http = httpClient(s.port);
  assert.equal((await http.createCollection({ collectionName: 'c', dimension: 64 })).code, 0);
  const data = Array.from({ length: 20_000 }, (_, i) => ({ id: i, vector: vec(i, 64) }));
  const pending = http.insert({ collectionName: 'c', data });
  await new Promise((r) => setTimeout(r, 30)); // the request is on the wire / being handled
  s.child.kill('SIGTERM');
  const r = await pending;
  assert.equal(r.code, 0, `in-flight insert finished: ${JSON.stringify(r).slice(0, 200)}`);
  assert.equal(r.data.insertCount, 20_000);
  const x = await s.exited;
  assert.equal(x.code, 0, `exit 0 after a graceful shutdown: ${x.stderr}`);
  assert.ok(s.logs.some((l) => l.msg === 'shut down cleanly'));

  s = await serve(dir);
  try {
    const client = grpcClient(s.port);
    await client.connectPromise;
    const c = await client.query({ collection_name: 'c', output_fields: ['count(*)'], filter: '' });
    assert.equal(Number(c.data[0]!['count(*)']), 20_000);
    const schema = await client.describeCollection({ collection_name: 'c' });
    assert.equal(schema.schema.fields.find((f) => f.name === 'vector')?.data_type, 'FloatVector');
    assert.equal(DataType.FloatVector, 101);
    client.closeConnection?.();
  } finally {
    s.child.kill('SIGTERM');
    await s.exited;
  }
});

test('SIGTERM with idle connections left open (HTTP/2, HTTP/1 keep-alive, one that never spoke): exit 0 within seconds', BOUNDED, async (t) => {
  const dir = await tempDir(t);
  const s = await serve(dir);
  // An HTTP/2 (gRPC) session that the client never closes, even after GOAWAY.
  const h2 = http2.connect(`http://127.0.0.1:${s.port}`);
  h2.on('error', () => undefined);
  h2.on('goaway', () => undefined);
  await new Promise<void>((r) => h2.once('remoteSettings', () => r()));
  // An HTTP/1.1 keep-alive connection after one request, and a TCP connection that sent nothing.
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, path: '/v2/vectordb/collections/list', method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end('{}');
  });
  // The SDK's gRPC client, connected and used, never closed.
  const grpc = grpcClient(s.port);
  await grpc.connectPromise;
  assert.equal((await grpc.listCollections()).status.error_code, 'Success');
  const silent = net.connect(s.port, '127.0.0.1');
  silent.on('error', () => undefined);
  await new Promise<void>((r) => silent.once('connect', () => r()));

  const t0 = Date.now();
  s.child.kill('SIGTERM');
  const x = await s.exited;
  const ms = Date.now() - t0;
  h2.destroy();
  grpc.closeConnection?.();
  agent.destroy();
  silent.destroy();
  assert.equal(x.code, 0, `exit 0: ${x.stderr}`);
  assert.ok(s.logs.some((l) => l.msg === 'shut down cleanly'));
  assert.ok(!s.logs.some((l) => l.msg === 'handles still open after shutdown: exiting'), 'the server closed its own connections');
  t.diagnostic(`exited ${ms} ms after SIGTERM`);
  assert.ok(ms < 8_000, `idle connections are closed at once, not left to the 10 s handshake timeout (${ms} ms)`);
});

test('serve: bad command lines exit 2 with a usage hint; --help exits 0', BOUNDED, async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn(process.execPath, [MAIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      c.once('exit', (code) => resolve({ code, out, err }));
    });
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--metrics-port/);
  for (const args of [['--port', 'abc'], ['--user', 'u'], ['--log-level', 'loud'], ['--bogus']]) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /error \[USAGE\]/);
  }
});
