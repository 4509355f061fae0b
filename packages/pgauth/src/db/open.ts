import type { Database } from '@pgauth/client/internal';
import { openPostgres } from '@pgauth/client/internal';
import { embeddedUrl, readLiveServerInfo } from './embedded-server.ts';

/** The folder used when neither --data-dir nor PGAUTH_DATA_DIR names one. */
export const DEFAULT_DATA_DIR = '.pgauth';

export interface DatabaseTarget {
  /** A PostgreSQL URL; when set, the node-postgres driver is used. */
  databaseUrl?: string | undefined;
  /** The embedded engine's data folder, used when no URL is given (default .pgauth). */
  dataDir?: string | undefined;
  /** Create the embedded database when the folder holds none (default: only when named). */
  create?: boolean | undefined;
  /** Told what is happening before a wait (creating or opening the embedded database). */
  say?: ((line: string) => void) | undefined;
  poolSize?: number | undefined;
  statementTimeoutMs?: number | undefined;
  /** Where LISTEN goes when databaseUrl is a pooler (default: databaseUrl). */
  listenUrl?: string | undefined;
}

/**
 * Opens the database a command or the server was pointed at. An embedded folder held by a running
 * `pgauth serve` is reached through that server's wire-protocol port, since only one process may
 * open the files.
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  const postgres = (connectionString: string, max?: number): Database =>
    openPostgres({ connectionString, max, statementTimeoutMs: target.statementTimeoutMs });
  if (target.databaseUrl) {
    return openPostgres({
      connectionString: target.databaseUrl,
      listenConnectionString: target.listenUrl,
      max: target.poolSize,
      statementTimeoutMs: target.statementTimeoutMs,
    });
  }
  const dataDir = target.dataDir ?? DEFAULT_DATA_DIR;
  const server = await readLiveServerInfo(dataDir);
  if (server) return postgres(embeddedUrl(server), 2);
  // The embedded engine loads only when it is used: every other command starts faster.
  const [{ openDataFolder }, { fromPglite }] = await Promise.all([
    import('./embedded.ts'),
    import('./pglite.ts'),
  ]);
  const create = target.create ?? target.dataDir !== undefined;
  return fromPglite(await openDataFolder(dataDir, { create, say: target.say }));
}
