/**
 * Small helpers shared by the WAL test files (test/wal/*.test.ts): error-code assertions,
 * exact copies and byte-level edits of an in-memory log, directory snapshots, timeouts.
 *
 * This module only exports functions: `node --test dist/test/` (Node 20) runs every .js file
 * under a directory named `test` as a test file, this one included, and importing it must do
 * nothing.
 */
import assert from 'node:assert/strict';
import { VecwalError, type ErrorCode } from '../../src/errors.js';
import type { FileSystem } from '../../src/fs/fs.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { joinPath, readFile, writeFully } from '../../src/fs/io.js';

/**
 * Assert that `action` (a promise, or a function that throws or returns a promise) fails with a
 * VecwalError of `code`. Returns the error for further checks.
 */
export async function expectCode(action: Promise<unknown> | (() => unknown), code: ErrorCode, what = ''): Promise<VecwalError> {
  let err: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (e) {
    err = e;
  }
  const label = what ? `${what}: ` : '';
  assert.ok(err !== undefined, `${label}expected ${code}, but it succeeded`);
  assert.ok(err instanceof VecwalError, `${label}expected a VecwalError ${code}, got ${String((err as Error)?.stack ?? err)}`);
  assert.equal(err.code, code, `${label}expected ${code}, got ${err.code}: ${err.message}`);
  return err;
}

/** An exact, independent copy of the current state of `mem` (no crash, nothing lost). */
export function exactCopy(mem: CrashableMemFileSystem): CrashableMemFileSystem {
  return mem.crashClone({ seed: 0, unsyncedKeepProbability: 1, tornTail: false });
}

/** Overwrite bytes of an existing file at `at` (durably). */
export async function writeAt(fs: FileSystem, path: string, at: number, bytes: Uint8Array): Promise<void> {
  const h = await fs.open(path, 'r+');
  try {
    await writeFully(h, bytes, 0, bytes.length, at);
    await h.datasync();
  } finally {
    await h.close();
  }
}

/** Cut (or extend with zeros) an existing file to `size` (durably). */
export async function truncateFile(fs: FileSystem, path: string, size: number): Promise<void> {
  const h = await fs.open(path, 'r+');
  try {
    await h.truncate(size);
    await h.datasync();
  } finally {
    await h.close();
  }
}

/** Flip bit `bit` of the byte at `at`. */
export async function flipBit(mem: CrashableMemFileSystem, path: string, at: number, bit: number): Promise<void> {
  const cur = mem.readFileSync(path);
  await writeAt(mem, path, at, Uint8Array.of(cur[at]! ^ (1 << bit)));
}

/** Every file of `dir` (not recursive) with its bytes in hex: for "nothing changed" checks. */
export async function snapshotDir(fs: FileSystem, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await fs.readdir(dir)) {
    const path = joinPath(dir, name);
    const st = await fs.stat(path);
    if (!st || st.isDirectory) continue;
    out[name] = Buffer.from(await readFile(fs, path)).toString('hex');
  }
  return out;
}

/** Reject with a clear message if `p` does not settle within `ms` (a hang is a failure). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not settle within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Little-endian u64 (exact below 2^53) from `buf` at `at`. */
export function readU64(buf: Uint8Array, at: number): number {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return v.getUint32(at + 4, true) * 0x1_0000_0000 + v.getUint32(at, true);
}

/** Little-endian u32 from `buf` at `at`. */
export function readU32(buf: Uint8Array, at: number): number {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(at, true);
}

export interface ParsedFrame {
  offset: number;
  /** Encoded size, padding included. */
  size: number;
  firstLsn: number;
  lastLsn: number;
  syncedThrough: number;
}

/**
 * Frame boundaries of an intact segment file, read straight from the bytes (format.ts layout),
 * independently of the product's reader: header 48 bytes, then frames of
 * align8(40 + body length). Stops at the first zero header or at the end.
 */
export function parseFrames(bytes: Uint8Array): ParsedFrame[] {
  const out: ParsedFrame[] = [];
  let at = 48;
  while (at + 40 <= bytes.length) {
    const bodyLength = readU32(bytes, at + 4);
    if (bodyLength === 0) break;
    const size = (40 + bodyLength + 7) & ~7;
    const firstLsn = readU64(bytes, at + 8);
    const count = readU32(bytes, at + 24);
    out.push({ offset: at, size, firstLsn, lastLsn: firstLsn + count - 1, syncedThrough: readU64(bytes, at + 32) });
    at += size;
  }
  return out;
}
