/**
 * The streaming line splitter of `vecwal import`: every chunk size (down to one byte, so every
 * multi-byte UTF-8 character and every CRLF is split across chunks somewhere), a last line with
 * and without a newline, blank lines, starting mid-file, invalid UTF-8 named by line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../../src/fs/node-fs.js';
import { LineReader, type Line } from '../../src/cli/line-reader.js';
import { VecwalError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';

const PIECES = ['a', 'é', '€', '😀', ' ', ',', '"', 'xyz', '\u{10FFFF}', 'ß'];

function randomText(rng: Rng, lines: number): { text: string; expected: string[] } {
  const expected: string[] = [];
  let text = '';
  for (let i = 0; i < lines; i++) {
    let line = '';
    const n = rng.int(12);
    for (let k = 0; k < n; k++) line += PIECES[rng.int(PIECES.length)];
    expected.push(line);
    text += line + (rng.chance(0.3) ? '\r\n' : '\n');
  }
  return { text, expected };
}

async function readAll(path: string, chunk: number, start = 0, firstLineNo = 1): Promise<Line[]> {
  const fs = new NodeFileSystem();
  const h = await fs.open(path, 'r');
  try {
    const r = new LineReader(h, start, firstLineNo, chunk);
    const out: Line[] = [];
    for (let l = await r.next(); l !== null; l = await r.next()) out.push(l);
    return out;
  } finally {
    await h.close();
  }
}

test('lines, offsets and numbers are exact for every chunk size', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vecwal-lines-'));
  try {
    const rng = new Rng(11);
    for (const finalNewline of [true, false]) {
      const { text, expected } = randomText(rng, 60);
      const body = finalNewline ? text : text.replace(/\r?\n$/, '');
      const path = join(dir, `f${finalNewline}.txt`);
      const bytes = Buffer.from(body, 'utf8');
      await writeFile(path, bytes);
      for (const chunk of [1, 2, 3, 5, 7, 16, 64, 1 << 16]) {
        const lines = await readAll(path, chunk);
        assert.deepEqual(lines.map((l) => l.text), expected, `chunk ${chunk}, final newline ${finalNewline}`);
        assert.deepEqual(lines.map((l) => l.lineNo), expected.map((_, i) => i + 1));
        // Offsets: each line's bytes are exactly [start, end) minus its line ending.
        let at = 0;
        for (const l of lines) {
          assert.equal(l.start, at);
          const raw = bytes.subarray(l.start, l.end).toString('utf8');
          assert.equal(raw.replace(/\r?\n$/, ''), l.text);
          at = l.end;
        }
        assert.equal(at, bytes.length);
        // Starting at any line boundary yields the rest.
        const k = 1 + rng.int(lines.length - 1);
        const rest = await readAll(path, chunk, lines[k]!.start, k + 1);
        assert.deepEqual(rest.map((l) => [l.text, l.lineNo, l.start, l.end]), lines.slice(k).map((l) => [l.text, l.lineNo, l.start, l.end]));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('empty file, lone newline, blank lines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vecwal-lines-'));
  try {
    const cases: [string, string[]][] = [['', []], ['\n', ['']], ['\r\n\r\n', ['', '']], ['a\n\nb', ['a', '', 'b']], ['x\r', ['x']]];
    for (const [i, [body, want]] of cases.entries()) {
      const path = join(dir, `c${i}.txt`);
      await writeFile(path, body);
      for (const chunk of [1, 4, 1024]) assert.deepEqual((await readAll(path, chunk)).map((l) => l.text), want, JSON.stringify(body));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('invalid UTF-8 is DATA_INVALID naming the line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vecwal-lines-'));
  try {
    const path = join(dir, 'bad.txt');
    await writeFile(path, Buffer.concat([Buffer.from('ok\nfine\n'), Buffer.from([0x61, 0xc3, 0x28, 0x0a]), Buffer.from('after\n')]));
    await assert.rejects(readAll(path, 3), (e: unknown) => e instanceof VecwalError && e.code === 'DATA_INVALID' && /^line 3: not valid UTF-8/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
