/**
 * The one place an admin `pgauth.*` function is called (the service API is the SDK's
 * operations.ts): one typed function per SQL function, shared by the gateway's admin routes and
 * the CLI. Rows come back as JSON built by the database with times in UTC, so both engines and
 * both callers give the same values: ISO 8601 times, "infinity" for an endless lock.
 */
import { type Database, type OperationHooks, revoking, run } from '@pgauth/client/internal';

/** A user as pgauth.list_users and pgauth.get_user return it. */
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

/** A live session as pgauth.list_sessions returns it. */
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

/** An audit event as pgauth.audit_events returns it. */
export interface AuditRow {
  at: string;
  event: string;
  user_id: string | null;
  session_id: string | null;
  client_ip: string | null;
  detail: Record<string, unknown>;
}

/** A service account as pgauth.list_service_accounts returns it. */
export interface ServiceAccountRow {
  id: string;
  name: string;
  roles: string[];
  access_token_format: 'opaque' | 'jwt' | null;
  created_at: string;
  disabled_at: string | null;
  live_api_keys: number;
}

/** An API key as pgauth.list_api_keys returns it (never the key itself). */
export interface ApiKeyRow {
  id: string;
  name: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A new API key: the only time the key is seen. */
export interface NewApiKey {
  id: string;
  key: string;
}

/** A point in time: a timestamptz literal (`at`), or an interval from now (`interval`). */
export interface TimeArg {
  interval: string | null;
  at: string | null;
}

export interface NewUser {
  username: string;
  password: string;
  email?: string | null | undefined;
  roles?: readonly string[] | undefined;
}

export interface AuditQuery {
  userId?: string | null | undefined;
  /** Events at or after this; default: all. */
  since?: TimeArg | null | undefined;
  limit?: number | undefined;
}

/** Default and largest page of the listing functions. */
export const LIST_DEFAULT = 100;
export const LIST_MAX = 10_000;

/** Adds `locked` (locked_until still ahead of pgauth.clock()) to a row of list_users/get_user. */
const userRows = (from: string): string =>
  `select to_json(x) as row from (
     select u.*, coalesce(u.locked_until > pgauth.clock(), false) as locked from ${from} u) x`;

/** Runs a query whose one column `row` is a JSON object, in a transaction with UTC times. */
export function jsonRows<R>(db: Database, sql: string, params: readonly unknown[]): Promise<R[]> {
  return db.transaction(async (tx) => {
    await tx.exec(`set local timezone to 'UTC'`);
    return (await run<{ row: R }>(tx, sql, params)).map((r) => r.row);
  });
}

async function one<R>(rows: Promise<R[]>, what: string): Promise<R> {
  const [row] = await rows;
  if (row === undefined) throw new Error(`${what} returned no row`);
  return row;
}

/** The admin API (`pgauth_admin`). */
export function adminOperations(db: Database, hooks: OperationHooks = {}) {
  const exec = (sql: string, params: readonly unknown[]): Promise<unknown> => run(db, sql, params);
  const onUser = <T>(userId: string, call: () => Promise<T>): Promise<T> =>
    revoking(hooks, { userId }, call);
  return {
    /** pgauth.create_user: the new user's id; open or closed registration alike. */
    async createUser(user: NewUser): Promise<string> {
      const rows = run<{ id: string }>(
        db,
        'select pgauth.create_user($1, $2, $3, $4::text[])::text as id',
        [user.username, user.password, user.email ?? null, [...(user.roles ?? [])]],
      );
      return (await one(rows, 'pgauth.create_user')).id;
    },

    /** pgauth.find_user: the id of a user named by username or id; NOUSR when there is none. */
    async findUser(user: string): Promise<string> {
      const rows = run<{ id: string }>(db, 'select pgauth.find_user($1)::text as id', [user]);
      return (await one(rows, 'pgauth.find_user')).id;
    },

    /** pgauth.list_users: one page of users not deleted, by username. */
    listUsers(limit = LIST_DEFAULT, offset = 0): Promise<UserRow[]> {
      return jsonRows<UserRow>(db, userRows('pgauth.list_users($1, $2)'), [limit, offset]);
    },

    /** pgauth.get_user: one user by id; NOUSR when there is none. */
    getUser(id: string): Promise<UserRow> {
      return one(jsonRows<UserRow>(db, userRows('pgauth.get_user($1)'), [id]), 'pgauth.get_user');
    },

    /** pgauth.lock_user: until a time or for an interval (default: until unlocked). */
    lockUser(id: string, options: { until?: TimeArg | null; reason?: string | null } = {}) {
      const until = options.until ?? { interval: null, at: 'infinity' };
      return onUser(id, () =>
        exec(
          'select pgauth.lock_user($1, coalesce($2::timestamptz, pgauth.clock() + $3::interval), $4)',
          [id, until.at, until.interval, options.reason ?? null],
        ),
      );
    },

    /** pgauth.unlock_user. */
    unlockUser(id: string) {
      return onUser(id, () => exec('select pgauth.unlock_user($1)', [id]));
    },

    /** pgauth.delete_user: the user and every session go. */
    deleteUser(id: string) {
      return onUser(id, () => exec('select pgauth.delete_user($1)', [id]));
    },

    /** pgauth.set_password: a new password without the current one (a reset). */
    setPassword(id: string, password: string) {
      return onUser(id, () => exec('select pgauth.set_password($1, $2)', [id, password]));
    },

    /** pgauth.grant_role. */
    grantRole(id: string, role: string) {
      return onUser(id, () => exec('select pgauth.grant_role($1, $2)', [id, role]));
    },

    /** pgauth.revoke_role. */
    revokeRole(id: string, role: string) {
      return onUser(id, () => exec('select pgauth.revoke_role($1, $2)', [id, role]));
    },

    /** pgauth.list_sessions: the live sessions of a user, newest first. */
    listSessions(userId: string): Promise<SessionRow[]> {
      return jsonRows<SessionRow>(db, 'select to_json(s) as row from pgauth.list_sessions($1) s', [
        userId,
      ]);
    },

    /** pgauth.revoke_user_sessions: how many live sessions were revoked. */
    revokeUserSessions(userId: string): Promise<number> {
      return onUser(userId, async () => {
        const rows = await run<{ n: number }>(
          db,
          `select pgauth.revoke_user_sessions($1, 'admin') as n`,
          [userId],
        );
        return Number(rows[0]?.n ?? 0);
      });
    },

    /** pgauth.create_service_account: the new account's id. */
    async createServiceAccount(name: string, roles: readonly string[] = []): Promise<string> {
      const rows = run<{ id: string }>(
        db,
        'select pgauth.create_service_account($1, $2::text[])::text as id',
        [name, [...roles]],
      );
      return (await one(rows, 'pgauth.create_service_account')).id;
    },

    /** pgauth.list_service_accounts: every account, by name. */
    listServiceAccounts(): Promise<ServiceAccountRow[]> {
      return jsonRows<ServiceAccountRow>(
        db,
        'select to_json(a) as row from pgauth.list_service_accounts() a',
        [],
      );
    },

    /** pgauth.disable_service_account: no key or token of the account validates any more. */
    async disableServiceAccount(name: string): Promise<void> {
      const [row] = await run<{ id: string }>(
        db,
        'select id::text from pgauth.list_service_accounts() where name = $1',
        [name],
      );
      const call = () => exec('select pgauth.disable_service_account($1)', [name]);
      await (row ? onUser(row.id, call) : call());
    },

    /** pgauth.set_service_account_token_format: opaque, jwt, or null (the setting). */
    async setServiceAccountTokenFormat(name: string, format: 'opaque' | 'jwt' | null) {
      await exec('select pgauth.set_service_account_token_format($1, $2)', [name, format]);
    },

    /** pgauth.create_api_key: the key's id and the key, shown this once. */
    createApiKey(account: string, name: string, expiresAt?: TimeArg | null): Promise<NewApiKey> {
      return one(
        run<NewApiKey & Record<string, unknown>>(
          db,
          `select id::text, key from pgauth.create_api_key($1, $2,
             coalesce($3::timestamptz, pgauth.clock() + $4::interval))`,
          [account, name, expiresAt?.at ?? null, expiresAt?.interval ?? null],
        ),
        'pgauth.create_api_key',
      );
    },

    /** pgauth.list_api_keys: newest first, revoked ones too. */
    listApiKeys(account: string): Promise<ApiKeyRow[]> {
      return jsonRows<ApiKeyRow>(db, 'select to_json(k) as row from pgauth.list_api_keys($1) k', [
        account,
      ]);
    },

    /** pgauth.revoke_api_key: true when the key was live. */
    revokeApiKey(id: string): Promise<boolean> {
      return revoking(hooks, { sessionId: id }, async () => {
        const rows = await run<{ v: boolean }>(db, 'select pgauth.revoke_api_key($1) as v', [id]);
        return rows[0]?.v === true;
      });
    },

    /** pgauth.add_signing_key: the new key signs from now on; the old one is retired. */
    async addSigningKey(key: {
      kid: string;
      alg: string;
      publicJwk: Record<string, unknown>;
      privateKeyEncrypted: string;
    }): Promise<void> {
      await exec('select pgauth.add_signing_key($1, $2, $3::jsonb, $4)', [
        key.kid,
        key.alg,
        JSON.stringify(key.publicJwk),
        key.privateKeyEncrypted,
      ]);
    },

    /** pgauth.audit_events: newest first. */
    auditEvents(q: AuditQuery = {}): Promise<AuditRow[]> {
      return jsonRows<AuditRow>(
        db,
        `select to_json(a) as row from pgauth.audit_events(
           $1::uuid, coalesce($2::timestamptz, pgauth.clock() - $3::interval), $4) a`,
        [q.userId ?? null, q.since?.at ?? null, q.since?.interval ?? null, q.limit ?? LIST_DEFAULT],
      );
    },
  };
}

export type AdminOperations = ReturnType<typeof adminOperations>;
