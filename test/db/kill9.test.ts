/**
 * kill -9 of a process writing to a Database on the real disk, over and over on one directory.
 *
 * Goal: whatever moment the writer dies at (mid-insert, mid-flush, mid-compaction, during
 * recovery itself), the next open finds every acknowledged effect: inserted rows present with
 * their exact values unless later deleted, deleted rows absent, upserts at their newest value,
 * nothing that no operation wrote, and every earlier round's state intact.
 *
 * Method: a child process (test/db/kill9-child.ts) opens the Database in a temp directory and
 * runs a deterministic sequence of operations (seeded by the test seed and the round), printing
 * `ack <seq> <op>` after each one resolves. The parent waits a random 80-600 ms (seeded) from
 * the child's `ready` line, or every 4th round 100-1000 ms from the spawn (so that some kills
 * land during startup and recovery), sends SIGKILL, waits until the process is reaped,
 * regenerates the operation sequence (checking it against the acknowledgements) and applies the
 * acknowledged operations to its model. It then opens the Database itself and requires the recovered collection to equal
 * the model, or the model plus the one operation that was in flight. What it finds becomes the
 * model for the next round. Every 3rd round the child uses syncPolicy 'none' (a process kill
 * keeps the page cache, so acknowledged writes must survive that too). VECWAL_DB_KILL9_ROUNDS
 * sets the number of rounds (default 12); the seed is printed (VECWAL_SEED replays the
 * operations and delays; the kill timing itself is not reproducible).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database } from '../../src/db/database.js';
import { Rng, seedFromEnv } from '../../src/util/rng.js';
import { runAndKill } from '../support/kill-child.js';
import { CHILD_FLAG, COLL, describeOp, makeOps, valueFor, type Op, type Value } from './kill9-child.js';

const CHILD = fileURLToPath(new URL('./kill9-child.js', import.meta.url));
const ROUNDS = Math.max(1, Number(process.env.VECWAL_DB_KILL9_ROUNDS ?? 12));

type Model = Map<number, Value>;

interface ChildRun {
  ready: boolean;
  acks: { seq: number; desc: string }[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

async function runChild(dir: string, seed: number, round: number, policy: string, delayMs: number, fromSpawn: boolean): Promise<ChildRun> {
  const { lines, signal, code, stderr } = await runAndKill(CHILD, [CHILD_FLAG, dir, String(seed), String(round), policy], { delayMs, fromSpawn, readyTimeoutMs: 20_000 });
  const run: ChildRun = { ready: false, acks: [], signal, code, stderr };
  for (const line of lines) {
    if (line.startsWith('ready ')) run.ready = true;
    else if (line === 'done') continue;
    else {
      const m = /^ack (\d+) (.+)$/.exec(line);
      assert.ok(m, `unexpected child output line: ${JSON.stringify(line)}`);
      run.acks.push({ seq: Number(m[1]), desc: m[2]! });
    }
  }
  return run;
}

/** Apply one operation to a model (a copy). */
function apply(model: Model, op: Op): Model {
  const m = new Map(model);
  switch (op.kind) {
    case 'I':
      for (const id of op.ids) {
        assert.ok(!m.has(id), `model: insert of existing id ${id}`);
        m.set(id, valueFor(id, op.gen));
      }
      break;
    case 'U':
      for (const id of op.ids) m.set(id, valueFor(id, op.gen));
      break;
    case 'D':
      for (const id of op.ids) m.delete(id);
      break;
    case 'F':
      for (const [id, v] of model) if (v.n >= op.lo && v.n < op.hi) m.delete(id);
      break;
  }
  return m;
}

async function readAll(dir: string): Promise<{ rows: Model; replayed: number; orphans: number }> {
  const db = await Database.open(dir, { flushIntervalMs: 0 });
  try {
    const rows: Model = new Map();
    if (db.hasCollection(COLL)) {
      for (const r of await db.read.query(COLL, { outputFields: ['*'], limit: Number.MAX_SAFE_INTEGER })) {
        const id = Number(r.id as bigint);
        assert.ok(!rows.has(id), `row ${id} appears twice`);
        rows.set(id, { vector: Array.from(r.vector as Float32Array), n: r.n as number, tag: r.tag as string });
      }
      assert.equal(db.collectionStats(COLL).rowCount, rows.size, 'collectionStats.rowCount agrees with a full scan');
    }
    return { rows, replayed: db.report.replayedRecords, orphans: db.report.orphansRemoved.length };
  } finally {
    await db.close();
  }
}

function diff(got: Model, want: Model): string | null {
  const missing = [...want.keys()].filter((id) => !got.has(id));
  const extra = [...got.keys()].filter((id) => !want.has(id));
  const changed = [...want].filter(([id, v]) => got.has(id) && JSON.stringify(got.get(id)) !== JSON.stringify(v)).map(([id]) => id);
  if (missing.length + extra.length + changed.length === 0) return null;
  const show = (xs: number[]) => `${xs.length} [${xs.slice(0, 6).join(',')}${xs.length > 6 ? ',...' : ''}]`;
  return `missing ${show(missing)}, unexpected ${show(extra)}, wrong value ${show(changed)}${changed.length ? ` (e.g. ${changed[0]}: got ${JSON.stringify(got.get(changed[0]!))}, want ${JSON.stringify(want.get(changed[0]!))})` : ''}`;
}

test(`kill -9 during database writes, ${ROUNDS} rounds on one directory: every acknowledged effect survives`, async (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`seed ${seed} (set VECWAL_SEED to replay the operations and delays)`);
  const rng = new Rng(seed);
  const root = await mkdtemp(join(tmpdir(), 'vecwal-db-kill9-'));
  const dir = join(root, 'db');
  let model: Model = new Map();
  let roundsWithAcks = 0;
  let totalAcks = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const policy = round % 3 === 2 ? 'none' : 'always';
      const fromSpawn = round % 4 === 3;
      const delay = fromSpawn ? 100 + rng.int(900) : 80 + rng.int(521);
      const run = await runChild(dir, seed, round, policy, delay, fromSpawn);
      const what = `round ${round} (seed ${seed}, ${policy}, killed ${delay} ms after ${fromSpawn ? 'spawn' : 'ready'})`;
      assert.equal(run.signal, 'SIGKILL', `${what}: the child ended on its own (code ${run.code}): ${run.stderr}`);

      // Replay the acknowledged operations on the model; the next one was in flight (or not issued).
      const ops = makeOps(seed, round);
      let acked = model;
      for (const [i, a] of run.acks.entries()) {
        assert.equal(a.seq, i, `${what}: acknowledgements out of order`);
        const op = ops.next().value as Op;
        assert.equal(a.desc, describeOp(op), `${what}: the child ran a different operation ${a.seq} than the parent regenerated`);
        acked = apply(acked, op);
      }
      const next = run.ready ? (ops.next().value as Op | undefined) : undefined;
      const withInFlight = next ? apply(acked, next) : null;

      const got = await readAll(dir);
      const d1 = diff(got.rows, acked);
      const d2 = withInFlight ? diff(got.rows, withInFlight) : 'n/a';
      assert.ok(d1 === null || d2 === null, `${what}: recovered ${got.rows.size} rows; vs acknowledged model (${acked.size} rows): ${d1}; vs model + in-flight ${next ? describeOp(next) : '-'}: ${d2}`);
      // Stable: a second open finds the same.
      const again = await readAll(dir);
      assert.equal(diff(again.rows, got.rows), null, `${what}: second open differs`);
      model = got.rows;
      totalAcks += run.acks.length;
      if (run.acks.length > 0) roundsWithAcks++;
      t.diagnostic(`${what}: ${run.acks.length} ops acknowledged, in flight ${next ? describeOp(next) : 'none'}, recovered state = ${d1 === null ? 'acknowledged' : 'acknowledged + in flight'}, ${got.rows.size} rows, ${got.replayed} WAL records replayed, ${got.orphans} orphans removed`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  t.diagnostic(`${ROUNDS} rounds, ${roundsWithAcks} with acknowledgements, ${totalAcks} operations acknowledged, ${model.size} rows at the end`);
  // A sanity check of the harness, not of the database: on a loaded machine a slow start or a
  // slow fsync can leave many rounds without an acknowledgement, so only a few are required.
  assert.ok(roundsWithAcks >= Math.min(2, ROUNDS), `too few rounds got to write (${roundsWithAcks}/${ROUNDS}): is the child broken, or are the kills too early?`);
});
