/**
 * Binding of `{name}` placeholders (Milvus 2.5 filter templating: REST `exprParams`, gRPC
 * `expr_template_values`). Templates are replaced by literal nodes that keep the template's
 * span, so every later check reports the position of the `{name}` the value came from.
 */
import type { FilterExpr, Span } from './ast.js';
import { filterError } from './diagnostics.js';
import { flattenLogical } from './format.js';
import { INT64_LIMIT } from './lexer.js';

/** Direct children of a node, in source order. */
export function childrenOf(node: FilterExpr): FilterExpr[] {
  switch (node.kind) {
    case 'list': return node.items;
    case 'unary': return [node.operand];
    case 'arith': case 'compare': case 'logical': return [node.left, node.right];
    case 'range': return [node.lower, node.field, node.upper];
    case 'in': return [node.operand, node.list];
    case 'like': return [node.operand, node.pattern];
    case 'isNull': return [node.field];
    case 'exists': return [node.operand];
    case 'call': return node.args;
    default: return [];
  }
}

/** True if any node satisfies `pred`; iterative, so deep generated chains are fine. */
export function someNode(root: FilterExpr, pred: (n: FilterExpr) => boolean): boolean {
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop() as FilterExpr;
    if (pred(n)) return true;
    stack.push(...childrenOf(n));
  }
  return false;
}

/**
 * Returns `root` with every template replaced by its value from `params`. A missing name or
 * an unsupported value (null, object, NaN) is an INVALID_FILTER error at the template.
 */
export function resolveTemplates(root: FilterExpr, params: Record<string, unknown> | undefined, source?: string): FilterExpr {
  if (!someNode(root, (n) => n.kind === 'template')) return root;
  const bind = (node: FilterExpr): FilterExpr => {
    if (node.kind === 'template') {
      if (params === undefined || !Object.hasOwn(params, node.name)) {
        throw filterError(`no value given for template {${node.name}}`, node.span.start, source);
      }
      return valueToLiteral(params[node.name], node.span, node.name, source);
    }
    return mapChildren(node, bind);
  };
  return bind(root);
}

/** A copy of `node` with `fn` applied to each direct child (logical chains without recursion). */
function mapChildren(node: FilterExpr, fn: (n: FilterExpr) => FilterExpr): FilterExpr {
  switch (node.kind) {
    case 'list': return { ...node, items: node.items.map(fn) };
    case 'unary': return { ...node, operand: fn(node.operand) };
    case 'arith': case 'compare': return { ...node, left: fn(node.left), right: fn(node.right) };
    case 'logical': {
      const parts = flattenLogical(node).map(fn);
      let acc = parts[0] as FilterExpr;
      for (const p of parts.slice(1)) {
        acc = { kind: 'logical', op: node.op, left: acc, right: p, opPos: p.span.start, span: { start: acc.span.start, end: p.span.end } };
      }
      return acc;
    }
    case 'range': return { ...node, lower: fn(node.lower), upper: fn(node.upper) };
    case 'in': return { ...node, operand: fn(node.operand), list: fn(node.list) };
    case 'like': return { ...node, operand: fn(node.operand), pattern: fn(node.pattern) };
    case 'exists': return { ...node, operand: fn(node.operand) };
    case 'call': return { ...node, args: node.args.map(fn) };
    default: return node;
  }
}

/**
 * A JS value as a literal node. Integral numbers become int literals (JSON cannot tell 5
 * from 5.0), bigints keep full int64 precision, arrays become lists.
 */
export function valueToLiteral(value: unknown, span: Span, name: string, source?: string): FilterExpr {
  const bad = (why: string): never => {
    throw filterError(`template {${name}} ${why}`, span.start, source);
  };
  switch (typeof value) {
    case 'bigint':
      if (value > INT64_LIMIT - 1n || value < -INT64_LIMIT) bad('is out of the int64 range');
      return { kind: 'int', value, span };
    case 'number':
      if (!Number.isFinite(value)) bad('must be a finite number');
      if (Number.isInteger(value) && Math.abs(value) < 2 ** 63) return { kind: 'int', value: BigInt(value), span };
      return { kind: 'float', value, span };
    case 'string':
      return { kind: 'string', value, span };
    case 'boolean':
      return { kind: 'bool', value, span };
    default:
      if (Array.isArray(value)) {
        return { kind: 'list', items: value.map((v) => valueToLiteral(v, span, name, source)), span };
      }
      return bad(`has an unsupported value (${value === null ? 'null' : typeof value})`);
  }
}
