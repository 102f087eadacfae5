/**
 * Compilation of value expressions (fields, JSON paths, literals, arithmetic, array_length)
 * into typed getters. Each `Val` carries its static type, which the predicate compiler uses
 * for Milvus's compile-time checks, and a `get(row)` closure built once per filter.
 */
import type { ArithExpr, CallExpr, FieldExpr, FilterExpr, UnaryExpr } from './ast.js';
import { filterError } from './diagnostics.js';
import { F, NUL, canon, floatArith, intArith, isNum } from './runtime.js';

export type ScalarType =
  | 'Bool' | 'Int8' | 'Int16' | 'Int32' | 'Int64' | 'Float' | 'Double' | 'VarChar' | 'JSON' | 'Array'
  | 'FloatVector';

export interface FilterField {
  name: string;
  type: ScalarType;
  /** Element type of an Array field. */
  elementType?: ScalarType;
  nullable?: boolean;
}

export interface FilterSchema {
  fields: FilterField[];
  /** When on, names that are not schema fields are keys of the row's `$meta` object. */
  enableDynamicField: boolean;
}

/** Field values by name; dynamic fields live in `row.$meta`; Int64 may be number or bigint. */
export type Row = Record<string, unknown>;

/** 'list' is a constant `[..]`; 'json' means the type is only known per row. */
export type ValType = 'int' | 'float' | 'string' | 'bool' | 'json' | 'array' | 'list';

/** A single stored column, optionally with a JSON path or array index into it. */
export interface Column {
  root: string;
  path: (string | number)[];
  /** Values are JSON (a JSON field, a `$meta` key or an untyped dynamic field). */
  json: boolean;
}

export interface Val {
  type: ValType;
  /** Element type of a whole Array field. */
  elem?: ValType;
  /** A float32 (`Float`) column: comparisons round both sides with Math.fround. */
  f32?: boolean;
  /** Human description for messages: "VarChar field 'name'", "number 5". */
  desc: string;
  node: FilterExpr;
  /** Present when the value is a compile-time constant (canonical JS value). */
  konst?: { value: unknown };
  /** The typed items of a constant list. */
  items?: Val[];
  column?: Column;
  /** The value for a row; null/undefined means absent. */
  get: (row: Row) => unknown;
  /** The predicate state to use when `get` is absent: NUL for a null column, F for a missing JSON key. */
  miss: (row: Row) => number;
}

/** Shared compile state: the schema by name and the source text for error excerpts. */
export class Ctx {
  readonly fields = new Map<string, FilterField>();
  constructor(
    readonly schema: FilterSchema,
    readonly source: string | undefined,
  ) {
    for (const f of schema.fields) this.fields.set(f.name, f);
  }

  fail(message: string, position: number): never {
    throw filterError(message, position, this.source);
  }
}

const alwaysNull = (): number => NUL;

/** The filter-level type of a schema type; vectors and unknown types cannot be filtered. */
export function staticType(t: string | undefined): ValType | undefined {
  switch (t) {
    case 'Bool': return 'bool';
    case 'Int8': case 'Int16': case 'Int32': case 'Int64': return 'int';
    case 'Float': case 'Double': return 'float';
    case 'VarChar': return 'string';
    case 'JSON': return 'json';
    case 'Array': return 'array';
    default: return undefined;
  }
}

export function constVal(node: FilterExpr, type: ValType, value: unknown, desc: string, items?: Val[]): Val {
  const miss = (): number => F;
  const get = (): unknown => value;
  return items ? { type, desc, node, konst: { value }, items, get, miss } : { type, desc, node, konst: { value }, get, miss };
}

const describeLiteral = (text: string): string => (text.length > 24 ? `${text.slice(0, 21)}...` : text);

export function compileValue(ctx: Ctx, node: FilterExpr): Val {
  switch (node.kind) {
    case 'int':
      return constVal(node, 'int', canon(node.value), `number ${node.value}`);
    case 'float':
      return constVal(node, 'float', node.value, `number ${node.value}`);
    case 'string':
      return constVal(node, 'string', node.value, `string ${describeLiteral(JSON.stringify(node.value))}`);
    case 'bool':
      return constVal(node, 'bool', node.value, `boolean ${node.value}`);
    case 'list': {
      const items = node.items.map((item) => compileValue(ctx, item));
      const bad = items.find((i) => i.konst === undefined);
      if (bad) ctx.fail('list elements must be constants', bad.node.span.start);
      return constVal(node, 'list', items.map((i) => i.konst?.value), 'a list', items);
    }
    case 'field':
      return fieldVal(ctx, node);
    case 'arith':
      return arithVal(ctx, node);
    case 'unary':
      if (node.op !== 'not') return signVal(ctx, node);
      return ctx.fail(
        "'not' binds tighter than comparisons, so 'not a == 1' means '(not a) == 1'; write 'not (a == 1)'",
        node.span.start,
      );
    case 'call':
      if (node.fn === 'array_length') return lengthVal(ctx, node);
      break;
    case 'template':
      return ctx.fail(`no value given for template {${node.name}}`, node.span.start);
    default:
      break;
  }
  return ctx.fail('expected a value here, got a boolean expression', node.span.start);
}

/** Reads `row[name]` without ever reaching Object.prototype (a field named `constructor`). */
function propGetter(name: string): (row: Row) => unknown {
  if (name in Object.prototype) return (row) => (Object.hasOwn(row, name) ? row[name] : undefined);
  return (row) => row[name];
}

/** One JSON-pointer step: object keys must be own properties; arrays take decimal indexes. */
function step(v: unknown, seg: string | number): unknown {
  if (typeof v !== 'object' || v === null) return undefined;
  if (Array.isArray(v)) {
    const i = typeof seg === 'number' ? seg : /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : -1;
    return i >= 0 && i < v.length ? v[i] : undefined;
  }
  const key = String(seg);
  return Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
}

/** Getter for `root` + JSON path, specialised for the common single-key dynamic field. */
function pathGetter(root: string, path: (string | number)[]): (row: Row) => unknown {
  const base = propGetter(root);
  const [only] = path;
  if (path.length === 1 && typeof only === 'string' && !(only in Object.prototype)) {
    return (row) => {
      const o = base(row);
      if (typeof o !== 'object' || o === null) return undefined;
      return Array.isArray(o) ? step(o, only) : (o as Record<string, unknown>)[only];
    };
  }
  return (row) => {
    let v = base(row);
    for (const seg of path) v = step(v, seg);
    return v;
  };
}

function columnVal(node: FieldExpr, column: Column, type: ValType, desc: string): Val {
  const base = propGetter(column.root);
  // A missing key inside a present JSON object is a plain mismatch (false); a null column
  // is Milvus's "invalid" row, which NOT must not turn into a match.
  const miss = column.path.length === 0 ? alwaysNull : (row: Row) => (base(row) == null ? NUL : F);
  const get = column.path.length === 0 ? base : pathGetter(column.root, column.path);
  return { type, desc, node, column, get, miss };
}

/** Resolves a name: schema field, `$meta`, or (with the dynamic field on) a `$meta` key. */
export function fieldVal(ctx: Ctx, node: FieldExpr): Val {
  const text = node.name + node.path.map((p) => `[${JSON.stringify(p)}]`).join('');
  if (node.name === '$meta') {
    if (!ctx.schema.enableDynamicField) ctx.fail("unknown field '$meta': the dynamic field is not enabled", node.span.start);
    return columnVal(node, { root: '$meta', path: node.path, json: true }, 'json', `dynamic field ${text}`);
  }
  const field = ctx.fields.get(node.name);
  if (field === undefined) {
    if (!ctx.schema.enableDynamicField) ctx.fail(`unknown field '${node.name}'`, node.span.start);
    const column = { root: '$meta', path: [node.name, ...node.path], json: true };
    return columnVal(node, column, 'json', `dynamic field '${text}'`);
  }
  if (field.type.endsWith('Vector')) ctx.fail(`vector field '${field.name}' cannot be used in a filter`, node.span.start);
  const type = staticType(field.type);
  if (type === undefined) ctx.fail(`field '${field.name}' of type ${field.type} cannot be used in a filter`, node.span.start);
  if (node.path.length === 0) {
    const val = columnVal(node, { root: field.name, path: [], json: type === 'json' }, type, `${field.type} field '${field.name}'`);
    if (type === 'array') val.elem = arrayElemType(ctx, field, node);
    if (field.type === 'Float' || (type === 'array' && field.elementType === 'Float')) val.f32 = true;
    return val;
  }
  if (type === 'json') return columnVal(node, { root: field.name, path: node.path, json: true }, 'json', `JSON value ${text}`);
  if (type !== 'array') return ctx.fail(`field '${field.name}' of type ${field.type} cannot be indexed`, node.span.start);
  return arrayElementVal(ctx, node, field);
}

function arrayElemType(ctx: Ctx, field: FilterField, node: FieldExpr): ValType {
  const elem = staticType(field.elementType);
  if (elem === undefined || elem === 'json' || elem === 'array') {
    return ctx.fail(`Array field '${field.name}' has no usable element type`, node.span.start);
  }
  return elem;
}

/** `arr[i]`: Milvus arrays take exactly one integer index. */
function arrayElementVal(ctx: Ctx, node: FieldExpr, field: FilterField): Val {
  const [index] = node.path;
  if (node.path.length !== 1 || typeof index !== 'number') {
    ctx.fail(`Array field '${field.name}' can only be indexed by one integer, like ${field.name}[0]`, node.span.start);
  }
  const elem = arrayElemType(ctx, field, node);
  const val = columnVal(node, { root: field.name, path: [index], json: false }, elem, `element ${field.name}[${index}]`);
  if (field.elementType === 'Float') val.f32 = true;
  return val;
}

const isNumeric = (v: Val): boolean => v.type === 'int' || v.type === 'float' || v.type === 'json';

function arithVal(ctx: Ctx, node: ArithExpr): Val {
  const l = compileValue(ctx, node.left);
  const r = compileValue(ctx, node.right);
  for (const v of [l, r]) {
    if (!isNumeric(v)) ctx.fail(`operator '${node.op}' needs numbers, got ${v.desc}`, v.node.span.start);
  }
  if (node.op === '**' && (l.konst === undefined || r.konst === undefined)) {
    ctx.fail("'**' only applies to constants (as in Milvus)", node.opPos);
  }
  if (node.op === '%' && (l.type === 'float' || r.type === 'float')) ctx.fail("'%' only applies to integers", node.opPos);
  const type: ValType = l.type === 'int' && r.type === 'int' && node.op !== '**' ? 'int' : 'float';
  const fn = type === 'int' ? intArith(node.op) : floatArith(node.op);
  if (l.konst && r.konst) {
    const v = fn(l.konst.value, r.konst.value);
    if (v === undefined || (typeof v === 'number' && !Number.isFinite(v))) ctx.fail('division by zero or overflow in a constant', node.opPos);
    return constVal(node, type, v, `number ${String(v)}`);
  }
  const [lg, rg, lm, rm] = [l.get, r.get, l.miss, r.miss];
  return {
    type,
    desc: 'an arithmetic expression',
    node,
    get: (row) => {
      const a = lg(row);
      if (a == null) return undefined;
      const b = rg(row);
      return b == null ? undefined : fn(a, b);
    },
    // NUL if either side is a null column, else F (missing JSON key, division by zero).
    miss: (row) => (lg(row) == null ? lm(row) : F) & (rg(row) == null ? rm(row) : F),
  };
}

/** Unary `-`/`+` on numbers (Milvus only folds constants; vecwal also negates columns). */
function signVal(ctx: Ctx, node: UnaryExpr): Val {
  const v = compileValue(ctx, node.operand);
  if (!isNumeric(v)) ctx.fail(`operator '${node.op}' needs a number, got ${v.desc}`, node.span.start);
  const negate = (a: unknown): unknown => {
    if (node.op === '+') return isNum(a) ? a : undefined;
    return typeof a === 'number' ? -a : typeof a === 'bigint' ? canon(-a) : undefined;
  };
  if (v.konst) return constVal(node, v.type, negate(v.konst.value), `number ${String(negate(v.konst.value))}`);
  const [g, m] = [v.get, v.miss];
  return { type: v.type === 'int' ? 'int' : 'float', desc: 'an arithmetic expression', node, get: (row) => {
    const a = g(row);
    return a == null ? undefined : negate(a);
  }, miss: (row) => (g(row) == null ? m(row) : F) };
}

/** `array_length(f)` on an Array field or a JSON value holding an array. */
function lengthVal(ctx: Ctx, node: CallExpr): Val {
  const f = compileValue(ctx, node.args[0] as FilterExpr);
  if (f.type !== 'array' && f.type !== 'json') {
    ctx.fail(`array_length() needs an Array or JSON field, got ${f.desc}`, f.node.span.start);
  }
  const [g, m] = [f.get, f.miss];
  return {
    type: 'int',
    desc: 'array_length()',
    node,
    get: (row) => {
      const a = g(row);
      return Array.isArray(a) ? a.length : undefined;
    },
    miss: (row) => (g(row) == null ? m(row) : F),
  };
}
