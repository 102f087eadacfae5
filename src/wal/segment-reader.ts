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
import { FRAME_ALIGN, FRAME_HEADER_SIZE, MAX_FRAME_BODY_BYTES, RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, alignFrame } from './format.js';

/** Step of the look past a bad spot. */
const CHUNK_BYTES = 1024 * 1024;

/*
 * How a segment is read (a big replay is bound by this; numbers from this project's 2-vCPU VM,
 * reopening 1M rows = 584 MB of WAL, see docs/bench.md):
 *
 * The engine keeps every payload it replays (its memtable's columns are views of them), so each
 * byte must land in memory that nobody has touched yet, and on a VM the first touch costs far
 * more than the read (~3.5 ms per MiB in page faults, against ~0.1 for reading into reused
 * memory). So the aim is to touch each byte's page once, on two threads at a time, and nothing
 * else: no buffer read and dropped, no copy to stitch a frame, no re-read.
 *
 * - Reads go into reused staging buffers (READS_IN_FLIGHT reads of READ_BYTES in flight, on
 *   libuv's threads, while the frames already in are checked and replayed); the bytes are then
 *   copied into "slabs", the buffers the frames' payloads are views of. A copy into fresh memory
 *   costs less CPU than a read straight into it (there the kernel's copy takes the faults and
 *   the checksum's first pass over the bytes pays again): -15% CPU for the whole reopen.
 * - A frame of OWN_SLAB_BYTES or more gets a slab of its own, exactly its size, and the last
 *   part of it (directShare, tuned as it goes) is read straight into it by a libuv thread while
 *   this thread copies the first part: the faults are taken on two threads at once (-15% wall
 *   time again when a core is free; still a little faster with both cores busy).
 * - Smaller frames share 2 MiB slabs. A slab holds whole frames: the frame headers' lengths are
 *   walked as bytes are placed, and a frame that would run past the slab's room starts the next
 *   slab (the few header bytes already placed move with it), so every payload is a view of one
 *   buffer and its 8-byte alignment in the file is kept. The walk is a hint only (the cursor
 *   checks every frame): zeros, a torn tail or damage stop it, bytes are then placed as they
 *   come, and a request that straddles two slabs falls back to a fresh read from there.
 * - Slabs stay under glibc's 32 MiB mmap threshold ceiling and 2 MiB ones are small, so a reader
 *   that drops its payloads (Wal.read consumers, the replay bench) gets freed slabs back from
 *   malloc instead of fresh memory. A slab's room past its last frame is never touched.
 */
const SLAB_BYTES = 2 * 1024 * 1024;
/** A frame this big gets a slab of its own, exactly its size (and part of it is read directly). */
const OWN_SLAB_BYTES = 512 * 1024;
const READ_BYTES = 2 * 1024 * 1024;
const READS_IN_FLIGHT = 2;
/** Staging buffers kept for the next cursor (recovery reads segment after segment). */
const SPARE_STAGING = 4;
const spareStaging: Uint8Array[] = [];
/** A direct read is worth it from this many bytes. */
const DIRECT_MIN_BYTES = 256 * 1024;
/**
 * Share of a big frame read straight into its slab by a libuv thread (see FileWindow.direct),
 * tuned as frames go: down when the reader had to wait for such a read, up when it had not.
 */
const directShare = { now: 0.5, min: 0.1, max: 0.8, step: 0.05 };

interface Slab {
  /** File offset of mem[0]. */
  base: number;
  mem: Uint8Array;
  view: DataView;
  /** mem[0, filled) holds file bytes; bytes are written once (views handed out stay valid). */
  filled: number;
  /** File offset where the next slab starts, once there is one. */
  end: number | null;
  /** A read straight into the slab's last bytes [from, to) (file offsets), until it is taken in. */
  direct: { from: number; to: number; done: Promise<number> } | null;
}

interface PendingRead {
  pos: number;
  len: number;
  buf: Uint8Array;
  done: Promise<number>;
}

/** The size of the frame whose header is at `at`, if the header is plausible (as plausibleFrameHeader); else -1. */
function frameSizeAt(v: DataView, at: number): number {
  const bodyLength = v.getUint32(at + 4, true);
  const count = v.getUint32(at + 24, true);
  if (bodyLength < RECORD_HEADER_SIZE || bodyLength > MAX_FRAME_BODY_BYTES || count === 0 || count * RECORD_HEADER_SIZE > bodyLength) return -1;
  return alignFrame(FRAME_HEADER_SIZE + bodyLength);
}

function newSlab(base: number, size: number): Slab {
  const mem = new Uint8Array(size);
  return { base, mem, view: new DataView(mem.buffer, mem.byteOffset, mem.byteLength), filled: 0, end: null, direct: null };
}

/**
 * A window over a file: `buf` holds file bytes [base, end). `ensure` makes a range resident,
 * possibly in another buffer; buffers handed out (frames' payloads are views) are never
 * overwritten.
 */
class FileWindow {
  buf: Uint8Array = new Uint8Array(0);
  base = 0;
  /** Slabs not yet passed by the reader, in file order and contiguous; `buf` is a view of slabs[0]. */
  private slabs: Slab[] = [];
  /** Reads in flight, in file order, from `placed` on. */
  private reads: PendingRead[] = [];
  /** Reads dropped by a fallback: awaited before close (their staging buffers are not reused). */
  private strays: Promise<unknown>[] = [];
  /** File offset of the next read to issue. */
  private readPos = 0;
  /** File offset up to which bytes are in slabs (the last slab's end of filled bytes). */
  private placed = 0;
  /** File offset of the next frame header the walk reads; -1 when frame lengths are unknown. */
  private walkAt = -1;
  /** Where reading stops: the file size, or less if a read met EOF early. */
  private readEnd: number;
  /** No slab is cut below this offset: the range a fallback asked for stays in one slab. */
  private holdUntil = 0;
  /** File range a direct read brings in: staging reads skip it, and drop it if already issued (-1: none). */
  private skipFrom = -1;
  private skipTo = -1;
  constructor(
    private readonly h: FileHandle,
    readonly fileSize: number,
  ) {
    this.readEnd = fileSize;
  }
  get end(): number {
    return this.base + this.buf.length;
  }

  /** Make [pos, pos + need) resident (clipped to EOF). Returns bytes available from pos. */
  async ensure(pos: number, need: number): Promise<number> {
    for (;;) {
      const want = Math.min(pos + need, this.readEnd);
      if (pos >= this.base && want <= this.end) return Math.max(0, this.end - pos);
      while (this.slabs.length > 1 && pos >= this.slabs[0]!.end!) {
        const gone = this.slabs.shift()!;
        if (gone.direct) this.strays.push(gone.direct.done.catch(() => undefined)); // passed over (a skip)
      }
      const s = this.slabs[0];
      if (!s || pos < s.base) break;
      this.expose(s);
      if (want <= this.end) return Math.max(0, this.end - pos);
      if (s.direct && s.filled === s.direct.from - s.base) {
        await this.takeDirect(s);
        continue;
      }
      // s ends before want: the range straddles two slabs.
      if (s !== this.slabs[this.slabs.length - 1]) break;
      // s is being filled: place more bytes (they may go on in s, or start a slab at or before pos).
      if (this.reads.length === 0 && !this.pump()) break;
      await this.complete();
    }
    // Fallback (backwards, across a slab's end, or past what the slab can hold): start over at pos.
    this.restart(pos, Math.max(0, Math.min(pos + need, this.readEnd) - pos));
    return this.ensure(pos, need);
  }

  /** Drop the slabs (their views stay valid) and the reads in flight; read on from pos. */
  private restart(pos: number, need: number): void {
    for (const r of this.reads.splice(0)) this.strays.push(r.done.catch(() => undefined));
    for (const s of this.slabs) if (s.direct) this.strays.push(s.direct.done.catch(() => undefined));
    this.skipFrom = this.skipTo = -1;
    // Frames are 8-aligned after the header, so pos may be a frame's start (a hint, as above).
    this.walkAt = pos === 0 ? SEGMENT_HEADER_SIZE : pos >= SEGMENT_HEADER_SIZE && pos % FRAME_ALIGN === 0 ? pos : -1;
    this.readPos = this.placed = pos;
    this.holdUntil = pos + need;
    this.slabs = [newSlab(pos, this.roomFrom(pos, need))];
    this.expose(this.slabs[0]!);
  }

  private roomFrom(pos: number, need: number): number {
    return Math.max(0, Math.min(this.readEnd - pos, Math.max(SLAB_BYTES, need)));
  }

  /** Room of a slab that starts at pos with a frame of `size` bytes (0 or less: unknown). */
  private slabFor(pos: number, size: number): number {
    return Math.max(0, Math.min(this.readEnd - pos, size >= OWN_SLAB_BYTES ? size : SLAB_BYTES));
  }

  private expose(s: Slab): void {
    if (this.buf.buffer !== s.mem.buffer || this.buf.length !== s.filled) this.buf = s.mem.subarray(0, s.filled);
    this.base = s.base;
  }

  /** Keep READS_IN_FLIGHT reads going. Returns whether one was issued. */
  private pump(): boolean {
    let any = false;
    while (this.reads.length < READS_IN_FLIGHT) {
      if (this.readPos >= this.skipFrom && this.readPos < this.skipTo) this.readPos = this.skipTo;
      if (this.readPos >= this.readEnd) break;
      let len = Math.min(READ_BYTES, this.readEnd - this.readPos);
      if (this.skipFrom > this.readPos) len = Math.min(len, this.skipFrom - this.readPos);
      const buf = (len === READ_BYTES ? spareStaging.pop() : undefined) ?? new Uint8Array(len);
      const done = readFully(this.h, buf, 0, len, this.readPos);
      done.catch(() => undefined); // awaited, and retried once, by complete()
      this.reads.push({ pos: this.readPos, len, buf, done });
      this.readPos += len;
      any = true;
    }
    return any;
  }

  /** Wait for the oldest read and place its bytes; keep the reads going. */
  private async complete(): Promise<void> {
    const r = this.reads[0]!;
    let got: number;
    try {
      got = await r.done;
    } catch {
      got = await readFully(this.h, r.buf, 0, r.len, r.pos); // an error now is the caller's
    }
    if (this.reads[0] !== r) return; // dropped by a fallback meanwhile
    this.reads.shift();
    if (got < r.len) {
      // The file ends early (it shrank): stop there.
      this.readEnd = r.pos + got;
      this.readPos = this.readEnd;
      for (const x of this.reads.splice(0)) this.strays.push(x.done.catch(() => undefined));
    }
    this.place(r.buf, got, r.pos);
    if (r.buf.length === READ_BYTES && spareStaging.length < SPARE_STAGING) spareStaging.push(r.buf);
    this.pump();
    this.expose(this.slabs[0]!);
  }

  /**
   * Copy the n bytes read at file offset `at` (`placed`, or the end of a skipped range) into the
   * slabs, keeping whole frames in one slab.
   */
  private place(src: Uint8Array, n: number, at: number): void {
    const v = new DataView(src.buffer, src.byteOffset, n);
    let off = 0;
    if (this.skipFrom >= 0 && at >= this.skipTo) this.endSkip(v, 0, n); // the reads stepped over it
    while (off < n) {
      if (this.skipFrom >= 0 && this.placed >= this.skipFrom) {
        // Bytes the direct read brings: drop them here (a read issued before it was planned).
        const drop = Math.min(n - off, this.skipTo - this.placed);
        off += drop;
        this.placed += drop;
        if (this.placed === this.skipTo) this.endSkip(v, off, n);
        continue;
      }
      let s = this.slabs[this.slabs.length - 1]!;
      // Full: a frame header begun at its end moves to the next slab, with the rest of its frame.
      if (s.filled === s.mem.length) {
        let from = this.placed;
        if (this.walkAt >= 0 && this.walkAt < this.placed) {
          if (this.walkAt >= this.holdUntil) from = this.walkAt;
          else this.walkAt = -1; // the header cannot move (see holdUntil): give up the walk here
        }
        // Size the next slab for the frame starting there when its header is at hand.
        const size = this.walkAt === this.placed && off + FRAME_HEADER_SIZE <= n ? frameSizeAt(v, off) : 0;
        s = this.cut(s, from, size);
        if (from === this.walkAt) this.direct(s, size);
      }
      let stop = Math.min(n - off, s.mem.length - s.filled);
      if (this.skipFrom > this.placed) stop = Math.min(stop, this.skipFrom - this.placed);
      let cutFor = 0;
      // Walk the frame headers that lie wholly in what is about to be copied.
      while (this.walkAt >= 0) {
        const h = this.walkAt - this.placed; // from src[off]
        if (h < 0) {
          stop = Math.min(stop, h + FRAME_HEADER_SIZE); // a header split between two reads: complete it in s
          break;
        }
        if (h >= stop || h + FRAME_HEADER_SIZE > n - off) break;
        const size = frameSizeAt(v, off + h);
        if (size < 0) {
          this.walkAt = -1; // zeros (the end of the log) or damage: place bytes as they come
          break;
        }
        if (this.mustMove(s, size)) {
          stop = h; // the frame does not fit in s: it starts the next slab
          cutFor = size;
          break;
        }
        this.walkAt += size;
      }
      if (stop > 0) s.mem.set(src.subarray(off, off + stop), s.filled);
      s.filled += stop;
      this.placed += stop;
      off += stop;
      if (cutFor > 0) {
        this.direct(this.cut(s, this.placed, cutFor), cutFor);
      } else if (this.walkAt >= s.base && this.walkAt < this.placed && this.walkAt + FRAME_HEADER_SIZE <= this.placed) {
        const size = frameSizeAt(s.view, this.walkAt - s.base); // the split header, now whole in s
        if (size < 0) this.walkAt = -1;
        else {
          if (this.mustMove(s, size)) this.direct(this.cut(s, this.walkAt, size), size);
          this.walkAt += size;
        }
      }
    }
  }

  /**
   * Slab s was just made for the frame of `size` bytes at its start (OWN_SLAB_BYTES or more): read the
   * frame's last bytes straight into it on a libuv thread (the staging reads skip them), so that
   * the page faults of first touch are taken on two threads at once. Those bytes cost a little
   * more CPU than a copy (the kernel's copy faults, then the checksum's first pass pays again),
   * so the share is tuned down when the reader has to wait for them (a machine with no idle
   * core) and up when it has not.
   */
  private direct(s: Slab, size: number): void {
    if (size < OWN_SLAB_BYTES || s.mem.length !== size || this.skipFrom >= 0) return;
    const to = s.base + size;
    const from = Math.max(this.placed, to - Math.floor(size * directShare.now));
    if (to - from < DIRECT_MIN_BYTES) return;
    const done = readFully(this.h, s.mem, from - s.base, to - from, from);
    done.catch(() => undefined); // awaited, and retried once, by takeDirect()
    s.direct = { from, to, done };
    this.skipFrom = from;
    this.skipTo = to;
  }

  /** Take in the direct read of slab s, whose other bytes are all placed. */
  private async takeDirect(s: Slab): Promise<void> {
    const d = s.direct!;
    const t0 = performance.now();
    let got: number;
    try {
      got = await d.done;
    } catch {
      got = await readFully(this.h, s.mem, d.from - s.base, d.to - d.from, d.from); // an error now is the caller's
    }
    if (s.direct !== d) return; // dropped by a fallback meanwhile
    const waited = performance.now() - t0 > 1;
    directShare.now = Math.min(directShare.max, Math.max(directShare.min, directShare.now + (waited ? -directShare.step : directShare.step)));
    s.direct = null;
    s.filled += got;
    if (got < d.to - d.from) {
      // The file ends early (it shrank): stop there.
      this.readEnd = this.readPos = this.placed = d.from + got;
      s.end = null;
      for (const x of this.reads.splice(0)) this.strays.push(x.done.catch(() => undefined));
      for (const x of this.slabs.splice(this.slabs.indexOf(s) + 1)) if (x.direct) this.strays.push(x.direct.done.catch(() => undefined));
      this.skipFrom = this.skipTo = -1;
    }
  }

  /** The bytes before a direct read's range are placed and the reads are past it: the next frame starts a slab. */
  private endSkip(v: DataView, off: number, n: number): void {
    this.slabs[this.slabs.length - 1]!.end = this.skipTo;
    this.placed = this.skipTo;
    this.skipFrom = this.skipTo = -1;
    const size = this.walkAt === this.placed && off + FRAME_HEADER_SIZE <= n ? frameSizeAt(v, off) : 0;
    const next = newSlab(this.placed, this.slabFor(this.placed, size));
    this.slabs.push(next);
    this.direct(next, size);
  }

  /**
   * The frame of `size` bytes at walkAt starts the next slab: it runs past slab s's room, or it
   * is big enough for a slab of its own. Not a frame that runs past EOF (it is torn), nor one in
   * the range a fallback holds together.
   */
  private mustMove(s: Slab, size: number): boolean {
    if (this.walkAt + size > this.readEnd || this.walkAt < this.holdUntil) return false;
    if (size >= OWN_SLAB_BYTES) return this.walkAt !== s.base || s.mem.length !== size;
    return this.walkAt + size - s.base > s.mem.length;
  }

  /** End slab s at file offset `from` (its bytes from there on move) and start the next slab there, for a frame of `size` bytes. */
  private cut(s: Slab, from: number, size: number): Slab {
    const next = newSlab(from, this.slabFor(from, size));
    const keep = from - s.base;
    next.mem.set(s.mem.subarray(keep, s.filled));
    next.filled = s.filled - keep;
    if (keep === 0) {
      this.slabs[this.slabs.length - 1] = next; // s held no whole frame: replace it
    } else {
      s.filled = keep;
      s.end = from;
      this.slabs.push(next);
    }
    return next;
  }

  /** Wait for reads in flight (before the handle is closed). */
  async settle(): Promise<void> {
    const all = [...this.reads.map((r) => r.done.catch(() => undefined)), ...this.strays];
    for (const s of this.slabs) if (s.direct) all.push(s.direct.done.catch(() => undefined));
    this.reads = [];
    this.strays = [];
    await Promise.all(all);
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
