/**
 * A data segment as the engine holds it in memory: growing (the memtable of one collection,
 * appended batch by batch), frozen (being flushed) or sealed (backed by an immutable segment
 * file, its columns loaded on first use).
 *
 * Rows live in blocks: a growing segment keeps each ingested batch as its own block (no copy on
 * the ingest path); a sealed segment loaded from disk is one block. A row's position in the
 * segment file is `block.base + row`, which is what delete files record.
 */
import type { ColumnBatch, ColumnData } from './types.js';

export interface Block {
  batch: ColumnBatch;
  /** Row offset of this block's first row within the segment (and its file). */
  base: number;
  /** Packed bitset, bit set = row deleted. */
  deleted: Uint8Array;
  /** LSN of the write that added the block (0 when loaded from a file). */
  lsn: number;
  /** Encoded size of the block's rows (its WAL payload), for memtable accounting. */
  bytes: number;
}

export type SegmentState = 'growing' | 'frozen' | 'sealed';

export interface RowRef {
  seg: MemSegment;
  block: Block;
  row: number;
}

export class MemSegment {
  readonly id: number;
  readonly collectionId: number;
  state: SegmentState;
  blocks: Block[] = [];
  rows = 0;
  deletedRows = 0;
  bytes = 0;
  minLsn = Infinity;
  maxLsn = 0;
  /** Sealed segments: loads the columns on first use. */
  loader: (() => Promise<ColumnBatch>) | null = null;
  private loading: Promise<void> | null = null;
  /** Rows deleted since the last flush, as file row offsets, for the next delete file. */
  pendingDeletes: number[] = [];


  constructor(id: number, collectionId: number, state: SegmentState) {
    this.id = id;
    this.collectionId = collectionId;
    this.state = state;
  }

  /** Append a batch (growing segments only). */
  append(batch: ColumnBatch, lsn: number, bytes: number): Block {
    const block: Block = { batch, base: this.rows, deleted: new Uint8Array((batch.count + 7) >> 3), lsn, bytes };
    this.blocks.push(block);
    this.rows += batch.count;
    this.bytes += bytes;
    if (lsn < this.minLsn) this.minLsn = lsn;
    if (lsn > this.maxLsn) this.maxLsn = lsn;
    return block;
  }

  /**
   * Take over a block of another segment (compaction, for a block that had no deletes when
   * planned): it becomes this segment's next rows. Rows deleted since (bits set in its bitmap)
   * count as this segment's deletes, pending for its next delete file.
   */
  adopt(block: Block): void {
    block.base = this.rows;
    this.blocks.push(block);
    this.rows += block.batch.count;
    for (let i = 0; i < block.batch.count; i++) {
      if (!getBit(block.deleted, i)) continue;
      this.deletedRows++;
      this.pendingDeletes.push(block.base + i);
    }
  }

  /** Make sure a sealed segment's columns are in memory. */
  async load(): Promise<void> {
    if (!this.loader || this.blocks.length > 0) return;
    this.loading ??= (async () => {
      const batch = await this.loader!();
      const deleted = this.blocks.length === 0 ? new Uint8Array((batch.count + 7) >> 3) : this.blocks[0]!.deleted;
      this.blocks = [{ batch, base: 0, deleted, lsn: 0, bytes: 0 }];
      for (const row of this.preloadDeletes) setBit(deleted, row);
      this.preloadDeletes = [];
    })();
    try {
      await this.loading;
    } catch (e) {
      this.loading = null; // a failed read (EIO) is not remembered: the next load tries again
      throw e;
    }
  }

  /** Deletes known before the columns are loaded (from delete files), applied at load. */
  preloadDeletes: number[] = [];

  markDeleted(ref: { block: Block; row: number }, track: boolean): boolean {
    if (getBit(ref.block.deleted, ref.row)) return false;
    setBit(ref.block.deleted, ref.row);
    this.deletedRows++;
    if (track) this.pendingDeletes.push(ref.block.base + ref.row);
    return true;
  }

  liveRows(): number {
    return this.rows - this.deletedRows;
  }

  column(block: Block, name: string): ColumnData {
    const c = block.batch.columns.get(name);
    if (!c) throw new Error(`segment ${this.id}: no column ${name}`);
    return c;
  }
}

export function getBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (1 << (i & 7))) !== 0;
}

export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3]! |= 1 << (i & 7);
}
