/** Helpers over the FileSystem seam that every caller needs the same way. */
import type { FileHandle, FileLock, FileSystem } from './fs.js';
import { VecwalError, ioError } from '../errors.js';

/** A write that moved no bytes: EIO, so that callers treat it as the I/O failure it is. */
function noProgress(h: FileHandle): Error {
  const e = new Error(`write to ${h.path} made no progress`) as Error & { code: string };
  e.code = 'EIO';
  return e;
}

/** Write all of `buf[offset, offset+length)` at `position`, looping over short writes. */
export async function writeFully(h: FileHandle, buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const n = await h.write(buf, offset + done, length - done, position + done);
    if (!(n > 0)) throw noProgress(h);
    done += n;
  }
}

/** Buffers per writev request (Linux's IOV_MAX). */
const WRITEV_MAX = 1024;

/**
 * Write `buffers` back to back from `position`: in as few writev requests as the handle allows
 * (looping over short writes), or buffer by buffer with writeFully on handles without writev.
 */
export async function writevFully(h: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
  const bufs = buffers.filter((b) => b.length > 0);
  if (!h.writev) {
    for (const b of bufs) {
      await writeFully(h, b, 0, b.length, position);
      position += b.length;
    }
    return;
  }
  let i = 0;
  let head: Uint8Array | null = null; // the unwritten rest of bufs[i] after a short write
  while (i < bufs.length) {
    const batch: Uint8Array[] = [head ?? bufs[i]!, ...bufs.slice(i + 1, i + WRITEV_MAX)];
    const n = await h.writev(batch, position);
    if (!(n > 0)) throw noProgress(h);
    position += n;
    let left = n;
    let k = 0;
    while (k < batch.length && left >= batch[k]!.length) left -= batch[k++]!.length;
    i += k;
    head = left > 0 ? batch[k]!.subarray(left) : null;
  }
}

/** Read up to `length` bytes at `position`, looping over short reads; returns bytes read (less only at EOF). */
export async function readFully(h: FileHandle, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await h.read(buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Read a whole file. */
export async function readFile(fs: FileSystem, path: string): Promise<Uint8Array> {
  const h = await fs.open(path, 'r');
  try {
    const size = await h.size();
    const buf = new Uint8Array(size);
    const n = await readFully(h, buf, 0, size, 0);
    return n === size ? buf : buf.subarray(0, n);
  } finally {
    await h.close();
  }
}

/** Join path parts with '/', collapsing duplicate separators. */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/').replace(/\/+/g, '/');
}

/** The parent directory of a path ('.' for a bare name). */
export function dirname(path: string): string {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return path.slice(0, i);
}

/**
 * Replace `path` with `bytes` atomically and durably: write `path.tmp`, fsync it, rename over
 * `path`, fsync the directory. After a crash, `path` holds either the old or the new bytes.
 */
export async function writeFileAtomic(fs: FileSystem, path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const h = await fs.open(tmp, 'w');
  try {
    await writeFully(h, bytes, 0, bytes.length, 0);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, path);
  await fs.syncDir(dirname(path));
}

/**
 * Create `dir` and any missing parents durably: each new directory's entry is fsynced in its
 * parent, so the directory survives a power cut (a new file inside it would not, otherwise).
 */
export async function mkdirDurable(fs: FileSystem, dir: string): Promise<void> {
  const parent = dirname(dir);
  try {
    await fs.mkdir(dir); // the common case, a new directory in an existing one: two operations
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' && parent !== dir) {
      await mkdirDurable(fs, parent);
      return mkdirDurable(fs, dir);
    }
    if (code !== 'EEXIST') throw e;
    if (!(await fs.stat(dir))?.isDirectory) {
      const err = new Error(`ENOTDIR: ${dir} is not a directory`) as Error & { code: string };
      err.code = 'ENOTDIR';
      throw err;
    }
    return;
  }
  await fs.syncDir(parent);
}

/** Remove a directory tree (files and subdirectories); no error if it does not exist. */
export async function removeTree(fs: FileSystem, path: string): Promise<void> {
  const st = await fs.stat(path);
  if (!st) return;
  if (!st.isDirectory) {
    await fs.unlink(path);
    return;
  }
  for (const name of await fs.readdir(path)) await removeTree(fs, joinPath(path, name));
  await fs.rmdir(path);
}

/**
 * Create `dir` durably and take its `LOCK` file. A held lock becomes a LOCKED error naming
 * `what` ("database", "WAL directory"); any other failure an IO_ERROR.
 */
export async function openLockedDir(fs: FileSystem, dir: string, what: string): Promise<FileLock> {
  try {
    await mkdirDurable(fs, dir);
  } catch (e) {
    throw ioError('create directory', dir, e);
  }
  try {
    return await fs.lock(joinPath(dir, 'LOCK'));
  } catch (e) {
    if ((e as { code?: string }).code === 'ELOCKED') throw new VecwalError('LOCKED', `${what} ${dir} is in use: ${(e as Error).message}`, { cause: e, file: dir });
    throw ioError('lock', dir, e);
  }
}
