import type { Database, Queryable } from '@pgauth/client/internal';
import { Command } from 'commander';
import { queryRows, resolveUser, withAdminDatabase, withDatabaseOptions } from './admin-db.ts';
import type { DatabaseFlags } from './common.ts';
import { formatTable, humanTime, printJson } from './output.ts';

/** A live session as pgauth.list_sessions returns it, times in ISO 8601 (UTC). */
export interface SessionRow {
  id: string;
  created_at: string;
  access_expires_at: string;
  refresh_expires_at: string;
  expires_at: string;
  refresh_generation: number;
  client_ip: string | null;
  user_agent: string | null;
}

/** The live sessions of a user, newest first. */
export function listSessions(db: Database, userId: string): Promise<SessionRow[]> {
  return queryRows<SessionRow>(db, 'select to_json(s) as row from pgauth.list_sessions($1) s', [
    userId,
  ]);
}

/** Revokes every live session of a user (pgauth.revoke_user_sessions); returns how many. */
export async function revokeUserSessions(db: Queryable, userId: string): Promise<number> {
  const r = await db.query<{ n: number }>(`select pgauth.revoke_user_sessions($1, 'admin') as n`, [
    userId,
  ]);
  return Number(r.rows[0]?.n ?? 0);
}

function printSessions(sessions: readonly SessionRow[]): void {
  if (sessions.length === 0) {
    console.log('no live sessions');
    return;
  }
  const lines = formatTable(
    ['ID', 'CREATED', 'ACCESS UNTIL', 'REFRESH UNTIL', 'ENDS', 'REFRESHES', 'IP', 'USER AGENT'],
    sessions.map((s) => [
      s.id,
      humanTime(s.created_at),
      humanTime(s.access_expires_at),
      humanTime(s.refresh_expires_at),
      humanTime(s.expires_at),
      String(s.refresh_generation),
      s.client_ip ?? '-',
      s.user_agent ?? '-',
    ]),
  );
  for (const line of lines) console.log(line);
}

/** `pgauth session`: list and revoke the sessions of a user. */
export function sessionCommand(): Command {
  const session = new Command('session').description('list or revoke the sessions of a user');

  session.addCommand(
    withDatabaseOptions(
      new Command('list')
        .description('list the live sessions of a user, newest first')
        .argument('<user>', 'a username or a user id')
        .option('--json', 'print JSON (an array of sessions)')
        .action(async (name: string, flags: DatabaseFlags & { json?: boolean }) => {
          const sessions = await withAdminDatabase(flags, async (db) =>
            listSessions(db, await resolveUser(db, name)),
          );
          if (flags.json) printJson(sessions);
          else printSessions(sessions);
        }),
    ),
  );

  session.addCommand(
    withDatabaseOptions(
      new Command('revoke')
        .description('revoke every live session of a user; prints how many were revoked')
        .argument('<user>', 'a username or a user id')
        .action(async (name: string, flags: DatabaseFlags) => {
          const count = await withAdminDatabase(flags, async (db) =>
            revokeUserSessions(db, await resolveUser(db, name)),
          );
          console.log(String(count));
        }),
    ),
  );

  return session;
}
