/**
 * `vecwal serve`: the Milvus-compatible server (REST v2 + gRPC on one port) on a data
 * directory. Logs are JSON lines on stdout (pino). SIGTERM / SIGINT shut down gracefully: stop
 * accepting, finish in-flight requests, close every database cleanly, exit 0. A second signal
 * exits at once (exit 1; the WAL still holds every acknowledged write).
 */
import { parseArgs } from 'node:util';
import { pino, type Level } from 'pino';
import { NodeFileSystem } from '../fs/node-fs.js';
import { optionsFromConfig } from '../db/database.js';
import { EXIT_OK, UsageError, intFlag, out, usageErrors, wantsHelp } from './common.js';
import { DEFAULT_DATA_DIR, cliConfig } from './db-open.js';

export const SERVE_USAGE = `usage: vecwal serve [--data <dir>] [--host <addr>] [--port <n>] [auth] [options]

Serve the Milvus REST v2 API (POST /v2/vectordb/...) and the gRPC MilvusService on one port, so
the official Milvus SDKs work unchanged. The default database is <dir> itself; others live in
<dir>/databases/<name>.
  --data <dir>            data directory (default ${DEFAULT_DATA_DIR}; created if missing)
  --host <addr>           listen address (default: server.host of the config, 127.0.0.1)
  --port <n>              port for REST and gRPC (default: server.port, 19530; 0 = any free port)
  --token <t>             require this token (REST: Authorization: Bearer <t>; gRPC: authorization)
  --user <u> --password <p>
                          require these credentials (Bearer <u>:<p>, Basic, or gRPC authorization)
  --metrics-port <n>      serve Prometheus metrics at http://<metrics-host>:<n>/metrics
  --metrics-host <addr>   (default: the listen address)
  --config <file>         vecwal.yaml (docs/config.md): WAL, memtable, server settings
  --log-level <level>     trace, debug (one line per request), info (default), warn, error
Environment: VECWAL_TOKEN, VECWAL_USER / VECWAL_PASSWORD instead of the flags (keeps secrets
out of the process list).`;

const LEVELS: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export async function runServe(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    out(SERVE_USAGE);
    return EXIT_OK;
  }
  const { values } = usageErrors('serve', () =>
    parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        token: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }),
  );
  const level = (values['log-level'] ?? 'info') as Level;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got '${level}'`, 'serve');
  const token = values.token ?? process.env.VECWAL_TOKEN;
  const user = values.user ?? process.env.VECWAL_USER;
  const password = values.password ?? process.env.VECWAL_PASSWORD;
  if ((user === undefined) !== (password === undefined)) throw new UsageError('--user and --password go together', 'serve');
  const fs = new NodeFileSystem();
  const config = await cliConfig(fs, values.config);
  const port = intFlag(values.port, 'port', 0, 'serve') ?? config.server.port;
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`, 'serve');
  const metricsPort = intFlag(values['metrics-port'], 'metrics-port', 0, 'serve');
  if (metricsPort !== undefined && metricsPort > 65535) throw new UsageError(`--metrics-port must be at most 65535, got ${metricsPort}`, 'serve');

  const logger = pino({ name: 'vecwal', level });
  const { startServer } = await import('../server/server.js');
  const server = await startServer({
    dataDir: values.data ?? DEFAULT_DATA_DIR,
    host: values.host ?? config.server.host,
    port,
    auth: { ...(token ? { token } : {}), ...(user !== undefined ? { user, password: password! } : {}) },
    maxRequestBytes: config.server.max_request_size,
    ...(metricsPort !== undefined ? { metricsPort, ...(values['metrics-host'] ? { metricsHost: values['metrics-host'] } : {}) } : {}),
    engine: optionsFromConfig(config),
    fs,
    logger,
  });

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now (the WAL holds every acknowledged write)');
        process.exit(1);
      }
      logger.info({ signal }, 'signal received');
      const done = (code: number) => {
        // Everything is closed and the WAL is synced. Give stdout a moment to drain, then make
        // sure a handle some library left open cannot keep a stopped server alive.
        setTimeout(() => {
          logger.warn('handles still open after shutdown: exiting');
          process.exit(code);
        }, 2_000).unref();
        resolve(code);
      };
      server.close().then(
        () => done(EXIT_OK),
        (e: unknown) => {
          logger.error({ err: e }, 'shutdown failed');
          done(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
