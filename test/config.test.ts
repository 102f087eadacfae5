/**
 * Configuration: defaults, YAML parsing, overrides, an INVALID_CONFIG naming the key path for
 * every unknown key and every bad value, size and duration parsing, and the WalOptions mapping
 * (checked against the WAL itself: it opens with the options a configuration produces).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, loadConfig, parseDuration, parseSize, toWalOptions, type DeepPartial, type VecwalConfig } from '../src/config.js';
import { VecwalError } from '../src/errors.js';
import { DEFAULT_RETENTION } from '../src/wal/retention.js';
import { Wal } from '../src/wal/wal.js';
import { CrashableMemFileSystem } from '../src/fs/mem-fs.js';
import { readFileSync } from 'node:fs';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function expectConfigError(fn: () => unknown, path: string, ...needles: string[]): VecwalError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof VecwalError, `expected INVALID_CONFIG at ${path}, got ${String(err)}`);
  assert.equal(err.code, 'INVALID_CONFIG', err.message);
  assert.equal(err.details.path, path, err.message);
  for (const n of needles) assert.ok(err.message.includes(n), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(n)}`);
  return err;
}

const EXAMPLE_YAML = `
# vecwal.yaml
wal:
  sync_policy: interval
  flush_interval: 50ms
  max_size: 128MB
  retention_days: 3
  max_files: 32
  min_files: 2
  max_total_size: 2GiB
  recovery_mode: absolute-consistency
  group_commit_max_size: 512 KB
  preallocate_size: 0
memtable:
  max_size: 32MB
  flush_interval: 30s
  max_replay_size: 512MB
data:
  compaction:
    min_segments: 4
    max_size: 1GB
server:
  port: 19531
  host: 0.0.0.0
  max_request_size: 64MB
`;

const EXAMPLE: VecwalConfig = {
  wal: {
    sync_policy: 'interval',
    flush_interval: 50,
    max_size: 128 * MiB,
    retention_days: 3,
    max_files: 32,
    min_files: 2,
    max_total_size: 2 * GiB,
    recovery_mode: 'absolute-consistency',
    group_commit_max_size: 512 * KiB,
    preallocate_size: 0,
  },
  memtable: { max_size: 32 * MiB, flush_interval: 30_000, max_replay_size: 512 * MiB },
  data: { compaction: { min_segments: 4, max_size: 1 * GiB } },
  server: { port: 19531, host: '0.0.0.0', max_request_size: 64 * MiB },
};

describe('loadConfig', () => {
  test('defaults', () => {
    assert.deepEqual(loadConfig(), DEFAULT_CONFIG);
    assert.deepEqual(loadConfig(''), DEFAULT_CONFIG);
    assert.deepEqual(loadConfig('# nothing but a comment\n'), DEFAULT_CONFIG);
    assert.deepEqual(DEFAULT_CONFIG, {
      wal: {
        sync_policy: 'always',
        flush_interval: 100,
        max_size: 256 * MiB,
        retention_days: 7,
        max_files: 64,
        min_files: 3,
        max_total_size: 1 * GiB,
        recovery_mode: 'tolerate-corrupted-tail',
        group_commit_max_size: 16 * MiB,
        preallocate_size: 1 * MiB,
      },
      memtable: { max_size: 64 * MiB, flush_interval: 10_000, max_replay_size: 512 * MiB },
      data: { compaction: { min_segments: 8, max_size: 256 * MiB } },
      server: { port: 19530, host: '127.0.0.1', max_request_size: 256 * MiB },
    });
  });

  test('DEFAULT_CONFIG is frozen, and loadConfig returns a fresh copy', () => {
    assert.ok(Object.isFrozen(DEFAULT_CONFIG) && Object.isFrozen(DEFAULT_CONFIG.wal) && Object.isFrozen(DEFAULT_CONFIG.data.compaction));
    const c = loadConfig();
    c.wal.max_files = 1;
    assert.equal(DEFAULT_CONFIG.wal.max_files, 64);
    assert.equal(loadConfig().wal.max_files, 64);
  });

  test('parses a full YAML file', () => {
    assert.deepEqual(loadConfig(EXAMPLE_YAML), EXAMPLE);
  });

  test('a partial file keeps the other defaults; an empty key or section keeps its default', () => {
    const c = loadConfig('wal:\n  max_size: 64MB\n  flush_interval:\nmemtable:\nserver: {port: 8080}\n');
    assert.equal(c.wal.max_size, 64 * MiB);
    assert.equal(c.wal.flush_interval, 100);
    assert.deepEqual(c.memtable, DEFAULT_CONFIG.memtable);
    assert.equal(c.server.port, 8080);
    assert.equal(c.server.host, '127.0.0.1');
  });

  test('overrides apply after the YAML, with the same forms', () => {
    const c = loadConfig(EXAMPLE_YAML, { wal: { sync_policy: 'none', max_size: '1MiB' as unknown as number }, server: { port: 0 } });
    assert.equal(c.wal.sync_policy, 'none');
    assert.equal(c.wal.max_size, MiB);
    assert.equal(c.wal.flush_interval, 50);
    assert.equal(c.server.port, 0);
    assert.equal(loadConfig(undefined, { data: { compaction: { min_segments: 2 } } }).data.compaction.min_segments, 2);
  });

  test('a YAML quoted number is a string: sizes and durations accept it, integers do not', () => {
    assert.equal(loadConfig('wal:\n  max_size: "1048576"\n').wal.max_size, MiB);
    assert.equal(loadConfig("wal:\n  flush_interval: '250'\n").wal.flush_interval, 250);
    expectConfigError(() => loadConfig('server:\n  port: "19530"\n'), 'server.port', 'expected an integer from 0 to 65535, got "19530"');
  });
});

describe('unknown keys and bad structure (INVALID_CONFIG naming the path)', () => {
  const cases: [string, string, ...string[]][] = [
    ['foo: 1', 'foo', 'unknown configuration key'],
    ['wal:\n  sync_polcy: always', 'wal.sync_polcy', 'unknown configuration key', 'did you mean "wal.sync_policy"'],
    ['wal:\n  syncPolicy: always', 'wal.syncPolicy', 'unknown configuration key'],
    ['memtable:\n  maxsize: 1MB', 'memtable.maxsize', 'did you mean "memtable.max_size"'],
    ['data:\n  compaction:\n    min_segment: 3', 'data.compaction.min_segment', 'did you mean "data.compaction.min_segments"'],
    ['data:\n  retention: 3', 'data.retention', 'unknown configuration key'],
    ['server:\n  address: x', 'server.address', 'unknown configuration key'],
    ['proxy:\n  port: 1', 'proxy', 'unknown configuration key'],
    ['toString: 1', 'toString', 'unknown configuration key'],
    ['wal: 5', 'wal', 'expected a mapping of keys, got 5'],
    ['wal: [always]', 'wal', 'expected a mapping of keys, got a list'],
    ['data:\n  compaction: 8', 'data.compaction', 'expected a mapping'],
    ['- wal', '(root)', 'expected a mapping of keys, got a list'],
    ['just a string', '(root)', 'expected a mapping of keys, got "just a string"'],
    ['wal:\n  max_size:\n    value: 1', 'wal.max_size', 'expected a size', 'got a mapping'],
    ['wal:\n  sync_policy: [always]', 'wal.sync_policy', 'expected one of always, interval, none, got a list'],
    ['wal: {max_size: 1MB\n', '(yaml)', 'configuration is not valid YAML'],
    ['wal:\n  max_size: 1MB\n  max_size: 2MB\n', '(yaml)', 'configuration is not valid YAML'],
  ];
  for (const [yaml, path, ...needles] of cases) {
    test(`${path}: ${JSON.stringify(yaml)}`, () => {
      expectConfigError(() => loadConfig(yaml), path, ...needles);
    });
  }

  test('unknown override keys are refused too', () => {
    const bad = { wal: { sync_polcy: 'always' } } as unknown as DeepPartial<VecwalConfig>;
    expectConfigError(() => loadConfig(undefined, bad), 'wal.sync_polcy', 'did you mean "wal.sync_policy"');
  });

  test('the message starts with the key path', () => {
    const e = expectConfigError(() => loadConfig('wal:\n  max_files: 0'), 'wal.max_files');
    assert.match(e.message, /^wal\.max_files: /);
  });
});

describe('bad values (INVALID_CONFIG with the path and the expected form)', () => {
  const cases: [string, unknown, ...string[]][] = [
    ['wal.sync_policy', 'sometimes', 'expected one of always, interval, none, got "sometimes"'],
    ['wal.sync_policy', true, 'expected one of always, interval, none, got true'],
    ['wal.flush_interval', '0ms', 'must be at least 1 ms'],
    ['wal.flush_interval', '10x', 'expected a duration', '"200ms", "10s"'],
    ['wal.flush_interval', -5, 'not a whole, non-negative number of milliseconds'],
    ['wal.flush_interval', 1.5, 'not a whole, non-negative number of milliseconds'],
    ['wal.max_size', '12XB', 'expected a size', '"256MB", "1GiB", "64 KB"', 'binary'],
    ['wal.max_size', '1.5B', 'not a whole, non-negative number of bytes'],
    ['wal.max_size', -1, 'not a whole, non-negative number of bytes'],
    ['wal.max_size', 'MB', 'expected a size'],
    ['wal.max_size', 10, 'must be at least'],
    ['wal.retention_days', -1, 'expected a non-negative number of days'],
    ['wal.retention_days', '7', 'expected a non-negative number of days', 'got "7"'],
    ['wal.max_files', 0, 'expected an integer from 1 to'],
    ['wal.max_files', 1.5, 'expected an integer'],
    ['wal.min_files', 0, 'expected an integer from 1 to'],
    ['wal.max_total_size', 0, 'must be at least 1 byte'],
    ['wal.recovery_mode', 'fast', 'expected one of tolerate-corrupted-tail, absolute-consistency, point-in-time, skip-corrupted, got "fast"'],
    ['wal.group_commit_max_size', '0KB', 'must be at least 1 byte'],
    ['wal.preallocate_size', -1, 'expected a size'],
    ['memtable.max_size', 0, 'must be at least 1 byte'],
    ['memtable.flush_interval', 'soon', 'expected a duration'],
    ['memtable.max_replay_size', 'lots', 'expected a size'],
    ['data.compaction.min_segments', 1, 'expected an integer from 2 to'],
    ['data.compaction.max_size', '512KB', 'must be at least 1048576 bytes'],
    ['server.port', 70000, 'expected an integer from 0 to 65535, got 70000'],
    ['server.port', -1, 'expected an integer from 0 to 65535'],
    ['server.host', '', 'expected a host name or address'],
    ['server.host', 5, 'expected a host name or address'],
    ['server.max_request_size', 100, 'must be at least 1024 bytes'],
  ];
  for (const [path, value, ...needles] of cases) {
    test(`${path} = ${JSON.stringify(value)}`, () => {
      const [section, ...rest] = path.split('.');
      let layer: Record<string, unknown> = { [rest[rest.length - 1]!]: value };
      for (const k of rest.slice(0, -1).reverse()) layer = { [k]: layer };
      expectConfigError(() => loadConfig(undefined, { [section!]: layer } as DeepPartial<VecwalConfig>), path, ...needles);
    });
  }

  test('YAML values are checked the same way', () => {
    expectConfigError(() => loadConfig('wal:\n  sync_policy: sometimes'), 'wal.sync_policy', 'expected one of');
    expectConfigError(() => loadConfig('wal:\n  max_size: 12 parsecs'), 'wal.max_size', 'expected a size');
  });

  test('rules across keys', () => {
    expectConfigError(() => loadConfig('wal:\n  min_files: 10\n  max_files: 5'), 'wal.min_files', 'must not exceed wal.max_files (5)');
    expectConfigError(() => loadConfig('memtable:\n  max_size: 1GB\n'), 'memtable.max_replay_size', 'must be at least memtable.max_size');
  });
});

describe('parseSize', () => {
  const good: [unknown, number][] = [
    [0, 0],
    [10, 10],
    ['10', 10],
    ['1b', 1],
    ['1k', KiB],
    ['64 KB', 64 * KiB],
    ['64KiB', 64 * KiB],
    ['1.5KB', 1536],
    ['256MB', 256 * MiB],
    ['256mb', 256 * MiB],
    ['1GiB', GiB],
    ['1 G', GiB],
    ['2 tb', 2 * 1024 * GiB],
    ['  8MiB  ', 8 * MiB],
  ];
  for (const [v, n] of good) test(`${JSON.stringify(v)} = ${n}`, () => assert.equal(parseSize(v), n));
  const bad: unknown[] = ['1.5B', '-1MB', 'MB', '1 XB', '1 MBs', '', '1e3', true, null, 1.5, -1, NaN, Infinity, [], {}];
  for (const v of bad) test(`refuses ${String(JSON.stringify(v))}`, () => {
    expectConfigError(() => parseSize(v, 'x.size'), 'x.size', 'expected a size');
  });
});

describe('parseDuration', () => {
  const good: [unknown, number][] = [
    [0, 0],
    [100, 100],
    ['100', 100],
    ['200ms', 200],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1m30s500ms', 90_500],
  ];
  for (const [v, n] of good) test(`${JSON.stringify(v)} = ${n} ms`, () => assert.equal(parseDuration(v), n));
  const bad: unknown[] = ['10x', 's', '', '1.5ms', '10 s', '-5s', '5sm', true, null, -1, 1.5, NaN, {}];
  for (const v of bad) test(`refuses ${String(JSON.stringify(v))}`, () => {
    expectConfigError(() => parseDuration(v, 'x.t'), 'x.t', 'expected a duration');
  });
});

describe('toWalOptions', () => {
  test('maps every wal key', () => {
    assert.deepEqual(toWalOptions(EXAMPLE), {
      syncPolicy: 'interval',
      syncIntervalMs: 50,
      segmentSizeBytes: 128 * MiB,
      groupCommitBytesMax: 512 * KiB,
      preallocateBytes: 0,
      recoveryMode: 'absolute-consistency',
      retention: { minFiles: 2, maxFiles: 32, maxAgeMs: 3 * 86_400_000, maxTotalBytes: 2 * GiB },
    });
  });

  test('the defaults agree with the WAL defaults', () => {
    const o = toWalOptions(loadConfig());
    assert.deepEqual(o.retention, DEFAULT_RETENTION);
    assert.deepEqual(
      [o.syncPolicy, o.syncIntervalMs, o.segmentSizeBytes, o.groupCommitBytesMax, o.preallocateBytes, o.recoveryMode],
      ['always', 100, 256 * MiB, 16 * MiB, 1 * MiB, 'tolerate-corrupted-tail'],
    );
  });

  test('the WAL opens with the options a configuration produces', async () => {
    const fs = new CrashableMemFileSystem();
    const config = loadConfig('wal:\n  sync_policy: interval\n  flush_interval: 5ms\n  max_size: 64KB\n  preallocate_size: 0\n  retention_days: 0.5\n');
    const wal = await Wal.open('/db/wal', { ...toWalOptions(config), fs });
    await wal.append({ op: 1, payload: new Uint8Array([1, 2, 3]) });
    await wal.close();
  });
});

describe('docs/config.md stays in step', () => {
  const doc = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');

  test('the example vecwal.yaml is valid and spells out the defaults', () => {
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    assert.deepEqual(loadConfig(yaml), DEFAULT_CONFIG);
  });

  test('the table lists every key, and only those', () => {
    const paths = (o: object, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' && v !== null ? paths(v as object, `${prefix}${k}.`) : [prefix + k]));
    const keysSection = doc.slice(doc.indexOf('## Keys'), doc.indexOf('## Value forms'));
    const documented = [...keysSection.matchAll(/^\| `([a-z_.]+)` \|/gm)].map((m) => m[1]!);
    assert.deepEqual(documented.sort(), paths(DEFAULT_CONFIG).sort());
  });
});
