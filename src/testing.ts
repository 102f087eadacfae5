/**
 * The "vecwal/testing" entry point: the tools vecwal's own crash tests use, for users who want
 * to crash-test code built on vecwal (or on the FileSystem seam) the same way.
 */
export { CrashableMemFileSystem, type CrashCloneOptions } from './fs/mem-fs.js';
export {
  FaultInjectingFileSystem,
  OP_KINDS,
  any,
  crashAtWrite,
  failAt,
  failWritesAt,
  pathMatch,
  randomly,
  shortWrites,
  type Fault,
  type FaultOptions,
  type Injector,
  type Op,
  type OpKind,
} from './fs/fault-fs.js';
export { Rng, seedFromEnv } from './util/rng.js';
export { NodeFileSystem } from './fs/node-fs.js';
export type { FileHandle, FileLock, FileStat, FileSystem, OpenFlags } from './fs/fs.js';
