/**
 * Conversions between Milvus protobuf messages (as @grpc/proto-loader decodes them with the SDK's
 * options: int64 as decimal strings, enums as names, `data`-style oneof discriminators) and the
 * protocol-neutral values of MilvusService:
 *   - CollectionSchema (decoded from CreateCollection's schema bytes) -> vecwal FieldSchema[],
 *     and a CollectionDescription -> DescribeCollection's schema (with the `$meta` field);
 *   - columnar fields_data (Insert/Upsert) -> rows, checking every column against the schema;
 *   - rows (Query/Search results) -> columnar fields_data;
 *   - PlaceholderGroup bytes -> float32 query vectors; expr_template_values -> exprParams.
 * Every problem with a request is a MilvusError with code 1100 (ParameterInvalid) naming the
 * field, so the client sees what to fix; nothing here touches data.
 */
import { endianness } from 'node:os';
import type { CollectionSchema, DataType, FieldSchema, ScalarElementType } from '../db/types.js';
import { DATA_TYPES } from '../db/types.js';
import { MilvusCode, MilvusError, milvusMessage } from './milvus-error.js';
import type { CollectionDescription } from './service.js';

export const DYNAMIC_FIELD = '$meta';
const LITTLE_ENDIAN = endianness() === 'LE';
export const COUNT_FIELD = 'count(*)';

// ---- message shapes (the parts we read or write) ---------------------------------------------

export interface KeyValuePair {
  key: string;
  value: string;
}

interface TypedArrayMsg<T> {
  data: T[];
}

/** FloatArray and LongArray as the typed-array codecs decode them (grpc-proto.ts), or as arrays. */
interface NumericArrayMsg<T> {
  data: ArrayLike<T>;
}

export interface ScalarFieldMsg {
  /** oneof discriminator: which of the members below is set. */
  data?: string;
  bool_data?: TypedArrayMsg<boolean> | null;
  int_data?: TypedArrayMsg<number> | null;
  long_data?: NumericArrayMsg<string | number | bigint> | null;
  float_data?: NumericArrayMsg<number> | null;
  double_data?: TypedArrayMsg<number> | null;
  string_data?: TypedArrayMsg<string> | null;
  json_data?: TypedArrayMsg<Uint8Array> | null;
  array_data?: { data: ScalarFieldMsg[]; element_type: string } | null;
  [other: string]: unknown;
}

export interface VectorFieldMsg {
  dim?: string | number;
  data?: string;
  float_vector?: NumericArrayMsg<number> | null;
  [other: string]: unknown;
}

export interface FieldDataMsg {
  type?: string;
  field_name: string;
  field?: string;
  scalars?: ScalarFieldMsg | null;
  vectors?: VectorFieldMsg | null;
  field_id?: string | number;
  is_dynamic?: boolean;
  valid_data?: boolean[];
}

export interface ValueFieldMsg {
  data?: string;
  bool_data?: boolean;
  int_data?: number;
  long_data?: string | number;
  float_data?: number;
  double_data?: number;
  string_data?: string;
  [other: string]: unknown;
}

export interface TemplateArrayValueMsg {
  data?: string;
  bool_data?: TypedArrayMsg<boolean> | null;
  long_data?: NumericArrayMsg<string | number | bigint> | null;
  double_data?: TypedArrayMsg<number> | null;
  string_data?: TypedArrayMsg<string> | null;
  array_data?: { data: TemplateArrayValueMsg[] } | null;
  json_data?: TypedArrayMsg<Uint8Array> | null;
}

export interface TemplateValueMsg {
  val?: string;
  bool_val?: boolean;
  int64_val?: string | number;
  float_val?: number;
  string_val?: string;
  array_val?: TemplateArrayValueMsg | null;
  bytes_val?: Uint8Array;
}

// ---- small helpers -----------------------------------------------------------------------------

export function invalid(message: string): MilvusError {
  return new MilvusError(MilvusCode.ParameterInvalid, message);
}

/** KeyValuePair list -> map (later keys win, as Milvus). */
export function kvMap(list: readonly KeyValuePair[] | undefined | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of list ?? []) if (kv && typeof kv.key === 'string') out.set(kv.key, kv.value ?? '');
  return out;
}

export function toKvList(obj: Record<string, unknown> | undefined): KeyValuePair[] {
  return Object.entries(obj ?? {}).map(([key, v]) => ({ key, value: typeof v === 'string' ? v : JSON.stringify(v) }));
}

/** An int64 as the SDK sends it (a decimal string) -> number when safe, else bigint. */
export function int64Value(v: string | number | bigint): number | bigint {
  if (typeof v === 'number') return v;
  const b = typeof v === 'bigint' ? v : BigInt(v);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** A non-negative integer request parameter given as a string (topk, offset, limit...). */
export function intParam(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\s*-?\d+\s*$/.test(v)) throw invalid(`${name} must be an integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function parseJsonParam(name: string, v: string | undefined): Record<string, unknown> {
  if (v === undefined || v.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw invalid(`${name} must be a JSON object, got ${JSON.stringify(v.slice(0, 200))}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(`${name} must be a JSON object, got ${JSON.stringify(v.slice(0, 200))}`);
  return parsed as Record<string, unknown>;
}

// ---- schema: proto -> vecwal -------------------------------------------------------------------

const SCALAR_TYPES: readonly string[] = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar'];

function typeParamInt(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  return /^\s*\d{1,9}\s*$/.test(v) ? Number(v) : v;
}

function defaultFromProto(f: FieldSchema, v: ValueFieldMsg | null | undefined): unknown {
  if (!v || !v.data) return undefined;
  switch (v.data) {
    case 'bool_data':
      return v.bool_data;
    case 'int_data':
      return v.int_data;
    case 'long_data':
      return int64Value(v.long_data ?? 0);
    case 'float_data':
      return v.float_data;
    case 'double_data':
      return v.double_data;
    case 'string_data':
      return v.string_data;
    default:
      throw invalid(milvusMessage(`default value of kind ${v.data} is not supported`, { field: f.name }));
  }
}

export interface ProtoSchema {
  name: string;
  description: string;
  fields: FieldSchema[];
  enableDynamicField: boolean;
}

/**
 * A decoded milvus.proto.schema.CollectionSchema as vecwal fields. Types vecwal does not have
 * (binary/sparse/half vectors, Geometry, Text, ...), partition keys, functions and struct
 * fields are refused here with a message naming the field; the engine checks the rest
 * (one primary key, exactly one FloatVector field, dims and lengths in range).
 */
export function schemaFromProto(raw: Record<string, unknown>): ProtoSchema {
  const fieldsRaw = (raw.fields ?? []) as Array<Record<string, unknown>>;
  if (((raw.struct_array_fields as unknown[] | undefined) ?? []).length > 0) throw invalid('struct array fields are not supported by vecwal');
  if (((raw.functions as unknown[] | undefined) ?? []).length > 0) throw invalid('collection functions (BM25, text embedding, ...) are not supported by vecwal');
  const schemaAutoId = raw.autoID === true;
  const fields: FieldSchema[] = [];
  for (const fr of fieldsRaw) {
    const name = String(fr.name ?? '');
    if (fr.is_dynamic === true) continue; // the dynamic field is enable_dynamic_field, not a user field
    const dataType = String(fr.data_type ?? 'None');
    if (!(DATA_TYPES as readonly string[]).includes(dataType)) {
      throw invalid(milvusMessage(`data type ${dataType} is not supported by vecwal (supported: ${DATA_TYPES.join(', ')})`, { field: name }));
    }
    if (fr.is_partition_key === true) throw invalid(milvusMessage('partition keys are not supported by vecwal (only the _default partition exists)', { field: name }));
    if (fr.is_function_output === true) throw invalid(milvusMessage('function output fields are not supported by vecwal', { field: name }));
    const params = kvMap(fr.type_params as KeyValuePair[] | undefined);
    const f: FieldSchema = { name, dataType: dataType as DataType };
    if (typeof fr.description === 'string' && fr.description !== '') f.description = fr.description;
    if (fr.is_primary_key === true) {
      f.isPrimaryKey = true;
      if (fr.autoID === true || schemaAutoId) f.autoID = true;
    }
    if (fr.nullable === true) f.nullable = true;
    if (dataType === 'FloatVector') {
      const dim = typeParamInt(params.get('dim'));
      if (dim !== undefined) f.dim = dim as number;
    }
    if (dataType === 'Array') {
      const et = String(fr.element_type ?? 'None');
      if (!SCALAR_TYPES.includes(et)) {
        throw invalid(milvusMessage(`array element type ${et} is not supported by vecwal (supported: ${SCALAR_TYPES.join(', ')})`, { field: name }));
      }
      f.elementType = et as ScalarElementType;
      const cap = typeParamInt(params.get('max_capacity'));
      if (cap !== undefined) f.maxCapacity = cap as number;
    }
    if (dataType === 'VarChar' || (dataType === 'Array' && f.elementType === 'VarChar')) {
      const len = typeParamInt(params.get('max_length'));
      if (len !== undefined) f.maxLength = len as number;
    }
    const def = defaultFromProto(f, fr.default_value as ValueFieldMsg | null | undefined);
    if (def !== undefined) f.defaultValue = def;
    fields.push(f);
  }
  return { name: String(raw.name ?? ''), description: String(raw.description ?? ''), fields, enableDynamicField: raw.enable_dynamic_field === true };
}

// ---- schema: vecwal -> proto (DescribeCollection) ----------------------------------------------

function defaultToProto(f: FieldSchema): ValueFieldMsg | null {
  const v = f.defaultValue;
  if (v === undefined || v === null) return null;
  switch (f.dataType) {
    case 'Bool':
      return { bool_data: Boolean(v) };
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return { int_data: Number(v) };
    case 'Int64':
      return { long_data: String(v) };
    case 'Float':
      return { float_data: Number(v) };
    case 'Double':
      return { double_data: Number(v) };
    case 'VarChar':
      return { string_data: String(v) };
    default:
      return null;
  }
}

function fieldToProto(f: FieldSchema, fieldId: number): Record<string, unknown> {
  const typeParams: KeyValuePair[] = [];
  if (f.dim !== undefined) typeParams.push({ key: 'dim', value: String(f.dim) });
  if (f.maxLength !== undefined) typeParams.push({ key: 'max_length', value: String(f.maxLength) });
  if (f.maxCapacity !== undefined) typeParams.push({ key: 'max_capacity', value: String(f.maxCapacity) });
  return {
    fieldID: String(fieldId),
    name: f.name,
    is_primary_key: f.isPrimaryKey === true,
    description: f.description ?? '',
    data_type: f.dataType,
    type_params: typeParams,
    index_params: [],
    autoID: f.autoID === true,
    element_type: f.elementType ?? 'None',
    default_value: defaultToProto(f),
    is_dynamic: false,
    nullable: f.nullable === true,
  };
}

/** DescribeCollection's schema: the collection's fields, then `$meta` when the dynamic field is on. */
export function schemaToProto(d: CollectionDescription): Record<string, unknown> {
  const fields = d.schema.fields.map((f, i) => fieldToProto(f, d.fieldIds[f.name] ?? 100 + i));
  if (d.enableDynamicField) {
    fields.push({
      fieldID: String(100 + d.schema.fields.length),
      name: DYNAMIC_FIELD,
      is_primary_key: false,
      description: 'dynamic schema',
      data_type: 'JSON',
      type_params: [],
      index_params: [],
      autoID: false,
      element_type: 'None',
      default_value: null,
      is_dynamic: true,
      nullable: false,
    });
  }
  return {
    name: d.collectionName,
    description: d.description,
    autoID: d.autoId,
    fields,
    enable_dynamic_field: d.enableDynamicField,
    properties: [],
    functions: [],
    dbName: d.dbName,
    struct_array_fields: [],
  };
}

// ---- fields_data -> rows (Insert / Upsert) -----------------------------------------------------

const DATA_KEY: Record<string, string> = {
  Bool: 'bool_data',
  Int8: 'int_data',
  Int16: 'int_data',
  Int32: 'int_data',
  Int64: 'long_data',
  Float: 'float_data',
  Double: 'double_data',
  VarChar: 'string_data',
  JSON: 'json_data',
  Array: 'array_data',
};

/** The values of a ScalarField member: an array, or a typed array (FloatArray, LongArray). */
function scalarValues(s: ScalarFieldMsg, key: string): ArrayLike<unknown> {
  const holder = s[key] as { data?: ArrayLike<unknown> } | null | undefined;
  return holder?.data ?? [];
}

function parseJsonBytes(bytes: Uint8Array, field: string, row: number): unknown {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(milvusMessage(`row ${row}: field ${field} holds invalid JSON: ${JSON.stringify(text.slice(0, 100))}`, { field }));
  }
}

function arrayElements(el: ScalarFieldMsg | null | undefined, et: ScalarElementType, field: string, row: number): unknown[] {
  if (!el || !el.data) return [];
  const want = DATA_KEY[et]!;
  if (el.data !== want) throw invalid(milvusMessage(`row ${row}: field ${field} is an Array of ${et} and needs ${want} elements, got ${el.data}`, { field }));
  const values = scalarValues(el, want);
  return et === 'Int64' ? Array.from(values, bigintOf) : Array.isArray(values) ? values : Array.from(values);
}

/** Which rows hold a value: all of them, or those marked in valid_data. */
function validity(fd: FieldDataMsg, n: number, physical: number): { valid: boolean[] | null; dense: boolean } {
  const v = fd.valid_data ?? [];
  const name = fd.field_name;
  if (v.length === 0) {
    if (physical !== n) {
      throw invalid(milvusMessage(`field ${name} has ${physical} values for ${n} rows: a row is missing the field, or gives null for a field that is not nullable and has no default value`, { field: name }));
    }
    return { valid: null, dense: true };
  }
  if (v.length !== n) throw invalid(milvusMessage(`field ${name}: valid_data has ${v.length} entries for ${n} rows`, { field: name }));
  const count = v.reduce((a, b) => a + (b ? 1 : 0), 0);
  if (physical === n) return { valid: v, dense: true };
  if (physical === count) return { valid: v, dense: false };
  throw invalid(milvusMessage(`field ${name} has ${physical} values but valid_data marks ${count} of ${n} rows`, { field: name }));
}

function setOwn(row: Record<string, unknown>, key: string, value: unknown): void {
  // Dynamic keys come from client JSON: "__proto__" must become a key, never the prototype.
  if (key === '__proto__') Object.defineProperty(row, key, { value, enumerable: true, writable: true, configurable: true });
  else row[key] = value;
}

/**
 * A request's fields_data, checked against the schema, as columns of n rows:
 *   - `columns`: schema field -> one value per row, `undefined` where valid_data marks the row
 *     invalid (the engine then applies the field's default, or null when nullable). Int64 values
 *     are bigint (a BigInt64Array when every row has one), Float values numbers (a Float32Array
 *     as decoded), JSON values parsed, Array values plain arrays; a FloatVector is one flat
 *     Float32Array of n * dim (the engine copies it in one call);
 *   - `dynamic`: the parsed `$meta` object of each row (null when the row has none), or undefined
 *     when the request carries no dynamic field.
 */
export interface FieldColumns {
  n: number;
  columns: Map<string, ArrayLike<unknown>>;
  vectorField: string | undefined;
  dim: number;
  dynamic: (Record<string, unknown> | null)[] | undefined;
}

/** Int64 input (a decimal string as proto-loader gives it, a number, or bigint) as bigint. */
function bigintOf(x: unknown): bigint {
  return typeof x === 'bigint' ? x : BigInt(x as string | number);
}

/**
 * Check columnar fields_data against the schema and return it as columns (see FieldColumns).
 * Every problem is a ParameterInvalid naming the field (and row); nothing is written.
 */
export function columnsFromFieldsData(schema: CollectionSchema, fieldsData: readonly FieldDataMsg[], numRows: number): FieldColumns {
  if (!Array.isArray(fieldsData) || fieldsData.length === 0) throw invalid('fields_data is empty: nothing to insert');
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  let n = numRows;
  if (!(n > 0)) {
    // A client that leaves num_rows unset: count the first fixed column.
    const first = fieldsData.find((fd) => byName.has(fd.field_name));
    const f = first ? byName.get(first.field_name)! : undefined;
    if (first && f) {
      n = f.dataType === 'FloatVector' ? Math.floor((first.vectors?.float_vector?.data.length ?? 0) / (f.dim ?? 1)) : (first.valid_data?.length || scalarValues(first.scalars ?? {}, DATA_KEY[f.dataType]!).length);
    }
  }
  if (!(n > 0)) throw invalid('no rows to write: num_rows is 0');
  const out: FieldColumns = { n, columns: new Map(), vectorField: undefined, dim: 0, dynamic: undefined };
  const seen = new Set<string>();
  for (const fd of fieldsData) {
    const name = fd.field_name;
    if (seen.has(name)) throw invalid(milvusMessage(`field ${name} is given twice`, { field: name }));
    seen.add(name);
    if (name === DYNAMIC_FIELD || fd.is_dynamic === true) {
      if (!schema.enableDynamicField) throw invalid(milvusMessage(`collection ${schema.name} has no dynamic field: data for ${name} cannot be stored`, { collection: schema.name }));
      if (fd.scalars?.data !== 'json_data') throw invalid(milvusMessage(`the dynamic field ${name} needs json_data values`, { field: name }));
      const values = scalarValues(fd.scalars, 'json_data') as Uint8Array[];
      const { valid, dense } = validity(fd, n, values.length);
      const dynamic = (out.dynamic ??= new Array<Record<string, unknown> | null>(n).fill(null));
      let p = 0;
      for (let i = 0; i < n; i++) {
        if (valid && !valid[i]) {
          if (dense) p++;
          continue;
        }
        const obj = parseJsonBytes(values[p++]!, name, i);
        if (obj === null) continue;
        if (typeof obj !== 'object' || Array.isArray(obj)) throw invalid(milvusMessage(`row ${i}: the dynamic field ${name} must hold a JSON object`, { field: name }));
        for (const k of Object.keys(obj)) {
          if (byName.has(k)) throw invalid(milvusMessage(`row ${i}: dynamic key ${k} has the name of a field of the schema`, { field: k }));
        }
        const prev = dynamic[i];
        if (prev) for (const [k, v] of Object.entries(obj)) setOwn(prev, k, v);
        else dynamic[i] = obj as Record<string, unknown>;
      }
      continue;
    }
    const f = byName.get(name);
    if (!f) throw invalid(milvusMessage(`field ${name} is not in the schema of collection ${schema.name}`, { field: name }));
    if (fd.type && fd.type !== 'None' && fd.type !== f.dataType) {
      throw invalid(milvusMessage(`field ${name} is ${f.dataType} in the schema, but the data is ${fd.type}`, { field: name }));
    }
    if (f.dataType === 'FloatVector') {
      const vf = fd.vectors;
      if (!vf || vf.data !== 'float_vector') throw invalid(milvusMessage(`field ${name} is FloatVector and needs float_vector data, got ${vf?.data ?? (fd.scalars ? 'scalars' : 'nothing')}`, { field: name }));
      const dim = f.dim!;
      const given = Number(vf.dim ?? 0);
      if (given !== 0 && given !== dim) throw invalid(milvusMessage(`the dim (${given}) of field data(${name}) is not equal to schema dim (${dim})`, { field: name }));
      const flat = vf.float_vector?.data ?? [];
      if (flat.length !== n * dim) {
        throw invalid(milvusMessage(`field ${name} has ${flat.length} numbers for ${n} rows of dim ${dim}: every vector must have ${dim} dimensions`, { field: name }));
      }
      out.columns.set(name, flat instanceof Float32Array ? flat : Float32Array.from(flat));
      out.vectorField = name;
      out.dim = dim;
      continue;
    }
    const key = DATA_KEY[f.dataType]!;
    const s = fd.scalars;
    if (!s || s.data !== key) throw invalid(milvusMessage(`field ${name} is ${f.dataType} and needs ${key} values, got ${s?.data ?? (fd.vectors ? 'vectors' : 'nothing')}`, { field: name }));
    let values: ArrayLike<unknown>;
    if (f.dataType === 'Array') {
      const et = f.elementType!;
      values = (s.array_data?.data ?? []).map((el: ScalarFieldMsg | null, i: number) => arrayElements(el, et, name, i));
    } else {
      values = scalarValues(s, key);
    }
    const { valid, dense } = validity(fd, n, values.length);
    const int64 = f.dataType === 'Int64';
    const json = f.dataType === 'JSON';
    if (valid === null && !json && (!int64 || values instanceof BigInt64Array)) {
      out.columns.set(name, values); // every row has its value, already in its final form
      continue;
    }
    const col = new Array<unknown>(n);
    let any = false;
    let p = 0;
    for (let i = 0; i < n; i++) {
      if (valid && !valid[i]) {
        if (dense) p++;
        continue;
      }
      const raw = values[p++];
      col[i] = int64 ? bigintOf(raw) : json ? parseJsonBytes(raw as Uint8Array, name, i) : raw;
      any = true;
    }
    // A column with no value at all is a field left out (as rows without the key).
    if (any) out.columns.set(name, col);
  }
  return out;
}

/**
 * Columns as the engine's columnar insert input ({ field: values }, dynamic keys as extra
 * columns), or null when the dynamic keys cannot be columns without changing what is stored:
 * a reserved key (`$...`, `__proto__`, refused by the engine with a row-level message), or rows
 * whose keys come in different orders (the engine would store each row's `$meta` keys in column
 * order). The caller then writes rows (columnsToRows).
 */
export function engineColumns(c: FieldColumns): Record<string, unknown> | null {
  const columns: Record<string, unknown> = {};
  for (const [name, col] of c.columns) setOwn(columns, name, col);
  if (!c.dynamic) return columns;
  const keys = new Map<string, { at: number; values: unknown[] }>();
  const n = c.n;
  for (let i = 0; i < n; i++) {
    const obj = c.dynamic[i];
    if (!obj) continue;
    let last = -1;
    for (const k of Object.keys(obj)) {
      if (k === '__proto__' || k.startsWith('$')) return null;
      let key = keys.get(k);
      if (!key) {
        key = { at: keys.size, values: new Array<unknown>(n) };
        keys.set(k, key);
      }
      if (key.at <= last) return null;
      last = key.at;
      key.values[i] = obj[k];
    }
  }
  for (const [k, { values }] of keys) columns[k] = values;
  return columns;
}

/** Columns as row objects (MilvusService.insert/upsert): vectors as views of the flat column. */
export function columnsToRows(c: FieldColumns): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = Array.from({ length: c.n }, () => ({}));
  for (const [name, col] of c.columns) {
    if (name === c.vectorField) {
      const flat = col as Float32Array;
      const dim = c.dim;
      for (let i = 0; i < c.n; i++) rows[i]![name] = flat.subarray(i * dim, (i + 1) * dim);
      continue;
    }
    for (let i = 0; i < c.n; i++) {
      const v = col[i];
      if (v !== undefined) rows[i]![name] = v;
    }
  }
  if (c.dynamic) {
    c.dynamic.forEach((obj, i) => {
      if (!obj) return;
      const row = rows[i]!;
      for (const [k, v] of Object.entries(obj)) setOwn(row, k, v);
    });
  }
  return rows;
}

/**
 * Columnar fields_data as row objects for MilvusService.insert/upsert. Int64 values become
 * bigint, float vectors Float32Array views of one buffer per column, JSON values parsed,
 * `$meta` keys merged into each row as dynamic keys, and a value marked invalid in valid_data is
 * left out of its row (so the engine applies the field's default, or null when nullable).
 */
export function rowsFromFieldsData(schema: CollectionSchema, fieldsData: readonly FieldDataMsg[], numRows: number): Record<string, unknown>[] {
  return columnsToRows(columnsFromFieldsData(schema, fieldsData, numRows));
}

// ---- rows -> fields_data (Query / Search results) ---------------------------------------------

function scalarColumn(f: FieldSchema, values: unknown[]): ScalarFieldMsg {
  switch (f.dataType) {
    case 'Bool':
      return { bool_data: { data: values.map((v) => v === true) } };
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return { int_data: { data: values.map((v) => (typeof v === 'number' ? v : 0)) } };
    case 'Int64':
      // bigint/number as is: the responses holding these are encoded by the typed-array codecs.
      return { long_data: { data: values.map((v) => (typeof v === 'bigint' || typeof v === 'number' ? v : 0)) } };
    case 'Float':
      return { float_data: { data: values.map((v) => (typeof v === 'number' ? v : 0)) } };
    case 'Double':
      return { double_data: { data: values.map((v) => (typeof v === 'number' ? v : 0)) } };
    case 'VarChar':
      return { string_data: { data: values.map((v) => (typeof v === 'string' ? v : '')) } };
    case 'JSON':
      return { json_data: { data: values.map(jsonBytes) } };
    case 'Array': {
      const et = f.elementType!;
      const element = { name: f.name, dataType: et } as FieldSchema;
      return { array_data: { data: values.map((v) => scalarColumn(element, Array.isArray(v) ? v : [])), element_type: et } };
    }
    default:
      throw new Error(`no scalar encoding for ${f.dataType}`);
  }
}

const bigintAsNumber = (_k: string, x: unknown): unknown => (typeof x === 'bigint' ? Number(x) : x);

function jsonBytes(v: unknown): Buffer {
  if (v === null || v === undefined) return Buffer.alloc(0);
  let text: string;
  try {
    text = JSON.stringify(v); // no replacer: several times faster; throws only on a bigint
  } catch {
    text = JSON.stringify(v, bigintAsNumber);
  }
  return Buffer.from(text, 'utf8');
}

function columnOf(f: FieldSchema, fieldId: number | undefined, rows: readonly Record<string, unknown>[]): FieldDataMsg {
  const base: FieldDataMsg = { type: f.dataType, field_name: f.name, ...(fieldId !== undefined ? { field_id: String(fieldId) } : {}), is_dynamic: false };
  if (f.dataType === 'FloatVector') {
    const dim = f.dim!;
    const flat = new Float32Array(rows.length * dim);
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![f.name] as ArrayLike<number> | undefined;
      if (!v) continue;
      if (v.length === dim && (v instanceof Float32Array || Array.isArray(v))) flat.set(v, i * dim);
      else for (let k = 0; k < dim; k++) flat[i * dim + k] = v[k] ?? 0;
    }
    return { ...base, vectors: { dim: String(dim), float_vector: { data: flat } } };
  }
  const values = rows.map((r) => r[f.name]);
  const out: FieldDataMsg = { ...base, scalars: scalarColumn(f, values) };
  if (f.nullable) out.valid_data = values.map((v) => v !== null && v !== undefined);
  return out;
}

/** What a request's output_fields ask for, against the schema. */
export interface OutputPlan {
  /** Fields to ask the service for. */
  serviceOutputs: string[];
  /** Fixed (schema) fields to return as columns, primary key first. */
  fixed: FieldSchema[];
  /** Dynamic keys asked for by name. */
  dynamicKeys: string[];
  /** Return every dynamic key (`*` or `$meta` was asked for). */
  allDynamic: boolean;
}

export function planOutputs(schema: CollectionSchema, requested: readonly string[]): OutputPlan {
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const pk = schema.fields.find((f) => f.isPrimaryKey)!;
  const star = requested.includes('*');
  const allDynamic = schema.enableDynamicField && (star || requested.includes(DYNAMIC_FIELD));
  const fixed: FieldSchema[] = [pk];
  const dynamicKeys: string[] = [];
  if (star) for (const f of schema.fields) if (f !== pk) fixed.push(f);
  for (const name of requested) {
    if (name === '*' || name === DYNAMIC_FIELD) continue;
    const f = byName.get(name);
    if (f) {
      if (!fixed.includes(f)) fixed.push(f);
    } else if (!dynamicKeys.includes(name)) dynamicKeys.push(name);
  }
  const serviceOutputs = allDynamic ? ['*'] : requested.filter((n) => n !== DYNAMIC_FIELD);
  return { serviceOutputs, fixed, dynamicKeys, allDynamic };
}

/** Result rows (fixed fields and flattened dynamic keys) as columns, plus the output_fields list. */
export function rowsToFieldsData(schema: CollectionSchema, fieldIds: Record<string, number>, rows: readonly Record<string, unknown>[], plan: OutputPlan): { fieldsData: FieldDataMsg[]; outputFields: string[] } {
  const fieldsData = plan.fixed.map((f) => columnOf(f, fieldIds[f.name], rows));
  const outputFields = plan.fixed.map((f) => f.name);
  if (schema.enableDynamicField && (plan.allDynamic || plan.dynamicKeys.length > 0)) {
    const fixedNames = new Set(schema.fields.map((f) => f.name));
    const metas = rows.map((r) => {
      const m: Record<string, unknown> = {};
      if (plan.allDynamic) {
        for (const [k, v] of Object.entries(r)) if (!fixedNames.has(k) && k !== 'distance') setOwn(m, k, v);
      } else {
        for (const k of plan.dynamicKeys) if (Object.prototype.hasOwnProperty.call(r, k)) setOwn(m, k, r[k]);
      }
      return m;
    });
    fieldsData.push({ type: 'JSON', field_name: DYNAMIC_FIELD, field_id: String(100 + schema.fields.length), is_dynamic: true, scalars: { json_data: { data: metas.map(jsonBytes) } } });
    outputFields.push(...plan.dynamicKeys);
    if (plan.allDynamic) outputFields.push(DYNAMIC_FIELD);
  }
  return { fieldsData, outputFields };
}

// ---- search payloads ---------------------------------------------------------------------------

/** PlaceholderGroup (decoded) -> float32 query vectors (little-endian float32 bytes each). */
export function vectorsFromPlaceholders(group: Record<string, unknown>): Float32Array[] {
  const placeholders = (group.placeholders ?? []) as Array<{ tag?: string; type?: string; values?: Uint8Array[] }>;
  if (placeholders.length === 0) throw invalid('the search request has no query vectors (empty placeholder_group)');
  if (placeholders.length > 1) throw invalid('the search request has more than one placeholder; vecwal searches one vector field');
  const p = placeholders[0]!;
  if (p.type !== 'FloatVector') throw invalid(`query vectors of type ${p.type ?? 'None'} are not supported by vecwal: use float vectors`);
  const values = p.values ?? [];
  if (values.length === 0) throw invalid('the search request has no query vectors');
  return values.map((bytes, i) => {
    if (bytes.byteLength % 4 !== 0) throw invalid(`query vector ${i} has ${bytes.byteLength} bytes, not a whole number of float32 values`);
    const out = new Float32Array(bytes.byteLength / 4);
    if (LITTLE_ENDIAN) {
      new Uint8Array(out.buffer).set(bytes);
    } else {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let k = 0; k < out.length; k++) out[k] = view.getFloat32(k * 4, true);
    }
    return out;
  });
}

function templateArray(a: TemplateArrayValueMsg | null | undefined): unknown[] {
  if (!a || !a.data) return [];
  switch (a.data) {
    case 'bool_data':
      return a.bool_data?.data ?? [];
    case 'long_data':
      return Array.from(a.long_data?.data ?? [], (x) => int64Value(x));
    case 'double_data':
      return a.double_data?.data ?? [];
    case 'string_data':
      return a.string_data?.data ?? [];
    case 'array_data':
      return (a.array_data?.data ?? []).map(templateArray);
    case 'json_data':
      return (a.json_data?.data ?? []).map((b, i) => parseJsonBytes(b, 'expr_template_values', i));
    default:
      throw invalid(`template array of kind ${a.data} is not supported`);
  }
}

/** expr_template_values -> exprParams for the filter compiler (int64 as number, or bigint beyond 2^53). */
export function templateValues(map: Record<string, TemplateValueMsg> | undefined | null): Record<string, unknown> | undefined {
  if (!map) return undefined;
  const entries = Object.entries(map);
  if (entries.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    let value: unknown;
    switch (v?.val) {
      case 'bool_val':
        value = v.bool_val;
        break;
      case 'int64_val':
        value = int64Value(v.int64_val ?? 0);
        break;
      case 'float_val':
        value = v.float_val;
        break;
      case 'string_val':
        value = v.string_val;
        break;
      case 'array_val':
        value = templateArray(v.array_val);
        break;
      default:
        throw invalid(milvusMessage(`template value of kind ${v?.val ?? 'none'} is not supported`, { template: k }));
    }
    setOwn(out, k, value);
  }
  return out;
}
