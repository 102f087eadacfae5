/**
 * The data model shared by the engine, the column codec, segment files and the server:
 * Milvus-like collection schemas and the columnar batch every write becomes.
 *
 * Vocabulary follows Milvus where users know it: collection, field, primary key, autoID,
 * dynamic field ($meta), metric type, segment, flush, compaction.
 */

export const DATA_TYPES = ['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar', 'JSON', 'Array', 'FloatVector'] as const;
export type DataType = (typeof DATA_TYPES)[number];
export type ScalarElementType = Exclude<DataType, 'JSON' | 'Array' | 'FloatVector'>;

export const METRIC_TYPES = ['L2', 'IP', 'COSINE'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

export interface FieldSchema {
  name: string;
  dataType: DataType;
  description?: string;
  /** Exactly one field is the primary key: Int64 or VarChar. */
  isPrimaryKey?: boolean;
  /** Primary key values are generated (Int64 only). */
  autoID?: boolean;
  /** FloatVector: number of dimensions (1..32768). */
  dim?: number;
  /** VarChar: maximum length in UTF-8 bytes (1..65535), as Milvus counts it. */
  maxLength?: number;
  /** Array: element type and maximum number of elements. */
  elementType?: ScalarElementType;
  maxCapacity?: number;
  /** The field may hold null (not the primary key, not the vector). */
  nullable?: boolean;
  /** Used when a row omits the field (or gives null for a non-nullable field with a default). */
  defaultValue?: unknown;
}

export interface CollectionSchema {
  /** Collection name: [A-Za-z_][A-Za-z0-9_]*, at most 255 characters. */
  name: string;
  description?: string;
  fields: FieldSchema[];
  /** Keep fields not in the schema, per row, in the dynamic field `$meta`. */
  enableDynamicField: boolean;
  /** Metric of the vector field's index (Milvus puts it on the index; one per collection here). */
  metricType: MetricType;
}

/** A primary key value: Int64 keys as bigint, VarChar keys as string. */
export type PrimaryKey = bigint | string;

/**
 * One column of a batch. Fixed-width types use typed arrays; strings, JSON and arrays use JS
 * arrays. `valid` (when present) marks non-null rows with 1 (nullable fields only).
 */
export type ColumnData =
  | { type: 'Bool'; values: Uint8Array; valid?: Uint8Array }
  | { type: 'Int8'; values: Int8Array; valid?: Uint8Array }
  | { type: 'Int16'; values: Int16Array; valid?: Uint8Array }
  | { type: 'Int32'; values: Int32Array; valid?: Uint8Array }
  | { type: 'Int64'; values: BigInt64Array; valid?: Uint8Array }
  | { type: 'Float'; values: Float32Array; valid?: Uint8Array }
  | { type: 'Double'; values: Float64Array; valid?: Uint8Array }
  | { type: 'VarChar'; values: string[]; valid?: Uint8Array }
  | { type: 'JSON'; values: unknown[]; valid?: Uint8Array }
  | { type: 'Array'; values: unknown[][]; valid?: Uint8Array }
  | { type: 'FloatVector'; values: Float32Array; dim: number };

/**
 * A columnar batch of rows of one collection: what insert/upsert become after validation, what
 * the WAL carries (encoded by src/db/columns.ts) and what a segment file stores.
 * Every column has `count` rows. `columns` holds every schema field (primary key and vector
 * included) by field name; `dynamic` holds the per-row `$meta` objects when the collection has a
 * dynamic field.
 */
export interface ColumnBatch {
  count: number;
  columns: Map<string, ColumnData>;
  dynamic?: (Record<string, unknown> | null)[];
}
