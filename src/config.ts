/**
 * vecwal configuration, in the spirit of milvus.yaml: a YAML file of sections (wal, memtable,
 * data, server) whose keys are snake_case, plus programmatic overrides with the same shape.
 *
 * Strictness is the point: an unknown key (a typo such as `sync_polcy`) or a value of the wrong
 * form is an INVALID_CONFIG error naming the key path and the expected form, never a silent
 * default. Sizes accept "256MB", "1GiB", "64 KB" or a number of bytes; durations accept "10s",
 * "200ms", "1h30m" or a number of milliseconds. Size units are binary (1 KB = 1 KiB = 1024 bytes)
 * as in Milvus, whose MB-denominated settings are multiplied by 1024 * 1024.
 *
 * Every key, its default and meaning: docs/config.md (keep the two in step).
 */
import { parse as parseYaml } from 'yaml';
import { VecwalError } from './errors.js';
import type { SyncPolicy, WalOptions } from './wal/wal.js';
import { RECOVERY_MODES, type RecoveryMode } from './wal/recovery.js';
import { FRAME_HEADER_SIZE, SEGMENT_HEADER_SIZE } from './wal/format.js';

export interface VecwalConfig {
  wal: {
    sync_policy: SyncPolicy;
    /** ms: with sync_policy interval, fdatasync at most this long after a write. */
    flush_interval: number;
    /** bytes: rotate to a new segment file beyond this size. */
    max_size: number;
    retention_days: number;
    max_files: number;
    min_files: number;
    /** bytes */
    max_total_size: number;
    recovery_mode: RecoveryMode;
    /** bytes */
    group_commit_max_size: number;
    /** bytes; 0 disables preallocation */
    preallocate_size: number;
  };
  memtable: {
    /** bytes: flush the memtable to a segment file beyond this size. */
    max_size: number;
    /** ms: flush a non-empty memtable at least this often. */
    flush_interval: number;
    /** bytes of WAL above the checkpoint before writes are held back (backpressure). */
    max_replay_size: number;
  };
  data: { compaction: { min_segments: number; max_size: number } };
  server: { port: number; host: string; max_request_size: number };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DEFAULT_CONFIG: Readonly<VecwalConfig> = deepFreeze({
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
} satisfies VecwalConfig);

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v as object);
  return Object.freeze(o);
}

function configError(path: string, message: string, cause?: unknown): VecwalError {
  return new VecwalError('INVALID_CONFIG', `${path}: ${message}`, cause === undefined ? { path } : { path, cause });
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v;
}

// ---------------------------------------------------------------------------------------------
// Value forms

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: KiB, kb: KiB, kib: KiB, m: MiB, mb: MiB, mib: MiB, g: GiB, gb: GiB, gib: GiB, t: 1024 * GiB, tb: 1024 * GiB, tib: 1024 * GiB };
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** A byte size: a non-negative integer, or a number with a binary unit (B, KB/KiB, MB/MiB, GB/GiB, TB/TiB). */
export function parseSize(v: unknown, path = 'size'): number {
  const expected = 'expected a size: bytes as an integer, or a string such as "256MB", "1GiB", "64 KB" (units are binary: 1 KB = 1024 B)';
  let bytes: number;
  if (typeof v === 'number') bytes = v;
  else if (typeof v === 'string') {
    const m = SIZE_RE.exec(v);
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw configError(path, `${expected}, got ${show(v)}`);
    bytes = Number(m[1]) * unit;
  } else throw configError(path, `${expected}, got ${show(v)}`);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw configError(path, `${expected}; ${show(v)} is not a whole, non-negative number of bytes`);
  return bytes;
}

/** A duration in ms: a non-negative integer, or a string of number+unit parts (ms, s, m, h, d): "10s", "1h30m". */
export function parseDuration(v: unknown, path = 'duration'): number {
  const expected = 'expected a duration: milliseconds as an integer, or a string such as "200ms", "10s", "5m", "1h30m"';
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /^\d+$/.test(v.trim())) ms = Number(v.trim());
  else if (typeof v === 'string' && v.length > 0) {
    ms = 0;
    DURATION_PART_RE.lastIndex = 0;
    let end = 0;
    for (let m = DURATION_PART_RE.exec(v); m; m = DURATION_PART_RE.exec(v)) {
      ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
      end = DURATION_PART_RE.lastIndex;
    }
    if (end !== v.length) throw configError(path, `${expected}, got ${show(v)}`);
  } else throw configError(path, `${expected}, got ${show(v)}`);
  if (!Number.isSafeInteger(ms) || ms < 0) throw configError(path, `${expected}; ${show(v)} is not a whole, non-negative number of milliseconds`);
  return ms;
}

type Parser = (v: unknown, path: string) => unknown;

function atLeast(parse: (v: unknown, path: string) => number, min: number, unit: string): Parser {
  return (v, path) => {
    const n = parse(v, path);
    if (n < min) throw configError(path, `must be at least ${min}${unit}, got ${show(v)}`);
    return n;
  };
}

function integer(min: number, max: number): Parser {
  return (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw configError(path, `expected an integer from ${min} to ${max}, got ${show(v)}`);
    return v;
  };
}

function oneOf(values: readonly string[]): Parser {
  return (v, path) => {
    if (typeof v !== 'string' || !values.includes(v)) throw configError(path, `expected one of ${values.join(', ')}, got ${show(v)}`);
    return v;
  };
}

const days: Parser = (v, path) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw configError(path, `expected a non-negative number of days (fractions allowed), got ${show(v)}`);
  return v;
};

const hostName: Parser = (v, path) => {
  if (typeof v !== 'string' || v.trim() === '') throw configError(path, `expected a host name or address such as "127.0.0.1" or "0.0.0.0", got ${show(v)}`);
  return v;
};

// ---------------------------------------------------------------------------------------------
// The key tree: every key that exists, with its parser. Sections are nested objects.

interface Spec {
  [key: string]: Parser | Spec;
}

const MIN_SEGMENT_BYTES = SEGMENT_HEADER_SIZE + FRAME_HEADER_SIZE + 8;

const SPEC: Spec = {
  wal: {
    sync_policy: oneOf(['always', 'interval', 'none']),
    flush_interval: atLeast(parseDuration, 1, ' ms'),
    max_size: atLeast(parseSize, MIN_SEGMENT_BYTES, ' bytes'),
    retention_days: days,
    max_files: integer(1, 1_000_000),
    min_files: integer(1, 1_000_000),
    max_total_size: atLeast(parseSize, 1, ' byte'),
    recovery_mode: oneOf(RECOVERY_MODES),
    group_commit_max_size: atLeast(parseSize, 1, ' byte'),
    preallocate_size: parseSize,
  },
  memtable: {
    max_size: atLeast(parseSize, 1, ' byte'),
    flush_interval: atLeast(parseDuration, 1, ' ms'),
    max_replay_size: atLeast(parseSize, 1, ' byte'),
  },
  data: { compaction: { min_segments: integer(2, 1_000_000), max_size: atLeast(parseSize, MiB, ' bytes') } },
  server: { port: integer(0, 65535), host: hostName, max_request_size: atLeast(parseSize, KiB, ' bytes') },
};

/** Key paths under `spec`, for "did you mean" hints. */
function keysOf(spec: Spec, prefix = ''): string[] {
  return Object.entries(spec).flatMap(([k, s]) => (typeof s === 'function' ? [prefix + k] : keysOf(s, `${prefix}${k}.`)));
}

/** Levenshtein distance, small strings only: hints for misspelt keys. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function unknownKey(path: string): VecwalError {
  const near = keysOf(SPEC).filter((k) => editDistance(k, path) <= 3);
  const hint = near.length > 0 ? `; did you mean ${near.map((k) => `"${k}"`).join(' or ')}?` : '';
  return configError(path, `unknown configuration key${hint} (every key is listed in docs/config.md)`);
}

/**
 * Apply one layer (parsed YAML or overrides) onto `target`, validating every key. A null value
 * (a YAML key left empty, as milvus.yaml does) keeps the current value.
 */
function applyLayer(target: Record<string, unknown>, layer: unknown, spec: Spec, prefix: string): void {
  if (layer === null || layer === undefined) return;
  if (typeof layer !== 'object' || Array.isArray(layer)) throw configError(prefix || '(root)', `expected a mapping of keys, got ${show(layer)}`);
  for (const [key, value] of Object.entries(layer as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const s = Object.hasOwn(spec, key) ? spec[key] : undefined;
    if (s === undefined) throw unknownKey(path);
    if (value === null || value === undefined) continue;
    if (typeof s === 'function') target[key] = s(value, path);
    else applyLayer(target[key] as Record<string, unknown>, value, s, path);
  }
}

/** Rules that tie two keys together. */
function checkCrossKeys(c: VecwalConfig): void {
  if (c.wal.min_files > c.wal.max_files) throw configError('wal.min_files', `must not exceed wal.max_files (${c.wal.max_files}), got ${c.wal.min_files}`);
  if (c.memtable.max_replay_size < c.memtable.max_size) {
    throw configError('memtable.max_replay_size', `must be at least memtable.max_size (${c.memtable.max_size} bytes), or writes would stall before a flush is due; got ${c.memtable.max_replay_size}`);
  }
}

function parseYamlText(text: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new VecwalError('INVALID_CONFIG', `configuration is not valid YAML: ${(e as Error).message}`, { cause: e, path: '(yaml)' });
  }
}

/**
 * The configuration: defaults, then the YAML text (a vecwal.yaml file's content), then the
 * overrides. Throws INVALID_CONFIG naming the key path for an unknown key or a bad value.
 */
export function loadConfig(yamlText?: string, overrides?: DeepPartial<VecwalConfig>): VecwalConfig {
  const config = structuredClone(DEFAULT_CONFIG) as VecwalConfig;
  const root = config as unknown as Record<string, unknown>;
  if (yamlText !== undefined && yamlText.trim() !== '') applyLayer(root, parseYamlText(yamlText), SPEC, '');
  if (overrides !== undefined) applyLayer(root, overrides, SPEC, '');
  checkCrossKeys(config);
  return config;
}

/** The WalOptions (src/wal/wal.ts) that a configuration asks for. */
export function toWalOptions(config: VecwalConfig): WalOptions {
  const w = config.wal;
  return {
    syncPolicy: w.sync_policy,
    syncIntervalMs: w.flush_interval,
    segmentSizeBytes: w.max_size,
    groupCommitBytesMax: w.group_commit_max_size,
    preallocateBytes: w.preallocate_size,
    recoveryMode: w.recovery_mode,
    retention: {
      minFiles: w.min_files,
      maxFiles: w.max_files,
      maxAgeMs: w.retention_days * 86_400_000,
      maxTotalBytes: w.max_total_size,
    },
  };
}
