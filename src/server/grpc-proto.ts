/**
 * The Milvus protocol definitions for the gRPC server, loaded at runtime from the official Node
 * SDK package (@zilliz/milvus2-sdk-node ships its protos as protobufjs JSON in
 * dist/milvus/proto-json/milvus.js; no .proto file is copied into vecwal). Loaded once, lazily:
 *   - the grpc-js service definitions of milvus.proto.milvus.MilvusService and
 *     ClientTelemetryService, via @grpc/proto-loader fromJSON with the SDK's LOADER_OPTIONS, so
 *     requests decode exactly as the SDK encodes them (int64 as strings, enums as names, oneof
 *     discriminators, defaults filled in);
 *   - a protobufjs Root of the same JSON for the payloads Milvus nests as bytes: the
 *     CollectionSchema of CreateCollection and the PlaceholderGroup of Search;
 *   - on that Root, typed-array codecs for the bulk parts of the hot methods (see
 *     installTypedArrayCodecs): Insert/Upsert/Search/HybridSearch requests and Insert/Upsert/
 *     Search/HybridSearch/Query responses go through `decoder`/`encoder` (grpc.ts), which decode
 *     and encode exactly as proto-loader does, except that milvus.proto.schema.FloatArray.data
 *     is a Float32Array and LongArray.data a BigInt64Array (one copy of the packed bytes, no
 *     per-element JS numbers, Long objects or decimal strings).
 */
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** The SDK's loader options (dist/milvus/grpc/GrpcClient.js LOADER_OPTIONS). */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** protobufjs toObject options matching LOADER_OPTIONS, for the nested payloads. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true, arrays: true };

/** What proto-loader's deserializer passes to toObject (LOADER_OPTIONS as given). */
const REQUEST_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true };

const LITTLE_ENDIAN = endianness() === 'LE';
const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;
/** Field 1, length-delimited: the packed `data` of FloatArray and LongArray. */
const DATA_PACKED_TAG = (1 << 3) | WIRE_LEN;

type ReaderLike = protobuf.Reader & { buf: Uint8Array; pos: number; len: number };

function readerOf(r: protobuf.Reader | Uint8Array): ReaderLike {
  return (r instanceof protobuf.Reader ? r : protobuf.Reader.create(r)) as ReaderLike;
}

/** The end of a length-delimited payload of n bytes at r.pos, checked against the buffer. */
function payloadEnd(r: ReaderLike, n: number): number {
  const end = r.pos + n;
  if (end > r.len) throw new RangeError(`index out of range: ${r.pos} + ${n} > ${r.len}`);
  return end;
}

function concatFloat32(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Uninitialized memory for a typed array whose every byte is about to be written: no zero fill
 * (a large zeroed ArrayBuffer gets fresh pages; first-touch faults cost about ten times the
 * copy). Its own ArrayBuffer (allocUnsafeSlow: not a slice of Node's shared pool).
 */
function uninitialized(bytes: number): ArrayBuffer {
  return Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
}

/** little-endian float32 bytes -> a Float32Array that owns its memory (one copy). */
function float32Of(bytes: Uint8Array, start: number, count: number): Float32Array {
  if (LITTLE_ENDIAN) {
    const out = new Float32Array(uninitialized(count * 4), 0, count);
    new Uint8Array(out.buffer, 0, count * 4).set(bytes.subarray(start, start + count * 4));
    return out;
  }
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * 4);
  for (let k = 0; k < count; k++) out[k] = view.getFloat32(k * 4, true);
  return out;
}

/** milvus.proto.schema.FloatArray (repeated float data = 1), packed or not, as { data: Float32Array }. */
function decodeFloatArray(reader: protobuf.Reader | Uint8Array, length?: number): { data: Float32Array } {
  const r = readerOf(reader);
  const end = length === undefined ? r.len : payloadEnd(r, length);
  const parts: Float32Array[] = [];
  let loose: number[] | null = null;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    if ((tag & 7) === WIRE_LEN) {
      const n = r.uint32();
      const stop = payloadEnd(r, n);
      if (n % 4 !== 0) throw new RangeError(`FloatArray: packed data of ${n} bytes is not a whole number of floats`);
      if (loose) parts.push(Float32Array.from(loose.splice(0)));
      parts.push(float32Of(r.buf, r.pos, n / 4));
      r.pos = stop;
    } else if ((tag & 7) === WIRE_FIXED32) {
      (loose ??= []).push(r.float());
    } else {
      r.skipType(tag & 7);
    }
  }
  if (r.pos > end) throw new RangeError('FloatArray: the message overruns its length');
  if (loose && loose.length > 0) parts.push(Float32Array.from(loose));
  return { data: parts.length === 0 ? new Float32Array(0) : concatFloat32(parts) };
}

/** The 64-bit varint at r.pos into out32[2k] (low) and out32[2k+1] (high); returns the new position. */
function readVarint64(buf: Uint8Array, pos: number, end: number, out32: Int32Array, k: number): number {
  let lo = 0;
  let hi = 0;
  let b = 0;
  for (let i = 0; i < 4; i++) {
    if (pos >= end) throw new RangeError('LongArray: truncated varint');
    b = buf[pos++]!;
    lo |= (b & 127) << (7 * i);
    if (b < 128) {
      out32[2 * k] = lo;
      out32[2 * k + 1] = 0;
      return pos;
    }
  }
  if (pos >= end) throw new RangeError('LongArray: truncated varint');
  b = buf[pos++]!;
  lo |= (b & 127) << 28;
  hi = (b & 127) >> 4;
  if (b >= 128) {
    for (let i = 0; i < 5; i++) {
      if (pos >= end) throw new RangeError('LongArray: truncated varint');
      b = buf[pos++]!;
      hi |= (b & 127) << (7 * i + 3);
      if (b < 128) break;
      if (i === 4) throw new RangeError('LongArray: varint longer than 10 bytes');
    }
  }
  out32[2 * k] = lo;
  out32[2 * k + 1] = hi;
  return pos;
}

/** Low/high 32-bit halves -> BigInt64Array, on either endianness. */
function bigInt64Of(halves: Int32Array, count: number): BigInt64Array {
  if (LITTLE_ENDIAN) return new BigInt64Array(halves.buffer, halves.byteOffset, count);
  const out = new BigInt64Array(count);
  for (let k = 0; k < count; k++) out[k] = BigInt.asIntN(64, (BigInt(halves[2 * k + 1]! >>> 0) << 32n) | BigInt(halves[2 * k]! >>> 0));
  return out;
}

/** milvus.proto.schema.LongArray (repeated int64 data = 1), packed or not, as { data: BigInt64Array }. */
function decodeLongArray(reader: protobuf.Reader | Uint8Array, length?: number): { data: BigInt64Array } {
  const r = readerOf(reader);
  const end = length === undefined ? r.len : payloadEnd(r, length);
  const parts: BigInt64Array[] = [];
  const buf = r.buf;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1 || ((tag & 7) !== WIRE_LEN && (tag & 7) !== WIRE_VARINT)) {
      r.skipType(tag & 7);
      continue;
    }
    if ((tag & 7) === WIRE_VARINT) {
      const halves = new Int32Array(2);
      r.pos = readVarint64(buf, r.pos, end, halves, 0);
      parts.push(bigInt64Of(halves, 1));
      continue;
    }
    const n = r.uint32();
    const stop = payloadEnd(r, n);
    let count = 0;
    for (let p = r.pos; p < stop; p++) if (buf[p]! < 128) count++;
    const halves = new Int32Array(uninitialized(8 * count), 0, 2 * count);
    let pos = r.pos;
    for (let k = 0; k < count; k++) pos = readVarint64(buf, pos, stop, halves, k);
    if (pos !== stop) throw new RangeError('LongArray: packed data ends inside a varint');
    parts.push(bigInt64Of(halves, count));
    r.pos = stop;
  }
  if (r.pos > end) throw new RangeError('LongArray: the message overruns its length');
  if (parts.length === 1) return { data: parts[0]! };
  const out = new BigInt64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { data: out };
}

function arrayExpected(type: string): TypeError {
  return new TypeError(`.milvus.proto.schema.${type}.data: array expected`);
}

function encodeFloatArray(m: { data?: ArrayLike<number> | null }, writer?: protobuf.Writer): protobuf.Writer {
  const w = writer ?? protobuf.Writer.create();
  const data = m.data;
  if (data != null && data.length > 0) {
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<unknown>, Number);
    if (LITTLE_ENDIAN) {
      w.uint32(DATA_PACKED_TAG).bytes(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength));
    } else {
      w.uint32(DATA_PACKED_TAG).fork();
      for (let i = 0; i < f32.length; i++) w.float(f32[i]!);
      w.ldelim();
    }
  }
  return w;
}

const LONG_HALVES = new Int32Array(2);
const LONG_VALUE = new BigInt64Array(LONG_HALVES.buffer);

function encodeLongArray(m: { data?: ArrayLike<unknown> | null }, writer?: protobuf.Writer): protobuf.Writer {
  const w = writer ?? protobuf.Writer.create();
  const data = m.data;
  if (data != null && data.length > 0) {
    w.uint32(DATA_PACKED_TAG).fork();
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v === 'bigint') {
        LONG_VALUE[0] = v; // wraps to int64 as the proto type does
        if (LITTLE_ENDIAN) w.int64({ low: LONG_HALVES[0]!, high: LONG_HALVES[1]!, unsigned: false } as protobuf.Long);
        else w.int64({ low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)), unsigned: false } as protobuf.Long);
      } else {
        w.int64(v as number | string | protobuf.Long);
      }
    }
    w.ldelim();
  }
  return w;
}

/**
 * Replace the codecs of FloatArray and LongArray on a Root (protobufjs generated code reaches
 * nested types through `types[i].decode/toObject/fromObject/encode` at call time, so every
 * message that holds one uses these):
 *   - decode: FloatArray.data -> Float32Array (the packed little-endian bytes copied once),
 *     LongArray.data -> BigInt64Array (varints split into 32-bit halves: no Long, no string);
 *     unpacked encodings and several chunks are accepted, as protobufjs does;
 *   - toObject: the typed array as is;
 *   - fromObject/encode: a typed array or a plain array (numbers, bigints, decimal strings);
 *     always written packed (what protobufjs writes for proto3 repeated scalars).
 */
export function installTypedArrayCodecs(root: protobuf.Root): void {
  const floatArray = root.lookupType('milvus.proto.schema.FloatArray');
  const longArray = root.lookupType('milvus.proto.schema.LongArray');
  for (const [t, decode, encode, typed] of [
    [floatArray, decodeFloatArray, encodeFloatArray, (d: unknown) => d instanceof Float32Array],
    [longArray, decodeLongArray, encodeLongArray, (d: unknown) => d instanceof BigInt64Array],
  ] as const) {
    t.setup(); // the generated codecs, then the overrides (setup would replace them otherwise)
    const name = t.name;
    Object.assign(t, {
      decode,
      encode,
      toObject: (m: { data?: unknown }) => ({ data: m.data ?? [] }),
      fromObject: (d: { data?: unknown } | null | undefined) => {
        const data = d?.data;
        if (data === undefined || data === null) return { data: [] };
        if (!Array.isArray(data) && !typed(data)) throw arrayExpected(name);
        return { data };
      },
    });
  }
}

export const MILVUS_SERVICE = 'milvus.proto.milvus.MilvusService';
export const TELEMETRY_SERVICE = 'milvus.proto.milvus.ClientTelemetryService';

interface ProtoJson {
  nested: Record<string, unknown>;
}

interface MethodJson {
  requestType: string;
  responseType: string;
  requestStream?: boolean;
  responseStream?: boolean;
}

export interface MilvusProto {
  /** The raw protobufjs JSON (from the SDK package). */
  json: ProtoJson;
  root: protobuf.Root;
  milvusService: grpc.ServiceDefinition;
  telemetryService: grpc.ServiceDefinition;
  /** MilvusService methods by name: response type as written in the proto (e.g. 'common.Status'). */
  methods: Map<string, MethodJson>;
  decodeCollectionSchema(bytes: Uint8Array): Record<string, unknown>;
  decodePlaceholderGroup(bytes: Uint8Array): Record<string, unknown>;
  /**
   * The request deserializer of a MilvusService method, shaped as proto-loader's with the SDK's
   * options (int64 as strings, enums as names, defaults, oneof discriminators), except
   * FloatArray.data (a Float32Array) and LongArray.data (a BigInt64Array).
   */
  requestDecoder(method: string): (bytes: Buffer) => Record<string, any>;
  /**
   * The response serializer of a MilvusService method: proto-loader's (fromObject, then encode),
   * except that FloatArray.data may be a Float32Array or a number[], and LongArray.data a
   * BigInt64Array or an array of bigints, numbers or decimal strings.
   */
  responseEncoder(method: string): (message: Record<string, unknown>) => Buffer;
}

let cached: MilvusProto | undefined;

function loadJson(): ProtoJson {
  // A CommonJS module whose `exports.default` is the JSON; some loaders hand back the JSON itself.
  const mod = require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js') as { default?: ProtoJson } & Partial<ProtoJson>;
  const json = mod.nested ? (mod as ProtoJson) : mod.default;
  if (!json || typeof json !== 'object' || !json.nested) throw new Error('@zilliz/milvus2-sdk-node: dist/milvus/proto-json/milvus.js does not hold protobufjs JSON');
  return json;
}

function lookup(obj: unknown, path: string): unknown {
  let cur = obj as Record<string, unknown> | undefined;
  for (const part of path.split('.')) cur = (cur?.[part] as Record<string, unknown> | undefined) ?? undefined;
  return cur;
}

export function milvusProto(): MilvusProto {
  if (cached) return cached;
  const json = loadJson();
  const definition = protoLoader.fromJSON(json as unknown as protobuf.INamespace, LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition);
  const service = (name: string): grpc.ServiceDefinition => {
    const ctor = lookup(loaded, name) as { service?: grpc.ServiceDefinition } | undefined;
    if (!ctor?.service) throw new Error(`@zilliz/milvus2-sdk-node proto JSON has no service ${name}`);
    return ctor.service;
  };
  const root = protobuf.Root.fromJSON(json as unknown as protobuf.INamespace);
  installTypedArrayCodecs(root);
  const schemaType = root.lookupType('milvus.proto.schema.CollectionSchema');
  const placeholderType = root.lookupType('milvus.proto.common.PlaceholderGroup');
  const svcJson = lookup(json, 'nested.milvus.nested.proto.nested.milvus.nested.MilvusService') as { methods: Record<string, MethodJson> };
  const svc = root.lookupService(MILVUS_SERVICE);
  const methodOf = (method: string): MethodJson => {
    const m = svcJson.methods[method];
    if (!m) throw new Error(`MilvusService has no method ${method}`);
    return m;
  };
  cached = {
    json,
    root,
    milvusService: service(MILVUS_SERVICE),
    telemetryService: service(TELEMETRY_SERVICE),
    methods: new Map(Object.entries(svcJson.methods)),
    decodeCollectionSchema: (bytes) => schemaType.toObject(schemaType.decode(bytes), TO_OBJECT),
    decodePlaceholderGroup: (bytes) => placeholderType.toObject(placeholderType.decode(bytes), TO_OBJECT),
    requestDecoder: (method) => {
      const t = svc.lookupType(methodOf(method).requestType);
      return (bytes) => t.toObject(t.decode(bytes), REQUEST_OBJECT);
    },
    responseEncoder: (method) => {
      const t = svc.lookupType(methodOf(method).responseType);
      return (message) => t.encode(t.fromObject(message)).finish() as Buffer;
    },
  };
  return cached;
}

/** vecwal's package version (package.json, three levels above dist/src/server/). */
export function packageVersion(): string {
  try {
    return (require('../../../package.json') as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
