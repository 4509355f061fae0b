import type { Database, Queryable } from '@pgauth/client/internal';
import { Command } from 'commander';
import { queryRows, resolveUser, withAdminDatabase, withDatabaseOptions } from './admin-db.ts';
import type { DatabaseFlags } from './common.ts';
import {
  formatPairs,
  formatTable,
  humanTime,
  parseTimeArg,
  printJson,
  type TimeArg,
} from './output.ts';
import { readNewPassword } from './prompt.ts';

/** A user as pgauth.list_users and pgauth.get_user return it, times in ISO 8601 (UTC). */
export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  roles: string[];
  created_at: string;
  last_login_at: string | null;
  failed_logins: number;
  locked_until: string | null;
  lock_reason: string | null;
  disabled_at: string | null;
  live_sessions: number;
  /** Whether locked_until is still ahead of pgauth.clock(). */
  locked: boolean;
}

/** Adds `locked` (locked_until still ahead of pgauth.clock()) to a row of list_users/get_user. */
const userRows = (from: string): string =>
  `select to_json(x) as row from (
     select u.*, coalesce(u.locked_until > pgauth.clock(), false) as locked from ${from} u) x`;

const PAGE = 1000;

export interface NewUser {
  username: string;
  password: string;
  email?: string | undefined;
  roles?: readonly string[] | undefined;
}

/** Creates a user with pgauth.create_user; returns the new id. */
export async function addUser(db: Queryable, user: NewUser): Promise<string> {
  const r = await db.query<{ id: string }>(
    'select pgauth.create_user($1, $2, $3, $4::text[])::text as id',
    [user.username, user.password, user.email ?? null, [...(user.roles ?? [])]],
  );
  const id = r.rows[0]?.id;
  if (!id) throw new Error('pgauth.create_user returned no row');
  return id;
}

/** Every user not deleted, by username. */
export async function listUsers(db: Database): Promise<UserRow[]> {
  const all: UserRow[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await queryRows<UserRow>(db, userRows('pgauth.list_users($1, $2)'), [
      PAGE,
      offset,
    ]);
    all.push(...page);
    if (page.length < PAGE) return all;
  }
}

/** One user by id; NOUSR when there is none. */
export async function getUser(db: Database, id: string): Promise<UserRow> {
  const [row] = await queryRows<UserRow>(db, userRows('pgauth.get_user($1)'), [id]);
  if (!row) throw new Error('pgauth.get_user returned no row');
  return row;
}

/** Locks a user until a time (default: until unlocked), with pgauth.lock_user. */
export async function lockUser(
  db: Queryable,
  id: string,
  options: { until?: TimeArg | undefined; reason?: string | undefined } = {},
): Promise<void> {
  const until = options.until ?? { interval: null, at: 'infinity' };
  await db.query(
    'select pgauth.lock_user($1, coalesce($2::timestamptz, pgauth.clock() + $3::interval), $4)',
    [id, until.at, until.interval, options.reason ?? null],
  );
}

export async function unlockUser(db: Queryable, id: string): Promise<void> {
  await db.query('select pgauth.unlock_user($1)', [id]);
}

export async function deleteUser(db: Queryable, id: string): Promise<void> {
  await db.query('select pgauth.delete_user($1)', [id]);
}

/** Sets a password without the current one (pgauth.set_password): a reset. */
export async function setPassword(db: Queryable, id: string, password: string): Promise<void> {
  await db.query('select pgauth.set_password($1, $2)', [id, password]);
}

export async function grantRole(db: Queryable, id: string, role: string): Promise<void> {
  await db.query('select pgauth.grant_role($1, $2)', [id, role]);
}

export async function revokeRole(db: Queryable, id: string, role: string): Promise<void> {
  await db.query('select pgauth.revoke_role($1, $2)', [id, role]);
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
  if (users.length === 0) {
    console.log('no users');
    return;
  }
  const lines = formatTable(
    ['USERNAME', 'ID', 'ROLES', 'STATE', 'SESSIONS', 'LAST LOGIN', 'EMAIL'],
    users.map((u) => [
      u.username,
      u.id,
      u.roles.join(',') || '-',
      userState(u),
      String(u.live_sessions),
      humanTime(u.last_login_at, 'never'),
      u.email ?? '-',
    ]),
  );
  for (const line of lines) console.log(line);
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

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const USER_ARG = 'a username or a user id';

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
            const id = await withAdminDatabase(flags, (db) =>
              addUser(db, { username, password, email: flags.email, roles: flags.role }),
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
          const users = await withAdminDatabase(flags, listUsers);
          if (flags.json) printJson(users);
          else printUsers(users);
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
          const u = await withAdminDatabase(flags, async (db) =>
            getUser(db, await resolveUser(db, name)),
          );
          if (flags.json) printJson(u);
          else printUser(u);
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
            const u = await withAdminDatabase(flags, async (db) => {
              const id = await resolveUser(db, name);
              await lockUser(db, id, { until: flags.until, reason: flags.reason });
              return getUser(db, id);
            });
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
          const u = await withAdminDatabase(flags, async (db) => {
            const id = await resolveUser(db, name);
            await unlockUser(db, id);
            return getUser(db, id);
          });
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
          const id = await withAdminDatabase(flags, async (db) => {
            const found = await resolveUser(db, name);
            await deleteUser(db, found);
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
          await withAdminDatabase(flags, async (db) =>
            setPassword(db, await resolveUser(db, name), password),
          );
          console.log(`password of ${name} changed`);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('grant')
        .description('grant a role (created when new); live sessions carry it from their next use')
        .argument('<user>', USER_ARG)
        .argument('<role>', 'role name: a-z first, then a-z 0-9 _ . : - (at most 63)')
        .action(async (name: string, role: string, flags: DatabaseFlags) => {
          const u = await withAdminDatabase(flags, async (db) => {
            const id = await resolveUser(db, name);
            await grantRole(db, id, role);
            return getUser(db, id);
          });
          console.log(`${u.username}: roles ${u.roles.join(', ') || '-'}`);
        }),
    ),
  );

  user.addCommand(
    withDatabaseOptions(
      new Command('revoke')
        .description('take a role away; live sessions lose it from their next use')
        .argument('<user>', USER_ARG)
        .argument('<role>', 'role name')
        .action(async (name: string, role: string, flags: DatabaseFlags) => {
          const u = await withAdminDatabase(flags, async (db) => {
            const id = await resolveUser(db, name);
            await revokeRole(db, id, role);
            return getUser(db, id);
          });
          console.log(`${u.username}: roles ${u.roles.join(', ') || '-'}`);
        }),
    ),
  );

  return user;
}
