/**
 * Open-time recovery of a WAL directory: list the segments, read each one, classify what the
 * reader found (recovery.ts decides per mode), carry out the action, pass intact batches to the
 * replay callback, and report. Idempotent: running it again on its own result finds a clean log.
 *
 * Order of the work, and why:
 *   1. Leftover `wal_N.log.tmp` files (a segment creation cut short) are deleted: a segment only
 *      counts once renamed, after its header was fsynced.
 *   2. Headers of all segments are read first, so that segments wholly below `replayFromLsn`
 *      can be passed over without reading them (their last LSN is the next one's first - 1).
 *   3. Segments are scanned oldest first; LSNs must continue across segment boundaries.
 *   4. A torn tail is cut (ftruncate + fdatasync) before open returns, and the caller starts a
 *      fresh segment (new salt) for appends, so no byte of the torn region can ever be read as
 *      part of a later frame.
 */
import type { FileSystem } from '../fs/fs.js';
import { joinPath, readFully } from '../fs/io.js';
import { VecwalError, corruption, ioError } from '../errors.js';
import { decodeSegmentHeader, type SegmentHeader } from './codec.js';
import { SEGMENT_FLAG_RESTART, SEGMENT_HEADER_SIZE, parseSegmentFileName } from './format.js';
import { SegmentCursor, type BadSpot, type SegmentScan } from './segment-reader.js';
import { classifySpot, decide, type FindingKind, type Position, type RecoveryAction, type RecoveryMode, type RecoveryReport } from './recovery.js';
import type { WalBatch } from './wal.js';

export interface SegmentState {
  segmentNo: number;
  path: string;
  firstLsn: number;
  /** Last LSN held; firstLsn - 1 when empty. */
  lastLsn: number;
  /** Bytes of header and intact frames. */
  sizeBytes: number;
  createdAtMs: number;
  sealedAtMs: number | null;
  salt: number;
}

export interface RecoverOptions {
  mode: RecoveryMode;
  replayFromLsn: number;
  onReplay?: (batch: WalBatch) => void | Promise<void>;
  /** Inspect only: report what recovery would do, change nothing (CLI verify). */
  dryRun?: boolean;
}

export interface RecoverResult {
  segments: SegmentState[];
  report: RecoveryReport;
  /** The last segment is intact and may take appends; otherwise start a new segment. */
  reuseLast: boolean;
}

interface Listed {
  no: number;
  path: string;
  size: number;
  header: SegmentHeader | null;
  headerError: string | null;
}

export async function recoverLog(fs: FileSystem, dir: string, o: RecoverOptions): Promise<RecoverResult> {
  const t0 = performance.now();
  const report: RecoveryReport = {
    mode: o.mode, outcome: 'clean', segments: 0, batches: 0, records: 0, firstLsn: 0, lastLsn: 0,
    replayedBatches: 0, replayedRecords: 0, bytesTruncated: 0, removedTempFiles: [], events: [], durationMs: 0,
  };
  const listed = await listSegments(fs, dir, report, o.dryRun ?? false);
  const segments: SegmentState[] = [];
  let reuseLast = true;
  for (let i = 0; i < listed.length; i++) {
    const seg = listed[i]!;
    const position: Position = i === listed.length - 1 ? 'last' : 'sealed';
    const prev = segments[segments.length - 1];
    const step = await recoverOne(fs, dir, seg, position, prev, listed[i + 1], o, report);
    if (step.state) segments.push(step.state);
    if (step.action !== 'accept') reuseLast = false;
    if (step.action === 'truncate-rest') {
      await setAside(fs, dir, listed.slice(i + 1), report, o.dryRun ?? false);
      break;
    }
  }
  for (let i = 0; i + 1 < segments.length; i++) segments[i]!.sealedAtMs = segments[i + 1]!.createdAtMs;
  report.segments = segments.length;
  report.firstLsn = segments.length ? segments[0]!.firstLsn : 0;
  report.lastLsn = segments.length ? segments[segments.length - 1]!.lastLsn : 0;
  if (report.events.some((e) => e.action === 'truncate-rest' || e.action === 'skip' || e.finding === 'corrupt')) report.outcome = 'salvaged';
  else if (report.events.length > 0) report.outcome = 'repaired';
  report.durationMs = performance.now() - t0;
  return { segments, report, reuseLast: reuseLast && segments.length > 0 };
}

async function listSegments(fs: FileSystem, dir: string, report: RecoveryReport, dryRun: boolean): Promise<Listed[]> {
  const out: Listed[] = [];
  for (const name of await fs.readdir(dir)) {
    const path = joinPath(dir, name);
    if (/^wal_\d+\.log\.tmp$/.test(name)) {
      if (!dryRun) await fs.unlink(path);
      report.removedTempFiles.push(path);
      continue;
    }
    const no = parseSegmentFileName(name);
    if (no === null) continue;
    const h = await fs.open(path, 'r');
    try {
      const size = await h.size();
      const buf = new Uint8Array(SEGMENT_HEADER_SIZE);
      const n = await readFully(h, buf, 0, SEGMENT_HEADER_SIZE, 0);
      const d = decodeSegmentHeader(buf.subarray(0, n));
      let headerError = d.ok ? null : d.reason;
      if (d.ok && d.header.segmentNo !== no) headerError = `header says segment ${d.header.segmentNo}, file name says ${no}`;
      out.push({ no, path, size, header: d.ok && !headerError ? d.header : null, headerError });
    } finally {
      await h.close();
    }
  }
  if (report.removedTempFiles.length > 0 && !dryRun) await fs.syncDir(dir);
  return out.sort((a, b) => a.no - b.no);
}

interface Step {
  action: RecoveryAction;
  state: SegmentState | null;
}

async function recoverOne(
  fs: FileSystem, dir: string, seg: Listed, position: Position, prev: SegmentState | undefined,
  next: Listed | undefined, o: RecoverOptions, report: RecoveryReport,
): Promise<Step> {
  if (!seg.header) return headerProblem(fs, dir, seg, position, o, report);
  const h = seg.header;
  // A RESTART segment starts above its predecessor on purpose (Wal.open's nextLsnAtLeast).
  const restart = ((h.flags ?? 0) & SEGMENT_FLAG_RESTART) !== 0 && prev !== undefined && h.firstLsn > prev.lastLsn;
  if (prev && h.firstLsn !== prev.lastLsn + 1 && !restart) {
    const action = decide('gap', position, o.mode);
    const range: [number, number] | null = h.firstLsn > prev.lastLsn + 1 ? [prev.lastLsn + 1, h.firstLsn - 1] : null;
    const reason = `segment starts at LSN ${h.firstLsn} but the previous one ends at ${prev.lastLsn}`;
    report.events.push({ file: seg.path, offset: 0, finding: 'gap', reason, action, lsnRange: range, bytes: 0 });
    if (action === 'fail') throw corruption(seg.path, 0, reason, { lsnRange: range ?? undefined });
    if (action === 'truncate-rest') {
      await setAside(fs, dir, [seg], report, o.dryRun ?? false);
      return { action, state: null };
    }
  }
  const state: SegmentState = {
    segmentNo: seg.no, path: seg.path, firstLsn: h.firstLsn, lastLsn: h.firstLsn - 1,
    sizeBytes: SEGMENT_HEADER_SIZE, createdAtMs: h.createdAtMs, sealedAtMs: null, salt: h.salt,
  };
  // A sealed segment wholly below the replay point need not be read: the next header gives its end.
  if (position === 'sealed' && next?.header && next.header.firstLsn - 1 < o.replayFromLsn && (!prev || h.firstLsn === prev.lastLsn + 1)) {
    state.lastLsn = next.header.firstLsn - 1;
    state.sizeBytes = seg.size;
    report.records += state.lastLsn - state.firstLsn + 1; // LSNs are dense: exact without reading
    return { action: 'accept', state };
  }
  const scan = await scanAndReplay(fs, seg.path, o, report);
  state.lastLsn = scan.lastLsn;
  state.sizeBytes = scan.validEnd;
  report.batches += scan.frames;
  report.records += scan.records;
  let action: RecoveryAction = 'accept';
  for (const spot of scan.bad) {
    const finding = classifySpot(spot, position);
    const a = decide(finding, position, o.mode);
    const isTail = spot.resumeAt === null;
    // Nothing intact after the damage in this segment: skipping means cutting this segment's
    // tail; later segments are still read (skip mode accepts the LSN gap that follows).
    const effective: RecoveryAction = a === 'skip' && isTail ? 'truncate' : a;
    const lsnRange = lostRange(spot, scan, next, effective);
    const bytes = effective === 'skip' ? spot.resumeAt! - spot.offset : seg.size - spot.offset;
    report.events.push({ file: seg.path, offset: spot.offset, finding, reason: spot.reason, action: effective, lsnRange, bytes });
    if (effective === 'fail') throw failure(seg.path, spot, finding, lsnRange);
    if (effective !== 'skip') action = effective;
    if (effective === 'skip' && action === 'accept') action = 'skip';
  }
  if (action === 'truncate' || action === 'truncate-rest') {
    const cut = scan.bad[scan.bad.length - 1]!.offset;
    if (!(o.dryRun ?? false)) await truncateAt(fs, seg.path, cut);
    report.bytesTruncated += seg.size - cut;
    state.sizeBytes = cut;
  }
  return { action, state };
}

async function scanAndReplay(fs: FileSystem, path: string, o: RecoverOptions, report: RecoveryReport): Promise<SegmentScan> {
  const cursor = await SegmentCursor.open(fs, path);
  try {
    const skip = o.mode === 'skip-corrupted';
    for (;;) {
      const steps = await cursor.nextBatch(skip);
      if (steps.length === 0) break;
      for (const step of steps) {
        if (!('frame' in step)) continue;
        const f = step.frame;
        const last = f.firstLsn + f.records.length - 1;
        if (o.onReplay && last >= o.replayFromLsn) {
          const r = o.onReplay({ firstLsn: f.firstLsn, lastLsn: last, timestamp: f.timestamp, records: f.records });
          if (r) await r; // a synchronous callback costs no await per batch
          report.replayedBatches++;
          report.replayedRecords += f.records.length;
        }
      }
    }
    return cursor.scan;
  } finally {
    await cursor.close();
  }
}

/**
 * LSNs a bad spot costs. Skipping loses only the damaged frames (up to the next intact one);
 * cutting loses everything after the spot in this segment too (and, for truncate-rest, the
 * later segments, reported separately as set aside).
 */
function lostRange(spot: BadSpot, scan: SegmentScan, next: Listed | undefined, action: RecoveryAction): [number, number] | null {
  const from = spot.lsnBefore + 1;
  let to: number | null;
  if (action === 'skip') to = spot.laterLsnRange ? spot.laterLsnRange[0] - 1 : null;
  else to = spot.laterLsnRange ? spot.laterLsnRange[1] : null;
  if (to === null && next?.header) to = next.header.firstLsn - 1;
  return to !== null && to >= from ? [from, to] : null;
}

function failure(file: string, spot: BadSpot, finding: FindingKind, lsnRange: [number, number] | null): VecwalError {
  const why = finding === 'torn'
    ? 'torn tail (recovery mode absolute-consistency refuses to repair it)'
    : spot.provenDurable
      ? 'data that was acknowledged as durable is damaged'
      : 'damage inside a sealed segment';
  return corruption(file, spot.offset, `${spot.reason}; ${why}`, { lsnRange: lsnRange ?? undefined, finding });
}

async function headerProblem(fs: FileSystem, dir: string, seg: Listed, position: Position, o: RecoverOptions, report: RecoveryReport): Promise<Step> {
  const blank = position === 'last' && (await isBlank(fs, seg.path));
  const finding: FindingKind = blank ? 'blank' : 'bad-header';
  const action = decide(finding, position, o.mode);
  const reason = seg.headerError ?? 'bad header';
  report.events.push({ file: seg.path, offset: 0, finding, reason, action, lsnRange: null, bytes: seg.size });
  if (action === 'fail') throw corruption(seg.path, 0, reason, { finding });
  if (!(o.dryRun ?? false)) {
    if (action === 'remove') {
      await fs.unlink(seg.path);
      await fs.syncDir(dir);
    } else {
      await setAside(fs, dir, [seg], report, false); // skip or truncate-rest: the segment is unreadable
    }
  }
  return { action, state: null };
}

async function isBlank(fs: FileSystem, path: string): Promise<boolean> {
  const h = await fs.open(path, 'r');
  try {
    const size = await h.size();
    const buf = new Uint8Array(Math.min(size, 1 << 20));
    for (let pos = 0; pos < size; pos += buf.length) {
      const n = await readFully(h, buf, 0, buf.length, pos);
      for (let i = 0; i < n; i++) if (buf[i] !== 0) return false;
    }
    return true;
  } finally {
    await h.close();
  }
}

async function truncateAt(fs: FileSystem, path: string, offset: number): Promise<void> {
  try {
    const h = await fs.open(path, 'r+');
    try {
      await h.truncate(offset);
      await h.datasync();
    } finally {
      await h.close();
    }
  } catch (e) {
    throw ioError('truncate torn tail', path, e);
  }
}

/** Point-in-time / skip: rename unusable segments to `*.dropped` (kept for forensics, never read). */
/** `base`, or `base.2`, `base.3`, ...: the first name not taken (an earlier salvage may have used base). */
async function freeName(fs: FileSystem, base: string): Promise<string> {
  let name = base;
  for (let n = 2; await fs.stat(name); n++) name = `${base}.${n}`;
  return name;
}

async function setAside(fs: FileSystem, dir: string, segs: Listed[], report: RecoveryReport, dryRun: boolean): Promise<void> {
  for (const s of segs) {
    if (!report.events.some((e) => e.file === s.path)) {
      report.events.push({ file: s.path, offset: 0, finding: 'corrupt', reason: 'after the recovery point', action: 'truncate-rest', lsnRange: null, bytes: s.size });
    }
    if (!dryRun) await fs.rename(s.path, await freeName(fs, `${s.path}.dropped`));
  }
  if (segs.length > 0 && !dryRun) await fs.syncDir(dir);
}

export { VecwalError };
