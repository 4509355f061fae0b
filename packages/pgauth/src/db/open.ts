import type { Database } from '@pgauth/client/internal';
import { openPostgres } from '@pgauth/client/internal';
import { embeddedUrl, readLiveServerInfo } from './embedded-server.ts';
import { openPglite } from './pglite.ts';

export interface DatabaseTarget {
  /** A PostgreSQL URL; when set, the node-postgres driver is used. */
  databaseUrl?: string | undefined;
  /** The embedded engine's data folder, used when no URL is given. */
  dataDir?: string | undefined;
  poolSize?: number | undefined;
  statementTimeoutMs?: number | undefined;
}

export const DEFAULT_DATA_DIR = '.pgauth';

/**
 * Opens the database a command or the server was pointed at. An embedded folder held by a running
 * `pgauth serve` is reached through that server's wire-protocol port, since only one process may
 * open the files.
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  const postgres = (connectionString: string, max?: number): Database =>
    openPostgres({ connectionString, max, statementTimeoutMs: target.statementTimeoutMs });
  if (target.databaseUrl) return postgres(target.databaseUrl, target.poolSize);
  const dataDir = target.dataDir ?? DEFAULT_DATA_DIR;
  const server = await readLiveServerInfo(dataDir);
  if (server) return postgres(embeddedUrl(server), 2);
  return openPglite({ dataDir });
}
