/**
 * Data segment format, version 1: immutable, checksummed, columnar. Pure codecs; the I/O is in
 * src/segment/segment-file.ts. Twin document: docs/format/segment.md (worked example,
 * rationale). Wire format: NEVER change a value here; add new versions.
 *
 *   data/segment_NNNNNN/            one folder per segment
 *     data.seg                      the rows (this file, written once, never modified)
 *     deletes_<n>.del               rows deleted later, one file per flush that deleted any
 *
 * data.seg; all integers little-endian, every block 8-aligned, no gaps:
 *
 *   header (64 bytes)
 *   +0   8  magic            "VSEGDAT\n"
 *   +8   2  format version   1
 *   +10  2  header size      64
 *   +12  2  field count      schema fields
 *   +14  2  block count      field count + 1 (pk index) + 1 if the dynamic field is stored
 *   +16  8  segment id
 *   +24  8  collection id
 *   +32  8  row count
 *   +40  8  min LSN          of the writes whose rows the segment holds
 *   +48  8  max LSN
 *   +56  4  flags            0 (reserved)
 *   +60  4  header CRC       CRC-32C of bytes [0, 60)
 *
 *   blocks, back to back from offset 64: one column block per schema field in schema order
 *   (the column encoding of src/db/columns.ts: 16-byte column header + padded body), then the
 *   dynamic field's column block if stored, then the primary-key index block:
 *   +0   2  0xFFFE           marks the pk index
 *   +2   1  key type         5 Int64 / 8 VarChar (TYPE_CODES)
 *   +3   1  flags            0
 *   +4   4  pk field index
 *   +8   8  body length      a multiple of 8
 *   +16     Int64:   keys i64 x rows (ascending) | rows u32 x rows              each padded to 8
 *           VarChar: rows u32 x rows | offsets u32 x (rows + 1) | UTF-8 keys    each padded to 8
 *                    (keys ascending in byte order = Unicode code point order)
 *           rows[i] = row offset of the i-th smallest key; equal keys by ascending row
 *
 *   index (24 bytes per block, in block order)
 *   +0   2  field index      0..n-1, 0xFFFF dynamic field, 0xFFFE pk index
 *   +2   1  type code
 *   +3   1  reserved         0
 *   +4   4  block CRC        CRC-32C of the whole block
 *   +8   8  offset
 *   +16  8  length           a multiple of 8
 *
 *   tail (24 bytes, the last bytes of the file)
 *   +0   8  index offset     = end of the last block
 *   +8   4  block count
 *   +12  4  footer CRC       CRC-32C of the file from the index offset to here (index + tail[0, 12))
 *   +16  8  end magic        "VSEGEND\n"
 *
 * Every byte is covered by a check: header CRC, block CRCs, footer CRC, the two magics, and
 * the layout rule (blocks contiguous from 64, index right after, tail at EOF), so a torn or
 * truncated file, a flipped bit or a block from another file is always detected.
 *
 * deletes_<n>.del:
 *   +0   8  magic            "VSEGDEL\n"
 *   +8   2  format version   1
 *   +10  2  reserved         0
 *   +12  4  count
 *   +16     rows u32 x count, strictly ascending
 *   +16+4*count  4  CRC-32C of every byte before it
 */
import { crc32c } from '@node-rs/crc32';
import { VecwalError } from '../errors.js';
import { getU64, putU64, viewOf } from '../util/bytes.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export const DATA_MAGIC = ascii('VSEGDAT\n');
export const END_MAGIC = ascii('VSEGEND\n');
export const DELETE_MAGIC = ascii('VSEGDEL\n');
export const SEGMENT_FORMAT_VERSION = 1;
export const DELETE_FORMAT_VERSION = 1;
export const DATA_HEADER_SIZE = 64;
export const INDEX_ENTRY_SIZE = 24;
export const TAIL_SIZE = 24;
export const DELETE_HEADER_SIZE = 16;
/** Field index of the primary-key index block. */
export const PK_INDEX_FIELD = 0xfffe;
export const DATA_FILE = 'data.seg';

/** `segment_000042`: six digits at least, so text order is number order up to 999,999. */
export function segmentDirName(segmentId: number): string {
  return `segment_${String(segmentId).padStart(6, '0')}`;
}

/** The segment id of a segment folder name, or null if the name is not one. */
export function parseSegmentDirName(name: string): number | null {
  const m = /^segment_(\d{6,})$/.exec(name);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export interface SegmentHeader {
  segmentId: number;
  collectionId: number;
  rowCount: number;
  minLsn: number;
  maxLsn: number;
  fieldCount: number;
  blockCount: number;
}

export interface IndexEntry {
  fieldIndex: number;
  typeCode: number;
  crc: number;
  offset: number;
  length: number;
}

// ---------------------------------------------------------------------------------------------


/** CRC-32C of `b`, continuing from `seed`; in 1 GiB steps (a Buffer view has a size limit). */
export function crcOf(b: Uint8Array, seed = 0): number {
  const STEP = 1 << 30;
  let crc = seed >>> 0;
  for (let p = 0; p < b.length; p += STEP) crc = crc32c(Buffer.from(b.buffer, b.byteOffset + p, Math.min(STEP, b.length - p)), crc) >>> 0;
  return crc;
}

export function segmentCorrupted(file: string, offset: number, reason: string): VecwalError {
  return new VecwalError('SEGMENT_CORRUPTED', `${file} at offset ${offset}: ${reason}`, { file, offset, reason });
}

export function badFormat(file: string, offset: number, reason: string): VecwalError {
  return new VecwalError('BAD_FORMAT', `${file} at offset ${offset}: ${reason}`, { file, offset, reason });
}

function hasMagic(b: Uint8Array, magic: Uint8Array, at = 0): boolean {
  for (let i = 0; i < magic.length; i++) if (b[at + i] !== magic[i]) return false;
  return true;
}

/** Magic and version: BAD_FORMAT when the file is not this kind of file or of another version. */
function checkMagicAndVersion(b: Uint8Array, magic: Uint8Array, version: number, file: string, what: string): void {
  if (b.length >= magic.length && !hasMagic(b, magic)) throw badFormat(file, 0, `bad magic number (not a vecwal ${what})`);
  if (b.length < magic.length + 2) throw segmentCorrupted(file, b.length, `file of ${b.length} bytes is too short to be a ${what}`);
  const v = viewOf(b).getUint16(magic.length, true);
  if (v !== version) throw badFormat(file, magic.length, `unsupported ${what} format version ${v}`);
}

// ---------------------------------------------------------------------------------------------
// data.seg header and footer

export function encodeDataHeader(h: SegmentHeader): Uint8Array {
  const b = new Uint8Array(DATA_HEADER_SIZE);
  const v = viewOf(b);
  b.set(DATA_MAGIC, 0);
  v.setUint16(8, SEGMENT_FORMAT_VERSION, true);
  v.setUint16(10, DATA_HEADER_SIZE, true);
  v.setUint16(12, h.fieldCount, true);
  v.setUint16(14, h.blockCount, true);
  putU64(v, 16, h.segmentId);
  putU64(v, 24, h.collectionId);
  putU64(v, 32, h.rowCount);
  putU64(v, 40, h.minLsn);
  putU64(v, 48, h.maxLsn);
  v.setUint32(56, 0, true);
  v.setUint32(60, crcOf(b.subarray(0, 60)), true);
  return b;
}

/** Decode the first bytes of data.seg (fewer than 64 if the file is shorter). */
export function decodeDataHeader(b: Uint8Array, file: string): SegmentHeader {
  checkMagicAndVersion(b, DATA_MAGIC, SEGMENT_FORMAT_VERSION, file, 'segment data file');
  if (b.length < DATA_HEADER_SIZE) throw segmentCorrupted(file, b.length, `file of ${b.length} bytes is shorter than the header`);
  const v = viewOf(b);
  if (v.getUint32(60, true) !== crcOf(b.subarray(0, 60))) throw segmentCorrupted(file, 60, 'header checksum mismatch');
  if (v.getUint16(10, true) !== DATA_HEADER_SIZE || v.getUint32(56, true) !== 0) throw segmentCorrupted(file, 10, 'unexpected header size or flags');
  return {
    fieldCount: v.getUint16(12, true),
    blockCount: v.getUint16(14, true),
    segmentId: getU64(v, 16),
    collectionId: getU64(v, 24),
    rowCount: getU64(v, 32),
    minLsn: getU64(v, 40),
    maxLsn: getU64(v, 48),
  };
}

/** The index and tail that end the file, given the blocks' entries and where the index starts. */
export function encodeFooter(entries: readonly IndexEntry[], indexOffset: number): Uint8Array {
  const b = new Uint8Array(entries.length * INDEX_ENTRY_SIZE + TAIL_SIZE);
  const v = viewOf(b);
  entries.forEach((e, i) => {
    const at = i * INDEX_ENTRY_SIZE;
    v.setUint16(at, e.fieldIndex, true);
    b[at + 2] = e.typeCode;
    b[at + 3] = 0;
    v.setUint32(at + 4, e.crc, true);
    putU64(v, at + 8, e.offset);
    putU64(v, at + 16, e.length);
  });
  const t = entries.length * INDEX_ENTRY_SIZE;
  putU64(v, t, indexOffset);
  v.setUint32(t + 8, entries.length, true);
  v.setUint32(t + 12, crcOf(b.subarray(0, t + 12)), true);
  b.set(END_MAGIC, t + 16);
  return b;
}

/** Where the index starts, from the tail (the last 24 bytes of a file of `fileSize` bytes). */
export function decodeTail(tail: Uint8Array, fileSize: number, header: SegmentHeader, file: string): { indexOffset: number } {
  const at = fileSize - TAIL_SIZE;
  if (tail.length !== TAIL_SIZE || !hasMagic(tail, END_MAGIC, 16)) throw segmentCorrupted(file, at + 16, 'missing end magic (file truncated or torn)');
  const v = viewOf(tail);
  const indexOffset = getU64(v, 0);
  const count = v.getUint32(8, true);
  if (count !== header.blockCount) throw segmentCorrupted(file, at + 8, `tail says ${count} blocks, header says ${header.blockCount}`);
  if (indexOffset + count * INDEX_ENTRY_SIZE !== at || indexOffset < DATA_HEADER_SIZE) throw segmentCorrupted(file, at, `index offset ${indexOffset} does not fit a file of ${fileSize} bytes`);
  return { indexOffset };
}

/**
 * Decode and check the footer (`footer` = file bytes from the index offset to EOF): its CRC,
 * and that the blocks tile the file from the header to the index with no gap or overlap.
 */
export function decodeFooter(footer: Uint8Array, indexOffset: number, blockCount: number, file: string): IndexEntry[] {
  const t = blockCount * INDEX_ENTRY_SIZE;
  const v = viewOf(footer);
  if (v.getUint32(t + 12, true) !== crcOf(footer.subarray(0, t + 12))) throw segmentCorrupted(file, indexOffset, 'index checksum mismatch');
  const entries: IndexEntry[] = [];
  let expect = DATA_HEADER_SIZE;
  for (let i = 0; i < blockCount; i++) {
    const at = i * INDEX_ENTRY_SIZE;
    const e = { fieldIndex: v.getUint16(at, true), typeCode: footer[at + 2]!, crc: v.getUint32(at + 4, true), offset: getU64(v, at + 8), length: getU64(v, at + 16) };
    if (footer[at + 3] !== 0 || e.offset !== expect || e.length % 8 !== 0 || e.length < 16) throw segmentCorrupted(file, indexOffset + at, `index entry ${i} is malformed`);
    expect += e.length;
    entries.push(e);
  }
  if (expect !== indexOffset) throw segmentCorrupted(file, indexOffset, 'blocks do not end where the index starts');
  return entries;
}

// ---------------------------------------------------------------------------------------------
// deletes_<n>.del

/** Encode a delete file; `rows` must be strictly ascending. */
export function encodeDeleteFile(rows: Uint32Array): Uint8Array {
  const b = new Uint8Array(DELETE_HEADER_SIZE + 4 * rows.length + 4);
  const v = viewOf(b);
  b.set(DELETE_MAGIC, 0);
  v.setUint16(8, DELETE_FORMAT_VERSION, true);
  v.setUint16(10, 0, true);
  v.setUint32(12, rows.length, true);
  for (let i = 0; i < rows.length; i++) v.setUint32(DELETE_HEADER_SIZE + 4 * i, rows[i]!, true);
  const end = b.length - 4;
  v.setUint32(end, crcOf(b.subarray(0, end)), true);
  return b;
}

/** Decode a delete file: the deleted row offsets, strictly ascending. */
export function decodeDeleteFile(b: Uint8Array, file: string): Uint32Array {
  checkMagicAndVersion(b, DELETE_MAGIC, DELETE_FORMAT_VERSION, file, 'delete file');
  if (b.length < DELETE_HEADER_SIZE + 4) throw segmentCorrupted(file, b.length, `file of ${b.length} bytes is too short`);
  const v = viewOf(b);
  const count = v.getUint32(12, true);
  if (b.length !== DELETE_HEADER_SIZE + 4 * count + 4) throw segmentCorrupted(file, 12, `${count} rows need ${DELETE_HEADER_SIZE + 4 * count + 4} bytes, file has ${b.length}`);
  const end = b.length - 4;
  if (v.getUint32(end, true) !== crcOf(b.subarray(0, end))) throw segmentCorrupted(file, end, 'checksum mismatch');
  if (v.getUint16(10, true) !== 0) throw segmentCorrupted(file, 10, 'reserved bytes are not zero');
  const rows = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    rows[i] = v.getUint32(DELETE_HEADER_SIZE + 4 * i, true);
    if (i > 0 && rows[i]! <= rows[i - 1]!) throw segmentCorrupted(file, DELETE_HEADER_SIZE + 4 * i, 'rows are not strictly ascending');
  }
  return rows;
}
