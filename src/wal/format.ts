/**
 * WAL segment format, version 1. Wire format: NEVER change a value here; add new versions.
 * Twin document: docs/format/wal.md (grammar, worked example, rationale).
 *
 * A segment file `wal/wal_NNNNNN.log` is a 48-byte header followed by 8-byte-aligned frames.
 * All integers are little-endian.
 *
 *   segment header (48 bytes)
 *   +0   8  magic            "VWALSEG\n"
 *   +8   2  format version   1
 *   +10  2  header size      48
 *   +12  4  flags            bit 0 RESTART: the segment deliberately starts above its predecessor's
 *                            last LSN + 1 (the owner abandoned the LSNs between); other bits 0
 *   +16  8  segment number   1, 2, 3, ... (matches the file name)
 *   +24  8  first LSN        LSN of the first record this segment will hold
 *   +32  8  created at       ms since the Unix epoch
 *   +40  4  salt             random per segment; seeds every frame CRC in this segment
 *   +44  4  header CRC       CRC-32C of bytes [0, 44)
 *
 *   frame = one atomic batch of records (40-byte header + body + zero padding to 8 bytes)
 *   +0   4  CRC              CRC-32C of (salt as 4 LE bytes) ++ frame bytes [4, 40 + body length)
 *   +4   4  body length      bytes of records that follow the header (>= 8)
 *   +8   8  first LSN        LSN of the first record; record i has LSN first + i
 *   +16  8  timestamp        commit time of the batch, ms since the epoch (or a caller's hybrid ts)
 *   +24  4  record count     >= 1
 *   +28  4  flags            0 (reserved)
 *   +32  8  synced through   segment offset up to which this segment was durable (fsynced)
 *                            when the frame was written: a later frame that is intact proves
 *                            that every byte before this offset was acknowledged durable
 *   +40     body             record*
 *
 *   record = 8-byte header + payload (records are packed, not aligned)
 *   +0   1  op type          see OpType (0 is never valid: zeroed space cannot parse as a record)
 *   +1   3  reserved         0
 *   +4   4  payload length
 *   +8      payload
 *
 * Why this shape: the CRC covers the length (a flipped length can't go unnoticed), the LSN
 * (a stale frame at the wrong place fails the LSN check) and the per-segment salt (bytes from
 * another segment or an earlier use of the same blocks never validate). A whole batch is one
 * frame with one CRC, so replay can never yield half a batch. Frames are 8-byte aligned so a
 * frame header never straddles a 512-byte sector.
 */

export const SEGMENT_MAGIC = Uint8Array.from([0x56, 0x57, 0x41, 0x4c, 0x53, 0x45, 0x47, 0x0a]); // "VWALSEG\n"
export const FORMAT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 48;
export const FRAME_HEADER_SIZE = 40;
export const RECORD_HEADER_SIZE = 8;
export const FRAME_ALIGN = 8;

/** Segment header flag: this segment starts an LSN range above its predecessor on purpose. */
export const SEGMENT_FLAG_RESTART = 1;

/** Largest payload of one record: 64 MiB. Larger appends fail with RECORD_TOO_LARGE. */
export const MAX_RECORD_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** Largest body of one frame (one atomic batch): 256 MiB. */
export const MAX_FRAME_BODY_BYTES = 256 * 1024 * 1024;
/** Largest LSN vecwal will issue: LSNs are JS numbers, exact up to 2^53 - 1. */
export const MAX_LSN = Number.MAX_SAFE_INTEGER;

/** Record operation types. Values are wire format; retired values are never reused. */
export enum OpType {
  Insert = 1,
  Upsert = 2,
  Delete = 3,
  CreateCollection = 4,
  DropCollection = 5,
  RenameCollection = 6,
  CreateIndex = 7,
  DropIndex = 8,
  /** A no-op marker (e.g. an engine barrier); replay passes it through. */
  Marker = 9,
  /** Free for applications that use the WAL on its own. */
  User = 64,
}

const OP_VALUES = new Set<number>(Object.values(OpType).filter((v): v is number => typeof v === 'number'));
export function isValidOp(op: number): op is OpType {
  return OP_VALUES.has(op);
}

export function alignFrame(n: number): number {
  return (n + FRAME_ALIGN - 1) & ~(FRAME_ALIGN - 1);
}

/** `wal_000042.log`: six digits at least, so text order is number order up to 999,999. */
export function segmentFileName(segmentNo: number): string {
  return `wal_${String(segmentNo).padStart(6, '0')}.log`;
}

/** The segment number of a WAL file name, or null if the name is not one. */
export function parseSegmentFileName(name: string): number | null {
  const m = /^wal_(\d{6,})\.log$/.exec(name);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

// Constant relationships the codec relies on.
if (SEGMENT_HEADER_SIZE % FRAME_ALIGN !== 0 || FRAME_HEADER_SIZE % FRAME_ALIGN !== 0) {
  throw new Error('wal format: header sizes must be multiples of the frame alignment');
}
