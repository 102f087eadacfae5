/**
 * Pure encoders and decoders for the WAL segment format (src/wal/format.ts). No I/O here.
 *
 * `decodeFrame` never throws on bad bytes: it returns a discriminated union that says exactly
 * what it saw, and the recovery policy (src/wal/recovery.ts) decides what that means.
 */
import { crc32c } from '@node-rs/crc32';
import { getU64, putU64, viewOf } from '../util/bytes.js';
import {
  FORMAT_VERSION,
  FRAME_HEADER_SIZE,
  MAX_FRAME_BODY_BYTES,
  MAX_LSN,
  RECORD_HEADER_SIZE,
  SEGMENT_HEADER_SIZE,
  SEGMENT_MAGIC,
  alignFrame,
  isValidOp,
  type OpType,
} from './format.js';

export interface SegmentHeader {
  segmentNo: number;
  /** SEGMENT_FLAG_* bits (absent = 0). */
  flags?: number;
  firstLsn: number;
  createdAtMs: number;
  salt: number;
}

export interface WalRecord {
  lsn: number;
  op: OpType;
  payload: Uint8Array;
}

/** One decoded frame: an atomic batch. */
export interface Frame {
  firstLsn: number;
  timestamp: number;
  syncedThrough: number;
  records: WalRecord[];
  /** Encoded size including padding. */
  size: number;
}

export type FrameDecode =
  | { kind: 'frame'; frame: Frame }
  /** Fewer bytes than a frame header remain and all of them are zero (or none remain). */
  | { kind: 'end' }
  /** A header of zeros: preallocated or never-written space. */
  | { kind: 'zero' }
  /** Fewer bytes than a header remain and not all are zero: a header cut by the crash. */
  | { kind: 'partial-header' }
  /** The header's length runs past the end of the file. */
  | { kind: 'length-past-eof'; bodyLength: number }
  /** The header cannot be a frame header (length or count out of range). */
  | { kind: 'bad-header'; reason: string }
  /** The CRC does not match; `zeroSector` tells whether a 512-byte sector in it is all zero. */
  | { kind: 'bad-crc'; zeroSector: boolean }
  /** The CRC matches but the contents break a rule (LSN, record layout, padding). */
  | { kind: 'bad-content'; reason: string };

const SECTOR = 512;

const u64 = getU64;

/** CRC-32C of the salt's 4 little-endian bytes: the seed of every frame CRC in a segment. */
export function saltSeed(salt: number): number {
  const b = new Uint8Array(4);
  viewOf(b).setUint32(0, salt >>> 0, true);
  return crc32c(Buffer.from(b.buffer, b.byteOffset, 4));
}

function crcOf(buf: Uint8Array, start: number, end: number, seed = 0): number {
  return crc32c(Buffer.from(buf.buffer, buf.byteOffset + start, end - start), seed) >>> 0;
}

export function encodeSegmentHeader(h: SegmentHeader): Uint8Array {
  const buf = new Uint8Array(SEGMENT_HEADER_SIZE);
  const v = viewOf(buf);
  buf.set(SEGMENT_MAGIC, 0);
  v.setUint16(8, FORMAT_VERSION, true);
  v.setUint16(10, SEGMENT_HEADER_SIZE, true);
  v.setUint32(12, h.flags ?? 0, true);
  putU64(v, 16, h.segmentNo);
  putU64(v, 24, h.firstLsn);
  putU64(v, 32, h.createdAtMs);
  v.setUint32(40, h.salt >>> 0, true);
  v.setUint32(44, crcOf(buf, 0, 44), true);
  return buf;
}

export type HeaderDecode = { ok: true; header: SegmentHeader } | { ok: false; reason: string };

export function decodeSegmentHeader(buf: Uint8Array): HeaderDecode {
  if (buf.length < SEGMENT_HEADER_SIZE) return { ok: false, reason: `file shorter than the ${SEGMENT_HEADER_SIZE}-byte header` };
  for (let i = 0; i < SEGMENT_MAGIC.length; i++) {
    if (buf[i] !== SEGMENT_MAGIC[i]) return { ok: false, reason: 'bad magic number (not a vecwal WAL segment)' };
  }
  const v = viewOf(buf);
  if (v.getUint32(44, true) !== crcOf(buf, 0, 44)) return { ok: false, reason: 'segment header checksum mismatch' };
  const version = v.getUint16(8, true);
  if (version !== FORMAT_VERSION) return { ok: false, reason: `unsupported format version ${version}` };
  if (v.getUint16(10, true) !== SEGMENT_HEADER_SIZE) return { ok: false, reason: 'unexpected header size' };
  return {
    ok: true,
    header: { segmentNo: u64(v, 16), firstLsn: u64(v, 24), createdAtMs: u64(v, 32), salt: v.getUint32(40, true), ...(v.getUint32(12, true) ? { flags: v.getUint32(12, true) } : {}) },
  };
}

export interface RecordInput {
  op: OpType;
  /** The payload, or its parts in order (written back to back, read back as one payload). */
  payload: Uint8Array | readonly Uint8Array[];
}

/** Length of a payload given whole or in parts. */
export function payloadLength(payload: RecordInput['payload']): number {
  if (payload instanceof Uint8Array) return payload.length;
  let n = 0;
  for (const part of payload) n += part.length;
  return n;
}

/** Encoded size of a frame holding these records, padding included. */
export function frameSize(records: readonly RecordInput[]): number {
  let body = 0;
  for (const r of records) body += RECORD_HEADER_SIZE + payloadLength(r.payload);
  return alignFrame(FRAME_HEADER_SIZE + body);
}

/**
 * Encode one frame into `out` at `at` (which must have room for `frameSize(records)` bytes).
 * Returns the encoded size. (encodeFrameGather with every part copied.)
 */
export function encodeFrame(
  out: Uint8Array,
  at: number,
  records: readonly RecordInput[],
  meta: { firstLsn: number; timestamp: number; syncedThrough: number; saltSeed: number },
): number {
  return encodeFrameGather(out, at, records, meta, [], Infinity).size;
}

/**
 * Payload parts at least this long are written from the caller's memory (gathered, not copied)
 * by encodeFrameGather; shorter parts are copied next to the headers, so that a frame of many
 * small records stays one piece.
 */
export const GATHER_MIN_BYTES = 64 * 1024;

function partsOf(payload: RecordInput['payload']): readonly Uint8Array[] {
  return payload instanceof Uint8Array ? [payload] : payload;
}

/** Bytes of `scratch` that encodeFrameGather uses for a frame of these records. */
export function frameScratchBytes(records: readonly RecordInput[], gatherMin = GATHER_MIN_BYTES): number {
  let copied = FRAME_HEADER_SIZE;
  let total = FRAME_HEADER_SIZE;
  for (const r of records) {
    copied += RECORD_HEADER_SIZE;
    total += RECORD_HEADER_SIZE;
    for (const part of partsOf(r.payload)) {
      total += part.length;
      if (part.length < gatherMin) copied += part.length;
    }
  }
  return copied + alignFrame(total) - total;
}

/**
 * Encode one frame as pieces to be written back to back (a gathered write): payload parts of
 * `gatherMin` bytes or more are pushed onto `pieces` as they are, not copied; headers, short
 * parts and the padding go to `scratch` from `at` (which needs frameScratchBytes(records,
 * gatherMin) bytes). The CRC is chained over the pieces. The big parts must not
 * change until the write is done. Returns the frame's size and the scratch bytes used.
 */
export function encodeFrameGather(
  scratch: Uint8Array,
  at: number,
  records: readonly RecordInput[],
  meta: { firstLsn: number; timestamp: number; syncedThrough: number; saltSeed: number },
  pieces: Uint8Array[],
  gatherMin = GATHER_MIN_BYTES,
): { size: number; used: number } {
  const first = pieces.length;
  const v = viewOf(scratch);
  let p = at + FRAME_HEADER_SIZE;
  let run = at; // start of the scratch bytes not yet pushed as a piece
  let body = 0;
  for (const r of records) {
    const len = payloadLength(r.payload);
    scratch[p] = r.op;
    scratch[p + 1] = 0;
    scratch[p + 2] = 0;
    scratch[p + 3] = 0;
    v.setUint32(p + 4, len, true);
    p += RECORD_HEADER_SIZE;
    body += RECORD_HEADER_SIZE + len;
    for (const part of partsOf(r.payload)) {
      if (part.length < gatherMin) {
        scratch.set(part, p);
        p += part.length;
        continue;
      }
      if (p > run) pieces.push(scratch.subarray(run, p));
      pieces.push(part);
      run = p;
    }
  }
  const size = alignFrame(FRAME_HEADER_SIZE + body);
  const pad = size - FRAME_HEADER_SIZE - body;
  scratch.fill(0, p, p + pad);
  p += pad;
  if (p > run) pieces.push(scratch.subarray(run, p));
  v.setUint32(at + 4, body, true);
  putU64(v, at + 8, meta.firstLsn);
  putU64(v, at + 16, meta.timestamp);
  v.setUint32(at + 24, records.length, true);
  v.setUint32(at + 28, 0, true);
  putU64(v, at + 32, meta.syncedThrough);
  // The CRC covers everything after its own 4 bytes, padding excluded: pieces[first] starts
  // with the frame header (at least FRAME_HEADER_SIZE bytes of scratch).
  let crc = meta.saltSeed;
  let left = FRAME_HEADER_SIZE + body - 4;
  for (let i = first; i < pieces.length && left > 0; i++) {
    const piece = i === first ? pieces[i]!.subarray(4) : pieces[i]!;
    const n = Math.min(piece.length, left);
    crc = crcOf(piece, 0, n, crc);
    left -= n;
  }
  v.setUint32(at, crc, true);
  return { size, used: p - at };
}

function allZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Is a whole disk sector (aligned to file offsets: `fileBase` is the file offset of buf[0]) in [start, end) all zero? */
function hasZeroSector(buf: Uint8Array, start: number, end: number, fileBase: number): boolean {
  const first = start + ((SECTOR - ((fileBase + start) % SECTOR)) % SECTOR);
  for (let s = first; s + SECTOR <= end; s += SECTOR) if (allZero(buf, s, s + SECTOR)) return true;
  return false;
}

/**
 * Decode the frame at `buf[at..end)`. `expectedLsn` (when not null) is the LSN the frame must
 * start with; `fileBase` is the file offset of buf[0] (for sector-aligned diagnostics).
 * Payloads in the result are views into `buf`.
 */
export function decodeFrame(buf: Uint8Array, at: number, end: number, seed: number, expectedLsn: number | null, fileBase = 0): FrameDecode {
  const avail = end - at;
  if (avail < FRAME_HEADER_SIZE) return allZero(buf, at, end) ? { kind: 'end' } : { kind: 'partial-header' };
  const v = viewOf(buf);
  const crc = v.getUint32(at, true);
  const bodyLength = v.getUint32(at + 4, true);
  if (crc === 0 && bodyLength === 0 && allZero(buf, at, at + FRAME_HEADER_SIZE)) return { kind: 'zero' };
  const count = v.getUint32(at + 24, true);
  if (bodyLength < RECORD_HEADER_SIZE || bodyLength > MAX_FRAME_BODY_BYTES) return { kind: 'bad-header', reason: `body length ${bodyLength} out of range` };
  if (count === 0 || count * RECORD_HEADER_SIZE > bodyLength) return { kind: 'bad-header', reason: `record count ${count} impossible for body length ${bodyLength}` };
  const size = alignFrame(FRAME_HEADER_SIZE + bodyLength);
  if (size > avail) return { kind: 'length-past-eof', bodyLength };
  const bodyEnd = at + FRAME_HEADER_SIZE + bodyLength;
  if (crcOf(buf, at + 4, bodyEnd, seed) !== crc) return { kind: 'bad-crc', zeroSector: hasZeroSector(buf, at, at + size, fileBase) };
  return parseBody(buf, v, at, bodyEnd, size, count, expectedLsn);
}

function parseBody(buf: Uint8Array, v: DataView, at: number, bodyEnd: number, size: number, count: number, expectedLsn: number | null): FrameDecode {
  const firstLsn = u64(v, at + 8);
  if (firstLsn < 1 || firstLsn + count - 1 > MAX_LSN) return { kind: 'bad-content', reason: `LSN ${firstLsn} out of range` };
  if (expectedLsn !== null && firstLsn !== expectedLsn) return { kind: 'bad-content', reason: `LSN ${firstLsn} where ${expectedLsn} was expected` };
  if (!allZero(buf, bodyEnd, at + size)) return { kind: 'bad-content', reason: 'non-zero padding' };
  const records: WalRecord[] = new Array(count);
  let p = at + FRAME_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (p + RECORD_HEADER_SIZE > bodyEnd) return { kind: 'bad-content', reason: `record ${i} header past the frame body` };
    const op = buf[p]!;
    if (!isValidOp(op)) return { kind: 'bad-content', reason: `record ${i} has unknown op type ${op}` };
    const len = v.getUint32(p + 4, true);
    const start = p + RECORD_HEADER_SIZE;
    if (start + len > bodyEnd) return { kind: 'bad-content', reason: `record ${i} payload past the frame body` };
    records[i] = { lsn: firstLsn + i, op, payload: buf.subarray(start, start + len) };
    p = start + len;
  }
  if (p !== bodyEnd) return { kind: 'bad-content', reason: 'records do not fill the frame body' };
  const frame: Frame = { firstLsn, timestamp: u64(v, at + 16), syncedThrough: u64(v, at + 32), records, size };
  return { kind: 'frame', frame };
}

/**
 * Cheap test used when looking past a bad frame: could a frame start at `at`? Checks only the
 * header's plausibility, not the CRC.
 */
export function plausibleFrameHeader(buf: Uint8Array, at: number): { bodyLength: number } | null {
  if (at + FRAME_HEADER_SIZE > buf.length) return null;
  const v = viewOf(buf);
  const bodyLength = v.getUint32(at + 4, true);
  if (bodyLength < RECORD_HEADER_SIZE || bodyLength > MAX_FRAME_BODY_BYTES) return null;
  const count = v.getUint32(at + 24, true);
  if (count === 0 || count * RECORD_HEADER_SIZE > bodyLength) return null;
  return { bodyLength };
}
