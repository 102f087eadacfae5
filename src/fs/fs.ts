/**
 * The FileSystem seam: every byte vecwal reads or writes goes through these two interfaces.
 *
 * Implementations:
 *   - `NodeFileSystem` (src/fs/node-fs.ts): the real disk. The only module that imports node:fs.
 *   - `CrashableMemFileSystem` (src/fs/mem-fs.ts): in memory, forgets unsynced data and unsynced
 *     directory entries at a simulated power cut (`crashClone`). For tests and for users' tests.
 *   - `FaultInjectingFileSystem` (src/fs/fault-fs.ts): wraps any FileSystem and fails chosen
 *     operations (EIO, ENOSPC, short writes), or "crashes" at the k-th operation.
 *
 * Semantics every implementation must honour (test/fs/contract.test.ts checks them
 * against the real disk and the in-memory model alike):
 *
 *   - Paths are absolute or relative POSIX strings joined with '/'. No implementation resolves
 *     symlinks specially.
 *   - `write` writes at an explicit position and MAY write fewer bytes than asked (a short
 *     write); it returns the count. Callers loop (see `writeFully` in src/fs/io.ts). Writing
 *     past the end extends the file; a gap reads as zeros.
 *   - `read` at or past EOF returns 0; otherwise it may return fewer bytes than asked.
 *   - Data written is visible to reads at once (page-cache semantics) but durable only after
 *     `sync`/`datasync` on that file. `datasync` is enough for data and size; `sync` also
 *     covers other metadata. Neither makes the file's *name* durable.
 *   - Creating, renaming and unlinking change directory entries, which are durable only after
 *     `syncDir(parent)`. A rename that replaces a target is atomic for observers; after a power
 *     cut without `syncDir`, either name may be what survives.
 *   - `rename` replaces an existing target file. `open(..., 'wx')` fails with EEXIST if the
 *     file exists. `unlink` of a missing file fails with ENOENT.
 *   - Errors are thrown as `Error` objects with a Node-style string `code` (ENOENT, EEXIST,
 *     EIO, ENOSPC, ENOTDIR, EISDIR, ENOTEMPTY, EBADF, ...), so callers can branch on `code`.
 *   - `lock` takes an exclusive, advisory lock on a path for this process. A second `lock` of
 *     the same path, from this process or another one, fails with code ELOCKED and a message
 *     naming the holder. A lock held by a process that no longer exists is taken over.
 */

/** How a file is opened. */
export type OpenFlags =
  /** read only; the file must exist */
  | 'r'
  /** read and write; the file must exist */
  | 'r+'
  /** read and write; create if missing, never truncate */
  | 'a+'
  /** read and write; create, failing with EEXIST if it exists */
  | 'wx'
  /** read and write; create or truncate to zero */
  | 'w';

export interface FileStat {
  size: number;
  isDirectory: boolean;
  /** last modification, ms since the epoch */
  mtimeMs: number;
}

export interface FileHandle {
  /** The path the handle was opened with. */
  readonly path: string;
  /**
   * Read up to `length` bytes into `buf[offset..]` from file position `position`.
   * Returns the number of bytes read: 0 at or past EOF, possibly fewer than asked.
   */
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * Write up to `length` bytes of `buf[offset..]` at file position `position`. May be short;
   * returns the count written. The caller's buffer may be reused as soon as the promise settles.
   */
  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * Optional: write `buffers` back to back from `position` in one request (pwritev). May be
   * short; returns the count. The buffers may be reused once the promise settles. Callers go
   * through `writevFully` (src/fs/io.ts), which writes buffer by buffer on handles without it.
   */
  writev?(buffers: readonly Uint8Array[], position: number): Promise<number>;
  /** Set the file's size; growing fills with zeros. */
  truncate(size: number): Promise<void>;
  /** Make data, size and other metadata durable (fsync). */
  sync(): Promise<void>;
  /** Make data and size durable (fdatasync). */
  datasync(): Promise<void>;
  /** Current size, including unsynced writes. */
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface FileSystem {
  open(path: string, flags: OpenFlags): Promise<FileHandle>;
  /** Atomically rename `from` to `to`, replacing `to` if it exists. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Names (not paths) in a directory, sorted by code unit order. */
  readdir(path: string): Promise<string[]>;
  /** Create a directory; with `recursive`, parents too and no error if it exists. */
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Remove an empty directory. */
  rmdir(path: string): Promise<void>;
  /** Stat a path, or `null` if it does not exist. */
  stat(path: string): Promise<FileStat | null>;
  /** Make the directory's entries (creates, renames, unlinks in it) durable. */
  syncDir(path: string): Promise<void>;
  /** Take an exclusive lock; see the header comment. */
  lock(path: string): Promise<FileLock>;
}
