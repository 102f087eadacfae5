/**
 * `vecwal import` and the data commands, run as the user runs them: the compiled CLI in a child
 * process against temp directories, results checked by opening the database in-process.
 *
 *   - JSONL and CSV (CRLF, blank lines, quoted fields with commas, quotes and newlines, three
 *     vector spellings) and Parquet (LIST<FLOAT>, GZIP, several row groups) land exactly;
 *   - a bad line stops the import naming the line, and nothing after the last good batch is
 *     written;
 *   - resume: an import child is SIGKILLed at three different points; what survives is exactly
 *     a prefix of the input matching the recorded progress, and re-running completes it with
 *     every row exactly once;
 *   - synthetic imports are deterministic per seed, whatever the batch size;
 *   - search / query / stats / flush / compact / collections --json parse and are right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Database } from '../../src/db/database.js';
import { NodeFileSystem } from '../../src/fs/node-fs.js';
import { Rng } from '../../src/util/rng.js';
import { importIdOf, runImportJob, silentReporter } from '../../src/cli/import.js';
import { syntheticRow } from '../../src/cli/import-sources.js';

// Compiled to dist/test/cli/: the CLI is dist/src/cli/main.js.
const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const DIM = 8;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  progress: { rows: number; position: number }[];
}

/** Run the CLI; `killAfter` progress lines on stderr, SIGKILL it. */
function cli(args: string[], killAfter?: number): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, killSignal: 'SIGKILL' }); // never hang the suite
    const run: Run = { code: null, signal: null, stdout: '', stderr: '', progress: [] };
    let rest = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (run.stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      run.stderr += s;
      const lines = (rest + s).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{"type":"progress"')) continue;
        const p = JSON.parse(line) as { rows: number; position: number };
        run.progress.push({ rows: p.rows, position: p.position });
        if (killAfter !== undefined && run.progress.length >= killAfter && child.exitCode === null) child.kill('SIGKILL');
      }
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ ...run, code, signal }));
  });
}

interface Row {
  id: number;
  vector: number[];
  title: string;
  year: number;
}

/** Rows with float32-exact vectors and titles that stress CSV quoting and UTF-8. */
function makeRows(n: number, seed: number): Row[] {
  const rng = new Rng(seed);
  const titles = ['plain', 'with, comma', 'say "hi"', 'multi\nline', 'é€😀 ünïcode', '  padded  ', ''];
  return Array.from({ length: n }, (_, id) => ({
    id,
    vector: Array.from({ length: DIM }, () => Math.fround(rng.next() * 2 - 1)),
    title: `${titles[id % titles.length]} #${id}`,
    year: 1990 + (id % 35),
  }));
}

function jsonl(rows: Row[]): string {
  // CRLF on some lines, blank lines here and there, no newline after the last line.
  return rows.map((r, i) => JSON.stringify(r) + (i % 7 === 3 ? '\r\n' : '\n') + (i % 97 === 50 ? '\n  \n' : '')).join('').replace(/\r?\n$/, '');
}

function csvField(s: string): string {
  return /[",\n]/.test(s) || s.trim() !== s ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(rows: Row[]): string {
  const vec = (r: Row): string => (r.id % 3 === 0 ? `"${JSON.stringify(r.vector)}"` : r.id % 3 === 1 ? r.vector.join(' ') : r.vector.join(';'));
  return `id,vector,title,year\r\n${rows.map((r) => `${r.id},${vec(r)},${csvField(r.title)},${r.year}\r\n`).join('')}\r\n`;
}

/** Every row of the collection, by id. */
async function dump(dir: string, collection: string): Promise<Map<number, Record<string, unknown>>> {
  const db = await Database.open(dir, { flushIntervalMs: 0 });
  try {
    const rows = await db.read.query(collection, { filter: '', limit: Number.MAX_SAFE_INTEGER, outputFields: ['*'] });
    const out = new Map<number, Record<string, unknown>>();
    for (const r of rows) {
      const id = Number(r.id);
      assert.ok(!out.has(id), `id ${id} present twice`);
      out.set(id, r);
    }
    assert.equal(out.size, rows.length);
    return out;
  } finally {
    await db.close();
  }
}

function assertRowsEqual(got: Map<number, Record<string, unknown>>, want: Row[], what: string): void {
  assert.equal(got.size, want.length, `${what}: row count`);
  for (const w of want) {
    const g = got.get(w.id);
    assert.ok(g, `${what}: id ${w.id} missing`);
    assert.deepEqual(Array.from(g.vector as Float32Array), w.vector, `${what}: vector of ${w.id}`);
    assert.equal(g.title, w.title, `${what}: title of ${w.id}`);
    assert.equal(g.year, w.year, `${what}: year of ${w.id}`);
  }
}

async function withTemp(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'vecwal-import-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('JSONL and CSV import exactly; the data commands answer in JSON', async () => {
  await withTemp(async (root) => {
    const rows = makeRows(700, 1);
    await writeFile(join(root, 'rows.jsonl'), jsonl(rows));
    await writeFile(join(root, 'rows.csv'), csv(rows));
    // Two independent chains (two databases), run side by side to save wall time.
    const dataJ = join(root, 'dbj');
    const dataC = join(root, 'dbc');

    const chainJ = async (): Promise<void> => {
      const a = await cli(['import', join(root, 'rows.jsonl'), '--collection', 'j', '--create', '--dim', String(DIM), '--data', dataJ, '--batch', '64', '--json']);
      assert.equal(a.code, 0, a.stderr);
      const sum = JSON.parse(a.stdout) as { rows: number; totalRows: number; alreadyImported: boolean; importId: string };
      assert.deepEqual([sum.rows, sum.totalRows, sum.alreadyImported], [700, 700, false]);
      assert.equal(a.progress.length, 11, 'one progress line per acknowledged batch');
      assert.equal(a.progress.at(-1)!.position, Buffer.byteLength(jsonl(rows)), 'a finished import ends at the end of the file');
      assertRowsEqual(await dump(dataJ, 'j'), rows, 'jsonl');

      // query: ids as strings, dynamic fields by name.
      const q = await cli(['query', '--data', dataJ, '--collection', 'j', '--filter', 'id in [3, 5, 999] and year > 1990', '--output', 'title,year', '--json']);
      assert.equal(q.code, 0, q.stderr);
      const qj = JSON.parse(q.stdout) as { count: number; rows: Record<string, unknown>[] };
      assert.equal(qj.count, 2);
      assert.deepEqual(qj.rows.sort((x, y) => Number(x.id) - Number(y.id)), [3, 5].map((i) => ({ id: String(i), title: rows[i]!.title, year: rows[i]!.year })));

      // flush, compact, stats, collections.
      const fl = JSON.parse((await cli(['flush', '--data', dataJ, '--json'])).stdout) as { segments: number; checkpointLsn: number };
      assert.equal(fl.segments, 1);
      assert.ok(fl.checkpointLsn > 0);
      const cp = JSON.parse((await cli(['compact', '--data', dataJ, '--collection', 'j', '--json'])).stdout) as { segmentsAfter: number; rowsDropped: number };
      assert.deepEqual([cp.segmentsAfter, cp.rowsDropped], [1, 0]);
      const st = JSON.parse((await cli(['stats', '--data', dataJ, '--json'])).stdout) as { collections: { name: string; rowCount: number; memtableRows: number; sealedSegments: number }[]; checkpointLsn: number; memtableBytes: number };
      assert.deepEqual(st.collections.map((c) => [c.name, c.rowCount, c.memtableRows, c.sealedSegments]), [['j', 700, 0, 1]]);
      assert.equal(st.checkpointLsn, fl.checkpointLsn);
      assert.equal(st.memtableBytes, 0);
      const cols = JSON.parse((await cli(['collections', '--data', dataJ, '--json'])).stdout) as { collections: { name: string; rowCount: number; dim: number; metric: string }[] };
      assert.deepEqual(cols.collections.map((c) => [c.name, c.rowCount, c.dim, c.metric]), [['j', 700, DIM, 'COSINE']]);
      assertRowsEqual(await dump(dataJ, 'j'), rows, 'jsonl after flush and compaction');
    };

    const chainC = async (): Promise<void> => {
      const b = await cli(['import', join(root, 'rows.csv'), '--collection', 'c', '--create', '--dim', String(DIM), '--metric', 'l2', '--data', dataC, '--batch', '100', '--json']);
      assert.equal(b.code, 0, b.stderr);
      assertRowsEqual(await dump(dataC, 'c'), rows, 'csv');
      // search: the vector of row 123 finds row 123 first (L2 distance 0).
      const probe = rows[123]!;
      const s = await cli(['search', '--data', dataC, '--collection', 'c', '--vector', JSON.stringify(probe.vector), '--limit', '3', '--output', 'title', '--json']);
      assert.equal(s.code, 0, s.stderr);
      const sj = JSON.parse(s.stdout) as { metric: string; results: { id: unknown; distance: number; title: string }[] };
      assert.equal(sj.metric, 'L2');
      assert.equal(sj.results.length, 3);
      assert.deepEqual(sj.results[0], { id: '123', title: probe.title, distance: 0 });
      assert.ok(sj.results[1]!.distance > 0);
      const f = await cli(['search', '--data', dataC, '--collection', 'c', '--random', '--seed', '5', '--filter', 'id >= 100 and id < 110', '--limit', '20', '--json']);
      const fj = JSON.parse(f.stdout) as { results: { id: string }[] };
      assert.deepEqual(fj.results.map((r) => Number(r.id)).sort((x, y) => x - y), [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
      // A finished import does nothing.
      const again = await cli(['import', join(root, 'rows.csv'), '--collection', 'c', '--data', dataC]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /already imported: 700 rows/);
      const bf = await cli(['query', '--data', dataC, '--collection', 'c', '--filter', 'id >', '--json']);
      assert.equal((JSON.parse(bf.stdout) as { error: { code: string } }).error.code, 'INVALID_FILTER');
      const nf = await cli(['query', '--data', dataC, '--collection', 'nope', '--filter', 'id > 1', '--json']);
      assert.equal(nf.code, 1);
      assert.equal((JSON.parse(nf.stdout) as { error: { code: string } }).error.code, 'COLLECTION_NOT_FOUND');
    };

    const noDb = async (): Promise<void> => {
      const nd = await cli(['stats', '--data', join(root, 'nothing-here')]);
      assert.equal(nd.code, 1);
      assert.match(nd.stderr, /no vecwal database here/);
    };

    await Promise.all([chainJ(), chainC(), noDb()]);
  });
});

test('a bad line stops the import, naming the line; nothing after the last good batch is written', async () => {
  await withTemp(async (root) => {
    const rows = makeRows(1000, 2);
    const lines = rows.map((r) => JSON.stringify(r));
    lines[636] = '{"id": 636, "vector": [0.1, 0.2'; // line 637: cut short
    await writeFile(join(root, 'bad.jsonl'), `${lines.join('\n')}\n`);
    const data = join(root, 'db');
    const r = await cli(['import', join(root, 'bad.jsonl'), '--collection', 'b', '--create', '--dim', String(DIM), '--data', data, '--batch', '100']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error \[DATA_INVALID\]: line 637: invalid JSON/);
    // Batches 1..6 (rows 0..599) are in; the batch holding line 637 and everything after are not.
    assertRowsEqual(await dump(data, 'b'), rows.slice(0, 600), 'before the bad line');

    // A row the schema refuses (found by insert, not by the parser) is named by line too.
    const rows2 = makeRows(300, 3);
    const l2 = rows2.map((r) => JSON.stringify(r));
    l2[250] = JSON.stringify({ ...rows2[250], vector: [1, 2, 3] });
    await writeFile(join(root, 'dim.jsonl'), l2.join('\n'));
    const r2 = await cli(['import', join(root, 'dim.jsonl'), '--collection', 'b2', '--create', '--dim', String(DIM), '--data', data, '--batch', '50']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /error \[DATA_INVALID\]: line 251: field "vector" has 3 dimensions, expected 8/);
    assertRowsEqual(await dump(data, 'b2'), rows2.slice(0, 250), 'before the refused row');

    // CSV: a record with too many fields.
    await writeFile(join(root, 'bad.csv'), 'id,vector\n1,"[1,2,3,4,5,6,7,8]"\n2,"[1,2,3,4,5,6,7,8]",x\n');
    const r3 = await cli(['import', join(root, 'bad.csv'), '--collection', 'b3', '--create', '--dim', String(DIM), '--data', data]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /error \[DATA_INVALID\]: line 3: 3 fields, but the header names 2/);
  });
});

test('resume after SIGKILL at three points: the survivors are a prefix, the re-run completes it exactly once', async () => {
  await withTemp(async (root) => {
    const rows = makeRows(10_000, 4);
    await writeFile(join(root, 'big.jsonl'), jsonl(rows));
    await writeFile(join(root, 'big.csv'), csv(rows));
    const batches = 200; // --batch 50
    const fs = new NodeFileSystem();
    // The third run uses a tiny memtable: flushes and write backpressure all along the import,
    // the case where the database can hold a write back while a later one would pass it.
    await writeFile(join(root, 'tiny.yaml'), 'memtable:\n  max_size: 16KB\n  max_replay_size: 64MB\n');
    // Three kill points (two files), each in its own database, side by side.
    const points = [['big.jsonl', 2, []], ['big.csv', Math.floor(batches * 0.4), []], ['big.jsonl', Math.floor(batches * 0.8), ['--config', join(root, 'tiny.yaml')]]] as const;
    const results = await Promise.allSettled(points.map(async ([file, killAfter, extra], k) => {
      let data = '';
      let args: string[] = [];
      const collection = `r${k}`;
      let killed: Run | null = null;
      // On a loaded machine the child can write its last progress lines and exit before this
      // process reads the one that triggers the kill: then try again, killing earlier, in a fresh
      // database.
      for (let attempt = 0, at = killAfter; attempt < 3; attempt++, at = Math.max(1, Math.floor(at / 2))) {
        data = join(root, `db${k}-${attempt}`);
        args = ['import', join(root, file), '--collection', collection, '--create', '--dim', String(DIM), '--data', data, '--batch', '50', '--depth', '4', ...extra, '--json'];
        killed = await cli(args, at);
        if (killed.signal === 'SIGKILL') break;
      }
      assert.equal(killed!.signal, 'SIGKILL', `kill point ${k}: the child finished before it was killed, three times (${killed!.progress.length} progress lines)`);
      const seen = killed!.progress.at(-1)!.rows;

      // After the crash: exactly the first `progress.rows` rows, at least what the child saw acknowledged.
      const db = await Database.open(data, { flushIntervalMs: 0 });
      const id = await importIdOf(fs, collection, { kind: 'file', path: join(root, file), format: 'auto' });
      const p = db.importProgress(id);
      const present = db.collectionStats(collection).rowCount;
      await db.close();
      assert.ok(p, 'progress survives the crash');
      assert.ok(p.rows >= seen, `kill point ${k}: ${p.rows} rows recorded < ${seen} acknowledged`);
      assert.equal(present, p.rows, `kill point ${k}: rows present equal the recorded progress`);
      assertRowsEqual(await dump(data, collection), rows.slice(0, p.rows), `kill point ${k}, after the crash`);

      const resumed = await cli(args.filter((a) => a !== '--json'));
      assert.equal(resumed.code, 0, resumed.stderr);
      if (p.rows < rows.length) assert.match(resumed.stdout, new RegExp(`resuming at row ${p.rows.toLocaleString('en-US')} \\(byte ${p.position}\\)`));
      assertRowsEqual(await dump(data, collection), rows, `kill point ${k}, after the re-run`);
      // The recorded progress is the last batch's: batches were logged in input order.
      const db2 = await Database.open(data, { flushIntervalMs: 0 });
      const done = db2.importProgress(id);
      await db2.close();
      assert.deepEqual(done && [done.rows, done.position], [rows.length, (await stat(join(root, file))).size], `kill point ${k}: final progress`);
    }));
    // Every kill point settles before the temporary directory goes, and the first failure is reported.
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  });
});

test('Parquet: LIST<FLOAT> vectors, GZIP pages, several row groups, resumable by row', async () => {
  await withTemp(async (root) => {
    const rows = makeRows(1500, 5);
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'id', data: rows.map((r) => BigInt(r.id)) },
        { name: 'vector', data: rows.map((r) => r.vector) },
        { name: 'title', data: rows.map((r) => r.title) },
        { name: 'year', data: rows.map((r) => r.year) },
      ],
      schema: [
        { name: 'root', num_children: 4 },
        { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
        { name: 'vector', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
        { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
        { name: 'year', type: 'INT32', repetition_type: 'REQUIRED' },
      ],
      codec: 'GZIP',
      compressors: { GZIP: (b: Uint8Array) => new Uint8Array(gzipSync(b)) },
      rowGroupSize: 400,
    });
    await writeFile(join(root, 'rows.parquet'), new Uint8Array(buf));
    const data = join(root, 'db');
    const r = await cli(['import', join(root, 'rows.parquet'), '--collection', 'p', '--create', '--dim', String(DIM), '--data', data, '--batch', '300', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.progress.map((p) => p.position), [300, 400, 700, 800, 1100, 1200, 1500]); // batches end at row-group ends
    assertRowsEqual(await dump(data, 'p'), rows, 'parquet');
    const again = await cli(['import', join(root, 'rows.parquet'), '--collection', 'p', '--data', data]);
    assert.match(again.stdout, /already imported: 1,500 rows/);
  });
});

test('synthetic import is deterministic for a seed, whatever the batch size', async () => {
  await withTemp(async (root) => {
    const n = 700;
    const runs = [['a', '250', '7'], ['b', '64', '7'], ['c', '250', '8']] as const;
    await Promise.all(runs.map(async ([name, batch, seed]) => {
      const r = await cli(['import', '--synthetic', String(n), '--dim', '16', '--collection', 's', '--text', '--seed', seed, '--batch', batch, '--data', join(root, name), '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { rows: number }).rows, n);
    }));
    const [a, b, c] = await Promise.all(runs.map(([name]) => dump(join(root, name), 's')));
    assert.equal(a!.size, n);
    for (let id = 0; id < n; id++) {
      const want = syntheticRow(7, 16, id);
      for (const got of [a!, b!]) {
        const g = got.get(id)!;
        assert.deepEqual(g.vector, want.vector, `vector of ${id}`);
        assert.equal(g.text, want.text);
        assert.ok(want.text.length >= 56 && want.text.length <= 80, want.text);
      }
    }
    assert.notDeepEqual(c!.get(5)!.vector, a!.get(5)!.vector, 'another seed, other vectors');
  });
});

test('batches are logged in input order even when the database holds writes back', async () => {
  // A tiny memtable with plenty of WAL headroom: flushes run all along and writes that find
  // the memtable over twice its limit wait for one, while later writes may find it emptied.
  // Database.insert alone does not keep call order then; the importer must.
  await withTemp(async (root) => {
    const db = await Database.open(join(root, 'db'), { memtableBytesMax: 100_000, replayBytesMax: 64 << 20, flushIntervalMs: 0 });
    const lsns: number[] = [];
    const insert = db.insert.bind(db);
    db.insert = async (name, data, options) => {
      const k = lsns.length;
      lsns.push(-1);
      const r = await insert(name, data, options);
      lsns[k] = r.lsn;
      return r;
    };
    const n = 400 * 200;
    const job = { collection: 's', source: { kind: 'synthetic' as const, rows: n, dim: 64, seed: 1, text: false }, batch: 200, depth: 4 };
    const summary = await runImportJob(db, new NodeFileSystem(), job, silentReporter);
    await db.close();
    assert.equal(summary.rows, n);
    assert.equal(lsns.length, 400);
    for (let k = 1; k < lsns.length; k++) assert.ok(lsns[k]! > lsns[k - 1]!, `batch ${k} got LSN ${lsns[k]} after batch ${k - 1}'s ${lsns[k - 1]}`);
    const again = await Database.open(join(root, 'db'), { flushIntervalMs: 0 });
    const p = again.importProgress(summary.importId);
    const count = again.collectionStats('s').rowCount;
    await again.close();
    assert.deepEqual([p?.rows, p?.position, count], [n, n, n]);
  });
});
