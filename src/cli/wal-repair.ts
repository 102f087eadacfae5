/**
 * `vecwal wal repair <dir> [--mode ...] [--yes]`: run recovery deliberately, keeping a copy of
 * every byte it cuts or drops.
 *
 * Order, and why:
 *   1. Take the directory lock: a running writer makes repair refuse (LOCKED) instead of racing
 *      it, and no writer can start until repair is done.
 *   2. Plan under the lock: recoverLog in dry-run mode says what the chosen mode would cut, set
 *      aside, remove or skip (the same code open runs, so the plan cannot drift from it).
 *   3. Copy those bytes into `<dir>/repair-<time>/` and fsync the copies, the backup directory
 *      and its entry in <dir>: only then may anything be cut (a crash mid-repair loses nothing).
 *   4. Run the recovery with Wal.open in the chosen mode and close it, so the result is exactly
 *      what open would leave (including the fresh segment it starts after a repair).
 * Without --yes it stops after 2 and prints the plan: a dry run that changes nothing (it does
 * not even take the lock, which would create the LOCK file).
 */
import { parseArgs } from 'node:util';
import type { FileLock, FileSystem } from '../fs/fs.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import { joinPath, readFully, writeFully } from '../fs/io.js';
import { VecwalError, ioError } from '../errors.js';
import { Wal } from '../wal/wal.js';
import type { RecoveryMode, RecoveryReport } from '../wal/recovery.js';
import { EXIT_OK, UsageError, dirArg, err, indent, lsnRangeText, out, outJson, usageErrors } from './common.js';
import { analyzeDir, baseName, planJson, planRepair, stepsTable, type DirReport, type RepairPlan } from './wal-analyze.js';

const MODES = ['tolerate-corrupted-tail', 'point-in-time', 'skip-corrupted'] as const;
const COMMAND = 'wal repair';

export const REPAIR_USAGE = `usage: vecwal wal repair <dir> [--mode ${MODES.join('|')}] [--yes] [--json]

Without --yes: print what repair would do and change nothing (dry run).
With --yes: take the directory lock (refuses while a writer runs), copy every byte that will
be cut or dropped into <dir>/repair-<time>/ and fsync it, then recover in the chosen mode.
  tolerate-corrupted-tail  (default) cut a torn tail; refuse corruption of durable data
  point-in-time            cut at the first damage, set aside every later segment (*.dropped)
  skip-corrupted           step over damaged bytes, keep later intact frames (leaves an LSN
                           gap; the log must then be opened with recoveryMode 'skip-corrupted')`;

type Ready = Extract<RepairPlan, { ok: true }>;

export async function runRepair(argv: string[]): Promise<number> {
  const options = {
    mode: { type: 'string', default: 'tolerate-corrupted-tail' }, yes: { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
  } as const;
  const { values, positionals } = usageErrors(COMMAND, () => parseArgs({ args: argv, options, allowPositionals: true, strict: true }));
  const mode = values.mode as RecoveryMode;
  if (!(MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}; got '${mode}'`, COMMAND);
  const fs = new NodeFileSystem();
  const dir = await dirArg(fs, positionals, COMMAND);
  return values.yes ? carryOut(fs, dir, mode, values.json ?? false) : dryRun(fs, dir, mode, values.json ?? false);
}

async function dryRun(fs: FileSystem, dir: string, mode: RecoveryMode, json: boolean): Promise<number> {
  const report = await analyzeDir(fs, dir);
  const plan = ready(await planRepair(fs, report, mode));
  if (json) {
    outJson({ dir, mode, dryRun: true, plan: planJson(plan), lock: report.listing.lockHolder });
    return EXIT_OK;
  }
  if (plan.steps.length === 0) {
    out(nothingToDo(dir, plan));
    return EXIT_OK;
  }
  out(`repair plan for ${dir} (mode ${mode}): DRY RUN, nothing changed; add --yes to carry it out`);
  out(indent(stepsTable(plan.steps, true)));
  out(`with --yes, these bytes are first copied to ${joinPath(dir, 'repair-<time>')}/ and fsynced; then recovery runs.`);
  out(`afterwards the log would hold ${plan.after.records} records (LSNs ${lsnRangeText(plan.after.lsnRange)})`);
  if (report.listing.lockHolder) out(`note: LOCK is held by ${report.listing.lockHolder}: repair --yes refuses while a writer runs`);
  return EXIT_OK;
}

/** No file to change: a clean log, or one the mode accepts as it is (skip-corrupted and a gap). */
function nothingToDo(dir: string, plan: Ready): string {
  if (plan.events.length === 0) return `nothing to repair in ${dir}: the log is clean (mode ${plan.mode})`;
  const what = plan.events.map((e) => `${e.finding} in ${baseName(e.file)}: ${e.reason}`).join('; ');
  return `nothing to cut or drop in ${dir}: mode ${plan.mode} accepts the log as it is (${what})`;
}

/** A mode that refuses the log makes repair refuse too, with the way out in the message. */
function ready(plan: RepairPlan): Ready {
  if (plan.ok) return plan;
  const e = plan.error;
  const hint = plan.mode === 'tolerate-corrupted-tail'
    ? " To salvage, choose --mode point-in-time (drops everything from the damage on) or --mode skip-corrupted (skips the damaged bytes, leaves an LSN gap); 'vecwal wal verify' shows what each keeps."
    : '';
  throw new VecwalError(e.code, `repair refused (mode ${plan.mode}): ${e.message}.${hint}`, { ...e.details, cause: e });
}

async function carryOut(fs: FileSystem, dir: string, mode: RecoveryMode, json: boolean): Promise<number> {
  const lock = await takeLock(fs, dir);
  try {
    const plan = ready(await planRepair(fs, await analyzeDir(fs, dir), mode));
    if (plan.steps.length === 0) {
      if (json) outJson({ dir, mode, dryRun: false, plan: planJson(plan), backupDir: null, recovery: null });
      else out(nothingToDo(dir, plan));
      return EXIT_OK;
    }
    const backupDir = await backUp(fs, dir, plan);
    const recovery = await recover(fs, dir, mode, lock);
    checkCutsCovered(plan, recovery);
    const after = await analyzeDir(fs, dir);
    const opensClean = (await planRepair(fs, after, 'tolerate-corrupted-tail')).ok;
    if (json) outJson({ dir, mode, dryRun: false, plan: planJson(plan), backupDir, recovery, after: { totals: after.totals, opensInDefaultMode: opensClean } });
    else printDone(dir, mode, plan, backupDir, recovery, after, opensClean);
    return EXIT_OK;
  } finally {
    await lock.release();
  }
}

async function takeLock(fs: FileSystem, dir: string): Promise<FileLock> {
  try {
    return await fs.lock(joinPath(dir, 'LOCK'));
  } catch (e) {
    if ((e as { code?: string }).code !== 'ELOCKED') throw ioError('lock', dir, e);
    throw new VecwalError('LOCKED', `WAL directory ${dir} is in use (${(e as Error).message}); stop the writer before repairing`, { cause: e, file: dir });
  }
}

// ---------------------------------------------------------------------------------------------
// backup

/** Copy every step's bytes into a new `repair-<time>` directory, all durable before returning. */
async function backUp(fs: FileSystem, dir: string, plan: Ready): Promise<string> {
  const backupDir = await makeBackupDir(fs, dir);
  try {
    for (const s of plan.steps) await copyRange(fs, s.path, s.offset, s.bytes, joinPath(backupDir, s.copyName));
    const manifest = { createdAt: new Date().toISOString(), dir, mode: plan.mode, steps: plan.steps };
    await writeNew(fs, joinPath(backupDir, 'repair.json'), new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
    await fs.syncDir(backupDir);
    await fs.syncDir(dir);
  } catch (e) {
    throw e instanceof VecwalError ? e : ioError('back up to', backupDir, e);
  }
  return backupDir;
}

async function makeBackupDir(fs: FileSystem, dir: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  for (let n = 1; n < 1000; n++) {
    const path = joinPath(dir, `repair-${stamp}${n === 1 ? '' : `-${n}`}`);
    try {
      await fs.mkdir(path);
      return path;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw ioError('create backup directory', path, e);
    }
  }
  throw ioError('create backup directory', joinPath(dir, `repair-${stamp}`), new Error('too many repairs in one second'));
}

const COPY_CHUNK = 1 << 20;

/** Copy [offset, offset + length) of `from` into the new file `to` and fsync it. */
async function copyRange(fs: FileSystem, from: string, offset: number, length: number, to: string): Promise<void> {
  const src = await fs.open(from, 'r');
  try {
    const dst = await fs.open(to, 'wx');
    try {
      const buf = new Uint8Array(Math.min(COPY_CHUNK, Math.max(length, 1)));
      for (let done = 0; done < length;) {
        const n = Math.min(buf.length, length - done);
        if ((await readFully(src, buf, 0, n, offset + done)) !== n) throw ioError('read (file shrank during repair)', from, null);
        await writeFully(dst, buf, 0, n, done);
        done += n;
      }
      await dst.sync();
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

async function writeNew(fs: FileSystem, path: string, bytes: Uint8Array): Promise<void> {
  const h = await fs.open(path, 'wx');
  try {
    await writeFully(h, bytes, 0, bytes.length, 0);
    await h.sync();
  } finally {
    await h.close();
  }
}

// ---------------------------------------------------------------------------------------------
// recovery

/**
 * Wal.open in the chosen mode, then close. Wal.open takes the directory lock itself, and we
 * must keep ours from planning to the end; this view of the filesystem hands it the lock we
 * already hold instead of a second one (which this process would be refused).
 */
async function recover(fs: FileSystem, dir: string, mode: RecoveryMode, held: FileLock): Promise<RecoveryReport> {
  const view: FileSystem = {
    open: (p, flags) => fs.open(p, flags),
    rename: (a, b) => fs.rename(a, b),
    unlink: (p) => fs.unlink(p),
    readdir: (p) => fs.readdir(p),
    mkdir: (p, o) => fs.mkdir(p, o),
    rmdir: (p) => fs.rmdir(p),
    stat: (p) => fs.stat(p),
    syncDir: (p) => fs.syncDir(p),
    lock: async (p) => (p === held.path ? { path: p, release: async () => undefined } : fs.lock(p)),
  };
  const wal = await Wal.open(dir, { fs: view, recoveryMode: mode, preallocateBytes: 0 });
  await wal.close();
  return wal.recovery;
}

/** The plan and the recovery that ran must agree on what was cut; say so loudly if not. */
function checkCutsCovered(plan: Ready, r: RecoveryReport): void {
  const planned = plan.steps.filter((s) => s.action === 'cut').reduce((n, s) => n + s.bytes, 0);
  if (planned !== r.bytesTruncated) err(`warning: recovery cut ${r.bytesTruncated} bytes but the plan (and the backup) covered ${planned}`);
}

function printDone(dir: string, mode: RecoveryMode, plan: Ready, backupDir: string, r: RecoveryReport, after: DirReport, opensClean: boolean): void {
  const bytes = plan.steps.reduce((n, s) => n + s.bytes, 0);
  out(`repair of ${dir} (mode ${mode})`);
  out(`copied ${plan.steps.length} item${plan.steps.length === 1 ? '' : 's'} (${bytes} bytes) to ${backupDir}/ and fsynced them; then:`);
  out(indent(stepsTable(plan.steps, true)));
  // Counts from the recovery report: in skip-corrupted mode they include frames past the damage.
  const range: [number, number] | null = r.records > 0 ? [r.firstLsn, r.lastLsn] : null;
  out(`recovery: outcome ${r.outcome}, ${r.bytesTruncated} bytes truncated; the log now holds ${r.batches} batches, ${r.records} records, LSNs ${lsnRangeText(range)}, in ${after.totals.segments} segments`);
  if (opensClean) out('check: the log now opens cleanly in the default recovery mode');
  else out(`note: the default recovery mode still refuses this log (${mode} leaves the damage or the LSN gap in place); open it with recoveryMode '${mode}'`);
}
