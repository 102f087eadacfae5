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
import { planBits, type FilterBatch, type RowAccessor } from './bits.js';
import { compilePred, planOf, type Pred } from './compile-preds.js';
import { Ctx, type FilterSchema, type Row } from './compile-values.js';
import { filterError, sourceOf } from './diagnostics.js';
import { parseFilter } from './parser.js';
import { planMode, type Plan } from './plan.js';
import { T } from './runtime.js';
import { resolveTemplates } from './templates.js';

export type { FilterField, FilterSchema, Row, ScalarType } from './compile-values.js';
export type { FilterBatch, FilterColumn, RowAccessor } from './bits.js';
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
  return rowPredicate(compileToPred(expr, schema, exprParams));
}

function compileToPred(expr: FilterExpr | string, schema: FilterSchema, exprParams: Record<string, unknown> | undefined): Pred {
  if (schema === null || typeof schema !== 'object' || !Array.isArray(schema.fields)) {
    throw filterError('compileFilter needs a schema with a fields array', 0);
  }
  const ast = typeof expr === 'string' ? parseFilter(expr) : expr;
  const source = typeof expr === 'string' ? expr : sourceOf(expr);
  const bound = resolveTemplates(ast, exprParams, source);
  return compilePred(new Ctx(schema, source), bound);
}

function rowPredicate(pred: Pred): RowPredicate {
  if (pred.k !== undefined) {
    const result = pred.k === T;
    return () => result;
  }
  const run = pred.run;
  return (row) => run(row) === T;
}

/** A filter compiled for both row-at-a-time and column-at-a-time evaluation. */
export interface BatchFilter {
  /** The row predicate, exactly what compileFilter returns. */
  readonly test: RowPredicate;
  /**
   * How `bits` evaluates it: 'columns' (every condition as a loop over a column array),
   * 'mixed' (some conditions through the row closure, on the rows still undecided), 'rows'
   * (all through the row closure) or 'constant'.
   */
  readonly mode: 'constant' | 'columns' | 'rows' | 'mixed';
  /**
   * The rows of `batch` in [start, end) that match (and are not set in `skip`, a packed
   * bitset over the batch: bit i & 7 of byte i >> 3), as words of 32 rows: bit j of word w is
   * row start + 32w + j. `start` must be a multiple of 32. Row for row the same answer as
   * `test` on the row view `rows` gives (it is called at most once, when a condition has no
   * column kernel or the batch lacks a column).
   */
  bits(batch: FilterBatch, rows: RowAccessor, start?: number, end?: number, skip?: Uint8Array): Uint32Array;
}

/**
 * compileFilter, plus the column form of the filter (src/filter/plan.ts, bits.ts):
 * comparisons, ranges, `in`, `like`, `is null` on plain scalar columns and and/or/not of them
 * run as tight loops over a batch's typed arrays. Same errors as compileFilter.
 */
export function compileBatchFilter(
  expr: FilterExpr | string,
  schema: FilterSchema,
  exprParams?: Record<string, unknown>,
): BatchFilter {
  const pred = compileToPred(expr, schema, exprParams);
  const plan: Plan = planOf(pred);
  return {
    test: rowPredicate(pred),
    mode: planMode(plan),
    bits: (batch, rows, start, end, skip) => planBits(plan, batch, rows, start, end, skip),
  };
}
