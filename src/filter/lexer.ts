/**
 * Tokenizer for Milvus filter expressions. Mirrors the lexer rules of Milvus's Plan.g4:
 * C-style integer literals (a leading 0 means octal, as Go's ParseInt(s, 0, 64) reads them),
 * decimal floats, single/double quoted strings with C/Go escapes, raw strings r"..", ASCII
 * identifiers plus `$meta`, and maximal-munch operators. Keywords are not decided here: the
 * parser classifies identifiers with `keywordOf`, because Milvus keywords are only the exact
 * lower- or upper-case spellings (`and`/`AND`, never `And`).
 */
import { filterError, quoteText } from './diagnostics.js';

export type TokenType = 'int' | 'float' | 'string' | 'ident' | 'punct' | 'eof';

export interface Token {
  type: TokenType;
  /** The exact source slice (for punct: the operator itself). */
  text: string;
  start: number;
  end: number;
  /** int: bigint; float: number; string: the unescaped value. */
  value?: bigint | number | string;
}

/** 2^63: the magnitude of the smallest int64; only valid right after a unary minus. */
export const INT64_LIMIT = 1n << 63n;

const PUNCT2 = ['**', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '=~', '!~'];
const PUNCT1 = '()[]{},+-*/%<>!&|^~=';

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'like', 'exists', 'is', 'null', 'true', 'false']);

/**
 * The keyword an identifier token spells, lower-cased, or undefined. Only all-lower and
 * all-upper spellings count (Milvus also accepts `True`/`False`).
 */
export function keywordOf(tok: Token): string | undefined {
  if (tok.type !== 'ident') return undefined;
  const lower = tok.text.toLowerCase();
  if (!KEYWORDS.has(lower)) return undefined;
  if (tok.text === lower || tok.text === tok.text.toUpperCase()) return lower;
  if (tok.text === 'True' || tok.text === 'False') return lower;
  return undefined;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isIdentStart = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_');
const isIdentPart = (c: string | undefined): boolean => isIdentStart(c) || isDigit(c);
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/** Splits `source` into tokens, ending with one 'eof' token. Throws INVALID_FILTER. */
export function tokenize(source: string): Token[] {
  const lexer = new Lexer(source);
  const out: Token[] = [];
  for (;;) {
    const tok = lexer.next();
    out.push(tok);
    if (tok.type === 'eof') return out;
  }
}

class Lexer {
  private pos = 0;
  constructor(private readonly src: string) {}

  next(): Token {
    this.skipSpace();
    const start = this.pos;
    const c = this.src[start];
    if (c === undefined) return { type: 'eof', text: '', start, end: start };
    if (isDigit(c) || (c === '.' && isDigit(this.src[start + 1]))) return this.number();
    if (c === '"' || c === "'") return this.string(start, false);
    if ((c === 'r' || c === 'R') && (this.src[start + 1] === '"' || this.src[start + 1] === "'")) {
      this.pos++;
      return this.string(start, true);
    }
    if (isIdentStart(c)) return this.ident();
    if (c === '$') return this.dollar();
    return this.punct();
  }

  /** Milvus skips spaces, tabs and newlines only; anything else is a bad character. */
  private skipSpace(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return;
      this.pos++;
    }
  }

  private fail(message: string, at: number): never {
    throw filterError(message, at, this.src);
  }

  private ident(): Token {
    const start = this.pos;
    while (isIdentPart(this.src[this.pos])) this.pos++;
    return { type: 'ident', text: this.src.slice(start, this.pos), start, end: this.pos };
  }

  /** `$meta` is the dynamic-field column; other `$` forms (struct elements) are unsupported. */
  private dollar(): Token {
    const start = this.pos;
    if (this.src.startsWith('$meta', start) && !isIdentPart(this.src[start + 5])) {
      this.pos += 5;
      return { type: 'ident', text: '$meta', start, end: this.pos };
    }
    return this.fail("'$' is only supported as '$meta'", start);
  }

  private punct(): Token {
    const start = this.pos;
    for (const p of PUNCT2) {
      if (this.src.startsWith(p, start)) {
        this.pos += 2;
        return { type: 'punct', text: p, start, end: this.pos };
      }
    }
    const c = this.src[start] as string;
    if (PUNCT1.includes(c)) {
      this.pos++;
      return { type: 'punct', text: c, start, end: this.pos };
    }
    // Name invisible characters (NBSP, zero-width space) by code point, or the caret is a mystery.
    const code = this.src.codePointAt(start) ?? 0;
    const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    const shown = /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(code)) ? quoteText(String.fromCodePoint(code)) : hex;
    return this.fail(`unexpected character ${shown}`, start);
  }

  private number(): Token {
    const start = this.pos;
    const s = this.src;
    if (s[start] === '0' && (s[start + 1] === 'x' || s[start + 1] === 'X')) return this.radixInt(start, 16);
    if (s[start] === '0' && (s[start + 1] === 'b' || s[start + 1] === 'B')) return this.radixInt(start, 2);
    while (isDigit(s[this.pos])) this.pos++;
    let isFloat = false;
    if (s[this.pos] === '.') {
      isFloat = true;
      this.pos++;
      while (isDigit(s[this.pos])) this.pos++;
    }
    const e = s[this.pos];
    const sign = s[this.pos + 1] === '+' || s[this.pos + 1] === '-' ? 1 : 0;
    if ((e === 'e' || e === 'E') && isDigit(s[this.pos + 1 + sign])) {
      isFloat = true;
      this.pos += 1 + sign;
      while (isDigit(s[this.pos])) this.pos++;
    }
    // Like ANTLR's lexer, `1and` is the number 1 then `and`; junk such as `12abc` fails in
    // the parser at the identifier.
    const text = s.slice(start, this.pos);
    return isFloat ? this.float(text, start) : this.decimalInt(text, start);
  }

  private float(text: string, start: number): Token {
    const value = Number(text);
    if (!Number.isFinite(value)) this.fail(`float literal ${quoteText(text)} is out of range`, start);
    return { type: 'float', text, start, end: this.pos, value };
  }

  /** Decimal, or octal when it has a leading zero (Milvus/Go: `010` is 8). */
  private decimalInt(text: string, start: number): Token {
    let value: bigint;
    if (text.length > 1 && text[0] === '0') {
      if (!/^[0-7]+$/.test(text)) {
        this.fail(`invalid octal literal ${quoteText(text)} (a leading 0 means octal)`, start);
      }
      value = BigInt(`0o${text.slice(1)}`);
    } else {
      value = BigInt(text);
    }
    return this.intToken(text, start, value);
  }

  private radixInt(start: number, radix: 2 | 16): Token {
    this.pos += 2;
    const digitsStart = this.pos;
    const ok = radix === 16 ? isHex : (c: string | undefined) => c === '0' || c === '1';
    while (ok(this.src[this.pos])) this.pos++;
    if (this.pos === digitsStart) this.fail('malformed number: no digits after the prefix', start);
    const text = this.src.slice(start, this.pos);
    return this.intToken(text, start, BigInt(text.toLowerCase()));
  }

  private intToken(text: string, start: number, value: bigint): Token {
    if (value > INT64_LIMIT) this.fail(`integer literal ${quoteText(text)} is out of the int64 range`, start);
    return { type: 'int', text, start, end: this.pos, value };
  }

  /** A quoted string starting at `start` (the `r` of a raw string, or the quote itself). */
  private string(start: number, raw: boolean): Token {
    const quote = this.src[this.pos] as string;
    this.pos++;
    let value = '';
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined || c === '\n' || c === '\r') return this.fail('unterminated string', start);
      if (c === quote) break;
      if (c !== '\\') {
        value += c;
        this.pos++;
      } else if (raw) {
        // Raw strings keep backslashes; a backslash only stops the quote from closing.
        const n = this.src[this.pos + 1];
        if (n === undefined || n === '\n' || n === '\r') return this.fail('unterminated string', start);
        value += c + n;
        this.pos += 2;
      } else {
        value += this.escape();
      }
    }
    this.pos++;
    return { type: 'string', text: this.src.slice(start, this.pos), start, end: this.pos, value };
  }

  /**
   * One escape sequence at `pos` (a backslash), following Go's strconv.Unquote, which Milvus
   * applies to literals: \a \b \f \n \r \t \v \\ \' \" \?, \ooo (3 octal digits), \xhh,
   * \uhhhh, \Uhhhhhhhh, and backslash-newline as a line continuation. Unlike Go, any other
   * escaped character keeps its backslash (so `"\%"` reaches `like` as an escaped `%`).
   */
  private escape(): string {
    const at = this.pos;
    const n = this.src[at + 1];
    const simple: Record<string, string> = {
      a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
      '\\': '\\', "'": "'", '"': '"', '?': '?',
    };
    if (n === undefined) return this.fail('unterminated string', at);
    if (n in simple) {
      this.pos += 2;
      return simple[n] as string;
    }
    if (n === '\n' || n === '\r') {
      this.pos += n === '\r' && this.src[at + 2] === '\n' ? 3 : 2;
      return '';
    }
    if (n >= '0' && n <= '7') return this.codeEscape(at, 1, 3, 8);
    if (n === 'x') return this.codeEscape(at, 2, 2, 16);
    if (n === 'u') return this.codeEscape(at, 2, 4, 16);
    if (n === 'U') return this.codeEscape(at, 2, 8, 16);
    this.pos += 2;
    return `\\${n}`;
  }

  /** `\` + prefix of `skip` chars, then exactly `digits` digits in `radix`: one code point. */
  private codeEscape(at: number, skip: number, digits: number, radix: number): string {
    const text = this.src.slice(at + skip, at + skip + digits);
    const valid = radix === 8 ? /^[0-7]+$/ : /^[0-9a-fA-F]+$/;
    if (text.length !== digits || !valid.test(text)) {
      this.fail('invalid escape sequence in string', at);
    }
    const cp = parseInt(text, radix);
    if (cp > 0x10ffff || (radix === 8 && cp > 0xff)) this.fail('invalid escape sequence in string', at);
    this.pos = at + skip + digits;
    return String.fromCodePoint(cp);
  }
}
