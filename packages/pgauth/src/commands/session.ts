import { Command } from 'commander';
import type { SessionRow } from '../operations.ts';
import { USER_ARG, withAdminUser, withDatabaseOptions } from './admin-db.ts';
import type { DatabaseFlags } from './common.ts';
import { humanTime, printAs, printTable } from './output.ts';

function printSessions(sessions: readonly SessionRow[]): void {
  printTable(
    sessions,
    'no live sessions',
    ['ID', 'CREATED', 'ACCESS UNTIL', 'REFRESH UNTIL', 'ENDS', 'REFRESHES', 'IP', 'USER AGENT'],
    (s) => [
      s.id,
      humanTime(s.created_at),
      humanTime(s.access_expires_at),
      humanTime(s.refresh_expires_at),
      humanTime(s.expires_at),
      String(s.refresh_generation),
      s.client_ip ?? '-',
      s.user_agent ?? '-',
    ],
  );
}

/** `pgauth session`: list and revoke the sessions of a user. */
export function sessionCommand(): Command {
  const session = new Command('session').description('list or revoke the sessions of a user');

  session.addCommand(
    withDatabaseOptions(
      new Command('list')
        .description('list the live sessions of a user, newest first')
        .argument('<user>', USER_ARG)
        .option('--json', 'print JSON (an array of sessions)')
        .action(async (name: string, flags: DatabaseFlags & { json?: boolean }) => {
          const sessions = await withAdminUser(flags, name, (ops, id) => ops.listSessions(id));
          printAs(flags.json, sessions, printSessions);
        }),
    ),
  );

  session.addCommand(
    withDatabaseOptions(
      new Command('revoke')
        .description('revoke every live session of a user; prints how many were revoked')
        .argument('<user>', USER_ARG)
        .action(async (name: string, flags: DatabaseFlags) => {
          const count = await withAdminUser(flags, name, (ops, id) => ops.revokeUserSessions(id));
          console.log(String(count));
        }),
    ),
  );

  return session;
}
