/**
 * Data segment files (src/segment/): golden bytes (the worked example of
 * docs/format/segment.md), round trips, detection of every truncation and every bit flip
 * (SEGMENT_CORRUPTED or BAD_FORMAT, never wrong data), crash safety of writeSegment at every
 * mutating filesystem operation, findRow against brute force, delete files, and the committed
 * v1 fixture (test/fixtures/segment-v1, made by test/fixtures/make-segment-v1.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { FaultInjectingFileSystem, crashAtWrite } from '../../src/fs/fault-fs.js';
import { NodeFileSystem } from '../../src/fs/node-fs.js';
import { readFile } from '../../src/fs/io.js';
import type { FileSystem } from '../../src/fs/fs.js';
import { SegmentReader, readDeleteFile, writeDeleteFile, writeSegment } from '../../src/segment/segment-file.js';
import { DATA_FILE, parseSegmentDirName, segmentDirName } from '../../src/segment/format.js';
import type { CollectionSchema, ColumnBatch, ColumnData, PrimaryKey } from '../../src/db/types.js';
import { isVecwalError, type ErrorCode } from '../../src/errors.js';
import { concatBatches, sliceBatch } from '../../src/db/columns.js';
import { seedFromEnv } from '../../src/util/rng.js';
import { canon, hex, schemaOf } from '../support/batches.js';
import { withOverrides, wrapHandles } from '../support/fs-test-helpers.js';
import { FIXTURE_DELETES, FIXTURE_DELETE_FILE, FIXTURE_DIR, FIXTURE_META, FIXTURE_SCHEMA, fixtureBatch } from '../fixtures/make-segment-v1.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures');
const DIR = '/db/data/segment_000001';
const META = { segmentId: 1, collectionId: 2, minLsn: 3, maxLsn: 4 };

/** The golden segment: Int64 ids given unsorted (so the pk index sorts), 2-d vectors. */
const GOLDEN_SCHEMA = schemaOf([{ name: 'id', dataType: 'Int64', isPrimaryKey: true }, { name: 'v', dataType: 'FloatVector', dim: 2 }]);
const goldenBatch = (): ColumnBatch => ({
  count: 2,
  columns: new Map<string, ColumnData>([['id', { type: 'Int64', values: BigInt64Array.of(5n, -1n) }], ['v', { type: 'FloatVector', values: Float32Array.of(1, 2, 3, 4), dim: 2 }]]),
});
const GOLDEN_SEGMENT =
  '565345474441540a01004000020003000100000000000000020000000000000002000000000000000300000000000000040000000000000000000000882fbdf3' + // header
  '000005000000000010000000000000000500000000000000ffffffffffffffff' + // id column block
  '01000b000200000010000000000000000000803f000000400000404000008040' + // vector column block
  'feff0500000000001800000000000000ffffffffffffffff05000000000000000100000000000000' + // pk index block
  '00000500a42f2bbc40000000000000002000000000000000' + // index: id
  '01000b0030ba863c60000000000000002000000000000000' + // index: v
  'feff050019b42a3c80000000000000002800000000000000' + // index: pk index
  'a800000000000000030000008fda388256534547454e440a'; // tail

async function writeTo(fs: FileSystem, schema: CollectionSchema, batch: ColumnBatch, meta = META): Promise<Uint8Array> {
  await writeSegment(fs, DIR, meta, schema, batch);
  return readFile(fs, `${DIR}/${DATA_FILE}`);
}

async function readBack(fs: FileSystem, schema: CollectionSchema): Promise<ColumnBatch> {
  const r = await SegmentReader.open(fs, DIR, schema);
  try {
    return await r.readAll();
  } finally {
    await r.close();
  }
}

/** A filesystem holding `bytes` as the segment's data.seg. */
async function fsWith(bytes: Uint8Array): Promise<CrashableMemFileSystem> {
  const fs = new CrashableMemFileSystem();
  await fs.mkdir(DIR, { recursive: true });
  const h = await fs.open(`${DIR}/${DATA_FILE}`, 'w');
  await h.write(bytes, 0, bytes.length, 0);
  await h.close();
  return fs;
}

async function rejectsWith(p: Promise<unknown>, codes: ErrorCode[], what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => codes.some((c) => isVecwalError(e, c)) || assert.fail(`${what}: ${String(e)}`), what);
}

/** Open, read every column, look up every key: the damaged file must fail somewhere. */
async function readEverything(fs: FileSystem, schema: CollectionSchema, keys: PrimaryKey[]): Promise<void> {
  const r = await SegmentReader.open(fs, DIR, schema);
  try {
    await r.readAll();
    for (const k of keys) r.findRow(k);
  } finally {
    await r.close();
  }
}

// ---------------------------------------------------------------------------------------------

test('golden bytes of a tiny segment', async () => {
  const bytes = await writeTo(new CrashableMemFileSystem(), GOLDEN_SCHEMA, goldenBatch());
  assert.equal(hex(bytes), GOLDEN_SEGMENT, `actual: '${hex(bytes)}'`);
  const r = await SegmentReader.open(await fsWith(bytes), DIR, GOLDEN_SCHEMA);
  assert.deepEqual({ ...r.meta }, META);
  assert.equal(r.rowCount, 2);
  assert.deepStrictEqual(canon(await r.readAll()), canon(goldenBatch()));
  assert.deepEqual([r.findRow(5n), r.findRow(-1n), r.findRow(0n)], [0, 1, -1]);
  await r.close();
});

test('every truncation of a segment is SEGMENT_CORRUPTED', async () => {
  const bytes = await writeTo(new CrashableMemFileSystem(), GOLDEN_SCHEMA, goldenBatch());
  for (let len = 0; len < bytes.length; len++) {
    await rejectsWith(readEverything(await fsWith(bytes.subarray(0, len)), GOLDEN_SCHEMA, [5n]), ['SEGMENT_CORRUPTED'], `truncated to ${len}`);
  }
  const longer = new Uint8Array(bytes.length + 8);
  longer.set(bytes);
  await rejectsWith(readEverything(await fsWith(longer), GOLDEN_SCHEMA, [5n]), ['SEGMENT_CORRUPTED'], 'zeros appended');
});

/** The fixture's schema and batch, with a VarChar primary key instead: covers the other pk index. */
function varcharVariant(): { schema: CollectionSchema; batch: ColumnBatch } {
  const batch = fixtureBatch();
  const schema = { ...FIXTURE_SCHEMA, fields: FIXTURE_SCHEMA.fields.map((f) => (f.name === 'id' ? { ...f, isPrimaryKey: false } : f.name === 'title' ? { ...f, isPrimaryKey: true } : f)) };
  return { schema, batch };
}

test('every single-bit flip of a segment is detected: BAD_FORMAT in magic/version, else SEGMENT_CORRUPTED', async () => {
  const cases = [
    { schema: GOLDEN_SCHEMA, batch: goldenBatch(), keys: [5n, -1n] as PrimaryKey[] },
    { ...varcharVariant(), keys: ['alpha', '', 'z'] as PrimaryKey[] },
  ];
  for (const c of cases) {
    const bytes = await writeTo(new CrashableMemFileSystem(), c.schema, c.batch);
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const g = bytes.slice();
        g[i]! ^= 1 << bit;
        await rejectsWith(readEverything(await fsWith(g), c.schema, c.keys), [i < 10 ? 'BAD_FORMAT' : 'SEGMENT_CORRUPTED'], `byte ${i} bit ${bit}`);
      }
    }
  }
});

test('round trip: every data type, nulls, dynamic field, VarChar pk, zero rows', async () => {
  for (const { schema, batch } of [{ schema: FIXTURE_SCHEMA, batch: fixtureBatch() }, varcharVariant()]) {
    const fs = new CrashableMemFileSystem();
    await writeTo(fs, schema, batch);
    const back = await readBack(fs, schema);
    assert.deepStrictEqual(canon(back), canon(await readBack(await fsWith(await readFile(fs, `${DIR}/${DATA_FILE}`)), schema)));
    // Values as the column codec returns them (null rows hold placeholders), then exactly.
    const r = await SegmentReader.open(fs, DIR, schema);
    assert.equal(r.hasDynamic, true);
    assert.deepEqual(Array.from((await r.readColumn('id')).values as BigInt64Array), Array.from(batch.columns.get('id')!.values as BigInt64Array));
    assert.deepEqual((await r.readColumn('title')).values, batch.columns.get('title')!.values);
    assert.deepEqual(await r.readDynamic(), batch.dynamic);
    assert.deepStrictEqual(canon({ count: 6, columns: new Map([['vec', await r.readColumn('vec')]]) }), canon({ count: 6, columns: new Map([['vec', batch.columns.get('vec')!]]) }));
    await r.close();
  }
  const empty: ColumnBatch = { count: 0, columns: new Map<string, ColumnData>([['id', { type: 'Int64', values: new BigInt64Array(0) }], ['v', { type: 'FloatVector', values: new Float32Array(0), dim: 2 }]]) };
  const fs = new CrashableMemFileSystem();
  await writeTo(fs, GOLDEN_SCHEMA, empty);
  const r = await SegmentReader.open(fs, DIR, GOLDEN_SCHEMA);
  assert.equal(r.rowCount, 0);
  assert.equal(r.findRow(1n), -1);
  assert.deepStrictEqual(canon(await r.readAll()), canon(empty));
  await r.close();
});

test('property: a segment written from several batches has the bytes of one written from their concatenation', async (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  const cases = [{ schema: FIXTURE_SCHEMA, batch: fixtureBatch() }, varcharVariant(), { schema: GOLDEN_SCHEMA, batch: goldenBatch() }];
  // Batches without the dynamic column mixed with batches that have it: missing rows are null.
  const noDynamic = (b: ColumnBatch): ColumnBatch => ({ count: b.count, columns: b.columns });
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: cases.length - 1 }), fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 5 }), fc.boolean(), async (ci, cutsRaw, dropDynamic) => {
    const { schema, batch } = cases[ci]!;
    const cuts = [0, ...cutsRaw.map((c) => Math.min(c, batch.count)).sort((a, b) => a - b), batch.count];
    let parts = cuts.slice(1).map((end, i) => sliceBatch(batch, cuts[i]!, end));
    if (dropDynamic && batch.dynamic) parts = parts.map((p, i) => (i % 2 === 0 ? noDynamic(p) : p));
    const whole = concatBatches(schema, parts);
    const want = await writeTo(new CrashableMemFileSystem(), schema, whole);
    const fs = new CrashableMemFileSystem();
    const { bytes } = await writeSegment(fs, DIR, META, schema, parts);
    const got = await readFile(fs, `${DIR}/${DATA_FILE}`);
    assert.equal(bytes, got.length);
    assert.equal(hex(got), hex(want));
  }), { seed, numRuns: 60 });
  // No batches at all: an empty segment.
  const fs = new CrashableMemFileSystem();
  await writeSegment(fs, DIR, META, GOLDEN_SCHEMA, []);
  const r = await SegmentReader.open(fs, DIR, GOLDEN_SCHEMA);
  assert.equal(r.rowCount, 0);
  await r.close();
});

test('a large vector column (written straight through in 16 MiB writes, each fdatasynced; verified in chunks) round trips', async () => {
  const rows = 6000; // 17.6 MiB of vectors
  const dim = 768;
  const values = new Float32Array(rows * dim).map((_, i) => Math.fround(Math.sin(i)));
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(rows - i) * 1_000_003n);
  const schema = schemaOf([{ name: 'id', dataType: 'Int64', isPrimaryKey: true }, { name: 'v', dataType: 'FloatVector', dim }]);
  const batch: ColumnBatch = { count: rows, columns: new Map<string, ColumnData>([['id', { type: 'Int64', values: ids }], ['v', { type: 'FloatVector', values, dim }]]) };
  const fs = new CrashableMemFileSystem();
  // The writer hands the disk one 16 MiB batch at a time (fdatasync after each, then fsync at the end).
  const syncs: string[] = [];
  const counting = wrapHandles(fs, (h) => withOverrides(h, { datasync: async () => (syncs.push('datasync'), h.datasync()), sync: async () => (syncs.push('sync'), h.sync()) }));
  const { bytes } = await writeSegment(counting, DIR, META, schema, batch);
  assert.ok(bytes > 16 * 1024 * 1024);
  assert.deepEqual(syncs, ['datasync', 'sync']);
  assert.equal(bytes, (await readFile(fs, `${DIR}/${DATA_FILE}`)).length);
  const r = await SegmentReader.open(fs, DIR, schema);
  const col = await r.readColumn('v');
  assert.ok(col.values instanceof Float32Array && col.values.byteOffset % 8 === 0);
  assert.equal(hex(new Uint8Array(col.values.buffer, col.values.byteOffset, col.values.byteLength)), hex(new Uint8Array(values.buffer)));
  for (let i = 0; i < rows; i += 97) assert.equal(r.findRow(ids[i]!), i);
  await r.close();
});

// ---------------------------------------------------------------------------------------------
// findRow

test('property: findRow/findRows agree with brute force (Int64 and VarChar keys, duplicates)', async (t) => {
  const seed = seedFromEnv('VECWAL_SEED');
  t.diagnostic(`fast-check seed ${seed} (set VECWAL_SEED to replay)`);
  const int64 = fc.oneof(fc.bigInt({ min: -3n, max: 3n }), fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 32n, -(2n ** 32n), 2n ** 31n - 1n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
  const str = fc.oneof(fc.constantFrom('', 'a', 'ab', 'b', '\uffff', '𝄞', 'é', 'e\u0301'), fc.string({ unit: 'grapheme', maxLength: 4 }));
  await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(int64, { maxLength: 200 }), fc.array(str, { maxLength: 60 }), async (useInt, intKeys, strKeys) => {
    const keys: PrimaryKey[] = useInt ? intKeys : strKeys;
    const schema = schemaOf([{ name: 'k', dataType: useInt ? 'Int64' : 'VarChar', isPrimaryKey: true }]);
    const col: ColumnData = useInt ? { type: 'Int64', values: BigInt64Array.from(intKeys) } : { type: 'VarChar', values: strKeys };
    const fs = new CrashableMemFileSystem();
    await writeSegment(fs, DIR, META, schema, { count: keys.length, columns: new Map([['k', col]]) });
    const r = await SegmentReader.open(fs, DIR, schema);
    const probes: PrimaryKey[] = useInt ? [...intKeys, 0n, 4n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 64n] : [...strKeys, 'zz', '', '\u0000'];
    for (const p of probes) {
      const want = keys.flatMap((k, i) => (k === p ? [i] : []));
      assert.deepEqual(r.findRows(p), want, `findRows(${String(p)})`);
      assert.equal(r.findRow(p), want.length ? want[want.length - 1]! : -1);
    }
    assert.throws(() => r.findRow(useInt ? 'x' : 1n), (e: unknown) => isVecwalError(e, 'INVALID_ARGUMENT'));
    await r.close();
  }), { seed, numRuns: 150 });
});

// ---------------------------------------------------------------------------------------------
// Crash safety

const SURVIVAL = [0, 0.5, 1];

/** After a power cut: no data.seg (a .tmp at most) or a complete one holding exactly the batch. */
async function checkAfterCrash(clone: CrashableMemFileSystem, schema: CollectionSchema, batch: ColumnBatch, mustExist: boolean, what: string): Promise<boolean> {
  const st = await clone.stat(DIR);
  const names = st?.isDirectory ? await clone.readdir(DIR) : [];
  for (const n of names) assert.ok(n === DATA_FILE || n === `${DATA_FILE}.tmp`, `${what}: unexpected file ${n}`);
  if (!names.includes(DATA_FILE)) {
    assert.ok(!mustExist, `${what}: data.seg lost after writeSegment returned`);
    return false;
  }
  assert.deepStrictEqual(canon(await readBack(clone, schema)), canon(await readBack(await fsWith(await readFile(clone, `${DIR}/${DATA_FILE}`)), schema)), what);
  const r = await SegmentReader.open(clone, DIR, schema);
  assert.deepEqual({ ...r.meta }, META, what);
  assert.equal(r.rowCount, batch.count, what);
  await r.close();
  return true;
}

async function crashRun(schema: CollectionSchema, batch: ColumnBatch, k: number): Promise<{ clones: [CrashableMemFileSystem, string][]; completed: boolean }> {
  const mem = new CrashableMemFileSystem();
  await mem.mkdir('/db', { recursive: true });
  await mem.syncDir('/');
  const clones: [CrashableMemFileSystem, string][] = [];
  const fs = new FaultInjectingFileSystem(mem, {
    injector: crashAtWrite(k),
    onCrash: () => {
      for (const p of SURVIVAL) for (const seed of [1, 2]) clones.push([mem.crashClone({ seed: seed * 7919 + k, unsyncedKeepProbability: p }), `p=${p} seed=${seed * 7919 + k}`]);
      mem.crash();
    },
  });
  const done = await writeSegment(fs, DIR, META, schema, batch).then(() => true, (e: unknown) => {
    assert.ok(isVecwalError(e, 'IO_ERROR'), `crash surfaces as IO_ERROR: ${String(e)}`);
    return false;
  });
  if (done) for (const p of SURVIVAL) clones.push([mem.crashClone({ seed: k, unsyncedKeepProbability: p }), `completed, p=${p}`]);
  return { clones, completed: done };
}

test('writeSegment survives a power cut at every mutating filesystem operation', async (t) => {
  const big = (() => {
    const rows = 2000;
    const values = new Float32Array(rows * 128).map((_, i) => i % 251);
    const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt((i * 7919) % rows));
    return { count: rows, columns: new Map<string, ColumnData>([['id', { type: 'Int64', values: ids }], ['v', { type: 'FloatVector', values, dim: 128 }]]) };
  })();
  const bigSchema = schemaOf([{ name: 'id', dataType: 'Int64', isPrimaryKey: true }, { name: 'v', dataType: 'FloatVector', dim: 128 }]);
  for (const [name, schema, batch] of [['all types', FIXTURE_SCHEMA, fixtureBatch()], ['1 MB of vectors', bigSchema, big]] as const) {
    let present = 0;
    let k = 0;
    for (; ; k++) {
      const { clones, completed } = await crashRun(schema, batch, k);
      for (const [clone, how] of clones) if (await checkAfterCrash(clone, schema, batch, completed, `${name}: crash at write op ${k}, ${how}`)) present++;
      if (completed) break;
    }
    t.diagnostic(`${name}: ${k} crash points, data.seg complete in ${present} clones, absent in the rest`);
    assert.ok(k >= 8 && present > 0);
  }
});

// ---------------------------------------------------------------------------------------------
// Errors

test('schema mismatch is BAD_FORMAT; closed reader is CLOSED; I/O failures are IO_ERROR', async () => {
  const fs = new CrashableMemFileSystem();
  await writeTo(fs, GOLDEN_SCHEMA, goldenBatch());
  const other = (fields: CollectionSchema['fields'], dyn = false) => SegmentReader.open(fs, DIR, schemaOf(fields, dyn));
  await rejectsWith(other([{ name: 'id', dataType: 'Int64', isPrimaryKey: true }]), ['BAD_FORMAT'], 'fewer fields');
  await rejectsWith(other([{ name: 'id', dataType: 'VarChar', isPrimaryKey: true }, { name: 'v', dataType: 'FloatVector', dim: 2 }]), ['BAD_FORMAT'], 'other pk type');
  const wrongDim = await other([{ name: 'id', dataType: 'Int64', isPrimaryKey: true }, { name: 'v', dataType: 'FloatVector', dim: 3 }]);
  await rejectsWith(wrongDim.readColumn('v'), ['BAD_FORMAT'], 'other dim');
  await wrongDim.close();
  const { schema, batch } = varcharVariant();
  const fs2 = new CrashableMemFileSystem();
  await writeTo(fs2, schema, batch);
  await rejectsWith(SegmentReader.open(fs2, DIR, { ...schema, enableDynamicField: false }), ['BAD_FORMAT'], 'dynamic field not in schema');
  const r = await SegmentReader.open(fs, DIR, GOLDEN_SCHEMA);
  await rejectsWith(r.readColumn('nope'), ['INVALID_ARGUMENT'], 'unknown column');
  await r.close();
  await rejectsWith(r.readColumn('v'), ['CLOSED'], 'closed');
  assert.throws(() => r.findRow(1n), (e: unknown) => isVecwalError(e, 'CLOSED'));
  await rejectsWith(SegmentReader.open(new CrashableMemFileSystem(), DIR, GOLDEN_SCHEMA), ['IO_ERROR'], 'missing file');
  const failing = new FaultInjectingFileSystem(fs, { injector: (op) => (op.kind === 'read' ? { error: 'EIO' } : undefined) });
  await rejectsWith(SegmentReader.open(failing, DIR, GOLDEN_SCHEMA), ['IO_ERROR'], 'read fails');
  const noWrite = new FaultInjectingFileSystem(new CrashableMemFileSystem(), { injector: (op) => (op.kind === 'write' ? { error: 'ENOSPC' } : undefined) });
  await rejectsWith(writeSegment(noWrite, DIR, META, GOLDEN_SCHEMA, goldenBatch()), ['IO_ERROR'], 'write fails');
  assert.equal(await noWrite.stat(`${DIR}/${DATA_FILE}`), null);
  await rejectsWith(writeSegment(new CrashableMemFileSystem(), DIR, { ...META, maxLsn: 1 }, GOLDEN_SCHEMA, goldenBatch()), ['INVALID_ARGUMENT'], 'LSN range');
  await rejectsWith(writeSegment(new CrashableMemFileSystem(), DIR, META, schemaOf([{ name: 'v', dataType: 'FloatVector', dim: 2 }]), goldenBatch()), ['INVALID_ARGUMENT'], 'no primary key');
});

test('segment folder names', () => {
  assert.equal(segmentDirName(1), 'segment_000001');
  assert.equal(segmentDirName(1234567), 'segment_1234567');
  assert.equal(parseSegmentDirName('segment_000042'), 42);
  for (const bad of ['segment_1', 'segment_000000', 'segment_00004a', 'wal_000001']) assert.equal(parseSegmentDirName(bad), null, bad);
});

// ---------------------------------------------------------------------------------------------
// Delete files

const GOLDEN_DELETES = '5653454744454c0a01000000020000000100000004000000' + '8b90bb9b';

test('delete files: golden bytes, sorted and de-duplicated, every truncation and bit flip detected', async () => {
  const fs = new CrashableMemFileSystem();
  await fs.mkdir(DIR, { recursive: true });
  const path = `${DIR}/deletes_000000000001.del`;
  assert.deepEqual(await writeDeleteFile(fs, path, [4, 1, 4, 1]), { bytes: 28, count: 2 });
  const bytes = await readFile(fs, path);
  assert.equal(hex(bytes), GOLDEN_DELETES);
  assert.deepEqual(Array.from(await readDeleteFile(fs, path)), [1, 4]);
  await writeDeleteFile(fs, path, []);
  assert.deepEqual(Array.from(await readDeleteFile(fs, path)), []);
  const write = async (b: Uint8Array) => {
    const h = await fs.open(path, 'w');
    await h.write(b, 0, b.length, 0);
    await h.close();
  };
  for (let len = 0; len < bytes.length; len++) {
    await write(bytes.subarray(0, len));
    await rejectsWith(readDeleteFile(fs, path), ['SEGMENT_CORRUPTED'], `truncated to ${len}`);
  }
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const g = bytes.slice();
      g[i]! ^= 1 << bit;
      await write(g);
      await rejectsWith(readDeleteFile(fs, path), [i < 10 ? 'BAD_FORMAT' : 'SEGMENT_CORRUPTED'], `byte ${i} bit ${bit}`);
    }
  }
  await rejectsWith(writeDeleteFile(fs, path, [1.5]), ['INVALID_ARGUMENT'], 'fraction');
  await rejectsWith(writeDeleteFile(fs, path, [-1]), ['INVALID_ARGUMENT'], 'negative');
  await rejectsWith(readDeleteFile(fs, `${DIR}/missing.del`), ['IO_ERROR'], 'missing');
});

// ---------------------------------------------------------------------------------------------
// Committed fixture

test('the committed segment-v1 fixture opens with every row, and the writer still produces its bytes', async () => {
  const node = new NodeFileSystem();
  const dir = join(FIXTURES, FIXTURE_DIR);
  const r = await SegmentReader.open(node, dir, FIXTURE_SCHEMA);
  assert.deepEqual({ ...r.meta }, FIXTURE_META);
  assert.equal(r.rowCount, 6);
  const got = await r.readAll();
  const mem = new CrashableMemFileSystem();
  const fresh = await writeTo(mem, FIXTURE_SCHEMA, fixtureBatch(), FIXTURE_META);
  assert.equal(hex(fresh), hex(await readFile(node, join(dir, DATA_FILE))), 'writer output changed: a format change needs a new version');
  assert.deepStrictEqual(canon(got), canon(await readBack(mem, FIXTURE_SCHEMA)));
  const ids = fixtureBatch().columns.get('id')!.values as BigInt64Array;
  ids.forEach((id, i) => assert.equal(r.findRow(id), i));
  assert.deepEqual((got.columns.get('title') as { values: string[] }).values, ['alpha', '', 'grüße', '向量数据库', 'emoji 🙂', 'z']);
  assert.deepEqual(Array.from((got.columns.get('nums') as { valid: Uint8Array }).valid), [1, 1, 1, 0, 1, 1]);
  assert.deepEqual((got.columns.get('nums') as { values: unknown[] }).values[0], [-(2n ** 63n), 2n ** 63n - 1n]);
  assert.deepEqual(got.dynamic, fixtureBatch().dynamic);
  await r.close();
  assert.deepEqual(Array.from(await readDeleteFile(node, join(dir, FIXTURE_DELETE_FILE))), FIXTURE_DELETES);
});
