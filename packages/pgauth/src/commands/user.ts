import { Command } from 'commander';
import type { AdminOperations, TimeArg, UserRow } from '../operations.ts';
import { USER_ARG, withAdminDatabase, withAdminUser, withDatabaseOptions } from './admin-db.ts';
import type { DatabaseFlags } from './common.ts';
import { addMfaCommands } from './mfa.ts';
import { collect, formatPairs, humanTime, parseTimeArg, printAs, printTable } from './output.ts';
import { readNewPassword } from './prompt.ts';

const PAGE = 1000;

/** Every user not deleted, by username, page after page. */
async function allUsers(ops: AdminOperations): Promise<UserRow[]> {
  const all: UserRow[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await ops.listUsers(PAGE, offset);
    all.push(...page);
    if (page.length < PAGE) return all;
  }
}

/** The state column: active, locked (until, why) or disabled. */
export function userState(u: UserRow): string {
  if (u.disabled_at) return `disabled since ${humanTime(u.disabled_at)}`;
  if (u.locked) {
    const until = u.locked_until === 'infinity' ? '' : ` until ${humanTime(u.locked_until)}`;
    return `locked${until} (${u.lock_reason ?? 'admin'})`;
  }
  return 'active';
}

function printUsers(users: readonly UserRow[]): void {
  printTable(
    users,
    'no users',
    ['USERNAME', 'ID', 'ROLES', 'STATE', 'SESSIONS', 'LAST LOGIN', 'EMAIL'],
    (u) => [
      u.username,
      u.id,
      u.roles.join(',') || '-',
      userState(u),
      String(u.live_sessions),
      humanTime(u.last_login_at, 'never'),
      u.email ?? '-',
    ],
  );
}

function printUser(u: UserRow): void {
  const lines = formatPairs([
    ['id', u.id],
    ['username', u.username],
    ['email', u.email ?? '-'],
    ['roles', u.roles.join(', ') || '-'],
    ['state', userState(u)],
    ['failed logins', String(u.failed_logins)],
    ['live sessions', String(u.live_sessions)],
    ['last login', humanTime(u.last_login_at, 'never')],
    ['created', humanTime(u.created_at)],
  ]);
  for (const line of lines) console.log(line);
}

interface JsonFlags extends DatabaseFlags {
  json?: boolean;
}

/** Finds the user named, applies `change` to it, and returns the user as it is afterwards. */
function changeUser(
  flags: DatabaseFlags,
  name: string,
  change: (ops: AdminOperations, id: string) => Promise<unknown>,
): Promise<UserRow> {
  return withAdminUser(flags, name, async (ops, id) => {
    await change(ops, id);
    return ops.getUser(id);
  });
}

/** `pgauth user`: create, list, show, lock, unlock, delete users; set passwords; grant roles. */
export function userCommand(): Command {
  const user = new Command('user').description('manage users (create, list, lock, roles, …)');

  user.addCommand(
    withDatabaseOptions(
      new Command('add')
        .description('create a user (whether or not registration is open); prints the new id')
        .argument('<username>', 'the new username')
        .option('--role <role>', 'grant a role (repeat for several)', collect, [] as string[])
        .option('--email <email>', 'email address')
        .option('--password-stdin', 'read the password from standard input instead of asking')
        .action(
          async (
            username: string,
            flags: DatabaseFlags & { role: string[]; email?: string; passwordStdin?: boolean },
          ) => {
            const password = await readNewPassword(flags.passwordStdin);
            const id = await withAdminDatabase(flags, (ops) =>
              ops.createUser({ username, password, email: flags.email, roles: flags.role }),
            );
            console.log(id);
          },
        ),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('list')
        .description('list the users, by username')
        .option('--json', 'print JSON (an array of users)')
        .action(async (flags: JsonFlags) => {
          const users = await withAdminDatabase(flags, allUsers);
          printAs(flags.json, users, printUsers);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('show')
        .description('show one user')
        .argument('<user>', USER_ARG)
        .option('--json', 'print JSON')
        .action(async (name: string, flags: JsonFlags) => {
          const u = await withAdminUser(flags, name, (ops, id) => ops.getUser(id));
          printAs(flags.json, u, printUser);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('lock')
        .description('lock an account (default: until unlocked); revokes its sessions')
        .argument('<user>', USER_ARG)
        .option(
          '--until <time>',
          'end of the lock: a time (2030-01-31, 2030-01-31T12:00:00Z) or a duration from now (30m, 12h, 7d, 2w)',
          parseTimeArg,
        )
        .option('--reason <text>', 'why (kept on the account and in the audit log; default: admin)')
        .action(
          async (name: string, flags: DatabaseFlags & { until?: TimeArg; reason?: string }) => {
            const u = await changeUser(flags, name, (ops, id) =>
              ops.lockUser(id, { until: flags.until, reason: flags.reason }),
            );
            console.log(`${u.username}: ${userState(u)}`);
          },
        ),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('unlock')
        .description('lift a lock and clear the failed-login counters')
        .argument('<user>', USER_ARG)
        .action(async (name: string, flags: DatabaseFlags) => {
          const u = await changeUser(flags, name, (ops, id) => ops.unlockUser(id));
          console.log(`${u.username}: ${userState(u)}`);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('delete')
        .description('delete a user: sessions revoked, username freed, audit rows kept')
        .argument('<user>', USER_ARG)
        .action(async (name: string, flags: DatabaseFlags) => {
          const id = await withAdminUser(flags, name, async (ops, found) => {
            await ops.deleteUser(found);
            return found;
          });
          console.log(`deleted ${name} (${id})`);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('passwd')
        .description('set a new password (a reset, no current password); revokes every session')
        .argument('<user>', USER_ARG)
        .option('--password-stdin', 'read the password from standard input instead of asking')
        .action(async (name: string, flags: DatabaseFlags & { passwordStdin?: boolean }) => {
          const password = await readNewPassword(flags.passwordStdin);
          await withAdminUser(flags, name, (ops, id) => ops.setPassword(id, password));
          console.log(`password of ${name} changed`);
        }),
    ),
  );

  const roleChanges = [
    {
      name: 'grant',
      description: 'grant a role (created when new); live sessions carry it from their next use',
      role: 'role name: a-z first, then a-z 0-9 _ . : - (at most 63)',
      change: (ops: AdminOperations, id: string, role: string) => ops.grantRole(id, role),
    },
    {
      name: 'revoke',
      description: 'take a role away; live sessions lose it from their next use',
      role: 'role name',
      change: (ops: AdminOperations, id: string, role: string) => ops.revokeRole(id, role),
    },
  ];
  for (const c of roleChanges) {
    user.addCommand(
      withDatabaseOptions(
        new Command(c.name)
          .description(c.description)
          .argument('<user>', USER_ARG)
          .argument('<role>', c.role)
          .action(async (name: string, role: string, flags: DatabaseFlags) => {
            const u = await changeUser(flags, name, (ops, id) => c.change(ops, id, role));
            console.log(`${u.username}: roles ${u.roles.join(', ') || '-'}`);
          }),
      ),
    );
  }

  addMfaCommands(user);
  return user;
}
