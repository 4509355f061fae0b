/**
 * The embedded engine's data folder: opened when it exists, created when asked to. A new folder
 * starts as a copy of the snapshot that the package build writes (a data folder already migrated,
 * `snapshot/` beside `dist/`), which takes a fraction of a second where PGlite's own initdb takes
 * several; the migration runner then applies whatever is newer than the snapshot. Without a
 * snapshot (running from the sources unbuilt) the folder is made by initdb.
 */
import { cpSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { migrate } from '../migrate.ts';
import { UsageError } from '../usage-error.ts';
import { DEFAULT_DATA_DIR } from './open.ts';
import { fromPglite } from './pglite.ts';

/** Where the package build writes the migrated data folder that new folders start from. */
export const SNAPSHOT_DIR = fileURLToPath(new URL('../../snapshot/', import.meta.url));

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
      // Synchronous on purpose: at start nothing else waits, and it is 3-4 times faster than the
      // asynchronous copy (about 0.12 s against 0.4 s for the 40 MB, 1,000 files here).
      cpSync(SNAPSHOT_DIR, dir, { recursive: true, errorOnExist: true, force: false });
    } else {
      say(`creating the embedded database in ${dir} (initdb, a few seconds)`);
    }
  }
  return PGlite.create({ dataDir: dir, extensions: { pgcrypto }, startParams: START_PARAMS });
}

/**
 * PGlite's own start parameters, and a smaller buffer pool than PostgreSQL's default 128 MB:
 * PGlite touches all of it at start, which alone is about 110 MB of the process's resident memory.
 * pgauth's tables are small and the files stay in the operating system's page cache anyway; 32 MB
 * still holds the working set of many thousands of sessions. Given on the command line of the
 * engine, so the data folder's postgresql.conf is left alone.
 */
const START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'];

/**
 * Writes the snapshot: a new data folder, migrated, shut down cleanly, in `target` (replaced).
 * Run by the package build.
 */
export async function writeSnapshot(target = SNAPSHOT_DIR): Promise<void> {
  await rm(target, { recursive: true, force: true });
  const pglite = await PGlite.create({ dataDir: target, extensions: { pgcrypto } });
  try {
    await migrate(fromPglite(pglite));
  } finally {
    await pglite.close();
  }
}
