/**
 * Reading REST request bodies the way Milvus's Go handler does.
 *
 * Milvus binds bodies with Go's encoding/json, which matches object keys to struct fields
 * case-insensitively (an exact match wins), and the SDK's own tests rely on it (`autoId` for
 * `autoID`). Every read of a request key in rest*.ts goes through `getKey`, nested schema and
 * field objects included. Row data is not read this way: field names are case-sensitive.
 *
 * Errors follow Milvus:
 *   a required key missing or empty  → 1802 "missing required parameters, error: Key: ..."
 *   a key of the wrong JSON type      → 1801 "can only accept json format request, error: json:
 *                                        cannot unmarshal <type> into Go struct field ..."
 */
import { MilvusCode, MilvusError } from './milvus-error.js';

export type JsonObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The value of `name` in `obj`: an exact key first, else the last key equal ignoring case. */
export function getKey(obj: JsonObject, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  let found: unknown;
  for (const k of Object.keys(obj)) if (k.length === name.length && k.toLowerCase() === lower) found = obj[k];
  return found;
}

/** Does `obj` have `name` (ignoring case)? */
export function hasKey(obj: JsonObject, name: string): boolean {
  if (Object.hasOwn(obj, name)) return true;
  const lower = name.toLowerCase();
  return Object.keys(obj).some((k) => k.toLowerCase() === lower);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'bigint') return 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

export function typeError(path: string, v: unknown, goType: string): MilvusError {
  const shown = typeof v === 'number' || typeof v === 'bigint' ? `number ${String(v)}` : jsonType(v);
  return new MilvusError(MilvusCode.InvalidJsonBody, `can only accept json format request, error: json: cannot unmarshal ${shown} into Go struct field ${path} of type ${goType}`);
}

export function missing(path: string, what?: string): MilvusError {
  const name = path.split('.').pop()!;
  return new MilvusError(
    MilvusCode.MissingRequiredParameters,
    `missing required parameters, error: Key: '${path}' Error:Field validation for '${name}' failed on the 'required' tag${what ? ` (${what})` : ''}`,
  );
}

/**
 * The optional request fields that were given, as an object to spread into a request: unset,
 * null, '' and 0 count as not given (Go's zero values), as the REST handler treats them.
 */
export function givenFields<T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: NonNullable<T[K]> } {
  const out: { [K in keyof T]?: NonNullable<T[K]> } = {};
  for (const k of Object.keys(fields) as (keyof T)[]) if (fields[k]) out[k] = fields[k] as NonNullable<T[keyof T]>;
  return out;
}

interface Opt {
  required?: boolean;
}

/** Typed, case-insensitive access to one JSON object of a request. */
export class Params {
  constructor(
    readonly obj: JsonObject,
    /** Dotted path of this object in the request, for messages ('' at the top). */
    readonly path = '',
  ) {}

  static of(v: unknown, path: string): Params {
    if (v === undefined || v === null) return new Params({}, path);
    if (!isPlainObject(v)) throw typeError(path, v, 'object');
    return new Params(v, path);
  }

  private at(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  has(name: string): boolean {
    const v = getKey(this.obj, name);
    return v !== undefined && v !== null;
  }

  /** The raw value (null reads as undefined, as Go's zero value). */
  raw(name: string, o: Opt = {}): unknown {
    const v = getKey(this.obj, name);
    if ((v === undefined || v === null) && o.required) throw missing(this.at(name));
    return v === null ? undefined : v;
  }

  str(name: string, o: Opt & { required: true }): string;
  str(name: string, o?: Opt): string | undefined;
  str(name: string, o: Opt = {}): string | undefined {
    const v = this.raw(name);
    if (v === undefined) {
      if (o.required) throw missing(this.at(name));
      return undefined;
    }
    if (typeof v !== 'string') throw typeError(this.at(name), v, 'string');
    if (v === '' && o.required) throw missing(this.at(name));
    return v;
  }

  int(name: string, o: Opt & { min?: number } = {}): number | undefined {
    const v = this.raw(name, o);
    if (v === undefined) return undefined;
    let n: number;
    if (typeof v === 'number' && Number.isInteger(v)) n = v;
    else if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) n = Number(v);
    else throw typeError(this.at(name), v, 'int64');
    if (o.min !== undefined && n < o.min) {
      throw new MilvusError(MilvusCode.ParameterInvalid, `${this.at(name)} must be at least ${o.min}, got ${n}`);
    }
    return n;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw typeError(this.at(name), v, 'bool');
    return v;
  }

  /** A bool inside a free-form params map: Milvus accepts true/false and "true"/"false". */
  looseBool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    throw new MilvusError(MilvusCode.ParameterInvalid, `${this.at(name)} must be true or false, got ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`);
  }

  /** An integer inside a free-form params map: a number or a digit string. */
  looseInt(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string' && /^-?\d{1,15}$/.test(v.trim())) return Number(v.trim());
    throw new MilvusError(MilvusCode.ParameterInvalid, `${this.at(name)} must be an integer, got ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`);
  }

  strList(name: string, o: Opt = {}): string[] | undefined {
    const v = this.raw(name, o);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw typeError(this.at(name), v, '[]string');
    for (const [i, x] of v.entries()) if (typeof x !== 'string') throw typeError(`${this.at(name)}[${i}]`, x, 'string');
    return v as string[];
  }

  list(name: string, o: Opt = {}): unknown[] | undefined {
    const v = this.raw(name, o);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw typeError(this.at(name), v, 'array');
    return v;
  }

  /** A nested object as Params (undefined when absent). */
  child(name: string, o: Opt = {}): Params | undefined {
    const v = this.raw(name, o);
    if (v === undefined) return undefined;
    if (!isPlainObject(v)) throw typeError(this.at(name), v, 'object');
    return new Params(v, this.at(name));
  }

  /** A free-form map (properties, params, exprParams): the object itself. */
  map(name: string, o: Opt = {}): JsonObject | undefined {
    return this.child(name, o)?.obj;
  }

  /** The elements of a list of objects, as Params. */
  children(name: string, o: Opt = {}): Params[] | undefined {
    const v = this.list(name, o);
    if (v === undefined) return undefined;
    return v.map((x, i) => {
      if (!isPlainObject(x)) throw typeError(`${this.at(name)}[${i}]`, x, 'object');
      return new Params(x, `${this.at(name)}[${i}]`);
    });
  }
}
