/**
 * The LogBackend seam: what the engine needs from a log, whatever stores it. The local
 * segmented file log (`Wal`, src/wal/wal.ts) is the embedded default; a replicated NATS
 * JetStream log comes later. One contract suite (test/log/log-backend.contract.test.ts) runs
 * against every implementation.
 *
 * Contract:
 *   - `append` assigns dense, increasing LSNs to the batch's records and resolves once the
 *     batch is durable as the backend's sync policy defines it; the batch is atomic.
 *   - `read(fromLsn)` yields whole batches in LSN order, from the batch holding `fromLsn`
 *     through the last batch appended when the read started.
 *   - `truncate(uptoLsn)` declares every LSN <= uptoLsn safe elsewhere; the backend may then
 *     drop them (never anything above).
 *   - After `close`, every method rejects with CLOSED.
 */
import type { AppendInput, AppendResult, WalBatch } from '../wal/wal.js';

export interface LogBackend {
  append(records: AppendInput | readonly AppendInput[], options?: { timestamp?: number }): Promise<AppendResult>;
  read(fromLsn?: number, options?: { toLsn?: number }): AsyncIterable<WalBatch>;
  truncate(uptoLsn: number): Promise<void>;
  /** Highest LSN appended (durable or not). */
  readonly lastLsn: number;
  /** Highest LSN known durable. */
  readonly durableLsn: number;
  close(): Promise<void>;
}
