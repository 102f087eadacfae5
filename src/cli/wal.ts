/**
 * `vecwal wal inspect|verify|dump|repair <dir>`: look at and fix a write-ahead log directory
 * from the shell. inspect, verify and dump are read-only and take no lock (they work next to a
 * running writer and on logs that cannot be opened); repair takes the lock and keeps a copy of
 * every byte it cuts. Documented in docs/cli.md.
 */
import { parseArgs } from 'node:util';
import { NodeFileSystem } from '../fs/node-fs.js';
import {
  EXIT_FAIL, EXIT_OK, UsageError, dirArg, formatTable, indent, isoTime, lsnRangeText, out, outJson, usageErrors, wantsHelp,
} from './common.js';
import { analyzeDir, planJson, planRepair, stepsTable, type DirReport, type RepairPlan, type SegmentInfo, type TailState } from './wal-analyze.js';
import { runDump, DUMP_USAGE } from './wal-dump.js';
import { runRepair, REPAIR_USAGE } from './wal-repair.js';

interface Sub {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

const SUBCOMMANDS: Record<string, Sub> = {
  inspect: {
    summary: 'segments, LSN ranges, batches, records and tail state (read-only)',
    usage: 'usage: vecwal wal inspect <dir> [--json]\n\nPer segment: size, number, LSN range, batches, records, created at, salt, tail state. Read-only: takes no lock.',
    run: (argv) => runInspect(argv),
  },
  verify: {
    summary: 'full read-only check; exit 1 if opening would fail',
    usage: 'usage: vecwal wal verify <dir> [--json]\n\nReads every frame and checks LSN continuity. Exit 0: clean, or a torn tail that open repairs.\nExit 1: opening in the default recovery mode would fail; prints where and what repair could do.',
    run: (argv) => runVerify(argv),
  },
  dump: { summary: 'print batches and records', usage: DUMP_USAGE, run: (argv) => runDump(argv) },
  repair: { summary: 'repair the log, keeping a copy of every byte cut (dry run without --yes)', usage: REPAIR_USAGE, run: (argv) => runRepair(argv) },
};

export const WAL_USAGE = [
  'usage: vecwal wal <command> <dir> [options] [--json]',
  '',
  'commands:',
  ...Object.entries(SUBCOMMANDS).map(([name, s]) => `  ${name.padEnd(8)} ${s.summary}`),
  '',
  "<dir> is a WAL directory (holding wal_NNNNNN.log files). Run 'vecwal wal <command> --help' for details.",
].join('\n');

export async function runWal(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    out(WAL_USAGE);
    return EXIT_OK;
  }
  if (sub === undefined) throw new UsageError('missing wal command', 'wal', WAL_USAGE);
  const cmd = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined; // not 'toString' & co.
  if (!cmd) throw new UsageError(`unknown wal command '${sub}'`, 'wal', WAL_USAGE);
  if (wantsHelp(rest)) {
    out(cmd.usage);
    return EXIT_OK;
  }
  return cmd.run(rest);
}

/** `<dir> [--json]`, the whole command line of inspect and verify. */
async function dirAndJson(argv: string[], command: string): Promise<{ dir: string; json: boolean }> {
  const { values, positionals } = usageErrors(command, () =>
    parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true }));
  return { dir: await dirArg(new NodeFileSystem(), positionals, command), json: values.json ?? false };
}

// ---------------------------------------------------------------------------------------------
// inspect

async function runInspect(argv: string[]): Promise<number> {
  const { dir, json } = await dirAndJson(argv, 'wal inspect');
  const report = await analyzeDir(new NodeFileSystem(), dir);
  if (json) outJson(inspectJson(report));
  else printInspect(report);
  return EXIT_OK; // inspect describes; verify is the command that judges
}

function inspectJson(r: DirReport): Record<string, unknown> {
  return {
    dir: r.dir,
    segments: r.segments.map((s) => ({ ...s, createdAt: s.createdAtMs === null ? null : isoTime(s.createdAtMs) })),
    gaps: r.gaps,
    totals: r.totals,
    tempFiles: r.listing.tempFiles,
    droppedFiles: r.listing.droppedFiles,
    repairDirs: r.listing.repairDirs,
    lock: r.listing.lockHolder,
  };
}

function printInspect(r: DirReport): void {
  const t = r.totals;
  out(`WAL directory ${r.dir}: ${t.segments} segment${t.segments === 1 ? '' : 's'}, ${t.sizeBytes} bytes, ${t.batches} batches, ${t.records} records, LSNs ${lsnRangeText(t.lsnRange)}`);
  if (r.segments.length === 0) {
    out('no segment files (wal_NNNNNN.log) here: opening would start a new log');
  } else {
    out();
    const rows = r.segments.map((s) => [
      s.file, s.sizeBytes, s.segmentNo, s.firstLsn ?? '-', s.lastLsn ?? '-', s.batches, s.records,
      s.createdAtMs === null ? '-' : isoTime(s.createdAtMs), s.salt === null ? '-' : hex32(s.salt), tailText(s.tail),
    ]);
    rows.push(['total', t.sizeBytes, '', '', '', t.batches, t.records, '', '', '']);
    out(formatTable(['file', 'size', 'segment', 'first LSN', 'last LSN', 'batches', 'records', 'created at', 'salt', 'tail'], rows));
  }
  const notes = [...r.segments.flatMap(tailNote), ...gapNotes(r), ...otherFileNotes(r)];
  if (notes.length > 0) out();
  for (const n of notes) out(n);
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function tailText(t: TailState): string {
  switch (t.state) {
    case 'clean':
      return 'clean';
    case 'torn':
      return `torn at ${t.offset}`;
    case 'corrupt':
      return `CORRUPT at ${t.offset}${t.provenDurable ? ' (proven durable)' : ''}`;
    case 'bad-header':
      return 'BAD HEADER';
    case 'blank':
      return 'blank';
  }
}

/** The long form of a non-clean tail, with the reason and what it means. */
function tailNote(s: SegmentInfo): string[] {
  const t = s.tail;
  switch (t.state) {
    case 'clean':
      return [];
    case 'torn':
      return [`${s.file}: torn tail at offset ${t.offset} (${t.bytes} bytes): ${t.reason}. Never acknowledged as durable; open cuts it.`];
    case 'corrupt': {
      const why = t.provenDurable ? 'a later intact frame proves these bytes were durable' : 'damage inside a sealed segment';
      const later = t.laterFrames > 0 ? `; ${t.laterFrames} intact frame(s) past it (LSNs ${lsnRangeText(t.laterLsnRange)})` : '';
      return [`${s.file}: CORRUPT at offset ${t.offset}: ${t.reason}; ${why}${later}; LSNs at risk ${lsnRangeText(s.lsnsAtRisk)}`];
    }
    case 'bad-header':
      return [`${s.file}: BAD HEADER: ${t.reason}`];
    case 'blank':
      return [`${s.file}: blank (${t.bytes} bytes, all zero): a segment creation cut short; open removes it`];
  }
}

function gapNotes(r: DirReport): string[] {
  return r.gaps.map((g) => `${g.file}: LSN GAP: starts at LSN ${g.firstLsn} but the previous segment ends at ${g.expected - 1}${g.missing ? ` (LSNs ${lsnRangeText(g.missing)} missing)` : ''}`);
}

function otherFileNotes(r: DirReport): string[] {
  const l = r.listing;
  return [
    ...l.tempFiles.map((f) => `${f}: leftover of an interrupted segment creation; open deletes it`),
    ...l.droppedFiles.map((f) => `${f}: set aside by an earlier salvage recovery; never read`),
    ...l.repairDirs.map((f) => `${f}/: copies kept by an earlier 'vecwal wal repair'`),
    ...(l.lockHolder ? [`LOCK: held by ${l.lockHolder}; a writer may be running, so the last segment may be changing`] : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// verify

type Status = 'clean' | 'repairable' | 'corrupt';

interface Problem {
  file: string;
  offset: number;
  finding: string;
  reason: string;
  bytes: number;
  lsnRange: [number, number] | null;
  provenDurable?: boolean;
}

async function runVerify(argv: string[]): Promise<number> {
  const { dir, json } = await dirAndJson(argv, 'wal verify');
  const fs = new NodeFileSystem();
  const report = await analyzeDir(fs, dir);
  // The verdict is recoverLog's own, in dry-run mode: verify cannot disagree with open.
  const open = await planRepair(fs, report, 'tolerate-corrupted-tail');
  const options = open.ok ? [] : [await planRepair(fs, report, 'point-in-time'), await planRepair(fs, report, 'skip-corrupted')];
  const status: Status = !open.ok ? 'corrupt' : open.steps.length === 0 ? 'clean' : 'repairable';
  const problems = problemsOf(report);
  if (json) {
    outJson({ dir: report.dir, ok: open.ok, status, totals: report.totals, problems, open: planJson(open), repairOptions: options.map(planJson) });
  } else {
    printVerify(report, status, problems, open, options);
  }
  return open.ok ? EXIT_OK : EXIT_FAIL;
}

function problemsOf(r: DirReport): Problem[] {
  const ps: Problem[] = [];
  for (const s of r.segments) {
    const t = s.tail;
    if (t.state === 'clean') continue;
    const p: Problem = { file: s.file, offset: t.offset, finding: t.state, reason: t.reason, bytes: t.bytes, lsnRange: s.lsnsAtRisk };
    if (t.state === 'corrupt') p.provenDurable = t.provenDurable;
    ps.push(p);
  }
  for (const g of r.gaps) ps.push({ file: g.file, offset: 0, finding: 'gap', reason: `segment starts at LSN ${g.firstLsn}, expected ${g.expected}`, bytes: 0, lsnRange: g.missing });
  for (const f of r.listing.tempFiles) ps.push({ file: f, offset: 0, finding: 'temp-file', reason: 'leftover of an interrupted segment creation', bytes: 0, lsnRange: null });
  return ps;
}

function printVerify(r: DirReport, status: Status, problems: Problem[], open: RepairPlan, options: RepairPlan[]): void {
  const t = r.totals;
  out(`verify ${r.dir}: ${t.segments} segments, ${t.batches} batches, ${t.records} records, LSNs ${lsnRangeText(t.lsnRange)}`);
  out('checked: segment headers, every frame (checksum, length, LSN order), LSN continuity across segments');
  for (const p of problems) out(problemLine(p));
  if (open.ok) printVerifyOk(status, open);
  else printVerifyFailed(open, options);
}

function problemLine(p: Problem): string {
  const where = p.finding === 'gap' || p.finding === 'temp-file' ? p.file : `${p.file} at offset ${p.offset}`;
  const label = p.finding === 'torn' ? 'torn tail' : p.finding;
  const lsns = p.lsnRange ? `; LSNs ${p.finding === 'gap' ? 'missing' : 'at risk'}: ${lsnRangeText(p.lsnRange)}` : '';
  return `${label}: ${where}${p.bytes ? ` (${p.bytes} bytes)` : ''}: ${p.reason}${lsns}`;
}

function printVerifyOk(status: Status, open: Extract<RepairPlan, { ok: true }>): void {
  if (status === 'clean') {
    out('result: OK, clean: the log opens with no repair');
    return;
  }
  const cuts = open.steps.filter((s) => s.action === 'cut');
  const what = cuts.map((c) => `torn tail: opening would cut ${c.bytes} bytes from ${c.file} at offset ${c.offset}`);
  const rest = open.steps.filter((s) => s.action !== 'cut').map((s) => `opening would ${s.action} ${s.file}`);
  out(`result: OK, ${[...what, ...rest].join('; ')}; every record before it is intact (LSNs ${lsnRangeText(open.after.lsnRange)})`);
  out(`what 'vecwal wal repair --yes' would do (mode ${open.mode}):`);
  out(indent(stepsTable(open.steps, false)));
}

function printVerifyFailed(open: Extract<RepairPlan, { ok: false }>, options: RepairPlan[]): void {
  const e = open.error;
  out(`result: FAILED: opening in the default recovery mode (${open.mode}) would fail with ${e.code}`);
  out(`  file:      ${e.file ?? '-'}`);
  out(`  offset:    ${e.offset ?? '-'}`);
  out(`  LSN range: ${lsnRangeText(e.details.lsnRange)}`);
  out(`  reason:    ${String(e.details.reason ?? e.message)}`);
  out("'vecwal wal repair' (default mode) refuses this log. Salvage modes, which drop data:");
  for (const p of options) {
    if (!p.ok) {
      out(`  --mode ${p.mode}: refuses too (${p.error.message})`);
      continue;
    }
    out(`  --mode ${p.mode}: the log would keep ${p.after.records} records (LSNs ${lsnRangeText(p.after.lsnRange)})${p.steps.length ? ':' : '; no file is changed (the mode accepts the log as it is)'}`);
    if (p.steps.length) out(indent(stepsTable(p.steps, false), 4));
  }
}
