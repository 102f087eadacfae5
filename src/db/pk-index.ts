/**
 * The primary key index of a collection: primary key -> (block, row) of its live row.
 *
 * Int64 keys live in an open-addressing hash table over typed arrays (Int64HashTable): no
 * BigInt and no object per key, so building the index for a million rows or checking a 10,000
 * row batch for existing keys reads the batch's BigInt64Array column as 32-bit words and never
 * allocates. (A Map<bigint, {seg, block, row}> cost ~1 us per row on the ingest path: a BigInt
 * hash, an entry and a ref object per row.) VarChar keys keep a Map<string, number>.
 *
 * A row reference is (block id, row): block ids are handed out by the index (`blockId`), which
 * keeps the id -> {segment, block} table; `releaseBlocks` forgets blocks that no key can point
 * to any more (segments replaced by compaction), so their columns can be collected.
 *
 * Indexing is deferred: `addBlock` only queues the block (and, for Int64 keys, raises the upper
 * bound of every key added), and the queue is drained into the table, oldest first, by the first
 * call that looks a key up or changes the table. A batch of ascending ids above the bound needs
 * no lookup (firstPresent, takeColumn), so an import of ascending ids, and a reopen followed by
 * one, never hash their keys at all; the first delete or lookup after it pays for every queued
 * row in one pass sized for them, as the index built at open always did.
 */
import type { Block, MemSegment, RowRef } from './mem-segment.js';
import type { ColumnData, PrimaryKey } from './types.js';
import { invalidArgument } from '../errors.js';

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Word positions of an int64's low and high 32-bit halves in an Int32Array view of it. */
export const LO = LITTLE_ENDIAN ? 0 : 1;
export const HI = 1 - LO;

/** The 32-bit words of an Int64 column (a view: no copy). Element i is words[2i + LO], words[2i + HI]. */
export function int64Words(keys: BigInt64Array): Int32Array {
  return new Int32Array(keys.buffer, keys.byteOffset, keys.length * 2);
}

/** The low and high 32-bit words (as int32) of a 64-bit key. */
export function splitInt64(k: bigint): [lo: number, hi: number] {
  return [Number(BigInt.asIntN(32, k)), Number(BigInt.asIntN(32, k >> 32n))];
}

/** The int64 whose low and high 32-bit words are `lo`, `hi`. */
export function joinInt64(lo: number, hi: number): bigint {
  return (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
}

const EMPTY = 0;
/** Ints per slot: key lo, key hi, a + 1 (0 = empty), b. */
const SLOT = 4;
const MIN_CAPACITY = 16;

/** Mix the two words of a key into a 32-bit hash (murmur3 finalizer over a cheap combination). */
function hash(lo: number, hi: number): number {
  let h = Math.imul(hi, 0x9e3779b1) ^ lo;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A hash map from int64 keys (given as two int32 words) to a pair of values (a, b): a in
 * [0, 2^31 - 2], b any int32 (read back as given). Linear probing, power-of-two capacity, load
 * at most 3/4, backward-shift deletion (no tombstones, so lookups stay short after deletes).
 * Everything lives in one Int32Array: a lookup touches one or two cache lines.
 */
export class Int64HashTable {
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(expected = 0) {
    let cap = MIN_CAPACITY;
    while (cap * 3 < expected * 4) cap *= 2;
    this.slots = new Int32Array(cap * SLOT);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** Make room for `n` more keys without growing on the way. */
  reserve(n: number): void {
    const need = this.count + n;
    let cap = this.mask + 1;
    while (cap * 3 < need * 4) cap *= 2;
    if (cap !== this.mask + 1) this.rehash(cap);
  }

  /** The slot holding the key, or -1. Read its values with valueA / valueB. */
  find(lo: number, hi: number): number {
    const s = this.slots;
    const mask = this.mask;
    for (let i = hash(lo, hi) & mask; ; i = (i + 1) & mask) {
      const o = i * SLOT;
      if (s[o + 2] === EMPTY) return -1;
      if (s[o] === lo && s[o + 1] === hi) return i;
    }
  }

  has(lo: number, hi: number): boolean {
    return this.find(lo, hi) >= 0;
  }

  valueA(slot: number): number {
    return this.slots[slot * SLOT + 2]! - 1;
  }

  valueB(slot: number): number {
    return this.slots[slot * SLOT + 3]!;
  }

  /** Insert or overwrite. */
  set(lo: number, hi: number, a: number, b: number): void {
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.rehash((this.mask + 1) * 2);
    const s = this.slots;
    const mask = this.mask;
    for (let i = hash(lo, hi) & mask; ; i = (i + 1) & mask) {
      const o = i * SLOT;
      if (s[o + 2] === EMPTY) {
        s[o] = lo;
        s[o + 1] = hi;
        this.count++;
      } else if (s[o] !== lo || s[o + 1] !== hi) {
        continue;
      }
      s[o + 2] = a + 1;
      s[o + 3] = b;
      return;
    }
  }

  /** Remove the key; false if it was absent. */
  delete(lo: number, hi: number): boolean {
    const slot = this.find(lo, hi);
    if (slot < 0) return false;
    this.removeAt(slot);
    return true;
  }

  /** Remove the entry in `slot` (from find): entries after it in its probe run shift back. */
  removeAt(slot: number): void {
    const s = this.slots;
    const mask = this.mask;
    let hole = slot;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const o = j * SLOT;
      if (s[o + 2] === EMPTY) break;
      const home = hash(s[o]!, s[o + 1]!) & mask;
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      s.copyWithin(hole * SLOT, o, o + SLOT);
      hole = j;
    }
    s.fill(0, hole * SLOT, hole * SLOT + SLOT);
    this.count--;
  }

  /** Calls fn for every entry (order unspecified). */
  forEach(fn: (lo: number, hi: number, a: number, b: number) => void): void {
    const s = this.slots;
    for (let o = 0; o < s.length; o += SLOT) if (s[o + 2] !== EMPTY) fn(s[o]!, s[o + 1]!, s[o + 2]! - 1, s[o + 3]!);
  }

  private rehash(cap: number): void {
    const old = this.slots;
    const s = new Int32Array(cap * SLOT);
    const mask = cap - 1;
    for (let o = 0; o < old.length; o += SLOT) {
      if (old[o + 2] === EMPTY) continue;
      const lo = old[o]!;
      const hi = old[o + 1]!;
      let i = hash(lo, hi) & mask;
      while (s[i * SLOT + 2] !== EMPTY) i = (i + 1) & mask;
      // Four stores, not s.set(old.subarray(...)): a subarray per key made rehashing 1M keys
      // allocate 1M views (~0.4 us per ingested row).
      const n = i * SLOT;
      s[n] = lo;
      s[n + 1] = hi;
      s[n + 2] = old[o + 2]!;
      s[n + 3] = old[o + 3]!;
    }
    this.slots = s;
    this.mask = mask;
  }
}

interface BlockEntry {
  seg: MemSegment;
  block: Block;
}

/** Rows [from, to) of block `id` whose keys are `keys`: added, not yet in the table. */
interface Pending {
  id: number;
  keys: ColumnData;
  from: number;
  to: number;
}

/** Block ids are below 2^21, so (id, row) packs exactly into a double for the VarChar map. */
const ROW_SPAN = 2 ** 32;

/**
 * The index of one collection. Keys are read from the batches' primary key columns
 * (BigInt64Array or string[]); single keys (PrimaryKey) for the by-id paths.
 */
export class PrimaryKeyIndex {
  private readonly int64: Int64HashTable | null;
  private readonly strings: Map<string, number> | null;
  private blocks: (BlockEntry | undefined)[] = [];
  private readonly ids = new WeakMap<Block, number>();
  /**
   * Int64 keys: an upper bound of every key ever added (words of the largest; deletes do not
   * lower it), or hasMax false while none was. A batch whose smallest key lies above it holds
   * no key of the index, so checking it (insert) or taking its keys (upsert) probes nothing:
   * ascending ids, as imports and autoID make them, skip the hash table on the write path.
   */
  private hasMax = false;
  private maxHi = 0;
  private maxLo = 0;
  private pending: Pending[] = [];
  private pendingRowCount = 0;

  constructor(keyType: 'Int64' | 'VarChar') {
    this.int64 = keyType === 'Int64' ? new Int64HashTable() : null;
    this.strings = keyType === 'VarChar' ? new Map() : null;
  }

  get size(): number {
    this.drain();
    return this.int64 ? this.int64.size : this.strings!.size;
  }

  /** Rows added but not yet indexed (deferred until a lookup needs them). */
  get pendingRows(): number {
    return this.pendingRowCount;
  }

  /** The id of a block (registering it on first use). */
  blockId(seg: MemSegment, block: Block): number {
    let id = this.ids.get(block);
    if (id === undefined) {
      id = this.blocks.length;
      if (id >= 2 ** 21) this.compactIds();
      id = this.blocks.length;
      this.blocks.push({ seg, block });
      this.ids.set(block, id);
    }
    return id;
  }

  /** A block moved to another segment (compaction): every key pointing into it follows. */
  moveBlock(block: Block, seg: MemSegment): void {
    const id = this.ids.get(block);
    if (id !== undefined) this.blocks[id] = { seg, block };
  }

  /** Forget blocks no key points to any more (after compaction replaced their segment). */
  releaseBlocks(blocks: Iterable<Block>): void {
    this.drain();
    for (const b of blocks) {
      const id = this.ids.get(b);
      if (id === undefined) continue;
      this.blocks[id] = undefined;
      this.ids.delete(b);
    }
  }

  /**
   * Index rows [from, to) of a block (rows marked deleted when the queue is drained are skipped;
   * later keys overwrite). Deferred: see the class comment.
   */
  addBlock(seg: MemSegment, block: Block, keys: ColumnData, from = 0, to = block.batch.count): void {
    if (to <= from) return;
    const id = this.blockId(seg, block);
    if (this.int64) this.raiseMax(int64Words(int64Column(keys)), from, to);
    else stringColumn(keys); // the type check, now
    this.pending.push({ id, keys, from, to });
    this.pendingRowCount += to - from;
  }

  /**
   * Put the queued blocks into the table, oldest first. A row deleted since its block was queued
   * is skipped: deletes reach rows through the table, so a queued row can only be marked deleted
   * by a path that drained first, and the skip only matters for rows deleted before queuing.
   */
  private drain(): void {
    if (this.pending.length === 0) return;
    const queue = this.pending;
    this.pending = [];
    this.int64?.reserve(this.pendingRowCount); // one rehash at most, to the final size
    this.pendingRowCount = 0;
    for (const { id, keys, from, to } of queue) {
      const deleted = this.blocks[id]!.block.deleted;
      if (this.int64) {
        const w = int64Words(int64Column(keys));
        const t = this.int64;
        for (let i = from; i < to; i++) {
          if ((deleted[i >> 3]! & (1 << (i & 7))) !== 0) continue;
          t.set(w[2 * i + LO]!, w[2 * i + HI]!, id, i);
        }
      } else {
        const v = stringColumn(keys);
        const m = this.strings!;
        for (let i = from; i < to; i++) {
          if ((deleted[i >> 3]! & (1 << (i & 7))) !== 0) continue;
          m.set(v[i]!, id * ROW_SPAN + i);
        }
      }
    }
  }

  /** Point key number `i` of the column at row `row` of block `id` (from blockId). */
  setAt(keys: ColumnData, i: number, id: number, row: number): void {
    this.drain(); // queued (older) rows must not overwrite this one later
    if (this.int64) {
      const w = int64Words(int64Column(keys));
      this.int64.set(w[2 * i + LO]!, w[2 * i + HI]!, id, row);
      this.raiseMax(w, i, i + 1);
    } else {
      this.strings!.set(stringColumn(keys)[i]!, id * ROW_SPAN + row);
    }
  }

  /** Row index of the first key of the column that is in the index, or -1. */
  firstPresent(keys: ColumnData): number {
    if (this.int64) {
      const w = int64Words(int64Column(keys));
      if (this.allAboveMax(w)) return -1;
      this.drain();
      const t = this.int64;
      if (t.size === 0) return -1;
      for (let i = 0, n = w.length >> 1; i < n; i++) if (t.find(w[2 * i + LO]!, w[2 * i + HI]!) >= 0) return i;
      return -1;
    }
    this.drain();
    const v = stringColumn(keys);
    const m = this.strings!;
    for (let i = 0; i < v.length; i++) if (m.has(v[i]!)) return i;
    return -1;
  }

  has(pk: PrimaryKey): boolean {
    this.drain();
    if (this.int64) {
      if (typeof pk !== 'bigint') return false;
      const [lo, hi] = splitInt64(pk);
      return this.int64.find(lo, hi) >= 0;
    }
    return typeof pk === 'string' && this.strings!.has(pk);
  }

  get(pk: PrimaryKey): RowRef | undefined {
    this.drain();
    if (this.int64) {
      if (typeof pk !== 'bigint') return undefined;
      const [lo, hi] = splitInt64(pk);
      const slot = this.int64.find(lo, hi);
      return slot < 0 ? undefined : this.ref(this.int64.valueA(slot), this.int64.valueB(slot) >>> 0);
    }
    if (typeof pk !== 'string') return undefined;
    const packed = this.strings!.get(pk);
    return packed === undefined ? undefined : this.ref(Math.floor(packed / ROW_SPAN), packed % ROW_SPAN);
  }

  /** Remove a key and return where its row was, or undefined when absent. */
  take(pk: PrimaryKey): RowRef | undefined {
    this.drain();
    if (this.int64) {
      if (typeof pk !== 'bigint') return undefined;
      const [lo, hi] = splitInt64(pk);
      return this.takeWords(lo, hi);
    }
    if (typeof pk !== 'string') return undefined;
    const packed = this.strings!.get(pk);
    if (packed === undefined) return undefined;
    this.strings!.delete(pk);
    return this.ref(Math.floor(packed / ROW_SPAN), packed % ROW_SPAN);
  }

  /** Remove every key of the column; calls found(ref) for each that was present. */
  takeColumn(keys: ColumnData, found: (ref: RowRef) => void): void {
    if (this.int64) {
      const w = int64Words(int64Column(keys));
      if (this.allAboveMax(w)) return;
      this.drain();
      for (let i = 0, n = w.length >> 1; i < n; i++) {
        const ref = this.takeWords(w[2 * i + LO]!, w[2 * i + HI]!);
        if (ref) found(ref);
      }
      return;
    }
    this.drain();
    for (const k of stringColumn(keys)) {
      const ref = this.take(k);
      if (ref) found(ref);
    }
  }

  /** Every (key, ref), for tests and checks. */
  entries(): [PrimaryKey, RowRef][] {
    this.drain();
    const out: [PrimaryKey, RowRef][] = [];
    if (this.int64) this.int64.forEach((lo, hi, a, b) => out.push([joinInt64(lo, hi), this.ref(a, b >>> 0)]));
    else for (const [k, packed] of this.strings!) out.push([k, this.ref(Math.floor(packed / ROW_SPAN), packed % ROW_SPAN)]);
    return out;
  }

  /** Raise the upper bound to the largest of keys [from, to) of a column's words. */
  private raiseMax(w: Int32Array, from: number, to: number): void {
    let has = this.hasMax;
    let mhi = this.maxHi;
    let mlo = this.maxLo;
    for (let i = from; i < to; i++) {
      const hi = w[2 * i + HI]!;
      const lo = w[2 * i + LO]! >>> 0;
      if (!has || hi > mhi || (hi === mhi && lo > mlo)) {
        has = true;
        mhi = hi;
        mlo = lo;
      }
    }
    this.hasMax = has;
    this.maxHi = mhi;
    this.maxLo = mlo;
  }

  /** Does every key of the words lie above every key ever added (so none is in the index)? */
  private allAboveMax(w: Int32Array): boolean {
    if (!this.hasMax) return true;
    const mhi = this.maxHi;
    const mlo = this.maxLo;
    for (let i = 0, n = w.length >> 1; i < n; i++) {
      const hi = w[2 * i + HI]!;
      if (hi < mhi || (hi === mhi && w[2 * i + LO]! >>> 0 <= mlo)) return false;
    }
    return true;
  }

  private takeWords(lo: number, hi: number): RowRef | undefined {
    const t = this.int64!;
    const slot = t.find(lo, hi);
    if (slot < 0) return undefined;
    const ref = this.ref(t.valueA(slot), t.valueB(slot) >>> 0);
    t.removeAt(slot);
    return ref;
  }

  private ref(id: number, row: number): RowRef {
    const e = this.blocks[id];
    if (!e) throw new Error(`vecwal invariant violated: primary key index points to released block ${id}`);
    return { seg: e.seg, block: e.block, row };
  }

  /** Renumber the live blocks (ids only grow; after ~2M blocks they are compacted). */
  private compactIds(): void {
    this.drain(); // queued entries hold old ids
    const remap = new Map<number, number>();
    const blocks: BlockEntry[] = [];
    this.blocks.forEach((e, id) => {
      if (!e) return;
      remap.set(id, blocks.length);
      this.ids.set(e.block, blocks.length);
      blocks.push(e);
    });
    this.blocks = blocks;
    if (this.int64) {
      const t = this.int64;
      const moved: [number, number, number, number][] = [];
      t.forEach((lo, hi, a, b) => moved.push([lo, hi, remap.get(a)!, b]));
      for (const [lo, hi, a, b] of moved) t.set(lo, hi, a, b);
    } else {
      const m = this.strings!;
      for (const [k, packed] of m) m.set(k, remap.get(Math.floor(packed / ROW_SPAN))! * ROW_SPAN + (packed % ROW_SPAN));
    }
  }
}

function int64Column(col: ColumnData): BigInt64Array {
  if (col.type !== 'Int64') throw invalidArgument(`primary key column is ${col.type}, expected Int64`);
  return col.values;
}

function stringColumn(col: ColumnData): string[] {
  if (col.type !== 'VarChar') throw invalidArgument(`primary key column is ${col.type}, expected VarChar`);
  return col.values;
}
