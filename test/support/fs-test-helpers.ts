/**
 * Small helpers shared by the filesystem test files (test/fs/*.test.ts) and the tests that wrap a
 * FileSystem to hold or reshape its operations.
 *
 * This module only exports functions: `node --test dist/test/` (Node 20) runs every .js file
 * under a directory named `test` as a test file, this one included, and importing it must do
 * nothing.
 */
import type { FileHandle, FileSystem, OpenFlags } from '../../src/fs/fs.js';

/** The `code` of the error `p` rejects with ('NO_CODE' when it has none), or undefined when it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? 'NO_CODE';
  }
  return undefined;
}

/** `target` with some properties replaced; every other one read from it (methods bound to it). */
export function withOverrides<T extends object>(target: T, overrides: { [K in keyof T]?: T[K] }): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return (overrides as Record<PropertyKey, unknown>)[prop];
      const v = Reflect.get(t, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** A FileSystem over `fs` whose open() passes every handle it returns through `wrap`. */
export function wrapHandles(fs: FileSystem, wrap: (h: FileHandle) => FileHandle): FileSystem {
  return withOverrides(fs, { open: async (path: string, flags: OpenFlags) => wrap(await fs.open(path, flags)) });
}
