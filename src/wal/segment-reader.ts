/**
 * Reads one WAL segment file front to back and reports what it finds. It detects; it does not
 * decide: src/wal/recovery.ts turns a `SegmentScan` into an action (accept, truncate, fail).
 *
 * When a frame does not decode, the reader looks past it ("read-ahead", after Pebble): it
 * searches every 8-byte-aligned offset up to the end of the file for intact frames of this
 * segment (same salt, so bytes of another segment never count). If one of them says the segment
 * was durable beyond the bad offset (`syncedThrough`), the bad bytes were acknowledged as
 * durable and are real corruption. If none does, the damage lies in bytes that were never
 * acknowledged under `sync: always`: a torn tail from a crash.
 */
import type { FileHandle, FileSystem } from '../fs/fs.js';
import { readFully } from '../fs/io.js';
import { decodeFrame, decodeSegmentHeader, plausibleFrameHeader, saltSeed, type Frame, type FrameDecode, type SegmentHeader } from './codec.js';
import { FRAME_ALIGN, FRAME_HEADER_SIZE, SEGMENT_HEADER_SIZE, alignFrame } from './format.js';

const CHUNK_BYTES = 1024 * 1024;

/** Room kept in front of a prefetched chunk for the unread tail of the previous one. */
const CARRY_BYTES = 256 * 1024;

/**
 * A window over a file, read in big chunks, with the next chunk read ahead while the current
 * one is decoded. Buffers handed out (frames' payloads are views) are never overwritten.
 */
class FileWindow {
  buf: Uint8Array = new Uint8Array(0);
  base = 0;
  private ahead: { start: number; done: Promise<{ buf: Uint8Array; got: number }> } | null = null;
  constructor(
    private readonly h: FileHandle,
    readonly fileSize: number,
  ) {}
  get end(): number {
    return this.base + this.buf.length;
  }
  /** Make [pos, pos + need) resident (clipped to EOF). Returns bytes available from pos. */
  async ensure(pos: number, need: number): Promise<number> {
    const want = Math.min(pos + need, this.fileSize);
    if (pos >= this.base && want <= this.end) return this.end - pos;
    if (await this.takeAhead(pos, want)) return this.end - pos;
    const readTo = Math.min(this.fileSize, Math.max(want, pos + CHUNK_BYTES));
    const keep = pos >= this.base && pos < this.end ? this.buf.subarray(pos - this.base) : new Uint8Array(0);
    const next = new Uint8Array(readTo - pos);
    next.set(keep, 0);
    const from = pos + keep.length;
    const got = await readFully(this.h, next, keep.length, readTo - from, from);
    this.buf = got === readTo - from ? next : next.subarray(0, keep.length + got);
    this.base = pos;
    this.readAhead();
    return Math.max(0, this.end - pos);
  }

  /** Use the chunk read ahead if it continues the window and covers what is wanted. */
  private async takeAhead(pos: number, want: number): Promise<boolean> {
    const a = this.ahead;
    if (!a || a.start !== this.end || pos < this.base || pos > this.end) return false;
    this.ahead = null;
    const { buf, got } = await a.done;
    const keep = this.end - pos;
    if (keep > CARRY_BYTES || this.end + got < want) return false;
    buf.set(this.buf.subarray(pos - this.base), CARRY_BYTES - keep);
    this.buf = buf.subarray(CARRY_BYTES - keep, CARRY_BYTES + got);
    this.base = pos;
    this.readAhead();
    return true;
  }

  private readAhead(): void {
    const start = this.end;
    if (start >= this.fileSize) return;
    const len = Math.min(CHUNK_BYTES, this.fileSize - start);
    const buf = new Uint8Array(CARRY_BYTES + len);
    const done = readFully(this.h, buf, CARRY_BYTES, len, start).then((got) => ({ buf, got }));
    done.catch(() => undefined); // a failed read-ahead is retried by the plain path
    this.ahead = { start, done };
  }

  /** Wait for a read in flight (before the handle is closed). */
  async settle(): Promise<void> {
    await this.ahead?.done.catch(() => undefined);
    this.ahead = null;
  }
}

export interface BadSpot {
  offset: number;
  kind: Exclude<FrameDecode['kind'], 'frame'>;
  reason: string;
  /** Everything from `offset` to the end of the file is zero. */
  allZeroAfter: boolean;
  /** Intact frames of this segment found past the bad spot. */
  laterFrames: number;
  /** LSN range of those frames, if any. */
  laterLsnRange: [number, number] | null;
  /** Offset of the first intact frame past the bad spot, if any. */
  resumeAt: number | null;
  /** A later intact frame proves the bytes at `offset` had been made durable. */
  provenDurable: boolean;
  /** LSN of the last intact record before the bad spot (header first LSN - 1 if none). */
  lsnBefore: number;
}

export interface SegmentScan {
  path: string;
  fileSize: number;
  header: SegmentHeader | null;
  headerError: string | null;
  /** Offset just past the last intact frame accepted (the header size if none). */
  validEnd: number;
  /** LSN of the last record accepted; header.firstLsn - 1 if none. */
  lastLsn: number;
  frames: number;
  records: number;
  /** Bad spots met, in order. Without `skipBad`, at most one (where scanning stopped). */
  bad: BadSpot[];
}

export interface ScanOptions {
  /** Called for each intact frame accepted, in order, with its offset. */
  onFrame?: (frame: Frame, offset: number) => void | Promise<void>;
  /** Continue after a bad spot at the next intact frame (recovery mode skip-corrupted). */
  skipBad?: boolean;
  /** Stop at this offset (for reading a live segment up to its written end). */
  limit?: number;
}

function describe(d: Exclude<FrameDecode, { kind: 'frame' }>): string {
  switch (d.kind) {
    case 'end':
      return 'end of file';
    case 'zero':
      return 'zero-filled space';
    case 'partial-header':
      return 'partial frame header at end of file';
    case 'length-past-eof':
      return `frame length ${d.bodyLength} runs past end of file`;
    case 'bad-header':
      return d.reason;
    case 'bad-crc':
      return d.zeroSector ? 'checksum mismatch (a zeroed sector inside the frame)' : 'checksum mismatch';
    case 'bad-content':
      return d.reason;
  }
}

export async function scanSegment(fs: FileSystem, path: string, options: ScanOptions = {}): Promise<SegmentScan> {
  const cursor = await SegmentCursor.open(fs, path, options.limit);
  try {
    for (;;) {
      const steps = await cursor.nextBatch(options.skipBad ?? false);
      if (steps.length === 0) return cursor.scan;
      for (const step of steps) if ('frame' in step) await options.onFrame?.(step.frame, step.at);
    }
  } finally {
    await cursor.close();
  }
}

/**
 * Frame-by-frame reading of one segment. `next()` returns the next intact frame, a bad spot
 * (also recorded in `scan.bad`), or null at the end (a clean end, or a bad spot it cannot get
 * past).
 */
export class SegmentCursor {
  readonly scan: SegmentScan;
  private pos = SEGMENT_HEADER_SIZE;
  private expected: number | null = null;
  private seed = 0;
  private done = false;

  private constructor(
    private readonly h: FileHandle,
    private readonly win: FileWindow,
    path: string,
  ) {
    this.scan = { path, fileSize: win.fileSize, header: null, headerError: null, validEnd: 0, lastLsn: 0, frames: 0, records: 0, bad: [] };
  }

  static async open(fs: FileSystem, path: string, limit?: number): Promise<SegmentCursor> {
    const h = await fs.open(path, 'r');
    try {
      const size = await h.size();
      const c = new SegmentCursor(h, new FileWindow(h, Math.min(size, limit ?? size)), path);
      await c.readHeader();
      return c;
    } catch (e) {
      await h.close();
      throw e;
    }
  }

  private async readHeader(): Promise<void> {
    const have = await this.win.ensure(0, SEGMENT_HEADER_SIZE);
    const hd = decodeSegmentHeader(this.win.buf.subarray(0, have));
    if (!hd.ok) {
      this.scan.headerError = hd.reason;
      this.done = true;
      return;
    }
    this.scan.header = hd.header;
    this.scan.validEnd = SEGMENT_HEADER_SIZE;
    this.scan.lastLsn = hd.header.firstLsn - 1;
    this.seed = saltSeed(hd.header.salt);
    this.expected = hd.header.firstLsn;
  }

  async next(skipBad: boolean): Promise<{ frame: Frame; at: number } | BadSpot | null> {
    if (this.done) return null;
    const { win, scan } = this;
    const pos = this.pos;
    const avail = await win.ensure(pos, FRAME_HEADER_SIZE);
    let d = decodeFrame(win.buf, pos - win.base, pos - win.base + avail, this.seed, this.expected, win.base);
    if (d.kind === 'length-past-eof' && pos + alignFrame(FRAME_HEADER_SIZE + d.bodyLength) <= win.fileSize) {
      const more = await win.ensure(pos, alignFrame(FRAME_HEADER_SIZE + d.bodyLength));
      d = decodeFrame(win.buf, pos - win.base, pos - win.base + more, this.seed, this.expected, win.base);
    }
    if (d.kind === 'frame' && this.expected === null && d.frame.firstLsn <= scan.lastLsn) {
      d = { kind: 'bad-content', reason: `LSN ${d.frame.firstLsn} goes backwards` };
    }
    if (d.kind === 'frame') {
      this.pos += d.frame.size;
      scan.validEnd = this.pos;
      scan.lastLsn = d.frame.firstLsn + d.frame.records.length - 1;
      scan.frames++;
      scan.records += d.frame.records.length;
      this.expected = scan.lastLsn + 1;
      return { frame: d.frame, at: pos };
    }
    this.done = true;
    if (d.kind === 'end' && pos >= win.fileSize) return null;
    const spot = await lookPast(win, pos, this.seed, d);
    spot.lsnBefore = scan.lastLsn;
    if (spot.allZeroAfter && (d.kind === 'end' || d.kind === 'zero')) return null; // clean end (zeros)
    scan.bad.push(spot);
    if (skipBad && spot.resumeAt !== null) {
      this.done = false;
      this.pos = spot.resumeAt;
      this.expected = null; // skip mode allows a gap; LSNs must still increase
    }
    return spot;
  }

  /**
   * The next steps: as many intact frames as are already in memory (decoded without awaiting),
   * or else one step from `next`. An empty array means the end.
   */
  async nextBatch(skipBad: boolean): Promise<({ frame: Frame; at: number } | BadSpot)[]> {
    const out: ({ frame: Frame; at: number } | BadSpot)[] = [];
    while (!this.done && out.length < 4096) {
      const step = this.tryResident();
      if (step === null) break;
      out.push(step);
    }
    if (out.length > 0) return out;
    const step = await this.next(skipBad);
    return step === null ? [] : [step];
  }

  /** Decode the frame at pos if it is wholly in memory and intact; otherwise null (the async path decides). */
  private tryResident(): { frame: Frame; at: number } | null {
    const { win, scan } = this;
    const pos = this.pos;
    if (pos < win.base || pos + FRAME_HEADER_SIZE > win.end) return null;
    const d = decodeFrame(win.buf, pos - win.base, win.end - win.base, this.seed, this.expected, win.base);
    if (d.kind !== 'frame' || (this.expected === null && d.frame.firstLsn <= scan.lastLsn)) return null;
    this.pos += d.frame.size;
    scan.validEnd = this.pos;
    scan.lastLsn = d.frame.firstLsn + d.frame.records.length - 1;
    scan.frames++;
    scan.records += d.frame.records.length;
    this.expected = scan.lastLsn + 1;
    return { frame: d.frame, at: pos };
  }

  async close(): Promise<void> {
    await this.win.settle();
    return this.h.close();
  }
}

/** Examine the rest of the file after a bad spot. */
async function lookPast(win: FileWindow, bad: number, seed: number, d: Exclude<FrameDecode, { kind: 'frame' }>): Promise<BadSpot> {
  const spot: BadSpot = {
    offset: bad, kind: d.kind, reason: describe(d), allZeroAfter: true,
    laterFrames: 0, laterLsnRange: null, resumeAt: null, provenDurable: false, lsnBefore: 0,
  };
  const fileSize = win.fileSize;
  let zeroChecked = bad;
  let pos = bad + FRAME_ALIGN;
  await win.ensure(bad, CHUNK_BYTES);
  for (;;) {
    // Zero check of the newly resident bytes (the window always starts at or before zeroChecked).
    for (let i = zeroChecked - win.base; spot.allZeroAfter && i < win.buf.length; i++) if (win.buf[i] !== 0) spot.allZeroAfter = false;
    zeroChecked = win.end;
    const lim = win.end - FRAME_HEADER_SIZE;
    while (pos <= lim && plausibleFrameHeader(win.buf, pos - win.base) === null) pos += FRAME_ALIGN;
    if (pos <= lim) {
      const size = alignFrame(FRAME_HEADER_SIZE + plausibleFrameHeader(win.buf, pos - win.base)!.bodyLength);
      if (pos + size <= fileSize) {
        const have = await win.ensure(pos, size);
        const f = decodeFrame(win.buf, pos - win.base, pos - win.base + have, seed, null);
        if (f.kind === 'frame') {
          noteLater(spot, f.frame, pos);
          pos += size;
          continue;
        }
      }
      pos += FRAME_ALIGN;
      continue;
    }
    if (win.end >= fileSize) break;
    await win.ensure(Math.min(pos, zeroChecked), CHUNK_BYTES);
  }
  return spot;
}

function noteLater(spot: BadSpot, frame: Frame, at: number): void {
  const last = frame.firstLsn + frame.records.length - 1;
  spot.laterFrames++;
  spot.resumeAt ??= at;
  spot.laterLsnRange = spot.laterLsnRange ? [spot.laterLsnRange[0], last] : [frame.firstLsn, last];
  if (frame.syncedThrough > spot.offset) spot.provenDurable = true;
}
