/**
 * Read-only analysis of a WAL directory for `vecwal wal inspect|verify|dump|repair`.
 *
 * Nothing here takes the directory lock or writes: segments are read with the same reader
 * recovery uses (SegmentCursor via scanSegment), so what inspect shows is exactly what open
 * would see, and the tools can run next to a live writer or on a log that cannot be opened.
 * What recovery would *do* is asked of recoverLog itself in dry-run mode (planRepair), so the
 * CLI never re-implements the decision table and cannot drift from it.
 */
import type { FileSystem } from '../fs/fs.js';
import { joinPath, readFile, readFully } from '../fs/io.js';
import { isVecwalError, type VecwalError } from '../errors.js';
import { decodeSegmentHeader, type SegmentHeader } from '../wal/codec.js';
import { SEGMENT_HEADER_SIZE, parseSegmentFileName } from '../wal/format.js';
import { SegmentCursor, scanSegment, type BadSpot, type SegmentScan } from '../wal/segment-reader.js';
import { classifySpot, type FindingKind, type Position, type RecoveryEvent, type RecoveryMode } from '../wal/recovery.js';
import { recoverLog, type SegmentState } from '../wal/wal-recovery.js';
import { errorJson, formatTable, lsnRangeText } from './common.js';

/** What a directory holds, by kind of name. Names, not paths. */
export interface DirListing {
  /** `wal_N.log`, in segment order. */
  segments: { name: string; no: number }[];
  /** `wal_N.log.tmp`: a segment creation cut short (open deletes them). */
  tempFiles: string[];
  /** `*.dropped`: set aside by an earlier point-in-time or skip-corrupted recovery. */
  droppedFiles: string[];
  /** `repair-*`: copies kept by earlier `vecwal wal repair` runs. */
  repairDirs: string[];
  /** Contents of the LOCK file (`pid host`), or null when no one holds the lock. */
  lockHolder: string | null;
}

export type TailState =
  | { state: 'clean' }
  | { state: 'torn'; offset: number; kind: string; reason: string; bytes: number }
  | {
      state: 'corrupt'; offset: number; kind: string; reason: string; bytes: number;
      provenDurable: boolean; laterFrames: number; laterLsnRange: [number, number] | null;
    }
  | { state: 'bad-header'; offset: 0; reason: string; bytes: number }
  | { state: 'blank'; offset: 0; reason: string; bytes: number };

export interface SegmentInfo {
  file: string;
  path: string;
  /** The number in the file name. */
  segmentNo: number;
  sizeBytes: number;
  /** Header plus intact frames: where the readable log ends in this file. */
  validBytes: number;
  /** Null when the header does not decode. */
  firstLsn: number | null;
  /** Null when the segment holds no readable record. */
  lastLsn: number | null;
  batches: number;
  records: number;
  createdAtMs: number | null;
  salt: number | null;
  position: Position;
  tail: TailState;
  /** LSNs of this segment from the damage on (what the default mode would refuse to pass). */
  lsnsAtRisk: [number, number] | null;
}

export interface GapInfo {
  file: string;
  /** LSN the segment should start with (previous segment's last + 1). */
  expected: number;
  firstLsn: number;
  missing: [number, number] | null;
}

export interface DirReport {
  dir: string;
  listing: DirListing;
  segments: SegmentInfo[];
  gaps: GapInfo[];
  totals: { segments: number; sizeBytes: number; batches: number; records: number; lsnRange: [number, number] | null };
}

const TEMP_NAME = /^wal_\d+\.log\.tmp$/;

export async function listDir(fs: FileSystem, dir: string): Promise<DirListing> {
  const l: DirListing = { segments: [], tempFiles: [], droppedFiles: [], repairDirs: [], lockHolder: null };
  for (const name of await fs.readdir(dir)) {
    const no = parseSegmentFileName(name);
    if (no !== null) l.segments.push({ name, no });
    else if (TEMP_NAME.test(name)) l.tempFiles.push(name);
    else if (name.endsWith('.dropped')) l.droppedFiles.push(name);
    else if (name.startsWith('repair-')) l.repairDirs.push(name);
    else if (name === 'LOCK') l.lockHolder = await readLock(fs, joinPath(dir, name));
  }
  l.segments.sort((a, b) => a.no - b.no);
  return l;
}

async function readLock(fs: FileSystem, path: string): Promise<string> {
  try {
    return new TextDecoder().decode(await readFile(fs, path)).trim() || '?';
  } catch {
    return '?'; // released between readdir and read: still worth a mention
  }
}

/** The segment header alone (48 bytes), for skipping whole segments without reading them. */
export async function readSegmentHeader(fs: FileSystem, path: string): Promise<SegmentHeader | null> {
  const h = await fs.open(path, 'r');
  try {
    const buf = new Uint8Array(SEGMENT_HEADER_SIZE);
    const n = await readFully(h, buf, 0, SEGMENT_HEADER_SIZE, 0);
    const d = decodeSegmentHeader(buf.subarray(0, n));
    return d.ok ? d.header : null;
  } finally {
    await h.close();
  }
}

/** Scan every segment front to back (read-only) and check LSN continuity across them. */
export async function analyzeDir(fs: FileSystem, dir: string): Promise<DirReport> {
  const listing = await listDir(fs, dir);
  const scans: SegmentScan[] = [];
  for (const s of listing.segments) scans.push(await scanSegment(fs, joinPath(dir, s.name)));
  const segments: SegmentInfo[] = [];
  for (let i = 0; i < scans.length; i++) {
    const next = scans[i + 1]?.header ?? null;
    segments.push(await describeSegment(fs, listing.segments[i]!, scans[i]!, i === scans.length - 1 ? 'last' : 'sealed', next));
  }
  return { dir, listing, segments, gaps: findGaps(segments), totals: totalsOf(segments) };
}

async function describeSegment(
  fs: FileSystem, entry: { name: string; no: number }, scan: SegmentScan, position: Position, next: SegmentHeader | null,
): Promise<SegmentInfo> {
  const h = scan.header;
  const info: SegmentInfo = {
    file: entry.name, path: scan.path, segmentNo: entry.no, sizeBytes: scan.fileSize, validBytes: scan.validEnd,
    firstLsn: h?.firstLsn ?? null, lastLsn: h && scan.records > 0 ? scan.lastLsn : null,
    batches: scan.frames, records: scan.records, createdAtMs: h?.createdAtMs ?? null, salt: h?.salt ?? null,
    position, tail: { state: 'clean' }, lsnsAtRisk: null,
  };
  // Recovery also refuses a header whose number disagrees with the name (a misplaced copy).
  const headerError = scan.headerError ?? (h && h.segmentNo !== entry.no ? `header says segment ${h.segmentNo}, file name says ${entry.no}` : null);
  if (headerError !== null) {
    info.firstLsn = info.lastLsn = info.createdAtMs = info.salt = null;
    info.batches = info.records = info.validBytes = 0;
    const blank = position === 'last' && (await isAllZero(fs, scan.path));
    info.tail = { state: blank ? 'blank' : 'bad-header', offset: 0, reason: headerError, bytes: scan.fileSize };
    return info;
  }
  const spot = scan.bad[0];
  if (spot) {
    info.tail = tailOf(spot, position, scan.fileSize);
    info.lsnsAtRisk = atRisk(spot, scan, next);
  }
  return info;
}

function tailOf(spot: BadSpot, position: Position, fileSize: number): TailState {
  const base = { offset: spot.offset, kind: spot.kind, reason: spot.reason, bytes: fileSize - spot.offset };
  if (classifySpot(spot, position) === 'torn') return { state: 'torn', ...base };
  return { state: 'corrupt', ...base, provenDurable: spot.provenDurable, laterFrames: spot.laterFrames, laterLsnRange: spot.laterLsnRange };
}

/** From the first LSN after the damage to the last this segment holds (as far as we can tell). */
function atRisk(spot: BadSpot, scan: SegmentScan, next: SegmentHeader | null): [number, number] | null {
  const from = scan.lastLsn + 1;
  const to = Math.max(spot.laterLsnRange?.[1] ?? -1, next ? next.firstLsn - 1 : -1);
  return to >= from ? [from, to] : null;
}

/**
 * LSNs must continue across segments. A segment whose predecessor is damaged is not compared:
 * the damage already explains the mismatch and would be reported twice.
 */
function findGaps(segments: SegmentInfo[]): GapInfo[] {
  const gaps: GapInfo[] = [];
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    const cur = segments[i]!;
    if (prev.tail.state !== 'clean' || prev.firstLsn === null || cur.firstLsn === null) continue;
    const expected = (prev.lastLsn ?? prev.firstLsn - 1) + 1;
    if (cur.firstLsn !== expected) {
      gaps.push({ file: cur.file, expected, firstLsn: cur.firstLsn, missing: cur.firstLsn > expected ? [expected, cur.firstLsn - 1] : null });
    }
  }
  return gaps;
}

function totalsOf(segments: SegmentInfo[]): DirReport['totals'] {
  const withRecords = segments.filter((s) => s.lastLsn !== null);
  const first = withRecords[0];
  const last = withRecords[withRecords.length - 1];
  return {
    segments: segments.length,
    sizeBytes: segments.reduce((n, s) => n + s.sizeBytes, 0),
    batches: segments.reduce((n, s) => n + s.batches, 0),
    records: segments.reduce((n, s) => n + s.records, 0),
    lsnRange: first && last ? [first.firstLsn!, last.lastLsn!] : null,
  };
}

async function isAllZero(fs: FileSystem, path: string): Promise<boolean> {
  const h = await fs.open(path, 'r');
  try {
    const size = await h.size();
    const buf = new Uint8Array(Math.min(size, 1 << 20));
    for (let pos = 0; pos < size; pos += buf.length) {
      const n = await readFully(h, buf, 0, buf.length, pos);
      if (n === 0) break;
      for (let i = 0; i < n; i++) if (buf[i] !== 0) return false;
    }
    return true;
  } finally {
    await h.close();
  }
}

// ---------------------------------------------------------------------------------------------
// What a recovery mode would do, as concrete file operations.

/**
 * One change recovery would make, and the bytes it would cut or drop:
 *   cut        truncate `file` at `offset`: bytes [offset, offset + bytes) leave the log
 *   set-aside  rename the whole file to `*.dropped` (kept on disk, never read again)
 *   remove     delete the whole file (a blank segment or a leftover temp file)
 *   skip       leave bytes [offset, offset + bytes) in place but read past them (LSN gap)
 */
export interface RepairStep {
  action: 'cut' | 'set-aside' | 'remove' | 'skip';
  file: string;
  path: string;
  offset: number;
  bytes: number;
  lsnRange: [number, number] | null;
  finding: FindingKind | 'temp-file';
  reason: string;
  /** Name of the copy `repair` keeps of those bytes in its backup directory. */
  copyName: string;
}

export type RepairPlan =
  | {
      mode: RecoveryMode; ok: true; outcome: 'clean' | 'repaired' | 'salvaged'; steps: RepairStep[];
      /** The log after recovery. */
      after: { segments: number; batches: number; records: number; lsnRange: [number, number] | null };
      events: RecoveryEvent[];
    }
  | { mode: RecoveryMode; ok: false; error: VecwalError };

/**
 * Ask recoverLog, in dry-run mode (no unlink, truncate, rename or sync), what `mode` would do,
 * and turn its report into file operations. `WAL_CORRUPTED` means the mode refuses the log.
 */
export async function planRepair(fs: FileSystem, report: DirReport, mode: RecoveryMode): Promise<RepairPlan> {
  let result: Awaited<ReturnType<typeof recoverLog>>;
  try {
    result = await recoverLog(fs, report.dir, { mode, replayFromLsn: 1, dryRun: true });
  } catch (e) {
    if (isVecwalError(e, 'WAL_CORRUPTED')) return { mode, ok: false, error: e };
    throw e;
  }
  const r = result.report;
  const steps = [...(await tempFileSteps(fs, r.removedTempFiles)), ...(await segmentSteps(fs, report, result.segments, r.events))];
  const lsnRange: [number, number] | null = r.records > 0 ? [r.firstLsn, r.lastLsn] : null;
  return { mode, ok: true, outcome: r.outcome, steps, after: { segments: r.segments, batches: r.batches, records: r.records, lsnRange }, events: r.events };
}

async function tempFileSteps(fs: FileSystem, paths: string[]): Promise<RepairStep[]> {
  const steps: RepairStep[] = [];
  for (const path of paths) {
    const file = baseName(path);
    const bytes = (await fs.stat(path))?.size ?? 0;
    steps.push({ action: 'remove', file, path, offset: 0, bytes, lsnRange: null, finding: 'temp-file', reason: 'leftover of an interrupted segment creation', copyName: file });
  }
  return steps;
}

/**
 * Per segment file with events: dropped whole, cut at its new end, and/or read past (skip).
 * LSN ranges come from our own scan, not from the events: an event's range names the damaged
 * LSNs, while a cut also removes the intact frames behind the damage.
 */
async function segmentSteps(fs: FileSystem, report: DirReport, kept: SegmentState[], events: RecoveryEvent[]): Promise<RepairStep[]> {
  const keptBy = new Map(kept.map((s) => [s.path, s]));
  const steps: RepairStep[] = [];
  for (const seg of report.segments) {
    const evs = events.filter((e) => e.file === seg.path);
    if (evs.length === 0) continue;
    const first = evs[0]!;
    const k = keptBy.get(seg.path);
    const base = { file: seg.file, path: seg.path };
    if (!k) {
      const action = evs.some((e) => e.action === 'remove') ? 'remove' : 'set-aside';
      const range = seg.firstLsn === null ? first.lsnRange : rangeOrNull(seg.firstLsn, lastLsnIn(seg));
      steps.push({ action, ...base, offset: 0, bytes: seg.sizeBytes, lsnRange: range, finding: first.finding, reason: first.reason, copyName: seg.file });
      continue;
    }
    const skips = evs.filter((x) => x.action === 'skip');
    const skipped = skips.length > 0 ? await skippedRanges(fs, seg.path) : new Map<number, [number, number] | null>();
    for (const e of skips) {
      steps.push({ action: 'skip', ...base, offset: e.offset, bytes: e.bytes, lsnRange: skipped.get(e.offset) ?? e.lsnRange, finding: e.finding, reason: e.reason, copyName: `${seg.file}.skipped-at-${e.offset}` });
    }
    const cut = [...evs].reverse().find((x) => x.action === 'truncate' || x.action === 'truncate-rest');
    if (cut && k.sizeBytes < seg.sizeBytes) {
      const range = rangeOrNull(k.lastLsn + 1, lastLsnIn(seg));
      steps.push({ action: 'cut', ...base, offset: k.sizeBytes, bytes: seg.sizeBytes - k.sizeBytes, lsnRange: range, finding: cut.finding, reason: cut.reason, copyName: `${seg.file}.cut-at-${k.sizeBytes}` });
    }
  }
  return steps;
}

/** The highest LSN this segment holds or should hold: intact frames past damage count too. */
function lastLsnIn(seg: SegmentInfo): number {
  return Math.max(seg.lastLsn ?? -1, seg.lsnsAtRisk?.[1] ?? -1);
}

function rangeOrNull(from: number, to: number): [number, number] | null {
  return to >= from ? [from, to] : null;
}

/** Skip mode: for each bad spot (by offset), the LSNs between the frames on either side of it. */
async function skippedRanges(fs: FileSystem, path: string): Promise<Map<number, [number, number] | null>> {
  const ranges = new Map<number, [number, number] | null>();
  const cursor = await SegmentCursor.open(fs, path);
  try {
    let pending: { offset: number; from: number } | null = null; // a spot waiting for the frame after it
    for (let step = await cursor.next(true); step !== null; step = await cursor.next(true)) {
      if (pending) ranges.set(pending.offset, 'frame' in step ? rangeOrNull(pending.from, step.frame.firstLsn - 1) : null);
      pending = 'frame' in step ? null : { offset: step.offset, from: cursor.scan.lastLsn + 1 };
    }
    if (pending) ranges.set(pending.offset, null); // damage at the very end: nothing after it bounds the range
  } finally {
    await cursor.close();
  }
  return ranges;
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** A plan for `--json`: the error, when the mode refuses, in the CLI's error shape. */
export function planJson(p: RepairPlan): Record<string, unknown> {
  return p.ok ? { ...p } : { mode: p.mode, ok: false, error: errorJson(p.error) };
}

/** The plan as a table; `withCopy` adds the name of the copy repair keeps. */
export function stepsTable(steps: RepairStep[], withCopy: boolean): string {
  const header = ['action', 'file', 'offset', 'bytes', 'LSNs', ...(withCopy ? ['copy'] : []), 'reason'];
  const rows = steps.map((s) => [s.action, s.file, s.offset, s.bytes, lsnRangeText(s.lsnRange), ...(withCopy ? [s.copyName] : []), s.reason]);
  return formatTable(header, rows);
}
