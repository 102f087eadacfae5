/**
 * A deterministic database workload (create collection, insert, upsert, delete by ids and by
 * filter, flush, compact) and its oracle, for the engine's crash and fault tests.
 *
 * One writer issues operations one after another, so at a power cut at most one operation is
 * in flight (issued, not acknowledged). The oracle: the recovered collection must equal the
 * model after every acknowledged operation, or after those plus the one in flight, exactly:
 * every acknowledged row with its latest value, no deleted row back, no row twice, nothing
 * half-applied (a batch is all there or not at all).
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

/** Make the k-th operation; it mutates the model only through the returned apply step. */
function makeOp(rng: Rng, k: number, nextId: { v: bigint }): { run: Op; apply: (m: Model) => void } {
  const r = rng.next();
  if (r < 0.45 || k < 2) {
    const rows = Array.from({ length: 1 + rng.int(4) }, () => row(rng, nextId.v++, k));
    return { run: async (db) => void (await db.insert(COLL, rows)), apply: (m) => rows.forEach(({ id, ...v }) => m.set(id, v)) };
  }
  const pick = () => BigInt(1 + rng.int(Number(nextId.v) - 1));
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
    return {
      run: async (db) => void (await db.delete(COLL, { filter: `n < ${t} and n >= ${t - 5}` })),
      apply: (m) => { for (const [id, v] of [...m]) if (v.n < t && v.n >= t - 5) m.delete(id); },
    };
  }
  if (r < 0.94) return { run: async (db) => void (await db.compact(COLL)), apply: () => undefined };
  return { run: async (db) => void (await db.flush()), apply: () => undefined };
}

export interface DbWorkloadLog {
  /** Model after every acknowledged op. */
  acked: Model;
  /** Model after the acked ops plus the op in flight at the crash, if any. */
  withInFlight: Model | null;
  ops: number;
  errors: unknown[];
}

export async function runDbWorkload(fs: FileSystem, dir: string, seed: number, nOps = 14): Promise<DbWorkloadLog> {
  const rng = new Rng(seed);
  const log: DbWorkloadLog = { acked: new Map(), withInFlight: null, ops: 0, errors: [] };
  let db: Database;
  try {
    db = await Database.open(dir, { ...DB_WORKLOAD_OPTIONS, fs });
    await db.createCollection(SCHEMA);
  } catch (e) {
    log.errors.push(e);
    log.withInFlight = new Map();
    return log;
  }
  const nextId = { v: 1n };
  for (let k = 0; k < nOps; k++) {
    const op = makeOp(rng, k, nextId);
    const after = new Map(log.acked);
    op.apply(after);
    try {
      await op.run(db, log.acked);
      log.acked = after;
      log.ops++;
    } catch (e) {
      log.errors.push(e);
      log.withInFlight = after;
      break;
    }
  }
  await db.close().catch((e) => log.errors.push(e));
  return log;
}

/** Everything in the collection, as a model. */
export async function readModel(fs: FileSystem, dir: string): Promise<Model | null> {
  const db = await Database.open(dir, { ...DB_WORKLOAD_OPTIONS, fs });
  try {
    if (!db.hasCollection(COLL)) return null;
    const rows = await db.read.query(COLL, { outputFields: ['*'], limit: Number.MAX_SAFE_INTEGER });
    const m: Model = new Map();
    for (const r of rows) {
      const id = r.id as bigint;
      assert.ok(!m.has(id), `row ${id} appears twice`);
      m.set(id, { vector: Array.from(r.vector as ArrayLike<number>), text: r.text as string, n: r.n as number });
    }
    await checkManifestAgrees(fs, dir);
    return m;
  } finally {
    await db.close();
  }
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
  const g = got ?? new Map();
  if (sameModel(g, log.acked)) return;
  if (log.withInFlight && sameModel(g, log.withInFlight)) return;
  const missing = [...log.acked.keys()].filter((id) => !g.has(id));
  const extra = [...g.keys()].filter((id) => !log.acked.has(id) && !log.withInFlight?.has(id));
  assert.fail(`${what}: recovered ${g.size} rows, acked model ${log.acked.size}; missing ${missing.slice(0, 5).join(',')}; unexpected ${extra.slice(0, 5).join(',')}`);
}
