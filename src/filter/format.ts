/**
 * Prints an AST back to filter syntax with every compound node parenthesised. The output
 * parses back to an equivalent tree, so it serves for logging, for tests of precedence
 * (`a or b and c` prints as `(a or (b and c))`) and for caching compiled filters by shape.
 */
import type { FieldExpr, FilterExpr, LogicalExpr } from './ast.js';

/**
 * The operands of a chain of one logical operator (`a or b or c`), collected without
 * recursion: long generated chains (`id == 1 or id == 2 or ...`) can be thousands deep.
 */
export function flattenLogical(node: LogicalExpr): FilterExpr[] {
  const out: FilterExpr[] = [];
  const stack: FilterExpr[] = [node];
  while (stack.length > 0) {
    const n = stack.pop() as FilterExpr;
    if (n.kind === 'logical' && n.op === node.op) {
      stack.push(n.right, n.left);
    } else {
      out.push(n);
    }
  }
  return out;
}

export function formatFilter(expr: FilterExpr): string {
  switch (expr.kind) {
    case 'matchAll':
      return '';
    case 'int':
      return expr.value.toString();
    case 'float':
      return formatFloat(expr.value);
    case 'string':
      return JSON.stringify(expr.value);
    case 'bool':
      return String(expr.value);
    case 'list':
      return `[${expr.items.map(formatFilter).join(', ')}]`;
    case 'template':
      return `{${expr.name}}`;
    case 'field':
      return formatField(expr);
    default:
      return formatCompound(expr);
  }
}

function formatCompound(expr: FilterExpr): string {
  switch (expr.kind) {
    case 'unary': {
      const inner = formatFilter(expr.operand);
      if (expr.op === 'not') return `(not ${inner})`;
      const literal = expr.operand.kind === 'int' || expr.operand.kind === 'float';
      return `(${expr.op}${literal ? `(${inner})` : inner})`;
    }
    case 'arith':
    case 'compare':
      return `(${formatFilter(expr.left)} ${expr.op} ${formatFilter(expr.right)})`;
    case 'range': {
      const [lo, hi] = [formatFilter(expr.lower), formatFilter(expr.upper)];
      const f = formatField(expr.field);
      if (expr.reversed) return `(${hi} >${expr.upperInclusive ? '=' : ''} ${f} >${expr.lowerInclusive ? '=' : ''} ${lo})`;
      return `(${lo} <${expr.lowerInclusive ? '=' : ''} ${f} <${expr.upperInclusive ? '=' : ''} ${hi})`;
    }
    case 'logical':
      return `(${flattenLogical(expr).map(formatFilter).join(` ${expr.op} `)})`;
    case 'in':
      return `(${formatFilter(expr.operand)} ${expr.negated ? 'not in' : 'in'} ${formatFilter(expr.list)})`;
    case 'like':
      return `(${formatFilter(expr.operand)} like ${formatFilter(expr.pattern)})`;
    case 'isNull':
      return `(${formatField(expr.field)} is ${expr.negated ? 'not ' : ''}null)`;
    case 'exists':
      return `(exists ${formatFilter(expr.operand)})`;
    case 'call':
      return `${expr.fn}(${expr.args.map(formatFilter).join(', ')})`;
    default:
      return formatFilter(expr);
  }
}

function formatField(f: FieldExpr): string {
  return f.name + f.path.map((p) => `[${typeof p === 'number' ? p : JSON.stringify(p)}]`).join('');
}

/** A float must print with a '.' or exponent, or it would parse back as an integer. */
function formatFloat(v: number): string {
  const s = String(v);
  return /[.eE]/.test(s) || !Number.isFinite(v) ? s : `${s}.0`;
}
