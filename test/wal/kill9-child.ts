/**
 * Child process for test/wal/kill9.test.ts: appends to a real on-disk WAL until it is killed.
 *
 *   node dist/test/wal/kill9-child.js --vecwal-kill9-child <dir> <round> <syncPolicy>
 *
 * Opens the Wal in <dir> (NodeFileSystem), prints `ready <nextLsn>`, then runs WRITERS
 * concurrent appenders; writer w appends one record per batch with the payload
 * kill9Payload(round, w, seq) for seq = 0, 1, 2, ... and, only after the append promise
 * resolved, prints one line `<lsn> <writer> <seq>`. stdout is a pipe, and on Linux writes to a
 * pipe are synchronous, so a printed line is in the pipe before the next statement runs; lines
 * are far below PIPE_BUF, so a kill never leaves half a line in the middle of the stream.
 *
 * The file is named so that Node's default test patterns do not match it (`kill9-child.js`),
 * but `node --test dist/test/` runs every .js file under a directory named `test` anyway (Node
 * 20: see the report in test/wal/kill9.test.ts). Run without the flag, it does nothing and exits
 * 0, and importing it (the test imports the payload function) has no side effect.
 */
import { Wal, type SyncPolicy } from '../../src/wal/wal.js';
import { OpType } from '../../src/wal/format.js';

export const CHILD_FLAG = '--vecwal-kill9-child';
export const WRITERS = 8;
/** Segments small enough that a run of the test rotates many times. */
export const CHILD_WAL_OPTIONS = { segmentSizeBytes: 64 * 1024, preallocateBytes: 16 * 1024 } as const;
/** Appends per writer per round; after that the child idles until killed. */
export const MAX_SEQ = 500;

/** `round writer seq|` then filler bytes derived from the three numbers (length 0..96). */
export function kill9Payload(round: number, writer: number, seq: number): Uint8Array {
  const head = new TextEncoder().encode(`${round} ${writer} ${seq}|`);
  const fill = (round * 131 + writer * 31 + seq * 7) % 97;
  const out = new Uint8Array(head.length + fill);
  out.set(head, 0);
  for (let i = head.length; i < out.length; i++) out[i] = (round * 3 + writer * 17 + seq * 5 + i * 11) & 0xff;
  return out;
}

/** The (round, writer, seq) a payload claims to be, or null if it is not one of ours. */
export function parseKill9Payload(p: Uint8Array): { round: number; writer: number; seq: number } | null {
  const bar = p.indexOf(0x7c); // '|'
  if (bar < 0 || bar > 40) return null;
  const m = /^(\d+) (\d+) (\d+)$/.exec(new TextDecoder().decode(p.subarray(0, bar)));
  if (!m) return null;
  return { round: Number(m[1]), writer: Number(m[2]), seq: Number(m[3]) };
}

async function main(dir: string, round: number, syncPolicy: SyncPolicy): Promise<void> {
  const wal = await Wal.open(dir, { ...CHILD_WAL_OPTIONS, syncPolicy });
  process.stdout.write(`ready ${wal.nextLsn}\n`);
  const writer = async (w: number): Promise<void> => {
    for (let seq = 0; seq < MAX_SEQ; seq++) {
      const r = await wal.append({ op: OpType.User, payload: kill9Payload(round, w, seq) });
      process.stdout.write(`${r.firstLsn} ${w} ${seq}\n`);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  process.stdout.write('done\n');
  setInterval(() => undefined, 1000); // wait for the kill; never close cleanly
}

if (process.argv[2] === CHILD_FLAG) {
  const [dir, round, policy] = process.argv.slice(3);
  main(dir!, Number(round), (policy ?? 'always') as SyncPolicy).catch((e: unknown) => {
    process.stderr.write(`kill9-child: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(2);
  });
}
