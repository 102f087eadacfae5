/**
 * A deterministic WAL workload for crash and fault tests, and the oracle that checks a
 * recovered log against what the workload was told.
 *
 * The workload runs several concurrent appenders (so group commit forms real groups), with
 * small segments (so rotation happens often) and small preallocation steps, and now and then
 * marks a checkpoint at an acknowledged LSN and runs cleanup. It records every batch it tried
 * (by first LSN) and every acknowledgement. The oracle then asserts, on the recovered log:
 *   - every acknowledged batch above the last checkpoint is present, byte for byte;
 *   - every batch present is one the workload tried, whole (no half batch, no foreign bytes);
 *   - LSNs are dense from the log's first to its last (no hole), and the log was not cleaned
 *     above the checkpoint.
 */
import assert from 'node:assert/strict';
import type { FileSystem } from '../../src/fs/fs.js';
import { Wal, type WalOptions } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { Rng } from '../../src/util/rng.js';

export interface Tried {
  firstLsn: number;
  payloads: Uint8Array[];
}

export interface WorkloadLog {
  tried: Map<number, Tried>;
  acked: Set<number>;
  /** Highest checkpoint set (its cleanup may have run). */
  checkpoint: number;
  errors: unknown[];
}

export const WORKLOAD_WAL_OPTIONS: WalOptions = {
  segmentSizeBytes: 1536,
  preallocateBytes: 512,
  groupCommitBytesMax: 700,
  // Payloads of 64 bytes or more go out in gathered writes (piece by piece on the in-memory FS).
  gatherMinBytes: 64,
  retention: { minFiles: 1, maxFiles: 3, maxAgeMs: 0, maxTotalBytes: 1 << 20 },
};

export function payloadFor(rng: Rng, writer: number, seq: number): Uint8Array {
  const len = 1 + rng.int(180);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (writer * 31 + seq * 7 + i) & 0xff;
  return out;
}

/**
 * Run the workload on `fs` in `dir`. Never throws for I/O: failures are recorded in `log.errors`
 * (after an injected fault or crash, every later operation is expected to fail).
 */
export async function runWalWorkload(fs: FileSystem, dir: string, seed: number, opts: { writers?: number; batchesPerWriter?: number } = {}): Promise<WorkloadLog> {
  const rng = new Rng(seed);
  const log: WorkloadLog = { tried: new Map(), acked: new Set(), checkpoint: 0, errors: [] };
  let wal: Wal;
  try {
    wal = await Wal.open(dir, { ...WORKLOAD_WAL_OPTIONS, fs, salt: () => rng.nextU32(), now: () => 1_700_000_000_000 });
  } catch (e) {
    log.errors.push(e);
    return log;
  }
  const writers = opts.writers ?? 3;
  const perWriter = opts.batchesPerWriter ?? 6;
  const writer = async (w: number): Promise<void> => {
    for (let s = 0; s < perWriter; s++) {
      const n = 1 + rng.int(3);
      const payloads = Array.from({ length: n }, (_, i) => payloadFor(rng, w, s * 4 + i));
      const firstLsn = wal.nextLsn;
      const p = wal.append(payloads.map((payload) => ({ op: OpType.Insert, payload })));
      log.tried.set(firstLsn, { firstLsn, payloads });
      try {
        const r = await p;
        assert.equal(r.firstLsn, firstLsn);
        log.acked.add(firstLsn);
      } catch (e) {
        log.errors.push(e);
        return;
      }
      if (w === 0 && s % 3 === 2) await checkpointAndCleanup(wal, log);
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  try {
    await wal.close();
  } catch (e) {
    log.errors.push(e);
  }
  return log;
}

/**
 * Marks a checkpoint at the last LSN of the middle acknowledged batch (none below two
 * acknowledgements) and runs cleanup; what either throws goes to `errors`.
 */
export async function checkpointAndCleanup(wal: Wal, log: WorkloadLog, errors: unknown[] = log.errors): Promise<void> {
  const acked = [...log.acked].sort((a, b) => a - b);
  if (acked.length < 2) return;
  const mid = acked[Math.floor(acked.length / 2)]!;
  const cp = mid + log.tried.get(mid)!.payloads.length - 1;
  try {
    wal.checkpoint(cp);
    log.checkpoint = Math.max(log.checkpoint, cp);
    await wal.cleanup();
  } catch (e) {
    errors.push(e);
  }
}

export interface Recovered {
  batches: { firstLsn: number; payloads: Uint8Array[] }[];
  firstLsn: number;
  lastLsn: number;
}

/** Open the log (running recovery), read everything, close. */
export async function readAll(fs: FileSystem, dir: string, extra: WalOptions = {}): Promise<Recovered> {
  const wal = await Wal.open(dir, { ...WORKLOAD_WAL_OPTIONS, ...extra, fs });
  try {
    const batches: Recovered['batches'] = [];
    for await (const b of wal.read()) batches.push({ firstLsn: b.firstLsn, payloads: b.records.map((r) => r.payload.slice()) });
    return { batches, firstLsn: wal.firstLsn, lastLsn: wal.lastLsn };
  } finally {
    await wal.close();
  }
}

/** The oracle; `what` names the case in failure messages (seed, crash point). */
export function checkRecovered(rec: Recovered, log: WorkloadLog, what: string): void {
  let expect = rec.firstLsn;
  const present = new Set<number>();
  for (const b of rec.batches) {
    assert.equal(b.firstLsn, expect, `${what}: LSN hole or overlap at ${expect}`);
    const t = log.tried.get(b.firstLsn);
    assert.ok(t, `${what}: batch at LSN ${b.firstLsn} was never appended`);
    assert.equal(b.payloads.length, t.payloads.length, `${what}: half a batch at LSN ${b.firstLsn}`);
    for (let i = 0; i < t.payloads.length; i++) assert.deepEqual(b.payloads[i], t.payloads[i], `${what}: bytes differ at LSN ${b.firstLsn + i}`);
    present.add(b.firstLsn);
    expect = b.firstLsn + b.payloads.length;
  }
  assert.ok(rec.firstLsn <= log.checkpoint + 1, `${what}: cleanup removed LSNs above the checkpoint ${log.checkpoint} (log starts at ${rec.firstLsn})`);
  for (const lsn of log.acked) {
    const last = lsn + log.tried.get(lsn)!.payloads.length - 1;
    if (last <= log.checkpoint) continue;
    assert.ok(present.has(lsn), `${what}: acknowledged batch at LSN ${lsn} lost`);
  }
}

/** Seeds: VECWAL_SEED pins one; otherwise a fixed base, so CI runs are reproducible. */
export function baseSeed(): number {
  const env = process.env.VECWAL_SEED;
  return env ? Number(env) >>> 0 : 0x5eed;
}
