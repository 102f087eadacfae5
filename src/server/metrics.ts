/**
 * Prometheus metrics (prom-client), served on their own port (`--metrics-port`) so scraping
 * never competes with the API port and is never behind API auth.
 *
 * Engine metrics come from the Database `onEvent` hook (WAL group syncs, durable appends,
 * flushes, write stalls) and from gauges read at scrape time (checkpoint lag, memtable bytes). Request
 * metrics come from the protocol layers' RequestObserver. Names follow Prometheus conventions
 * (base units: seconds, bytes; counters end in _total); every engine metric has a `db` label.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database, DatabaseEvent } from '../db/database.js';
import type { RequestObserver } from './auth.js';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly appendSeconds: Histogram<'db'>;
  private readonly fsyncSeconds: Histogram<'db'>;
  private readonly groupSize: Histogram<'db'>;
  private readonly bytesAppended: Counter<'db'>;
  private readonly flushes: Counter<'db'>;
  private readonly flushSeconds: Histogram<'db'>;
  private readonly stallSeconds: Histogram<'db'>;
  private readonly requests: Counter<'protocol' | 'method' | 'code'>;
  private readonly requestSeconds: Histogram<'protocol' | 'method'>;
  private engines: () => Map<string, Database> = () => new Map();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'vecwal_' });
    this.appendSeconds = new Histogram({ name: 'vecwal_wal_append_seconds', help: 'WAL append latency, from append to durable (fsynced per sync policy)', labelNames: ['db'], buckets: LATENCY_BUCKETS, registers });
    this.fsyncSeconds = new Histogram({ name: 'vecwal_wal_fsync_seconds', help: 'Duration of one WAL group write + fdatasync', labelNames: ['db'], buckets: LATENCY_BUCKETS, registers });
    this.groupSize = new Histogram({ name: 'vecwal_wal_group_size', help: 'Batches made durable by one fdatasync (group commit)', labelNames: ['db'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers });
    this.bytesAppended = new Counter({ name: 'vecwal_wal_appended_bytes_total', help: 'Bytes written to the WAL (frames, durable)', labelNames: ['db'], registers });
    this.flushes = new Counter({ name: 'vecwal_flushes_total', help: 'Memtable flushes that wrote segment files', labelNames: ['db'], registers });
    this.flushSeconds = new Histogram({ name: 'vecwal_flush_seconds', help: 'Flush duration (segment files, manifest, WAL cleanup)', labelNames: ['db'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.stallSeconds = new Histogram({ name: 'vecwal_write_stall_seconds', help: 'Time a write waited for a flush because the WAL above the checkpoint was over memtable.max_replay_size', labelNames: ['db'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.requests = new Counter({ name: 'vecwal_requests_total', help: 'API requests by protocol, method and Milvus status code', labelNames: ['protocol', 'method', 'code'], registers });
    this.requestSeconds = new Histogram({ name: 'vecwal_request_seconds', help: 'API request latency by protocol and method', labelNames: ['protocol', 'method'], buckets: LATENCY_BUCKETS, registers });
    const gauge = (name: string, help: string, pick: (s: ReturnType<Database['stats']>) => number) => {
      const engines = () => this.engines();
      new Gauge({
        name,
        help,
        labelNames: ['db'],
        registers,
        collect() {
          for (const [db, e] of engines()) {
            const s = safeStats(e);
            if (s) this.set({ db }, pick(s));
          }
        },
      });
    };
    gauge('vecwal_checkpoint_lag_records', 'WAL records above the checkpoint (replayed at the next open)', (s) => Math.max(0, s.lastLsn - s.checkpointLsn));
    gauge('vecwal_memtable_bytes', 'Bytes in the memtable (unflushed writes)', (s) => s.memtableBytes);
    gauge('vecwal_wal_bytes', 'Bytes in WAL segment files on disk', (s) => s.wal.totalBytes);
  }

  /** Where scrape-time gauges find the open engines. */
  watch(engines: () => Map<string, Database>): void {
    this.engines = engines;
  }

  /** A Database onEvent hook that records into these metrics under label db. */
  engineHook(db: string): (e: DatabaseEvent) => void {
    return (e) => {
      if (e.type === 'sync') {
        this.fsyncSeconds.observe({ db }, e.durationMs / 1000);
        this.groupSize.observe({ db }, e.batches);
        this.bytesAppended.inc({ db }, e.bytes);
      } else if (e.type === 'append') {
        this.appendSeconds.observe({ db }, e.durationMs / 1000);
      } else if (e.type === 'flush') {
        this.flushes.inc({ db });
        this.flushSeconds.observe({ db }, e.durationMs / 1000);
      } else {
        this.stallSeconds.observe({ db }, e.durationMs / 1000);
      }
    };
  }

  readonly observe: RequestObserver = (e) => {
    this.requests.inc({ protocol: e.protocol, method: e.method, code: String(e.code) });
    this.requestSeconds.observe({ protocol: e.protocol, method: e.method }, e.seconds);
  };

  /** Serve GET /metrics on host:port. */
  async listen(host: string, port: number): Promise<{ server: Server; port: number }> {
    const server = createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          (e: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(String(e));
          },
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address();
    return { server, port: typeof addr === 'object' && addr ? addr.port : port };
  }
}

function safeStats(e: Database): ReturnType<Database['stats']> | null {
  try {
    return e.stats();
  } catch {
    return null; // closed while scraping
  }
}
