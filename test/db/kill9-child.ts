/**
 * Child process for test/db/kill9.test.ts: writes to a Database on the real disk until killed.
 *
 *   node dist/test/db/kill9-child.js --vecwal-db-kill9-child <dir> <seed> <round> <syncPolicy>
 *
 * Opens the Database in <dir> (NodeFileSystem, a small memtable so that flushes happen while it
 * runs, a flush timer too), creates the collection unless it exists, prints `ready`, then runs
 * the operations of `makeOps(seed, round)` one after another: insert, upsert, delete by ids,
 * delete by filter, now and then flush or compact. After each operation resolves it prints one
 * line `ack <seq> <description>`. The operation sequence depends only on (seed, round), never
 * on what is in the database, so the parent regenerates it to know the operation that was in
 * flight at the kill. stdout is a pipe: on Linux a write to it is synchronous and lines are far
 * below PIPE_BUF, so a printed line is complete and in the pipe before the next operation.
 *
 * Run without the flag (as `node --test dist/test/` does: it runs every .js file under a
 * directory named `test`), it does nothing; importing it has no side effects.
 */
import { Database, type DatabaseOptions } from '../../src/db/database.js';
import type { CollectionSchema } from '../../src/db/types.js';
import { Rng } from '../../src/util/rng.js';
import type { SyncPolicy } from '../../src/wal/wal.js';

export const CHILD_FLAG = '--vecwal-db-kill9-child';
export const COLL = 'k9';
export const DIM = 4;
/** Operations per round; after that the child idles until it is killed. */
export const MAX_OPS = 4000;
/** Ids of round r are r * ID_SPACE + k: fresh inserts never collide with earlier rounds. */
export const ID_SPACE = 1_000_000;

export const SCHEMA: CollectionSchema = {
  name: COLL,
  enableDynamicField: false,
  metricType: 'L2',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim: DIM },
    { name: 'n', dataType: 'Int32' },
    { name: 'tag', dataType: 'VarChar', maxLength: 32 },
  ],
};

export function childOptions(syncPolicy: SyncPolicy): DatabaseOptions {
  return {
    memtableBytesMax: 4096,
    flushIntervalMs: 150,
    wal: { syncPolicy, segmentSizeBytes: 16 * 1024, preallocateBytes: 4096, retention: { minFiles: 1, maxFiles: 8, maxAgeMs: 0, maxTotalBytes: 1 << 24 } },
  };
}

export interface Value {
  vector: number[];
  n: number;
  tag: string;
}

/** The row value an insert or upsert of `id` by operation `gen` writes. */
export function valueFor(id: number, gen: number): Value {
  const h = Math.imul(id ^ Math.imul(gen, 0x9e3779b1), 0x85ebca6b) >>> 0;
  return { vector: [id % 17, gen % 13, (h >>> 8) % 11, (h >>> 16) % 7], n: h % 100, tag: `g${gen}` };
}

export type Op =
  | { kind: 'I' | 'U'; ids: number[]; gen: number }
  | { kind: 'D'; ids: number[] }
  | { kind: 'F'; lo: number; hi: number }
  | { kind: 'S' }
  | { kind: 'C' };

export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'I':
    case 'U':
      return `${op.kind} ${op.ids.join(',')} ${op.gen}`;
    case 'D':
      return `D ${op.ids.join(',')}`;
    case 'F':
      return `F ${op.lo} ${op.hi}`;
    default:
      return op.kind;
  }
}

/** The operations of a round, deterministic in (seed, round). */
export function* makeOps(seed: number, round: number): Generator<Op> {
  const rng = new Rng((seed ^ Math.imul(round + 1, 0x27d4eb2f)) >>> 0);
  let fresh = 0;
  /** An id of this round already used, or of an earlier round (that may or may not exist). */
  const pick = (): number => {
    if (round === 0 || rng.chance(0.6)) return round * ID_SPACE + (fresh === 0 ? 0 : rng.int(fresh));
    return rng.int(round) * ID_SPACE + rng.int(400);
  };
  const distinct = (n: number): number[] => [...new Set(Array.from({ length: n }, pick))];
  for (let seq = 0; seq < MAX_OPS; seq++) {
    const gen = round * ID_SPACE + seq;
    const r = rng.next();
    if (r < 0.5 || fresh < 3) {
      const ids = Array.from({ length: 1 + rng.int(6) }, () => round * ID_SPACE + fresh++);
      yield { kind: 'I', ids, gen };
    } else if (r < 0.7) yield { kind: 'U', ids: distinct(1 + rng.int(3)), gen };
    else if (r < 0.87) yield { kind: 'D', ids: distinct(1 + rng.int(3)) };
    else if (r < 0.95) {
      const lo = rng.int(100);
      yield { kind: 'F', lo, hi: lo + 1 + rng.int(3) };
    } else if (r < 0.97) yield { kind: 'S' };
    else yield { kind: 'C' }; // often enough that sealed segments stay few
  }
}

async function runOp(db: Database, op: Op): Promise<void> {
  switch (op.kind) {
    case 'I':
      await db.insert(COLL, op.ids.map((id) => ({ id, ...valueFor(id, op.gen) })));
      return;
    case 'U':
      await db.upsert(COLL, op.ids.map((id) => ({ id, ...valueFor(id, op.gen) })));
      return;
    case 'D':
      await db.delete(COLL, { ids: op.ids });
      return;
    case 'F':
      await db.delete(COLL, { filter: `n >= ${op.lo} and n < ${op.hi}` });
      return;
    case 'S':
      await db.flush();
      return;
    case 'C':
      await db.compact(COLL);
      return;
  }
}

async function main(dir: string, seed: number, round: number, policy: SyncPolicy): Promise<void> {
  const db = await Database.open(dir, childOptions(policy));
  if (!db.hasCollection(COLL)) await db.createCollection(SCHEMA);
  process.stdout.write(`ready ${db.report.replayedRecords}\n`);
  let seq = 0;
  for (const op of makeOps(seed, round)) {
    await runOp(db, op);
    process.stdout.write(`ack ${seq} ${describeOp(op)}\n`);
    seq++;
  }
  process.stdout.write('done\n');
  setInterval(() => undefined, 1000); // wait for the kill; never close cleanly
}

if (process.argv[2] === CHILD_FLAG) {
  const [dir, seed, round, policy] = process.argv.slice(3);
  main(dir!, Number(seed), Number(round), (policy ?? 'always') as SyncPolicy).catch((e: unknown) => {
    process.stderr.write(`kill9-child: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(2);
  });
}
