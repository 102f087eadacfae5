/**
 * The real disk. This is the only module in vecwal that imports node:fs (a test enforces it).
 *
 * Handles use the callback API wrapped in promises: it costs less per call than the
 * fs/promises FileHandle API, which matters on the commit path (one write + one fdatasync per
 * group). Directory sync opens the directory read-only and fsyncs it, which is what Linux and
 * macOS need for a create, rename or unlink to survive a power cut (Windows cannot do it; there
 * it is a no-op).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { FileHandle, FileLock, FileStat, FileSystem, OpenFlags } from './fs.js';
import { sysError } from '../errors.js';

const FLAGS: Record<OpenFlags, string> = { r: 'r', 'r+': 'r+', 'a+': 'a+', wx: 'wx+', w: 'w+' };

function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

class NodeFileHandle implements FileHandle {
  constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return call<number>((cb) => fs.read(this.fd, buf, offset, length, position, cb));
  }
  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return call<number>((cb) => fs.write(this.fd, buf, offset, length, position, cb));
  }
  writev(buffers: readonly Uint8Array[], position: number): Promise<number> {
    return call<number>((cb) => fs.writev(this.fd, buffers as Uint8Array[], position, cb));
  }
  truncate(size: number): Promise<void> {
    return call<void>((cb) => fs.ftruncate(this.fd, size, (e) => cb(e, undefined)));
  }
  sync(): Promise<void> {
    return call<void>((cb) => fs.fsync(this.fd, (e) => cb(e, undefined)));
  }
  datasync(): Promise<void> {
    return call<void>((cb) => fs.fdatasync(this.fd, (e) => cb(e, undefined)));
  }
  async size(): Promise<number> {
    const st = await call<fs.Stats>((cb) => fs.fstat(this.fd, cb));
    return st.size;
  }
  close(): Promise<void> {
    return call<void>((cb) => fs.close(this.fd, (e) => cb(e, undefined)));
  }
}

/** Locks this process holds, so a second opener in the same process is refused too. */
const heldLocks = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NodeFileSystem implements FileSystem {
  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    const fd = await call<number>((cb) => fs.open(path, FLAGS[flags], 0o644, cb));
    return new NodeFileHandle(path, fd);
  }
  rename(from: string, to: string): Promise<void> {
    return fs.promises.rename(from, to);
  }
  unlink(path: string): Promise<void> {
    return fs.promises.unlink(path);
  }
  async readdir(path: string): Promise<string[]> {
    const names = await fs.promises.readdir(path);
    return names.sort();
  }
  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    await fs.promises.mkdir(path, { recursive: options?.recursive ?? false });
  }
  rmdir(path: string): Promise<void> {
    return fs.promises.rmdir(path);
  }
  async stat(path: string): Promise<FileStat | null> {
    try {
      const st = await fs.promises.stat(path);
      return { size: st.size, isDirectory: st.isDirectory(), mtimeMs: st.mtimeMs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  async syncDir(path: string): Promise<void> {
    if (process.platform === 'win32') return;
    const fd = await call<number>((cb) => fs.open(path, 'r', cb));
    try {
      await call<void>((cb) => fs.fsync(fd, (e) => cb(e, undefined)));
    } finally {
      await call<void>((cb) => fs.close(fd, (e) => cb(e, undefined)));
    }
  }

  /**
   * Lock file protocol: the file holds `pid host` and is created with O_EXCL. If it exists and
   * names a dead process on this host, it is stale: we rename it aside (only one contender's
   * rename succeeds), check that what we moved is the stale lock we read, and retry the create.
   * Node has no flock(2); this protocol is the portable alternative (DESIGN.md "LOCK").
   */
  async lock(path: string): Promise<FileLock> {
    const abs = path;
    if (heldLocks.has(abs)) throw sysError('ELOCKED', `${path} is locked by this process (pid ${process.pid})`);
    const me = `${process.pid} ${os.hostname()}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = await call<number>((cb) => fs.open(abs, 'wx', 0o644, cb));
        try {
          await call<number>((cb) => fs.write(fd, me, 0, 'utf8', cb));
          await call<void>((cb) => fs.fsync(fd, (e) => cb(e, undefined)));
        } finally {
          await call<void>((cb) => fs.close(fd, (e) => cb(e, undefined)));
        }
        heldLocks.add(abs);
        let released = false;
        return {
          path: abs,
          release: async () => {
            if (released) return;
            released = true;
            heldLocks.delete(abs);
            await fs.promises.unlink(abs).catch(() => undefined);
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await fs.promises.readFile(abs, 'utf8').catch(() => '');
      const [pidText, host] = holder.trim().split(' ');
      const pid = Number(pidText);
      const stale = holder !== '' && host === os.hostname() && Number.isInteger(pid) && pid > 0 && !processAlive(pid);
      if (!stale) throw sysError('ELOCKED', `${path} is locked by pid ${pidText || '?'} on ${host || '?'}`);
      const aside = `${abs}.stale.${process.pid}`;
      try {
        await fs.promises.rename(abs, aside);
      } catch {
        continue; // someone else moved it; retry the create
      }
      const moved = await fs.promises.readFile(aside, 'utf8').catch(() => '');
      if (moved !== holder) {
        // We moved a fresh lock taken by a contender between our read and rename: put it back.
        await fs.promises.rename(aside, abs).catch(() => undefined);
        throw sysError('ELOCKED', `${path} is locked by ${moved.trim() || 'another opener'}`);
      }
      await fs.promises.unlink(aside).catch(() => undefined);
    }
    throw sysError('ELOCKED', `${path}: could not take over a stale lock`);
  }
}
