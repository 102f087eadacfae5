/**
 * WAL benchmarks. Every figure is put beside a baseline measured in the same process, in the
 * same run, on the same directory, by a plain Node loop over node:fs written below: the disk is
 * shared and noisy (sync rates vary up to ~3x between time windows), so only same-run ratios mean
 * anything.
 *
 *   npm run bench:wal                      full run (3-5 minutes)
 *   node dist/bench/wal.js --quick         smoke run (~20-30 s)
 *   node dist/bench/wal.js --only bulk-1mib --seconds 5 --runs 5
 *
 * Output: one JSON object per line on stdout,
 *   {bench, metric, unit, value, baseline, baselineName, ratio, better, params, ...}
 * with ratio = value / baseline; `better` says which way is good ('higher' or 'lower').
 * The last line is {bench: 'summary', goals: [...], allMet}. Progress goes to stderr.
 * MB = 10^6 bytes; MiB = 2^20 bytes. Values are medians over `runs` interleaved rounds
 * (WAL and raw loops alternate inside a round, so a slow time window hits both).
 *
 * Data directory: $BENCH_DIR (a fresh sub-directory is made in it) or a temp dir under
 * os.tmpdir(); removed at the end, also on Ctrl-C.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Wal, type WalOptions } from '../src/wal/wal.js';
import { OpType } from '../src/wal/format.js';
import { Goals, MiB, deviceBytesWritten, emit, loadavg1, logTo, makeRoot, median, now, pattern, positiveArg, rawReadFiles, rm, round } from './util.js';

const log = logTo('bench:wal');
const BENCHES = ['single-writer-4k', 'concurrent-writers', 'bulk-1mib', 'recovery-1gib'] as const;
type BenchName = (typeof BENCHES)[number];

// ---------------------------------------------------------------------------------------------
// Options

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    seconds: { type: 'string' },
    runs: { type: 'string' },
    'bulk-mib': { type: 'string' },
    'recovery-mib': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (args.help) {
  process.stderr.write(
    [
      'usage: node dist/bench/wal.js [--quick] [--only NAME]... [--seconds N] [--runs N] [--bulk-mib N] [--recovery-mib N]',
      `  NAME: ${BENCHES.join(', ')} (comma-separated or repeated)`,
      '  --quick          short durations and 256 MiB data sets, one round (smoke run)',
      '  --seconds N      duration of each timed loop (default 3, quick 0.4)',
      '  --runs N         interleaved rounds, the median is reported (default 3, quick 1)',
      '  --bulk-mib N     bytes written per bulk-1mib measurement (default 1024, quick 256)',
      '  --recovery-mib N size of the log replayed by recovery-1gib (default 1024, quick 256)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const QUICK = args.quick ?? false;
const SECONDS = positiveArg(args.seconds, QUICK ? 0.4 : 3, 'seconds');
const RUNS = Math.round(positiveArg(args.runs, QUICK ? 1 : 3, 'runs'));
const BULK_MIB = Math.round(positiveArg(args['bulk-mib'], QUICK ? 256 : 1024, 'bulk-mib'));
const RECOVERY_MIB = Math.round(positiveArg(args['recovery-mib'], QUICK ? 256 : 1024, 'recovery-mib'));
const ONLY = new Set<string>((args.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''));
for (const name of ONLY) if (!(BENCHES as readonly string[]).includes(name)) throw new Error(`--only: unknown benchmark ${name}; known: ${BENCHES.join(', ')}`);
const selected = (name: BenchName) => ONLY.size === 0 || ONLY.has(name);

// ---------------------------------------------------------------------------------------------
// Statistics

/** Growable list of latencies in µs. */
class Latencies {
  private a = new Float64Array(1 << 16);
  n = 0;
  push(us: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = us;
  }
  summary(): { p50: number; p99: number; p999: number; max: number } {
    const s = this.a.subarray(0, this.n).slice().sort();
    const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(s.length * q))]! : NaN);
    return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: s.length ? s[s.length - 1]! : NaN };
  }
}

interface LoopResult {
  commits: number;
  seconds: number;
  perSec: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Median of each field over runs. */
function medianOf<T extends object>(runs: readonly T[]): T {
  const out: Record<string, number> = {};
  for (const k of Object.keys(runs[0]!)) out[k] = median(runs.map((r) => (r as Record<string, number>)[k]!));
  return out as T;
}

// ---------------------------------------------------------------------------------------------
// Directories

let root = '';
function setupRoot(): void {
  root = makeRoot('wal');
}
function cleanupRoot(): void {
  if (root) rm(root);
  root = '';
}
let dirSeq = 0;
function freshDir(name: string): string {
  const d = path.join(root, `${String(++dirSeq).padStart(3, '0')}-${name}`);
  fs.mkdirSync(d);
  return d;
}
function cpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

process.on('SIGINT', () => {
  cleanupRoot();
  process.exit(130);
});

// ---------------------------------------------------------------------------------------------
// Raw baselines: plain synchronous node:fs loops, nothing else.

/** Append `bytes` + fdatasync, on a fresh file, for `seconds`. */
function rawAppendLoop(bytes: number, seconds: number): LoopResult & { cpuUsPerCommit: number; deviceBytesPerCommit: number } {
  const d = freshDir(`raw-append-${bytes}`);
  const file = path.join(d, 'raw.bin');
  const buf = pattern(bytes);
  const fd = fs.openSync(file, 'w');
  fs.fsyncSync(fd);
  const lat = new Latencies();
  let n = 0;
  const dev0 = deviceBytesWritten(d);
  const c0 = cpuUs();
  const t0 = now();
  const deadline = t0 + seconds * 1000;
  let t = t0;
  let cpu = 0;
  let dev1: number | null = null;
  try {
    while (t < deadline) {
      fs.writeSync(fd, buf);
      fs.fdatasyncSync(fd);
      n++;
      const t2 = now();
      lat.push((t2 - t) * 1000);
      t = t2;
    }
    cpu = cpuUs() - c0;
    dev1 = deviceBytesWritten(d);
  } finally {
    fs.closeSync(fd);
    rm(d);
  }
  const el = (t - t0) / 1000;
  return { commits: n, seconds: el, perSec: n / el, ...lat.summary(), cpuUsPerCommit: cpu / n, deviceBytesPerCommit: dev0 === null || dev1 === null ? NaN : (dev1 - dev0) / n };
}

/** Overwrite `bytes` in place + fdatasync, cycling through a preallocated (written, synced) file. */
function rawOverwriteLoop(bytes: number, seconds: number, fileBytes = 64 * MiB): LoopResult {
  const d = freshDir(`raw-overwrite-${bytes}`);
  const file = path.join(d, 'raw.bin');
  const fd = fs.openSync(file, 'w');
  const zeros = Buffer.alloc(MiB);
  try {
    for (let pos = 0; pos < fileBytes; pos += MiB) fs.writeSync(fd, zeros, 0, MiB, pos);
    fs.fsyncSync(fd);
    const buf = pattern(bytes);
    const slots = Math.floor(fileBytes / bytes);
    const lat = new Latencies();
    let n = 0;
    const t0 = now();
    const deadline = t0 + seconds * 1000;
    let t = t0;
    while (t < deadline) {
      fs.writeSync(fd, buf, 0, bytes, (n % slots) * bytes);
      fs.fdatasyncSync(fd);
      n++;
      const t2 = now();
      lat.push((t2 - t) * 1000);
      t = t2;
    }
    const el = (t - t0) / 1000;
    return { commits: n, seconds: el, perSec: n / el, ...lat.summary() };
  } finally {
    fs.closeSync(fd);
    rm(d);
  }
}

/**
 * Reference, not a goal baseline: the raw append loop with node:fs's callback API (fs.write, then
 * fs.fdatasync, each a libuv threadpool round trip), i.e. the I/O pattern of an async WAL minus
 * the WAL. WAL minus this = the WAL's own cost; this minus the sync loop = the cost of going async.
 */
async function rawAppendLoopAsync(bytes: number, seconds: number): Promise<LoopResult> {
  const d = freshDir(`raw-append-async-${bytes}`);
  const file = path.join(d, 'raw.bin');
  const buf = pattern(bytes);
  const fd = fs.openSync(file, 'w');
  fs.fsyncSync(fd);
  const write = (pos: number) => new Promise<void>((res, rej) => fs.write(fd, buf, 0, bytes, pos, (e) => (e ? rej(e) : res())));
  const datasync = () => new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
  const lat = new Latencies();
  let n = 0;
  const t0 = now();
  const deadline = t0 + seconds * 1000;
  let t = t0;
  try {
    while (t < deadline) {
      await write(n * bytes);
      await datasync();
      n++;
      const t2 = now();
      lat.push((t2 - t) * 1000);
      t = t2;
    }
  } finally {
    fs.closeSync(fd);
    rm(d);
  }
  const el = (t - t0) / 1000;
  return { commits: n, seconds: el, perSec: n / el, ...lat.summary() };
}

/** Write `totalMiB` in 1 MiB writeSync blocks to a fresh file; then one fsync. */
function rawSeqWrite(totalMiB: number): { MBps: number; writeS: number; fsyncS: number } {
  const d = freshDir('raw-seq');
  const fd = fs.openSync(path.join(d, 'raw.bin'), 'w');
  const buf = pattern(MiB);
  try {
    fs.fsyncSync(fd); // the file's creation is not part of the timed work
    const t0 = now();
    for (let i = 0; i < totalMiB; i++) fs.writeSync(fd, buf);
    const t1 = now();
    fs.fsyncSync(fd);
    const t2 = now();
    return { MBps: (totalMiB * MiB) / ((t2 - t0) / 1000) / 1e6, writeS: (t1 - t0) / 1000, fsyncS: (t2 - t1) / 1000 };
  } finally {
    fs.closeSync(fd);
    rm(d);
  }
}

/** Write `totalMiB` in 1 MiB blocks, fdatasync after each. */
function rawSeqWriteSyncEach(totalMiB: number): { MBps: number; cpuUsPerMiB: number; deviceMiB: number } {
  const d = freshDir('raw-seq-sync-each');
  const fd = fs.openSync(path.join(d, 'raw.bin'), 'w');
  const buf = pattern(MiB);
  try {
    fs.fsyncSync(fd);
    const dev0 = deviceBytesWritten(d);
    const c0 = cpuUs();
    const t0 = now();
    for (let i = 0; i < totalMiB; i++) {
      fs.writeSync(fd, buf);
      fs.fdatasyncSync(fd);
    }
    const t1 = now();
    const dev1 = deviceBytesWritten(d);
    return {
      MBps: (totalMiB * MiB) / ((t1 - t0) / 1000) / 1e6,
      cpuUsPerMiB: (cpuUs() - c0) / totalMiB,
      deviceMiB: dev0 === null || dev1 === null ? NaN : (dev1 - dev0) / MiB,
    };
  } finally {
    fs.closeSync(fd);
    rm(d);
  }
}

// ---------------------------------------------------------------------------------------------
// WAL loops

const rec = (payload: Uint8Array) => [{ op: OpType.Insert, payload }];

/** One writer, awaiting each append, for `seconds`. */
async function walSingleLoop(bytes: number, seconds: number, options: WalOptions): Promise<LoopResult & { syncsPerCommit: number; cpuUsPerCommit: number; deviceBytesPerCommit: number }> {
  const d = freshDir('wal-single');
  const wal = await Wal.open(d, { syncPolicy: 'always', ...options });
  try {
    const batch = rec(pattern(bytes));
    for (let i = 0; i < 20; i++) await wal.append(batch); // JIT warm-up
    const s0 = wal.stats();
    const lat = new Latencies();
    let n = 0;
    const dev0 = deviceBytesWritten(d);
    const c0 = cpuUs();
    const t0 = now();
    const deadline = t0 + seconds * 1000;
    let t = t0;
    while (t < deadline) {
      await wal.append(batch);
      n++;
      const t2 = now();
      lat.push((t2 - t) * 1000);
      t = t2;
    }
    const el = (t - t0) / 1000;
    const cpu = cpuUs() - c0;
    const dev1 = deviceBytesWritten(d);
    const s1 = wal.stats();
    return {
      commits: n, seconds: el, perSec: n / el, ...lat.summary(), syncsPerCommit: (s1.syncs - s0.syncs) / (s1.appends - s0.appends),
      cpuUsPerCommit: cpu / n, deviceBytesPerCommit: dev0 === null || dev1 === null ? NaN : (dev1 - dev0) / n,
    };
  } finally {
    await wal.close();
    rm(d);
  }
}

/** `writers` async loops, each awaiting its own append, for `seconds`. */
async function walConcurrentLoop(writers: number, bytes: number, seconds: number): Promise<LoopResult & { syncsPerCommit: number; commitsPerGroup: number; cpuUsPerCommit: number }> {
  const d = freshDir(`wal-concurrent-${writers}`);
  const wal = await Wal.open(d, { syncPolicy: 'always' });
  try {
    const payload = pattern(bytes);
    for (let i = 0; i < 20; i++) await wal.append(rec(payload)); // JIT warm-up
    const s0 = wal.stats();
    const lat = new Latencies();
    let stop = false;
    let n = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const a = now();
        await wal.append(rec(payload));
        lat.push((now() - a) * 1000);
        n++;
      }
    };
    const c0 = cpuUs();
    const t0 = now();
    const timer = setTimeout(() => (stop = true), seconds * 1000);
    await Promise.all(Array.from({ length: writers }, writer));
    clearTimeout(timer);
    const el = (now() - t0) / 1000;
    const cpu = cpuUs() - c0;
    const s1 = wal.stats();
    const appends = s1.appends - s0.appends;
    const syncs = s1.syncs - s0.syncs;
    return { commits: n, seconds: el, perSec: n / el, ...lat.summary(), syncsPerCommit: syncs / appends, commitsPerGroup: appends / syncs, cpuUsPerCommit: cpu / n };
  } finally {
    await wal.close();
    rm(d);
  }
}

/** Append `totalMiB` batches of one 1 MiB record, `inflight` appends outstanding at a time. */
async function walBulk(totalMiB: number, inflight: number, options: WalOptions): Promise<{ MBps: number; syncs: number; cpuUsPerMiB: number; deviceMiB: number }> {
  const d = freshDir('wal-bulk');
  const wal = await Wal.open(d, { syncPolicy: 'always', ...options });
  try {
    const batch = rec(pattern(MiB));
    const s0 = wal.stats();
    const dev0 = deviceBytesWritten(d);
    const c0 = cpuUs();
    const t0 = now();
    if (inflight <= 1) {
      for (let i = 0; i < totalMiB; i++) await wal.append(batch);
    } else {
      const window: Promise<unknown>[] = [];
      for (let i = 0; i < totalMiB; i++) {
        window.push(wal.append(batch));
        if (window.length >= inflight) await window.shift();
      }
      await Promise.all(window);
    }
    const s = (now() - t0) / 1000;
    const cpu = cpuUs() - c0;
    const dev1 = deviceBytesWritten(d);
    return {
      MBps: (totalMiB * MiB) / s / 1e6, syncs: wal.stats().syncs - s0.syncs, cpuUsPerMiB: cpu / totalMiB,
      deviceMiB: dev0 === null || dev1 === null ? NaN : (dev1 - dev0) / MiB,
    };
  } finally {
    await wal.close();
    rm(d);
  }
}

// ---------------------------------------------------------------------------------------------
// Goals

const goals = new Goals();
/** One stated goal; `informational`: reported, but not counted in allMet. */
function goal(g: string, value: number, cmp: '<=' | '>=' | '>', target: number, unit: string, informational = false): void {
  goals.add(g, value, cmp, target, unit, informational ? { informational: true } : {});
}

// ---------------------------------------------------------------------------------------------
// 1. single-writer-4k

async function benchSingleWriter(): Promise<void> {
  const B = 4096;
  const raw: ReturnType<typeof rawAppendLoop>[] = [];
  const over: LoopResult[] = [];
  const rawAsync: LoopResult[] = [];
  const pre: Awaited<ReturnType<typeof walSingleLoop>>[] = [];
  const nopre: Awaited<ReturnType<typeof walSingleLoop>>[] = [];
  for (let r = 0; r < RUNS; r++) {
    log(`single-writer-4k round ${r + 1}/${RUNS}`);
    raw.push(rawAppendLoop(B, SECONDS));
    pre.push(await walSingleLoop(B, SECONDS, {}));
    nopre.push(await walSingleLoop(B, SECONDS, { preallocateBytes: 0 }));
    over.push(rawOverwriteLoop(B, SECONDS));
    rawAsync.push(await rawAppendLoopAsync(B, SECONDS));
  }
  const R = medianOf(raw);
  const base = 'raw append 4 KiB + fdatasync (writeSync+fdatasyncSync, fresh file)';
  const common = { payloadBytes: B, frameBytes: 4096 + 48, syncPolicy: 'always', seconds: SECONDS, runs: RUNS };
  const rawExtra = { rawP50Us: round(R.p50), rawP99Us: round(R.p99), rawP999Us: round(R.p999), rawMaxUs: round(R.max) };
  const rawCost = { rawCpuUsPerCommit: round(R.cpuUsPerCommit), rawDeviceBytesPerCommit: round(R.deviceBytesPerCommit) };
  for (const [variant, runs, preallocateBytes] of [
    ['preallocate', pre, 8 * MiB],
    ['no-preallocate', nopre, 0],
  ] as const) {
    const M = medianOf(runs);
    const params = { ...common, variant, preallocateBytes };
    const cost = {
      fsyncsPerCommit: round(M.syncsPerCommit), cpuUsPerCommit: round(M.cpuUsPerCommit), deviceBytesPerCommit: round(M.deviceBytesPerCommit), ...rawCost,
    };
    emit({ bench: 'single-writer-4k', metric: 'commits_per_s', unit: 'commits/s', value: M.perSec, baseline: R.perSec, baselineName: base, better: 'higher', params, ...cost });
    emit({ bench: 'single-writer-4k', metric: 'latency_p50', unit: 'us', value: M.p50, baseline: R.p50, baselineName: base, better: 'lower', params });
    emit({ bench: 'single-writer-4k', metric: 'latency_p99', unit: 'us', value: M.p99, baseline: R.p99, baselineName: base, better: 'lower', params, p999Us: round(M.p999), maxUs: round(M.max), ...rawExtra });
    goal(`single-writer-4k ${variant}: p50 latency <= 1.2x raw append p50`, M.p50 / R.p50, '<=', 1.2, 'x raw');
    if (variant === 'preallocate') goal('single-writer-4k preallocate: commits/s above raw append', M.perSec / R.perSec, '>', 1, 'x raw');
  }
  const O = medianOf(over);
  const params = { ...common, variant: 'raw-overwrite', frameBytes: 4096, fileBytes: 64 * MiB };
  emit({ bench: 'single-writer-4k', metric: 'raw_overwrite_commits_per_s', unit: 'commits/s', value: O.perSec, baseline: R.perSec, baselineName: base, better: 'higher', params, note: 'reference: the ceiling preallocation aims at' });
  emit({ bench: 'single-writer-4k', metric: 'raw_overwrite_latency_p50', unit: 'us', value: O.p50, baseline: R.p50, baselineName: base, better: 'lower', params, p99Us: round(O.p99) });
  const A = medianOf(rawAsync);
  const pa = { ...common, variant: 'raw-append-async', frameBytes: 4096 };
  const noteA = 'reference: the same append loop with fs.write + fs.fdatasync callbacks (two threadpool round trips per commit, like the WAL)';
  emit({ bench: 'single-writer-4k', metric: 'raw_async_commits_per_s', unit: 'commits/s', value: A.perSec, baseline: R.perSec, baselineName: base, better: 'higher', params: pa, note: noteA });
  emit({ bench: 'single-writer-4k', metric: 'raw_async_latency_p50', unit: 'us', value: A.p50, baseline: R.p50, baselineName: base, better: 'lower', params: pa, p99Us: round(A.p99) });
}

// ---------------------------------------------------------------------------------------------
// 2. concurrent-writers

async function benchConcurrent(): Promise<void> {
  const B = 600;
  const counts = [1, 16, 64, 256];
  const raw: LoopResult[] = [];
  const wal = new Map<number, Awaited<ReturnType<typeof walConcurrentLoop>>[]>(counts.map((c) => [c, []]));
  for (let r = 0; r < RUNS; r++) {
    log(`concurrent-writers round ${r + 1}/${RUNS}`);
    raw.push(rawAppendLoop(B, SECONDS));
    for (const c of counts) wal.get(c)!.push(await walConcurrentLoop(c, B, SECONDS));
  }
  const R = medianOf(raw);
  const base = 'raw append 600 B + fdatasync (writeSync+fdatasyncSync, fresh file)';
  for (const c of counts) {
    const M = medianOf(wal.get(c)!);
    const params = { writers: c, payloadBytes: B, frameBytes: 600 + 48, syncPolicy: 'always', seconds: SECONDS, runs: RUNS };
    emit({
      bench: 'concurrent-writers', metric: 'commits_per_s', unit: 'commits/s', value: M.perSec, baseline: R.perSec, baselineName: base, better: 'higher', params,
      p50Us: round(M.p50), p99Us: round(M.p99), commitsPerFsync: round(M.commitsPerGroup), cpuUsPerCommit: round(M.cpuUsPerCommit),
    });
    emit({ bench: 'concurrent-writers', metric: 'fsyncs_per_commit', unit: 'fsyncs/commit', value: M.syncsPerCommit, baseline: 1, baselineName: 'raw loop: one fdatasync per commit', better: 'lower', params });
    if (c === 64) goal('concurrent-writers 64: >= 40,000 commits/s', M.perSec, '>=', 40000, 'commits/s');
  }
}

// ---------------------------------------------------------------------------------------------
// 3. bulk-1mib

async function benchBulk(): Promise<void> {
  const seq: ReturnType<typeof rawSeqWrite>[] = [];
  const each: ReturnType<typeof rawSeqWriteSyncEach>[] = [];
  type W = Awaited<ReturnType<typeof walBulk>>;
  const variants: { key: string; label: string; inflight: number; options: WalOptions; runs: W[] }[] = [
    { key: 'default', label: 'one writer awaiting each append, defaults (preallocateBytes 8 MiB, groupCommitBytesMax 1 MiB)', inflight: 1, options: {}, runs: [] },
    { key: 'no-preallocate', label: 'one writer awaiting each append, preallocateBytes 0', inflight: 1, options: { preallocateBytes: 0 }, runs: [] },
    { key: 'pipelined', label: '8 appends in flight, groupCommitBytesMax 8 MiB (defaults otherwise)', inflight: 8, options: { groupCommitBytesMax: 8 * MiB }, runs: [] },
  ];
  for (let r = 0; r < RUNS; r++) {
    log(`bulk-1mib round ${r + 1}/${RUNS} (${BULK_MIB} MiB per measurement)`);
    seq.push(rawSeqWrite(BULK_MIB));
    for (const v of variants.slice(0, 1)) v.runs.push(await walBulk(BULK_MIB, v.inflight, v.options));
    each.push(rawSeqWriteSyncEach(BULK_MIB));
    for (const v of variants.slice(1)) v.runs.push(await walBulk(BULK_MIB, v.inflight, v.options));
  }
  const S = medianOf(seq);
  const E = medianOf(each);
  const seqName = 'raw sequential write, 1 MiB writeSync blocks, then one fsync';
  const eachName = 'raw 1 MiB writeSync + fdatasync each';
  const common = { batch: 'one record of 1 MiB per append (1,048,576-byte payload, 1,048,624-byte frame)', totalMiB: BULK_MIB, syncPolicy: 'always', runs: RUNS };
  for (const v of variants) {
    const M = medianOf(v.runs);
    const params = { ...common, variant: v.key, description: v.label, inflight: v.inflight };
    const pairedSeq = median(v.runs.map((w, i) => w.MBps / seq[i]!.MBps));
    const pairedEach = median(v.runs.map((w, i) => w.MBps / each[i]!.MBps));
    emit({
      bench: 'bulk-1mib', metric: 'MBps', unit: 'MB/s', value: M.MBps, baseline: S.MBps, baselineName: seqName, better: 'higher', params,
      pairedRatio: round(pairedSeq), fsyncs: round(M.syncs), cpuUsPerMiB: round(M.cpuUsPerMiB), deviceMiB: round(M.deviceMiB),
      rawSeqWriteS: round(S.writeS), rawSeqFsyncS: round(S.fsyncS),
    });
    emit({
      bench: 'bulk-1mib', metric: 'MBps_vs_sync_each', unit: 'MB/s', value: M.MBps, baseline: E.MBps, baselineName: eachName, better: 'higher', params,
      pairedRatio: round(pairedEach), rawCpuUsPerMiB: round(E.cpuUsPerMiB), rawDeviceMiB: round(E.deviceMiB),
    });
    if (v.key === 'default') goal('bulk-1mib (one writer, defaults): >= 85% of raw sequential write + fsync', M.MBps / S.MBps, '>=', 0.85, 'x raw');
  }
}

// ---------------------------------------------------------------------------------------------
// 4. recovery-1gib

interface Shape {
  name: string;
  recordBytes: number;
  recordsPerBatch: number;
}

async function writeLog(d: string, totalMiB: number, shape: Shape): Promise<{ batches: number; records: number; seconds: number }> {
  const wal = await Wal.open(d, { syncPolicy: 'none' });
  const frame = 40 + shape.recordsPerBatch * (8 + shape.recordBytes);
  const batches = Math.ceil((totalMiB * MiB) / frame);
  const payloads = Array.from({ length: 16 }, (_, i) => pattern(shape.recordBytes, i));
  const batch = (i: number) => Array.from({ length: shape.recordsPerBatch }, (_, j) => ({ op: OpType.Insert, payload: payloads[(i + j) & 15]! }));
  const t0 = now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < batches; i++) {
    inflight.push(wal.append(batch(i)));
    if (inflight.length >= 1024) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  await wal.close();
  return { batches, records: batches * shape.recordsPerBatch, seconds: (now() - t0) / 1000 };
}

function segmentFiles(d: string): string[] {
  return fs
    .readdirSync(d)
    .filter((n) => /^wal_\d+\.log$/.test(n))
    .sort()
    .map((n) => path.join(d, n));
}

async function replay(d: string, expectRecords: number): Promise<{ MBps: number; seconds: number }> {
  let records = 0;
  let batches = 0;
  let payloadBytes = 0;
  const bytes = segmentFiles(d).reduce((n, f) => n + fs.statSync(f).size, 0);
  const t0 = now();
  const wal = await Wal.open(d, {
    syncPolicy: 'none',
    onReplay: (b) => {
      batches++;
      records += b.records.length;
      for (const r of b.records) payloadBytes += r.payload.length;
    },
  });
  const s = (now() - t0) / 1000;
  await wal.close();
  if (records !== expectRecords) throw new Error(`replay saw ${records} records in ${batches} batches, expected ${expectRecords}`);
  if (payloadBytes === 0) throw new Error('replay saw no payload');
  return { MBps: bytes / s / 1e6, seconds: s };
}

async function benchRecovery(): Promise<void> {
  const shapes: Shape[] = [
    { name: 'batches of 100 records x 600 B (64.8 KB frames)', recordBytes: 600, recordsPerBatch: 100 },
    { name: 'batches of 1 record x 600 B (648 B frames, as concurrent-writers writes them)', recordBytes: 600, recordsPerBatch: 1 },
  ];
  for (const [i, shape] of shapes.entries()) {
    const d = freshDir(`wal-recovery-${i}`);
    try {
      // --quick: the per-frame (informational) shape gets a quarter of the size, to stay fast.
      const mib = QUICK && i > 0 ? Math.max(1, Math.round(RECOVERY_MIB / 4)) : RECOVERY_MIB;
      log(`recovery-1gib: writing ${mib} MiB, ${shape.name}`);
      const w = await writeLog(d, mib, shape);
      const files = segmentFiles(d);
      rawReadFiles(files); // warm: both timed passes below read from the page cache
      const raw: { MBps: number; seconds: number }[] = [];
      const rawCrc: { MBps: number; seconds: number }[] = [];
      const rep: { MBps: number; seconds: number }[] = [];
      for (let r = 0; r < RUNS; r++) {
        log(`recovery-1gib: ${shape.name}, round ${r + 1}/${RUNS}`);
        raw.push(rawReadFiles(files));
        rep.push(await replay(d, w.records));
        if (i === 0) rawCrc.push(rawReadFiles(files, true));
      }
      const R = medianOf(raw);
      const P = medianOf(rep);
      const bytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);
      const params = {
        shape: shape.name, recordBytes: shape.recordBytes, recordsPerBatch: shape.recordsPerBatch, batches: w.batches, records: w.records,
        logBytes: bytes, segments: files.length, writtenWith: 'syncPolicy none, then close()', runs: RUNS,
        cache: 'warm: the log was just written and read once before timing; raw read and replay alternate',
      };
      emit({
        bench: 'recovery-1gib', metric: 'replay_MBps', unit: 'MB/s', value: P.MBps, baseline: R.MBps, baselineName: 'raw sequential read of the same segment files (readSync, 1 MiB chunks)', better: 'higher', params,
        pairedRatio: round(median(rep.map((p, k) => p.MBps / raw[k]!.MBps))), replaySeconds: round(P.seconds), rawReadSeconds: round(R.seconds), writeSeconds: round(w.seconds),
      });
      if (i === 0) {
        const C = medianOf(rawCrc);
        emit({
          bench: 'recovery-1gib', metric: 'raw_read_crc32c_MBps', unit: 'MB/s', value: C.MBps, baseline: R.MBps, baselineName: 'raw sequential read of the same segment files (readSync, 1 MiB chunks)', better: 'higher',
          params: { ...params, shape: 'reference: the same raw read plus CRC-32C (@node-rs/crc32) of every chunk; no parsing' },
          note: 'ceiling for any replay that verifies checksums on this machine',
        });
      }
      if (i === 0) goal(`recovery-1gib (${shape.name}): replay >= 70% of raw read`, P.MBps / R.MBps, '>=', 0.7, 'x raw');
      else goal(`recovery-1gib (${shape.name}): replay >= 70% of raw read`, P.MBps / R.MBps, '>=', 0.7, 'x raw', true);
    } finally {
      rm(d);
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  setupRoot();
  const t0 = now();
  const loadStart = loadavg1();
  log(`data dir ${root}; seconds=${SECONDS} runs=${RUNS} bulk=${BULK_MIB} MiB recovery=${RECOVERY_MIB} MiB${QUICK ? ' (quick)' : ''}`);
  try {
    if (selected('single-writer-4k')) await benchSingleWriter();
    if (selected('concurrent-writers')) await benchConcurrent();
    if (selected('bulk-1mib')) await benchBulk();
    if (selected('recovery-1gib')) await benchRecovery();
  } finally {
    cleanupRoot();
  }
  const summary = goals.summary({
    node: process.version,
    cpus: os.cpus().length,
    quick: QUICK,
    seconds: SECONDS,
    runs: RUNS,
    date: new Date().toISOString(),
    elapsedS: round((now() - t0) / 1000),
    // Other work on the machine skews everything (2 cores): the 1-minute load average before and after.
    loadavg1Start: loadStart,
    loadavg1End: loadavg1(),
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((e) => {
  cleanupRoot();
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
