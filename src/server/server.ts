/**
 * `vecwal serve`: the REST v2 API and the gRPC MilvusService on ONE port, as Milvus does.
 *
 * One TCP listener; each new connection is classified by its first bytes:
 *   - the HTTP/2 connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") → the gRPC server
 *     (grpc-js, through its connection injector), which is how every gRPC client connects over
 *     plaintext;
 *   - anything else → the node:http server with the REST handler (HTTP/1.1).
 * The bytes read to decide are given back before the hand-over, so each server sees the
 * connection from its first byte: node:http reads through the socket's JS stream, so
 * socket.unshift() is enough; Node's HTTP/2 (under grpc-js) reads the native handle directly
 * and would miss unshifted bytes, so gRPC gets a ReplaySocket that yields them first.
 * (Milvus uses cmux for the same split.)
 *
 * Safety:
 *   - a maximum request size for both protocols (REST: streamed count, 413; gRPC: max receive
 *     message length);
 *   - timeouts: a connection that sends nothing to classify within `handshakeTimeoutMs` is
 *     closed; HTTP request/headers/keep-alive timeouts; a gRPC keepalive;
 *   - graceful shutdown (close()): stop accepting, let in-flight REST requests and gRPC calls
 *     finish (up to `shutdownTimeoutMs`, then force), then close every engine cleanly (writes
 *     finish, the WAL is closed), then stop the metrics server;
 *   - the default database's LOCK keeps a second server (or an import) off the data directory.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ServerCredentials } from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import type { DatabaseOptions } from '../db/database.js';
import type { FileSystem } from '../fs/fs.js';
import { Authenticator, type AuthConfig } from './auth.js';
import { MilvusService } from './service.js';
import { ServerMetrics } from './metrics.js';
import { createRestHandler } from './rest.js';
import { createGrpcServer } from './grpc.js';

export interface ServerOptions {
  /** Data directory: the default database, other databases under databases/. */
  dataDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 19530; 0 picks a free port (see RunningServer.port). */
  port?: number;
  /** Credentials; none means no auth (Milvus's default). */
  auth?: AuthConfig;
  /** Largest request body (REST) or message (gRPC). Default 256 MiB. */
  maxRequestBytes?: number;
  /** REST: the whole request must arrive within this. Default 300 s. */
  requestTimeoutMs?: number;
  /** How long close() waits for in-flight requests before forcing. Default 30 s. */
  shutdownTimeoutMs?: number;
  /** Serve Prometheus metrics on this port (0: a free port); undefined: no metrics server. */
  metricsPort?: number;
  metricsHost?: string;
  /** Engine options for every database (sync policy, flush, ...). */
  engine?: DatabaseOptions;
  fs?: FileSystem;
  /** Structured logger; default pino at info level to stdout. */
  logger?: Logger;
}

export interface RunningServer {
  host: string;
  port: number;
  metricsPort: number | undefined;
  service: MilvusService;
  metrics: ServerMetrics;
  logger: Logger;
  /** Graceful shutdown; resolves when everything is closed. Idempotent. */
  close(): Promise<void>;
}

/**
 * A Duplex over a socket that first yields `head` (bytes already read from it) and then the
 * socket's data, with backpressure; writes, end and destroy go to the socket.
 */
class ReplaySocket extends Duplex {
  constructor(
    private readonly socket: Socket,
    head: Buffer,
  ) {
    super({ allowHalfOpen: false });
    this.push(head);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.once('end', () => this.push(null));
    socket.once('error', (e) => this.destroy(e));
    socket.once('close', () => this.destroy());
  }
  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.socket.end(cb);
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }
  setTimeout(ms: number, cb?: () => void): this {
    this.socket.setTimeout(ms, cb);
    return this;
  }
}

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** 'grpc' when the bytes are (a prefix of) the HTTP/2 preface and complete, 'http' when they diverge, null when undecided. */
export function classifyPreface(bytes: Buffer): 'grpc' | 'http' | null {
  const n = Math.min(bytes.length, HTTP2_PREFACE.length);
  if (bytes.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) return n === HTTP2_PREFACE.length ? 'grpc' : null;
  return 'http';
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? pino({ name: 'vecwal' });
  const host = options.host ?? '127.0.0.1';
  const maxRequestBytes = options.maxRequestBytes ?? 256 * 1024 * 1024;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
  const auth = new Authenticator(options.auth ?? {});
  const metrics = new ServerMetrics();

  const service = await MilvusService.open({
    dataDir: options.dataDir,
    ...(options.fs ? { fs: options.fs } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    onEngineEvent: (db, e) => metrics.engineHook(db)(e),
    onEvent: (e) => {
      if (e.type === 'database-open') {
        const r = e.report;
        logger.info(
          { db: e.db, checkpointLsn: r.checkpointLsn, replayedRecords: r.replayedRecords, orphansRemoved: r.orphansRemoved.length, collections: r.collections, durationMs: Math.round(r.durationMs), wal: { outcome: r.wal.outcome, lastLsn: r.wal.lastLsn, bytesTruncated: r.wal.bytesTruncated, events: r.wal.events.length } },
          'database opened (recovery report)',
        );
      } else logger.info({ db: e.db }, 'database dropped');
    },
  });
  metrics.watch(() => service.engines());

  const observe = (e: Parameters<ServerMetrics['observe']>[0]) => {
    metrics.observe(e);
    if (logger.isLevelEnabled('debug')) logger.debug({ protocol: e.protocol, method: e.method, code: e.code, ms: Math.round(e.seconds * 1e6) / 1000 }, 'request');
  };

  // REST: a node:http server that never listens; the front listener hands it connections.
  const restHandler = createRestHandler(service, { auth, maxRequestBytes, logger, observe });
  let inFlightRest = 0;
  let draining = false;
  let restDrained: (() => void) | null = null;
  const httpSockets = new Set<Socket>();
  const busy = new WeakMap<Socket, number>();
  const httpServer = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    inFlightRest++;
    const sock = req.socket;
    busy.set(sock, (busy.get(sock) ?? 0) + 1);
    if (draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlightRest--;
      busy.set(sock, (busy.get(sock) ?? 1) - 1);
      if (draining && busy.get(sock) === 0) sock.destroySoon();
      if (draining && inFlightRest === 0) restDrained?.();
    });
    restHandler(req, res);
  });
  httpServer.requestTimeout = options.requestTimeoutMs ?? 300_000;
  httpServer.headersTimeout = 60_000;
  httpServer.keepAliveTimeout = 65_000;

  // gRPC: grpc-js server fed through its connection injector.
  const grpcServer = createGrpcServer(service, { auth, maxRequestBytes, logger, observe });
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());

  const allSockets = new Set<Socket>(); // every accepted connection, classified or not
  const front: NetServer = createNetServer((socket) => {
    allSockets.add(socket);
    socket.once('close', () => allSockets.delete(socket));
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const kind = classifyPreface(buf);
      if (kind === null) return;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.pause();
      socket.setNoDelay(true);
      if (kind === 'grpc') {
        injector.injectConnection(new ReplaySocket(socket, buf));
      } else {
        socket.unshift(buf);
        httpSockets.add(socket);
        socket.once('close', () => httpSockets.delete(socket));
        httpServer.emit('connection', socket);
        socket.resume();
      }
    };
    const onError = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', () => clearTimeout(timer));
  });
  front.maxConnections = 10_000;

  try {
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(options.port ?? 19530, host, () => {
        front.removeListener('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await service.close().catch(() => undefined);
    grpcServer.forceShutdown();
    throw e;
  }
  const addr = front.address();
  const port = typeof addr === 'object' && addr ? addr.port : (options.port ?? 19530);

  let metricsServer: Awaited<ReturnType<ServerMetrics['listen']>> | undefined;
  if (options.metricsPort !== undefined) {
    try {
      metricsServer = await metrics.listen(options.metricsHost ?? host, options.metricsPort);
    } catch (e) {
      front.close();
      grpcServer.forceShutdown();
      await service.close().catch(() => undefined);
      throw e;
    }
  }
  logger.info({ host, port, metricsPort: metricsServer?.port, auth: auth.enabled, dataDir: options.dataDir }, 'vecwal serving REST v2 and gRPC');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info({ inFlightRest }, 'shutting down: no new connections; finishing in-flight requests');
      draining = true;
      front.close();
      for (const s of httpSockets) if ((busy.get(s) ?? 0) === 0) s.destroySoon();
      const restDone = inFlightRest === 0 ? Promise.resolve() : new Promise<void>((r) => (restDrained = r));
      const grpcDone = new Promise<void>((r) => grpcServer.tryShutdown(() => r()));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        Promise.all([restDone, grpcDone]).then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), shutdownTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        logger.warn({ inFlightRest, timeoutMs: shutdownTimeoutMs }, 'shutdown timeout: closing the remaining connections');
        grpcServer.forceShutdown();
      }
      // Every request has finished (or timed out): what is left is idle. A client that keeps an
      // idle HTTP/2 connection open after GOAWAY would otherwise keep this process alive.
      for (const s of allSockets) s.destroy();
      injector.destroy();
      await service.close();
      if (metricsServer) await new Promise<void>((r) => metricsServer!.server.close(() => r()));
      logger.info('shut down cleanly');
    })();
    return closing;
  };

  return { host, port, metricsPort: metricsServer?.port, service, metrics, logger, close };
}
