/**
 * The Milvus boolean filter language: parse, compile against a schema, and pick out
 * primary-key point lookups. Grammar and semantics: docs/design/filter.md.
 */
export type * from './ast.js';
export { FUNCTION_NAMES } from './ast.js';
export { parseFilter } from './parser.js';
export { formatFilter } from './format.js';
export { compileBatchFilter, compileFilter, extractPrimaryKeyLookup } from './compile.js';
export type { BatchFilter, FilterBatch, FilterColumn, FilterField, FilterSchema, Row, RowAccessor, RowPredicate, ScalarType } from './compile.js';
export type { PrimaryKey } from './pk-lookup.js';
