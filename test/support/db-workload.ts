/**
 * A deterministic database workload (create collection, insert, upsert, delete by ids and by
 * filter, flush, compact) and its oracle, for the engine's crash and fault tests.
 *
 * Each writer issues operations one after another on its own range of primary keys, so at a
 * power cut each writer has at most one operation in flight (issued, not acknowledged). With
 * several writers their operations interleave with each other and with background flushes and
 * compactions (the races a single writer rarely meets). The oracle, per writer's key range: the
 * recovered rows must equal the model after every acknowledged operation of that writer, or
 * after those plus its one in flight, exactly: every acknowledged row with its latest value, no
 * deleted row back, no row twice, nothing half-applied (a batch is all there or not at all).
 */
import assert from 'node:assert/strict';
import type { FileSystem } from '../../src/fs/fs.js';
import { Database, type DatabaseOptions } from '../../src/db/database.js';
import type { CollectionSchema } from '../../src/db/types.js';
import { Rng } from '../../src/util/rng.js';
import { readManifest } from '../../src/db/manifest.js';

export const COLL = 'docs';
export const DIM = 4;

export const SCHEMA: CollectionSchema = {
  name: COLL,
  enableDynamicField: false,
  metricType: 'L2',
  fields: [
    { name: 'id', dataType: 'Int64', isPrimaryKey: true },
    { name: 'vector', dataType: 'FloatVector', dim: DIM },
    { name: 'text', dataType: 'VarChar', maxLength: 64 },
    { name: 'n', dataType: 'Int32' },
  ],
};

export const DB_WORKLOAD_OPTIONS: DatabaseOptions = {
  memtableBytesMax: 600,
  flushIntervalMs: 0,
  wal: { segmentSizeBytes: 1024, preallocateBytes: 256, retention: { minFiles: 1, maxFiles: 4, maxAgeMs: 0, maxTotalBytes: 1 << 20 } },
};

export interface Value {
  vector: number[];
  text: string;
  n: number;
}
export type Model = Map<bigint, Value>;

type Op = (db: Database, model: Model) => Promise<void>;

function row(rng: Rng, id: bigint, gen: number): { id: bigint } & Value {
  return { id, vector: Array.from({ length: DIM }, () => Math.round(rng.next() * 1000) / 100), text: `row ${id} gen ${gen}`, n: rng.int(100) };
}

/** A writer's key range: ids in [lo, lo + RANGE). */
const RANGE = 1_000_000n;

/** Make the k-th operation of the writer whose ids start at `lo`; it mutates the model only through the returned apply step. */
function makeOp(rng: Rng, k: number, lo: bigint, nextId: { v: bigint }): { run: Op; apply: (m: Model) => void } {
  const r = rng.next();
  if (r < 0.45 || k < 2) {
    const rows = Array.from({ length: 1 + rng.int(4) }, () => row(rng, nextId.v++, k));
    return { run: async (db) => void (await db.insert(COLL, rows)), apply: (m) => rows.forEach(({ id, ...v }) => m.set(id, v)) };
  }
  const pick = () => lo + BigInt(1 + rng.int(Number(nextId.v - lo) - 1));
  if (r < 0.65) {
    const rows = Array.from({ length: 1 + rng.int(3) }, () => row(rng, pick(), k));
    const uniq = [...new Map(rows.map((x) => [x.id, x])).values()];
    return { run: async (db) => void (await db.upsert(COLL, uniq)), apply: (m) => uniq.forEach(({ id, ...v }) => m.set(id, v)) };
  }
  if (r < 0.8) {
    const ids = Array.from({ length: 1 + rng.int(3) }, pick);
    return { run: async (db) => void (await db.delete(COLL, { ids })), apply: (m) => ids.forEach((id) => m.delete(id)) };
  }
  if (r < 0.88) {
    const t = rng.int(100);
    const inRange = (id: bigint) => id >= lo && id < lo + RANGE;
    return {
      run: async (db) => void (await db.delete(COLL, { filter: `n < ${t} and n >= ${t - 5} and id >= ${lo} and id < ${lo + RANGE}` })),
      apply: (m) => { for (const [id, v] of [...m]) if (inRange(id) && v.n < t && v.n >= t - 5) m.delete(id); },
    };
  }
  if (r < 0.94) return { run: async (db) => void (await db.compact(COLL)), apply: () => undefined };
  return { run: async (db) => void (await db.flush()), apply: () => undefined };
}

/** One writer's part of the oracle. */
export interface WriterLog {
  /** Its keys: [lo, hi). */
  lo: bigint;
  hi: bigint;
  /** Its rows after every acknowledged op. */
  acked: Model;
  /** Its rows after the acked ops plus the op in flight at the crash, if any. */
  withInFlight: Model | null;
}

export interface DbWorkloadLog {
  writers: WriterLog[];
  ops: number;
  errors: unknown[];
}

/** A log that accepts exactly `rows` (a second open must find what the first one did). */
export function exactly(rows: Model | null): DbWorkloadLog {
  return { writers: [{ lo: -(2n ** 63n), hi: 2n ** 63n, acked: rows ?? new Map(), withInFlight: null }], ops: 0, errors: [] };
}

/** Run the workload: `writers` writers of `nOps` operations each, concurrently. */
export async function runDbWorkload(fs: FileSystem, dir: string, seed: number, nOps = 14, writers = 1): Promise<DbWorkloadLog> {
  const log: DbWorkloadLog = { writers: [], ops: 0, errors: [] };
  for (let w = 0; w < writers; w++) {
    const lo = BigInt(w) * RANGE;
    log.writers.push({ lo, hi: lo + RANGE, acked: new Map(), withInFlight: null });
  }
  let db: Database;
  try {
    db = await Database.open(dir, { ...DB_WORKLOAD_OPTIONS, fs });
    await db.createCollection(SCHEMA);
  } catch (e) {
    log.errors.push(e);
    for (const wl of log.writers) wl.withInFlight = new Map();
    return log;
  }
  const writer = async (wl: WriterLog, w: number): Promise<void> => {
    const rng = new Rng(w === 0 ? seed : (seed ^ Math.imul(w, 0x9e3779b1)) >>> 0);
    const nextId = { v: wl.lo + 1n };
    for (let k = 0; k < nOps; k++) {
      const op = makeOp(rng, k, wl.lo, nextId);
      const after = new Map(wl.acked);
      op.apply(after);
      try {
        await op.run(db, wl.acked);
        wl.acked = after;
        log.ops++;
      } catch (e) {
        log.errors.push(e);
        wl.withInFlight = after;
        return;
      }
    }
  };
  await Promise.all(log.writers.map(writer));
  await db.close().catch((e) => log.errors.push(e));
  return log;
}

/** Everything in the collection, as a model. */
export async function readModel(fs: FileSystem, dir: string): Promise<Model | null> {
  const db = await Database.open(dir, { ...DB_WORKLOAD_OPTIONS, fs });
  try {
    const m = await modelOf(db);
    await checkManifestAgrees(fs, dir);
    return m;
  } finally {
    await db.close();
  }
}

/** Everything in the collection of an open database, as a model (null without the collection). */
export async function modelOf(db: Database): Promise<Model | null> {
  if (!db.hasCollection(COLL)) return null;
  const rows = await db.read.query(COLL, { outputFields: ['*'], limit: Number.MAX_SAFE_INTEGER });
  const m: Model = new Map();
  for (const r of rows) {
    const id = r.id as bigint;
    assert.ok(!m.has(id), `row ${id} appears twice`);
    m.set(id, { vector: Array.from(r.vector as ArrayLike<number>), text: r.text as string, n: r.n as number });
  }
  return m;
}

/** After open: every segment the manifest names exists with its files, and nothing else is in data/. */
async function checkManifestAgrees(fs: FileSystem, dir: string): Promise<void> {
  const manifest = await readManifest(fs, dir);
  assert.ok(manifest, 'no manifest after open');
  const want = new Map<string, string[]>();
  for (const c of manifest.collections) for (const s of c.segments) want.set(`segment_${String(s.id).padStart(6, '0')}`, ['data.seg', ...s.deleteFiles].sort());
  const have = await fs.readdir(`${dir}/data`);
  assert.deepEqual(have.sort(), [...want.keys()].sort(), 'data/ folders and manifest segments disagree');
  for (const [name, files] of want) assert.deepEqual((await fs.readdir(`${dir}/data/${name}`)).sort(), files, `files of ${name} disagree with the manifest`);
}

function sameModel(a: Model, b: Model): boolean {
  if (a.size !== b.size) return false;
  for (const [id, v] of a) {
    const w = b.get(id);
    if (!w || w.text !== v.text || w.n !== v.n || w.vector.some((x, i) => Math.fround(x) !== Math.fround(v.vector[i]!))) return false;
  }
  return true;
}

export function checkDbRecovered(got: Model | null, log: DbWorkloadLog, what: string): void {
  const g = got ?? new Map<bigint, Value>();
  const outside = [...g.keys()].filter((id) => !log.writers.some((wl) => id >= wl.lo && id < wl.hi));
  if (outside.length > 0) assert.fail(`${what}: rows no writer wrote: ${outside.slice(0, 5).join(',')}`);
  for (const [w, wl] of log.writers.entries()) {
    const mine: Model = new Map([...g].filter(([id]) => id >= wl.lo && id < wl.hi));
    if (sameModel(mine, wl.acked)) continue;
    if (wl.withInFlight && sameModel(mine, wl.withInFlight)) continue;
    const missing = [...wl.acked.keys()].filter((id) => !mine.has(id));
    const extra = [...mine.keys()].filter((id) => !wl.acked.has(id) && !wl.withInFlight?.has(id));
    const who = log.writers.length > 1 ? ` (writer ${w})` : '';
    assert.fail(`${what}${who}: recovered ${mine.size} rows, acked model ${wl.acked.size}; missing ${missing.slice(0, 5).join(',')}; unexpected ${extra.slice(0, 5).join(',')}`);
  }
}
