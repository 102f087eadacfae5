/**
 * The Milvus protocol definitions for the gRPC server, loaded at runtime from the official Node
 * SDK package (@zilliz/milvus2-sdk-node ships its protos as protobufjs JSON in
 * dist/milvus/proto-json/milvus.js; no .proto file is copied into vecwal). Loaded once, lazily:
 *   - the grpc-js service definitions of milvus.proto.milvus.MilvusService and
 *     ClientTelemetryService, via @grpc/proto-loader fromJSON with the SDK's LOADER_OPTIONS, so
 *     requests decode exactly as the SDK encodes them (int64 as strings, enums as names, oneof
 *     discriminators, defaults filled in);
 *   - a protobufjs Root of the same JSON for the payloads Milvus nests as bytes: the
 *     CollectionSchema of CreateCollection and the PlaceholderGroup of Search.
 */
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** The SDK's loader options (dist/milvus/grpc/GrpcClient.js LOADER_OPTIONS). */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** protobufjs toObject options matching LOADER_OPTIONS, for the nested payloads. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true, arrays: true };

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
  const schemaType = root.lookupType('milvus.proto.schema.CollectionSchema');
  const placeholderType = root.lookupType('milvus.proto.common.PlaceholderGroup');
  const svcJson = lookup(json, 'nested.milvus.nested.proto.nested.milvus.nested.MilvusService') as { methods: Record<string, MethodJson> };
  cached = {
    json,
    root,
    milvusService: service(MILVUS_SERVICE),
    telemetryService: service(TELEMETRY_SERVICE),
    methods: new Map(Object.entries(svcJson.methods)),
    decodeCollectionSchema: (bytes) => schemaType.toObject(schemaType.decode(bytes), TO_OBJECT),
    decodePlaceholderGroup: (bytes) => placeholderType.toObject(placeholderType.decode(bytes), TO_OBJECT),
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
