/**
 * `vecwal wal dump <dir>`: print batches and their records, oldest first, read-only.
 *
 * Reads segments with SegmentCursor, as recovery does, and stops at the first bad spot (a torn
 * tail or corruption): past it nothing is trustworthy in the default recovery mode, so dump
 * reports where it stopped instead of guessing. Output is streamed (one line per record) so a
 * dump of a large log neither waits for the end nor holds it in memory.
 */
import type { FileSystem } from '../fs/fs.js';
import { parseArgs } from 'node:util';
import { NodeFileSystem } from '../fs/node-fs.js';
import { joinPath } from '../fs/io.js';
import type { Frame } from '../wal/codec.js';
import { OpType } from '../wal/format.js';
import { SegmentCursor, type BadSpot } from '../wal/segment-reader.js';
import { classifySpot, type Position } from '../wal/recovery.js';
import { EXIT_FAIL, EXIT_OK, UsageError, dirArg, intFlag, isoTime, out, outJson, usageErrors } from './common.js';
import { listDir, readSegmentHeader } from './wal-analyze.js';

export const DUMP_USAGE = `usage: vecwal wal dump <dir> [--from <lsn>] [--to <lsn>] [--limit <batches>] [--preview <bytes>] [--json]

Prints every batch overlapping [--from, --to], and within it each record in that range: LSN,
op, timestamp, payload length and a payload preview (text if printable UTF-8, else hex), at
most --preview bytes (default 64). --limit stops after that many batches. --json prints one
JSON object per line (payload in base64). Read-only. Stops at the first torn or corrupt spot
and reports it (exit 0 for a torn tail, 1 for corruption).`;

interface DumpOptions {
  from: number;
  to: number;
  limit: number;
  preview: number;
  json: boolean;
}

/** Where and why the dump stopped early. */
interface Stop {
  file: string;
  offset: number;
  state: 'torn' | 'corrupt' | 'bad-header';
  reason: string;
}

interface Progress {
  batches: number;
  records: number;
  done: boolean;
  stop: Stop | null;
}

const COMMAND = 'wal dump';

export async function runDump(argv: string[]): Promise<number> {
  const options = {
    from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' },
    preview: { type: 'string' }, json: { type: 'boolean', default: false },
  } as const;
  const { values, positionals } = usageErrors(COMMAND, () => parseArgs({ args: argv, options, allowPositionals: true, strict: true }));
  const o: DumpOptions = {
    from: intFlag(values.from, 'from', 1, COMMAND) ?? 1,
    to: intFlag(values.to, 'to', 1, COMMAND) ?? Number.MAX_SAFE_INTEGER,
    limit: intFlag(values.limit, 'limit', 0, COMMAND) ?? Infinity,
    preview: intFlag(values.preview, 'preview', 0, COMMAND) ?? 64,
    json: values.json ?? false,
  };
  if (o.from > o.to) throw new UsageError(`--from ${o.from} is after --to ${o.to}`, COMMAND);
  const fs = new NodeFileSystem();
  const dir = await dirArg(fs, positionals, COMMAND);
  if (!o.json) out(HEADER);
  const p = await dumpDir(fs, dir, o);
  printEnd(p, o);
  return p.stop && p.stop.state !== 'torn' ? EXIT_FAIL : EXIT_OK;
}

async function dumpDir(fs: FileSystem, dir: string, o: DumpOptions): Promise<Progress> {
  const names = (await listDir(fs, dir)).segments.map((s) => s.name);
  const p: Progress = { batches: 0, records: 0, done: o.limit === 0, stop: null };
  for (let i = 0; i < names.length && !p.done; i++) {
    const path = joinPath(dir, names[i]!);
    // Segment i ends where segment i+1 starts: skip it unread when that is below --from.
    const next = i + 1 < names.length ? await readSegmentHeader(fs, joinPath(dir, names[i + 1]!)) : null;
    if (next && next.firstLsn - 1 < o.from) continue;
    await dumpSegment(fs, path, names[i]!, i === names.length - 1 ? 'last' : 'sealed', o, p);
  }
  return p;
}

async function dumpSegment(fs: FileSystem, path: string, file: string, position: Position, o: DumpOptions, p: Progress): Promise<void> {
  const cursor = await SegmentCursor.open(fs, path);
  try {
    if (cursor.scan.headerError) return stopAt(p, { file, offset: 0, state: 'bad-header', reason: cursor.scan.headerError });
    if (cursor.scan.header!.firstLsn > o.to) return void (p.done = true);
    for (;;) {
      const step = await cursor.next(false);
      if (step === null) return;
      if (!('frame' in step)) return stopAt(p, stopOf(file, step, position));
      if (printFrame(step.frame, file, step.at, o, p)) return;
    }
  } finally {
    await cursor.close();
  }
}

function stopOf(file: string, spot: BadSpot, position: Position): Stop {
  return { file, offset: spot.offset, state: classifySpot(spot, position), reason: spot.reason };
}

function stopAt(p: Progress, stop: Stop): void {
  p.stop = stop;
  p.done = true;
}

/** Print the frame if it overlaps the range; returns true when the dump is complete. */
function printFrame(f: Frame, file: string, at: number, o: DumpOptions, p: Progress): boolean {
  const last = f.firstLsn + f.records.length - 1;
  if (last < o.from) return false;
  if (f.firstLsn > o.to) return (p.done = true);
  const records = f.records.filter((r) => r.lsn >= o.from && r.lsn <= o.to);
  if (!o.json) out(`# batch LSN ${f.firstLsn}..${last}, ${f.records.length} record${f.records.length === 1 ? '' : 's'}, ${file} offset ${at}`);
  for (const r of records) {
    if (o.json) outJson(recordJson(r, f, file, at));
    else out(recordLine(r.lsn, r.op, f.timestamp, r.payload, o.preview));
  }
  p.batches++;
  p.records += records.length;
  if (p.batches >= o.limit || last >= o.to) p.done = true;
  return p.done;
}

const HEADER = `${'LSN'.padStart(10)}  ${'op'.padEnd(16)}  ${'timestamp'.padEnd(24)}  ${'length'.padStart(8)}  payload`;

function recordLine(lsn: number, op: number, ts: number, payload: Uint8Array, max: number): string {
  return `${String(lsn).padStart(10)}  ${opName(op).padEnd(16)}  ${isoTime(ts).padEnd(24)}  ${String(payload.length).padStart(8)}  ${previewText(payload, max)}`;
}

function recordJson(r: Frame['records'][number], f: Frame, file: string, at: number): Record<string, unknown> {
  return {
    type: 'record', lsn: r.lsn, op: opName(r.op), opCode: r.op, timestamp: isoTime(f.timestamp), timestampMs: f.timestamp,
    batch: { firstLsn: f.firstLsn, lastLsn: f.firstLsn + f.records.length - 1, file, offset: at },
    length: r.payload.length, payload: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.length).toString('base64'),
  };
}

function opName(op: number): string {
  return OpType[op] ?? `op${op}`;
}

function printEnd(p: Progress, o: DumpOptions): void {
  if (o.json) {
    if (p.stop) outJson({ type: 'stop', ...p.stop });
    outJson({ type: 'summary', batches: p.batches, records: p.records, stopped: p.stop !== null });
    return;
  }
  out(`-- ${p.batches} batch${p.batches === 1 ? '' : 'es'}, ${p.records} record${p.records === 1 ? '' : 's'}`);
  const s = p.stop;
  if (!s) return;
  const what = s.state === 'torn' ? 'torn tail (never acknowledged; open cuts it)' : s.state === 'corrupt' ? 'CORRUPTION' : 'BAD HEADER';
  out(`-- stopped at ${s.file} offset ${s.offset}: ${what}: ${s.reason}`);
}

// ---------------------------------------------------------------------------------------------
// payload preview

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Text (JSON-quoted, so control characters and quotes are visible) if printable UTF-8, else hex. */
export function previewText(payload: Uint8Array, max: number): string {
  if (max === 0 || payload.length === 0) return payload.length === 0 ? '(empty)' : '';
  const cut = payload.length > max;
  const slice = payload.subarray(0, max);
  const text = decodeUtf8(slice, cut);
  const more = cut ? '…' : '';
  if (text !== null && !CONTROL.test(text)) return `${JSON.stringify(text)}${more}`;
  return `hex ${Buffer.from(slice.buffer, slice.byteOffset, slice.length).toString('hex')}${more}`;
}

/** Strict UTF-8 decode; a preview cut inside a multi-byte character drops that character. */
function decodeUtf8(bytes: Uint8Array, mayBeCut: boolean): string | null {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let drop = 0; drop <= (mayBeCut ? 3 : 0) && drop < bytes.length; drop++) {
    try {
      return decoder.decode(bytes.subarray(0, bytes.length - drop));
    } catch {
      // try a shorter slice
    }
  }
  return null;
}
