/**
 * Milvus error codes (the `code` of a REST envelope or of a gRPC `common.Status`) and the mapping
 * from vecwal's stable error codes to them. Codes and message shapes follow Milvus's merr package
 * (see ../shared/reference/milvus-api.md §2.3), so client code that branches on them keeps
 * working.
 */
import { VecwalError, type ErrorCode } from '../errors.js';

export const MilvusCode = {
  Success: 0,
  ServiceNotReady: 1,
  ServiceUnavailable: 2,
  ServiceInternal: 5,
  ServiceUnimplemented: 10,
  CollectionNotFound: 100,
  CollectionNotLoaded: 101,
  CollectionLoaded: 104,
  PartitionNotFound: 200,
  IndexNotFound: 700,
  IndexNotSupported: 701,
  IndexDuplicate: 702,
  DatabaseNotFound: 800,
  DatabaseNumLimitExceeded: 801,
  DatabaseInvalidName: 802,
  ParameterInvalid: 1100,
  ParameterMissing: 1101,
  ParameterTooLarge: 1102,
  AliasNotFound: 1600,
  AliasAlreadyExist: 1602,
  FieldNotFound: 1700,
  NotAuthenticated: 1800,
  InvalidJsonBody: 1801,
  MissingRequiredParameters: 1802,
  InvalidInsertData: 1804,
  InvalidPrimaryKey: 1806,
  RateLimited: 1807,
  Unexpected: 65535,
} as const;
export type MilvusCodeValue = (typeof MilvusCode)[keyof typeof MilvusCode];

/** An error with a Milvus code, thrown by the service and rendered by each protocol. */
export class MilvusError extends Error {
  readonly code: number;
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MilvusError';
    this.code = code;
  }
}

/** Milvus's "<text>[key=value]..." message form. */
export function milvusMessage(text: string, context: Record<string, string | number | undefined> = {}): string {
  let out = text;
  for (const [k, v] of Object.entries(context)) if (v !== undefined) out += `[${k}=${v}]`;
  return out;
}

const BY_VECWAL_CODE: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: MilvusCode.ParameterInvalid,
  INVALID_FILTER: MilvusCode.ParameterInvalid,
  RECORD_TOO_LARGE: MilvusCode.ParameterTooLarge,
  SCHEMA_INVALID: MilvusCode.ParameterInvalid,
  DATA_INVALID: MilvusCode.ParameterInvalid,
  COLLECTION_NOT_FOUND: MilvusCode.CollectionNotFound,
  COLLECTION_EXISTS: MilvusCode.ParameterInvalid,
  CLOSED: MilvusCode.ServiceUnavailable,
  LOCKED: MilvusCode.ServiceInternal,
  IO_ERROR: MilvusCode.ServiceInternal,
  WAL_FAILED: MilvusCode.ServiceInternal,
  WAL_CORRUPTED: MilvusCode.ServiceInternal,
  SEGMENT_CORRUPTED: MilvusCode.ServiceInternal,
};

/**
 * Any error as a MilvusError: MilvusErrors pass through, VecwalErrors get their Milvus code
 * (the vecwal code stays in the message so logs and users can find it in docs/errors.md),
 * anything else is an unexpected internal error.
 */
export function toMilvusError(e: unknown): MilvusError {
  if (e instanceof MilvusError) return e;
  if (e instanceof VecwalError) {
    const code = BY_VECWAL_CODE[e.code] ?? MilvusCode.Unexpected;
    const text = e.code === 'INVALID_FILTER' ? `failed to create query plan: ${e.message}` : e.message;
    return new MilvusError(code, `${text} (${e.code})`, { cause: e });
  }
  return new MilvusError(MilvusCode.Unexpected, e instanceof Error ? e.message : String(e), { cause: e });
}
