/**
 * kill -9 of a real process in the middle of appending, on the real disk, over and over.
 *
 * Goal: whatever moment a writer process dies at, the next open (recovery, lock takeover)
 * finds every acknowledged record with its exact payload, LSNs dense from 1 (no hole), nothing
 * that no writer wrote, and everything earlier rounds recovered still in place: recovery after
 * recovery after recovery, with LSNs that keep growing.
 *
 * Method: a child process (test/wal/kill9-child.ts) opens a Wal on NodeFileSystem in a temp
 * directory and runs 8 concurrent appenders with payloads derived from (round, writer, seq),
 * printing `lsn writer seq` after each append resolves. The parent waits a random 30-300 ms
 * (seeded; usually counted from the child's `ready` line, every 5th round from the spawn, so
 * some kills land during startup or recovery), sends SIGKILL, waits for the process to be
 * reaped (a zombie still "holds" the LOCK file), and reads the acknowledgements it got. It
 * then opens the Wal itself and checks the log against the acknowledgements and against the
 * previous rounds. Every 4th round the child uses syncPolicy 'none': a process kill keeps the
 * page cache, so even unsynced acknowledged records must survive. At least 20 rounds
 * (VECWAL_KILL9_ROUNDS) on the same directory; the seed is printed (VECWAL_SEED to replay the
 * delays; the kill timing itself is not reproducible).
 *
 * Test discovery (Node 20, checked in lib/internal/test_runner/runner.js): given a directory,
 * `node --test` walks it and takes a .js/.cjs/.mjs file if its basename matches
 * /^test(-.+)?\.[cm]?js$|.+[.\-_]test\.[cm]?js$/ OR if the walk has passed through a directory
 * named `test`. So `node --test dist/test/wal/` takes only *.test.js files (the walk starts
 * inside `wal`), but `node --test dist/test/` (npm test) also runs kill9-child.js,
 * support/*.js and fixtures/*.js as test files. The child therefore does nothing without its
 * flag, and the support modules have no side effects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';
import { Rng, seedFromEnv } from '../../src/util/rng.js';
import { runAndKill } from '../support/kill-child.js';
import { CHILD_FLAG, CHILD_WAL_OPTIONS, WRITERS, kill9Payload, parseKill9Payload } from './kill9-child.js';

const CHILD = fileURLToPath(new URL('./kill9-child.js', import.meta.url));
const ROUNDS = Math.max(1, Number(process.env.VECWAL_KILL9_ROUNDS ?? 20));

interface ChildRun {
  readyLsn: number | null;
  acks: { lsn: number; writer: number; seq: number }[];
  done: boolean;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
  killedAfterMs: number;
}

async function runChild(dir: string, round: number, policy: 'always' | 'none', delayMs: number, fromSpawn: boolean): Promise<ChildRun> {
  const { lines, signal, code, stderr, killedAfterMs } = await runAndKill(CHILD, [CHILD_FLAG, dir, String(round), policy], { delayMs, fromSpawn, readyTimeoutMs: 15_000 });
  const run: ChildRun = { readyLsn: null, acks: [], done: false, signal, code, stderr, killedAfterMs };
  for (const line of lines) {
    if (line.startsWith('ready ')) run.readyLsn = Number(line.slice(6));
    else if (line === 'done') run.done = true;
    else {
      const m = /^(\d+) (\d+) (\d+)$/.exec(line);
      assert.ok(m, `unexpected child output line: ${JSON.stringify(line)}`);
      run.acks.push({ lsn: Number(m[1]), writer: Number(m[2]), seq: Number(m[3]) });
    }
  }
  return run;
}

test(`kill -9 during appends, ${ROUNDS} rounds on one directory: every acknowledged record survives`, async (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`seed ${seed} (set VECWAL_SEED to replay the delays)`);
  const rng = new Rng(seed);
  const root = await mkdtemp(join(tmpdir(), 'vecwal-kill9-'));
  const dir = join(root, 'wal');
  /** "round writer seq" of every record verified in earlier rounds, by LSN. */
  const history: string[] = [''];
  let roundsWithAcks = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const policy = round % 4 === 3 ? 'none' : 'always';
      const fromSpawn = round % 5 === 4;
      const delay = 30 + rng.int(271);
      const run = await runChild(dir, round, policy, delay, fromSpawn);
      const what = `round ${round} (seed ${seed}, ${policy}, killed ${delay} ms after ${fromSpawn ? 'spawn' : 'ready'})`;
      assert.equal(run.signal, 'SIGKILL', `${what}: the child ended on its own (code ${run.code}): ${run.stderr}`);
      const prevLast = history.length - 1;
      if (run.readyLsn !== null) assert.equal(run.readyLsn, prevLast + 1, `${what}: the child's open continued the LSNs`);

      const wal = await Wal.open(dir, { ...CHILD_WAL_OPTIONS });
      const keys: string[] = [''];
      try {
        for await (const b of wal.read()) {
          for (const r of b.records) {
            assert.equal(r.lsn, keys.length, `${what}: LSN hole or overlap at ${keys.length}`);
            assert.equal(r.op, OpType.User, `${what}: op of LSN ${r.lsn}`);
            const id = parseKill9Payload(r.payload);
            assert.ok(id, `${what}: LSN ${r.lsn} holds bytes no writer wrote`);
            assert.deepEqual(Buffer.from(r.payload), Buffer.from(kill9Payload(id.round, id.writer, id.seq)), `${what}: payload of LSN ${r.lsn} altered`);
            keys.push(`${id.round} ${id.writer} ${id.seq}`);
          }
        }
        assert.equal(wal.firstLsn, 1);
        assert.equal(wal.lastLsn, keys.length - 1);
        const rep = wal.recovery;
        for (const e of rep.events) assert.ok(e.action === 'truncate' || e.action === 'remove', `${what}: recovery event ${JSON.stringify(e)}`);
        assert.notEqual(rep.outcome, 'salvaged');
        // Earlier rounds: untouched.
        assert.ok(keys.length - 1 >= prevLast, `${what}: the log shrank from ${prevLast} to ${keys.length - 1}`);
        for (let lsn = 1; lsn <= prevLast; lsn++) assert.equal(keys[lsn], history[lsn], `${what}: LSN ${lsn} changed since the last round`);
        // This round: only this round's writers, each a gap-free run of seqs in LSN order.
        const nextSeq = new Array<number>(WRITERS).fill(0);
        for (let lsn = prevLast + 1; lsn < keys.length; lsn++) {
          const [r, w, s] = keys[lsn]!.split(' ').map(Number) as [number, number, number];
          assert.equal(r, round, `${what}: LSN ${lsn} is from round ${r}`);
          assert.ok(w < WRITERS);
          assert.equal(s, nextSeq[w], `${what}: writer ${w} seq ${s} at LSN ${lsn} (expected ${nextSeq[w]}): a hole in what it wrote`);
          nextSeq[w]!++;
        }
        // Every acknowledgement: present at its LSN with its payload.
        for (const a of run.acks) assert.equal(keys[a.lsn], `${round} ${a.writer} ${a.seq}`, `${what}: acknowledged record at LSN ${a.lsn} lost or moved`);
        const recovered = keys.length - 1 - prevLast;
        if (run.acks.length > 0) roundsWithAcks++;
        t.diagnostic(
          `${what}: ${run.acks.length} acks, ${recovered} records recovered (${recovered - run.acks.length} written but unacknowledged), ` +
          `LSN ${prevLast + 1}..${keys.length - 1}; recovery ${rep.outcome}, ${rep.segments} segments, ${rep.records} records, ` +
          `${rep.bytesTruncated} bytes truncated, ${rep.events.length} events, ${rep.removedTempFiles.length} tmp removed, ${rep.durationMs.toFixed(1)} ms`,
        );
      } finally {
        await wal.close();
      }
      history.length = 0;
      history.push(...keys);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  t.diagnostic(`${ROUNDS} rounds, ${roundsWithAcks} with acknowledgements, final last LSN ${history.length - 1}`);
  assert.ok(roundsWithAcks >= Math.ceil(ROUNDS / 2), `too few rounds got to append (${roundsWithAcks}/${ROUNDS}): kills too early?`);
});
