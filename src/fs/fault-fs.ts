/**
 * FaultInjectingFileSystem: wraps any FileSystem (and every handle it returns) and lets a test
 * decide, before each operation, whether that operation fails.
 *
 * Fault model (errorfs-style: the decision is taken BEFORE the operation runs):
 *   - Every call (open, read, write, truncate, sync, datasync, size, close, rename, unlink,
 *     readdir, mkdir, rmdir, stat, syncDir, lock) is described as an `Op` and handed to the
 *     injector. `index` counts all ops from 0; `writeIndex` counts from 0 only the mutating ops
 *     (open with a creating flag 'a+'/'wx'/'w', write, truncate, sync, datasync, rename, unlink,
 *     mkdir, rmdir, syncDir) and is undefined on the others. Ops refused because of an earlier
 *     crash are not counted.
 *   - The injector answers:
 *       undefined              proceed normally;
 *       { error: code }        throw a Node-style error with that code; the op is NOT performed
 *                              (nothing reaches the inner FS, not even a partial write);
 *       { shortWrite: n }      (write only; ignored on other ops) pass only the first
 *                              max(1, min(n, length)) bytes to the inner write and return what it
 *                              returns, like a FUSE short write. Callers must loop (writeFully);
 *       { crash: true }        call `onCrash(op)` BEFORE the op (the callback typically takes
 *                              `mem.crashClone(...)` and calls `mem.crash()`), then throw EIO.
 *                              From then on this wrapper is dead: every op on it and on its
 *                              handles rejects with EIO, even if the inner FS has no kill switch.
 *   - Ops run one at a time in call order as far as counting goes; concurrent callers get
 *     indices in the order their calls reach the wrapper.
 *
 * Injectors are plain functions, so tests can write their own; the builders below cover the
 * common cases and compose with `any` and `pathMatch`.
 */
import type { FileHandle, FileLock, FileStat, FileSystem, OpenFlags } from './fs.js';
import { sysError } from '../errors.js';
import { Rng } from '../util/rng.js';

export const OP_KINDS = [
  'open',
  'read',
  'write',
  'truncate',
  'sync',
  'datasync',
  'size',
  'close',
  'rename',
  'unlink',
  'readdir',
  'mkdir',
  'rmdir',
  'stat',
  'syncDir',
  'lock',
] as const;

export type OpKind = (typeof OP_KINDS)[number];

export interface Op {
  kind: OpKind;
  /** The path (for rename: `from`); for handle ops, the path the handle was opened with. */
  path: string;
  /** rename's target. */
  to?: string;
  /** open's flags. */
  flags?: OpenFlags;
  /** File position for read/write; new size for truncate. */
  offset?: number;
  /** Byte count for read/write. */
  length?: number;
  /** 0-based count of all ops through this wrapper. */
  index: number;
  /** 0-based count of mutating ops; undefined for ops that change nothing. */
  writeIndex?: number;
}

export type Fault = { error: string } | { shortWrite: number } | { crash: true };

export type Injector = (op: Op) => Fault | undefined;

export interface FaultOptions {
  injector?: Injector;
  /** Called before the op on which the injector answered `{ crash: true }`. */
  onCrash?: (op: Op) => void;
  /** How many recent ops `ops` remembers (default 10,000). */
  maxOps?: number;
}

const MUTATING: ReadonlySet<OpKind> = new Set<OpKind>([
  'write',
  'truncate',
  'sync',
  'datasync',
  'rename',
  'unlink',
  'mkdir',
  'rmdir',
  'syncDir',
]);

function isMutating(kind: OpKind, flags?: OpenFlags): boolean {
  if (kind === 'open') return flags === 'a+' || flags === 'wx' || flags === 'w';
  return MUTATING.has(kind);
}

type OpInfo = Omit<Op, 'index' | 'writeIndex'>;

export class FaultInjectingFileSystem implements FileSystem {
  private injector: Injector | undefined;
  onCrash: ((op: Op) => void) | undefined;
  private crashed = false;
  private opCount = 0;
  private writeCount = 0;
  // Ring buffer of recent ops: a plain array would cost O(n) per op once capped.
  private readonly ring: Op[] = [];
  private ringStart = 0;
  private readonly maxOps: number;

  constructor(
    readonly inner: FileSystem,
    options: FaultOptions = {},
  ) {
    this.injector = options.injector;
    this.onCrash = options.onCrash;
    this.maxOps = Math.max(1, options.maxOps ?? 10_000);
  }

  setInjector(fn: Injector | undefined): void {
    this.injector = fn;
  }

  /** Total ops seen so far (the next op's `index`). */
  get opsSeen(): number {
    return this.opCount;
  }

  /** Mutating ops seen so far (the next mutating op's `writeIndex`). */
  get writesSeen(): number {
    return this.writeCount;
  }

  /** True once an injected crash happened; every later op rejects with EIO. */
  get isCrashed(): boolean {
    return this.crashed;
  }

  /** The most recent ops (up to `maxOps`), oldest first. */
  get ops(): Op[] {
    return [...this.ring.slice(this.ringStart), ...this.ring.slice(0, this.ringStart)];
  }

  /**
   * Count and record the op, ask the injector, and apply any fault that prevents the op.
   * Returns the byte limit for a short write, or undefined to run the op in full.
   */
  gate(info: OpInfo): number | undefined {
    if (this.crashed) throw sysError('EIO', `${info.kind} ${info.path}: filesystem crashed`);
    const op: Op = { ...info, index: this.opCount++ };
    if (isMutating(info.kind, info.flags)) op.writeIndex = this.writeCount++;
    this.record(op);
    const fault = this.injector?.(op);
    if (fault === undefined) return undefined;
    if ('error' in fault) throw sysError(fault.error, `injected at op #${op.index} (${op.kind} ${op.path})`);
    if ('crash' in fault) {
      this.crashed = true;
      this.onCrash?.(op);
      throw sysError('EIO', `crash injected at op #${op.index} (${op.kind} ${op.path})`);
    }
    return op.kind === 'write' ? fault.shortWrite : undefined;
  }

  private record(op: Op): void {
    if (this.ring.length < this.maxOps) {
      this.ring.push(op);
      return;
    }
    this.ring[this.ringStart] = op;
    this.ringStart = (this.ringStart + 1) % this.maxOps;
  }

  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    this.gate({ kind: 'open', path, flags });
    return new FaultFileHandle(this, await this.inner.open(path, flags));
  }
  async rename(from: string, to: string): Promise<void> {
    this.gate({ kind: 'rename', path: from, to });
    return this.inner.rename(from, to);
  }
  async unlink(path: string): Promise<void> {
    this.gate({ kind: 'unlink', path });
    return this.inner.unlink(path);
  }
  async readdir(path: string): Promise<string[]> {
    this.gate({ kind: 'readdir', path });
    return this.inner.readdir(path);
  }
  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    this.gate({ kind: 'mkdir', path });
    return this.inner.mkdir(path, options);
  }
  async rmdir(path: string): Promise<void> {
    this.gate({ kind: 'rmdir', path });
    return this.inner.rmdir(path);
  }
  async stat(path: string): Promise<FileStat | null> {
    this.gate({ kind: 'stat', path });
    return this.inner.stat(path);
  }
  async syncDir(path: string): Promise<void> {
    this.gate({ kind: 'syncDir', path });
    return this.inner.syncDir(path);
  }
  async lock(path: string): Promise<FileLock> {
    this.gate({ kind: 'lock', path });
    return this.inner.lock(path);
  }
}

class FaultFileHandle implements FileHandle {
  constructor(
    private readonly owner: FaultInjectingFileSystem,
    private readonly inner: FileHandle,
  ) {}
  get path(): string {
    return this.inner.path;
  }
  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.owner.gate({ kind: 'read', path: this.path, offset: position, length });
    return this.inner.read(buf, offset, length, position);
  }
  async write(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const limit = this.owner.gate({ kind: 'write', path: this.path, offset: position, length });
    const n = limit === undefined || length <= 1 ? length : Math.max(1, Math.min(Math.floor(limit), length));
    return this.inner.write(buf, offset, n, position);
  }
  async truncate(size: number): Promise<void> {
    this.owner.gate({ kind: 'truncate', path: this.path, offset: size });
    return this.inner.truncate(size);
  }
  async sync(): Promise<void> {
    this.owner.gate({ kind: 'sync', path: this.path });
    return this.inner.sync();
  }
  async datasync(): Promise<void> {
    this.owner.gate({ kind: 'datasync', path: this.path });
    return this.inner.datasync();
  }
  async size(): Promise<number> {
    this.owner.gate({ kind: 'size', path: this.path });
    return this.inner.size();
  }
  async close(): Promise<void> {
    this.owner.gate({ kind: 'close', path: this.path });
    return this.inner.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Injector builders

/** Fail the op whose `index` is `index` (0-based) with `code`. */
export function failAt(index: number, code = 'EIO'): Injector {
  return (op) => (op.index === index ? { error: code } : undefined);
}

/** Fail the mutating op whose `writeIndex` is `writeIndex` (0-based) with `code`. */
export function failWritesAt(writeIndex: number, code = 'EIO'): Injector {
  return (op) => (op.writeIndex === writeIndex ? { error: code } : undefined);
}

/**
 * Crash before the k-th mutating op (0-based). For crash-point enumeration: run the workload
 * with k = 0, 1, 2, ... until a run finishes without reaching the k-th mutating op.
 */
export function crashAtWrite(k: number): Injector {
  return (op) => (op.writeIndex === k ? { crash: true } : undefined);
}

/**
 * Fail each op (of the given kinds, or any kind) with probability `probability`, using a
 * seeded PRNG: the same seed and the same op sequence give the same failures.
 */
export function randomly(probability: number, seed: number, code = 'EIO', kinds?: readonly OpKind[]): Injector {
  const rng = new Rng(seed);
  const only = kinds === undefined ? undefined : new Set<OpKind>(kinds);
  return (op) => {
    if (only !== undefined && !only.has(op.kind)) return undefined;
    return rng.chance(probability) ? { error: code } : undefined;
  };
}

/** Make each write of 2+ bytes short with probability `probability`: 1..length-1 bytes. */
export function shortWrites(seed: number, probability = 0.5): Injector {
  const rng = new Rng(seed);
  return (op) => {
    if (op.kind !== 'write' || op.length === undefined || op.length < 2) return undefined;
    if (!rng.chance(probability)) return undefined;
    return { shortWrite: 1 + rng.int(op.length - 1) };
  };
}

/**
 * Apply `injector` only to ops whose path (or rename target) matches `pattern`. A pattern with
 * '*' (any run of characters, '/' included) or '?' (one character) must match the whole path,
 * so '*.log' matches '/db/wal/000001.log'; a pattern without them matches as a substring.
 * Non-matching ops are not shown to `injector`, so its counters and PRNG see only matches.
 */
export function pathMatch(pattern: string, injector: Injector): Injector {
  const matches = pathMatcher(pattern);
  return (op) => (matches(op.path) || (op.to !== undefined && matches(op.to)) ? injector(op) : undefined);
}

function pathMatcher(pattern: string): (path: string) => boolean {
  if (!/[*?]/.test(pattern)) return (path) => path.includes(pattern);
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${body}$`);
  return (path) => re.test(path);
}

/**
 * The first fault any of `injectors` returns. Every injector sees every op (even after one has
 * answered), so stateful injectors (counters, PRNGs) stay independent of each other.
 */
export function any(...injectors: Injector[]): Injector {
  return (op) => {
    let first: Fault | undefined;
    for (const inj of injectors) {
      const f = inj(op);
      if (first === undefined) first = f;
    }
    return first;
  };
}
