/**
 * vecwal public API. Everything a user imports comes from here (and test helpers from
 * 'vecwal/testing'); nothing else in src/ is a stable interface.
 */
export { Wal } from './wal/wal.js';
export type { WalOptions, WalBatch, AppendInput, AppendResult, WalStats, SyncPolicy, WalEvents } from './wal/wal.js';
export { OpType, MAX_RECORD_PAYLOAD_BYTES, MAX_FRAME_BODY_BYTES } from './wal/format.js';
export type { WalRecord } from './wal/codec.js';
export { RECOVERY_MODES } from './wal/recovery.js';
export type { RecoveryMode, RecoveryReport, RecoveryEvent } from './wal/recovery.js';
export { DEFAULT_RETENTION } from './wal/retention.js';
export type { RetentionPolicy } from './wal/retention.js';
export type { LogBackend } from './log/log-backend.js';
export type { FileSystem, FileHandle, FileLock, FileStat, OpenFlags } from './fs/fs.js';
export { NodeFileSystem } from './fs/node-fs.js';
export { VecwalError, ERROR_CODES, isVecwalError } from './errors.js';
export type { ErrorCode, ErrorDetails } from './errors.js';
export { Database, optionsFromConfig } from './db/database.js';
export type { DatabaseOptions, DatabaseEvent, OpenReport, InsertResult, WriteOptions } from './db/database.js';
export type { QueryOptions, SearchOptions, SearchResultRow, Row } from './db/reader.js';
export type { CollectionSchema, FieldSchema, DataType, MetricType, PrimaryKey } from './db/types.js';
export { loadConfig, DEFAULT_CONFIG } from './config.js';
export type { VecwalConfig } from './config.js';
