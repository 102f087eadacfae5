/**
 * The manifest: the one file that says what the database is. Schemas, which data segments are
 * live (with their delete files), the checkpoint LSN, and the id allocators. Twin document:
 * docs/format/manifest.md.
 *
 *   meta/MANIFEST  (replaced atomically: MANIFEST.tmp, fsync, rename, fsync meta/)
 *   +0   8  magic          "VMANIFST"
 *   +8   2  version        1
 *   +10  2  reserved       0
 *   +12  4  body length
 *   +16  4  CRC-32C of the body
 *   +20     body           UTF-8 JSON (ManifestState; bigints as decimal strings)
 *
 * Why whole-file replacement and not an edit log (LevelDB's MANIFEST): the state is small (a
 * schema and a segment list per collection), edits are rare (DDL, flush, compaction), and a
 * single atomic rename is the simplest thing that is obviously crash-safe. If manifests grow
 * large, an edit log with periodic snapshots is the upgrade path.
 */
import { crc32c } from '@node-rs/crc32';
import type { FileSystem } from '../fs/fs.js';
import { joinPath, readFile, writeFileAtomic } from '../fs/io.js';
import { VecwalError } from '../errors.js';
import type { CollectionSchema } from './types.js';

export const MANIFEST_MAGIC = 'VMANIFST';
export const MANIFEST_VERSION = 1;
const HEADER = 20;

export interface SegmentMeta {
  id: number;
  rows: number;
  /** LSN range of the rows' writes. */
  minLsn: number;
  maxLsn: number;
  bytes: number;
  /** Delete files in the segment folder, oldest first. */
  deleteFiles: string[];
}

export interface CollectionMeta {
  /** Never reused, so WAL records of a dropped collection can never reach a new one. */
  id: number;
  schema: CollectionSchema;
  createdAtMs: number;
  segments: SegmentMeta[];
  /** Next autoID value (decimal string of a bigint). */
  nextAutoId: string;
  /**
   * Metadata the engine stores but does not interpret (the server keeps index definitions, load
   * state and Milvus properties here). Plain JSON.
   */
  properties?: Record<string, unknown>;
}

/** Progress of a resumable import, written atomically with the rows it counts. */
export interface ImportProgress {
  /** Rows of the input acknowledged so far (the input's first `rows` rows are in the database). */
  rows: number;
  /** Where the input resumes (e.g. a byte offset in the file), as the importer defines it. */
  position: number;
  /** LSN of the write that carried this progress. */
  lsn: number;
}

export interface ManifestState {
  checkpointLsn: number;
  /** Import progress by import id, as of the checkpoint (later progress is in the WAL). */
  imports?: Record<string, ImportProgress>;
  nextSegmentId: number;
  nextCollectionId: number;
  collections: CollectionMeta[];
  /** Database-level metadata the engine stores but does not interpret (aliases, properties). Plain JSON. */
  properties?: Record<string, unknown>;
}

export function emptyManifest(): ManifestState {
  return { checkpointLsn: 0, nextSegmentId: 1, nextCollectionId: 1, collections: [] };
}

export function encodeManifest(state: ManifestState): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(state));
  const out = new Uint8Array(HEADER + body.length);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = MANIFEST_MAGIC.charCodeAt(i);
  v.setUint16(8, MANIFEST_VERSION, true);
  v.setUint16(10, 0, true);
  v.setUint32(12, body.length, true);
  v.setUint32(16, crc32c(Buffer.from(body.buffer, body.byteOffset, body.length)) >>> 0, true);
  out.set(body, HEADER);
  return out;
}

export function decodeManifest(bytes: Uint8Array, file: string): ManifestState {
  const bad = (reason: string, offset = 0) => new VecwalError('BAD_FORMAT', `${file}: ${reason}`, { file, offset });
  if (bytes.length < HEADER) throw bad('shorter than the manifest header');
  for (let i = 0; i < 8; i++) if (bytes[i] !== MANIFEST_MAGIC.charCodeAt(i)) throw bad('bad magic number (not a vecwal manifest)');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = v.getUint16(8, true);
  if (version !== MANIFEST_VERSION) throw bad(`unsupported manifest version ${version}`, 8);
  const len = v.getUint32(12, true);
  if (HEADER + len !== bytes.length) throw bad(`body length ${len} does not match the file size ${bytes.length}`, 12);
  const body = bytes.subarray(HEADER);
  if ((crc32c(Buffer.from(body.buffer, body.byteOffset, body.length)) >>> 0) !== v.getUint32(16, true)) {
    throw new VecwalError('WAL_CORRUPTED', `${file}: manifest checksum mismatch`, { file, offset: HEADER });
  }
  return JSON.parse(new TextDecoder().decode(body)) as ManifestState;
}

/** meta/MANIFEST under the database directory. */
export function manifestPath(dbDir: string): string {
  return joinPath(dbDir, 'meta', 'MANIFEST');
}

export async function readManifest(fs: FileSystem, dbDir: string): Promise<ManifestState | null> {
  const path = manifestPath(dbDir);
  if (!(await fs.stat(path))) return null;
  return decodeManifest(await readFile(fs, path), path);
}

export async function writeManifest(fs: FileSystem, dbDir: string, state: ManifestState): Promise<void> {
  await writeFileAtomic(fs, manifestPath(dbDir), encodeManifest(state));
}
