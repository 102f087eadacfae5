/**
 * Collection schemas and the conversion of user rows into columnar batches.
 *
 * Two halves:
 *   validateSchema / quickCreateSchema check a create-collection request once, with
 *     SCHEMA_INVALID errors naming the field, and return a normalized CollectionSchema.
 *   rowsToBatch / columnsToBatch are the hot path of insert and upsert: every value is checked
 *     against its field and written into a preallocated column (typed arrays for fixed-width
 *     types), with DATA_INVALID errors naming the row and the field. Nothing is partially
 *     accepted: a batch converts whole or throws.
 *
 * The rules, and the choices made where Milvus is ambiguous, are in docs/data-model.md.
 * Schemas are treated as immutable: the per-schema conversion plan is cached by object identity.
 */
import { VecwalError, invalidArgument } from '../errors.js';
import {
  DATA_TYPES,
  METRIC_TYPES,
  type CollectionSchema,
  type ColumnBatch,
  type ColumnData,
  type DataType,
  type FieldSchema,
  type MetricType,
  type PrimaryKey,
  type ScalarElementType,
} from './types.js';

/** Limits of a schema (Milvus defaults where Milvus has one). */
export const SCHEMA_LIMITS = {
  maxNameLength: 255,
  maxFields: 64,
  maxDim: 32768,
  maxVarCharLength: 65535,
  maxArrayCapacity: 4096,
  /** JSON values nested deeper than this are refused (it also stops circular structures). */
  maxJsonDepth: 64,
} as const;

/** The name Milvus gives the dynamic field; reserved with every other name starting with `$`. */
export const DYNAMIC_FIELD_NAME = '$meta';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SCALAR_TYPES: readonly ScalarElementType[] = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar'];
/** Milvus types we recognise but do not store: named in the error so users know it is a choice. */
const UNSUPPORTED_MILVUS_TYPES = ['BinaryVector', 'Float16Vector', 'BFloat16Vector', 'SparseFloatVector', 'Int8Vector', 'Geometry', 'Text', 'Timestamptz'];
const SCHEMA_KEYS = new Set(['name', 'description', 'fields', 'enableDynamicField', 'metricType']);
const FIELD_KEYS = new Set(['name', 'dataType', 'description', 'isPrimaryKey', 'autoID', 'dim', 'maxLength', 'elementType', 'maxCapacity', 'nullable', 'defaultValue']);
const INT_RANGES = { Int8: [-128, 127], Int16: [-32768, 32767], Int32: [-2147483648, 2147483647] } as const;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT64_STRING_RE = /^[+-]?\d{1,20}$/;

// ---------------------------------------------------------------------------------------------
// Shared helpers

function schemaError(message: string, field?: string): VecwalError {
  return new VecwalError('SCHEMA_INVALID', message, field === undefined ? {} : { field });
}

function dataError(row: number, field: string, why: string): VecwalError {
  return new VecwalError('DATA_INVALID', `row ${row}: field "${field}" ${why}`, { row, field });
}

function batchError(message: string, details: Record<string, unknown> = {}): VecwalError {
  return new VecwalError('DATA_INVALID', message, details);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A typed array (not a DataView): a valid flat numeric or element column. */
function isTypedArray(v: unknown): boolean {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/**
 * Describe any value for an error message without calling user code (no toString, no
 * template coercion: a Symbol would throw a TypeError in a template literal).
 */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v.length > 40 ? `string ${JSON.stringify(v.slice(0, 37))}...` : `string ${JSON.stringify(v)}`;
    case 'number':
    case 'boolean':
      return String(v);
    case 'bigint':
      return `${String(v)}n`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  return tag === 'Object' ? 'an object' : `a ${tag}`;
}

/** Marks a failed conversion; the only allocation on an error path, never on the good path. */
class Bad {
  constructor(readonly why: string) {}
}

interface WellFormed {
  isWellFormed(): boolean;
}

// ---------------------------------------------------------------------------------------------
// Scalar conversion (defaults, array elements, primary keys, and the slow path of columns)

function toSmallInt(t: 'Int8' | 'Int16' | 'Int32', v: unknown): number | Bad {
  const [min, max] = INT_RANGES[t];
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
  if (typeof v === 'bigint' && v >= BigInt(min) && v <= BigInt(max)) return Number(v);
  const range = `an integer from ${min} to ${max} (${t})`;
  if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint') return new Bad(`is out of range: must be ${range}, got ${describeValue(v)}`);
  return new Bad(`must be ${range}, got ${describeValue(v)}`);
}

/**
 * Int64 arrives as bigint, as a safe-integer number, or as a decimal string (Milvus REST sends
 * int64 as strings when the client cannot represent it). A number beyond 2^53 has already lost
 * precision in the caller, so it is refused rather than silently stored wrong.
 */
function toInt64(v: unknown): bigint | Bad {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return BigInt(v);
    if (Number.isInteger(v)) return new Bad(`is ${String(v)}, not a safe integer: pass Int64 values beyond ±(2^53-1) as bigint or a decimal string`);
    return new Bad(`must be an integer (Int64), got ${describeValue(v)}`);
  } else if (typeof v === 'string' && INT64_STRING_RE.test(v)) b = BigInt(v);
  else return new Bad(`must be an integer (Int64) as a number, bigint or decimal string, got ${describeValue(v)}`);
  if (b < INT64_MIN || b > INT64_MAX) return new Bad(`is out of range for Int64, got ${describeValue(v)}`);
  return b;
}

function toFloat(t: 'Float' | 'Double', v: unknown): number | Bad {
  if (typeof v !== 'number') return new Bad(`must be a number (${t}), got ${describeValue(v)}`);
  if (!Number.isFinite(v)) return new Bad(`must be a finite number (${t}), got ${String(v)}`);
  if (t === 'Double') return v;
  const f = Math.fround(v);
  return Number.isFinite(f) ? f : new Bad(`is ${String(v)}, outside the range of Float (float32)`);
}

/** Milvus counts VarChar maxLength in UTF-8 bytes (docs/data-model.md). */
function varCharProblem(s: string, maxLength: number): string | null {
  // UTF-16 length <= UTF-8 length <= 3 * UTF-16 length: only the middle band needs counting.
  if (s.length * 3 > maxLength) {
    const bytes = s.length > maxLength ? -1 : Buffer.byteLength(s, 'utf8');
    if (bytes === -1 || bytes > maxLength) {
      const n = bytes === -1 ? Buffer.byteLength(s, 'utf8') : bytes;
      return `is ${n} bytes long in UTF-8, over maxLength ${maxLength} (Milvus counts VarChar length in UTF-8 bytes)`;
    }
  }
  if (!(s as unknown as WellFormed).isWellFormed()) return 'holds a lone UTF-16 surrogate: not valid Unicode, it cannot be stored as UTF-8';
  return null;
}

function toVarChar(v: unknown, maxLength: number): string | Bad {
  if (typeof v !== 'string') return new Bad(`must be a string (VarChar), got ${describeValue(v)}`);
  const p = varCharProblem(v, maxLength);
  return p === null ? v : new Bad(p);
}

/** The stored form of a scalar: boolean, number, bigint (Int64), float32-rounded number, string. */
function convertScalar(t: ScalarElementType, v: unknown, maxLength: number): unknown {
  switch (t) {
    case 'Bool':
      return typeof v === 'boolean' ? v : new Bad(`must be a boolean, got ${describeValue(v)}`);
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return toSmallInt(t, v);
    case 'Int64':
      return toInt64(v);
    case 'Float':
    case 'Double':
      return toFloat(t, v);
    case 'VarChar':
      return toVarChar(v, maxLength);
  }
}

/**
 * Why `v` is not plain JSON data (null when it is): the value must survive JSON.stringify and
 * JSON.parse unchanged, so undefined, functions, symbols, bigint, NaN/Infinity, class
 * instances (Date, Map, ...) and cycles are refused instead of being dropped or mangled.
 */
function jsonProblem(v: unknown, depth: number): string | null {
  switch (typeof v) {
    case 'boolean':
      return null;
    case 'string':
      return (v as unknown as WellFormed).isWellFormed() ? null : 'holds a string with a lone UTF-16 surrogate';
    case 'number':
      return Number.isFinite(v) ? null : `holds ${String(v)}, which JSON cannot represent`;
    case 'object':
      break;
    default:
      return `holds ${describeValue(v)}, which is not JSON`;
  }
  if (v === null) return null;
  if (depth >= SCHEMA_LIMITS.maxJsonDepth) return `is nested deeper than ${SCHEMA_LIMITS.maxJsonDepth} levels (or is circular)`;
  if (Array.isArray(v)) {
    for (let k = 0; k < v.length; k++) {
      const p = jsonProblem(v[k], depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  if (!isPlainObject(v)) return `holds ${describeValue(v)}, which is not plain JSON`;
  for (const k in v) {
    const p = jsonProblem(v[k], depth + 1);
    if (p !== null) return p;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Schema validation

function checkName(v: unknown, what: string, field?: string): string {
  if (typeof v !== 'string' || v.length === 0) throw schemaError(`${what} must be a non-empty string, got ${describeValue(v)}`, field);
  if (v.startsWith('$')) throw schemaError(`${what} "${v}" is reserved: names starting with "$" belong to vecwal (${DYNAMIC_FIELD_NAME} holds the dynamic field)`, field);
  if (v.length > SCHEMA_LIMITS.maxNameLength) throw schemaError(`${what} is ${v.length} characters long, over ${SCHEMA_LIMITS.maxNameLength}`, field);
  if (!NAME_RE.test(v)) throw schemaError(`${what} "${v}" is invalid: use letters, digits and underscores, not starting with a digit`, field);
  // JSON.parse makes "__proto__" an own key, but assigning it to an object changes the prototype.
  if (v === '__proto__') throw schemaError(`${what} "__proto__" is reserved`, field);
  return v;
}

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, what: string, field?: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) throw schemaError(`${what} has unknown property "${k}" (allowed: ${[...allowed].join(', ')})`, field);
  }
}

function checkOptionalBool(v: unknown, what: string, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw schemaError(`${what} must be a boolean, got ${describeValue(v)}`, field);
  return v;
}

/** Integers may come as digit strings: Milvus REST sends type params such as dim as strings. */
function checkInt(v: unknown, min: number, max: number, what: string, field: string): number {
  const n = typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw schemaError(`${what} must be an integer from ${min} to ${max}, got ${describeValue(v)}`, field);
  }
  return n;
}

function checkDescription(v: unknown, what: string, field?: string): string {
  if (typeof v !== 'string') throw schemaError(`${what} must be a string, got ${describeValue(v)}`, field);
  return v;
}

function checkDataType(v: unknown, where: string, field: string): DataType {
  if (typeof v === 'string' && (DATA_TYPES as readonly string[]).includes(v)) return v as DataType;
  if (typeof v === 'string' && UNSUPPORTED_MILVUS_TYPES.includes(v)) {
    throw schemaError(`${where}: data type ${v} is a Milvus type that vecwal does not support (supported: ${DATA_TYPES.join(', ')})`, field);
  }
  throw schemaError(`${where}: dataType must be one of ${DATA_TYPES.join(', ')} (case-sensitive, as Milvus), got ${describeValue(v)}`, field);
}

/** dim / maxLength / elementType / maxCapacity: required where they apply, refused elsewhere. */
function checkTypeParams(raw: Record<string, unknown>, f: FieldSchema, where: string): void {
  const t = f.dataType;
  const arrayOfVarChar = t === 'Array' && raw.elementType === 'VarChar';
  const applies: Record<string, boolean> = { dim: t === 'FloatVector', maxLength: t === 'VarChar' || arrayOfVarChar, elementType: t === 'Array', maxCapacity: t === 'Array' };
  const owner: Record<string, string> = { dim: 'FloatVector', maxLength: 'VarChar and Array of VarChar', elementType: 'Array', maxCapacity: 'Array' };
  for (const k of Object.keys(applies)) {
    if (!applies[k] && raw[k] !== undefined) throw schemaError(`${where}: ${k} applies only to ${owner[k]} fields, not ${t}`, f.name);
  }
  if (t === 'FloatVector') f.dim = checkInt(raw.dim, 1, SCHEMA_LIMITS.maxDim, `${where}: dim`, f.name);
  if (t === 'Array') {
    const et = raw.elementType;
    if (typeof et !== 'string' || !(SCALAR_TYPES as readonly string[]).includes(et)) {
      throw schemaError(`${where}: elementType must be one of ${SCALAR_TYPES.join(', ')} (not JSON, Array or a vector), got ${describeValue(et)}`, f.name);
    }
    f.elementType = et as ScalarElementType;
    f.maxCapacity = checkInt(raw.maxCapacity, 1, SCHEMA_LIMITS.maxArrayCapacity, `${where}: maxCapacity`, f.name);
  }
  if (applies.maxLength) f.maxLength = checkInt(raw.maxLength, 1, SCHEMA_LIMITS.maxVarCharLength, `${where}: maxLength`, f.name);
}

/** Store the default in a JSON-safe normalized form: Int64 as a number when safe, else a string. */
function checkDefault(f: FieldSchema, v: unknown, where: string): unknown {
  if (f.isPrimaryKey || f.dataType === 'FloatVector' || f.dataType === 'JSON' || f.dataType === 'Array') {
    throw schemaError(`${where}: defaultValue is not allowed on ${f.isPrimaryKey ? 'the primary key' : `a ${f.dataType} field`} (as Milvus)`, f.name);
  }
  if (v === null) throw schemaError(`${where}: defaultValue may not be null (make the field nullable instead)`, f.name);
  const c = convertScalar(f.dataType as ScalarElementType, v, f.maxLength ?? 0);
  if (c instanceof Bad) throw schemaError(`${where}: defaultValue ${c.why}`, f.name);
  if (typeof c === 'bigint') return c >= BigInt(Number.MIN_SAFE_INTEGER) && c <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(c) : c.toString();
  return f.dataType === 'Float' ? v : c;
}

function checkPrimaryAndFlags(raw: Record<string, unknown>, f: FieldSchema, where: string): void {
  const isPk = checkOptionalBool(raw.isPrimaryKey, `${where}: isPrimaryKey`, f.name);
  const autoID = checkOptionalBool(raw.autoID, `${where}: autoID`, f.name);
  const nullable = checkOptionalBool(raw.nullable, `${where}: nullable`, f.name);
  if (isPk) {
    if (f.dataType !== 'Int64' && f.dataType !== 'VarChar') throw schemaError(`${where}: the primary key must be Int64 or VarChar, not ${f.dataType}`, f.name);
    if (autoID && f.dataType !== 'Int64') throw schemaError(`${where}: autoID is only supported for an Int64 primary key`, f.name);
    f.isPrimaryKey = true;
    f.autoID = autoID;
  } else if (autoID) {
    throw schemaError(`${where}: autoID applies only to the primary key field`, f.name);
  }
  if (nullable) {
    if (isPk || f.dataType === 'FloatVector') throw schemaError(`${where}: ${isPk ? 'the primary key' : 'a vector field'} cannot be nullable`, f.name);
    f.nullable = true;
  }
}

function validateField(raw: unknown, index: number): FieldSchema {
  if (!isPlainObject(raw)) throw schemaError(`fields[${index}] must be an object, got ${describeValue(raw)}`);
  const name = checkName(raw.name, `fields[${index}].name`);
  const where = `field "${name}"`;
  checkKeys(raw, FIELD_KEYS, where, name);
  const f: FieldSchema = { name, dataType: checkDataType(raw.dataType, where, name) };
  if (raw.description !== undefined) f.description = checkDescription(raw.description, `${where}: description`, name);
  checkPrimaryAndFlags(raw, f, where);
  checkTypeParams(raw, f, where);
  if (raw.defaultValue !== undefined) f.defaultValue = checkDefault(f, raw.defaultValue, where);
  return f;
}

function checkFieldSet(fields: FieldSchema[]): void {
  const seen = new Set<string>();
  for (const f of fields) {
    // Case-sensitive, as Milvus: "Age" and "age" are two fields.
    if (seen.has(f.name)) throw schemaError(`duplicate field name "${f.name}"`, f.name);
    seen.add(f.name);
  }
  const pks = fields.filter((f) => f.isPrimaryKey).map((f) => `"${f.name}"`);
  if (pks.length === 0) throw schemaError('the schema has no primary key: set isPrimaryKey on exactly one Int64 or VarChar field');
  if (pks.length > 1) throw schemaError(`the schema has ${pks.length} primary key fields (${pks.join(', ')}); exactly one is allowed`);
  const vecs = fields.filter((f) => f.dataType === 'FloatVector').map((f) => `"${f.name}"`);
  if (vecs.length === 0) throw schemaError('the schema has no FloatVector field; exactly one is required');
  if (vecs.length > 1) {
    throw schemaError(`the schema has ${vecs.length} FloatVector fields (${vecs.join(', ')}): Milvus allows several vector fields, but vecwal supports exactly one per collection`);
  }
}

/**
 * Validate a create-collection request in vecwal's model (the REST layer maps Milvus's JSON onto
 * it) and return a normalized copy: unknown properties are refused (a misspelt `maxlenght` must
 * not pass silently), defaults are filled in (metricType COSINE, enableDynamicField false).
 */
export function validateSchema(input: unknown): CollectionSchema {
  if (!isPlainObject(input)) throw schemaError(`a collection schema must be an object, got ${describeValue(input)}`);
  checkKeys(input, SCHEMA_KEYS, 'the collection schema');
  const name = checkName(input.name, 'collection name');
  const rawFields = input.fields;
  if (!Array.isArray(rawFields) || rawFields.length === 0) throw schemaError(`collection "${name}": fields must be a non-empty array, got ${describeValue(rawFields)}`);
  if (rawFields.length > SCHEMA_LIMITS.maxFields) throw schemaError(`collection "${name}" has ${rawFields.length} fields, over the limit of ${SCHEMA_LIMITS.maxFields}`);
  const fields = rawFields.map((f: unknown, i) => validateField(f, i));
  checkFieldSet(fields);
  const metricType = input.metricType ?? 'COSINE';
  if (typeof metricType !== 'string' || !(METRIC_TYPES as readonly string[]).includes(metricType)) {
    throw schemaError(`metricType must be one of ${METRIC_TYPES.join(', ')}, got ${describeValue(metricType)}`);
  }
  const dynamic = input.enableDynamicField ?? false;
  if (typeof dynamic !== 'boolean') throw schemaError(`enableDynamicField must be a boolean, got ${describeValue(dynamic)}`);
  const out: CollectionSchema = { name, fields, enableDynamicField: dynamic, metricType: metricType as MetricType };
  if (input.description !== undefined) out.description = checkDescription(input.description, 'collection description');
  return out;
}

export interface QuickCreateOptions {
  /** Default 'id'. */
  primaryFieldName?: string;
  /** Default 'Int64'. A VarChar id needs maxLength. */
  idType?: 'Int64' | 'VarChar';
  /** Default 'vector'. */
  vectorFieldName?: string;
  /** Default 'COSINE' (Milvus quick create at 2.5+; older servers used L2). */
  metricType?: MetricType;
  /** Default false, as Milvus quick create. */
  autoId?: boolean;
  /** VarChar id: its maximum length in UTF-8 bytes. */
  maxLength?: number;
  /** Default true: Milvus quick create turns the dynamic field on. */
  enableDynamicField?: boolean;
  description?: string;
}

/**
 * The schema Milvus's quick create (collections/create with a dimension and no fields) makes:
 * a primary key `id`, a FloatVector `vector`, and the dynamic field on.
 */
export function quickCreateSchema(name: string, dim: number, opts: QuickCreateOptions = {}): CollectionSchema {
  const idType = opts.idType ?? 'Int64';
  const pk: Record<string, unknown> = { name: opts.primaryFieldName ?? 'id', dataType: idType, isPrimaryKey: true, autoID: opts.autoId ?? false };
  if (opts.maxLength !== undefined || idType === 'VarChar') pk.maxLength = opts.maxLength;
  const request: Record<string, unknown> = {
    name,
    fields: [pk, { name: opts.vectorFieldName ?? 'vector', dataType: 'FloatVector', dim }],
    enableDynamicField: opts.enableDynamicField ?? true,
    metricType: opts.metricType ?? 'COSINE',
  };
  if (opts.description !== undefined) request.description = opts.description;
  return validateSchema(request);
}

// ---------------------------------------------------------------------------------------------
// Column builders: one per field, preallocated for the batch size

abstract class Builder {
  /** Per-row 1 = not null; only for nullable fields. */
  readonly valid: Uint8Array | undefined;
  constructor(
    readonly field: FieldSchema,
    /** The converted default value, or undefined when the field has none. */
    readonly def: unknown,
    n: number,
  ) {
    this.valid = field.nullable ? new Uint8Array(n) : undefined;
  }
  /** Store `v` (neither undefined nor null) at row i, or throw DATA_INVALID naming row i. */
  abstract set(i: number, v: unknown): void;
  /** Store the null placeholder (zero-filled typed arrays already hold it). */
  setNull(_i: number): void {}
  abstract finish(): ColumnData;
  protected fail(i: number, why: string): never {
    throw dataError(i, this.field.name, why);
  }
  protected withValid<T extends object>(col: T): T {
    return this.valid ? { ...col, valid: this.valid } : col;
  }
}

class BoolBuilder extends Builder {
  readonly values: Uint8Array;
  constructor(f: FieldSchema, def: unknown, n: number) {
    super(f, def, n);
    this.values = new Uint8Array(n);
  }
  set(i: number, v: unknown): void {
    if (v === true) this.values[i] = 1;
    else if (v !== false) this.fail(i, `must be a boolean, got ${describeValue(v)}`);
  }
  finish(): ColumnData {
    return this.withValid({ type: 'Bool' as const, values: this.values });
  }
}

class SmallIntBuilder extends Builder {
  readonly values: Int8Array | Int16Array | Int32Array;
  private readonly min: number;
  private readonly max: number;
  constructor(f: FieldSchema, def: unknown, n: number) {
    super(f, def, n);
    const t = f.dataType as 'Int8' | 'Int16' | 'Int32';
    this.values = t === 'Int8' ? new Int8Array(n) : t === 'Int16' ? new Int16Array(n) : new Int32Array(n);
    [this.min, this.max] = INT_RANGES[t];
  }
  set(i: number, v: unknown): void {
    if (typeof v === 'number' && v >= this.min && v <= this.max && Number.isInteger(v)) {
      this.values[i] = v;
      return;
    }
    const c = toSmallInt(this.field.dataType as 'Int8', v);
    if (c instanceof Bad) this.fail(i, c.why);
    this.values[i] = c;
  }
  finish(): ColumnData {
    return this.withValid({ type: this.field.dataType, values: this.values } as ColumnData);
  }
}

class Int64Builder extends Builder {
  readonly values: BigInt64Array;
  constructor(f: FieldSchema, def: unknown, n: number) {
    super(f, def, n);
    this.values = new BigInt64Array(n);
  }
  set(i: number, v: unknown): void {
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      this.values[i] = BigInt(v);
      return;
    }
    const c = toInt64(v);
    if (c instanceof Bad) this.fail(i, c.why);
    this.values[i] = c;
  }
  finish(): ColumnData {
    return this.withValid({ type: 'Int64' as const, values: this.values });
  }
}

class FloatBuilder extends Builder {
  readonly values: Float32Array | Float64Array;
  constructor(f: FieldSchema, def: unknown, n: number) {
    super(f, def, n);
    this.values = f.dataType === 'Float' ? new Float32Array(n) : new Float64Array(n);
  }
  set(i: number, v: unknown): void {
    if (typeof v === 'number') {
      const values = this.values;
      values[i] = v;
      // One check catches NaN, ±Infinity and float32 overflow: x - x is 0 only for finite x.
      const x = values[i]!;
      if (x - x === 0) return;
    }
    const c = toFloat(this.field.dataType as 'Float', v);
    this.fail(i, c instanceof Bad ? c.why : `is ${describeValue(v)}, which is not a finite ${this.field.dataType}`);
  }
  finish(): ColumnData {
    return this.withValid({ type: this.field.dataType, values: this.values } as ColumnData);
  }
}

class VarCharBuilder extends Builder {
  readonly values: string[];
  private readonly maxLength: number;
  constructor(f: FieldSchema, def: unknown, n: number) {
    super(f, def, n);
    this.values = new Array<string>(n);
    this.maxLength = f.maxLength ?? SCHEMA_LIMITS.maxVarCharLength;
  }
  set(i: number, v: unknown): void {
    if (typeof v !== 'string') this.fail(i, `must be a string (VarChar), got ${describeValue(v)}`);
    const p = varCharProblem(v, this.maxLength);
    if (p !== null) this.fail(i, p);
    this.values[i] = v;
  }
  override setNull(i: number): void {
    this.values[i] = '';
  }
  finish(): ColumnData {
    return this.withValid({ type: 'VarChar' as const, values: this.values });
  }
}

class JsonBuilder extends Builder {
  readonly values: unknown[];
  constructor(f: FieldSchema, def: unknown, n: number) {
    super(f, def, n);
    this.values = new Array<unknown>(n);
  }
  set(i: number, v: unknown): void {
    const p = jsonProblem(v, 0);
    if (p !== null) this.fail(i, `(JSON) ${p}`);
    this.values[i] = v;
  }
  override setNull(i: number): void {
    this.values[i] = null;
  }
  finish(): ColumnData {
    return this.withValid({ type: 'JSON' as const, values: this.values });
  }
}

class ArrayBuilder extends Builder {
  readonly values: unknown[][];
  constructor(f: FieldSchema, def: unknown, n: number) {
    super(f, def, n);
    this.values = new Array<unknown[]>(n);
  }
  set(i: number, v: unknown): void {
    const f = this.field;
    const et = f.elementType!;
    if (!Array.isArray(v) && !isTypedArray(v)) this.fail(i, `must be an array of ${et}, got ${describeValue(v)}`);
    const src = v as ArrayLike<unknown>;
    if (src.length > f.maxCapacity!) this.fail(i, `has ${src.length} elements, over maxCapacity ${f.maxCapacity!}`);
    const out = new Array<unknown>(src.length);
    for (let k = 0; k < src.length; k++) {
      const c = convertScalar(et, src[k], f.maxLength ?? 0);
      if (c instanceof Bad) this.fail(i, `element ${k} ${c.why}`);
      out[k] = c;
    }
    this.values[i] = out;
  }
  override setNull(i: number): void {
    this.values[i] = [];
  }
  finish(): ColumnData {
    return this.withValid({ type: 'Array' as const, values: this.values });
  }
}

class VectorBuilder extends Builder {
  readonly dim: number;
  private readonly n: number;
  private store: Float32Array | null = null;
  constructor(f: FieldSchema, n: number) {
    super(f, undefined, n);
    this.dim = f.dim!;
    this.n = n;
  }
  /** Allocated on first use: a column taken over with adopt() never needs one. */
  get values(): Float32Array {
    return (this.store ??= new Float32Array(this.n * this.dim));
  }
  set(i: number, v: unknown): void {
    const dim = this.dim;
    const out = this.values;
    const off = i * dim;
    // acc sums x * 0 over the stored float32 values: 0 when all are finite, NaN otherwise
    // (NaN, ±Infinity, and doubles that overflow float32), so the good path has one branch.
    let acc = 0;
    if (v instanceof Float32Array) {
      if (v.length !== dim) this.fail(i, `has ${v.length} dimensions, expected ${dim}`);
      for (let k = 0; k < dim; k++) {
        const x = v[k]!;
        out[off + k] = x;
        acc += x * 0;
      }
    } else {
      if (typeof v !== 'object' || v === null || typeof (v as { length?: unknown }).length !== 'number') {
        this.fail(i, `must be an array of ${dim} numbers (number[] or Float32Array), got ${describeValue(v)}`);
      }
      const src = v as ArrayLike<unknown>;
      if (src.length !== dim) this.fail(i, `has ${src.length} dimensions, expected ${dim}`);
      for (let k = 0; k < dim; k++) {
        const x = src[k];
        if (typeof x !== 'number') this.fail(i, `element ${k} is ${describeValue(x)}, not a number`);
        out[off + k] = x;
        acc += out[off + k]! * 0;
      }
    }
    if (acc !== 0) this.failNonFinite(i, off, v as ArrayLike<unknown>, 0);
  }
  /** All n rows from a flat n*dim column (the columnar fast path: one copy for a Float32Array). */
  setFlat(src: ArrayLike<unknown>, n: number): void {
    const dim = this.dim;
    const out = this.values;
    const f32 = src instanceof Float32Array;
    if (f32) out.set(src);
    else {
      for (let j = 0, end = n * dim; j < end; j++) {
        const x = src[j];
        if (typeof x !== 'number') this.fail(Math.floor(j / dim), `element ${j % dim} is ${describeValue(x)}, not a number`);
        out[j] = x;
      }
    }
    for (let i = 0; i < n; i++) this.checkFinite(i, i * dim, f32 ? null : src, i * dim);
  }
  /** All n rows from the caller's flat n*dim array, used as it is (checked, not copied). */
  adopt(src: Float32Array, n: number): void {
    this.store = src;
    for (let i = 0; i < n; i++) this.checkFinite(i, i * this.dim, null, i * this.dim);
  }
  /** x * 0 is 0 for every finite x and NaN otherwise: one branch-free pass per row. */
  private checkFinite(i: number, off: number, src: ArrayLike<unknown> | null, srcOff: number): void {
    const out = this.values;
    let acc = 0;
    for (let k = off, end = off + this.dim; k < end; k++) acc += out[k]! * 0;
    if (acc !== 0) this.failNonFinite(i, off, src, srcOff);
  }
  /** Name the first non-finite element of row i, showing the caller's value (1e39, not Infinity). */
  private failNonFinite(i: number, off: number, src: ArrayLike<unknown> | null, srcOff: number): never {
    let k = 0;
    while (Number.isFinite(this.values[off + k]!)) k++;
    const orig = src === null ? this.values[off + k] : src[srcOff + k];
    this.fail(i, `element ${k} is ${describeValue(orig)}: vectors must hold finite float32 numbers`);
  }
  finish(): ColumnData {
    return { type: 'FloatVector', values: this.values, dim: this.dim };
  }
}

function makeBuilder(f: FieldSchema, def: unknown, n: number): Builder {
  switch (f.dataType) {
    case 'Bool':
      return new BoolBuilder(f, def, n);
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return new SmallIntBuilder(f, def, n);
    case 'Int64':
      return new Int64Builder(f, def, n);
    case 'Float':
    case 'Double':
      return new FloatBuilder(f, def, n);
    case 'VarChar':
      return new VarCharBuilder(f, def, n);
    case 'JSON':
      return new JsonBuilder(f, def, n);
    case 'Array':
      return new ArrayBuilder(f, def, n);
    case 'FloatVector':
      return new VectorBuilder(f, n);
  }
}

// ---------------------------------------------------------------------------------------------
// Conversion plan (per schema, cached) and shared batch logic

interface Plan {
  schema: CollectionSchema;
  fields: readonly FieldSchema[];
  names: readonly string[];
  nameSet: ReadonlySet<string>;
  /** Field names that plain objects inherit (toString, constructor...): read as own keys only. */
  inherited: readonly boolean[];
  defaults: readonly unknown[];
  pkIndex: number;
  vectorIndex: number;
}

const plans = new WeakMap<CollectionSchema, Plan>();

function planOf(schema: CollectionSchema): Plan {
  const cached = plans.get(schema);
  if (cached) return cached;
  const fields = schema.fields;
  const pkIndex = fields.findIndex((f) => f.isPrimaryKey);
  const vectorIndex = fields.findIndex((f) => f.dataType === 'FloatVector');
  if (pkIndex < 0 || vectorIndex < 0) throw invalidArgument(`collection "${schema.name}": the schema was not validated (no primary key or vector field)`);
  const defaults = fields.map((f) => {
    if (f.defaultValue === undefined) return undefined;
    const c = convertScalar(f.dataType as ScalarElementType, f.defaultValue, f.maxLength ?? 0);
    if (c instanceof Bad) throw schemaError(`field "${f.name}": defaultValue ${c.why}`, f.name);
    return c;
  });
  const names = fields.map((f) => f.name);
  const plan: Plan = { schema, fields, names, nameSet: new Set(names), inherited: names.map((n) => n in Object.prototype), defaults, pkIndex, vectorIndex };
  plans.set(schema, plan);
  return plan;
}

export interface ToBatchOptions {
  /** Upsert: the primary key is required in every row, autoID or not (as Milvus 2.5+). */
  forUpsert?: boolean;
  /** Key generator for an autoID primary key on insert (required then). */
  nextAutoId?: () => bigint;
  /**
   * Columnar input: take over a vector column given as a Float32Array that spans its whole
   * (non-shared) ArrayBuffer instead of copying it. Once the batch is valid the caller's array
   * is detached (structuredClone transfer: its length becomes 0) and the batch holds its memory.
   */
  transfer?: boolean;
}

/** The key source for an autoID insert, or null when rows must carry their keys. */
function autoIdSource(plan: Plan, opts: ToBatchOptions): (() => bigint) | null {
  const pk = plan.fields[plan.pkIndex]!;
  if (!pk.autoID || opts.forUpsert) return null;
  if (!opts.nextAutoId) throw invalidArgument(`collection "${plan.schema.name}" has an autoID primary key: pass opts.nextAutoId`);
  return opts.nextAutoId;
}

function autoIdSupplied(plan: Plan, row: number): VecwalError {
  const name = plan.names[plan.pkIndex]!;
  return dataError(row, name, 'is the autoID primary key: it is generated on insert and must not be supplied (use upsert to replace by key)');
}

/** A missing or null value: the default, else null when nullable, else an error. */
function fillMissing(b: Builder, i: number, v: null | undefined, forUpsert: boolean): void {
  if (b.def !== undefined) {
    b.set(i, b.def);
    if (b.valid) b.valid[i] = 1;
  } else if (b.valid) {
    b.setNull(i);
  } else if (v === null) {
    throw dataError(i, b.field.name, 'is null, but the field is not nullable and has no default');
  } else {
    const hint = b.field.autoID && forUpsert ? ' (upsert needs the primary key even with autoID)' : '';
    throw dataError(i, b.field.name, `is missing${hint}`);
  }
}

function put(b: Builder, i: number, v: unknown, forUpsert: boolean): void {
  if (v === undefined || v === null) {
    fillMissing(b, i, v as null | undefined, forUpsert);
  } else {
    b.set(i, v);
    if (b.valid) b.valid[i] = 1;
  }
}

/**
 * Refuse a primary key twice in one batch. Milvus does not check this on insert (duplicates
 * then shadow each other at query time); vecwal refuses it so that a batch has one meaning.
 * Int64 keys: sort a copy (well under a millisecond for 10k keys, where a Set of bigints costs
 * several); only when a duplicate exists is the slow search for the two rows run.
 */
function checkUniqueKeys(plan: Plan, col: ColumnData): void {
  if (col.type === 'Int64') {
    const sorted = col.values.slice().sort();
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) reportDuplicate(plan, col.values);
    return;
  }
  const values = col.values as string[];
  const seen = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    const size = seen.size;
    if (seen.add(values[i]!).size === size) reportDuplicate(plan, values);
  }
}

function reportDuplicate(plan: Plan, values: ArrayLike<PrimaryKey>): never {
  const name = plan.names[plan.pkIndex]!;
  const seen = new Map<PrimaryKey, number>();
  for (let i = 0; i < values.length; i++) {
    const k = values[i]!;
    const prev = seen.get(k);
    if (prev !== undefined) {
      throw new VecwalError('DATA_INVALID', `row ${i}: field "${name}" repeats primary key ${String(k)} of row ${prev} (a batch may hold each key once)`, { row: i, field: name });
    }
    seen.set(k, i);
  }
  throw new Error('vecwal invariant violated: duplicate key not found again');
}

function finishBatch(plan: Plan, builders: Builder[], n: number, dynamic: (Record<string, unknown> | null)[] | undefined, keysGenerated: boolean): ColumnBatch {
  const columns = new Map<string, ColumnData>();
  for (let f = 0; f < builders.length; f++) columns.set(plan.names[f]!, builders[f]!.finish());
  if (!keysGenerated) checkUniqueKeys(plan, columns.get(plan.names[plan.pkIndex]!)!);
  const batch: ColumnBatch = { count: n, columns };
  if (dynamic) batch.dynamic = dynamic;
  return batch;
}

/** A key that is not a schema field: checked for the dynamic field, or refused. */
function checkExtraKey(plan: Plan, row: number, key: string, v: unknown): void {
  if (!plan.schema.enableDynamicField) {
    throw dataError(row, key, `is not in the schema of collection "${plan.schema.name}" and its dynamic field is off`);
  }
  if (key.startsWith('$') || key === '__proto__') throw dataError(row, key, `is a reserved name (names starting with "$" belong to vecwal)`);
  const p = jsonProblem(v, 0);
  if (p !== null) throw dataError(row, key, `(dynamic field) ${p}`);
}

// ---------------------------------------------------------------------------------------------
// Row input

function readField(plan: Plan, row: Record<string, unknown>, f: number): unknown {
  const name = plan.names[f]!;
  return plan.inherited[f] && !Object.hasOwn(row, name) ? undefined : row[name];
}

function fillRow(plan: Plan, builders: Builder[], row: Record<string, unknown>, i: number, gen: (() => bigint) | null, forUpsert: boolean): void {
  for (let f = 0; f < builders.length; f++) {
    const v = readField(plan, row, f);
    if (f === plan.pkIndex && gen !== null) {
      if (v !== undefined) throw autoIdSupplied(plan, i);
      builders[f]!.set(i, gen());
    } else {
      put(builders[f]!, i, v, forUpsert);
    }
  }
}

/** The row's keys that are not schema fields, as its $meta object (null when none). */
function rowExtras(plan: Plan, row: Record<string, unknown>, i: number): Record<string, unknown> | null {
  let meta: Record<string, unknown> | null = null;
  for (const k in row) {
    if (plan.nameSet.has(k)) continue;
    const v = row[k];
    // An undefined value is an absent key, as JSON.stringify treats it.
    if (v === undefined) continue;
    checkExtraKey(plan, i, k, v);
    (meta ??= {})[k] = v;
  }
  return meta;
}

/**
 * Convert row objects (insert/upsert) into a ColumnBatch. Every schema field becomes a column;
 * keys outside the schema go to `dynamic` ($meta) when the dynamic field is on. Throws
 * DATA_INVALID naming the row and field; see docs/data-model.md for every rule.
 */
export function rowsToBatch(schema: CollectionSchema, rows: readonly Record<string, unknown>[], opts: ToBatchOptions = {}): ColumnBatch {
  if (!Array.isArray(rows)) throw batchError(`rows must be an array of objects, got ${describeValue(rows)}`);
  const n = rows.length;
  if (n === 0) throw batchError('no rows: an insert or upsert needs at least one row');
  const plan = planOf(schema);
  const gen = autoIdSource(plan, opts);
  const forUpsert = opts.forUpsert === true;
  const builders = plan.fields.map((f, k) => makeBuilder(f, plan.defaults[k], n));
  const dynamic = schema.enableDynamicField ? new Array<Record<string, unknown> | null>(n) : undefined;
  for (let i = 0; i < n; i++) {
    const row: unknown = rows[i];
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw batchError(`row ${i}: must be an object, got ${describeValue(row)}`, { row: i });
    const r = row as Record<string, unknown>;
    fillRow(plan, builders, r, i, gen, forUpsert);
    const extras = rowExtras(plan, r, i);
    if (dynamic) dynamic[i] = extras;
  }
  return finishBatch(plan, builders, n, dynamic, gen !== null);
}

// ---------------------------------------------------------------------------------------------
// Column input

type ColumnInput = readonly unknown[] | ArrayLike<unknown>;

function checkExtraColumn(plan: Plan, key: string): void {
  if (!plan.schema.enableDynamicField) {
    throw batchError(`column "${key}" is not in the schema of collection "${plan.schema.name}" and its dynamic field is off`, { field: key });
  }
  if (key.startsWith('$') || key === '__proto__') throw batchError(`column "${key}" has a reserved name (names starting with "$" belong to vecwal)`, { field: key });
}

/** Rows held by a vector column: flat (typed array, or number[] of n*dim) or one vector per row. */
function vectorColumnRows(name: string, col: ArrayLike<unknown>, dim: number): { rows: number; flat: boolean } {
  const flat = isTypedArray(col) || (col.length > 0 && typeof col[0] === 'number');
  if (!flat) return { rows: col.length, flat };
  if (col.length % dim !== 0) throw batchError(`column "${name}" holds ${col.length} numbers, not a multiple of dim ${dim}`, { field: name });
  return { rows: col.length / dim, flat };
}

/** The row count all columns agree on; refuses unknown columns when the dynamic field is off. */
function columnRowCount(plan: Plan, columns: Record<string, unknown>): { n: number; flatVector: boolean } {
  let n = -1;
  let from = '';
  let flatVector = false;
  const vectorName = plan.names[plan.vectorIndex]!;
  for (const key of Object.keys(columns)) {
    const col = columns[key] as ArrayLike<unknown> | undefined;
    if (col === undefined) continue;
    if (!Array.isArray(col) && !isTypedArray(col)) throw batchError(`column "${key}" must be an array or typed array, got ${describeValue(col)}`, { field: key });
    if (!plan.nameSet.has(key)) checkExtraColumn(plan, key);
    let rows = col.length;
    if (key === vectorName) ({ rows, flat: flatVector } = vectorColumnRows(key, col, plan.fields[plan.vectorIndex]!.dim!));
    if (n >= 0 && rows !== n) throw batchError(`column "${key}" has ${rows} rows, but column "${from}" has ${n}`, { field: key });
    if (n < 0) [n, from] = [rows, key];
  }
  if (n <= 0) throw batchError('no rows: an insert or upsert needs at least one row');
  return { n, flatVector };
}

function fillColumn(plan: Plan, b: Builder, f: number, col: ColumnInput | undefined, n: number, gen: (() => bigint) | null, forUpsert: boolean): void {
  if (f === plan.pkIndex && gen !== null) {
    if (col !== undefined) throw autoIdSupplied(plan, 0);
    for (let i = 0; i < n; i++) b.set(i, gen());
    return;
  }
  if (col === undefined) {
    for (let i = 0; i < n; i++) fillMissing(b, i, undefined, forUpsert);
    return;
  }
  for (let i = 0; i < n; i++) put(b, i, col[i], forUpsert);
}

/** Per-row $meta objects from the columns that are not schema fields. */
function columnExtras(plan: Plan, columns: Record<string, unknown>, n: number): (Record<string, unknown> | null)[] {
  const out = new Array<Record<string, unknown> | null>(n).fill(null);
  for (const key of Object.keys(columns)) {
    const col = columns[key] as ColumnInput | undefined;
    if (plan.nameSet.has(key) || col === undefined) continue;
    for (let i = 0; i < n; i++) {
      const v = col[i];
      if (v === undefined) continue;
      checkExtraKey(plan, i, key, v);
      (out[i] ??= {})[key] = v;
    }
  }
  return out;
}

/**
 * Convert columnar input ({ id: [...], vector: Float32Array(n*dim) | number[][], text: [...] })
 * with the same rules as rowsToBatch. A flat Float32Array vector column is copied in one call.
 */
export function columnsToBatch(schema: CollectionSchema, columns: Readonly<Record<string, unknown>>, opts: ToBatchOptions = {}): ColumnBatch {
  if (typeof columns !== 'object' || columns === null || Array.isArray(columns)) throw batchError(`columns must be an object of arrays, got ${describeValue(columns)}`);
  const plan = planOf(schema);
  const cols = columns as Record<string, unknown>;
  const { n, flatVector } = columnRowCount(plan, cols);
  const gen = autoIdSource(plan, opts);
  const forUpsert = opts.forUpsert === true;
  const builders = plan.fields.map((f, k) => makeBuilder(f, plan.defaults[k], n));
  let adopted: Float32Array | null = null;
  for (let f = 0; f < builders.length; f++) {
    const name = plan.names[f]!;
    const col = plan.inherited[f] && !Object.hasOwn(cols, name) ? undefined : (cols[name] as ColumnInput | undefined);
    if (f === plan.vectorIndex && flatVector && col !== undefined) {
      if (opts.transfer && transferable(col)) (builders[f] as VectorBuilder).adopt((adopted = col), n);
      else (builders[f] as VectorBuilder).setFlat(col, n);
    } else fillColumn(plan, builders[f]!, f, col, n, gen, forUpsert);
  }
  const dynamic = schema.enableDynamicField ? columnExtras(plan, cols, n) : undefined;
  const batch = finishBatch(plan, builders, n, dynamic, gen !== null);
  // Valid: the memory changes hands (no copy); the caller's array is left detached.
  if (adopted) (batch.columns.get(plan.names[plan.vectorIndex]!) as { values: Float32Array }).values = takeOver(adopted);
  return batch;
}

/**
 * The array's memory, detached from the caller. A buffer that cannot be detached is copied
 * (structuredClone does so itself for WebAssembly memory; anything it refuses is copied here).
 */
function takeOver(a: Float32Array): Float32Array {
  try {
    return structuredClone(a, { transfer: [a.buffer as ArrayBuffer] });
  } catch {
    return a.slice();
  }
}

/** A Float32Array whose memory can change hands: it spans all of a plain (non-shared) ArrayBuffer. */
function transferable(col: unknown): col is Float32Array {
  return col instanceof Float32Array && col.byteOffset === 0 && col.buffer instanceof ArrayBuffer && col.byteLength === col.buffer.byteLength;
}

// ---------------------------------------------------------------------------------------------
// Primary keys

/** The primary key field of a (validated) schema. */
export function primaryFieldOf(schema: CollectionSchema): FieldSchema {
  const plan = planOf(schema);
  return plan.fields[plan.pkIndex]!;
}

/** The primary keys of a batch, in row order: bigint for Int64 keys, string for VarChar keys. */
export function primaryKeysOf(schema: CollectionSchema, batch: ColumnBatch): PrimaryKey[] {
  const pk = primaryFieldOf(schema);
  const col = batch.columns.get(pk.name);
  if (!col || (col.type !== 'Int64' && col.type !== 'VarChar')) throw invalidArgument(`batch has no ${pk.dataType} column for primary key "${pk.name}"`);
  return col.type === 'Int64' ? Array.from(col.values) : col.values.slice();
}

/**
 * A user-supplied primary key (get / delete by id) in its canonical form: bigint for Int64 keys
 * (accepting safe integers, bigint and decimal strings), string for VarChar keys.
 */
export function normalizePrimaryKey(schema: CollectionSchema, value: unknown): PrimaryKey {
  const pk = primaryFieldOf(schema);
  const c = convertScalar(pk.dataType as 'Int64' | 'VarChar', value, pk.maxLength ?? SCHEMA_LIMITS.maxVarCharLength);
  if (c instanceof Bad) throw new VecwalError('DATA_INVALID', `primary key "${pk.name}" ${c.why}`, { field: pk.name });
  return c as PrimaryKey;
}
