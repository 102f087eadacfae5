/**
 * Primary-key point lookups: when a filter is nothing but `pk == v`, `pk in [..]`, or an
 * `or` of those, the engine can fetch those keys directly instead of scanning. This is also
 * what the SDK's `get(ids)` and REST `get`/`delete` by id turn into (`pk in [..]`).
 */
import type { FilterExpr } from './ast.js';
import { flattenLogical } from './format.js';
import { canon } from './runtime.js';
import { resolveTemplates, someNode } from './templates.js';

export type PrimaryKey = number | bigint | string;

const isPk = (n: FilterExpr, pk: string): boolean => n.kind === 'field' && n.name === pk && n.path.length === 0;

/** Integer keys use the canonical form (number when safe, else bigint), so 2^53+1 stays exact. */
function literalKey(n: FilterExpr): PrimaryKey | undefined {
  if (n.kind === 'int') return canon(n.value) as number | bigint;
  if (n.kind === 'string') return n.value;
  return undefined;
}

function keysOf(node: FilterExpr, pk: string): PrimaryKey[] | null {
  if (node.kind === 'compare' && node.op === '==') {
    const other = isPk(node.left, pk) ? node.right : isPk(node.right, pk) ? node.left : undefined;
    const key = other && literalKey(other);
    return key === undefined ? null : [key];
  }
  if (node.kind === 'in' && !node.negated && isPk(node.operand, pk) && node.list.kind === 'list') {
    const keys = node.list.items.map(literalKey);
    return keys.every((k) => k !== undefined) ? (keys as PrimaryKey[]) : null;
  }
  return null;
}

/**
 * The exact set of primary keys the filter can match, deduplicated in first-seen order, or
 * null when the filter is anything else (then the engine must scan). Purely syntactic: call
 * it on a filter that compileFilter accepted, so the key types match the pk field.
 */
export function extractPrimaryKeyLookup(
  expr: FilterExpr,
  pkField: string,
  exprParams?: Record<string, unknown>,
): PrimaryKey[] | null {
  let root = expr;
  if (someNode(root, (n) => n.kind === 'template')) {
    if (exprParams === undefined) return null;
    try {
      root = resolveTemplates(root, exprParams);
    } catch {
      return null;
    }
  }
  const parts = root.kind === 'logical' && root.op === 'or' ? flattenLogical(root) : [root];
  const out = new Set<PrimaryKey>();
  for (const part of parts) {
    const keys = keysOf(part, pkField);
    if (keys === null) return null;
    for (const k of keys) out.add(k);
  }
  return [...out];
}
