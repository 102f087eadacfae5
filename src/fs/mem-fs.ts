/**
 * CrashableMemFileSystem: an in-memory FileSystem that can take a crash-consistent copy of
 * itself ("what would the disk hold if power were cut now?") and can be killed so that the
 * "dead" engine cannot touch anything after the simulated power cut.
 *
 * FAULT MODEL
 *
 * State. Every file is an inode holding `data` (what reads see, size included) and `synced` (a
 * copy of `data` as of its last sync/datasync). Every directory is an inode holding `children`
 * (name -> inode, what lookups see) and `syncedChildren` (as of its last syncDir). write, read
 * and truncate touch only `data`; sync and datasync copy `data` into `synced` (sync and datasync
 * are the same here). open-with-create, rename, unlink, mkdir and rmdir touch only `children`;
 * syncDir copies `children` into `syncedChildren`. Syncing a file never makes its name durable;
 * syncing a directory never makes file contents durable.
 *
 * Power cut: `crashClone({ seed, unsyncedKeepProbability: p, blockSize: B, sectorSize: S,
 * tornTail })` returns a new, independent filesystem. All random choices come from one seeded
 * PRNG and are drawn in a fixed order (directories walked depth first, names sorted), so the
 * same state and seed give the same clone. Every unsynced change survives with probability p:
 *
 *   Directories. For each name where `children` and `syncedChildren` differ (created, removed,
 *   or pointing at another inode), the clone gets either the current entry (change kept) or the
 *   synced one (change lost; an absent entry stays absent). The coin is drawn once per inode,
 *   keyed by the inode the entry now points at (or, for a removal, the inode removed), so both
 *   halves of a rename, the removal of the old name and the addition of the new one, share a
 *   coin: a rename survives or is lost as a whole, and after a crash exactly one of the two
 *   names holds the file (fs.ts: "either name may be what survives"). Independent changes get
 *   independent coins, so e.g. a chain of unsynced renames can lose an intermediate file, and
 *   a rename across two directories is only safe once both are synced. If an inode ends up
 *   under two names (renamed, then its old name reused and that change lost), the clone shares
 *   one inode under both names, like a hard link.
 *
 *   Files, for every inode reachable in the clone:
 *   1. Truncation. If the file was ever shorter than its synced size since the last sync (a
 *      truncate, or open with 'w'), one coin decides whether the truncate reached the disk. If
 *      it did, the durable base is the synced bytes cut to that smallest size; otherwise it is
 *      the full synced bytes (the synced size survives even if the current file is shorter).
 *   2. Blocks. The current data is cut into B-byte blocks (the last one partial). A block
 *      counts as unsynced if it lies wholly or partly beyond the base size, or differs from the
 *      base. Each unsynced block is kept with probability p: its current bytes replace the
 *      base's. Unkept blocks keep the base's bytes where the base has them and read as zeros
 *      beyond it (a hole), so a kept block after an unkept one leaves a zero-filled gap.
 *   3. Size = max(base size, end of the last kept block). Blocks end at the current size, so
 *      the clone is never longer than both the base and the current file.
 *   4. Torn tail (if `tornTail`, default on): the last kept block is only partly written: a
 *      random number j of its sectors, 0..all (all = not torn), are written; sectors after
 *      them keep the base's bytes where the base has them. Past the base, a coin picks whether
 *      the size still reaches the end of the block (the rest reads as zeros) or stops at the
 *      end of the written prefix (truncated). So even p = 1 can tear the last block: pass
 *      `tornTail: false` to get an exact copy of the current state at p = 1.
 *   With p = 0 the clone holds exactly the synced state (truncate coins and blocks all lost).
 *
 * The clone shares no buffers with this instance, holds no locks, has no open handles, and
 * treats all its contents as synced. Taking it is synchronous, so no operation can interleave.
 *
 * Kill switch: after `crash()`, every FileSystem operation on this instance and every
 * operation on handles (and lock releases) obtained from it rejects with EIO, so a dying engine
 * cannot alter what was captured. Introspection helpers (listFiles, readFileSync, syncedSize,
 * crashClone) still work, for post-mortem inspection.
 *
 * Not modelled: hard links, symlinks, permissions, disk-full (use FaultInjectingFileSystem),
 * reordering of a file's durable size against its data beyond what the block rules above give,
 * and mtime durability (mtimes are copied as is).
 *
 * Paths: POSIX style, normalised ('.', '..', repeated '/' collapse); relative paths are taken
 * relative to '/'. Errors carry Node-style codes: ENOENT, EEXIST, EISDIR, ENOTDIR, ENOTEMPTY,
 * EBADF (closed handle, or write on an 'r' handle), EINVAL (truncate on an 'r' handle, rename
 * of a directory into itself), EBUSY (rename/rmdir of '/'), ELOCKED, EIO (after crash()).
 */
import type { FileHandle, FileLock, FileStat, FileSystem, OpenFlags } from './fs.js';
import { OP_KINDS, type OpKind } from './fault-fs.js';
import { sysError } from '../errors.js';
import { Rng } from '../util/rng.js';

export interface CrashCloneOptions {
  seed: number;
  /** Probability that each unsynced change (entry, block, truncate) survives. Default 0.5. */
  unsyncedKeepProbability?: number;
  /** Unit in which unsynced data survives or is lost. Default 4096. */
  blockSize?: number;
  /** Unit of a torn write inside the last surviving block. Default 512. */
  sectorSize?: number;
  /** Tear the last surviving unsynced block. Default true. */
  tornTail?: boolean;
}

const EMPTY = new Uint8Array(0);

class FileNode {
  readonly kind = 'file' as const;
  /** Current bytes in [0, size); capacity beyond size is kept all zeros. */
  buf: Uint8Array = EMPTY;
  size = 0;
  /** Bytes as of the last sync; its length is the synced size. */
  synced: Uint8Array = EMPTY;
  /** True while `buf` is the same array as `synced` (clones): copy before mutating. */
  shared = false;
  /** Lowest offset changed since the last sync; lets crashClone skip clean leading blocks. */
  dirtyFrom = Infinity;
  /** Smallest size since the last sync; below `synced.length` means an unsynced truncate. */
  minSize = 0;
  mtimeMs = Date.now();

  /** Make room for `end` bytes, doubling so that appends stay amortised O(1). */
  private reserve(end: number): void {
    if (!this.shared && end <= this.buf.length) return;
    const cap = Math.max(end, this.shared ? this.buf.length : this.buf.length * 2, 64);
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.size));
    this.buf = next;
    this.shared = false;
  }

  private touch(from: number): void {
    if (from < this.dirtyFrom) this.dirtyFrom = from;
    this.mtimeMs = Date.now();
  }

  write(src: Uint8Array, offset: number, length: number, position: number): void {
    const end = position + length;
    this.reserve(end);
    this.buf.set(src.subarray(offset, offset + length), position); // copies: never aliases
    if (end > this.size) this.size = end; // any gap was already zero
    this.touch(position);
  }

  read(dst: Uint8Array, offset: number, length: number, position: number): number {
    if (position >= this.size) return 0;
    const n = Math.min(length, this.size - position);
    dst.set(this.buf.subarray(position, position + n), offset);
    return n;
  }

  truncate(size: number): void {
    if (size < this.size) {
      if (this.shared) this.reserve(this.size);
      this.buf.fill(0, size, this.size); // keep the invariant: bytes past size are zero
      this.touch(size);
    } else {
      this.reserve(size);
      this.touch(this.size);
    }
    this.size = size;
    if (size < this.minSize) this.minSize = size;
  }

  sync(): void {
    this.synced = this.buf.slice(0, this.size);
    this.shared = false; // `synced` is a fresh copy now
    this.dirtyFrom = Infinity;
    this.minSize = this.size;
  }
}

class DirNode {
  readonly kind = 'dir' as const;
  children = new Map<string, Node>();
  syncedChildren = new Map<string, Node>();
  mtimeMs = Date.now();
}

type Node = FileNode | DirNode;

/** Path components after normalisation; [] is the root. */
function splitPath(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

function checkRange(buf: Uint8Array, offset: number, length: number, position: number): void {
  const ok =
    Number.isInteger(offset) && Number.isInteger(length) && Number.isInteger(position) &&
    offset >= 0 && length >= 0 && position >= 0 && offset + length <= buf.length;
  if (!ok) throw new RangeError(`bad buffer range: offset ${offset}, length ${length}, position ${position}, buffer ${buf.length}`);
}

/** A name's place in the tree: `parent` is null only for the root. */
interface Location {
  parent: DirNode | null;
  name: string;
  node: Node | undefined;
}

export class CrashableMemFileSystem implements FileSystem {
  private root = new DirNode();
  private dead = false;
  private readonly locks = new Set<string>();
  /** Operations performed, by kind (refused ones included). */
  readonly stats: Record<OpKind, number> = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<OpKind, number>;

  /** Count an op and refuse it after crash(). Handles call it through a closure. */
  private enter(kind: OpKind): void {
    this.stats[kind]++;
    if (this.dead) throw sysError('EIO', `${kind}: filesystem has crashed`);
  }

  private dirAt(parts: string[], path: string): DirNode {
    let dir = this.root;
    for (const part of parts) {
      const next = dir.children.get(part);
      if (next === undefined) throw sysError('ENOENT', `no such file or directory: ${path}`);
      if (next.kind !== 'dir') throw sysError('ENOTDIR', `not a directory: ${path}`);
      dir = next;
    }
    return dir;
  }

  private locate(path: string): Location {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) return { parent: null, name: '', node: this.root };
    const parent = this.dirAt(parts, path);
    return { parent, name, node: parent.children.get(name) };
  }

  // -- FileSystem ------------------------------------------------------------------------------

  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    this.enter('open');
    const { parent, name, node } = this.locate(path);
    if (parent === null || node?.kind === 'dir') throw sysError('EISDIR', `is a directory: ${path}`);
    let file = node;
    if (file === undefined) {
      if (flags === 'r' || flags === 'r+') throw sysError('ENOENT', `no such file: ${path}`);
      file = new FileNode();
      parent.children.set(name, file);
      parent.mtimeMs = Date.now();
    } else if (flags === 'wx') {
      throw sysError('EEXIST', `file exists: ${path}`);
    } else if (flags === 'w') {
      file.truncate(0);
    }
    return new MemFileHandle(path, file, flags !== 'r', (kind) => this.enter(kind));
  }

  async rename(from: string, to: string): Promise<void> {
    this.enter('rename');
    const src = this.locate(from);
    const dst = this.locate(to);
    if (src.parent === null || dst.parent === null) throw sysError('EBUSY', `cannot rename the root: ${from} -> ${to}`);
    if (src.node === undefined) throw sysError('ENOENT', `no such file or directory: ${from}`);
    if (src.node === dst.node) return; // same inode: POSIX says do nothing
    if (src.node.kind === 'dir' && this.isInside(dst.parent, src.node)) {
      throw sysError('EINVAL', `cannot move a directory into itself: ${from} -> ${to}`);
    }
    if (dst.node !== undefined) this.checkReplaceable(src.node, dst.node, to);
    src.parent.children.delete(src.name);
    dst.parent.children.set(dst.name, src.node);
    src.parent.mtimeMs = dst.parent.mtimeMs = Date.now();
  }

  /** POSIX rules for renaming over an existing target. */
  private checkReplaceable(src: Node, dst: Node, to: string): void {
    if (src.kind === 'file' && dst.kind === 'dir') throw sysError('EISDIR', `is a directory: ${to}`);
    if (src.kind === 'dir' && dst.kind === 'file') throw sysError('ENOTDIR', `not a directory: ${to}`);
    if (dst.kind === 'dir' && dst.children.size > 0) throw sysError('ENOTEMPTY', `directory not empty: ${to}`);
  }

  /** Whether `dir` is `ancestor` or lies below it. */
  private isInside(dir: DirNode, ancestor: DirNode): boolean {
    const walk = (d: DirNode): boolean =>
      d === dir || [...d.children.values()].some((c) => c.kind === 'dir' && walk(c));
    return walk(ancestor);
  }

  async unlink(path: string): Promise<void> {
    this.enter('unlink');
    const { parent, name, node } = this.locate(path);
    if (node === undefined) throw sysError('ENOENT', `no such file: ${path}`);
    if (parent === null || node.kind === 'dir') throw sysError('EISDIR', `is a directory: ${path}`);
    parent.children.delete(name);
    parent.mtimeMs = Date.now();
  }

  async readdir(path: string): Promise<string[]> {
    this.enter('readdir');
    const node = this.locate(path).node;
    if (node === undefined) throw sysError('ENOENT', `no such directory: ${path}`);
    if (node.kind !== 'dir') throw sysError('ENOTDIR', `not a directory: ${path}`);
    return [...node.children.keys()].sort();
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    this.enter('mkdir');
    if (options?.recursive) return this.mkdirRecursive(path);
    const { parent, name, node } = this.locate(path);
    if (parent === null || node !== undefined) throw sysError('EEXIST', `file exists: ${path}`);
    parent.children.set(name, new DirNode());
    parent.mtimeMs = Date.now();
  }

  private mkdirRecursive(path: string): void {
    const parts = splitPath(path);
    let dir = this.root;
    parts.forEach((part, i) => {
      let next = dir.children.get(part);
      if (next === undefined) {
        next = new DirNode();
        dir.children.set(part, next);
        dir.mtimeMs = Date.now();
      } else if (next.kind !== 'dir') {
        // Node reports EEXIST when the path itself is a file, ENOTDIR for a file on the way.
        throw sysError(i === parts.length - 1 ? 'EEXIST' : 'ENOTDIR', `not a directory: ${path}`);
      }
      dir = next;
    });
  }

  async rmdir(path: string): Promise<void> {
    this.enter('rmdir');
    const { parent, name, node } = this.locate(path);
    if (parent === null) throw sysError('EBUSY', `cannot remove the root`);
    if (node === undefined) throw sysError('ENOENT', `no such directory: ${path}`);
    if (node.kind !== 'dir') throw sysError('ENOTDIR', `not a directory: ${path}`);
    if (node.children.size > 0) throw sysError('ENOTEMPTY', `directory not empty: ${path}`);
    parent.children.delete(name);
    parent.mtimeMs = Date.now();
  }

  async stat(path: string): Promise<FileStat | null> {
    this.enter('stat');
    let node: Node | undefined;
    try {
      node = this.locate(path).node;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return null;
      throw e;
    }
    if (node === undefined) return null;
    const size = node.kind === 'file' ? node.size : 0;
    return { size, isDirectory: node.kind === 'dir', mtimeMs: node.mtimeMs };
  }

  async syncDir(path: string): Promise<void> {
    this.enter('syncDir');
    const node = this.locate(path).node;
    if (node === undefined) throw sysError('ENOENT', `no such directory: ${path}`);
    if (node.kind !== 'dir') throw sysError('ENOTDIR', `not a directory: ${path}`);
    node.syncedChildren = new Map(node.children);
  }

  async lock(path: string): Promise<FileLock> {
    this.enter('lock');
    const parts = splitPath(path);
    this.dirAt(parts.slice(0, -1), path); // like the real lock file, the directory must exist
    const key = '/' + parts.join('/');
    if (this.locks.has(key)) throw sysError('ELOCKED', `${path} is locked by this process (in-memory filesystem)`);
    this.locks.add(key);
    let released = false;
    return {
      path,
      release: async () => {
        if (this.dead) throw sysError('EIO', `release ${path}: filesystem has crashed`);
        if (released) return;
        released = true;
        this.locks.delete(key);
      },
    };
  }

  // -- Power cut -------------------------------------------------------------------------------

  /** The kill switch: every later operation on this instance and its handles rejects with EIO. */
  crash(): void {
    this.dead = true;
  }

  get isCrashed(): boolean {
    return this.dead;
  }

  /** A new filesystem holding what would survive a power cut now; see the header comment. */
  crashClone(options: CrashCloneOptions): CrashableMemFileSystem {
    const clone = new CrashableMemFileSystem();
    clone.root = new Cloner(options).dir(this.root);
    return clone;
  }

  /** `crashClone(options)` then `crash()`: the usual way to simulate a power cut. */
  crashAndClone(options: CrashCloneOptions): CrashableMemFileSystem {
    const clone = this.crashClone(options);
    this.crash();
    return clone;
  }

  // -- Introspection for tests (synchronous, allowed after crash()) ----------------------------

  /** Every file's path, sorted. */
  listFiles(): string[] {
    const out: string[] = [];
    const walk = (dir: DirNode, prefix: string): void => {
      for (const [name, node] of dir.children) {
        const p = `${prefix}/${name}`;
        if (node.kind === 'file') out.push(p);
        else walk(node, p);
      }
    };
    walk(this.root, '');
    return out.sort();
  }

  /** A copy of a file's current (not necessarily durable) bytes. */
  readFileSync(path: string): Uint8Array {
    const f = this.fileAt(path);
    return f.buf.slice(0, f.size);
  }

  /** A file's size as of its last sync/datasync. */
  syncedSize(path: string): number {
    return this.fileAt(path).synced.length;
  }

  private fileAt(path: string): FileNode {
    const node = this.locate(path).node;
    if (node === undefined) throw sysError('ENOENT', `no such file: ${path}`);
    if (node.kind !== 'file') throw sysError('EISDIR', `is a directory: ${path}`);
    return node;
  }
}

class MemFileHandle implements FileHandle {
  private closed = false;
  constructor(
    readonly path: string,
    private readonly file: FileNode,
    private readonly writable: boolean,
    private readonly enter: (kind: OpKind) => void,
  ) {}

  /** Refuse ops after crash (EIO) or close (EBADF), in that order, like a dead disk would. */
  private use(kind: OpKind): FileNode {
    this.enter(kind);
    if (this.closed) throw sysError('EBADF', `${kind} on closed handle: ${this.path}`);
    return this.file;
  }

  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const f = this.use('read');
    checkRange(buf, offset, length, position);
    return f.read(buf, offset, length, position);
  }
  async write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const f = this.use('write');
    if (!this.writable) throw sysError('EBADF', `write on read-only handle: ${this.path}`);
    checkRange(buf, offset, length, position);
    f.write(buf, offset, length, position);
    return length;
  }
  async truncate(size: number): Promise<void> {
    const f = this.use('truncate');
    if (!this.writable) throw sysError('EINVAL', `truncate on read-only handle: ${this.path}`);
    if (!Number.isInteger(size) || size < 0) throw sysError('EINVAL', `bad size ${size}: ${this.path}`);
    f.truncate(size);
  }
  async sync(): Promise<void> {
    this.use('sync').sync();
  }
  async datasync(): Promise<void> {
    this.use('datasync').sync();
  }
  async size(): Promise<number> {
    return this.use('size').size;
  }
  async close(): Promise<void> {
    this.use('close');
    this.closed = true;
  }
}

/** One crashClone: the PRNG and the per-inode decisions, so each inode is decided once. */
class Cloner {
  private readonly rng: Rng;
  private readonly p: number;
  private readonly blockSize: number;
  private readonly sectorSize: number;
  private readonly tornTail: boolean;
  private readonly entryCoins = new Map<Node, boolean>();
  private readonly done = new Map<Node, Node>();

  constructor(o: CrashCloneOptions) {
    this.rng = new Rng(o.seed);
    this.p = o.unsyncedKeepProbability ?? 0.5;
    this.blockSize = o.blockSize ?? 4096;
    this.sectorSize = o.sectorSize ?? 512;
    this.tornTail = o.tornTail ?? true;
    if (!(this.blockSize > 0 && this.sectorSize > 0 && Number.isInteger(this.blockSize) && Number.isInteger(this.sectorSize))) {
      throw new RangeError('crashClone: blockSize and sectorSize must be positive integers');
    }
  }

  private node(n: Node): Node {
    const seen = this.done.get(n);
    if (seen !== undefined) return seen;
    return n.kind === 'dir' ? this.dir(n) : this.file(n);
  }

  /** Whether the unsynced entry changes involving inode `n` reached the disk. */
  private entryKept(n: Node): boolean {
    let kept = this.entryCoins.get(n);
    if (kept === undefined) {
      kept = this.rng.chance(this.p);
      this.entryCoins.set(n, kept);
    }
    return kept;
  }

  dir(d: DirNode): DirNode {
    const out = new DirNode();
    out.mtimeMs = d.mtimeMs;
    this.done.set(d, out);
    const names = [...new Set([...d.syncedChildren.keys(), ...d.children.keys()])].sort();
    for (const name of names) {
      const cur = d.children.get(name);
      const old = d.syncedChildren.get(name);
      const pick = cur === old || this.entryKept((cur ?? old) as Node) ? cur : old;
      if (pick !== undefined) out.children.set(name, this.node(pick));
    }
    out.syncedChildren = new Map(out.children);
    return out;
  }

  private file(f: FileNode): FileNode {
    const out = new FileNode();
    this.done.set(f, out);
    const bytes = this.fileBytes(f);
    out.buf = out.synced = bytes;
    out.shared = true;
    out.size = out.minSize = bytes.length;
    out.mtimeMs = f.mtimeMs;
    return out;
  }

  /** The bytes a file holds after the power cut (header comment, steps 1-4). */
  private fileBytes(f: FileNode): Uint8Array {
    if (f.dirtyFrom === Infinity) return f.synced.slice(); // clean since the last sync
    const truncated = f.minSize < f.synced.length && this.rng.chance(this.p);
    const base = truncated ? f.synced.subarray(0, f.minSize) : f.synced;
    const kept = this.keptBlocks(f, base);
    const last = kept.pop();
    const tail = last === undefined ? undefined : this.tear(f, last);
    const size = Math.max(base.length, tail?.sizeEnd ?? 0);
    const out = new Uint8Array(size); // zeros: the holes
    out.set(base);
    const bs = this.blockSize;
    for (const i of kept) out.set(f.buf.subarray(i * bs, Math.min((i + 1) * bs, f.size)), i * bs);
    if (last !== undefined && tail !== undefined) out.set(f.buf.subarray(last * bs, tail.dataEnd), last * bs);
    return out;
  }

  /** Indices of unsynced blocks that survive, ascending. */
  private keptBlocks(f: FileNode, base: Uint8Array): number[] {
    const bs = this.blockSize;
    const kept: number[] = [];
    for (let i = Math.floor(Math.min(f.dirtyFrom, f.size) / bs); i * bs < f.size; i++) {
      const start = i * bs;
      const end = Math.min(start + bs, f.size);
      if (end <= base.length && sameBytes(f.buf, base, start, end)) continue;
      if (this.rng.chance(this.p)) kept.push(i);
    }
    return kept;
  }

  /**
   * How much of the last kept block is written: `dataEnd` ends the written sector prefix,
   * `sizeEnd` is where the file ends if this block sets the size.
   */
  private tear(f: FileNode, block: number): { dataEnd: number; sizeEnd: number } {
    const start = block * this.blockSize;
    const end = Math.min(start + this.blockSize, f.size);
    if (!this.tornTail) return { dataEnd: end, sizeEnd: end };
    const sectors = Math.ceil((end - start) / this.sectorSize);
    const dataEnd = Math.min(end, start + this.rng.int(sectors + 1) * this.sectorSize);
    const zeroFill = this.rng.chance(0.5);
    return { dataEnd, sizeEnd: zeroFill ? end : dataEnd }; // the caller keeps at least the base size
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (a[i] !== b[i]) return false;
  return true;
}
