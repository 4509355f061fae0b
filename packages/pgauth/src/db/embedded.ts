/**
 * The embedded engine's data folder: opened when it exists, created when asked to. A new folder
 * starts as a copy of the snapshot that the package build writes (a data folder already migrated,
 * `snapshot/` beside `dist/`), which takes a fraction of a second where PGlite's own initdb takes
 * several; the migration runner then applies whatever is newer than the snapshot. Without a
 * snapshot (running from the sources unbuilt) the folder is made by initdb.
 */
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import type { Database } from '@pgauth/client/internal';
import { migrate } from '../migrate.ts';
import { UsageError } from '../usage-error.ts';
import { DEFAULT_DATA_DIR } from './open.ts';
import { createPglite, openPglite } from './pglite.ts';

/** Where the package build writes the migrated data folder that new folders start from. */
export const SNAPSHOT_DIR = fileURLToPath(new URL('../../snapshot/', import.meta.url));

/**
 * The snapshot's empty folders (pg_wal/archive_status, pg_notify, pg_tblspc…), by their path in
 * it: a package tarball keeps no empty folder, and PostgreSQL does not start without them. Written
 * into the snapshot by writeSnapshot; a new data folder makes them again and drops the list.
 */
const EMPTY_FOLDERS = 'pgauth-empty-folders.json';

async function emptyFolders(root: string, dir = root): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  if (entries.length === 0 && dir !== root) return [relative(root, dir)];
  const inner = await Promise.all(
    entries.filter((e) => e.isDirectory()).map((e) => emptyFolders(root, join(dir, e.name))),
  );
  return inner.flat().sort();
}

/** A copy of the snapshot in `dir`, with the empty folders the package could not carry. */
function copySnapshot(dir: string): void {
  // Synchronous on purpose: at start nothing else waits, and it is 3-4 times faster than the
  // asynchronous copy (about 0.12 s against 0.4 s for the 44 MB, 1,000 files here).
  cpSync(SNAPSHOT_DIR, dir, { recursive: true, errorOnExist: true, force: false });
  const list = join(dir, EMPTY_FOLDERS);
  const folders = JSON.parse(readFileSync(list, 'utf8')) as string[];
  for (const folder of folders) mkdirSync(join(dir, folder), { recursive: true });
  rmSync(list);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Whether `dir` holds a PostgreSQL data folder. */
export function isDataFolder(dir: string): Promise<boolean> {
  return exists(join(dir, 'PG_VERSION'));
}

export interface OpenFolderOptions {
  /** Create the folder when it holds no database yet (serve, migrate, an explicit --data-dir). */
  create: boolean;
  /** Told what is happening before anything that may take a while. */
  say?: (line: string) => void;
}

/**
 * Opens the embedded database in `dataDir` (PGlite with pgcrypto), creating it from the snapshot
 * when allowed. Does not migrate: the caller does.
 */
export async function openDataFolder(dataDir: string, options: OpenFolderOptions): Promise<PGlite> {
  const dir = resolve(dataDir);
  const say = options.say ?? (() => {});
  if (await isDataFolder(dir)) {
    say(`opening the embedded database in ${dir}`);
  } else {
    if (!options.create) {
      throw new UsageError(
        `no embedded database in ${dir} (looked there for ${DEFAULT_DATA_DIR}, the default): run this in the folder where \`pgauth serve\` created it, name the folder with --data-dir <dir> or PGAUTH_DATA_DIR, or use a PostgreSQL server with --database-url <url>`,
      );
    }
    const entries = await readdir(dir).catch(() => []);
    if (entries.length > 0) {
      throw new UsageError(
        `${dir} is not empty and holds no pgauth database: name an empty or new folder with --data-dir`,
      );
    }
    if (await isDataFolder(SNAPSHOT_DIR)) {
      say(`creating the embedded database in ${dir}`);
      copySnapshot(dir);
    } else {
      say(`creating the embedded database in ${dir} (initdb, a few seconds)`);
    }
  }
  return createPglite({ dataDir: dir });
}

/**
 * Writes the snapshot: a new data folder, migrated, `settle`d (the tests' own settings), shut down
 * cleanly, in `target` (replaced). Run by the package build, and by the tests for their template.
 */
export async function writeSnapshot(
  target = SNAPSHOT_DIR,
  settle?: (db: Database) => Promise<void>,
): Promise<void> {
  await rm(target, { recursive: true, force: true });
  const db = await openPglite({ dataDir: target });
  try {
    await migrate(db);
    await settle?.(db);
  } finally {
    await db.close();
  }
  await dropSpareWal(target);
  await writeFile(join(target, EMPTY_FOLDERS), `${JSON.stringify(await emptyFolders(target))}\n`);
}

/**
 * Removes from a data folder shut down cleanly the WAL segments other than those its last
 * checkpoint is in: the others are old segments kept for reuse (16 MB each, a third of a new
 * folder), and PostgreSQL makes new ones as it needs them. Kept: from the segment of the
 * checkpoint's redo location to that of the end of its record, which may cross into the next
 * segment (the record is short: a page past its start is beyond its end). Read from pg_control,
 * little-endian as PGlite writes it, at the offsets of PostgreSQL 11 and later: the state at byte
 * 16, the checkpoint record's location at 32, its redo location at 40, its timeline at 48. Does
 * nothing to a folder in any other state than shut down, or whose segments are not as expected.
 */
export async function dropSpareWal(dataDir: string): Promise<void> {
  const control = await readFile(join(dataDir, 'global', 'pg_control'));
  const SHUT_DOWN = 1;
  if (control.readInt32LE(16) !== SHUT_DOWN) return;
  const checkpoint = control.readBigUInt64LE(32);
  const redo = control.readBigUInt64LE(40);
  const timeline = control.readUInt32LE(48);
  const walDir = join(dataDir, 'pg_wal');
  const segments = (await readdir(walDir)).filter((name) => /^[0-9A-F]{24}$/.test(name));
  if (segments.length < 2 || redo > checkpoint) return;
  const segmentSize = BigInt((await stat(join(walDir, segments[0] as string))).size);
  const perId = 0x100000000n / segmentSize;
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  const name = (segment: bigint) => hex(timeline) + hex(segment / perId) + hex(segment % perId);
  const PAGE = 8192n;
  const first = redo / segmentSize;
  if (!segments.includes(name(first))) return;
  const keep = new Set<string>();
  for (let s = first; s <= (checkpoint + PAGE) / segmentSize; s++) keep.add(name(s));
  for (const segment of segments) if (!keep.has(segment)) await rm(join(walDir, segment));
}
