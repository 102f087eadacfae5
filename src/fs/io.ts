/** Helpers over the FileSystem seam that every caller needs the same way. */
import type { FileHandle, FileLock, FileSystem } from './fs.js';
import { VecwalError, ioError } from '../errors.js';

/** Write all of `buf[offset, offset+length)` at `position`, looping over short writes. */
export async function writeFully(h: FileHandle, buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const n = await h.write(buf, offset + done, length - done, position + done);
    if (!(n > 0)) {
      const e = new Error(`write to ${h.path} made no progress`) as Error & { code: string };
      e.code = 'EIO';
      throw e;
    }
    done += n;
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
  const st = await fs.stat(dir);
  if (st) {
    if (!st.isDirectory) {
      const e = new Error(`ENOTDIR: ${dir} is not a directory`) as Error & { code: string };
      e.code = 'ENOTDIR';
      throw e;
    }
    return;
  }
  const parent = dirname(dir);
  if (parent !== dir) await mkdirDurable(fs, parent);
  try {
    await fs.mkdir(dir);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
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
