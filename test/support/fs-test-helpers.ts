/**
 * Small helpers shared by the filesystem test files (test/fs/*.test.ts).
 *
 * This module only exports functions: `node --test dist/test/` (Node 20) runs every .js file
 * under a directory named `test` as a test file, this one included, and importing it must do
 * nothing.
 */

/** The `code` of the error `p` rejects with ('NO_CODE' when it has none), or undefined when it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? 'NO_CODE';
  }
  return undefined;
}
