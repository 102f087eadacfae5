/**
 * One contract, three implementations: the real disk, the in-memory model, and the fault
 * wrapper with no injector. If the model and the disk disagree here, crash tests run on the model
 * would prove things about a filesystem that does not exist.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import type { FileSystem } from '../../src/fs/fs.js';
import { NodeFileSystem } from '../../src/fs/node-fs.js';
import { CrashableMemFileSystem } from '../../src/fs/mem-fs.js';
import { FaultInjectingFileSystem } from '../../src/fs/fault-fs.js';
import { readFile, readFully, writeFully, writevFully } from '../../src/fs/io.js';
import { codeOf } from '../support/fs-test-helpers.js';

interface Subject {
  name: string;
  /** A fresh filesystem and the directory the test owns inside it. */
  setup(): Promise<{ fs: FileSystem; dir: string }>;
  teardown(): Promise<void>;
}

const tempDirs: string[] = [];

const subjects: Subject[] = [
  {
    name: 'NodeFileSystem',
    async setup() {
      const dir = await mkdtemp(`${os.tmpdir()}/vecwal-contract-`);
      tempDirs.push(dir);
      return { fs: new NodeFileSystem(), dir };
    },
    async teardown() {
      for (const d of tempDirs.splice(0)) await rm(d, { recursive: true, force: true });
    },
  },
  {
    name: 'CrashableMemFileSystem',
    async setup() {
      const fs = new CrashableMemFileSystem();
      await fs.mkdir('/work', { recursive: true });
      return { fs, dir: '/work' };
    },
    async teardown() {},
  },
  {
    name: 'FaultInjectingFileSystem(mem)',
    async setup() {
      const fs = new FaultInjectingFileSystem(new CrashableMemFileSystem());
      await fs.mkdir('work');
      return { fs, dir: 'work' }; // relative: the model resolves it against '/'
    },
    async teardown() {},
  },
];

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

async function writeText(fs: FileSystem, path: string, text: string, flags: 'w' | 'wx' | 'a+' = 'w'): Promise<void> {
  const h = await fs.open(path, flags);
  const b = enc(text);
  await writeFully(h, b, 0, b.length, 0);
  await h.close();
}

for (const subject of subjects) {
  describe(`FileSystem contract: ${subject.name}`, () => {
    let fs: FileSystem;
    let dir: string;
    const p = (name: string): string => `${dir}/${name}`;

    before(async () => ({ fs, dir } = await subject.setup()));
    after(() => subject.teardown());

    it("open 'r' and 'r+' on a missing file fail with ENOENT", async () => {
      assert.equal(await codeOf(fs.open(p('missing'), 'r')), 'ENOENT');
      assert.equal(await codeOf(fs.open(p('missing'), 'r+')), 'ENOENT');
      assert.equal(await fs.stat(p('missing')), null);
    });

    it("open 'wx' creates, and fails with EEXIST if the file exists", async () => {
      await writeText(fs, p('wx'), 'one', 'wx');
      assert.equal(await codeOf(fs.open(p('wx'), 'wx')), 'EEXIST');
      assert.equal(dec(await readFile(fs, p('wx'))), 'one');
    });

    it("open 'w' truncates; 'a+' creates without truncating", async () => {
      await writeText(fs, p('w'), 'hello world');
      const h = await fs.open(p('w'), 'w');
      assert.equal(await h.size(), 0);
      await h.close();

      await writeText(fs, p('a'), 'abc', 'a+');
      const h2 = await fs.open(p('a'), 'a+');
      assert.equal(await h2.size(), 3);
      await h2.close();
      assert.equal(dec(await readFile(fs, p('a'))), 'abc');
    });

    it("'r' handles read but refuse writes", async () => {
      await writeText(fs, p('ro'), 'data');
      const h = await fs.open(p('ro'), 'r');
      const buf = new Uint8Array(4);
      assert.equal(await readFully(h, buf, 0, 4, 0), 4);
      assert.equal(dec(buf), 'data');
      assert.equal(await codeOf(h.write(enc('x'), 0, 1, 0)), 'EBADF');
      await h.close();
    });

    it('writing past EOF leaves a zero gap; reads at or past EOF return 0', async () => {
      const h = await fs.open(p('gap'), 'w');
      await writeFully(h, enc('AB'), 0, 2, 0);
      await writeFully(h, enc('CD'), 0, 2, 10);
      assert.equal(await h.size(), 12);
      const buf = new Uint8Array(12).fill(0xff);
      assert.equal(await readFully(h, buf, 0, 12, 0), 12);
      assert.deepEqual([...buf], [65, 66, 0, 0, 0, 0, 0, 0, 0, 0, 67, 68]);
      assert.equal(await h.read(buf, 0, 4, 12), 0);
      assert.equal(await h.read(buf, 0, 4, 100), 0);
      assert.equal(await readFully(h, buf, 0, 12, 8), 4); // short only at EOF
      await h.close();
    });

    it('read/write honour the buffer offset', async () => {
      const h = await fs.open(p('off'), 'w');
      await writeFully(h, enc('xxHELLOxx'), 2, 5, 0);
      const buf = new Uint8Array(7);
      assert.equal(await readFully(h, buf, 1, 5, 0), 5);
      assert.equal(dec(buf.subarray(1, 6)), 'HELLO');
      assert.equal(buf[0], 0);
      await h.close();
    });

    it('writevFully writes buffers back to back from a position (one writev per 1,024 where the handle has one)', async () => {
      const h = await fs.open(p('vec'), 'w');
      const bufs = [enc('head'), new Uint8Array(0), enc('-mid-'), ...Array.from({ length: 1500 }, (_, i) => Uint8Array.of(i & 0xff)), enc('tail')];
      await writevFully(h, bufs, 3);
      const want = new Uint8Array(3 + bufs.reduce((n, b) => n + b.length, 0));
      let at = 3;
      for (const b of bufs) {
        want.set(b, at);
        at += b.length;
      }
      assert.equal(await h.size(), want.length);
      const got = new Uint8Array(want.length);
      assert.equal(await readFully(h, got, 0, got.length, 0), got.length);
      assert.deepEqual(got, want);
      await h.close();
    });

    it('truncate grows with zeros and shrinks', async () => {
      const h = await fs.open(p('trunc'), 'w');
      await writeFully(h, enc('abcdef'), 0, 6, 0);
      await h.truncate(3);
      assert.equal(await h.size(), 3);
      await h.truncate(6);
      assert.equal(await h.size(), 6);
      const buf = new Uint8Array(6);
      await readFully(h, buf, 0, 6, 0);
      assert.deepEqual([...buf], [97, 98, 99, 0, 0, 0]);
      await h.sync();
      await h.datasync();
      await h.close();
      assert.equal((await fs.stat(p('trunc')))?.size, 6);
    });

    it('rename moves a file and replaces an existing target', async () => {
      await writeText(fs, p('src'), 'new');
      await writeText(fs, p('dst'), 'old contents');
      await fs.rename(p('src'), p('dst'));
      assert.equal(await fs.stat(p('src')), null);
      assert.equal(dec(await readFile(fs, p('dst'))), 'new');
      assert.equal(await codeOf(fs.rename(p('src'), p('elsewhere'))), 'ENOENT');
      await fs.syncDir(dir);
    });

    it('unlink removes a file; unlink of a missing file fails with ENOENT', async () => {
      await writeText(fs, p('gone'), 'x');
      await fs.unlink(p('gone'));
      assert.equal(await fs.stat(p('gone')), null);
      assert.equal(await codeOf(fs.unlink(p('gone'))), 'ENOENT');
    });

    it('readdir returns sorted names; mkdir recursive; rmdir rules', async () => {
      await fs.mkdir(p('d'));
      assert.equal(await codeOf(fs.mkdir(p('d'))), 'EEXIST');
      await fs.mkdir(p('d'), { recursive: true }); // no error if it exists
      for (const n of ['b', 'a', 'C', 'aa']) await writeText(fs, p(`d/${n}`), n);
      await fs.mkdir(p('d/sub/deeper/deepest'), { recursive: true });
      assert.deepEqual(await fs.readdir(p('d')), ['C', 'a', 'aa', 'b', 'sub']);
      const st = await fs.stat(p('d/sub/deeper'));
      assert.equal(st?.isDirectory, true);
      assert.equal((await fs.stat(p('d/a')))?.isDirectory, false);
      assert.equal(await codeOf(fs.rmdir(p('d/sub'))), 'ENOTEMPTY');
      await fs.rmdir(p('d/sub/deeper/deepest'));
      assert.deepEqual(await fs.readdir(p('d/sub/deeper')), []);
      assert.equal(await codeOf(fs.rmdir(p('d/missing'))), 'ENOENT');
      assert.equal(await codeOf(fs.readdir(p('d/missing'))), 'ENOENT');
      assert.equal(await codeOf(fs.mkdir(p('no/such/parent'))), 'ENOENT');
    });

    it('type errors: EISDIR, ENOTDIR', async () => {
      await fs.mkdir(p('t'));
      await writeText(fs, p('t/file'), 'x');
      assert.equal(await codeOf(fs.open(p('t'), 'r+')), 'EISDIR');
      assert.equal(await codeOf(fs.unlink(p('t'))), 'EISDIR');
      assert.equal(await codeOf(fs.readdir(p('t/file'))), 'ENOTDIR');
      assert.equal(await codeOf(fs.rmdir(p('t/file'))), 'ENOTDIR');
      assert.equal(await codeOf(fs.open(p('t/file/x'), 'r')), 'ENOTDIR');
    });

    it('stat returns null for a missing path and the size of a file', async () => {
      assert.equal(await fs.stat(p('nope')), null);
      assert.equal(await fs.stat(p('nope/deeper')), null);
      await writeText(fs, p('sized'), '12345');
      const st = await fs.stat(p('sized'));
      assert.equal(st?.size, 5);
      assert.equal(st?.isDirectory, false);
      assert.equal(typeof st?.mtimeMs, 'number');
    });

    it('lock is exclusive until released', async () => {
      const lock = await fs.lock(p('LOCK'));
      const e = await fs.lock(p('LOCK')).then(
        () => assert.fail('second lock succeeded'),
        (err: unknown) => err as { code?: string; message: string },
      );
      assert.equal(e.code, 'ELOCKED');
      await lock.release();
      await lock.release(); // idempotent
      const again = await fs.lock(p('LOCK'));
      await again.release();
    });

    it('operations on a closed handle are rejected', async () => {
      const h = await fs.open(p('closed'), 'w');
      await h.close();
      const buf = new Uint8Array(1);
      assert.equal(await codeOf(h.write(buf, 0, 1, 0)), 'EBADF');
      assert.equal(await codeOf(h.read(buf, 0, 1, 0)), 'EBADF');
      assert.equal(await codeOf(h.sync()), 'EBADF');
      assert.equal(await codeOf(h.size()), 'EBADF');
      assert.equal(await codeOf(h.close()), 'EBADF');
    });
  });
}
