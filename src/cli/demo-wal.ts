/**
 * `vecwal demo --wal`: the WAL's promise, shown end to end on the real disk.
 *
 *   1. A child process appends records from 16 concurrent writers (sync policy 'always') and
 *      reports each acknowledgement on stdout; a progress bar shows records/s.
 *   2. Mid-way the parent kills it with SIGKILL: no close, no flush, no goodbye.
 *   3. The parent reopens the log (recovery), prints the recovery report, and checks that every
 *      record the child saw acknowledged is there, byte for byte.
 *   4. It resumes the remaining records itself and prints throughput and fsyncs per commit.
 *
 * The payload of writer w's record s is a pure function of (w, s), so the check needs no copy.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { Wal } from '../wal/wal.js';
import { OpType } from '../wal/format.js';
import { joinPath, removeTree } from '../fs/io.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import { onLines, usageErrors } from './common.js';

const WRITERS = 16;
const RECORD_BYTES = 600;

export function demoPayload(writer: number, seq: number): Uint8Array {
  const head = `writer=${writer} seq=${seq} `;
  const out = new Uint8Array(RECORD_BYTES);
  for (let i = 0; i < RECORD_BYTES; i++) out[i] = head.charCodeAt(i % head.length);
  return out;
}

/** Child mode: append `total` records (split over writers), print "lsn writer seq" per ack. */
export async function demoChild(dir: string, total: number, startSeq: number): Promise<void> {
  const wal = await Wal.open(dir);
  const perWriter = Math.ceil(total / WRITERS);
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let s = startSeq; s < startSeq + perWriter; s++) {
        const { firstLsn } = await wal.append({ op: OpType.Insert, payload: demoPayload(w, s) });
        process.stdout.write(`${firstLsn} ${w} ${s}\n`);
      }
    }),
  );
  await wal.close();
}

interface Ack {
  lsn: number;
  writer: number;
  seq: number;
}

function runChild(dir: string, total: number, killAfterAcks: number, bar: cliProgress.SingleBar): Promise<Ack[]> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'demo', '--wal', '--child', '--data', dir, '--records', String(total)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acks: Ack[] = [];
  onLines(child.stdout, (lines) => {
    for (const line of lines) {
      const [lsn, writer, seq] = line.split(' ').map(Number);
      acks.push({ lsn: lsn!, writer: writer!, seq: seq! });
    }
    bar.update(acks.length);
    if (acks.length >= killAfterAcks && child.exitCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('close', () => resolve(acks)));
}

async function verify(wal: Wal, acks: Ack[]): Promise<{ checked: number; missing: number }> {
  const byLsn = new Map<number, Uint8Array>();
  for await (const b of wal.read(wal.firstLsn)) for (const r of b.records) byLsn.set(r.lsn, r.payload);
  let missing = 0;
  for (const a of acks) {
    const got = byLsn.get(a.lsn);
    const want = demoPayload(a.writer, a.seq);
    if (!got || Buffer.compare(Buffer.from(got), Buffer.from(want)) !== 0) missing++;
  }
  return { checked: acks.length, missing };
}

export async function runWalDemo(argv: string[]): Promise<number> {
  const { values } = usageErrors('demo', () =>
    parseArgs({
      args: argv,
      strict: true,
      options: { data: { type: 'string', default: './data' }, records: { type: 'string', default: '100000' }, child: { type: 'boolean', default: false } },
    }),
  );
  const total = Number(values.records);
  if (values.child) {
    await demoChild(values.data!, total, 0);
    return 0;
  }
  const dir = joinPath(values.data!, 'wal-demo');
  await removeTree(new NodeFileSystem(), dir); // each run starts from an empty log
  console.log(`vecwal demo --wal: ${total} records of ${RECORD_BYTES} bytes from ${WRITERS} concurrent writers into ${dir}, sync policy 'always'`);
  const bar = new cliProgress.SingleBar({ format: ' appending |{bar}| {value}/{total} acknowledged | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  const t0 = performance.now();
  const acks = await runChild(dir, total, Math.floor(total * (0.3 + Math.random() * 0.3)), bar);
  bar.stop();
  const secs = (performance.now() - t0) / 1000;
  console.log(`killed the writer with SIGKILL after ${acks.length} acknowledged appends (${Math.round(acks.length / secs)} appends/s)`);

  const wal = await Wal.open(dir);
  const r = wal.recovery;
  console.log('\nrecovery report');
  console.table({ outcome: r.outcome, segments: r.segments, batches: r.batches, records: r.records, lastLsn: r.lastLsn, bytesTruncated: r.bytesTruncated, events: r.events.length, ms: Math.round(r.durationMs) });
  for (const e of r.events) console.log(`  ${e.finding} at ${e.file}:${e.offset}: ${e.reason} -> ${e.action}`);
  const v = await verify(wal, acks);
  console.log(`verified ${v.checked} acknowledged records: ${v.missing === 0 ? 'all present, byte for byte' : `${v.missing} MISSING`}`);

  const remaining = Math.max(0, total - r.records);
  const t1 = performance.now();
  const perWriter = Math.ceil(remaining / WRITERS);
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let s = 0; s < perWriter; s++) await wal.append({ op: OpType.Insert, payload: demoPayload(w, 1_000_000 + s) });
  }));
  const st = wal.stats();
  const resumeSecs = (performance.now() - t1) / 1000;
  console.log(`resumed: ${perWriter * WRITERS} more records in ${resumeSecs.toFixed(2)} s (${Math.round((perWriter * WRITERS) / resumeSecs)} durable appends/s, ${(st.syncs / Math.max(1, st.appends)).toFixed(3)} fsyncs per append thanks to group commit)`);
  console.log(`the log now holds LSNs ${wal.firstLsn}..${wal.lastLsn}; inspect it with: npx vecwal wal inspect ${dir}`);
  await wal.close();
  return v.missing === 0 ? 0 : 1;
}
