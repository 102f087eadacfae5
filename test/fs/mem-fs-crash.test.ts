/**
 * The fault model of CrashableMemFileSystem (see the header of src/fs/mem-fs.ts). Randomized
 * parts start from VECWAL_SEED (or a random seed, printed) so a failure can be replayed with
 * `VECWAL_SEED=<n> node --test dist/test/fs/mem-fs-crash.test.js`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { readFile, writeFully } from '../../src/fs/io.js';
import type { FileSystem } from '../../src/fs/fs.js';
import { seedFromEnv } from '../../src/util/rng.js';
import { codeOf } from '../support/fs-test-helpers.js';

const SEED = seedFromEnv('VECWAL_SEED');
console.log(`mem-fs-crash: VECWAL_SEED=${SEED}`);

const B = 4096;

function filled(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

async function put(fs: FileSystem, path: string, bytes: Uint8Array, opts: { sync?: boolean; position?: number; flags?: 'w' | 'a+' } = {}): Promise<void> {
  const h = await fs.open(path, opts.flags ?? 'a+');
  await writeFully(h, bytes, 0, bytes.length, opts.position ?? 0);
  if (opts.sync) await h.datasync();
  await h.close();
}

/** A filesystem with a durable directory /d holding durable file /d/f with `bytes`. */
async function durableFile(bytes: Uint8Array): Promise<CrashableMemFileSystem> {
  const fs = new CrashableMemFileSystem();
  await fs.mkdir('/d');
  await fs.syncDir('/');
  await put(fs, '/d/f', bytes, { sync: true });
  await fs.syncDir('/d');
  return fs;
}

/** Scan seeds from SEED until `found(seed)` holds; returns the seed, or fails after `limit`. */
function findSeed(what: string, found: (seed: number) => boolean, limit = 2000): number {
  for (let i = 0; i < limit; i++) {
    const seed = (SEED + i) >>> 0;
    if (found(seed)) {
      console.log(`mem-fs-crash: ${what} shown with seed ${seed}`);
      return seed;
    }
  }
  return assert.fail(`${what}: not seen in ${limit} seeds from ${SEED}`);
}

describe('CrashableMemFileSystem crash model', () => {
  it('unsynced file data is lost at p=0, kept at p=1 without tearing', async () => {
    const fs = await durableFile(new TextEncoder().encode('durable'));
    await put(fs, '/d/f', new TextEncoder().encode('+volatile'), { position: 7 });
    const lost = fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 });
    assert.equal(new TextDecoder().decode(lost.readFileSync('/d/f')), 'durable');
    const kept = fs.crashClone({ seed: SEED, unsyncedKeepProbability: 1, tornTail: false });
    assert.equal(new TextDecoder().decode(kept.readFileSync('/d/f')), 'durable+volatile');
  });

  it('synced data always survives appends that were not synced', async () => {
    const synced = new Uint8Array(10_000).map((_, i) => (i * 7 + 1) & 0xff);
    const fs = await durableFile(synced);
    await put(fs, '/d/f', filled(20_000, 0xee), { position: synced.length });
    for (let i = 0; i < 300; i++) {
      const clone = fs.crashClone({ seed: SEED + i });
      const got = clone.readFileSync('/d/f');
      assert.ok(got.length >= synced.length && got.length <= 30_000, `seed ${SEED + i}: size ${got.length}`);
      assert.deepEqual(got.subarray(0, synced.length), synced, `seed ${SEED + i}`);
    }
  });

  it('a created file vanishes at p=0 and exists at p=1 unless its directory is synced', async () => {
    const fs = await durableFile(filled(10, 1));
    await put(fs, '/d/new', filled(10, 2), { sync: true }); // data synced, name not
    assert.deepEqual(fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 }).listFiles(), ['/d/f']);
    assert.deepEqual(fs.crashClone({ seed: SEED, unsyncedKeepProbability: 1 }).listFiles(), ['/d/f', '/d/new']);
    await fs.syncDir('/d');
    const clone = fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 });
    assert.deepEqual(clone.readFileSync('/d/new'), filled(10, 2));
  });

  it('a new directory needs its parent synced too', async () => {
    const fs = new CrashableMemFileSystem();
    await fs.mkdir('/a/b', { recursive: true });
    await put(fs, '/a/b/f', filled(3, 3), { sync: true });
    await fs.syncDir('/a/b');
    await fs.syncDir('/a');
    assert.deepEqual(fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 }).listFiles(), []);
    await fs.syncDir('/');
    assert.deepEqual(fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 }).listFiles(), ['/a/b/f']);
  });

  it('rename without syncDir: the old name survives at p=0, and exactly one name always survives', async () => {
    const fs = await durableFile(filled(100, 9));
    await put(fs, '/d/target', filled(5, 5), { sync: true });
    await fs.syncDir('/d');
    await fs.rename('/d/f', '/d/target');
    const p0 = fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 });
    assert.deepEqual(p0.listFiles(), ['/d/f', '/d/target']);
    assert.deepEqual(p0.readFileSync('/d/f'), filled(100, 9));
    assert.deepEqual(p0.readFileSync('/d/target'), filled(5, 5));
    const p1 = fs.crashClone({ seed: SEED, unsyncedKeepProbability: 1 });
    assert.deepEqual(p1.listFiles(), ['/d/target']);
    assert.deepEqual(p1.readFileSync('/d/target'), filled(100, 9));
    for (let i = 0; i < 100; i++) {
      const files = fs.crashClone({ seed: SEED + i }).listFiles();
      assert.ok(files.length === 1 || files.length === 2, `seed ${SEED + i}: ${files.join()}`);
      assert.ok(files.includes('/d/target'), `seed ${SEED + i}`); // old or new contents, never neither
    }
  });

  it('unlink without syncDir: the file comes back at p=0', async () => {
    const fs = await durableFile(filled(50, 4));
    await fs.unlink('/d/f');
    const clone = fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 });
    assert.deepEqual(clone.readFileSync('/d/f'), filled(50, 4));
    assert.deepEqual(fs.crashClone({ seed: SEED, unsyncedKeepProbability: 1 }).listFiles(), []);
  });

  it('an unsynced truncate is lost at p=0 and kept at p=1', async () => {
    const fs = await durableFile(filled(3 * B, 7));
    const h = await fs.open('/d/f', 'r+');
    await h.truncate(100);
    await h.close();
    assert.deepEqual(fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 }).readFileSync('/d/f'), filled(3 * B, 7));
    assert.deepEqual(fs.crashClone({ seed: SEED, unsyncedKeepProbability: 1 }).readFileSync('/d/f'), filled(100, 7));
    assert.equal(fs.syncedSize('/d/f'), 3 * B);
  });

  it('a kept block after a lost one leaves a zero hole', async () => {
    const fs = await durableFile(new Uint8Array(0));
    await put(fs, '/d/f', filled(3 * B, 0xaa));
    const holeAt = (seed: number): boolean => {
      const got = fs.crashClone({ seed, tornTail: false }).readFileSync('/d/f');
      return got.length > B && got.subarray(0, B).every((b) => b === 0) && got[got.length - 1] === 0xaa;
    };
    const seed = findSeed('zero hole', holeAt);
    const got = fs.crashClone({ seed, tornTail: false }).readFileSync('/d/f');
    assert.equal(got.length % B, 0); // whole blocks: no tearing asked for
    for (let i = 0; i < got.length; i += B) {
      const block = got.subarray(i, i + B);
      assert.ok(block.every((b) => b === 0) || block.every((b) => b === 0xaa), `block ${i / B}`);
    }
  });

  it('a torn tail keeps a sector-aligned prefix of the last kept block', async () => {
    const fs = await durableFile(new Uint8Array(0));
    await put(fs, '/d/f', filled(B, 0xbb));
    let torn = 0;
    for (let i = 0; i < 200; i++) {
      const got = fs.crashClone({ seed: SEED + i, unsyncedKeepProbability: 1 }).readFileSync('/d/f');
      const written = got.findIndex((b) => b !== 0xbb);
      const prefix = written < 0 ? got.length : written;
      assert.equal(prefix % 512, 0, `seed ${SEED + i}: prefix ${prefix}`);
      assert.ok(got.subarray(prefix).every((b) => b === 0), `seed ${SEED + i}: garbage after the prefix`);
      assert.ok(got.length === B || got.length === prefix, `seed ${SEED + i}: size ${got.length}`);
      if (prefix < B) torn++;
    }
    assert.ok(torn > 0, 'no torn block in 200 seeds');
    findSeed('torn tail inside the block', (seed) => {
      const n = fs.crashClone({ seed, unsyncedKeepProbability: 1 }).readFileSync('/d/f').length;
      return n > 0 && n < B;
    });
  });

  it('a torn overwrite leaves old bytes after the written sectors', async () => {
    const fs = await durableFile(filled(B, 0x11));
    await put(fs, '/d/f', filled(B, 0x22), { flags: 'a+' });
    const seed = findSeed('torn overwrite', (s) => {
      const got = fs.crashClone({ seed: s, unsyncedKeepProbability: 1 }).readFileSync('/d/f');
      return got[0] === 0x22 && got[B - 1] === 0x11;
    });
    const got = fs.crashClone({ seed, unsyncedKeepProbability: 1 }).readFileSync('/d/f');
    const cut = got.indexOf(0x11);
    assert.equal(cut % 512, 0);
    assert.ok(got.subarray(cut).every((b) => b === 0x11));
    assert.equal(got.length, B);
  });

  it('clones are independent of the original and of each other', async () => {
    const fs = await durableFile(filled(10, 1));
    const clone = fs.crashClone({ seed: SEED });
    await put(clone, '/d/f', filled(10, 2));
    await put(clone, '/d/only-in-clone', filled(1, 3));
    assert.deepEqual(fs.readFileSync('/d/f'), filled(10, 1));
    assert.deepEqual(fs.listFiles(), ['/d/f']);
    await put(fs, '/d/f', filled(10, 4));
    assert.deepEqual(clone.readFileSync('/d/f'), filled(10, 2));
    const second = fs.crashClone({ seed: SEED, unsyncedKeepProbability: 0 });
    assert.deepEqual(second.readFileSync('/d/f'), filled(10, 1));
    // A clone starts fully durable: at p=0 its own later, unsynced changes are what is lost.
    const again = clone.crashClone({ seed: SEED, unsyncedKeepProbability: 0 });
    assert.deepEqual(again.listFiles(), ['/d/f']);
    assert.deepEqual(again.readFileSync('/d/f'), filled(10, 1));
    await clone.syncDir('/d');
    assert.deepEqual((await clone.readdir('/d')).length, 2);
  });

  it('the clone holds no locks', async () => {
    const fs = await durableFile(filled(1, 1));
    await fs.lock('/d/LOCK');
    const clone = fs.crashClone({ seed: SEED });
    await (await clone.lock('/d/LOCK')).release();
  });

  it('crash() makes every operation on the instance and its handles reject with EIO', async () => {
    const fs = await durableFile(filled(10, 1));
    const h = await fs.open('/d/f', 'r+');
    const lock = await fs.lock('/d/LOCK');
    const clone = fs.crashAndClone({ seed: SEED, unsyncedKeepProbability: 1 });
    assert.equal(fs.isCrashed, true);
    const buf = new Uint8Array(4);
    // codeOf attaches a handler at once, so no rejection is ever unhandled while we await.
    const attempts: Array<[string, Promise<string | undefined>]> = [
      ['open', codeOf(fs.open('/d/f', 'r'))],
      ['open create', codeOf(fs.open('/d/g', 'w'))],
      ['rename', codeOf(fs.rename('/d/f', '/d/g'))],
      ['unlink', codeOf(fs.unlink('/d/f'))],
      ['readdir', codeOf(fs.readdir('/d'))],
      ['mkdir', codeOf(fs.mkdir('/e'))],
      ['rmdir', codeOf(fs.rmdir('/d'))],
      ['stat', codeOf(fs.stat('/d/f'))],
      ['syncDir', codeOf(fs.syncDir('/d'))],
      ['lock', codeOf(fs.lock('/d/OTHER'))],
      ['release', codeOf(lock.release())],
      ['read', codeOf(h.read(buf, 0, 4, 0))],
      ['write', codeOf(h.write(buf, 0, 4, 0))],
      ['truncate', codeOf(h.truncate(0))],
      ['sync', codeOf(h.sync())],
      ['datasync', codeOf(h.datasync())],
      ['size', codeOf(h.size())],
      ['close', codeOf(h.close())],
    ];
    for (const [name, code] of attempts) assert.equal(await code, 'EIO', name);
    assert.deepEqual(fs.readFileSync('/d/f'), filled(10, 1)); // nothing changed
    assert.deepEqual(clone.readFileSync('/d/f'), filled(10, 1));
    assert.deepEqual(await readFile(clone, '/d/f'), filled(10, 1)); // the clone is alive
  });

  it('the same seed gives the same clone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(40_000), fc.integer({ min: 1, max: 9000 }), fc.boolean()), { maxLength: 12 }), async (writes) => {
        const fs = await durableFile(filled(5000, 1));
        for (const [pos, len, sync] of writes) await put(fs, '/d/f', filled(len, (pos % 250) + 2), { position: pos, sync });
        const a = fs.crashClone({ seed: SEED });
        const b = fs.crashClone({ seed: SEED });
        assert.deepEqual(a.readFileSync('/d/f'), b.readFileSync('/d/f'));
      }),
      { seed: SEED | 0, numRuns: 50 },
    );
  });

  it('p=1 without tearing reproduces the current state; p=0 keeps every synced byte', async () => {
    // Random workloads over a few files: creates, writes, truncates, syncs, renames, unlinks.
    const action = fc.oneof(
      fc.record({ k: fc.constant('write' as const), f: fc.nat(3), pos: fc.nat(20_000), len: fc.integer({ min: 1, max: 6000 }) }),
      fc.record({ k: fc.constant('truncate' as const), f: fc.nat(3), size: fc.nat(20_000) }),
      fc.record({ k: fc.constant('sync' as const), f: fc.nat(3) }),
      fc.record({ k: fc.constant('syncDir' as const) }),
      fc.record({ k: fc.constant('rename' as const), f: fc.nat(3), g: fc.nat(3) }),
      fc.record({ k: fc.constant('unlink' as const), f: fc.nat(3) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 25 }), fc.nat(), async (actions, cloneSeed) => {
        const fs = new CrashableMemFileSystem();
        const name = (i: number): string => `/f${i}`;
        let n = 0;
        for (const a of actions) {
          if (a.k === 'syncDir') await fs.syncDir('/');
          else if (a.k === 'rename') await fs.rename(name(a.f), name(a.g)).catch(() => undefined);
          else if (a.k === 'unlink') await fs.unlink(name(a.f)).catch(() => undefined);
          else {
            const h = await fs.open(name(a.f), 'a+');
            if (a.k === 'write') await writeFully(h, filled(a.len, (n++ % 254) + 1), 0, a.len, a.pos);
            else if (a.k === 'truncate') await h.truncate(a.size);
            else await h.sync();
            await h.close();
          }
        }
        const all = fs.crashClone({ seed: cloneSeed, unsyncedKeepProbability: 1, tornTail: false });
        assert.deepEqual(all.listFiles(), fs.listFiles());
        for (const f of fs.listFiles()) assert.deepEqual(all.readFileSync(f), fs.readFileSync(f));
        // At p=0 each surviving file whose name was synced holds exactly its synced bytes.
        await fs.syncDir('/');
        const none = fs.crashClone({ seed: cloneSeed, unsyncedKeepProbability: 0 });
        assert.deepEqual(none.listFiles(), fs.listFiles());
        for (const f of fs.listFiles()) assert.equal(none.readFileSync(f).length, fs.syncedSize(f), f);
      }),
      { seed: SEED | 0, numRuns: 100 },
    );
  });

  it('is fast: many small writes, and many clones of a small log', async () => {
    const fs = await durableFile(new Uint8Array(0));
    const h = await fs.open('/d/f', 'r+');
    const rec = filled(100, 0x5a);
    let t = performance.now();
    for (let i = 0; i < 50_000; i++) await h.write(rec, 0, rec.length, i * rec.length);
    const writeMs = performance.now() - t;
    await h.truncate(32 * 1024);
    await h.datasync();
    for (let i = 0; i < 40; i++) await h.write(rec, 0, rec.length, 32 * 1024 + i * 100);
    t = performance.now();
    for (let i = 0; i < 10_000; i++) fs.crashClone({ seed: i });
    const cloneMs = performance.now() - t;
    console.log(`mem-fs-crash: 50k writes ${writeMs.toFixed(0)} ms, 10k clones ${cloneMs.toFixed(0)} ms`);
    assert.ok(writeMs < 5000 && cloneMs < 5000, 'mem-fs is too slow for crash sweeps');
    await h.close();
  });
});
