/**
 * The `vecwal wal` commands, run as the user runs them: the compiled CLI in a child process,
 * against real logs written by Wal in temp directories (small segments, so several files).
 * Damage is made by hand (truncation mid-frame, garbage, a flipped byte) at offsets found by
 * scanning the log, and the results are checked against the bytes and against Wal.open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeFileSystem } from '../../src/fs/node-fs.js';
import { Wal } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { scanSegment } from '../../src/wal/segment-reader.js';
import { Rng } from '../../src/util/rng.js';

// Compiled to dist/test/cli/: the CLI is dist/src/cli/main.js.
const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const T0 = 1_700_000_000_000;
const BATCHES = 30;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, killSignal: 'SIGKILL' }); // never hang the suite
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function cliJson(...args: string[]): Promise<{ run: Run; json: any }> {
  const run = await cli(...args, '--json');
  return { run, json: JSON.parse(run.stdout) };
}

const payloadOf = (lsn: number): Uint8Array => new TextEncoder().encode(`record ${lsn}`);

/** A closed log of BATCHES batches of two records (LSNs 1..60) over several 1 KiB segments. */
async function makeLog(): Promise<{ root: string; dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'vecwal-cli-'));
  const dir = join(root, 'wal');
  const rng = new Rng(7);
  const wal = await Wal.open(dir, { segmentSizeBytes: 1024, preallocateBytes: 0, salt: () => rng.nextU32(), now: () => T0 });
  for (let b = 0; b < BATCHES; b++) {
    const lsn = wal.nextLsn;
    await wal.append([
      { op: b % 3 === 2 ? OpType.Delete : OpType.Insert, payload: payloadOf(lsn) },
      { op: OpType.Upsert, payload: payloadOf(lsn + 1) },
    ], { timestamp: T0 + b });
  }
  await wal.close();
  return { root, dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^wal_\d+\.log$/.test(n)).sort();
}

/** Offsets and first LSNs of the frames of one segment. */
async function framesOf(path: string): Promise<{ at: number; firstLsn: number; size: number }[]> {
  const frames: { at: number; firstLsn: number; size: number }[] = [];
  await scanSegment(new NodeFileSystem(), path, { onFrame: (f, at) => void frames.push({ at, firstLsn: f.firstLsn, size: f.size }) });
  return frames;
}

/** Every file in the directory tree with its bytes: for "nothing was changed" checks. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) for (const [k, v] of await snapshot(p)) out.set(`${e.name}/${k}`, v);
    else out.set(e.name, (await readFile(p)).toString('hex'));
  }
  return out;
}

/** Open the log (default mode), check every record up to `lastLsn`, close. */
async function assertOpensClean(dir: string, lastLsn: number): Promise<void> {
  const wal = await Wal.open(dir);
  try {
    assert.equal(wal.recovery.outcome, 'clean');
    assert.deepEqual(wal.recovery.events, []);
    assert.equal(wal.recovery.lastLsn, lastLsn);
    let n = 0;
    for await (const b of wal.read(1)) {
      for (const r of b.records) {
        assert.equal(r.lsn, ++n);
        assert.deepEqual(r.payload, payloadOf(r.lsn));
      }
    }
    assert.equal(n, lastLsn);
  } finally {
    await wal.close();
  }
}

async function backupDirOf(dir: string): Promise<string> {
  const dirs = (await readdir(dir)).filter((n) => n.startsWith('repair-'));
  assert.equal(dirs.length, 1, `one backup directory in ${dir}`);
  return join(dir, dirs[0]!);
}

test('inspect and verify a clean multi-segment log', async () => {
  const { dir, cleanup } = await makeLog();
  try {
    const names = await segmentNames(dir);
    assert.ok(names.length >= 3, `expected several segments, got ${names.length}`);
    const before = await snapshot(dir);

    const { run, json } = await cliJson('wal', 'inspect', dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(json.segments.length, names.length);
    assert.deepEqual(json.segments.map((s: any) => s.file), names);
    assert.deepEqual(json.totals, { segments: names.length, sizeBytes: json.totals.sizeBytes, batches: BATCHES, records: 2 * BATCHES, lsnRange: [1, 2 * BATCHES] });
    let next = 1;
    for (const [i, s] of json.segments.entries()) {
      assert.equal(s.segmentNo, i + 1);
      assert.equal(s.firstLsn, next, `${s.file} continues the LSNs`);
      assert.equal(s.records, s.lastLsn - s.firstLsn + 1);
      assert.equal(s.batches * 2, s.records);
      assert.deepEqual(s.tail, { state: 'clean' });
      assert.equal(s.createdAt, new Date(T0).toISOString());
      assert.equal(typeof s.salt, 'number');
      assert.equal(s.validBytes, s.sizeBytes);
      next = s.lastLsn + 1;
    }
    assert.equal(next, 2 * BATCHES + 1);

    const human = await cli('wal', 'inspect', dir);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^file\s+size\s+segment\s+first LSN\s+last LSN\s+batches\s+records\s+created at\s+salt\s+tail$/m);
    assert.match(human.stdout, /^wal_000001\.log\s+\d+\s+1\s+1\s+\d+\s+\d+\s+\d+\s+2023-11-14T22:13:20\.000Z\s+0x[0-9a-f]{8}\s+clean$/m);

    const v = await cliJson('wal', 'verify', dir);
    assert.equal(v.run.code, 0);
    assert.equal(v.json.ok, true);
    assert.equal(v.json.status, 'clean');
    assert.deepEqual(v.json.problems, []);
    const vh = await cli('wal', 'verify', dir);
    assert.equal(vh.code, 0);
    assert.match(vh.stdout, /result: OK, clean/);

    assert.deepEqual(await snapshot(dir), before, 'inspect and verify change nothing (not even a LOCK file)');
  } finally {
    await cleanup();
  }
});

test('torn tail (last segment cut mid-frame): verify exits 0 and says so; repair --yes cuts it and keeps the bytes', async () => {
  const { dir, cleanup } = await makeLog();
  try {
    const names = await segmentNames(dir);
    const last = join(dir, names[names.length - 1]!);
    const frames = await framesOf(last);
    const victim = frames[frames.length - 1]!;
    await truncate(last, victim.at + victim.size - 5); // the last frame loses its last bytes
    const torn = await readFile(last);
    const before = await snapshot(dir);

    const v = await cli('wal', 'verify', dir);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, new RegExp(`torn tail: ${names[names.length - 1]} at offset ${victim.at}\\b`));
    assert.match(v.stdout, /result: OK, torn tail: opening would cut/);
    const vj = await cliJson('wal', 'verify', dir);
    assert.equal(vj.json.status, 'repairable');
    assert.equal(vj.json.problems[0].finding, 'torn');
    assert.equal(vj.json.problems[0].offset, victim.at);

    const dry = await cli('wal', 'repair', dir);
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, /DRY RUN/);
    assert.match(dry.stdout, new RegExp(`cut\\s+${names[names.length - 1]}\\s+${victim.at}\\s+${torn.length - victim.at}\\b`));
    assert.deepEqual(await snapshot(dir), before, 'verify and a dry-run repair change nothing');

    const { run, json } = await cliJson('wal', 'repair', dir, '--yes');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(json.recovery.outcome, 'repaired');
    assert.equal(json.after.opensInDefaultMode, true);
    const backup = await backupDirOf(dir);
    assert.equal(json.backupDir, backup);
    const copy = await readFile(join(backup, `${names[names.length - 1]}.cut-at-${victim.at}`));
    assert.deepEqual(copy, torn.subarray(victim.at), 'the copy holds exactly the bytes cut');
    assert.equal((await readFile(last)).length, victim.at);

    await assertOpensClean(dir, victim.firstLsn - 1);
  } finally {
    await cleanup();
  }
});

test('garbage appended after the last frame is a torn tail; repair keeps a copy of it', async () => {
  const { dir, cleanup } = await makeLog();
  try {
    const names = await segmentNames(dir);
    const last = join(dir, names[names.length - 1]!);
    const end = (await readFile(last)).length;
    const garbage = Buffer.from('not a frame, just some junk bytes');
    await appendFile(last, garbage);

    const v = await cli('wal', 'verify', dir);
    assert.equal(v.code, 0);
    assert.match(v.stdout, new RegExp(`torn tail: ${names[names.length - 1]} at offset ${end} \\(${garbage.length} bytes\\)`));

    const r = await cli('wal', 'repair', dir, '--yes');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /check: the log now opens cleanly/);
    assert.deepEqual(await readFile(join(await backupDirOf(dir), `${names[names.length - 1]}.cut-at-${end}`)), garbage);
    await assertOpensClean(dir, 2 * BATCHES);
  } finally {
    await cleanup();
  }
});

test('a corrupted byte in a sealed segment: verify exits 1 naming file and offset; default repair refuses; point-in-time salvages with copies', async () => {
  const { dir, cleanup } = await makeLog();
  try {
    const names = await segmentNames(dir);
    const second = names[1]!;
    const sealed = join(dir, second);
    const victim = (await framesOf(sealed))[1]!;
    const bytes = await readFile(sealed);
    bytes[victim.at + 40 + 8 + 2]! ^= 0xff; // a payload byte of the frame's first record
    await writeFile(sealed, bytes);
    const originals = new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as const)));
    const before = await snapshot(dir);

    const v = await cli('wal', 'verify', dir);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stdout, /result: FAILED/);
    assert.match(v.stdout, new RegExp(`file:\\s+\\S*${second}\\n\\s+offset:\\s+${victim.at}\\n\\s+LSN range:\\s+${victim.firstLsn}\\.\\.`));
    assert.match(v.stdout, /--mode point-in-time: the log would keep/);
    const vj = await cliJson('wal', 'verify', dir);
    assert.equal(vj.run.code, 1);
    assert.equal(vj.json.status, 'corrupt');
    assert.equal(vj.json.open.error.code, 'WAL_CORRUPTED');
    assert.equal(vj.json.open.error.offset, victim.at);
    assert.ok(vj.json.open.error.file.endsWith(second));

    for (const args of [[], ['--yes']]) {
      const r = await cli('wal', 'repair', dir, ...args);
      assert.equal(r.code, 1, `repair ${args.join(' ')} refuses`);
      assert.match(r.stderr, /^error \[WAL_CORRUPTED\]: repair refused/);
      assert.match(r.stderr, new RegExp(`offset:\\s+${victim.at}`));
    }
    const rj = await cliJson('wal', 'repair', dir, '--yes');
    assert.equal(rj.json.error.code, 'WAL_CORRUPTED');
    assert.deepEqual(await snapshot(dir), before, 'verify and refused repairs change nothing');

    const { run, json } = await cliJson('wal', 'repair', dir, '--mode', 'point-in-time', '--yes');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(json.recovery.outcome, 'salvaged');
    const backup = await backupDirOf(dir);
    assert.deepEqual(await readFile(join(backup, `${second}.cut-at-${victim.at}`)), originals.get(second)!.subarray(victim.at));
    for (const n of names.slice(2)) {
      assert.deepEqual(await readFile(join(backup, n)), originals.get(n), `${n} copied whole`);
      assert.deepEqual(await readFile(join(dir, `${n}.dropped`)), originals.get(n), `${n} set aside`);
    }
    await assertOpensClean(dir, victim.firstLsn - 1);
  } finally {
    await cleanup();
  }
});

test('verify is read-only where open would repair: blank last segment, leftover temp file', async () => {
  const { dir, cleanup } = await makeLog();
  try {
    const names = await segmentNames(dir);
    const n = names.length;
    await writeFile(join(dir, `wal_${String(n + 1).padStart(6, '0')}.log`), new Uint8Array(100));
    await writeFile(join(dir, `wal_${String(n + 2).padStart(6, '0')}.log.tmp`), 'half');
    const before = await snapshot(dir);
    const { run, json } = await cliJson('wal', 'verify', dir);
    assert.equal(run.code, 0);
    assert.equal(json.status, 'repairable');
    assert.deepEqual(json.open.steps.map((s: any) => s.action).sort(), ['remove', 'remove']);
    assert.deepEqual(await snapshot(dir), before);
  } finally {
    await cleanup();
  }
});

test('dump: LSN ranges, limit, previews, JSON lines', async () => {
  const { dir, cleanup } = await makeLog();
  try {
    const range = await cli('wal', 'dump', dir, '--from', '5', '--to', '9');
    assert.equal(range.code, 0, range.stderr);
    const lsns = [...range.stdout.matchAll(/^\s+(\d+)\s+(Insert|Upsert|Delete)\s/gm)].map((m) => Number(m[1]));
    assert.deepEqual(lsns, [5, 6, 7, 8, 9]);
    assert.equal([...range.stdout.matchAll(/^# batch LSN/gm)].length, 3, 'batches 5..6, 7..8, 9..10');
    assert.match(range.stdout, /^\s+5\s+Delete\s+2023-11-14T22:13:20\.002Z\s+8\s+"record 5"$/m);

    const limited = await cli('wal', 'dump', dir, '--from', '3', '--limit', '2', '--preview', '3');
    assert.deepEqual([...limited.stdout.matchAll(/^\s+(\d+)\s+[A-Z]/gm)].map((m) => Number(m[1])), [3, 4, 5, 6]);
    assert.match(limited.stdout, /^\s+3\s+Insert\s+\S+\s+8\s+"rec"…$/m);
    assert.match(limited.stdout, /^-- 2 batches, 4 records$/m);

    // Across the first segment boundary: its last batch and the next segment's first.
    const boundary = (await scanSegment(new NodeFileSystem(), join(dir, (await segmentNames(dir))[0]!))).lastLsn;
    const j = await cli('wal', 'dump', dir, '--from', String(boundary), '--to', String(boundary + 3), '--json');
    assert.equal(j.code, 0);
    const lines = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const records = lines.filter((l) => l.type === 'record');
    assert.deepEqual(records.map((r) => r.lsn), [boundary, boundary + 1, boundary + 2, boundary + 3]);
    for (const r of records) {
      assert.deepEqual(new Uint8Array(Buffer.from(r.payload, 'base64')), payloadOf(r.lsn));
      assert.equal(r.length, payloadOf(r.lsn).length);
      assert.equal(r.op, OpType[r.opCode]);
      assert.equal(r.timestamp, new Date(r.timestampMs).toISOString());
      assert.equal(r.batch.firstLsn % 2, 1);
    }
    assert.ok(records.some((r) => r.batch.file !== records[0].batch.file), 'the range spans two segments');
    assert.deepEqual(lines[lines.length - 1], { type: 'summary', batches: 3, records: 4, stopped: false });

    assert.equal((await cli('wal', 'dump', dir, '--from', '9', '--to', '5')).code, 2);
    assert.equal((await cli('wal', 'dump', dir, '--limit', 'many')).code, 2);
  } finally {
    await cleanup();
  }
});

test('dump shows binary payloads as hex and stops at a torn tail, reporting it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'vecwal-cli-'));
  const dir = join(root, 'wal');
  try {
    const wal = await Wal.open(dir, { preallocateBytes: 0 });
    await wal.append({ op: OpType.User, payload: Uint8Array.from([0, 1, 2, 255]) });
    await wal.append({ op: OpType.Marker, payload: new Uint8Array(0) });
    await wal.close();
    const seg = join(dir, 'wal_000001.log');
    const frames = await framesOf(seg);
    await truncate(seg, frames[1]!.at + 12);

    const d = await cli('wal', 'dump', dir);
    assert.equal(d.code, 0, 'a torn tail is not an error');
    assert.match(d.stdout, /^\s+1\s+User\s+\S+\s+4\s+hex 000102ff$/m);
    assert.match(d.stdout, new RegExp(`^-- stopped at wal_000001\\.log offset ${frames[1]!.at}: torn tail`, 'm'));
    const j = await cli('wal', 'dump', dir, '--json');
    const lines = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.find((l) => l.type === 'stop'), { type: 'stop', file: 'wal_000001.log', offset: frames[1]!.at, state: 'torn', reason: 'partial frame header at end of file' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('repair refuses while a Wal is open on the directory (LOCKED)', async () => {
  const { dir, cleanup } = await makeLog();
  const wal = await Wal.open(dir);
  try {
    const r = await cli('wal', 'repair', dir, '--yes');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[LOCKED\]: .*in use/);
    const j = await cliJson('wal', 'repair', dir, '--yes');
    assert.equal(j.json.error.code, 'LOCKED');
    assert.ok(!(await readdir(dir)).some((n) => n.startsWith('repair-')), 'no backup directory was made');
  } finally {
    await wal.close();
    await cleanup();
  }
});

test('usage: unknown commands and bad flags exit 2 with usage on stderr; --help exits 0', async () => {
  const unknown = await cli('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /error \[USAGE\]: unknown command 'frobnicate'/);
  assert.match(unknown.stderr, /usage: vecwal <command>/);
  assert.equal(unknown.stdout, '');
  const none = await cli();
  assert.equal(none.code, 2);
  const sub = await cli('wal', 'frobnicate');
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /usage: vecwal wal <command>/);
  assert.equal((await cli('wal', 'inspect')).code, 2, 'missing <dir>');
  assert.equal((await cli('wal', 'inspect', '--bogus', '.')).code, 2, 'unknown flag');
  assert.equal((await cli('wal', 'repair', '.', '--mode', 'absolute-consistency')).code, 2);
  const j = await cliJson('nope');
  assert.deepEqual(j.json, { error: { code: 'USAGE', message: "unknown command 'nope'" } });

  const help = await cli('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^\s+wal\s+inspect, verify, dump and repair/m);
  const walHelp = await cli('wal', '--help');
  assert.equal(walHelp.code, 0);
  assert.match(walHelp.stdout, /^\s+repair\s/m);
  assert.equal((await cli('wal', 'dump', '--help')).code, 0);

  const missing = await cli('wal', 'verify', join(tmpdir(), 'vecwal-no-such-dir'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error \[INVALID_ARGUMENT\]: .*no such directory/);
});
