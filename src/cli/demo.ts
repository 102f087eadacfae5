/**
 * `vecwal demo`: crash safety and resumable import, end to end on the real disk, for a new user.
 *
 *   1. A child process runs `vecwal import --synthetic <rows> --dim <d> --collection demo_docs
 *      --text` into <data>/demo and reports each acknowledged batch (JSON lines on stderr); the
 *      parent draws the progress bar.
 *   2. After 30-60% of the rows are acknowledged, the parent kills it with SIGKILL: no close,
 *      no flush, no goodbye.
 *   3. The parent opens the database (recovery) and prints the report; every row the child saw
 *      acknowledged must be there.
 *   4. It resumes the same import (same import id: no row twice) with a progress bar,
 *   5. checks the row count and spot-checks rows against the generator,
 *   6. runs a few searches with their latency, and closes.
 *
 * `vecwal demo --wal` is the WAL-only demo (src/cli/demo-wal.ts).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { joinPath, removeTree } from '../fs/io.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import { Rng } from '../util/rng.js';
import { EXIT_FAIL, EXIT_OK, formatTable, intFlag, onLines, out, usageErrors, wantsHelp } from './common.js';
import { DEFAULT_DATA_DIR, openDb } from './db-open.js';
import { BarReporter, importIdOf, runImportJob, summaryText, type ImportJob } from './import.js';
import { syntheticRow } from './import-sources.js';

const COLLECTION = 'demo_docs';
const SEED = 42;

export const DEMO_USAGE = `usage: vecwal demo [--data <dir>] [--rows <n>] [--dim <d>] [--batch <rows>]
       vecwal demo --wal [--data <dir>] [--records <n>]

Imports <rows> synthetic documents in a child process, kills it with SIGKILL mid-way, recovers,
resumes the import, verifies every row, and searches. Starts from an empty <dir>/demo each time.
  --data <dir>     parent directory (default ${DEFAULT_DATA_DIR}); the database is <dir>/demo
  --rows <n>       rows to import (default 100000)
  --dim <d>        vector dimension (default 128)
  --batch <rows>   rows per batch (default 2000)
  --wal            the WAL-only demo: 16 concurrent writers appending raw records`;

export async function runDemo(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    out(DEMO_USAGE);
    return EXIT_OK;
  }
  if (argv.includes('--wal')) return (await import('./demo-wal.js')).runWalDemo(argv.filter((a) => a !== '--wal'));
  const { values } = usageErrors('demo', () =>
    parseArgs({
      args: argv,
      strict: true,
      options: {
        data: { type: 'string', default: DEFAULT_DATA_DIR },
        rows: { type: 'string', default: '100000' },
        dim: { type: 'string', default: '128' },
        batch: { type: 'string', default: '2000' },
      },
    }));
  const rows = intFlag(values.rows, 'rows', 10, 'demo')!;
  const dim = intFlag(values.dim, 'dim', 1, 'demo')!;
  const batch = intFlag(values.batch, 'batch', 1, 'demo')!;
  const fs = new NodeFileSystem();
  const dir = joinPath(values.data!, 'demo');
  await removeTree(fs, dir); // every run starts from an empty database
  const job: ImportJob = { collection: COLLECTION, source: { kind: 'synthetic', rows, dim, seed: SEED, text: true }, batch };
  const importId = await importIdOf(fs, COLLECTION, job.source);

  out(`vecwal demo: ${rows.toLocaleString('en-US')} documents (id, ${dim}-d vector, text) into collection ${COLLECTION} in ${dir}`);
  out(`step 1: a child process imports them in batches of ${batch}; each batch is acknowledged once fsynced`);
  const killAt = Math.floor(rows * (0.3 + Math.random() * 0.3));
  const child = await runChild(dir, rows, dim, batch, killAt);
  if (child.failed) {
    out(`the import child failed (exit ${child.code}):\n${child.stderr}`);
    return EXIT_FAIL;
  }
  out(child.killed
    ? `step 2: killed the importer with SIGKILL after ${child.acked.toLocaleString('en-US')} rows acknowledged (${Math.round(child.acked / child.seconds).toLocaleString('en-US')} rows/s)`
    : `step 2: the importer finished (${child.acked} rows) before it could be killed; recovery still runs`);

  out('\nstep 3: reopen the database: recovery replays the write-ahead log');
  const { db } = await openDb(dir);
  let ok = true;
  try {
    const r = db.report;
    const present = db.collectionStats(COLLECTION).rowCount;
    const progress = db.importProgress(importId);
    out(formatTable(['', ''], [
      ['WAL outcome', `${r.wal.outcome} (${r.wal.segments} segment${r.wal.segments === 1 ? '' : 's'}, ${r.wal.bytesTruncated} bytes of torn tail cut)`],
      ['records replayed', `${r.replayedRecords} (checkpoint LSN ${r.checkpointLsn}, last LSN ${r.wal.lastLsn})`],
      ['rows present', present.toLocaleString('en-US')],
      ['import progress', progress ? `${progress.rows.toLocaleString('en-US')} rows, resumes at row ${progress.position}` : 'none'],
      ['open took', `${r.durationMs.toFixed(0)} ms`],
    ]).split('\n').slice(1).map((l) => `  ${l}`).join('\n'));
    for (const e of r.wal.events) out(`  ${e.finding} at ${e.file}:${e.offset}: ${e.reason} -> ${e.action}`);
    const acked = present >= child.acked && present === (progress?.rows ?? 0);
    ok &&= acked;
    out(acked
      ? `  every acknowledged row survived: ${present.toLocaleString('en-US')} present >= ${child.acked.toLocaleString('en-US')} the child saw acknowledged, and exactly what the import progress records`
      : `  MISMATCH: ${present} rows present, the child saw ${child.acked} acknowledged, progress says ${progress?.rows ?? 0}`);

    out('\nstep 4: resume the import (same import id: it continues after the last acknowledged batch)');
    const summary = await runImportJob(db, fs, job, {
      start: (info) => {
        if (info.resumed) out(`  resuming at row ${info.resumed.rows.toLocaleString('en-US')}`);
        bar.start(info);
      },
      ack: (p) => bar.ack(p),
      stop: () => bar.stop(),
    });
    out(summaryText(summary).split('\n').map((l) => `  ${l}`).join('\n'));

    out('\nstep 5: verify');
    const count = db.collectionStats(COLLECTION).rowCount;
    const countOk = count === rows;
    ok &&= countOk;
    out(`  row count ${count.toLocaleString('en-US')}: ${countOk ? 'exactly' : 'EXPECTED'} ${rows.toLocaleString('en-US')}${countOk ? ', no row lost, none twice' : ''}`);
    const rng = new Rng(Date.now() >>> 0);
    const ids = [...new Set([0, 1, Math.floor(rows / 2), rows - 1, rng.int(rows), rng.int(rows), child.acked, Math.min(rows - 1, child.acked + 1)])].filter((i) => i >= 0 && i < rows);
    const got = await db.read.get(COLLECTION, ids, ['vector', 'text']);
    const byId = new Map(got.map((g) => [Number(g.id), g]));
    let same = 0;
    for (const id of ids) {
      const want = syntheticRow(SEED, dim, id);
      const row = byId.get(id);
      if (row && row.text === want.text && equalVectors(row.vector as Float32Array, want.vector)) same++;
    }
    ok &&= same === ids.length;
    out(`  spot-checked ids ${ids.join(', ')}: ${same === ids.length ? 'all equal to the generator, vector and text' : `${ids.length - same} DIFFER`}`);

    out('\nstep 6: search (exact top-5, COSINE; after one untimed warm-up search that compiles the kernel)');
    await db.read.search(COLLECTION, { data: randomVector(rng, dim), limit: 5 });
    const probe = syntheticRow(SEED, dim, Math.floor(rows / 3));
    const searches: { title: string; vector: ArrayLike<number>; filter?: string }[] = [
      { title: `the vector of document ${probe.id} (it should find itself first)`, vector: probe.vector },
      { title: 'a random vector', vector: randomVector(rng, dim) },
      { title: 'a random vector', vector: randomVector(rng, dim) },
      { title: 'a random vector, filter "id >= 1000 and id < 2000"', vector: randomVector(rng, dim), filter: 'id >= 1000 and id < 2000' },
    ];
    for (const s of searches) {
      const t0 = performance.now();
      const [hits] = await db.read.search(COLLECTION, { data: s.vector, limit: 5, outputFields: ['text'], ...(s.filter ? { filter: s.filter } : {}) });
      const ms = performance.now() - t0;
      out(`  ${s.title}: ${ms.toFixed(1)} ms`);
      out(formatTable(['rank', 'id', 'distance', 'text'], (hits ?? []).map((h, i) => [i + 1, String(h.id), Number(h.distance.toFixed(4)), String(h.text)])).split('\n').map((l) => `    ${l}`).join('\n'));
    }
  } finally {
    await db.close();
  }
  out(`\n${ok ? 'demo passed' : 'demo FAILED'}. Explore: npx vecwal stats --data ${dir}; npx vecwal search --data ${dir} --collection ${COLLECTION} --random --output text`);
  return ok ? EXIT_OK : EXIT_FAIL;
}

const bar = new BarReporter('resuming');

function equalVectors(a: ArrayLike<number> | undefined, b: ArrayLike<number>): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function randomVector(rng: Rng, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = rng.next() * 2 - 1;
  return v;
}

interface ChildResult {
  acked: number;
  killed: boolean;
  failed: boolean;
  code: number | null;
  seconds: number;
  stderr: string;
}

/** Run the import in a child process; SIGKILL it once `killAt` rows are acknowledged. */
function runChild(dir: string, rows: number, dim: number, batch: number, killAt: number): Promise<ChildResult> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const args = [main, 'import', '--synthetic', String(rows), '--dim', String(dim), '--collection', COLLECTION, '--text', '--seed', String(SEED), '--data', dir, '--batch', String(batch), '--json'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const progressBar = new cliProgress.SingleBar({ format: ' importing |{bar}| {value}/{total} rows acknowledged | {speed} rows/s', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
  progressBar.start(rows, 0, { speed: '-' });
  const t0 = performance.now();
  const res: ChildResult = { acked: 0, killed: false, failed: false, code: null, seconds: 0, stderr: '' };
  onLines(child.stderr, (lines) => {
    for (const line of lines) {
      const ev = progressEvent(line);
      if (ev === null) res.stderr += `${line}\n`;
      if (ev?.type !== 'progress' || typeof ev.rows !== 'number') continue;
      res.acked = Math.max(res.acked, ev.rows);
      progressBar.update(res.acked, { speed: (ev.rowsPerSec ?? 0).toLocaleString('en-US') });
      if (res.acked >= killAt && !res.killed && child.exitCode === null) {
        res.killed = child.kill('SIGKILL');
        res.seconds = (performance.now() - t0) / 1000;
      }
    }
  });
  return new Promise((done) =>
    child.on('close', (code) => {
      progressBar.stop();
      res.code = code;
      if (!res.killed) res.seconds = (performance.now() - t0) / 1000;
      res.failed = !res.killed && code !== 0;
      done(res);
    }));
}

function progressEvent(line: string): { type?: string; rows?: number; rowsPerSec?: number } | null {
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null ? (v as { type?: string; rows?: number; rowsPerSec?: number }) : null;
  } catch {
    return null;
  }
}
