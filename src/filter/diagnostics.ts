/**
 * Filter errors: one shape for the lexer, the parser and the compiler, so callers (the REST
 * layer, the CLI) can show `details.position` and the caret excerpt without knowing which
 * stage failed.
 */
import { VecwalError } from '../errors.js';
import type { FilterExpr } from './ast.js';

/** Longest slice of a long line shown on each side of the caret. */
const EXCERPT_RADIUS = 40;

/**
 * The source text of trees produced by parseFilter, so compile-time errors on a tree can
 * still quote the expression. A WeakMap keeps the AST types plain data.
 */
const sources = new WeakMap<FilterExpr, string>();

export function rememberSource(root: FilterExpr, source: string): void {
  sources.set(root, source);
}

export function sourceOf(root: FilterExpr): string | undefined {
  return sources.get(root);
}

/**
 * Two lines: the line of `source` holding `position` (windowed if long) and a caret under
 * it. Multi-line filters only show the offending line, with tabs kept so the caret lines up.
 */
export function caretExcerpt(source: string, position: number): string {
  const pos = Math.max(0, Math.min(position, source.length));
  const lineStart = source.lastIndexOf('\n', pos - 1) + 1;
  let lineEnd = source.indexOf('\n', pos);
  if (lineEnd < 0) lineEnd = source.length;
  let from = lineStart;
  let to = lineEnd;
  let prefix = '';
  let suffix = '';
  if (pos - from > EXCERPT_RADIUS) {
    from = pos - EXCERPT_RADIUS;
    prefix = '...';
  }
  if (to - pos > EXCERPT_RADIUS) {
    to = pos + EXCERPT_RADIUS;
    suffix = '...';
  }
  const line = prefix + source.slice(from, to).replace(/\r/g, ' ') + suffix;
  const pad = (prefix + source.slice(from, pos)).replace(/[^\t]/g, ' ');
  return `  ${line}\n  ${pad}^`;
}

/**
 * The error every filter stage throws: code INVALID_FILTER, `details.position` (0-based
 * offset), `details.expr` (the source, when known) and a message ending in a caret excerpt.
 */
export function filterError(message: string, position: number, source?: string): VecwalError {
  const where = `${message} at position ${position}`;
  if (source === undefined) {
    return new VecwalError('INVALID_FILTER', where, { position });
  }
  return new VecwalError('INVALID_FILTER', `${where}\n${caretExcerpt(source, position)}`, {
    position,
    expr: source,
  });
}

/** How a token or node is quoted in messages: short, single-line. */
export function quoteText(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return `'${oneLine.length > 30 ? `${oneLine.slice(0, 27)}...` : oneLine}'`;
}
