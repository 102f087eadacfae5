/**
 * Only src/fs/node-fs.ts may touch the disk. Everything else goes through the FileSystem seam,
 * or crash tests on the in-memory model would miss real I/O done behind their back.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/test/fs/: the sources are three levels up.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');
const ALLOWED = new Set(['fs/node-fs.ts']);

// import ... from 'fs' | import 'fs' | export ... from 'fs' | import('fs') | require('fs'),
// for 'fs', 'node:fs', 'fs/promises' and 'node:fs/promises'.
const FS_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['"`])(?:node:)?fs(?:\/promises)?\1/;

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

it('the pattern recognises every form of fs import', () => {
  for (const line of [
    "import * as fs from 'node:fs';",
    'import { readFile } from "fs/promises";',
    "import 'fs';",
    "export { open } from 'node:fs/promises';",
    "const fs = await import('node:fs');",
    "const fs = require('fs');",
  ]) assert.match(line, FS_IMPORT, line);
  for (const line of ["import { x } from './fs.js';", "import type { FileSystem } from '../fs/fs.js';", "import os from 'node:os';"]) {
    assert.doesNotMatch(line, FS_IMPORT, line);
  }
});

it('only src/fs/node-fs.ts imports node:fs', async () => {
  const files = await tsFiles(SRC);
  assert.ok(files.length > 3, `found too few sources under ${SRC}`);
  const offenders: string[] = [];
  for (const file of files) {
    const rel = relative(SRC, file).split('\\').join('/');
    if (!ALLOWED.has(rel) && FS_IMPORT.test(await readFile(file, 'utf8'))) offenders.push(rel);
  }
  assert.deepEqual(offenders, []);
});
