/**
 * Opening the database for the data commands (import, search, query, stats, flush, compact,
 * collections, demo): `--data <dir>` is the database directory, `--config <file>` an optional
 * vecwal.yaml (docs/config.md). Read-only commands refuse a directory that holds no database
 * rather than creating an empty one where the user mistyped a path.
 */
import type { FileSystem } from '../fs/fs.js';
import { NodeFileSystem } from '../fs/node-fs.js';
import { joinPath, readFile } from '../fs/io.js';
import { loadConfig, type VecwalConfig } from '../config.js';
import { Database, optionsFromConfig, type DatabaseOptions } from '../db/database.js';
import { VecwalError, invalidArgument, ioError } from '../errors.js';

export const DEFAULT_DATA_DIR = './data';

export interface OpenedDb {
  db: Database;
  fs: FileSystem;
  config: VecwalConfig;
  options: DatabaseOptions;
}

/** The configuration: defaults, then the YAML file when given. */
export async function cliConfig(fs: FileSystem, configPath: string | undefined): Promise<VecwalConfig> {
  if (configPath === undefined) return loadConfig();
  let bytes: Uint8Array;
  try {
    bytes = await readFile(fs, configPath);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw invalidArgument(`${configPath}: no such configuration file`, { file: configPath });
    throw ioError('read', configPath, e);
  }
  return loadConfig(new TextDecoder().decode(bytes));
}

/**
 * Open the database in `dir`. With `mustExist`, a directory without a manifest is an error
 * (the read commands), instead of a new, empty database.
 */
export async function openDb(dir: string, o: { config?: string; mustExist?: boolean; fs?: FileSystem } = {}): Promise<OpenedDb> {
  const fs = o.fs ?? new NodeFileSystem();
  const config = await cliConfig(fs, o.config);
  if (o.mustExist && !(await fs.stat(joinPath(dir, 'meta', 'MANIFEST')))) {
    throw invalidArgument(`${dir}: no vecwal database here (no meta/MANIFEST); give --data <dir>, or create one with 'vecwal import'`, { file: dir });
  }
  const options: DatabaseOptions = { ...optionsFromConfig(config), fs };
  try {
    return { db: await Database.open(dir, options), fs, config, options };
  } catch (e) {
    if (e instanceof VecwalError && e.code === 'LOCKED') {
      throw new VecwalError('LOCKED', `${e.message}; stop the other vecwal process (an import, a server) using ${dir} first`, e.details);
    }
    throw e;
  }
}

/** JSON.stringify that writes bigint as a decimal string and typed arrays as arrays. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v));
}
