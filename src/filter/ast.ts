/**
 * The typed syntax tree of a Milvus boolean filter expression (docs/design/filter.md).
 *
 * Every node carries `span`: 0-based UTF-16 offsets into the source string, `end` exclusive,
 * so every later error (type errors found by the compiler, unknown fields, bad template
 * values) can point at the exact text that caused it. The tree is purely syntactic: whether
 * `age` is a schema field or a dynamic key is decided by the compiler, not the parser.
 */

export interface Span {
  start: number;
  end: number;
}

/** The empty filter (only whitespace): matches every row, as Milvus does. */
export interface MatchAllExpr {
  kind: 'matchAll';
  span: Span;
}

/** Integer literal. Kept as a bigint so int64 ids beyond 2^53 stay exact. */
export interface IntLiteral {
  kind: 'int';
  value: bigint;
  span: Span;
}

export interface FloatLiteral {
  kind: 'float';
  value: number;
  span: Span;
}

export interface StringLiteral {
  kind: 'string';
  value: string;
  span: Span;
}

export interface BoolLiteral {
  kind: 'bool';
  value: boolean;
  span: Span;
}

/** `[a, b, ...]`; elements are expressions that must fold to constants at compile time. */
export interface ListExpr {
  kind: 'list';
  items: FilterExpr[];
  span: Span;
}

/** `{name}`: bound from `exprParams` before compiling (Milvus 2.5 filter templating). */
export interface TemplateExpr {
  kind: 'template';
  name: string;
  span: Span;
}

/**
 * A name with an optional JSON path / array index: `age`, `$meta`, `meta["a"]["b"]`, `arr[0]`.
 * String path segments come from quoted keys, numbers from integer indexes.
 */
export interface FieldExpr {
  kind: 'field';
  name: string;
  path: (string | number)[];
  span: Span;
}

export type UnaryOp = '-' | '+' | 'not';

export interface UnaryExpr {
  kind: 'unary';
  op: UnaryOp;
  operand: FilterExpr;
  span: Span;
}

export type ArithOp = '+' | '-' | '*' | '/' | '%' | '**';

export interface ArithExpr {
  kind: 'arith';
  op: ArithOp;
  left: FilterExpr;
  right: FilterExpr;
  /** Offset of the operator token, for error messages. */
  opPos: number;
  span: Span;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export interface CompareExpr {
  kind: 'compare';
  op: CompareOp;
  left: FilterExpr;
  right: FilterExpr;
  opPos: number;
  span: Span;
}

/**
 * A chained range `lower < field <= upper` (or the reverse `upper > field >= lower`), always
 * normalised to lower/upper bounds. Milvus requires the middle to be a bare field or JSON path.
 */
export interface RangeExpr {
  kind: 'range';
  field: FieldExpr;
  lower: FilterExpr;
  lowerInclusive: boolean;
  upper: FilterExpr;
  upperInclusive: boolean;
  /** True when written with `>`/`>=` (kept only so the formatter can round-trip it). */
  reversed: boolean;
  span: Span;
}

export interface LogicalExpr {
  kind: 'logical';
  op: 'and' | 'or';
  left: FilterExpr;
  right: FilterExpr;
  opPos: number;
  span: Span;
}

/** `x in [..]` / `x not in [..]`; `list` is a ListExpr or a TemplateExpr. */
export interface InExpr {
  kind: 'in';
  negated: boolean;
  operand: FilterExpr;
  list: FilterExpr;
  opPos: number;
  span: Span;
}

/** `x like "pat%"`; the pattern is a string literal or a template. */
export interface LikeExpr {
  kind: 'like';
  operand: FilterExpr;
  pattern: FilterExpr;
  opPos: number;
  span: Span;
}

/** `x is null` / `x is not null`; Milvus only allows a field name or JSON path before it. */
export interface IsNullExpr {
  kind: 'isNull';
  negated: boolean;
  field: FieldExpr;
  span: Span;
}

export interface ExistsExpr {
  kind: 'exists';
  operand: FilterExpr;
  span: Span;
}

export const FUNCTION_NAMES = [
  'array_contains',
  'array_contains_all',
  'array_contains_any',
  'array_length',
  'json_contains',
  'json_contains_all',
  'json_contains_any',
] as const;

export type FunctionName = (typeof FUNCTION_NAMES)[number];

export interface CallExpr {
  kind: 'call';
  /** Always lower case, whatever the source spelling (`ARRAY_CONTAINS` is allowed). */
  fn: FunctionName;
  args: FilterExpr[];
  span: Span;
}

export type LiteralExpr = IntLiteral | FloatLiteral | StringLiteral | BoolLiteral;

export type FilterExpr =
  | MatchAllExpr
  | LiteralExpr
  | ListExpr
  | TemplateExpr
  | FieldExpr
  | UnaryExpr
  | ArithExpr
  | CompareExpr
  | RangeExpr
  | LogicalExpr
  | InExpr
  | LikeExpr
  | IsNullExpr
  | ExistsExpr
  | CallExpr;

export type FilterExprKind = FilterExpr['kind'];
