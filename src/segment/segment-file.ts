/**
 * Data segment files: write one immutable `data.seg` per segment folder, read it back column
 * by column, find a primary key's row; write and read the folder's delete files. Byte layout:
 * src/segment/format.ts and docs/format/segment.md. All I/O goes through the FileSystem seam.
 *
 * Durability: writeSegment writes `data.seg.tmp`, fsyncs it, renames it to `data.seg` and
 * fsyncs the folder (created durably first), so after a power cut `data.seg` is either absent
 * or complete. Delete files are replaced the same way (writeFileAtomic).
 *
 * Reading: open checks the header, footer and primary-key index (and keeps the pk index in
 * memory for findRow); each column's CRC is checked when that column is read. A column is read
 * with one read into a fresh 8-aligned buffer and mapped as a typed array, so loading vectors
 * costs about a read and a CRC pass, nothing per element.
 */
import type { FileHandle, FileSystem } from '../fs/fs.js';
import { joinPath, mkdirDurable, readFile, readFully, writeFileAtomic, writevFully } from '../fs/io.js';
import { VecwalError, invalidArgument, ioError } from '../errors.js';
import type { CollectionSchema, ColumnBatch, ColumnData, FieldSchema, PrimaryKey } from '../db/types.js';
import {
  COLUMN_HEADER_SIZE,
  DYNAMIC_FIELD_INDEX,
  MAX_ROWS,
  TYPE_CODES,
  allocUnsafe,
  concatColumnOf,
  decodeColumnAt,
  emptyColumn,
  decodeDynamicAt,
  encodeColumn,
  encodeColumnOfBatches,
  encodeDynamicOfBatches,
  leBytes,
  makeBlock,
  pad8,
  partLength,
  typedAt,
  type EncodedColumn,
} from '../db/columns.js';
import {
  DATA_FILE,
  DATA_HEADER_SIZE,
  INDEX_ENTRY_SIZE,
  PK_INDEX_FIELD,
  TAIL_SIZE,
  badFormat,
  crcOf,
  decodeDataHeader,
  decodeDeleteFile,
  decodeFooter,
  decodeTail,
  encodeDataHeader,
  encodeDeleteFile,
  encodeFooter,
  segmentCorrupted,
  type IndexEntry,
} from './format.js';

export interface SegmentFileMeta {
  segmentId: number;
  collectionId: number;
  /** LSN range of the writes whose rows the segment holds. */
  minLsn: number;
  maxLsn: number;
}

/** Largest single read request (Node refuses more than 2 GiB per call); writes go out in WRITE_BATCH_BYTES pieces. */
const IO_CHUNK = 1 << 30;
/** Large blocks are read and checksummed in chunks of this size, overlapping the two. */
const VERIFY_CHUNK = 8 << 20;
/** Small pieces are gathered into one write of up to this size. */
const STAGE_BYTES = 1 << 20;
/**
 * Bytes gathered before they go out in one writev, each followed by an fdatasync (RocksDB's
 * bytes_per_sync, with the one sync call Node has): the disk gets a segment 16 MiB at a time,
 * so a WAL fdatasync issued meanwhile waits behind at most that much writeback, not behind a
 * whole segment (a 1M-row ingest with flushes: WAL sync p90 ~34 -> ~30 ms, +4-10% rows/s).
 */
const WRITE_BATCH_BYTES = 16 << 20;
const ZEROS = new Uint8Array(8);

function asIoError(op: string, file: string, e: unknown): VecwalError {
  return e instanceof VecwalError ? e : ioError(op, file, e);
}

function checkMeta(m: SegmentFileMeta): void {
  const ok = (n: number, min: number) => Number.isSafeInteger(n) && n >= min;
  if (!ok(m.segmentId, 1) || !ok(m.collectionId, 1)) throw invalidArgument(`segment id ${m.segmentId} and collection id ${m.collectionId} must be positive integers`);
  if (!ok(m.minLsn, 0) || !ok(m.maxLsn, m.minLsn)) throw invalidArgument(`LSN range [${m.minLsn}, ${m.maxLsn}] is invalid`);
}

function pkFieldOf(schema: CollectionSchema): { field: FieldSchema; index: number } {
  const index = schema.fields.findIndex((f) => f.isPrimaryKey);
  const field = schema.fields[index];
  if (field === undefined || (field.dataType !== 'Int64' && field.dataType !== 'VarChar')) {
    throw invalidArgument(`collection ${schema.name} needs an Int64 or VarChar primary key`);
  }
  return { field, index };
}

// ---------------------------------------------------------------------------------------------
// Primary-key index block

/** Row offsets 0..n-1 ordered by key, equal keys by row (a stable sort). */
function sortedOrder(n: number, less: (a: number, b: number) => number, isSorted: () => boolean): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (isSorted()) return order; // autoID keys arrive sorted: skip the O(n log n) sort
  const arr = Array.from(order).sort((a, b) => less(a, b) || a - b);
  order.set(arr);
  return order;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Word positions of an int64's low and high 32-bit halves in an Int32Array view of it. */
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;

function int32Words(keys: BigInt64Array): Int32Array {
  return new Int32Array(keys.buffer, keys.byteOffset, keys.length * 2);
}

function isSortedInt64(w: Int32Array, n: number): boolean {
  for (let i = 1; i < n; i++) {
    const a = w[2 * i - 2 + HI]!;
    const b = w[2 * i + HI]!;
    if (a > b || (a === b && w[2 * i - 2 + LO]! >>> 0 > w[2 * i + LO]! >>> 0)) return false;
  }
  return true;
}

/**
 * Row order of Int64 keys, ascending, equal keys by row: an LSD radix sort on four 16-bit
 * digits, stable, so ties stay in row order. A comparator sort reads every key as a fresh
 * BigInt and is ~30x slower (1.5 s for a million random keys).
 */
function int64Order(keys: BigInt64Array): Uint32Array {
  const n = keys.length;
  const w = int32Words(keys);
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (isSortedInt64(w, n)) return order; // autoID keys arrive sorted
  let next = new Uint32Array(n);
  const counts = new Uint32Array(0x10000);
  for (let pass = 0; pass < 4; pass++) {
    const word = pass < 2 ? LO : HI;
    const shift = (pass & 1) * 16;
    const flip = pass === 3 ? 0x8000 : 0; // the sign bit: negative keys sort first
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((w[2 * order[i]! + word]! >>> shift) & 0xffff) ^ flip]!++;
    if (counts.includes(n)) continue; // every key has the same digit: nothing to move
    for (let d = 0, sum = 0; d < 0x10000; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const r = order[i]!;
      next[counts[((w[2 * r + word]! >>> shift) & 0xffff) ^ flip]!++] = r;
    }
    [order, next] = [next, order];
  }
  return order;
}

function pkIndexBlock(field: FieldSchema, fieldIndex: number, col: ColumnData, rows: number): EncodedColumn {
  if ('valid' in col && col.valid && col.valid.includes(0)) throw invalidArgument(`primary key ${field.name} has nulls`);
  if (col.type === 'Int64') {
    const keys = col.values;
    const order = int64Order(keys);
    const sorted = new BigInt64Array(rows);
    for (let i = 0; i < rows; i++) sorted[i] = keys[order[i]!]!;
    return makeBlock(PK_INDEX_FIELD, TYPE_CODES.Int64, 0, fieldIndex, [leBytes(sorted), leBytes(order)]);
  }
  if (col.type !== 'VarChar') throw invalidArgument(`primary key ${field.name} must be Int64 or VarChar`);
  // Byte order of UTF-8 is code point order: the same in every language, unlike UTF-16 order.
  const keys = col.values.map((s) => Buffer.from(s, 'utf8'));
  const order = sortedOrder(rows, (a, b) => Buffer.compare(keys[a]!, keys[b]!), () => {
    for (let i = 1; i < rows; i++) if (Buffer.compare(keys[i - 1]!, keys[i]!) > 0) return false;
    return true;
  });
  const offsets = new Uint32Array(rows + 1);
  for (let i = 0; i < rows; i++) offsets[i + 1] = offsets[i]! + keys[order[i]!]!.length;
  const blob = Buffer.concat(Array.from(order, (r) => keys[r]!), offsets[rows]);
  return makeBlock(PK_INDEX_FIELD, TYPE_CODES.VarChar, 0, fieldIndex, [leBytes(order), leBytes(offsets), blob]);
}

/** The sorted keys of a segment, searchable without decoding them. */
interface PkIndex {
  /** Positions [lo, hi) in `rows` whose key equals `pk`. */
  range(pk: PrimaryKey): [number, number];
  rows: Uint32Array;
}

function lowerBound(n: number, below: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (below(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function parsePkIndex(block: Uint8Array, pk: { field: FieldSchema; index: number }, rowCount: number, file: string, at: number): PkIndex {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const type = TYPE_CODES[pk.field.dataType];
  if (v.getUint16(0, true) !== PK_INDEX_FIELD || block[2] !== type || block[3] !== 0 || v.getUint32(4, true) !== pk.index) {
    throw badFormat(file, at, `primary-key index is not for ${pk.field.dataType} field ${pk.index} (${pk.field.name})`);
  }
  const bad = (why: string) => badFormat(file, at, `primary-key index: ${why}`);
  if (pk.field.dataType === 'Int64') {
    const rowsAt = COLUMN_HEADER_SIZE + 8 * rowCount;
    if (rowsAt + pad8(4 * rowCount) !== block.length) throw bad('size does not match the row count');
    const keys = typedAt('Int64', block, COLUMN_HEADER_SIZE, rowCount) as BigInt64Array;
    const rows = checkRows(typedAt('u32', block, rowsAt, rowCount) as Uint32Array, rowCount, bad);
    return { rows, range: int64Searcher(keys) };
  }
  const offsAt = COLUMN_HEADER_SIZE + pad8(4 * rowCount);
  const blobAt = offsAt + pad8(4 * (rowCount + 1));
  if (blobAt > block.length) throw bad('size does not match the row count');
  const rows = checkRows(typedAt('u32', block, COLUMN_HEADER_SIZE, rowCount) as Uint32Array, rowCount, bad);
  const offs = typedAt('u32', block, offsAt, rowCount + 1) as Uint32Array;
  for (let i = 0; i < rowCount; i++) if (offs[i + 1]! < offs[i]!) throw bad('offsets decrease');
  if (offs[0] !== 0 || blobAt + pad8(offs[rowCount]!) !== block.length) throw bad('offsets do not match the size');
  const blob = Buffer.from(block.buffer, block.byteOffset + blobAt, offs[rowCount]!);
  return { rows, range: (k) => varcharRange(blob, offs, rowCount, k) };
}

function checkRows(rows: Uint32Array, rowCount: number, bad: (why: string) => Error): Uint32Array {
  for (let i = 0; i < rows.length; i++) if (rows[i]! >= rowCount) throw bad(`row ${rows[i]} out of range`);
  return rows;
}

/** Keys per fence: the fences (every 64th key) are small enough to stay in cache. */
const FENCE = 64;

/** Sign of key `i` of `w` (32-bit word pairs) minus the key (hi, lo). */
function cmpInt64(w: Int32Array, i: number, hi: number, lo: number): number {
  const h = w[2 * i + HI]!;
  if (h !== hi) return h < hi ? -1 : 1;
  const l = w[2 * i + LO]! >>> 0;
  return l < lo ? -1 : l > lo ? 1 : 0;
}

/**
 * Range search over sorted Int64 keys. Compares 32-bit halves (reading a BigInt64Array element
 * allocates a BigInt), and searches a compact copy of every 64th key first, so a lookup in a
 * million keys takes a few cache misses instead of ~20.
 */
function int64Searcher(keys: BigInt64Array): (pk: PrimaryKey) => [number, number] {
  const w = int32Words(keys);
  const n = keys.length;
  const m = Math.ceil(n / FENCE);
  const fence = new Int32Array(2 * m);
  for (let j = 0; j < m; j++) {
    fence[2 * j] = w[2 * j * FENCE]!;
    fence[2 * j + 1] = w[2 * j * FENCE + 1]!;
  }
  return (pk) => {
    if (typeof pk !== 'bigint') throw invalidArgument(`primary key ${String(pk)}: this collection's keys are Int64 (bigint)`);
    if (BigInt.asIntN(64, pk) !== pk) return [0, 0];
    const hi = Number(pk >> 32n);
    const lo = Number(BigInt.asUintN(32, pk));
    // Fence j is key j*FENCE; every key up to fence j-1 is below pk, so the first key >= pk
    // lies in [(j-1)*FENCE, j*FENCE].
    const j = lowerBound(m, (k) => cmpInt64(fence, k, hi, lo) < 0);
    const from = Math.max(0, (j - 1) * FENCE);
    const start = from + lowerBound(Math.min(n, j * FENCE) - from, (i) => cmpInt64(w, from + i, hi, lo) < 0);
    let end = start;
    while (end < n && cmpInt64(w, end, hi, lo) === 0) end++; // duplicate keys are rare
    return [start, end];
  };
}

function varcharRange(blob: Buffer, offs: Uint32Array, n: number, pk: PrimaryKey): [number, number] {
  if (typeof pk !== 'string') throw invalidArgument(`primary key ${String(pk)}: this collection's keys are VarChar (string)`);
  const key = Buffer.from(pk, 'utf8');
  // blob.compare(target, ..., sourceStart, sourceEnd) compares key i (the source) with `key`.
  const cmp = (i: number) => blob.compare(key, 0, key.length, offs[i], offs[i + 1]);
  return [lowerBound(n, (i) => cmp(i) < 0), lowerBound(n, (i) => cmp(i) <= 0)];
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Writes the file in file order with few requests: small pieces are copied into a stage buffer,
 * large ones (vector columns) are referenced as they are, and every WRITE_BATCH_BYTES the pieces
 * go out in one writev and are fdatasynced. (One awaited write per piece cost a round trip
 * through a busy event loop each: a flush's writes took several times the disk's time.) The
 * caller syncs the end itself.
 */
class StagedWriter {
  private stage: Uint8Array;
  /** stage[from, fill) holds bytes not yet in `pieces`. */
  private from = 0;
  private fill = 0;
  private pieces: Uint8Array[] = [];
  private piecesBytes = 0;
  private written = 0;

  constructor(
    private readonly h: FileHandle,
    totalBytes: number,
  ) {
    this.stage = new Uint8Array(Math.min(STAGE_BYTES, totalBytes));
  }

  /** Bytes accepted so far: the file offset of the next byte. */
  get pos(): number {
    return this.written + this.piecesBytes + this.fill - this.from;
  }

  async put(b: Uint8Array): Promise<void> {
    if (b.length > STAGE_BYTES / 2) {
      this.cut(); // keep file order: staged bytes go first
      for (let p = 0; p < b.length; p += WRITE_BATCH_BYTES) {
        const piece = b.subarray(p, Math.min(b.length, p + WRITE_BATCH_BYTES));
        this.pieces.push(piece);
        this.piecesBytes += piece.length;
        if (this.piecesBytes >= WRITE_BATCH_BYTES) await this.flushAndSync();
      }
      return;
    }
    if (this.fill + b.length > this.stage.length) {
      this.cut();
      // the full stage is referenced by pieces until they are written: take a fresh one
      this.stage = new Uint8Array(STAGE_BYTES);
      this.from = this.fill = 0;
    }
    this.stage.set(b, this.fill);
    this.fill += b.length;
    if (this.piecesBytes >= WRITE_BATCH_BYTES) await this.flushAndSync();
  }

  private async flushAndSync(): Promise<void> {
    await this.flush();
    await this.h.datasync();
  }

  async flush(): Promise<void> {
    this.cut();
    if (this.piecesBytes === 0) return;
    await writevFully(this.h, this.pieces, this.written);
    this.written += this.piecesBytes;
    this.pieces = [];
    this.piecesBytes = 0;
    this.from = this.fill = 0; // everything staged is written: the stage is free again
  }

  /** Move the staged bytes into the piece list. */
  private cut(): void {
    if (this.fill === this.from) return;
    this.pieces.push(this.stage.subarray(this.from, this.fill));
    this.piecesBytes += this.fill - this.from;
    this.from = this.fill;
  }
}

/** Write one block, padding included; returns its index entry (with its CRC). */
async function putBlock(w: StagedWriter, b: EncodedColumn): Promise<IndexEntry> {
  const offset = w.pos;
  let crc = crcOf(b.header);
  await w.put(b.header);
  for (const part of b.parts) {
    for (const piece of part instanceof Uint8Array ? [part] : part) {
      crc = crcOf(piece, crc);
      await w.put(piece);
    }
    const n = partLength(part);
    const pad = ZEROS.subarray(0, pad8(n) - n);
    crc = crcOf(pad, crc);
    if (pad.length) await w.put(pad);
  }
  const fieldIndex = b.header[0]! | (b.header[1]! << 8);
  return { fieldIndex, typeCode: b.header[2]!, crc, offset, length: b.size };
}

/**
 * Every block of the segment, in file order, for the rows of `batches` in order (the batches
 * are not concatenated: fixed-width columns are written from each batch's own arrays).
 * Validates the batches before anything is written.
 */
function planBlocks(schema: CollectionSchema, batches: readonly ColumnBatch[]): { blocks: EncodedColumn[]; rows: number } {
  let rows = 0;
  for (const b of batches) rows += b.count;
  if (!Number.isInteger(rows) || rows < 0 || rows > MAX_ROWS) throw invalidArgument(`row count ${rows} is out of range`);
  if (schema.fields.length >= PK_INDEX_FIELD) throw invalidArgument(`too many fields: ${schema.fields.length}`);
  const pk = pkFieldOf(schema);
  // The keys are gathered once (8 bytes a row at most): the index block sorts them.
  const keys = batches.length === 0 ? emptyColumn(pk.field) : concatColumnOf(pk.field, batches);
  const blocks = schema.fields.map((f, i) => (i === pk.index ? encodeColumn(f, i, keys, rows) : encodeColumnOfBatches(f, i, batches)));
  for (const b of batches) if (b.columns.size !== schema.fields.length) throw invalidArgument('batch has columns that are not schema fields');
  if (batches.some((b) => b.dynamic !== undefined)) {
    if (!schema.enableDynamicField) throw invalidArgument(`collection ${schema.name} has no dynamic field`);
    blocks.push(encodeDynamicOfBatches(batches));
  }
  blocks.push(pkIndexBlock(pk.field, pk.index, keys, rows));
  return { blocks, rows };
}

/**
 * Write `batch` (or the rows of several batches, in order, as one segment: nothing is
 * concatenated) as the segment in folder `dir` (created durably if missing): data.seg.tmp,
 * fsync, rename to data.seg, fsync the folder. Returns the file's size and path. Throws
 * INVALID_ARGUMENT (nothing written) for a batch that does not fit the schema, IO_ERROR for
 * filesystem failures (data.seg is then absent or complete; a data.seg.tmp may be left over).
 * The batches must not change until the returned promise settles.
 */
export async function writeSegment(fs: FileSystem, dir: string, meta: SegmentFileMeta, schema: CollectionSchema, batch: ColumnBatch | readonly ColumnBatch[]): Promise<{ bytes: number; path: string }> {
  checkMeta(meta);
  const { blocks, rows } = planBlocks(schema, Array.isArray(batch) ? (batch as readonly ColumnBatch[]) : [batch as ColumnBatch]);
  const header = encodeDataHeader({ ...meta, rowCount: rows, fieldCount: schema.fields.length, blockCount: blocks.length });
  const total = blocks.reduce((s, b) => s + b.size, DATA_HEADER_SIZE + blocks.length * INDEX_ENTRY_SIZE + TAIL_SIZE);
  const path = joinPath(dir, DATA_FILE);
  const tmp = `${path}.tmp`;
  try {
    await mkdirDurable(fs, dir);
    const h = await fs.open(tmp, 'w');
    try {
      const w = new StagedWriter(h, total);
      await w.put(header);
      const entries: IndexEntry[] = [];
      for (const b of blocks) entries.push(await putBlock(w, b));
      await w.put(encodeFooter(entries, w.pos));
      await w.flush();
      await h.sync();
    } catch (e) {
      await h.close().catch(() => undefined);
      throw e;
    }
    await h.close();
    await fs.rename(tmp, path);
    await fs.syncDir(dir);
  } catch (e) {
    throw asIoError('write segment', path, e);
  }
  return { bytes: total, path };
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Read exactly `length` bytes at `position` into a fresh 8-aligned buffer. */
async function readExact(h: FileHandle, position: number, length: number, file: string): Promise<Uint8Array> {
  const buf = allocUnsafe(length);
  for (let p = 0; p < length; p += IO_CHUNK) await readInto(h, buf, p, Math.min(IO_CHUNK, length - p), position + p, file);
  return buf;
}

export class SegmentReader {
  /** Rows in the segment. */
  readonly rowCount: number;
  readonly meta: Readonly<SegmentFileMeta>;
  /** Whether the segment stores the dynamic field. */
  readonly hasDynamic: boolean;
  private closed = false;

  private constructor(
    private readonly h: FileHandle,
    /** Path of data.seg. */
    readonly file: string,
    private readonly schema: CollectionSchema,
    private readonly entries: readonly IndexEntry[],
    private readonly pk: PkIndex,
    header: { rowCount: number } & SegmentFileMeta,
  ) {
    this.rowCount = header.rowCount;
    this.meta = { segmentId: header.segmentId, collectionId: header.collectionId, minLsn: header.minLsn, maxLsn: header.maxLsn };
    this.hasDynamic = entries.length === schema.fields.length + 2;
  }

  /**
   * Open the segment in folder `dir`, checking header, footer and pk index: SEGMENT_CORRUPTED
   * (file, offset) on damage, BAD_FORMAT for another format version or a schema mismatch.
   */
  static async open(fs: FileSystem, dir: string, schema: CollectionSchema): Promise<SegmentReader> {
    const file = joinPath(dir, DATA_FILE);
    let h: FileHandle;
    try {
      h = await fs.open(file, 'r');
    } catch (e) {
      throw ioError('open segment', file, e);
    }
    try {
      return await SegmentReader.load(h, file, schema);
    } catch (e) {
      await h.close().catch(() => undefined);
      throw asIoError('open segment', file, e);
    }
  }

  private static async load(h: FileHandle, file: string, schema: CollectionSchema): Promise<SegmentReader> {
    const size = await h.size();
    const header = decodeDataHeader(await readExact(h, 0, Math.min(size, DATA_HEADER_SIZE), file), file);
    const footerLen = header.blockCount * INDEX_ENTRY_SIZE + TAIL_SIZE;
    if (size < DATA_HEADER_SIZE + footerLen) throw segmentCorrupted(file, size, `file of ${size} bytes is too short for its index`);
    const footer = await readExact(h, size - footerLen, footerLen, file);
    const { indexOffset } = decodeTail(footer.subarray(footerLen - TAIL_SIZE), size, header, file);
    const entries = decodeFooter(footer, indexOffset, header.blockCount, file);
    checkLayout(schema, header, entries, file);
    const pkf = pkFieldOf(schema);
    const pkEntry = entries[entries.length - 1]!;
    const pk = parsePkIndex(await readBlock(h, pkEntry, file), pkf, header.rowCount, file, pkEntry.offset);
    return new SegmentReader(h, file, schema, entries, pk, header);
  }

  private check(): void {
    if (this.closed) throw new VecwalError('CLOSED', `segment ${this.file} is closed`);
  }

  /** One schema field's column. Fixed-width values are views into a buffer of their own. */
  async readColumn(name: string): Promise<ColumnData> {
    this.check();
    const index = this.schema.fields.findIndex((f) => f.name === name);
    if (index < 0) throw invalidArgument(`collection ${this.schema.name} has no field ${name}`);
    const entry = this.entries[index]!;
    const block = await readBlock(this.h, entry, this.file);
    return inBlock(this.file, entry, () => {
      // Texts: checked now, VarChar strings made on first use; the bytes are kept for a rewrite
      // (compaction) instead of the strings (a search over a loaded segment reads a few rows).
      const { column, end } = decodeColumnAt(this.schema.fields[index]!, index, block, 0, this.rowCount, false, true);
      if (end !== block.length) throw new VecwalError('BAD_FORMAT', 'block longer than its column', { offset: end });
      return column;
    });
  }

  /** The dynamic field's objects (null where a row has none), or undefined if not stored. */
  async readDynamic(): Promise<(Record<string, unknown> | null)[] | undefined> {
    this.check();
    if (!this.hasDynamic) return undefined;
    const entry = this.entries[this.schema.fields.length]!;
    const block = await readBlock(this.h, entry, this.file);
    return inBlock(this.file, entry, () => {
      const { values, end } = decodeDynamicAt(block, 0, this.rowCount);
      if (end !== block.length) throw new VecwalError('BAD_FORMAT', 'block longer than its column', { offset: end });
      return values;
    });
  }

  /** Every column (and the dynamic field if stored) as one batch. */
  async readAll(): Promise<ColumnBatch> {
    const columns = new Map<string, ColumnData>();
    for (const f of this.schema.fields) columns.set(f.name, await this.readColumn(f.name));
    const dynamic = await this.readDynamic();
    return dynamic === undefined ? { count: this.rowCount, columns } : { count: this.rowCount, columns, dynamic };
  }

  /**
   * The row holding primary key `pk`, or -1. If a key was written more than once into this
   * segment, the highest row (the latest write) is returned; findRows returns them all.
   */
  findRow(pk: PrimaryKey): number {
    this.check();
    const [lo, hi] = this.pk.range(pk);
    return hi > lo ? this.pk.rows[hi - 1]! : -1;
  }

  /** Every row holding `pk`, ascending. */
  findRows(pk: PrimaryKey): number[] {
    this.check();
    const [lo, hi] = this.pk.range(pk);
    return Array.from(this.pk.rows.subarray(lo, hi));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.h.close();
    } catch (e) {
      throw asIoError('close segment', this.h.path, e);
    }
  }
}

/**
 * Read a block into a fresh 8-aligned buffer and check its CRC. Large blocks are read in
 * chunks, and each chunk's CRC is computed while the next chunk's read is in flight (reads run
 * on libuv's thread pool), so verifying costs little more than reading.
 */
async function readBlock(h: FileHandle, e: IndexEntry, file: string): Promise<Uint8Array> {
  const block = allocUnsafe(e.length);
  let crc = 0;
  let done = 0; // bytes read and checksummed
  for (let p = 0; p < e.length; p += VERIFY_CHUNK) {
    const n = Math.min(VERIFY_CHUNK, e.length - p);
    const reading = readInto(h, block, p, n, e.offset + p, file);
    crc = crcOf(block.subarray(done, p), crc);
    done = p;
    await reading;
  }
  crc = crcOf(block.subarray(done), crc);
  if (crc !== e.crc) throw segmentCorrupted(file, e.offset, `block checksum mismatch (field index ${e.fieldIndex})`);
  return block;
}

/** Fill `buf[at, at+n)` from file position `position`; SEGMENT_CORRUPTED if the file ends first. */
async function readInto(h: FileHandle, buf: Uint8Array, at: number, n: number, position: number, file: string): Promise<void> {
  let got: number;
  try {
    got = await readFully(h, buf, at, n, position);
  } catch (e) {
    throw ioError('read segment', file, e);
  }
  if (got !== n) throw segmentCorrupted(file, position + got, 'file ends early (it changed while open?)');
}

/** Run a block decoder, turning its BAD_FORMAT into one that names the file and file offset. */
function inBlock<T>(file: string, e: IndexEntry, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (!(err instanceof VecwalError) || err.code !== 'BAD_FORMAT') throw err;
    throw badFormat(file, e.offset + (err.offset ?? 0), err.message);
  }
}

/** The index must list the schema's fields in order, then maybe the dynamic field, then the pk index. */
function checkLayout(schema: CollectionSchema, header: { fieldCount: number; rowCount: number }, entries: readonly IndexEntry[], file: string): void {
  const n = schema.fields.length;
  if (header.fieldCount !== n) throw badFormat(file, 12, `segment has ${header.fieldCount} fields, the schema ${n}`);
  if (header.rowCount > MAX_ROWS) throw badFormat(file, 32, `row count ${header.rowCount} is out of range`);
  const dyn = entries.length === n + 2;
  if (entries.length !== n + 1 && !dyn) throw badFormat(file, 14, `${entries.length} blocks for ${n} fields`);
  if (dyn && !schema.enableDynamicField) throw badFormat(file, 14, 'segment stores a dynamic field the schema does not enable');
  const pk = pkFieldOf(schema);
  entries.forEach((e, i) => {
    const want = i < n ? [i, TYPE_CODES[schema.fields[i]!.dataType]] : dyn && i === n ? [DYNAMIC_FIELD_INDEX, TYPE_CODES.JSON] : [PK_INDEX_FIELD, TYPE_CODES[pk.field.dataType]];
    if (e.fieldIndex !== want[0] || e.typeCode !== want[1]) throw badFormat(file, e.offset, `block ${i} is field ${e.fieldIndex} type ${e.typeCode}, expected field ${want[0]} type ${want[1]}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Delete files

/** Sorted, de-duplicated row offsets; INVALID_ARGUMENT for anything not a u32. */
function sortedUniqueRows(rows: Iterable<number>): Uint32Array {
  const arr: number[] = [];
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r > MAX_ROWS) throw invalidArgument(`row offset ${r} is not an integer in [0, ${MAX_ROWS}]`);
    arr.push(r);
  }
  const sorted = Uint32Array.from(arr).sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i]!;
  return sorted.subarray(0, n);
}

/**
 * Write the delete file `path` (e.g. `<segment folder>/deletes_000000000001.del`) atomically
 * and durably. `rows` are row offsets in the segment, in any order, duplicates allowed.
 */
export async function writeDeleteFile(fs: FileSystem, path: string, rows: Iterable<number>): Promise<{ bytes: number; count: number }> {
  const sorted = sortedUniqueRows(rows);
  const bytes = encodeDeleteFile(sorted);
  try {
    await writeFileAtomic(fs, path, bytes);
  } catch (e) {
    throw ioError('write delete file', path, e);
  }
  return { bytes: bytes.length, count: sorted.length };
}

/** The deleted row offsets of a delete file, strictly ascending. SEGMENT_CORRUPTED / BAD_FORMAT on damage. */
export async function readDeleteFile(fs: FileSystem, path: string): Promise<Uint32Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(fs, path);
  } catch (e) {
    throw ioError('read delete file', path, e);
  }
  return decodeDeleteFile(bytes, path);
}
