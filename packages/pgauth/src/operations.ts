/**
 * The one place an admin `pgauth.*` function is called (the service API is the SDK's
 * operations.ts): one typed function per SQL function, shared by the gateway's admin routes and
 * the CLI. Rows come back as JSON built by the database with times in UTC, so both engines and
 * both callers give the same values: ISO 8601 times, "infinity" for an endless lock.
 */
import {
  AuthError,
  type Database,
  type OperationHooks,
  revoking,
  run,
  selectOk,
} from '@pgauth/client/internal';
import type { ClaimedMail, MailKind } from './mail/message.ts';
import type {
  ApiKeyRow,
  AuditRow,
  LoginMinute,
  NewApiKey,
  ServiceAccountRow,
  SessionRow,
  UserRow,
} from './rows.ts';

export type * from './rows.ts';

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

/** A place in a keyset listing: after this sort key and id (search_users, search_audit). */
export interface Cursor {
  key: string;
  id: string;
}

export interface UserSearch {
  /** Start of a username (or, holding an @, of an email), any case; '' for every user. */
  query?: string | undefined;
  after?: Cursor | null | undefined;
  limit?: number | undefined;
}

export interface AuditSearch {
  event?: string | null | undefined;
  userId?: string | null | undefined;
  /** Events at or after this (RFC 3339). */
  from?: string | null | undefined;
  /** Events before this (RFC 3339). */
  to?: string | null | undefined;
  after?: Cursor | null | undefined;
  limit?: number | undefined;
}

/** One page of a keyset listing and the cursor of the next one (null: this is the last). */
export interface Page<R> {
  rows: R[];
  next: Cursor | null;
}

/** The policy settings as pgauth.get_settings returns them, durations in seconds. */
export interface Settings {
  bcrypt_cost: number;
  password_min_length: number;
  max_failed_logins: number;
  lockout_seconds: number;
  lockout_max_seconds: number;
  access_token_ttl_seconds: number;
  refresh_token_ttl_seconds: number;
  session_max_age_seconds: number;
  refresh_reuse_grace_seconds: number;
  session_retention_seconds: number;
  allow_registration: boolean;
  require_verified_email: boolean;
  email_verification_ttl_seconds: number;
  password_reset_ttl_seconds: number;
  password_reset_per_address: number;
  password_reset_per_ip: number;
  mfa_challenge_ttl_seconds: number;
  totp_issuer: string;
  mail_max_attempts: number;
  access_token_format: 'opaque' | 'jwt';
  service_token_ttl_seconds: number;
}

/** What one retention round deleted; null where another process held that step's lock. */
export interface PurgeReport {
  /** Ended sessions deleted by pgauth.purge_expired. */
  sessions: number | null;
  /** Expired client-credentials token rows deleted by pgauth.purge_service_tokens. */
  serviceTokens: number | null;
}

/** The advisory lock of a retention step: one process at a time runs it, the others skip. */
const PURGE_LOCK = `pg_try_advisory_xact_lock(hashtext('pgauth.purge'))`;

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

/** A full page has a next one (maybe empty); `cursor` gives the place after its last row. */
function page<R>(rows: R[], limit: number, cursor: (last: R) => Cursor): Page<R> {
  const last = rows.at(-1);
  return { rows, next: rows.length === limit && last !== undefined ? cursor(last) : null };
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

    /** pgauth.search_users: a page of users whose username (or email) starts with the query. */
    async searchUsers(q: UserSearch = {}): Promise<Page<UserRow>> {
      const limit = q.limit ?? LIST_DEFAULT;
      const rows = await jsonRows<UserRow & { sort_key: string }>(
        db,
        userRows('pgauth.search_users($1, $2, $3::uuid, $4)'),
        [q.query ?? '', q.after?.key ?? null, q.after?.id ?? null, limit],
      );
      const { rows: users, next } = page(rows, limit, (u) => ({ key: u.sort_key, id: u.id }));
      return { rows: users.map(({ sort_key: _, ...u }) => u), next };
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

    /** pgauth.revoke_session: whether the session was live (and is now revoked). */
    revokeSession(sessionId: string): Promise<boolean> {
      return revoking(hooks, { sessionId }, () =>
        selectOk(db, 'pgauth.revoke_session($1)', [sessionId]),
      );
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

    /** pgauth.reset_mfa: removes every second factor of a user; whether there was one. */
    async resetMfa(userId: string): Promise<boolean> {
      const rows = await run<{ had: boolean }>(db, 'select pgauth.reset_mfa($1) as had', [userId]);
      return rows[0]?.had === true;
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

    /** pgauth.search_audit: a page of audit events, newest first, filtered. */
    async searchAudit(q: AuditSearch = {}): Promise<Page<AuditRow & { id: number }>> {
      const limit = q.limit ?? LIST_DEFAULT;
      const after = q.after ? Number(q.after.id) : null;
      if (after !== null && !Number.isSafeInteger(after)) throw new AuthError('invalid_input');
      const rows = await jsonRows<AuditRow & { id: number }>(
        db,
        `select to_json(a) as row from pgauth.search_audit(
           $1, $2::uuid, $3::timestamptz, $4::timestamptz, $5::timestamptz, $6::bigint, $7) a`,
        [
          q.event ?? null,
          q.userId ?? null,
          q.from ?? null,
          q.to ?? null,
          q.after?.key ?? null,
          after,
          limit,
        ],
      );
      return page(rows, limit, (a) => ({ key: a.at, id: String(a.id) }));
    },

    /**
     * One round of retention: pgauth.purge_expired, then pgauth.purge_service_tokens, each in a
     * transaction of its own that first takes a transaction-level advisory lock without waiting
     * (safe through PgBouncer in transaction mode). Where another process (another gateway, a
     * cron job) holds it, that step is skipped: both are safe at any time, one at a time is enough.
     */
    async purge(): Promise<PurgeReport> {
      const step = (call: string): Promise<number | null> =>
        db.transaction(async (tx) => {
          const [lock] = await run<{ got: boolean }>(tx, `select ${PURGE_LOCK} as got`, []);
          if (!lock?.got) return null;
          const [row] = await run<{ n: number }>(tx, `select ${call}::integer as n`, []);
          return row?.n ?? 0;
        });
      return {
        sessions: await step('pgauth.purge_expired()'),
        serviceTokens: await step('pgauth.purge_service_tokens()'),
      };
    },

    /** pgauth.login_stats: logins, failures and lockouts per minute of the last `hours`. */
    loginStats(hours: number): Promise<LoginMinute[]> {
      return jsonRows<LoginMinute>(
        db,
        `select to_json(m) as row from pgauth.login_stats(
           pgauth.clock() - make_interval(hours => $1), pgauth.clock()) m`,
        [hours],
      );
    },

    /** pgauth.get_settings. */
    getSettings(): Promise<Settings> {
      return one(
        jsonRows<Settings>(db, 'select to_json(s) as row from pgauth.get_settings() s', []),
        'pgauth.get_settings',
      );
    },

    /** pgauth.update_settings: changes the named settings; BADIN names a broken rule. */
    async updateSettings(changes: Partial<Settings>): Promise<void> {
      await exec('select pgauth.update_settings($1::jsonb)', [JSON.stringify(changes)]);
    },
  };
}

export type AdminOperations = ReturnType<typeof adminOperations>;

type ClaimRow = {
  id: string;
  kind: MailKind;
  to_address: string;
  username: string;
  token: string;
  expires_at: Date;
  attempt: number;
};

/**
 * The mail outbox (`pgauth_mailer`, or `pgauth_admin`): what a sender calls. Kept apart from the
 * admin API because a gateway's role may hold pgauth_mailer without being an admin.
 */
export function mailerOperations(db: Database) {
  return {
    /** pgauth.mail_claim: due messages leased to this sender, each with its new link token. */
    async claim(limit: number, leaseSeconds: number): Promise<ClaimedMail[]> {
      const rows = await run<ClaimRow>(
        db,
        `select id::text, kind, to_address, username, token, expires_at, attempt
         from pgauth.mail_claim($1, $2)`,
        [limit, leaseSeconds],
      );
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        toAddress: r.to_address,
        username: r.username,
        token: r.token,
        expiresAt: r.expires_at,
        attempt: r.attempt,
      }));
    },

    /** pgauth.mail_sent. */
    async sent(id: string): Promise<void> {
      await run(db, 'select pgauth.mail_sent($1)', [id]);
    },

    /** pgauth.mail_failed: retried later with backoff (p_error must not hold the text). */
    async failed(id: string, error: string): Promise<void> {
      await run(db, 'select pgauth.mail_failed($1, $2)', [id, error]);
    },
  };
}

export type MailerOperations = ReturnType<typeof mailerOperations>;
