/**
 * Recovery policy: what to do with each finding of the segment reader, per recovery mode.
 * The reader (segment-reader.ts) detects; this module decides; wal.ts carries it out.
 * The same table, as a grid with the reasoning, is in docs/design/recovery.md; a test checks
 * that every (finding, position, mode) combination has exactly one action.
 *
 * Findings, per segment, in log order:
 *   clean       every byte after the header is an intact frame or zeros up to EOF
 *   torn        the last segment ends in damage that no intact later frame proves durable:
 *               the bytes of an append that was never acknowledged under sync=always
 *   corrupt     damage proven durable (a later intact frame's synced-through offset lies past
 *               it), or any damage in a segment that is not the last (sealed segments were
 *               fsynced whole before the next one was created)
 *   bad-header  the segment header does not decode (magic, version or checksum)
 *   blank       the last segment's file is empty or all zeros: its creation was cut short
 *   gap         this segment's first LSN does not follow the previous segment's last LSN
 */
import type { BadSpot } from './segment-reader.js';

export const RECOVERY_MODES = ['tolerate-corrupted-tail', 'absolute-consistency', 'point-in-time', 'skip-corrupted'] as const;
export type RecoveryMode = (typeof RECOVERY_MODES)[number];

export type FindingKind = 'clean' | 'torn' | 'corrupt' | 'bad-header' | 'blank' | 'gap';
export type Position = 'last' | 'sealed';

/**
 * accept           use the segment as it is
 * truncate         cut the segment at the bad offset (fsync), keep what precedes it
 * fail             refuse to open: WAL_CORRUPTED with file, offset and LSN range
 * truncate-rest    point-in-time: cut here and set aside every later segment (renamed *.dropped)
 * skip             skip-corrupted: step over the damage, keep later intact frames (LSN gap)
 * remove           delete the file: it holds no records
 */
export type RecoveryAction = 'accept' | 'truncate' | 'fail' | 'truncate-rest' | 'skip' | 'remove';

type Row = Record<RecoveryMode, RecoveryAction>;
const row = (tolerate: RecoveryAction, absolute: RecoveryAction, pit: RecoveryAction, skip: RecoveryAction): Row => ({
  'tolerate-corrupted-tail': tolerate,
  'absolute-consistency': absolute,
  'point-in-time': pit,
  'skip-corrupted': skip,
});

/** The decision table. Combinations that cannot occur are absent (see `decide`). */
export const DECISIONS: Record<FindingKind, Partial<Record<Position, Row>>> = {
  clean: { last: row('accept', 'accept', 'accept', 'accept'), sealed: row('accept', 'accept', 'accept', 'accept') },
  // A torn tail is the normal result of a crash: repair it, except in absolute-consistency,
  // which promises that nothing at all was lost (only true after a clean close).
  torn: { last: row('truncate', 'fail', 'truncate', 'truncate') },
  corrupt: {
    last: row('fail', 'fail', 'truncate', 'skip'),
    sealed: row('fail', 'fail', 'truncate-rest', 'skip'),
  },
  'bad-header': { last: row('fail', 'fail', 'truncate-rest', 'skip'), sealed: row('fail', 'fail', 'truncate-rest', 'skip') },
  blank: { last: row('remove', 'remove', 'remove', 'remove') },
  gap: { last: row('fail', 'fail', 'truncate-rest', 'accept'), sealed: row('fail', 'fail', 'truncate-rest', 'accept') },
};

export function decide(kind: FindingKind, position: Position, mode: RecoveryMode): RecoveryAction {
  const r = DECISIONS[kind][position];
  if (!r) throw new Error(`recovery: finding '${kind}' cannot occur in a ${position} segment`);
  return r[mode];
}

/** One problem recovery met, as reported to the caller. */
export interface RecoveryEvent {
  file: string;
  offset: number;
  finding: FindingKind;
  reason: string;
  action: RecoveryAction;
  /** LSNs lost or skipped, inclusive, when known. */
  lsnRange: [number, number] | null;
  /** Bytes removed from the log by the action. */
  bytes: number;
}

export interface RecoveryReport {
  mode: RecoveryMode;
  /** 'clean': nothing to repair; 'repaired': a torn tail was cut or blank file removed; 'salvaged': a non-default mode dropped or skipped data. */
  outcome: 'clean' | 'repaired' | 'salvaged';
  segments: number;
  /** Frames (atomic batches) read by recovery: segments wholly below replayFromLsn are not read. */
  batches: number;
  /** Records in the log after recovery (exact even for segments not read: LSNs are dense). */
  records: number;
  /** First and last LSN in the log after recovery (0, 0 when empty). */
  firstLsn: number;
  lastLsn: number;
  /** Batches and records passed to the replay callback. */
  replayedBatches: number;
  replayedRecords: number;
  /** Bytes cut from the tail of the last segment. */
  bytesTruncated: number;
  /** Temporary files of an interrupted segment creation, removed. */
  removedTempFiles: string[];
  events: RecoveryEvent[];
  durationMs: number;
}

export function classifySpot(spot: BadSpot, position: Position): 'torn' | 'corrupt' {
  return position === 'last' && !spot.provenDurable ? 'torn' : 'corrupt';
}
