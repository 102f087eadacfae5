/**
 * compileFilter: a parsed (or string) filter plus a schema becomes a `(row) => boolean`.
 *
 * Everything that can be decided without a row is decided here: names are resolved against
 * the schema (or the dynamic `$meta` object), types are checked the way Milvus checks them,
 * templates are bound and constants folded. What is left is a tree of small closures, so a
 * scan over a million rows costs a few closure calls per row, not an AST walk.
 *
 * Null semantics follow Milvus's segcore (docs/design/filter.md, "Nulls"): a comparison on a
 * null column is "invalid", NOT keeps invalid rows out (`not (x > 1)` is false when x is
 * null), AND/OR combine the way Milvus's data/valid bitmaps do.
 */
import type { FilterExpr } from './ast.js';
import { compilePred } from './compile-preds.js';
import { Ctx, type FilterSchema, type Row } from './compile-values.js';
import { filterError, sourceOf } from './diagnostics.js';
import { parseFilter } from './parser.js';
import { T } from './runtime.js';
import { resolveTemplates } from './templates.js';

export type { FilterField, FilterSchema, Row, ScalarType } from './compile-values.js';
export { extractPrimaryKeyLookup } from './pk-lookup.js';

export type RowPredicate = (row: Row) => boolean;

/**
 * Compiles `expr` against `schema`. Throws VecwalError INVALID_FILTER (with
 * `details.position`) for syntax errors, unknown fields, type errors, vector fields, and
 * templates missing from `exprParams`. An empty filter compiles to a predicate matching all.
 */
export function compileFilter(
  expr: FilterExpr | string,
  schema: FilterSchema,
  exprParams?: Record<string, unknown>,
): RowPredicate {
  if (schema === null || typeof schema !== 'object' || !Array.isArray(schema.fields)) {
    throw filterError('compileFilter needs a schema with a fields array', 0);
  }
  const ast = typeof expr === 'string' ? parseFilter(expr) : expr;
  const source = typeof expr === 'string' ? expr : sourceOf(expr);
  const bound = resolveTemplates(ast, exprParams, source);
  const pred = compilePred(new Ctx(schema, source), bound);
  if (pred.k !== undefined) {
    const result = pred.k === T;
    return () => result;
  }
  const run = pred.run;
  return (row) => run(row) === T;
}
