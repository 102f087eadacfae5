/**
 * Helpers shared by the benchmarks in bench/: JSON-lines output, statistics, seeded data,
 * command-line numbers, directories, RSS sampling, the plain-JS baselines (sequential scans,
 * raw file reads), and running the peer scripts of ../shared/bench-peers. Nothing here touches
 * vecwal's engine; the SIMD scan baseline uses its wasm sum kernel.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32c } from '@node-rs/crc32';
import { Rng } from '../src/util/rng.js';
import { Arena } from '../src/search/wasm/arena.js';
import { wasmApi } from '../src/search/wasm/api.js';
import { generateSumKernel } from '../src/search/wasm/kernel-gen.js';

export const MiB = 1024 * 1024;
export const DIM = 128;
export const TEXT_LEN = 60;
/** Payload bytes of one row as the peers count it: int64 id + 128 x f32 + 60 ASCII chars. */
export const ROW_PAYLOAD_BYTES = 8 + DIM * 4 + TEXT_LEN;

// ---------------------------------------------------------------------------------------------
// Output

export function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const a = Math.abs(v);
  const digits = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : a >= 0.01 ? 4 : 6;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export type LineInput = {
  bench: string;
  metric: string;
  unit: string;
  value: number;
  baseline: number;
  baselineName: string;
  better: 'higher' | 'lower';
} & Record<string, unknown>;

/** One JSON line on stdout: {bench, metric, unit, value, baseline, baselineName, ratio, better, ...}. */
export function emit(l: LineInput): void {
  const { bench, metric, unit, value, baseline, baselineName, better, ...rest } = l;
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) extra[k] = typeof v === 'number' ? round(v) : v;
  const line = { bench, metric, unit, value: round(value), baseline: round(baseline), baselineName, ratio: round(value / baseline), better, ...extra };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** A logger writing `[prefix] msg` lines to stderr (stdout is JSON only). */
export function logTo(prefix: string): (msg: string) => void {
  return (msg) => process.stderr.write(`[${prefix}] ${msg}\n`);
}

export interface Goal {
  goal: string;
  met: boolean;
  value: number;
  cmp: '>=' | '<=' | '<' | '>';
  target: number;
  unit: string;
  informational?: boolean;
  note?: string;
}

export class Goals {
  readonly list: Goal[] = [];
  add(goal: string, value: number, cmp: Goal['cmp'], target: number, unit: string, extra: { informational?: boolean; note?: string } = {}): void {
    const met = cmp === '>=' ? value >= target : cmp === '<=' ? value <= target : cmp === '<' ? value < target : value > target;
    this.list.push({ goal, met, value: round(value), cmp, target, unit, ...extra });
  }
  summary(extra: Record<string, unknown>): Record<string, unknown> {
    const counted = this.list.filter((g) => !g.informational);
    return { bench: 'summary', allMet: counted.every((g) => g.met), met: counted.filter((g) => g.met).length, total: counted.length, goals: this.list, ...extra };
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (q in [0, 1]). */
export function percentile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export const now = (): number => performance.now();

/** Wall time of one call of `fn`, in ms. */
export function timeMs(fn: () => void): number {
  const t0 = now();
  fn();
  return now() - t0;
}

// ---------------------------------------------------------------------------------------------
// Command line

/** A positive number option (`--name`), or `dflt` when not given. */
export function positiveArg(v: string | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Data (seeded, reproducible)

/**
 * Fast seeded data source for bulk benchmarks: xorshift32 (Marsaglia), seeded through the
 * project's Rng so that nearby seeds give unrelated streams. Quality is irrelevant here; speed
 * is not (1M rows x 128 floats must not take longer than the ingest being measured).
 */
export class FastRng {
  private x: number;
  constructor(seed: number) {
    this.x = new Rng(seed).nextU32() | 1;
  }
  nextU32(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x;
    return x >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() * 2.3283064365386963e-10;
  }
}

/** `n` vectors of `dim` uniform floats in [0, 1) (the peers' distribution). */
export function randomVectors(rng: FastRng | Rng, n: number, dim = DIM): Float32Array {
  const v = new Float32Array(n * dim);
  if (rng instanceof FastRng) {
    for (let i = 0; i < v.length; i++) v[i] = rng.next();
  } else {
    for (let i = 0; i < v.length; i++) v[i] = rng.next();
  }
  return v;
}

const ALPHABET = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789 ', 'latin1');

/** `n` flat (non-rope) ASCII strings of `len` characters. */
export function randomTexts(rng: FastRng | Rng, n: number, len = TEXT_LEN): string[] {
  const buf = Buffer.allocUnsafe(n * len);
  for (let i = 0; i < buf.length; i++) buf[i] = ALPHABET[rng.nextU32() % ALPHABET.length]!;
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = buf.toString('latin1', i * len, (i + 1) * len);
  return out;
}

/** `bytes` of a fixed byte pattern (`salt` shifts it), for raw write baselines and WAL payloads. */
export function pattern(bytes: number, salt = 0): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 131 + 7 + salt) & 0xff;
  return b;
}

export { Rng };

// ---------------------------------------------------------------------------------------------
// Plain baselines: read the data once, with nothing else

/** Where the baselines put what they read, so that the JIT cannot drop their loops. */
let sink = 0;

/** The running value the baselines fold their reads into; read it once at the end of a run. */
export function scanSink(): number {
  return sink;
}

/** One pass summing every float, 8 accumulators: the fastest plain-JS way to read the whole array once. */
export function jsScan(data: Float32Array): void {
  let a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0; // prettier-ignore
  const n = data.length & ~7;
  for (let i = 0; i < n; i += 8) {
    a += data[i]!;
    b += data[i + 1]!;
    c += data[i + 2]!;
    d += data[i + 3]!;
    e += data[i + 4]!;
    f += data[i + 5]!;
    g += data[i + 6]!;
    h += data[i + 7]!;
  }
  sink += a + b + c + d + e + f + g + h;
}

/**
 * The same one-pass sum as WebAssembly SIMD over a copy of the data in wasm memory: the real
 * floor for reading the data once on this machine. Null when SIMD or a large enough wasm
 * memory is not available.
 */
export function simdScanner(data: Float32Array): (() => void) | null {
  try {
    if (!wasmApi) return null;
    const arena = new Arena(data.byteLength);
    arena.f32.set(data);
    const inst = new wasmApi.Instance(new wasmApi.Module(generateSumKernel()), { env: { mem: arena.memory } });
    const sum = inst.exports['sum'] as (p: number, n4: number) => number;
    return () => {
      sink += sum(0, data.length >> 2);
    };
  } catch {
    return null;
  }
}

/** Read the files front to back in 1 MiB readSync chunks into one buffer (with `withCrc`, plus a CRC-32C of every chunk). */
export function rawReadFiles(files: readonly string[], withCrc = false): { MBps: number; bytes: number; seconds: number } {
  const buf = Buffer.allocUnsafe(MiB);
  let bytes = 0;
  let acc = 0;
  const t0 = now();
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    try {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, MiB, null);
        if (n === 0) break;
        bytes += n;
        if (withCrc) acc = crc32c(n === MiB ? buf : buf.subarray(0, n), acc);
        else acc ^= buf[n - 1]!;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  const s = (now() - t0) / 1000;
  sink += acc; // keep the reads observable
  return { MBps: bytes / s / 1e6, bytes, seconds: s };
}

// ---------------------------------------------------------------------------------------------
// Directories and processes

/** The project root (dist/bench/util.js -> ../..). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function makeRoot(tag: string): string {
  const base = process.env.BENCH_DIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, `vecwal-bench-${tag}-`));
}

export function rm(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

/** Samples process RSS every `everyMs` (and keeps the peak); also reads the kernel's maxRSS. */
export class RssSampler {
  peak = 0;
  readonly start = process.memoryUsage().rss;
  private timer: ReturnType<typeof setInterval> | null;
  constructor(everyMs = 50) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): void {
    const r = process.memoryUsage().rss;
    if (r > this.peak) this.peak = r;
  }
  stop(): { peak: number; start: number; maxRss: number } {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return { peak: this.peak, start: this.start, maxRss: process.resourceUsage().maxRSS * 1024 };
  }
}

/** Sectors written by the block device holding `dir` (Linux /sys), in bytes; null where unknown. */
export function deviceBytesWritten(dir: string): number | null {
  try {
    const dev = fs.statSync(dir).dev;
    const major = (dev >> 8) & 0xfff;
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    const fields = fs.readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/);
    const sectors = Number(fields[6]);
    return Number.isFinite(sectors) ? sectors * 512 : null;
  } catch {
    return null;
  }
}

/**
 * Runs `node <script> ...args` and returns the last stdout line parsed as JSON (the peer
 * scripts and this bench's child mode print one JSON line), or an error description.
 */
export function runNodeJson(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; nodeArgs?: string[] } = {}): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], {
    env: { ...process.env, ...(opts.env ?? {}) },
    cwd: opts.cwd,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30 * 60 * 1000,
    maxBuffer: 64 * MiB,
  });
  const lines = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{'));
  if (r.status === 0 && lines.length > 0) {
    try {
      return { ok: true, value: JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> };
    } catch {
      /* fall through */
    }
  }
  const why = r.error ? String(r.error.message) : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
  const tail = (r.stderr ?? '').trim().split('\n').slice(-6).join(' | ');
  return { ok: false, error: `${why}: ${tail.slice(0, 800)}` };
}

// ---------------------------------------------------------------------------------------------
// Peers (../shared/bench-peers)

export function peersDir(): string {
  return process.env.PEERS_DIR ? path.resolve(process.env.PEERS_DIR) : path.resolve(projectRoot, '..', 'shared', 'bench-peers');
}

/** Make sure the peers' node_modules exist (npm install --prefix, from the registry). */
export function ensurePeersInstalled(log: (m: string) => void): { ok: boolean; error?: string } {
  const dir = peersDir();
  if (!fs.existsSync(path.join(dir, 'package.json'))) return { ok: false, error: `no peer scripts at ${dir}` };
  if (fs.existsSync(path.join(dir, 'node_modules'))) return { ok: true };
  log(`installing peers: npm install --prefix ${dir} (a few minutes)`);
  const r = spawnSync('npm', ['install', '--prefix', dir], { encoding: 'utf8', timeout: 20 * 60 * 1000 });
  if (r.status !== 0) return { ok: false, error: `npm install failed (exit ${r.status}): ${(r.stderr ?? '').slice(-600)}` };
  return { ok: true };
}

export function loadavg1(): number {
  return round(os.loadavg()[0]!);
}

/**
 * A short hash of the engine's sources (every .ts file under src/, by path and content) so that a result line
 * can be matched to the code it measured (the tree changes between commits and during work).
 */
export function srcFingerprint(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        h.update(path.relative(projectRoot, p));
        h.update(fs.readFileSync(p));
      }
    }
  };
  walk(path.join(projectRoot, 'src'));
  return h.digest('hex').slice(0, 12);
}
