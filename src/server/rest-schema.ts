/**
 * REST v2 collection schemas: `collections/create` bodies (quick create and custom schema) to the
 * service's CreateCollectionRequest, and CollectionDescription to the `collections/describe`
 * shape (../shared/reference/milvus-api.md §2.5, §2.6). Every key is read case-insensitively.
 * Type rules (supported data types, one vector field, ...) are the engine's: it refuses with a
 * SCHEMA_INVALID error naming the field, which the client sees as code 1100.
 */
import type { FieldSchema, ScalarElementType } from '../db/types.js';
import { MilvusCode, MilvusError } from './milvus-error.js';
import type { CollectionDescription, ConsistencyLevel, CreateCollectionRequest, IndexSpec } from './service.js';
import { Params, isPlainObject, typeError, type JsonObject } from './rest-params.js';

type IndexRequest = NonNullable<CreateCollectionRequest['indexes']>[number];

/** Default max_length of a quick-create VarChar primary key when params.max_length is absent. */
export const QUICK_VARCHAR_MAX_LENGTH = 65535;

/** elementTypeParams values may be numbers or digit strings (Milvus sends "128"). */
function typeParam(p: Params, name: string): number | undefined {
  const v = p.raw(name);
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\s*\d{1,9}\s*$/.test(v)) return Number(v);
  throw new MilvusError(MilvusCode.ParameterInvalid, `${p.path}.${name} must be a positive integer (a number or a digit string), got ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`);
}

function toField(fp: Params, schemaAutoId: boolean | undefined): FieldSchema {
  const name = fp.str('fieldName', { required: true });
  const dataType = fp.str('dataType', { required: true });
  if (fp.bool('isPartitionKey') === true) {
    throw new MilvusError(MilvusCode.ParameterInvalid, `field ${name}: partition keys are not supported by vecwal (only the _default partition exists)`);
  }
  fp.bool('isClusteringKey'); // accepted and ignored: clustering is a storage optimization
  // Milvus reads type parameters from elementTypeParams (typeParams in older clients).
  const tp = new Params({ ...(fp.map('typeParams') ?? {}), ...(fp.map('elementTypeParams') ?? {}) }, `${fp.path}.elementTypeParams`);
  const f: Record<string, unknown> = { name, dataType };
  const description = fp.str('description');
  if (description !== undefined) f.description = description;
  if (fp.bool('isPrimary') === true) {
    f.isPrimaryKey = true;
    const autoID = fp.bool('autoID') ?? schemaAutoId;
    if (autoID !== undefined) f.autoID = autoID;
  } else {
    const autoID = fp.bool('autoID');
    if (autoID) f.autoID = true; // the engine refuses it with a message naming the field
  }
  const nullable = fp.bool('nullable');
  if (nullable) f.nullable = true;
  const def = fp.raw('defaultValue');
  if (def !== undefined) f.defaultValue = def;
  // As Milvus, type parameters that do not apply to the type are ignored.
  if (dataType === 'FloatVector') {
    const dim = typeParam(tp, 'dim');
    if (dim !== undefined) f.dim = dim;
  }
  if (dataType === 'Array') {
    const et = fp.str('elementDataType');
    if (et !== undefined) f.elementType = et as ScalarElementType;
    const cap = typeParam(tp, 'max_capacity');
    if (cap !== undefined) f.maxCapacity = cap;
  }
  if (dataType === 'VarChar' || (dataType === 'Array' && f.elementType === 'VarChar')) {
    const ml = typeParam(tp, 'max_length');
    if (ml !== undefined) f.maxLength = ml;
  }
  return f as unknown as FieldSchema;
}

/** One REST index param ({fieldName, indexName, metricType, indexType, params}). */
export function toIndexRequest(ip: Params): IndexRequest {
  const out: Record<string, unknown> = { fieldName: ip.str('fieldName', { required: true }) };
  const indexName = ip.str('indexName');
  if (indexName) out.indexName = indexName;
  const metricType = ip.str('metricType');
  if (metricType) out.metricType = metricType.toUpperCase();
  const indexType = ip.str('indexType');
  if (indexType) out.indexType = indexType;
  const params = ip.map('params');
  if (params) out.params = { ...params };
  return out as unknown as IndexRequest;
}

function consistencyOf(p: Params, params: Params): ConsistencyLevel | undefined {
  const v = p.str('consistencyLevel') ?? params.str('consistencyLevel');
  return v === undefined || v === '' ? undefined : (v as ConsistencyLevel);
}

/** A `collections/create` body as a service request. */
export function toCreateRequest(p: Params): CreateCollectionRequest {
  const collectionName = p.str('collectionName', { required: true });
  const params = p.child('params') ?? new Params({}, 'params');
  const schema = p.child('schema');
  const fields = schema?.children('fields');
  const req: CreateCollectionRequest = { collectionName };
  const description = p.str('description');
  if (description !== undefined) req.description = description;
  const consistencyLevel = consistencyOf(p, params);
  if (consistencyLevel) req.consistencyLevel = consistencyLevel;
  const properties: JsonObject = { ...(p.map('properties') ?? {}) };
  const ttl = params.raw('ttlSeconds');
  if (ttl !== undefined) properties['collection.ttl.seconds'] = ttl;
  const mmap = params.raw('mmap.enabled') ?? params.raw('mmapEnabled');
  if (mmap !== undefined) properties['mmap.enabled'] = mmap;
  if (Object.keys(properties).length > 0) req.properties = properties;
  const partitionsNum = params.looseInt('partitionsNum');
  if (partitionsNum !== undefined) req.numPartitions = partitionsNum;

  if (!fields || fields.length === 0) {
    // Quick create: an id and a vector field, an AUTOINDEX with metricType, loaded.
    const dimension = p.int('dimension');
    if (dimension === undefined || dimension === 0) {
      throw new MilvusError(MilvusCode.MissingRequiredParameters, "missing required parameters, error: dimension is required for quickly create collection(default id & vector field)");
    }
    req.dimension = dimension;
    const metricType = p.str('metricType');
    if (metricType) req.metricType = metricType.toUpperCase() as CreateCollectionRequest['metricType'];
    const idTypeRaw = p.str('idType') ?? '';
    let idType: 'Int64' | 'VarChar';
    if (idTypeRaw === '' || idTypeRaw.toLowerCase() === 'int64') idType = 'Int64';
    else if (idTypeRaw.toLowerCase() === 'varchar') idType = 'VarChar';
    else throw new MilvusError(MilvusCode.ParameterInvalid, `idType can only be [Int64, VarChar], got ${idTypeRaw}`);
    const quick: NonNullable<CreateCollectionRequest['quick']> = { idType };
    const pkName = p.str('primaryFieldName');
    if (pkName) quick.primaryFieldName = pkName;
    const vecName = p.str('vectorFieldName');
    if (vecName) quick.vectorFieldName = vecName;
    const autoId = p.bool('autoID');
    if (autoId !== undefined) quick.autoId = autoId;
    if (idType === 'VarChar') quick.maxLength = params.looseInt('max_length') ?? QUICK_VARCHAR_MAX_LENGTH;
    req.quick = quick;
    const dynamic = params.looseBool('enableDynamicField');
    if (dynamic !== undefined) req.enableDynamicField = dynamic;
    return req;
  }

  // Custom schema. The top-level metricType (the SDK always sends one) belongs to quick create.
  const schemaAutoId = schema!.bool('autoID');
  req.fields = fields.map((fp) => toField(fp, schemaAutoId));
  const dynamic = schema!.bool('enableDynamicField') ?? params.looseBool('enableDynamicField');
  if (dynamic !== undefined) req.enableDynamicField = dynamic;
  const indexParams = p.children('indexParams');
  if (indexParams && indexParams.length > 0) req.indexes = indexParams.map(toIndexRequest);
  return req;
}

function kv(map: Record<string, string | number>): Array<{ key: string; value: string }> {
  return Object.entries(map).map(([key, value]) => ({ key, value: String(value) }));
}

function fieldParams(f: FieldSchema): Array<{ key: string; value: string }> | undefined {
  const m: Record<string, number> = {};
  if (f.dim !== undefined) m.dim = f.dim;
  if (f.maxLength !== undefined) m.max_length = f.maxLength;
  if (f.maxCapacity !== undefined) m.max_capacity = f.maxCapacity;
  return Object.keys(m).length > 0 ? kv(m) : undefined;
}

/** The `collections/describe` data (§2.6); `$meta` is not listed, as Milvus. */
export function describeForRest(d: CollectionDescription): JsonObject {
  return {
    collectionName: d.collectionName,
    collectionID: d.collectionId,
    description: d.description,
    autoId: d.autoId,
    fields: d.schema.fields.map((f) => {
      const out: JsonObject = {
        name: f.name,
        id: d.fieldIds[f.name],
        type: f.dataType,
        primaryKey: f.isPrimaryKey === true,
        partitionKey: false,
        clusteringKey: false,
        autoId: f.autoID === true,
        description: f.description ?? '',
        nullable: f.nullable === true,
      };
      if (f.defaultValue !== undefined) out.defaultValue = f.defaultValue;
      const params = fieldParams(f);
      if (params) out.params = params;
      if (f.dataType === 'Array' && f.elementType) out.elementType = f.elementType;
      return out;
    }),
    structFields: [],
    functions: [],
    aliases: d.aliases,
    indexes: d.indexes.map((i: IndexSpec) => ({ indexName: i.indexName, fieldName: i.fieldName, metricType: i.metricType ?? '' })),
    load: d.loaded ? 'LoadStateLoaded' : 'LoadStateNotLoad',
    shardsNum: d.shardsNum,
    partitionsNum: d.partitionsNum,
    consistencyLevel: d.consistencyLevel,
    enableDynamicField: d.enableDynamicField,
    properties: kv(d.properties),
  };
}

/** A map of properties (values of any JSON type) for the service; refuses non-objects. */
export function propertiesOf(v: unknown, path: string): JsonObject {
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v)) throw typeError(path, v, 'map[string]interface {}');
  return v;
}
