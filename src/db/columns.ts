/**
 * The column codec: a ColumnBatch <-> bytes, given the collection's schema. Pure; no I/O.
 * Every insert/upsert record in the WAL carries one encoded batch (src/db/database.ts), and a
 * data segment stores each column as one column block of this same encoding
 * (src/segment/segment-file.ts). Twin document: docs/format/columns.md. Wire format: NEVER
 * change a value here; add a new version.
 *
 * All integers little-endian. Every part starts at a multiple of 8 from the start of the batch
 * and is zero-padded to a multiple of 8, so a decoder handed an 8-aligned buffer can map the
 * fixed-width columns as typed arrays without copying (and copies when it is not aligned).
 *
 *   batch header (16 bytes)
 *   +0   2  format version   1
 *   +2   2  column count     schema fields, plus 1 when the dynamic column follows
 *   +4   4  row count
 *   +8   8  total length     bytes of the whole batch, this header included
 *   +16     column*          every schema field in schema order, then the dynamic column if any
 *
 *   column = 16-byte header + body
 *   +0   2  field index      position in schema.fields; 0xFFFF = the dynamic field ($meta)
 *   +2   1  type code        TYPE_CODES (Bool 1 ... FloatVector 11); 0 is never valid
 *   +3   1  flags            bit 0: a validity bitmap leads the body; other bits 0
 *   +4   4  aux              FloatVector: dim; Array: element type code; otherwise 0
 *   +8   8  body length      bytes, a multiple of 8
 *   +16     body             parts, each zero-padded to a multiple of 8:
 *     [validity]   ceil(rows / 8) bytes; bit (i % 8) of byte (i / 8) set = row i is not null
 *     fixed width  rows values (Bool 1 byte 0/1, Int8 1, Int16 2, Int32 4, Int64 8, Float 4,
 *                  Double 8; FloatVector rows x dim float32), in row order
 *     var length   offsets: (rows + 1) x u32, then blob: row i is blob[offsets[i], offsets[i+1]).
 *                  VarChar: UTF-8. JSON, Array, dynamic: JSON text (Int64 array elements as
 *                  decimal strings, since JSON numbers cannot hold them). Null rows are empty.
 *
 *   delete payload (primary keys of a delete)
 *   +0   1  format version   1
 *   +1   1  key type         5 Int64 or 8 VarChar (the TYPE_CODES)
 *   +2   2  reserved         0
 *   +4   4  count
 *   +8      Int64: count x i64 | VarChar: (count + 1) x u32 offsets, then the UTF-8 blob,
 *           each zero-padded to 8 bytes as in a column
 *
 * Encoding is canonical (zero padding, zero reserved bits, empty null rows, offsets from 0)
 * and the decoder insists on it, so decode(encode(b)) re-encodes to the same bytes and stray
 * bytes are reported (BAD_FORMAT), never read as data. This codec has no checksum: the WAL
 * frame and the segment block around it carry the CRC.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { VecwalError, invalidArgument } from '../errors.js';
import type { CollectionSchema, ColumnBatch, ColumnData, DataType, FieldSchema, PrimaryKey, ScalarElementType } from './types.js';
import { getU64, putU64, viewOf } from '../util/bytes.js';

export const BATCH_FORMAT_VERSION = 1;
export const DELETE_FORMAT_VERSION = 1;
export const BATCH_HEADER_SIZE = 16;
export const COLUMN_HEADER_SIZE = 16;
export const DELETE_HEADER_SIZE = 8;
/** Field index of the dynamic field's column. */
export const DYNAMIC_FIELD_INDEX = 0xffff;
export const FLAG_VALIDITY = 1;
/** Rows of one batch or segment: the row count is a u32. */
export const MAX_ROWS = 0xffff_ffff;
/** A var-length column's blob is addressed by u32 offsets. */
export const MAX_BLOB_BYTES = 0xffff_ffff;

/** Wire codes of the data types. Values are wire format; retired values are never reused. */
export const TYPE_CODES: Readonly<Record<DataType, number>> = {
  Bool: 1, Int8: 2, Int16: 3, Int32: 4, Int64: 5, Float: 6, Double: 7, VarChar: 8, JSON: 9, Array: 10, FloatVector: 11,
};

type FixedType = 'Bool' | 'Int8' | 'Int16' | 'Int32' | 'Int64' | 'Float' | 'Double' | 'FloatVector';
type Typed = Uint8Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

const WIDTH: Readonly<Record<FixedType, number>> = { Bool: 1, Int8: 1, Int16: 2, Int32: 4, Int64: 8, Float: 4, Double: 8, FloatVector: 4 };

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const ZEROS = new Uint8Array(8);

// ---------------------------------------------------------------------------------------------
// Small helpers

export function pad8(n: number): number {
  return n + ((8 - (n % 8)) % 8); // not (n + 7) & ~7: column blocks may pass 2^31 bytes
}

function bad(message: string, offset: number): VecwalError {
  return new VecwalError('BAD_FORMAT', `column batch: ${message} (at byte ${offset})`, { offset });
}


/**
 * An uninitialised buffer of its own (byteOffset 0, so 8-aligned). Zeroing costs as much as the
 * copy that follows (~1 ms per 5 MB), and every byte is written by the caller anyway.
 */
export function allocUnsafe(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

function bytesOf(a: Typed | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Reverse each `width`-byte word: only used on big-endian hosts (the format is little-endian). */
function swapWords(b: Uint8Array, width: number): void {
  if (width > 1) for (let i = 0; i + width <= b.length; i += width) b.subarray(i, i + width).reverse();
}

/** A typed array's bytes in wire (little-endian) order: a view on LE hosts, a swapped copy on BE. */
export function leBytes(a: Typed | Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return bytesOf(a);
  const copy = bytesOf(a).slice();
  swapWords(copy, a.BYTES_PER_ELEMENT);
  return copy;
}

function makeTyped(type: FixedType | 'u32', buf: ArrayBufferLike, byteOffset: number, count: number): Typed | Uint32Array {
  switch (type) {
    case 'Bool': return new Uint8Array(buf, byteOffset, count);
    case 'Int8': return new Int8Array(buf, byteOffset, count);
    case 'Int16': return new Int16Array(buf, byteOffset, count);
    case 'Int32': return new Int32Array(buf, byteOffset, count);
    case 'Int64': return new BigInt64Array(buf, byteOffset, count);
    case 'Float': case 'FloatVector': return new Float32Array(buf, byteOffset, count);
    case 'Double': return new Float64Array(buf, byteOffset, count);
    case 'u32': return new Uint32Array(buf, byteOffset, count);
  }
}

/**
 * `count` values of `type` stored little-endian at `bytes[start..]`: a view into `bytes` when
 * the host is little-endian, the position is aligned for the type and `copy` is false; an
 * aligned copy otherwise.
 */
export function typedAt(type: FixedType | 'u32', bytes: Uint8Array, start: number, count: number, copy = false): Typed | Uint32Array {
  const width = type === 'u32' ? 4 : WIDTH[type];
  const abs = bytes.byteOffset + start;
  if (LITTLE_ENDIAN && !copy && abs % width === 0) return makeTyped(type, bytes.buffer, abs, count);
  const own = allocUnsafe(count * width);
  own.set(bytes.subarray(start, start + count * width));
  if (!LITTLE_ENDIAN) swapWords(own, width);
  return makeTyped(type, own.buffer, 0, count);
}

/**
 * Scratch memory for the UTF-8 text of encodeBatch, reused across calls: freshly mapped memory
 * costs a page fault per 4 KiB on first touch, which can cost more than the encoding itself.
 * Safe because encodeBatch copies every part into its output before returning; column blocks
 * handed out by encodeColumn (written asynchronously by segment files) never use it.
 */
class Scratch {
  private buf: Uint8Array = new Uint8Array(0);
  private used = 0;
  /** Largest buffer kept between calls (larger requests get memory of their own). */
  static readonly KEEP = 16 * 1024 * 1024;

  reset(): void {
    this.used = 0;
  }

  /** Room for up to `n` bytes; `commit` the bytes actually used before asking again. */
  room(n: number): Uint8Array {
    if (n > Scratch.KEEP) return allocUnsafe(n);
    if (this.used + n > this.buf.length) {
      this.buf = allocUnsafe(Math.min(Scratch.KEEP, Math.max(n, 2 * this.buf.length, 64 * 1024)));
      this.used = 0; // parts already handed out keep the old buffer alive until they are copied
    }
    return this.buf.subarray(this.used, this.used + n);
  }

  commit(room: Uint8Array, n: number): void {
    if (room.buffer === this.buf.buffer) this.used += n;
  }
}

const scratch = new Scratch();

function isWellFormed(s: string): boolean {
  // String.prototype.isWellFormed is in Node 20 but not in the ES2023 lib typings.
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function checkRows(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_ROWS) throw invalidArgument(`row count ${n} is not an integer in [0, ${MAX_ROWS}]`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * One part of a column body: bytes, or a list of pieces that lie back to back (the values of a
 * column gathered from several batches, written without being concatenated first). Padding
 * follows the whole part, never a piece.
 */
export type Part = Uint8Array | readonly Uint8Array[];

/** Bytes in a part (its pieces together). */
export function partLength(p: Part): number {
  if (p instanceof Uint8Array) return p.length;
  let n = 0;
  for (const piece of p) n += piece.length;
  return n;
}

/** One encoded column block, as parts so that large columns can be written without a copy. */
export interface EncodedColumn {
  /** The 16-byte column header. */
  header: Uint8Array;
  /** Body parts; each is followed by zero padding up to a multiple of 8. */
  parts: Part[];
  /** Header plus padded parts: the block's size in bytes. */
  size: number;
}

/** Assemble a column block from its header fields and body parts. */
export function makeBlock(fieldIndex: number, typeCode: number, flags: number, aux: number, parts: Part[]): EncodedColumn {
  let body = 0;
  for (const p of parts) body += pad8(partLength(p));
  const header = new Uint8Array(COLUMN_HEADER_SIZE);
  const v = viewOf(header);
  v.setUint16(0, fieldIndex, true);
  header[2] = typeCode;
  header[3] = flags;
  v.setUint32(4, aux >>> 0, true);
  putU64(v, 8, body);
  return { header, parts, size: COLUMN_HEADER_SIZE + body };
}

/** Copy an encoded column into `out` at `at` (padding zeroed); returns the end offset. */
export function writeBlock(out: Uint8Array, at: number, col: EncodedColumn): number {
  out.set(col.header, at);
  return writeParts(out, at + COLUMN_HEADER_SIZE, col.parts);
}

function writeParts(out: Uint8Array, at: number, parts: readonly Part[]): number {
  let p = at;
  for (const part of parts) {
    let q = p;
    if (part instanceof Uint8Array) {
      out.set(part, q);
      q += part.length;
    } else {
      for (const piece of part) {
        out.set(piece, q);
        q += piece.length;
      }
    }
    const end = p + pad8(q - p);
    out.fill(0, q, end);
    p = end;
  }
  return p;
}

/** The aux word: what besides the type a decoder must agree on. */
function auxOf(field: FieldSchema): number {
  if (field.dataType === 'FloatVector') {
    if (!Number.isInteger(field.dim) || field.dim! < 1) throw invalidArgument(`field ${field.name}: FloatVector needs a positive integer dim`);
    return field.dim!;
  }
  if (field.dataType === 'Array') {
    if (!field.elementType || !(field.elementType in TYPE_CODES)) throw invalidArgument(`field ${field.name}: Array needs an elementType`);
    return TYPE_CODES[field.elementType];
  }
  return 0;
}

/** Pack a 0/1-per-row validity array into the wire bitmap; null when the field keeps none. */
function packValidity(field: FieldSchema, valid: Uint8Array | undefined, rows: number): Uint8Array | null {
  if (valid === undefined) return null;
  if (valid.length !== rows) throw invalidArgument(`field ${field.name}: validity has ${valid.length} entries for ${rows} rows`);
  if (!field.nullable) {
    // A non-nullable column may carry an all-valid array; a null in it is a caller bug.
    if (valid.includes(0)) throw invalidArgument(`field ${field.name} is not nullable but has nulls`);
    return null;
  }
  const bits = new Uint8Array(Math.ceil(rows / 8));
  for (let i = 0; i < rows; i++) if (valid[i]) bits[i >>> 3]! |= 1 << (i & 7);
  return bits;
}

/**
 * Encode one column of `rows` rows as the block for schema field number `index`. The parts
 * may be views of the column's typed array: write them out before changing the column.
 */
export function encodeColumn(field: FieldSchema, index: number, col: ColumnData | undefined, rows: number, useScratch = false): EncodedColumn {
  if (col === undefined) throw invalidArgument(`batch has no column for field ${field.name}`);
  if (col.type !== field.dataType) throw invalidArgument(`field ${field.name} is ${field.dataType} but its column is ${col.type}`);
  const aux = auxOf(field);
  const parts: Uint8Array[] = [];
  const bitmap = col.type === 'FloatVector' ? null : packValidity(field, col.valid, rows);
  if (bitmap) parts.push(bitmap);
  const isNull = (i: number): boolean => bitmap !== null && (bitmap[i >>> 3]! & (1 << (i & 7))) === 0;
  switch (col.type) {
    case 'FloatVector':
      if (col.dim !== aux) throw invalidArgument(`field ${field.name}: column dim ${col.dim} but schema dim ${aux}`);
      parts.push(fixedPart(field, col.values, rows * aux));
      break;
    case 'VarChar':
      parts.push(...varPartsOf(col, rows, (i) => (isNull(i) ? '' : varcharText(field, col.values[i])), useScratch));
      break;
    case 'JSON':
      parts.push(...varPartsOf(col, rows, (i) => (isNull(i) ? '' : jsonText(field, col.values[i])), useScratch));
      break;
    case 'Array':
      parts.push(...varPartsOf(col, rows, (i) => (isNull(i) ? '' : arrayText(field, col.values[i])), useScratch));
      break;
    case 'Bool':
      for (let i = 0; i < col.values.length; i++) if (col.values[i]! > 1) throw invalidArgument(`field ${field.name}: Bool value ${col.values[i]} in row ${i} is not 0 or 1`);
      parts.push(fixedPart(field, col.values, rows));
      break;
    default:
      parts.push(fixedPart(field, col.values, rows));
  }
  return makeBlock(index, TYPE_CODES[field.dataType], bitmap ? FLAG_VALIDITY : 0, aux, parts);
}

function fixedPart(field: FieldSchema, values: Typed, expected: number): Uint8Array {
  if (values.length !== expected) throw invalidArgument(`field ${field.name}: column has ${values.length} values, expected ${expected}`);
  return leBytes(values);
}

/** The column of `field` in a batch, or INVALID_ARGUMENT. */
function columnOf(field: FieldSchema, b: ColumnBatch): ColumnData {
  const c = b.columns.get(field.name);
  if (c === undefined) throw invalidArgument(`batch has no column for field ${field.name}`);
  if (c.type !== field.dataType) throw invalidArgument(`field ${field.name} is ${field.dataType} but its column is ${c.type}`);
  return c;
}

/**
 * The column block of schema field number `index` over the rows of `batches` in order: the same
 * bytes as encodeColumn of the concatenated batches, without concatenating. Fixed-width values
 * (vectors above all) are one part made of views of each batch's array; other columns are
 * gathered (references, not bytes) and encoded as usual.
 */
export function encodeColumnOfBatches(field: FieldSchema, index: number, batches: readonly ColumnBatch[]): EncodedColumn {
  if (batches.length === 1) return encodeColumn(field, index, batches[0]!.columns.get(field.name), batches[0]!.count);
  const type = field.dataType;
  if (type === 'VarChar' || type === 'JSON' || type === 'Array') {
    // Each batch's encoding (remembered from its WAL record, else made now), merged: offsets
    // rebased into one array, the blobs written back to back as they are.
    let rows = 0;
    let anyValid = false;
    const encs: VarEncoding[] = [];
    for (const b of batches) {
      const col = columnOf(field, b);
      const one = encodeColumn(field, index, col, b.count); // validates, and remembers the encoding
      if ('valid' in col && col.valid) anyValid = true;
      encs.push(varEncodings.get(col) ?? decodedVar(one, b.count));
      rows += b.count;
    }
    checkRows(rows);
    const offsets = new Uint32Array(rows + 1);
    let at = 0;
    let base = 0;
    for (const e of encs) {
      const n = e.offsets.length - 1;
      for (let i = 1; i <= n; i++) offsets[at + i] = base + e.offsets[i]!;
      at += n;
      base += e.blob.length;
      if (base > MAX_BLOB_BYTES) throw new VecwalError('RECORD_TOO_LARGE', `a column's text exceeds ${MAX_BLOB_BYTES} bytes`);
    }
    const valid = anyValid ? concatValidity(batches.map((b) => [columnOf(field, b), b.count] as const), rows) : undefined;
    const bitmap = packValidity(field, valid, rows);
    const blob = encs.map((e) => e.blob);
    return makeBlock(index, TYPE_CODES[type], bitmap ? FLAG_VALIDITY : 0, auxOf(field), bitmap ? [bitmap, leBytes(offsets), blob] : [leBytes(offsets), blob]);
  }
  const aux = auxOf(field);
  const per = type === 'FloatVector' ? aux : 1;
  const pieces: Uint8Array[] = [];
  let rows = 0;
  let anyValid = false;
  for (const b of batches) {
    const c = columnOf(field, b);
    if (c.type === 'FloatVector' && c.dim !== aux) throw invalidArgument(`field ${field.name}: column dim ${c.dim} but schema dim ${aux}`);
    const values = c.values as Typed;
    if (c.type === 'Bool') for (let i = 0; i < values.length; i++) if (values[i]! > 1) throw invalidArgument(`field ${field.name}: Bool value ${values[i]} in row ${rows + i} is not 0 or 1`);
    pieces.push(fixedPart(field, values, b.count * per));
    if ('valid' in c && c.valid) anyValid = true;
    rows += b.count;
  }
  checkRows(rows);
  const valid = anyValid ? concatValidity(batches.map((b) => [columnOf(field, b), b.count] as const), rows) : undefined;
  const bitmap = type === 'FloatVector' ? null : packValidity(field, valid, rows);
  const parts: Part[] = bitmap ? [bitmap, pieces] : [pieces];
  return makeBlock(index, TYPE_CODES[type], bitmap ? FLAG_VALIDITY : 0, aux, parts);
}

/** The offsets and blob of an encoded var-length column of `rows` rows (after its bitmap, if any). */
function decodedVar(col: EncodedColumn, rows: number): VarEncoding {
  const [offsetBytes, blob] = col.parts.slice(-2) as [Uint8Array, Uint8Array];
  return { offsets: typedAt('u32', offsetBytes, 0, rows + 1) as Uint32Array, blob };
}

/** The dynamic column over the rows of `batches` in order (rows of batches without one are null). */
export function encodeDynamicOfBatches(batches: readonly ColumnBatch[]): EncodedColumn {
  let rows = 0;
  for (const b of batches) rows += b.count;
  checkRows(rows);
  const values = batches.length === 1 ? batches[0]!.dynamic! : batches.flatMap((b) => b.dynamic ?? new Array<null>(b.count).fill(null));
  return encodeDynamicColumn(values, rows);
}

/** One column of the rows of `batches` in order (a fresh column; see concatBatches). */
export function concatColumnOf(field: FieldSchema, batches: readonly ColumnBatch[]): ColumnData {
  if (batches.length === 1) return columnOf(field, batches[0]!);
  return concatColumns(field, batches.map((b) => [columnOf(field, b), b.count] as const));
}

/** The dynamic field's column: one JSON object (or null) per row. */
export function encodeDynamicColumn(values: readonly (Record<string, unknown> | null)[], rows: number, useScratch = false): EncodedColumn {
  if (values.length !== rows) throw invalidArgument(`dynamic field has ${values.length} rows, expected ${rows}`);
  const hasNull = values.includes(null);
  const parts: Uint8Array[] = [];
  if (hasNull) {
    const bits = new Uint8Array(Math.ceil(rows / 8));
    for (let i = 0; i < rows; i++) if (values[i] !== null) bits[i >>> 3]! |= 1 << (i & 7);
    parts.push(bits);
  }
  const meta: FieldSchema = { name: '$meta', dataType: 'JSON' };
  parts.push(...varPartsOf(values, rows, (i) => {
    const v = values[i];
    if (v === null) return '';
    if (typeof v !== 'object' || Array.isArray(v)) throw invalidArgument(`dynamic field of row ${i} is not an object`);
    return jsonText(meta, v);
  }, useScratch));
  return makeBlock(DYNAMIC_FIELD_INDEX, TYPE_CODES.JSON, hasNull ? FLAG_VALIDITY : 0, 0, parts);
}

function varcharText(field: FieldSchema, s: unknown): string {
  if (typeof s !== 'string') throw invalidArgument(`field ${field.name}: ${typeof s} where a string was expected`);
  // TextEncoder would turn a lone surrogate into U+FFFD: refuse rather than alter the data.
  if (!isWellFormed(s)) throw invalidArgument(`field ${field.name}: string with a lone surrogate`);
  return s;
}

function jsonText(field: FieldSchema, v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch (e) {
    throw invalidArgument(`field ${field.name}: value cannot be stored as JSON`, { cause: e });
  }
  if (s === undefined) throw invalidArgument(`field ${field.name}: value cannot be stored as JSON`);
  return s;
}

/** Whether JSON carries `x` exactly as an element of type `element` (not Int64). */
function elementEncodable(element: ScalarElementType, x: unknown): boolean {
  if (element === 'Bool') return typeof x === 'boolean';
  if (element === 'VarChar') return typeof x === 'string';
  return typeof x === 'number' && Number.isFinite(x); // JSON would turn NaN and Infinity into null
}

function arrayText(field: FieldSchema, v: unknown): string {
  if (!Array.isArray(v)) throw invalidArgument(`field ${field.name}: ${typeof v} where an array was expected`);
  const element = field.elementType!;
  if (element !== 'Int64') {
    for (const x of v) if (!elementEncodable(element, x)) throw invalidArgument(`field ${field.name}: array element ${String(x)} is not a ${element}`);
    return jsonText(field, v);
  }
  return JSON.stringify(v.map((x) => {
    if (typeof x === 'bigint' && BigInt.asIntN(64, x) === x) return x.toString();
    if (typeof x === 'number' && Number.isSafeInteger(x)) return String(x);
    throw invalidArgument(`field ${field.name}: Int64 array element ${String(x)} is not a 64-bit integer`);
  }));
}

/** A var-length column as encoded: offsets (rows + 1, host byte order) and the UTF-8 blob. */
export interface VarEncoding {
  offsets: Uint32Array;
  blob: Uint8Array;
}

/**
 * Encodings of var-length columns (VarChar, JSON, Array; the dynamic field's array), by column
 * object: a batch's texts are encoded once, for its WAL record, and the flush and compactions
 * that write the same column object to segment files reuse the bytes (UTF-8 encoding and
 * JSON.stringify cost more than writing them). Replay records the encoding it decoded, as views.
 * Columns never change once built, so an entry stays valid as long as its column lives.
 */
const varEncodings = new WeakMap<object, VarEncoding>();

/** The remembered encoding of a var-length column (or dynamic array), if any. */
export function varEncodingOf(col: object): VarEncoding | undefined {
  return varEncodings.get(col);
}

/** Offsets + blob parts of a var-length column: its remembered encoding, or a fresh one (remembered unless in scratch memory). */
function varPartsOf(col: object, rows: number, text: (i: number) => string, useScratch: boolean): [Uint8Array, Uint8Array] {
  let enc = varEncodings.get(col);
  if (enc === undefined || enc.offsets.length !== rows + 1) {
    enc = encodeTexts(rows, text, useScratch);
    if (!useScratch) varEncodings.set(col, enc);
  }
  return [leBytes(enc.offsets), enc.blob];
}

/** Offsets + UTF-8 blob parts for `rows` texts. */
function varParts(rows: number, text: (i: number) => string, useScratch = false): [Uint8Array, Uint8Array] {
  const enc = encodeTexts(rows, text, useScratch);
  return [leBytes(enc.offsets), enc.blob];
}

/** Staging room for encodeTexts (reused: fresh memory costs a page fault per 4 KiB on first touch). */
let textStage: Uint8Array = new Uint8Array(0);

/**
 * Encode `rows` texts as offsets + blob: each text written in turn with Buffer#write (no view
 * per text, unlike TextEncoder.encodeInto) into room for the worst case (3 bytes per UTF-16
 * code unit). Outside scratch memory the bytes are staged in reused memory, then copied into a
 * buffer of their exact size (it may live as long as its column: see varEncodings).
 */
function encodeTexts(rows: number, text: (i: number) => string, useScratch: boolean): VarEncoding {
  const texts = new Array<string>(rows);
  let units = 0;
  for (let i = 0; i < rows; i++) {
    const s = text(i);
    texts[i] = s;
    units += s.length;
  }
  const offsets = new Uint32Array(rows + 1);
  const room = units * 3;
  let blob: Uint8Array;
  if (useScratch) blob = scratch.room(room);
  else if (room <= Scratch.KEEP) {
    if (textStage.length < room) textStage = allocUnsafe(Math.min(Scratch.KEEP, Math.max(room, 2 * textStage.length, 64 * 1024)));
    blob = textStage;
  } else blob = allocUnsafe(room);
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  let p = 0;
  for (let i = 0; i < rows; i++) {
    p += buf.write(texts[i]!, p, 'utf8');
    if (p > MAX_BLOB_BYTES) throw new VecwalError('RECORD_TOO_LARGE', `a column's text exceeds ${MAX_BLOB_BYTES} bytes`);
    offsets[i + 1] = p;
  }
  if (useScratch) {
    scratch.commit(blob, p);
    return { offsets, blob: blob.subarray(0, p) };
  }
  if (blob !== textStage) return { offsets, blob: blob.subarray(0, p) };
  const own = allocUnsafe(p);
  own.set(blob.subarray(0, p));
  return { offsets, blob: own };
}

export interface EncodeOptions {
  /**
   * Zero bytes to leave in front of the batch (default 0): room for the caller's own header,
   * so a WAL payload needs no second buffer and copy. The batch starts at `out[headroom]`.
   */
  headroom?: number;
}

/**
 * Encode a batch. Every schema field must have a column of `batch.count` rows; `batch.dynamic`
 * is stored when present (the schema must enable the dynamic field). Throws INVALID_ARGUMENT
 * for a batch that does not fit the schema (nothing the codec cannot store exactly is stored).
 */
export function encodeBatch(schema: CollectionSchema, batch: ColumnBatch, opts: EncodeOptions = {}): Uint8Array {
  const rows = checkRows(batch.count);
  const headroom = opts.headroom ?? 0;
  if (!Number.isInteger(headroom) || headroom < 0) throw invalidArgument(`headroom ${headroom} is not a non-negative integer`);
  if (schema.fields.length >= DYNAMIC_FIELD_INDEX) throw invalidArgument(`too many fields: ${schema.fields.length}`);
  scratch.reset();
  const cols = schema.fields.map((f, i) => encodeColumn(f, i, batch.columns.get(f.name), rows, true));
  if (batch.columns.size !== schema.fields.length) throw invalidArgument('batch has columns that are not schema fields');
  if (batch.dynamic !== undefined) {
    if (!schema.enableDynamicField) throw invalidArgument(`collection ${schema.name} has no dynamic field`);
    cols.push(encodeDynamicColumn(batch.dynamic, rows, true));
  }
  let total = BATCH_HEADER_SIZE;
  for (const c of cols) total += c.size;
  const out = allocUnsafe(headroom + total);
  out.fill(0, 0, headroom);
  const v = viewOf(out);
  v.setUint16(headroom, BATCH_FORMAT_VERSION, true);
  v.setUint16(headroom + 2, cols.length, true);
  v.setUint32(headroom + 4, rows, true);
  putU64(v, headroom + 8, total);
  let p = headroom + BATCH_HEADER_SIZE;
  for (const c of cols) p = writeBlock(out, p, c);
  return out;
}

/**
 * The same bytes as `encodeBatch`, as a list of parts to be gathered by the writer (the WAL
 * copies them straight into its frame): fixed-width columns are views of the batch's own
 * arrays, so a vector column is copied once, not twice. The parts alias the batch: neither may
 * change until the parts are written.
 */
export function encodeBatchParts(schema: CollectionSchema, batch: ColumnBatch, opts: EncodeOptions = {}): Uint8Array[] {
  const rows = checkRows(batch.count);
  const headroom = opts.headroom ?? 0;
  if (!Number.isInteger(headroom) || headroom < 0) throw invalidArgument(`headroom ${headroom} is not a non-negative integer`);
  if (schema.fields.length >= DYNAMIC_FIELD_INDEX) throw invalidArgument(`too many fields: ${schema.fields.length}`);
  const cols = schema.fields.map((f, i) => encodeColumn(f, i, batch.columns.get(f.name), rows, false));
  if (batch.columns.size !== schema.fields.length) throw invalidArgument('batch has columns that are not schema fields');
  if (batch.dynamic !== undefined) {
    if (!schema.enableDynamicField) throw invalidArgument(`collection ${schema.name} has no dynamic field`);
    cols.push(encodeDynamicColumn(batch.dynamic, rows, false));
  }
  let total = BATCH_HEADER_SIZE;
  for (const c of cols) total += c.size;
  const head = new Uint8Array(headroom + BATCH_HEADER_SIZE);
  const v = viewOf(head);
  v.setUint16(headroom, BATCH_FORMAT_VERSION, true);
  v.setUint16(headroom + 2, cols.length, true);
  v.setUint32(headroom + 4, rows, true);
  putU64(v, headroom + 8, total);
  const out: Uint8Array[] = [head];
  for (const c of cols) {
    out.push(c.header);
    for (const part of c.parts) {
      if (part instanceof Uint8Array) out.push(part);
      else out.push(...part);
      const n = partLength(part);
      const pad = pad8(n) - n;
      if (pad > 0) out.push(ZERO_PAD.subarray(0, pad));
    }
  }
  return out;
}

const ZERO_PAD = new Uint8Array(8);

// ---------------------------------------------------------------------------------------------
// Decoding

/** Walks the parts of one column body, checking bounds and zero padding. */
class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  /** Claim the next part of `n` bytes (plus its padding); returns where it starts. */
  part(n: number, what: string): number {
    const start = this.pos;
    const padded = pad8(n);
    if (padded > this.end - start) throw bad(`${what} (${n} bytes) runs past the end of the column`, start);
    for (let i = start + n; i < start + padded; i++) if (this.bytes[i] !== 0) throw bad(`non-zero padding after ${what}`, i);
    this.pos = start + padded;
    return start;
  }

  finish(): void {
    if (this.pos !== this.end) throw bad('column body longer than its contents', this.pos);
  }
}

interface ColumnHeader {
  fieldIndex: number;
  typeCode: number;
  flags: number;
  aux: number;
  bodyLength: number;
}

function readColumnHeader(bytes: Uint8Array, at: number): ColumnHeader {
  if (bytes.length - at < COLUMN_HEADER_SIZE) throw bad('column header runs past the end', at);
  const v = viewOf(bytes);
  const h = { fieldIndex: v.getUint16(at, true), typeCode: bytes[at + 2]!, flags: bytes[at + 3]!, aux: v.getUint32(at + 4, true), bodyLength: getU64(v, at + 8) };
  if (h.bodyLength % 8 !== 0) throw bad(`column body length ${h.bodyLength} is not a multiple of 8`, at + 8);
  if (h.bodyLength > bytes.length - at - COLUMN_HEADER_SIZE) throw bad(`column body length ${h.bodyLength} runs past the end`, at + 8);
  if ((h.flags & ~FLAG_VALIDITY) !== 0) throw bad(`unknown column flags 0x${h.flags.toString(16)}`, at + 3);
  return h;
}

/** Unpack the validity bitmap into one 0/1 byte per row. */
function readValidity(c: Cursor, rows: number): Uint8Array {
  const n = Math.ceil(rows / 8);
  const start = c.part(n, 'validity bitmap');
  const bits = c.bytes;
  const valid = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) valid[i] = (bits[start + (i >>> 3)]! >>> (i & 7)) & 1;
  if (rows % 8 !== 0 && bits[start + n - 1]! >>> (rows % 8) !== 0) throw bad('validity bits set past the last row', start + n - 1);
  return valid;
}

/**
 * Decode the column block at `bytes[at..]` as schema field `index`. Returns the column and
 * where the block ends. Fixed-width values are views into `bytes` when aligned, unless `copy`.
 */
export function decodeColumnAt(field: FieldSchema, index: number, bytes: Uint8Array, at: number, rows: number, copy = false, lazyText = false): { column: ColumnData; end: number } {
  const h = readColumnHeader(bytes, at);
  if (h.fieldIndex !== index) throw bad(`column for field ${h.fieldIndex} where field ${index} (${field.name}) was expected`, at);
  if (h.typeCode !== TYPE_CODES[field.dataType]) throw bad(`field ${field.name}: type code ${h.typeCode}, schema says ${field.dataType}`, at + 2);
  let aux: number;
  try {
    aux = auxOf(field);
  } catch (e) {
    throw bad(`field ${field.name}: invalid schema (${(e as Error).message})`, at + 4);
  }
  if (h.aux !== aux) throw bad(`field ${field.name}: aux ${h.aux}, schema says ${aux}`, at + 4);
  const hasBitmap = (h.flags & FLAG_VALIDITY) !== 0;
  if (hasBitmap && (!field.nullable || field.dataType === 'FloatVector')) throw bad(`field ${field.name} is not nullable but has a validity bitmap`, at + 3);
  const end = at + COLUMN_HEADER_SIZE + h.bodyLength;
  const c = new Cursor(bytes, at + COLUMN_HEADER_SIZE, end);
  const valid = hasBitmap ? readValidity(c, rows) : undefined;
  const column = decodeValues(field, c, rows, aux, valid, copy, lazyText);
  c.finish();
  return { column, end };
}

function decodeValues(field: FieldSchema, c: Cursor, rows: number, aux: number, valid: Uint8Array | undefined, copy: boolean, lazyText: boolean): ColumnData {
  const type = field.dataType;
  const withValid = <T extends object>(col: T): T => (valid ? { ...col, valid } : col);
  switch (type) {
    case 'FloatVector': {
      const values = typedAt('FloatVector', c.bytes, c.part(rows * aux * 4, 'vectors'), rows * aux, copy) as Float32Array;
      return { type, values, dim: aux };
    }
    case 'VarChar': {
      const t = readTextBlob(c, rows, valid);
      if (!lazyText) return withValid({ type, values: textsOf(t, rows) });
      const col = new LazyVarCharColumn(t, rows, valid);
      varEncodings.set(col, { offsets: t.offsets, blob: t.blob });
      return col;
    }
    case 'JSON': {
      const t = readTextBlob(c, rows, valid);
      const col = withValid({ type, values: textsOf(t, rows).map((x, i) => (valid && !valid[i] ? null : parseJson(x, c, i))) });
      if (lazyText) varEncodings.set(col, { offsets: t.offsets, blob: t.blob });
      return col;
    }
    case 'Array': {
      const element = field.elementType!;
      const t = readTextBlob(c, rows, valid);
      const col = withValid({ type, values: textsOf(t, rows).map((x, i) => (valid && !valid[i] ? [] : parseArray(x, element, c, i))) });
      if (lazyText) varEncodings.set(col, { offsets: t.offsets, blob: t.blob });
      return col;
    }
    default: {
      const values = typedAt(type, c.bytes, c.part(rows * WIDTH[type], 'values'), rows, copy);
      if (type === 'Bool') for (let i = 0; i < rows; i++) if (values[i]! > 1) throw bad(`Bool value ${values[i]} in row ${i}`, c.pos);
      return withValid({ type, values } as ColumnData);
    }
  }
}

/**
 * The texts of a var-length column (null rows as ''). UTF-8 is validated once for the whole
 * blob (simdutf, through node:buffer), then each row is sliced: all-ASCII blobs, the common
 * case, take the cheap latin1 path.
 */
function readTexts(c: Cursor, rows: number, valid: Uint8Array | undefined): string[] {
  return textsOf(readTextBlob(c, rows, valid), rows);
}

/** A checked text blob: offsets, the blob (a view of the input) and how to slice it. */
interface TextBlob {
  offsets: Uint32Array;
  blob: Buffer;
  encoding: 'latin1' | 'utf8';
}

function textsOf(t: TextBlob, rows: number): string[] {
  const out = new Array<string>(rows);
  const { blob, offsets, encoding } = t;
  for (let i = 0; i < rows; i++) out[i] = blob.toString(encoding, offsets[i], offsets[i + 1]); // null rows are empty
  return out;
}

/**
 * A VarChar column whose strings are made on first use of `values` (replay: most rows of a
 * replayed memtable are never read before they are flushed, and the flush writes the bytes it
 * was decoded from). The bytes were fully checked when it was made, so making the strings
 * cannot fail.
 */
class LazyVarCharColumn {
  readonly type = 'VarChar' as const;
  declare valid?: Uint8Array;
  #text: TextBlob | null;
  #values: string[] | null = null;
  readonly #rows: number;
  /** Rows read one by one with at() so far. */
  #reads = 0;
  constructor(text: TextBlob, rows: number, valid: Uint8Array | undefined) {
    this.#text = text;
    this.#rows = rows;
    if (valid) this.valid = valid;
  }
  /**
   * Row i's string. The first reads make just that string (a search returns a few rows of a
   * segment of a million: making them all cost ~0.2 s and kept ~80 MB of strings alive); once an
   * eighth of the rows have been read this way (a scan), every string is made and kept.
   */
  at(i: number): string {
    if (this.#values === null && ++this.#reads <= this.#rows >> 3) {
      const t = this.#text!;
      return t.blob.toString(t.encoding, t.offsets[i], t.offsets[i + 1]);
    }
    return this.values[i]!;
  }
  get values(): string[] {
    if (this.#values === null) {
      this.#values = textsOf(this.#text!, this.#rows);
      this.#text = null;
    }
    return this.#values;
  }
  set values(v: string[]) {
    this.#values = v;
    this.#text = null;
  }
}

/**
 * Keep the batch's VarChar columns (but `except`) as their remembered encoding (see
 * encodeBatchParts) instead of as strings: a column becomes a lazy view of its bytes, its strings
 * made again on first use. A memtable then holds ~1 byte per ASCII character, and the caller's
 * strings die young instead of being promoted and traced by every full GC for as long as the
 * rows stay in memory.
 */
export function keepTextsEncoded(schema: CollectionSchema, batch: ColumnBatch, except?: string): void {
  for (const f of schema.fields) {
    if (f.dataType !== 'VarChar' || f.name === except) continue;
    const col = batch.columns.get(f.name);
    if (col === undefined || col.type !== 'VarChar' || col instanceof LazyVarCharColumn) continue;
    const enc = varEncodings.get(col);
    if (enc === undefined || enc.offsets.length !== batch.count + 1) continue;
    const blob = Buffer.from(enc.blob.buffer, enc.blob.byteOffset, enc.blob.length);
    const lazy = new LazyVarCharColumn({ offsets: enc.offsets, blob, encoding: isAscii(blob) ? 'latin1' : 'utf8' }, batch.count, col.valid);
    varEncodings.set(lazy, enc);
    batch.columns.set(f.name, lazy);
  }
}

function readTextBlob(c: Cursor, rows: number, valid: Uint8Array | undefined): TextBlob {
  const offsetsAt = c.part(4 * (rows + 1), 'offsets');
  const offsets = typedAt('u32', c.bytes, offsetsAt, rows + 1) as Uint32Array;
  if (offsets[0] !== 0) throw bad('first offset is not 0', offsetsAt);
  for (let i = 0; i < rows; i++) {
    if (offsets[i + 1]! < offsets[i]!) throw bad(`offsets decrease at row ${i}`, offsetsAt + 4 * i);
    if (valid && !valid[i] && offsets[i + 1] !== offsets[i]) throw bad(`null row ${i} has text`, offsetsAt + 4 * i);
  }
  const blobLen = offsets[rows]!;
  const blobAt = c.part(blobLen, 'text blob');
  const blob = Buffer.from(c.bytes.buffer, c.bytes.byteOffset + blobAt, blobLen);
  let encoding: 'latin1' | 'utf8' = 'latin1';
  if (!isAscii(blob)) {
    if (!isUtf8(blob)) throw bad('text is not valid UTF-8', blobAt);
    // A row boundary inside a multi-byte character would split it into two invalid halves.
    for (let i = 1; i < rows; i++) if (offsets[i]! < blobLen && (blob[offsets[i]!]! & 0xc0) === 0x80) throw bad(`row ${i} starts inside a UTF-8 character`, blobAt + offsets[i]!);
    encoding = 'utf8';
  }
  return { offsets, blob, encoding };
}

function parseJson(text: string, c: Cursor, row: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw bad(`row ${row} is not valid JSON`, c.pos);
  }
}

const INT64_TEXT = /^-?(0|[1-9][0-9]{0,18})$/;

function elementOk(element: ScalarElementType, x: unknown): boolean {
  switch (element) {
    case 'Bool': return typeof x === 'boolean';
    case 'VarChar': return typeof x === 'string';
    case 'Int64': return typeof x === 'string' && INT64_TEXT.test(x) && BigInt.asIntN(64, BigInt(x)) === BigInt(x);
    default: return typeof x === 'number';
  }
}

function parseArray(text: string, element: ScalarElementType, c: Cursor, row: number): unknown[] {
  const v = parseJson(text, c, row);
  if (!Array.isArray(v)) throw bad(`row ${row} is not a JSON array`, c.pos);
  for (const x of v) if (!elementOk(element, x)) throw bad(`row ${row}: array element ${JSON.stringify(x)} is not ${element}`, c.pos);
  return element === 'Int64' ? v.map((x: string) => BigInt(x)) : v;
}

/** Decode the dynamic field's column block at `bytes[at..]`. */
export function decodeDynamicAt(bytes: Uint8Array, at: number, rows: number): { values: (Record<string, unknown> | null)[]; end: number } {
  const h = readColumnHeader(bytes, at);
  if (h.fieldIndex !== DYNAMIC_FIELD_INDEX) throw bad(`column for field ${h.fieldIndex} where the dynamic field was expected`, at);
  if (h.typeCode !== TYPE_CODES.JSON || h.aux !== 0) throw bad('dynamic field column is not JSON', at + 2);
  const end = at + COLUMN_HEADER_SIZE + h.bodyLength;
  const c = new Cursor(bytes, at + COLUMN_HEADER_SIZE, end);
  const valid = h.flags & FLAG_VALIDITY ? readValidity(c, rows) : undefined;
  const values = readTexts(c, rows, valid).map((t, i) => {
    if (valid && !valid[i]) return null;
    const v = parseJson(t, c, i);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(`dynamic field of row ${i} is not an object`, c.pos);
    return v as Record<string, unknown>;
  });
  c.finish();
  return { values, end };
}

export interface DecodeOptions {
  /**
   * Copy fixed-width columns out of `bytes` even when they could be views into it. Views keep
   * the whole input buffer alive as long as the batch lives; copy when that matters.
   */
  copy?: boolean;
  /**
   * Make VarChar strings on first use of the column's `values` (the bytes are still fully
   * checked now), and remember every var-length column's encoding (views of `bytes`) so that
   * encoding the batch again copies bytes instead of re-encoding texts. For replay: the input
   * buffer is kept alive by the batch anyway (fixed-width columns are views of it).
   */
  lazyText?: boolean;
}

/**
 * Decode a batch. Throws BAD_FORMAT (with `details.offset`) on any malformed or non-canonical
 * input or when the bytes do not match `schema`; never reads past `bytes` and allocates only
 * what the bytes can hold. Columns may be views into `bytes` (see DecodeOptions.copy).
 */
export function decodeBatch(schema: CollectionSchema, bytes: Uint8Array, opts: DecodeOptions = {}): ColumnBatch {
  if (bytes.length < BATCH_HEADER_SIZE) throw bad(`${bytes.length} bytes is shorter than the batch header`, 0);
  const v = viewOf(bytes);
  const version = v.getUint16(0, true);
  if (version !== BATCH_FORMAT_VERSION) throw bad(`unsupported batch format version ${version}`, 0);
  const ncols = v.getUint16(2, true);
  const rows = v.getUint32(4, true);
  const total = getU64(v, 8);
  if (total !== bytes.length) throw bad(`batch says ${total} bytes, got ${bytes.length}`, 8);
  const n = schema.fields.length;
  if (ncols !== n && !(schema.enableDynamicField && ncols === n + 1)) throw bad(`${ncols} columns for a schema of ${n} fields`, 2);
  const columns = new Map<string, ColumnData>();
  let p = BATCH_HEADER_SIZE;
  schema.fields.forEach((f, i) => {
    const d = decodeColumnAt(f, i, bytes, p, rows, opts.copy, opts.lazyText);
    columns.set(f.name, d.column);
    p = d.end;
  });
  let dynamic: (Record<string, unknown> | null)[] | undefined;
  if (ncols > n) ({ values: dynamic, end: p } = decodeDynamicAt(bytes, p, rows));
  if (p !== bytes.length) throw bad('bytes after the last column', p);
  return dynamic === undefined ? { count: rows, columns } : { count: rows, columns, dynamic };
}

// ---------------------------------------------------------------------------------------------
// Delete payloads

/** Encode the primary keys of a delete: all bigint (Int64 keys) or all string (VarChar keys). */
export function encodeDelete(pks: readonly PrimaryKey[]): Uint8Array {
  const n = checkRows(pks.length);
  const varchar = n > 0 && typeof pks[0] === 'string';
  for (const k of pks) {
    if (varchar ? typeof k !== 'string' : typeof k !== 'bigint' || BigInt.asIntN(64, k) !== k) throw invalidArgument(`primary key ${String(k)}: keys must be all 64-bit bigints or all strings`);
  }
  const parts = varchar
    ? varParts(n, (i) => varcharText({ name: 'primary key', dataType: 'VarChar' }, pks[i]))
    : [leBytes(BigInt64Array.from(pks as bigint[]))];
  const out = allocUnsafe(parts.reduce((s, p) => s + pad8(p.length), DELETE_HEADER_SIZE));
  out.set([DELETE_FORMAT_VERSION, varchar ? TYPE_CODES.VarChar : TYPE_CODES.Int64, 0, 0]);
  viewOf(out).setUint32(4, n, true);
  writeParts(out, DELETE_HEADER_SIZE, parts);
  return out;
}

/** Decode a delete payload: Int64 keys as bigint, VarChar keys as string. BAD_FORMAT if malformed. */
export function decodeDelete(bytes: Uint8Array): PrimaryKey[] {
  if (bytes.length < DELETE_HEADER_SIZE) throw bad('shorter than the delete header', 0);
  if (bytes[0] !== DELETE_FORMAT_VERSION) throw bad(`unsupported delete format version ${bytes[0]}`, 0);
  if (bytes[2] !== 0 || bytes[3] !== 0) throw bad('reserved bytes are not zero', 2);
  const n = viewOf(bytes).getUint32(4, true);
  const c = new Cursor(bytes, DELETE_HEADER_SIZE, bytes.length);
  let keys: PrimaryKey[];
  if (bytes[1] === TYPE_CODES.Int64) keys = Array.from(typedAt('Int64', bytes, c.part(8 * n, 'keys'), n) as BigInt64Array);
  else if (bytes[1] === TYPE_CODES.VarChar) keys = readTexts(c, n, undefined);
  else throw bad(`unknown key type ${bytes[1]}`, 1);
  c.finish();
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Batch helpers

/** An empty column for `field`. */
export function emptyColumn(field: FieldSchema): ColumnData {
  return concatColumns(field, []);
}

/** Rows [start, end) of a batch. Fixed-width columns are views (no copy) into the source. */
export function sliceBatch(batch: ColumnBatch, start: number, end: number): ColumnBatch {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > batch.count || start > end) {
    throw invalidArgument(`slice [${start}, ${end}) out of range for ${batch.count} rows`);
  }
  const columns = new Map<string, ColumnData>();
  for (const [name, col] of batch.columns) columns.set(name, sliceColumn(col, start, end));
  const out: ColumnBatch = { count: end - start, columns };
  if (batch.dynamic) out.dynamic = batch.dynamic.slice(start, end);
  return out;
}

function sliceColumn(col: ColumnData, start: number, end: number): ColumnData {
  if (col.type === 'FloatVector') return { type: col.type, values: col.values.subarray(start * col.dim, end * col.dim), dim: col.dim };
  const values = 'subarray' in col.values ? col.values.subarray(start, end) : col.values.slice(start, end);
  const out = { type: col.type, values } as ColumnData;
  if (col.valid) (out as { valid?: Uint8Array }).valid = col.valid.subarray(start, end);
  return out;
}

/**
 * One batch holding the rows of `batches` in order (always a fresh batch). A validity array is
 * kept when any input has one; `dynamic` when any input has it (missing rows become null).
 */
export function concatBatches(schema: CollectionSchema, batches: readonly ColumnBatch[]): ColumnBatch {
  let count = 0;
  for (const b of batches) count += b.count;
  checkRows(count);
  const columns = new Map<string, ColumnData>();
  for (const f of schema.fields) {
    columns.set(f.name, concatColumns(f, batches.map((b) => {
      const c = b.columns.get(f.name);
      if (c === undefined || c.type !== f.dataType) throw invalidArgument(`batch has no ${f.dataType} column for field ${f.name}`);
      return [c, b.count] as const;
    })));
  }
  const out: ColumnBatch = { count, columns };
  if (batches.some((b) => b.dynamic)) out.dynamic = batches.flatMap((b) => b.dynamic ?? new Array<null>(b.count).fill(null));
  return out;
}

function concatColumns(field: FieldSchema, cols: readonly (readonly [ColumnData, number])[]): ColumnData {
  const type = field.dataType;
  const count = cols.reduce((s, [, n]) => s + n, 0);
  if (type === 'FloatVector') {
    const dim = field.dim ?? 0;
    const values = new Float32Array(count * dim);
    let p = 0;
    for (const [c] of cols) {
      values.set(c.values as Float32Array, p);
      p += c.values.length;
    }
    return { type, values, dim };
  }
  let values: Typed | unknown[];
  if (type === 'VarChar' || type === 'JSON' || type === 'Array') {
    values = cols.flatMap(([c]) => c.values as unknown[]);
  } else {
    const typed = makeTyped(type, new ArrayBuffer(count * WIDTH[type]), 0, count) as Typed;
    let p = 0;
    for (const [c, n] of cols) {
      (typed as Uint8Array).set(c.values as Uint8Array, p);
      p += n;
    }
    values = typed;
  }
  const out = { type, values } as ColumnData;
  if (cols.some(([c]) => 'valid' in c && c.valid)) (out as { valid?: Uint8Array }).valid = concatValidity(cols, count);
  return out;
}

function concatValidity(cols: readonly (readonly [ColumnData, number])[], count: number): Uint8Array {
  const valid = new Uint8Array(count).fill(1);
  let p = 0;
  for (const [c, n] of cols) {
    if ('valid' in c && c.valid) valid.set(c.valid, p);
    p += n;
  }
  return valid;
}

export interface RowOptions {
  /**
   * 'merge' (default): dynamic keys become top-level keys of the row (schema fields win on a
   * name clash); 'nested': the dynamic object is the row's `$meta` key.
   */
  dynamic?: 'merge' | 'nested';
}

/**
 * Row `i` as a plain object for query/get output: null for null values, Int64 as bigint, Bool
 * as boolean, a vector as a Float32Array view into the column (copy it to keep it).
 */
export function batchRow(schema: CollectionSchema, batch: ColumnBatch, i: number, opts: RowOptions = {}): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const f of schema.fields) {
    const col = batch.columns.get(f.name);
    if (col === undefined) throw invalidArgument(`batch has no column for field ${f.name}`);
    row[f.name] = cellOf(col, i);
  }
  const dyn = batch.dynamic?.[i] ?? null;
  if (opts.dynamic === 'nested') {
    if (schema.enableDynamicField) row.$meta = dyn ?? {};
  } else if (dyn) {
    for (const k of Object.keys(dyn)) {
      if (Object.hasOwn(row, k)) continue;
      // defineProperty: a "__proto__" key from JSON must become a key, not the prototype.
      Object.defineProperty(row, k, { value: dyn[k], enumerable: true, writable: true, configurable: true });
    }
  }
  return row;
}

/**
 * A reusable row view for filters: one object whose properties read the batch at the row set
 * by `at(i)`, so a filtered scan allocates nothing per row. Dynamic fields are under `$meta`
 * (the filter compiler's convention); vectors are left out (filters cannot use them).
 */
export function rowView(schema: CollectionSchema, batch: ColumnBatch): { row: Record<string, unknown>; at(i: number): Record<string, unknown> } {
  let idx = 0;
  const row: Record<string, unknown> = {};
  for (const f of schema.fields) {
    const col = batch.columns.get(f.name);
    if (col === undefined || col.type === 'FloatVector') continue;
    Object.defineProperty(row, f.name, { get: () => cellOf(col, idx), enumerable: true });
  }
  if (schema.enableDynamicField) Object.defineProperty(row, '$meta', { get: () => batch.dynamic?.[idx] ?? {}, enumerable: true });
  return {
    row,
    at(i: number) {
      idx = i;
      return row;
    },
  };
}

function cellOf(col: ColumnData, i: number): unknown {
  if (col.type === 'FloatVector') return col.values.subarray(i * col.dim, (i + 1) * col.dim);
  if (col.valid && !col.valid[i]) return null;
  if (col.type === 'Bool') return col.values[i] !== 0;
  if (col instanceof LazyVarCharColumn) return col.at(i);
  return col.values[i];
}
