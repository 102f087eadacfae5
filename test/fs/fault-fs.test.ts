/** Each injector builder of FaultInjectingFileSystem, and writeFully's loop over short writes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import {
  FaultInjectingFileSystem,
  any,
  crashAtWrite,
  failAt,
  failWritesAt,
  pathMatch,
  randomly,
  shortWrites,
  type Op,
} from '../../src/fs/fault-fs.js';
import { readFile, writeFully, writevFully } from '../../src/fs/io.js';
import { seedFromEnv } from '../../src/util/rng.js';
import { codeOf, withOverrides } from '../support/fs-test-helpers.js';

const SEED = seedFromEnv('VECWAL_SEED');
console.log(`fault-fs: VECWAL_SEED=${SEED}`);

function setup(): { mem: CrashableMemFileSystem; fs: FaultInjectingFileSystem } {
  const mem = new CrashableMemFileSystem();
  return { mem, fs: new FaultInjectingFileSystem(mem) };
}

describe('FaultInjectingFileSystem', () => {
  it('counts ops and mutating ops, and logs them', async () => {
    const { fs } = setup();
    const h = await fs.open('/a', 'w'); // op 0, write 0
    await h.write(new Uint8Array(3), 0, 3, 0); // op 1, write 1
    await h.size(); // op 2
    await h.datasync(); // op 3, write 2
    await fs.stat('/a'); // op 4
    await h.close(); // op 5
    await fs.open('/a', 'r').then((r) => r.close()); // ops 6, 7: opening 'r' mutates nothing
    await fs.rename('/a', '/b'); // op 8, write 3
    assert.equal(fs.opsSeen, 9);
    assert.equal(fs.writesSeen, 4);
    const kinds = fs.ops.map((o) => `${o.kind}:${o.index}:${o.writeIndex ?? '-'}`);
    assert.deepEqual(kinds, ['open:0:0', 'write:1:1', 'size:2:-', 'datasync:3:2', 'stat:4:-', 'close:5:-', 'open:6:-', 'close:7:-', 'rename:8:3']);
    assert.deepEqual(fs.ops[1], { kind: 'write', path: '/a', offset: 0, length: 3, index: 1, writeIndex: 1 });
    assert.equal(fs.ops[8]?.to, '/b');
  });

  it('the op log keeps only the most recent maxOps', async () => {
    const fs = new FaultInjectingFileSystem(new CrashableMemFileSystem(), { maxOps: 3 });
    for (let i = 0; i < 10; i++) await fs.stat(`/x${i}`);
    assert.deepEqual(fs.ops.map((o) => o.path), ['/x7', '/x8', '/x9']);
  });

  it('failAt fails exactly the k-th op with EIO and does not perform it', async () => {
    const { mem, fs } = setup();
    fs.setInjector(failAt(2));
    const h = await fs.open('/f', 'w'); // 0
    await h.write(new Uint8Array([1]), 0, 1, 0); // 1
    assert.equal(await codeOf(h.write(new Uint8Array([2]), 0, 1, 1)), 'EIO'); // 2
    await h.write(new Uint8Array([3]), 0, 1, 1); // 3: later ops proceed
    assert.deepEqual([...mem.readFileSync('/f')], [1, 3]);
  });

  it('failWritesAt fails the k-th mutating op with ENOSPC', async () => {
    const { mem, fs } = setup();
    fs.setInjector(failWritesAt(2, 'ENOSPC'));
    const h = await fs.open('/f', 'w'); // write 0
    await h.write(new Uint8Array([1]), 0, 1, 0); // write 1
    await h.size(); // not a mutating op
    const e = await h.datasync().catch((err: unknown) => err as Error & { code: string });
    assert.equal(e?.code, 'ENOSPC');
    assert.match(e.message, /datasync \/f/);
    assert.equal(mem.syncedSize('/f'), 0); // the sync was not performed
    await h.datasync();
    assert.equal(mem.syncedSize('/f'), 1);
  });

  it('crashAtWrite calls onCrash before the op, then everything fails with EIO', async () => {
    const { mem, fs } = setup();
    let clone: CrashableMemFileSystem | undefined;
    let crashOp: Op | undefined;
    fs.onCrash = (op) => {
      crashOp = op;
      assert.deepEqual([...mem.readFileSync('/f')], [1]); // the op has not happened yet
      clone = mem.crashAndClone({ seed: SEED, unsyncedKeepProbability: 1, tornTail: false });
    };
    fs.setInjector(crashAtWrite(3));
    const h = await fs.open('/f', 'w'); // write 0
    await h.write(new Uint8Array([1]), 0, 1, 0); // write 1
    await h.datasync(); // write 2
    assert.equal(await codeOf(h.write(new Uint8Array([2]), 0, 1, 1)), 'EIO'); // write 3: crash
    assert.equal(crashOp?.kind, 'write');
    assert.equal(crashOp?.writeIndex, 3);
    assert.equal(fs.isCrashed, true);
    assert.equal(await codeOf(fs.stat('/f')), 'EIO');
    assert.equal(await codeOf(h.size()), 'EIO');
    assert.ok(clone !== undefined);
    assert.deepEqual([...(await readFile(clone, '/f'))], [1]);
  });

  it('a crash on a wrapper without onCrash still kills the wrapper', async () => {
    const { mem, fs } = setup();
    fs.setInjector(crashAtWrite(0));
    assert.equal(await codeOf(fs.mkdir('/d')), 'EIO');
    assert.equal(await codeOf(fs.readdir('/')), 'EIO');
    assert.deepEqual(await mem.readdir('/'), []); // the mkdir never reached the inner FS
  });

  it('randomly fails the chosen kinds deterministically for a seed', async () => {
    const run = async (seed: number): Promise<string> => {
      const { fs } = setup();
      fs.setInjector(randomly(0.3, seed, 'EIO', ['stat']));
      const h = await fs.open('/f', 'w'); // never fails: not a 'stat'
      let pattern = '';
      for (let i = 0; i < 60; i++) {
        await h.write(new Uint8Array([i]), 0, 1, i);
        pattern += (await codeOf(fs.stat('/f'))) === 'EIO' ? 'x' : '.';
      }
      return pattern;
    };
    const a = await run(SEED);
    assert.equal(await run(SEED), a);
    assert.ok(a.includes('x') && a.includes('.'), `seed ${SEED}: ${a}`);
  });

  it('shortWrites returns short counts that writeFully completes', async () => {
    const { mem, fs } = setup();
    fs.setInjector(shortWrites(SEED, 1)); // every write of 2+ bytes is short
    const h = await fs.open('/f', 'w');
    const data = new Uint8Array(10_000).map((_, i) => (i * 31) & 0xff);
    const n = await h.write(data, 0, data.length, 0);
    assert.ok(n >= 1 && n < data.length, `short write returned ${n}`);
    await writeFully(h, data, 0, data.length, 0);
    await h.close();
    assert.deepEqual(mem.readFileSync('/f'), data);
    const writes = fs.ops.filter((o) => o.kind === 'write');
    assert.ok(writes.length > 2, `expected several partial writes, got ${writes.length}`);
  });

  it('writevFully completes short writevs, resuming inside a buffer', async () => {
    const { mem } = setup();
    const h = await mem.open('/f', 'w');
    const calls: number[] = [];
    // A writev that writes at most 7 bytes of what it is given, as a device might.
    const short = withOverrides(h, {
      writev: async (bufs: readonly Uint8Array[], position: number) => {
        const all = Buffer.concat(bufs.map((b) => Buffer.from(b)));
        calls.push(bufs.length);
        return h.write(all, 0, Math.min(7, all.length), position);
      },
    });
    const bufs = [new Uint8Array(10).fill(1), new Uint8Array(3).fill(2), new Uint8Array(0), new Uint8Array(12).fill(3)];
    await writevFully(short, bufs, 5);
    await h.close();
    assert.deepEqual([...mem.readFileSync('/f')], [0, 0, 0, 0, 0, ...bufs.flatMap((b) => [...b])]);
    assert.equal(calls.length, 4, 'ceil(25 / 7) requests');
    assert.ok(calls.every((n) => n <= 3), 'empty buffers are left out');
  });

  it('a shortWrite fault writes exactly the first n bytes', async () => {
    const { mem, fs } = setup();
    fs.setInjector((op) => (op.kind === 'write' ? { shortWrite: 3 } : undefined));
    const h = await fs.open('/f', 'w');
    assert.equal(await h.write(new Uint8Array([1, 2, 3, 4, 5]), 0, 5, 0), 3);
    assert.deepEqual([...mem.readFileSync('/f')], [1, 2, 3]);
    fs.setInjector((op) => (op.kind === 'write' ? { shortWrite: 0 } : undefined));
    assert.equal(await h.write(new Uint8Array([9, 9]), 0, 2, 3), 1); // never below one byte
  });

  it('pathMatch limits an injector to matching paths; any combines injectors', async () => {
    const { fs } = setup();
    await fs.mkdir('/db/wal', { recursive: true });
    await fs.open('/db/wal/000001.tmp', 'w').then((t) => t.close());
    const next = fs.writesSeen; // the writeIndex of the next mutating op
    const openFails = (op: Op) => (op.kind === 'open' ? { error: 'ENOSPC' } : undefined);
    fs.setInjector(any(pathMatch('*.log', openFails), pathMatch('MANIFEST', failWritesAt(next + 2))));
    assert.equal(await codeOf(fs.open('/db/wal/000001.log', 'w')), 'ENOSPC'); // write next
    await fs.open('/db/wal/000001.log.tmp', 'w').then((t) => t.close()); // next + 1: a glob matches whole paths
    // next + 2: matches through the rename target (a substring pattern)
    assert.equal(await codeOf(fs.rename('/db/wal/000001.tmp', '/db/MANIFEST-2')), 'EIO');
    assert.equal(await codeOf(fs.stat('/db/wal/000001.tmp')), undefined);
    assert.equal(await fs.stat('/db/MANIFEST-2'), null);
    await fs.rename('/db/wal/000001.tmp', '/db/MANIFEST-2'); // next + 3: proceeds
  });

  it('setInjector(undefined) turns injection off', async () => {
    const { fs } = setup();
    fs.setInjector(() => ({ error: 'EIO' }));
    assert.equal(await codeOf(fs.readdir('/')), 'EIO');
    fs.setInjector(undefined);
    assert.deepEqual(await fs.readdir('/'), []);
  });
});
