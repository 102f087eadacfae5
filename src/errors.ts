/**
 * Every error vecwal throws on purpose is a `VecwalError` with a stable `code` (documented in
 * docs/errors.md; codes never change meaning, messages may), the underlying `cause` when there
 * is one, and for corruption the file and byte offset. Programmer misuse (calling a closed
 * object with wrong types from TypeScript) may still throw plain TypeErrors.
 */

export const ERROR_CODES = [
  /** A user-supplied argument is invalid; nothing was written. */
  'INVALID_ARGUMENT',
  /** A record or batch exceeds the documented maximum size. */
  'RECORD_TOO_LARGE',
  /** The object was closed. */
  'CLOSED',
  /** Another opener holds the directory lock. */
  'LOCKED',
  /** An I/O operation failed; `cause` holds the system error. */
  'IO_ERROR',
  /** A previous write or sync failed; the log refuses writes until it is reopened. */
  'WAL_FAILED',
  /** The log holds damaged data that recovery may not repair silently. Has file and offset. */
  'WAL_CORRUPTED',
  /** A file does not start with the expected magic number or has an unknown version. */
  'BAD_FORMAT',
  /**
   * A data segment or delete file fails a checksum or is truncated (segments are written once
   * and fsynced before use, so this is damage, never a torn write). Has file and offset.
   */
  'SEGMENT_CORRUPTED',
  /** The requested LSN is no longer in the log (cleaned up) or not yet written. */
  'LSN_OUT_OF_RANGE',
  /** A configuration value is invalid. */
  'INVALID_CONFIG',
  /**
   * A filter expression does not parse or does not type-check against the schema.
   * `details.position` is the 0-based offset in `details.expr` (see docs/design/filter.md).
   */
  'INVALID_FILTER',
  /** No collection of that name exists (Milvus code 100). */
  'COLLECTION_NOT_FOUND',
  /** A collection of that name already exists. */
  'COLLECTION_EXISTS',
  /** A collection schema is invalid (see docs/data-model.md); nothing was created. */
  'SCHEMA_INVALID',
  /**
   * Rows or columns given to insert/upsert do not fit the schema (see docs/data-model.md);
   * nothing was written. `details.row` (0-based) and `details.field` when known.
   */
  'DATA_INVALID',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  cause?: unknown;
  /** The file involved, for I/O errors and corruption. */
  file?: string;
  /** Byte offset in `file` where the problem was found. */
  offset?: number;
  /** LSN range affected, inclusive, when known. */
  lsnRange?: [number, number];
  [key: string]: unknown;
}

export class VecwalError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'VecwalError';
    this.code = code;
    this.details = details;
  }
  get file(): string | undefined {
    return this.details.file;
  }
  get offset(): number | undefined {
    return this.details.offset;
  }
}

export function isVecwalError(e: unknown, code?: ErrorCode): e is VecwalError {
  return e instanceof VecwalError && (code === undefined || e.code === code);
}

export function invalidArgument(message: string, details?: ErrorDetails): VecwalError {
  return new VecwalError('INVALID_ARGUMENT', message, details);
}

export function ioError(op: string, file: string, cause: unknown): VecwalError {
  const sys = (cause as { code?: string } | null)?.code;
  return new VecwalError('IO_ERROR', `${op} ${file} failed${sys ? `: ${sys}` : ''}`, { cause, file, op });
}

export function corruption(file: string, offset: number, reason: string, extra: ErrorDetails = {}): VecwalError {
  return new VecwalError('WAL_CORRUPTED', `${file} at offset ${offset}: ${reason}`, { ...extra, file, offset, reason });
}

/** Internal invariant check; failing means a bug in vecwal, never bad input. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) {
    const e = new Error(`vecwal invariant violated: ${message}`);
    (e as { code?: string }).code = 'ERR_ASSERTION';
    throw e;
  }
}

/** A system error with a Node-style code, as the FileSystem implementations throw. */
export function sysError(code: string, message: string): Error & { code: string } {
  const e = new Error(`${code}: ${message}`) as Error & { code: string };
  e.code = code;
  return e;
}
