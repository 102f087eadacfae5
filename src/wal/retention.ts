/**
 * WAL cleanup planning: which sealed segments may be deleted, and whether the log is under
 * pressure. Pure: wal.ts supplies the segment list and carries out the plan.
 *
 * The rule, in order:
 *   1. A segment is *eligible* only if it is sealed (not the active one) and every LSN in it is
 *      at or below the checkpoint and below every registered reader's position. Nothing above
 *      the checkpoint is ever deleted, whatever the limits say.
 *   2. Eligible segments are deleted oldest first while any of these holds: the segment is older
 *      than maxAgeMs (age counts from when it was sealed), the log has more than maxFiles files,
 *      or the log is larger than maxTotalBytes. Deletion stops at minFiles files, and at the
 *      first eligible segment that none of them condemns (so the log stays a contiguous suffix).
 *   3. If, after that, the log still breaks maxFiles or maxTotalBytes, the excess is unflushed
 *      data: the plan reports pressure, and the engine answers it with a flush.
 */

export interface RetentionPolicy {
  /** Never delete below this many segment files. Default 3. */
  minFiles: number;
  /** Delete eligible segments sealed longer ago than this. Default 7 days. */
  maxAgeMs: number;
  /** Delete eligible segments while there are more files than this; pressure above it. Default 64. */
  maxFiles: number;
  /** Delete eligible segments while the log is larger than this; pressure above it. Default 1 GiB. */
  maxTotalBytes: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  minFiles: 3,
  maxAgeMs: 7 * 24 * 3600 * 1000,
  maxFiles: 64,
  maxTotalBytes: 1024 * 1024 * 1024,
};

export interface SegmentSummary {
  segmentNo: number;
  firstLsn: number;
  /** Last LSN held (firstLsn - 1 when empty). */
  lastLsn: number;
  sizeBytes: number;
  /** When the segment was sealed (the next segment's creation time); null for the active one. */
  sealedAtMs: number | null;
}

export interface RetentionPlan {
  /** Segment numbers to delete, oldest first. */
  delete: number[];
  /** Set when the log exceeds maxFiles or maxTotalBytes with data that cannot be deleted. */
  pressure: null | { reason: 'max_files' | 'max_total_bytes'; files: number; totalBytes: number; bytesAboveCheckpoint: number };
}

/**
 * @param segments all segments, oldest first; the last is the active one
 * @param safeLsn the highest LSN that may be deleted: min(checkpoint, slowest reader - 1)
 */
export function planRetention(segments: readonly SegmentSummary[], safeLsn: number, policy: RetentionPolicy, nowMs: number): RetentionPlan {
  let files = segments.length;
  let totalBytes = segments.reduce((n, s) => n + s.sizeBytes, 0);
  const del: number[] = [];
  for (const s of segments) {
    if (files <= policy.minFiles) break;
    const eligible = s.sealedAtMs !== null && s.lastLsn <= safeLsn;
    if (!eligible) break;
    const expired = nowMs - s.sealedAtMs! > policy.maxAgeMs;
    if (!expired && files <= policy.maxFiles && totalBytes <= policy.maxTotalBytes) break;
    del.push(s.segmentNo);
    files--;
    totalBytes -= s.sizeBytes;
  }
  const bytesAboveCheckpoint = segments.filter((s) => s.lastLsn > safeLsn).reduce((n, s) => n + s.sizeBytes, 0);
  let pressure: RetentionPlan['pressure'] = null;
  if (totalBytes > policy.maxTotalBytes) pressure = { reason: 'max_total_bytes', files, totalBytes, bytesAboveCheckpoint };
  else if (files > policy.maxFiles) pressure = { reason: 'max_files', files, totalBytes, bytesAboveCheckpoint };
  return { delete: del, pressure };
}

export function validateRetention(p: RetentionPolicy): string | null {
  if (!Number.isInteger(p.minFiles) || p.minFiles < 1) return 'minFiles must be an integer >= 1';
  if (!Number.isInteger(p.maxFiles) || p.maxFiles < p.minFiles) return 'maxFiles must be an integer >= minFiles';
  if (!(p.maxAgeMs >= 0)) return 'maxAgeMs must be >= 0';
  if (!(p.maxTotalBytes > 0)) return 'maxTotalBytes must be > 0';
  return null;
}
