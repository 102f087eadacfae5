/**
 * The write-ahead log: a directory of segment files (format.ts), opened with recovery, appended
 * to with group commit, read from any LSN, cleaned up behind a checkpoint.
 *
 * Commit pipeline (one writer loop; at most a write and an fdatasync on the log at once):
 *   append() validates, assigns LSNs and queues the batch; the promise is the acknowledgement.
 *   The loop takes queued batches up to groupCommitBytesMax (the first always), encodes them as
 *   frames into one buffer, writes it with one positional write (short writes are looped) and,
 *   under sync=always, starts one fdatasync; the group's promises settle when it completes.
 *   Appends that arrive meanwhile form the next group: that is group commit, with no timer and
 *   no added latency for a lone writer. The next group is written while the previous group's
 *   fdatasync runs, and its own fdatasync starts only after that one completed, so groups are
 *   acknowledged in order and each sync covers everything written before it started (the
 *   durable end is the one taken when the sync started). A rotation first waits for the sync.
 * Failure: any write or sync error poisons the log (the fsyncgate rule): the group and every
 *   later append reject with WAL_FAILED, whose cause is the first error, until reopened. A sync
 *   is never retried, because after a failed fsync the kernel may have dropped the dirty pages.
 * Rotation: when a frame does not fit the active segment, it is sealed (cut to its written end,
 *   fdatasync) and a new segment is created as wal_N.log.tmp (header, fsync), renamed, and the
 *   directory fsynced, so a segment name exists on disk only with a durable header.
 * Preallocation: the active segment is extended with zeros ahead of the writes, so that most
 *   fdatasyncs overwrite allocated blocks instead of growing the file (twice as fast on ext4:
 *   no size or extent metadata to journal). Zeros read as the end of the log.
 * Rejected: a timer-based commit delay (adds latency for lone writers); per-writer fsync (no
 *   sharing); sync I/O (blocks the event loop of a server for the whole fsync).
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import type { FileHandle, FileLock, FileSystem } from '../fs/fs.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import { joinPath, openLockedDir, writeFully, writevFully } from '../fs/io.js';
import { VecwalError, corruption, invalidArgument, ioError } from '../errors.js';
import { GATHER_MIN_BYTES, encodeFrameGather, encodeSegmentHeader, frameScratchBytes, frameSize, payloadLength, saltSeed, type RecordInput, type WalRecord } from './codec.js';
import {
  FRAME_HEADER_SIZE,
  MAX_FRAME_BODY_BYTES,
  MAX_RECORD_PAYLOAD_BYTES,
  SEGMENT_FLAG_RESTART,
  SEGMENT_HEADER_SIZE,
  isValidOp,
  parseSegmentFileName,
  segmentFileName,
  type OpType,
} from './format.js';
import { SegmentCursor } from './segment-reader.js';
import { DEFAULT_RETENTION, planRetention, validateRetention, type RetentionPolicy, type SegmentSummary } from './retention.js';
import { recoverLog, type SegmentState } from './wal-recovery.js';
import type { RecoveryMode, RecoveryReport } from './recovery.js';
import type { LogBackend } from '../log/log-backend.js';

export type SyncPolicy = 'always' | 'interval' | 'none';

export interface WalBatch {
  firstLsn: number;
  lastLsn: number;
  timestamp: number;
  records: WalRecord[];
}

export interface WalOptions {
  /** Filesystem to use. Default: the real disk. */
  fs?: FileSystem;
  /** When an append resolves: after fdatasync ('always', default), after the write ('interval', 'none'). */
  syncPolicy?: SyncPolicy;
  /** With syncPolicy 'interval': fdatasync at most this long after a write. Default 100 ms. */
  syncIntervalMs?: number;
  /** Rotate to a new segment file beyond this size. Default 256 MiB (milvus.yaml). */
  segmentSizeBytes?: number;
  /** Upper bound of one group commit (the first batch of a group is always taken). Default 16 MiB. */
  groupCommitBytesMax?: number;
  /** Extend the active segment with zeros this far ahead of small writes; 0 disables. Default 1 MiB. */
  preallocateBytes?: number;
  /**
   * Payload parts at least this long are written from the caller's memory in a gathered write
   * instead of being copied into the frame buffer. Default 64 KiB; tests lower it.
   */
  gatherMinBytes?: number;
  /** What recovery may repair on open. Default 'tolerate-corrupted-tail'. */
  recoveryMode?: RecoveryMode;
  /** Pass batches whose last LSN is >= this to `onReplay` during open. Default 1 (all). */
  replayFromLsn?: number;
  /**
   * New appends get LSNs of at least this. A caller that keeps everything below some LSN
   * elsewhere (the engine: its checkpoint + 1) passes it so those LSNs are never issued again,
   * even if a salvage recovery cut the log below it. Default 1.
   */
  nextLsnAtLeast?: number;
  /** Called during open for each recovered batch at or above replayFromLsn, in LSN order. */
  onReplay?: (batch: WalBatch) => void | Promise<void>;
  /** Cleanup retention policy (see retention.ts). */
  retention?: Partial<RetentionPolicy>;
  /** Clock, for tests. */
  now?: () => number;
  /** Source of segment salts (uniform 32-bit integers), for reproducible tests. Default: crypto. */
  salt?: () => number;
}

export interface AppendInput {
  op: OpType;
  /**
   * The record's bytes, or its parts in order (gathered into the frame without an extra copy;
   * read back as one payload). Must stay unchanged until the append settles.
   */
  payload: Uint8Array | readonly Uint8Array[];
}

export interface AppendResult {
  firstLsn: number;
  lastLsn: number;
}

export interface WalStats {
  appends: number;
  records: number;
  bytesAppended: number;
  groups: number;
  syncs: number;
  rotations: number;
  segments: number;
  totalBytes: number;
}

/** Events: 'pressure' (RetentionPlan['pressure']), 'sync' ({ durationMs, groupSize, bytes }). */
export interface WalEvents {
  pressure: [NonNullable<import('./retention.js').RetentionPlan['pressure']>];
  sync: [{ durationMs: number; batches: number; bytes: number }];
}

interface Pending {
  records: readonly RecordInput[];
  timestamp: number;
  firstLsn: number;
  size: number;
  /** Sync barrier only: no records, forces an fdatasync. */
  barrier: boolean;
  /** Barrier that also seals the active segment if every LSN in it is <= this (see truncate). */
  rotateAtOrBelow?: number;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

interface InFlightSync {
  promise: Promise<void>;
  group: Pending[];
  /** The sync has completed (either way); finishSync settles the group. */
  done: boolean;
}

/** Pieces with adjacent memory (the encode buffer's runs of consecutive frames) merged into one view. */
function coalesce(pieces: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && last.buffer === p.buffer && last.byteOffset + last.length === p.byteOffset) out[out.length - 1] = new Uint8Array(p.buffer, last.byteOffset, last.length + p.length);
    else out.push(p);
  }
  return out;
}

function resolveGroup(group: readonly Pending[]): void {
  for (const p of group) p.resolve({ firstLsn: p.firstLsn, lastLsn: p.firstLsn + p.records.length - 1 });
}

interface Active {
  state: SegmentState;
  handle: FileHandle;
  seed: number;
  writeEnd: number;
  durableEnd: number;
  allocatedEnd: number;
}

/** Encode buffers up to this size are kept for reuse. */
const ENCODE_BUFFER_KEEP_BYTES = 16 * 1024 * 1024;
/** bytesAbove's precision inside a segment: a (last LSN, end offset) mark every this many bytes. */
const MARK_BYTES = 1024 * 1024;
/** Groups at least this large are not preceded by zero preallocation. */
const PREALLOCATE_SKIP_BYTES = 256 * 1024;

const DEFAULTS = {
  syncPolicy: 'always' as SyncPolicy,
  syncIntervalMs: 100,
  segmentSizeBytes: 256 * 1024 * 1024,
  groupCommitBytesMax: 16 * 1024 * 1024,
  preallocateBytes: 1024 * 1024,
  gatherMinBytes: GATHER_MIN_BYTES,
  recoveryMode: 'tolerate-corrupted-tail' as RecoveryMode,
};

export class Wal extends EventEmitter<WalEvents> implements LogBackend {
  readonly dir: string;
  readonly recovery: RecoveryReport;
  private readonly fs: FileSystem;
  private readonly opts: typeof DEFAULTS & { retention: RetentionPolicy; now: () => number; salt: () => number };
  private segments: SegmentState[];
  private active!: Active;
  private lock: FileLock | null;
  private nextLsnValue: number;
  private writtenLsn: number;
  private durableLsnValue: number;
  private checkpointLsnValue = 0;
  private readers = new Map<string, number>();
  private queue: Pending[] = [];
  /** The group whose fdatasync is running (at most one), overlapping the next group's write. */
  private inFlightSync: InFlightSync | null = null;
  /** Set while the loop waits on a sync with nothing queued: enqueue() calls it. */
  private wake: (() => void) | null = null;
  private running = false;
  private failure: VecwalError | null = null;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly zeros: Uint8Array;
  private encodeBuf = new Uint8Array(0);
  /**
   * For segments written by this process: flat (last LSN, end offset) pairs, one at least every
   * MARK_BYTES, so bytesAbove can count from inside a segment instead of from its start.
   */
  private readonly marks = new WeakMap<SegmentState, number[]>();
  /** Bad spots recovery chose to skip (skip-corrupted), as "path:offset": read() steps over these only. */
  private readonly skipped: Set<string>;
  private readonly counters: Omit<WalStats, 'segments' | 'totalBytes'> = { appends: 0, records: 0, bytesAppended: 0, groups: 0, syncs: 0, rotations: 0 };

  private constructor(dir: string, fs: FileSystem, opts: Wal['opts'], lock: FileLock, segments: SegmentState[], report: RecoveryReport) {
    super();
    this.dir = dir;
    this.fs = fs;
    this.opts = opts;
    this.lock = lock;
    this.segments = segments;
    this.recovery = report;
    const last = segments[segments.length - 1]!;
    this.nextLsnValue = last.lastLsn + 1;
    this.writtenLsn = last.lastLsn;
    this.durableLsnValue = last.lastLsn;
    this.zeros = new Uint8Array(Math.min(opts.preallocateBytes, 1024 * 1024));
    this.skipped = new Set(report.events.filter((e) => e.action === 'skip').map((e) => `${e.file}:${e.offset}`));
  }

  /** Open (or create) the log in `dir`, running recovery. See RecoveryReport in `wal.recovery`. */
  static async open(dir: string, options: WalOptions = {}): Promise<Wal> {
    const opts = resolveOptions(options);
    const fs = options.fs ?? new NodeFileSystem();
    const lock = await openLockedDir(fs, dir, 'WAL directory');
    try {
      const replay = options.onReplay;
      const { segments, report, reuseLast } = await recoverLog(fs, dir, {
        mode: opts.recoveryMode,
        replayFromLsn: options.replayFromLsn ?? 1,
        ...(replay ? { onReplay: replay } : {}),
      });
      const atLeast = options.nextLsnAtLeast ?? 1;
      const prev = segments[segments.length - 1];
      const next = prev ? prev.lastLsn + 1 : 1;
      if (!prev || !reuseLast || next < atLeast) {
        const flags = next < atLeast && prev ? SEGMENT_FLAG_RESTART : 0;
        segments.push(await createSegmentFile(fs, dir, prev ? prev.segmentNo + 1 : 1, Math.max(next, atLeast), opts.now(), opts.salt(), flags));
      }
      const wal = new Wal(dir, fs, opts, lock, segments, report);
      await wal.openActive();
      if (opts.syncPolicy === 'interval') wal.startTimer();
      return wal;
    } catch (e) {
      await lock.release().catch(() => undefined);
      throw e instanceof VecwalError ? e : ioError('recover', dir, e);
    }
  }

  /** LSN the next appended record will get. */
  get nextLsn(): number {
    return this.nextLsnValue;
  }
  /** Highest LSN written to the OS (durable or not). */
  get lastLsn(): number {
    return this.writtenLsn;
  }
  /** Highest LSN known to be on stable storage. */
  get durableLsn(): number {
    return this.durableLsnValue;
  }
  /** Lowest LSN still in the log (cleanup removes older ones). */
  get firstLsn(): number {
    return this.segments[0]!.firstLsn;
  }
  get checkpointLsn(): number {
    return this.checkpointLsnValue;
  }
  /** Set when a write or sync failed; the log refuses appends until reopened. */
  get failed(): VecwalError | null {
    return this.failure;
  }

  /**
   * Append one atomic batch. Resolves with its LSNs once durable per the sync policy; rejects
   * with INVALID_ARGUMENT / RECORD_TOO_LARGE (nothing written) or WAL_FAILED / CLOSED. After a
   * WAL_FAILED rejection the batch may or may not be in the log after recovery.
   */
  append(records: AppendInput | readonly AppendInput[], options: { timestamp?: number } = {}): Promise<AppendResult> {
    let pending: Pending;
    try {
      const list = Array.isArray(records) ? (records as readonly AppendInput[]) : [records as AppendInput];
      const size = validateBatch(list);
      const timestamp = options.timestamp ?? this.opts.now();
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw invalidArgument(`timestamp must be a non-negative safe integer, got ${timestamp}`);
      this.checkWritable();
      pending = { records: list, timestamp, firstLsn: this.nextLsnValue, size, barrier: false, resolve: noop, reject: noop };
      this.nextLsnValue += list.length;
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue(pending);
  }

  /** Make everything written so far durable (useful with 'interval' and 'none'). */
  sync(): Promise<void> {
    try {
      this.checkWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    const p: Pending = { records: [], timestamp: 0, firstLsn: 0, size: 0, barrier: true, resolve: noop, reject: noop };
    return this.enqueue(p).then(() => undefined);
  }

  private enqueue(p: Pending): Promise<AppendResult> {
    const promise = new Promise<AppendResult>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    this.queue.push(p);
    const wake = this.wake;
    if (wake) {
      this.wake = null;
      wake();
    }
    if (!this.running) {
      this.running = true;
      queueMicrotask(() => void this.runLoop());
    }
    return promise;
  }

  private checkWritable(): void {
    if (this.closed) throw new VecwalError('CLOSED', `WAL ${this.dir} is closed`);
    if (this.failure) throw this.failure;
  }

  private async runLoop(): Promise<void> {
    for (;;) {
      const s = this.inFlightSync;
      if (s && (s.done || this.failure || this.queue.length === 0)) {
        if (!s.done && !this.failure) {
          // Nothing to write yet: wait for the sync or the next append, whichever comes first.
          await Promise.race([s.promise.catch(() => undefined), new Promise<void>((r) => (this.wake = r))]);
          this.wake = null;
          if (!s.done) continue; // an append arrived: write it while the sync runs
        }
        await this.finishSync().catch(() => undefined); // its group is settled either way
        continue;
      }
      if (this.queue.length === 0) break;
      if (this.failure) {
        for (const p of this.queue.splice(0)) p.reject(this.failure);
        break;
      }
      const group = this.takeGroup();
      try {
        await this.writeGroup(group);
        // The previous group's fdatasync ran while this group was written.
        await this.finishSync();
        const mustSync = this.opts.syncPolicy === 'always' || group.some((p) => p.barrier);
        if (mustSync && this.active.durableEnd < this.active.writeEnd) {
          const sync: InFlightSync = { promise: this.syncActive(group.filter((p) => !p.barrier)), group, done: false };
          // Marks completion, and handles a rejection so it is never unhandled while nobody awaits it.
          const settled = () => void (sync.done = true);
          sync.promise.then(settled, settled);
          this.inFlightSync = sync;
        } else {
          resolveGroup(group);
        }
        const cut = group.find((p) => p.rotateAtOrBelow !== undefined)?.rotateAtOrBelow;
        const a = this.active;
        if (cut !== undefined && a.writeEnd > SEGMENT_HEADER_SIZE && a.state.lastLsn <= cut) await this.rotate();
      } catch (e) {
        this.poison(e);
        for (const p of group) p.reject(this.failure);
        continue;
      }
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Settle the group whose fdatasync is in flight: resolve it once the sync succeeds; on failure
   * poison the log, reject the group and throw. Called before the next group's sync, before a
   * rotation (which seals and closes the handle being synced) and when the queue runs dry.
   */
  private async finishSync(): Promise<void> {
    const s = this.inFlightSync;
    if (!s) return;
    try {
      await s.promise;
    } catch (e) {
      this.poison(e);
      if (this.inFlightSync === s) this.inFlightSync = null;
      for (const p of s.group) p.reject(this.failure);
      throw this.failure;
    }
    if (this.inFlightSync === s) this.inFlightSync = null;
    resolveGroup(s.group);
  }

  private takeGroup(): Pending[] {
    let bytes = 0;
    let n = 0;
    for (const p of this.queue) {
      if (n > 0 && bytes + p.size > this.opts.groupCommitBytesMax) break;
      bytes += p.size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  /** Write the group's frames, rotating to new segments as they fill (no sync). */
  private async writeGroup(group: Pending[]): Promise<void> {
    const frames = group.filter((p) => !p.barrier);
    let i = 0;
    while (i < frames.length) {
      const a = this.active;
      let bytes = 0;
      let j = i;
      while (j < frames.length && (a.writeEnd + bytes + frames[j]!.size <= this.opts.segmentSizeBytes || (j === i && a.writeEnd === SEGMENT_HEADER_SIZE))) {
        bytes += frames[j]!.size;
        j++;
      }
      if (j === i) {
        await this.rotate();
        continue;
      }
      await this.writeFrames(frames.slice(i, j), bytes);
      i = j;
    }
  }

  private async writeFrames(frames: Pending[], bytes: number): Promise<void> {
    const a = this.active;
    await this.preallocate(a.writeEnd + bytes, bytes);
    // Headers and small payloads are copied into the encode buffer; big payload parts (vector
    // columns) go to the file from the caller's memory in the same gathered write.
    let scratchBytes = 0;
    const gatherMin = this.opts.gatherMinBytes;
    for (const p of frames) scratchBytes += frameScratchBytes(p.records, gatherMin);
    const buf = this.encodeBuffer(scratchBytes);
    const pieces: Uint8Array[] = [];
    let at = 0;
    let size = 0;
    for (const p of frames) {
      const f = encodeFrameGather(buf, at, p.records, { firstLsn: p.firstLsn, timestamp: p.timestamp, syncedThrough: a.durableEnd, saltSeed: a.seed }, pieces, gatherMin);
      at += f.used;
      size += f.size;
    }
    if (size !== bytes) throw new Error(`vecwal invariant violated: frames encoded to ${size} bytes, expected ${bytes}`);
    try {
      await writevFully(a.handle, coalesce(pieces), a.writeEnd);
    } catch (e) {
      throw ioError('write', a.handle.path, e);
    }
    a.writeEnd += bytes;
    if (a.allocatedEnd < a.writeEnd) a.allocatedEnd = a.writeEnd;
    const last = frames[frames.length - 1]!;
    this.writtenLsn = last.firstLsn + last.records.length - 1;
    a.state.lastLsn = this.writtenLsn;
    a.state.sizeBytes = a.writeEnd;
    const marks = this.marks.get(a.state);
    if (!marks) this.marks.set(a.state, [this.writtenLsn, a.writeEnd]);
    else if (a.writeEnd - marks[marks.length - 1]! >= MARK_BYTES) marks.push(this.writtenLsn, a.writeEnd);
    this.counters.appends += frames.length;
    this.counters.bytesAppended += bytes;
    for (const p of frames) this.counters.records += p.records.length;
  }

  /**
   * fdatasync the active segment. It makes durable what was written before it started; the next
   * group may be written meanwhile, so the durable end and LSN are the ones taken at the start.
   */
  private async syncActive(frames: readonly Pending[]): Promise<void> {
    const a = this.active;
    const end = a.writeEnd;
    const lsn = this.writtenLsn;
    const t0 = performance.now();
    try {
      await a.handle.datasync();
    } catch (e) {
      throw ioError('fdatasync', a.handle.path, e);
    }
    if (end > a.durableEnd) a.durableEnd = end;
    if (lsn > this.durableLsnValue) this.durableLsnValue = lsn;
    this.counters.syncs++;
    this.counters.groups++;
    if (this.listenerCount('sync') > 0) this.emit('sync', { durationMs: performance.now() - t0, batches: frames.length, bytes: frames.reduce((n, p) => n + p.size, 0) });
  }

  /**
   * One encode buffer, reused group after group (the loop writes one group at a time, and a
   * write's buffer is free again once it settles): mapping fresh memory for every group cost
   * more than the copy itself. Very large groups get a buffer of their own.
   */
  private encodeBuffer(bytes: number): Uint8Array {
    if (bytes > ENCODE_BUFFER_KEEP_BYTES) return new Uint8Array(bytes);
    if (this.encodeBuf.length < bytes) this.encodeBuf = new Uint8Array(Math.min(ENCODE_BUFFER_KEEP_BYTES, Math.max(bytes, this.encodeBuf.length * 2, 64 * 1024)));
    return this.encodeBuf.subarray(0, bytes);
  }

  /**
   * Extend the active segment with zeros so that `end` lies inside allocated space. Groups of
   * PREALLOCATE_SKIP_BYTES or more skip it: their one write extends the file anyway, and zeros
   * first would double the bytes written.
   */
  private async preallocate(end: number, groupBytes: number): Promise<void> {
    const a = this.active;
    if (this.opts.preallocateBytes === 0 || end <= a.allocatedEnd || groupBytes >= PREALLOCATE_SKIP_BYTES) return;
    const target = Math.max(end, Math.min(a.allocatedEnd + this.opts.preallocateBytes, this.opts.segmentSizeBytes));
    try {
      for (let pos = a.allocatedEnd; pos < target; pos += this.zeros.length) {
        await writeFully(a.handle, this.zeros, 0, Math.min(this.zeros.length, target - pos), pos);
      }
    } catch (e) {
      throw ioError('preallocate', a.handle.path, e);
    }
    a.allocatedEnd = target;
  }

  /** Seal the active segment (cut the zeros, fdatasync) and start the next one. */
  private async rotate(): Promise<void> {
    await this.finishSync(); // the seal below closes the handle that sync is running on
    const a = this.active;
    await this.seal(a);
    await a.handle.close().catch(() => undefined);
    const next = await createSegmentFile(this.fs, this.dir, a.state.segmentNo + 1, this.writtenLsn + 1, this.opts.now(), this.opts.salt());
    a.state.sealedAtMs = next.createdAtMs;
    this.segments.push(next);
    await this.openActive();
    this.counters.rotations++;
    this.checkPressure();
  }

  private async seal(a: Active): Promise<void> {
    try {
      if (a.allocatedEnd > a.writeEnd) await a.handle.truncate(a.writeEnd);
      await a.handle.datasync();
    } catch (e) {
      throw ioError('seal', a.handle.path, e);
    }
    a.allocatedEnd = a.writeEnd;
    a.durableEnd = a.writeEnd;
    this.durableLsnValue = this.writtenLsn;
  }

  private async openActive(): Promise<void> {
    const state = this.segments[this.segments.length - 1]!;
    const handle = await this.fs.open(state.path, 'r+');
    let size: number;
    try {
      size = await handle.size();
      // A reused segment may hold bytes a crashed process left in the page cache. Make them
      // durable before any new frame claims (syncedThrough) that they are.
      await handle.datasync();
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
    this.active = { state, handle, seed: saltSeed(state.salt), writeEnd: state.sizeBytes, durableEnd: state.sizeBytes, allocatedEnd: Math.max(size, state.sizeBytes) };
  }

  private startTimer(): void {
    this.timer = setInterval(() => {
      if (this.closed || this.failure || this.writtenLsn <= this.durableLsnValue || this.running) return;
      this.sync().catch(() => undefined);
    }, this.opts.syncIntervalMs);
    this.timer.unref();
  }

  private poison(e: unknown): void {
    if (this.failure) return;
    const cause = e instanceof VecwalError && e.code === 'IO_ERROR' ? e : ioError('append', this.active.handle.path, e);
    this.failure = new VecwalError('WAL_FAILED', `WAL ${this.dir} failed and refuses writes until reopened: ${cause.message}`, { cause, file: cause.details.file });
  }

  /** Resolves when no group is being written. */
  private idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Read batches from `fromLsn` (default: the first in the log) through the last LSN written
   * when the iteration starts. A batch that contains fromLsn is yielded whole.
   */
  async *read(fromLsn = this.firstLsn, options: { toLsn?: number } = {}): AsyncGenerator<WalBatch> {
    if (this.closed) throw new VecwalError('CLOSED', `WAL ${this.dir} is closed`);
    if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) throw invalidArgument(`fromLsn must be a positive integer, got ${fromLsn}`);
    if (fromLsn < this.firstLsn) {
      throw new VecwalError('LSN_OUT_OF_RANGE', `LSN ${fromLsn} was cleaned up; the log starts at ${this.firstLsn}`, { lsnRange: [this.firstLsn, this.writtenLsn] });
    }
    const toLsn = Math.min(options.toLsn ?? Infinity, this.writtenLsn);
    const pin = `read#${Math.random()}`;
    this.readers.set(pin, fromLsn);
    try {
      for (const seg of this.segments.slice()) {
        if (seg.lastLsn < fromLsn || seg.firstLsn > toLsn) continue;
        const limit = seg === this.active.state ? this.active.writeEnd : undefined;
        yield* this.readSegment(seg, fromLsn, toLsn, limit);
        this.readers.set(pin, seg.lastLsn + 1);
      }
    } finally {
      this.readers.delete(pin);
    }
  }

  private async *readSegment(seg: SegmentState, fromLsn: number, toLsn: number, limit: number | undefined): AsyncGenerator<WalBatch> {
    const cursor = await SegmentCursor.open(this.fs, seg.path, limit);
    try {
      for (let more = true; more; ) {
        const steps = await cursor.nextBatch(true);
        more = steps.length > 0;
        for (const step of steps) {
          if (!('frame' in step)) {
            if (this.skipped.has(`${seg.path}:${step.offset}`)) continue;
            throw corruption(seg.path, step.offset, step.reason, { lsnRange: [step.lsnBefore + 1, seg.lastLsn] });
          }
          const f = step.frame;
          const last = f.firstLsn + f.records.length - 1;
          if (last < fromLsn) continue;
          if (f.firstLsn > toLsn) {
            more = false;
            break;
          }
          yield { firstLsn: f.firstLsn, lastLsn: last, timestamp: f.timestamp, records: f.records };
        }
      }
      if (cursor.scan.headerError) throw corruption(seg.path, 0, cursor.scan.headerError);
    } finally {
      await cursor.close();
    }
  }

  /** Mark `lsn` as the highest LSN whose effects are safe elsewhere (flushed). Never moves back. */
  checkpoint(lsn: number): void {
    if (!Number.isSafeInteger(lsn) || lsn < 0) throw invalidArgument(`checkpoint LSN must be a non-negative integer, got ${lsn}`);
    if (lsn > this.writtenLsn) throw invalidArgument(`checkpoint LSN ${lsn} is beyond the last written LSN ${this.writtenLsn}`);
    this.checkpointLsnValue = Math.max(this.checkpointLsnValue, lsn);
  }

  /** LogBackend: checkpoint at `uptoLsn`, then clean up under the retention policy. */
  async truncate(uptoLsn: number): Promise<void> {
    this.checkpoint(uptoLsn);
    // If the active segment holds nothing above the checkpoint, seal it: the next open then
    // skips it by its header instead of reading it all (it can be up to segmentSizeBytes).
    const a = this.active;
    if (a.writeEnd > SEGMENT_HEADER_SIZE && a.state.lastLsn <= uptoLsn) {
      const p: Pending = { records: [], timestamp: 0, firstLsn: 0, size: 0, barrier: true, rotateAtOrBelow: uptoLsn, resolve: noop, reject: noop };
      this.checkWritable();
      await this.enqueue(p);
    }
    await this.cleanup();
  }

  /** Keep everything from `lsn` on for a named reader (a replica, a slow consumer). */
  registerReader(name: string, lsn: number): void {
    this.readers.set(name, lsn);
  }
  releaseReader(name: string): void {
    this.readers.delete(name);
  }

  /**
   * Delete segments under the retention policy (retention.ts); never anything above the
   * checkpoint or needed by a reader. Emits 'pressure' when unflushed data alone breaks a limit.
   */
  async cleanup(): Promise<{ deleted: string[]; pressure: boolean }> {
    this.checkWritable();
    let safe = this.checkpointLsnValue;
    for (const lsn of this.readers.values()) safe = Math.min(safe, lsn - 1);
    const plan = planRetention(this.summaries(), safe, this.opts.retention, this.opts.now());
    const deleted: string[] = [];
    for (const no of plan.delete) {
      const seg = this.segments[0]!;
      if (seg.segmentNo !== no || seg === this.active.state) break;
      try {
        await this.fs.unlink(seg.path);
      } catch (e) {
        throw ioError('cleanup', seg.path, e);
      }
      this.segments.shift(); // gone from the directory: gone from the list, whatever happens next
      deleted.push(seg.path);
      try {
        await this.fs.syncDir(this.dir); // one at a time, oldest first: the log stays a contiguous suffix
      } catch (e) {
        throw ioError('cleanup', this.dir, e);
      }
    }
    if (plan.pressure) this.emit('pressure', plan.pressure);
    return { deleted, pressure: plan.pressure !== null };
  }

  private checkPressure(): void {
    if (this.listenerCount('pressure') === 0) return;
    const plan = planRetention(this.summaries(), -1, this.opts.retention, this.opts.now());
    if (plan.pressure) this.emit('pressure', plan.pressure);
  }

  private summaries(): SegmentSummary[] {
    return this.segments.map((s) => ({ segmentNo: s.segmentNo, firstLsn: s.firstLsn, lastLsn: s.lastLsn, sizeBytes: s.sizeBytes, sealedAtMs: s.sealedAtMs }));
  }

  /**
   * Log bytes holding LSNs above `lsn` (what a replay from lsn + 1 applies): whole segments, and
   * in the segment holding lsn + 1 the bytes after the last mark at or below lsn (at most
   * MARK_BYTES too many), or all of it if this process did not write it.
   */
  bytesAbove(lsn: number): number {
    let n = 0;
    for (const s of this.segments) {
      if (s.lastLsn <= lsn) continue;
      let from = 0;
      const marks = s.firstLsn <= lsn ? this.marks.get(s) : undefined;
      if (marks) for (let i = 0; i < marks.length && marks[i]! <= lsn; i += 2) from = marks[i + 1]!;
      n += s.sizeBytes - from;
    }
    return n;
  }

  /** Segments in the log, oldest first. */
  listSegments(): SegmentSummary[] {
    return this.summaries();
  }

  stats(): WalStats {
    return { ...this.counters, segments: this.segments.length, totalBytes: this.segments.reduce((n, s) => n + s.sizeBytes, 0) };
  }

  /** Finish queued appends, cut the preallocated zeros, sync, release the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
    try {
      if (!this.failure) await this.seal(this.active);
    } finally {
      await this.active.handle.close().catch(() => undefined);
      await this.lock?.release();
      this.lock = null;
    }
  }
}

function noop(): void {}

function validateBatch(list: readonly AppendInput[]): number {
  if (list.length === 0) throw invalidArgument('a batch needs at least one record');
  let body = 0;
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    if (!r || typeof r !== 'object') throw invalidArgument(`record ${i} is not an object`);
    if (!isValidOp(r.op)) throw invalidArgument(`record ${i} has unknown op type ${String(r.op)}`);
    const parts = r.payload instanceof Uint8Array ? null : r.payload;
    if (parts ? !Array.isArray(parts) || !parts.every((x) => x instanceof Uint8Array) : !(r.payload instanceof Uint8Array)) {
      throw invalidArgument(`record ${i} payload must be a Uint8Array or an array of them`);
    }
    const len = payloadLength(r.payload);
    if (len > MAX_RECORD_PAYLOAD_BYTES) {
      throw new VecwalError('RECORD_TOO_LARGE', `record ${i} payload is ${len} bytes; the maximum is ${MAX_RECORD_PAYLOAD_BYTES}`);
    }
    body += 8 + len;
  }
  if (body > MAX_FRAME_BODY_BYTES) throw new VecwalError('RECORD_TOO_LARGE', `batch body is ${body} bytes; the maximum is ${MAX_FRAME_BODY_BYTES}`);
  return frameSize(list);
}

function resolveOptions(o: WalOptions): Wal['opts'] {
  const retention = { ...DEFAULT_RETENTION, ...(o.retention ?? {}) };
  const opts = {
    syncPolicy: o.syncPolicy ?? DEFAULTS.syncPolicy,
    syncIntervalMs: o.syncIntervalMs ?? DEFAULTS.syncIntervalMs,
    segmentSizeBytes: o.segmentSizeBytes ?? DEFAULTS.segmentSizeBytes,
    groupCommitBytesMax: o.groupCommitBytesMax ?? DEFAULTS.groupCommitBytesMax,
    preallocateBytes: o.preallocateBytes ?? DEFAULTS.preallocateBytes,
    gatherMinBytes: o.gatherMinBytes ?? DEFAULTS.gatherMinBytes,
    recoveryMode: o.recoveryMode ?? DEFAULTS.recoveryMode,
    retention,
    now: o.now ?? Date.now,
    salt: o.salt ?? (() => randomInt(0, 0xffffffff)),
  };
  const bad = (msg: string) => new VecwalError('INVALID_CONFIG', msg);
  if (!['always', 'interval', 'none'].includes(opts.syncPolicy)) throw bad(`syncPolicy must be always, interval or none, got ${String(opts.syncPolicy)}`);
  if (!(opts.syncIntervalMs >= 1)) throw bad('syncIntervalMs must be >= 1');
  if (!Number.isSafeInteger(opts.segmentSizeBytes) || opts.segmentSizeBytes < SEGMENT_HEADER_SIZE + FRAME_HEADER_SIZE + 8) throw bad('segmentSizeBytes is too small');
  if (!(opts.groupCommitBytesMax >= 1)) throw bad('groupCommitBytesMax must be >= 1');
  if (!(opts.gatherMinBytes >= 1)) throw bad('gatherMinBytes must be >= 1');
  if (!Number.isSafeInteger(opts.preallocateBytes) || opts.preallocateBytes < 0) throw bad('preallocateBytes must be a non-negative integer');
  if (!['tolerate-corrupted-tail', 'absolute-consistency', 'point-in-time', 'skip-corrupted'].includes(opts.recoveryMode)) throw bad(`unknown recoveryMode ${String(opts.recoveryMode)}`);
  const r = validateRetention(retention);
  if (r) throw bad(`retention: ${r}`);
  return opts;
}

/** Create segment `no` durably: tmp file with header, fsync, rename, fsync the directory. */
export async function createSegmentFile(fs: FileSystem, dir: string, no: number, firstLsn: number, nowMs: number, salt: number, flags = 0): Promise<SegmentState> {
  const path = joinPath(dir, segmentFileName(no));
  const tmp = `${path}.tmp`;
  const header = encodeSegmentHeader({ segmentNo: no, firstLsn, createdAtMs: nowMs, salt, flags });
  try {
    const h = await fs.open(tmp, 'w');
    try {
      await writeFully(h, header, 0, header.length, 0);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, path);
    await fs.syncDir(dir);
  } catch (e) {
    throw ioError('create segment', path, e);
  }
  return { segmentNo: no, path, firstLsn, lastLsn: firstLsn - 1, sizeBytes: SEGMENT_HEADER_SIZE, createdAtMs: nowMs, sealedAtMs: null, salt };
}

export { parseSegmentFileName };
