import type { Database } from '@pgauth/client/internal';
import type { Command } from 'commander';
import { openDatabase } from '../db/open.ts';
import { migrate, pendingMigrations } from '../migrate.ts';
import { type AdminOperations, adminOperations } from '../operations.ts';
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

/** Runs `fn` on the admin operations of the database, and closes it whatever happens. */
export async function withAdminDatabase<T>(
  flags: DatabaseFlags,
  fn: (ops: AdminOperations) => Promise<T>,
): Promise<T> {
  const db = await openAdminDatabase(flags);
  try {
    return await fn(adminOperations(db));
  } finally {
    await db.close();
  }
}

/** The help of a command's `<user>` argument (withAdminUser finds either). */
export const USER_ARG = 'a username or a user id';

/** Runs `fn` on the admin operations and the id of the user `name` (a username or a user id). */
export function withAdminUser<T>(
  flags: DatabaseFlags,
  name: string,
  fn: (ops: AdminOperations, id: string) => Promise<T>,
): Promise<T> {
  return withAdminDatabase(flags, async (ops) => fn(ops, await ops.findUser(name)));
}

/** Adds the database options (--database-url, --data-dir) to an admin command. */
export function withDatabaseOptions(cmd: Command): Command {
  for (const o of databaseOptions()) cmd.addOption(o);
  return cmd;
}
