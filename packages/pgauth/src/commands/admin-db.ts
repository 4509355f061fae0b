import type { Database, Queryable } from '@pgauth/client/internal';
import type { Command } from 'commander';
import { openDatabase } from '../db/open.ts';
import { migrate, pendingMigrations } from '../migrate.ts';
import { type DatabaseFlags, databaseOptions, targetFrom, UsageError } from './common.ts';

/**
 * Opens the database an admin command acts on. The embedded folder opened directly is migrated
 * first, since nobody else would (the first `pgauth user add` on a fresh folder creates it).
 * A PostgreSQL URL, or an embedded folder reached through a running `pgauth serve`, is migrated
 * by the operator or the server: there a pending migration stops the command with a clear error.
 */
export async function openAdminDatabase(flags: DatabaseFlags): Promise<Database> {
  const db = await openDatabase(targetFrom(flags));
  try {
    if (db.engine === 'pglite') {
      await migrate(db);
    } else {
      const pending = await pendingMigrations(db);
      if (pending.length > 0) {
        throw new UsageError(
          `the pgauth schema of this database is not up to date (${pending.length} pending migration(s): ${pending.join(', ')}): run \`pgauth migrate\` first`,
        );
      }
    }
    return db;
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

/** Runs `fn` on the admin database and closes it, whatever happens. */
export async function withAdminDatabase<T>(
  flags: DatabaseFlags,
  fn: (db: Database) => Promise<T>,
): Promise<T> {
  const db = await openAdminDatabase(flags);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The id of a user named by username or id (pgauth.find_user); NOUSR when there is none. */
export async function resolveUser(db: Queryable, user: string): Promise<string> {
  const r = await db.query<{ id: string }>('select pgauth.find_user($1)::text as id', [user]);
  const id = r.rows[0]?.id;
  if (!id) throw new Error('pgauth.find_user returned no row');
  return id;
}

/**
 * Runs a query whose one column `row` is a json object, with timestamps rendered in UTC, so that
 * both engines give the same JSON: ISO 8601 times, `"infinity"` for an endless lock.
 */
export async function queryRows<R>(
  db: Database,
  sql: string,
  params: readonly unknown[] = [],
): Promise<R[]> {
  return db.transaction(async (tx) => {
    await tx.exec(`set local timezone to 'UTC'`);
    const r = await tx.query<{ row: R }>(sql, params);
    return r.rows.map((x) => x.row);
  });
}

/** Adds the database options (--database-url, --data-dir) to an admin command. */
export function withDatabaseOptions(cmd: Command): Command {
  for (const o of databaseOptions()) cmd.addOption(o);
  return cmd;
}
