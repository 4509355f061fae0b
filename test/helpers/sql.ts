/** Assertions and fixtures the SQL-level test files share: each call goes through pgauth.*. */
import assert from 'node:assert/strict';
import type { Queryable } from '../../packages/client/src/db/types.ts';
import type { PairRow } from '../../packages/client/src/operations.ts';

/** A password the policy accepts, for every account a test does not need a special one for. */
export const PASSWORD = 'a long enough passphrase';
/** A password that is not the account's. */
export const WRONG_PASSWORD = 'not the right passphrase';

/** One row of pgauth.login or pgauth.refresh. */
export type TokenPair = PairRow;

/** One row of pgauth.validate. */
export type ValidSession = {
  user_id: string;
  session_id: string;
  username: string;
  roles: string[];
  expires_at: Date;
  /** 1 for a password login, 2 with a second factor. */
  aal: number;
  subject_type: 'user' | 'service_account';
};

/** pgauth.register; resolves with the new user's id. */
export async function register(
  db: Queryable,
  username: string,
  password: string | null = PASSWORD,
  email: string | null = null,
): Promise<string> {
  const r = await db.query<{ id: string }>('select pgauth.register($1, $2, $3) as id', [
    username,
    password,
    email,
  ]);
  return r.rows[0]?.id as string;
}

/** pgauth.create_user (the administrator's way: registration need not be open); its id. */
export async function createUser(
  db: Queryable,
  username: string,
  roles: string[] = [],
  password: string = PASSWORD,
  email: string | null = null,
): Promise<string> {
  const r = await db.query<{ id: string }>(
    'select pgauth.create_user($1, $2, $3, $4::text[])::text as id',
    [username, password, email, roles],
  );
  return r.rows[0]?.id as string;
}

/** pgauth.login: one pair when it succeeds, none when it fails. */
export async function login(
  db: Queryable,
  username: string,
  password: string = PASSWORD,
  clientIp: string | null = null,
  userAgent: string | null = null,
): Promise<TokenPair[]> {
  const r = await db.query<TokenPair>('select * from pgauth.login($1, $2, $3, $4)', [
    username,
    password,
    clientIp,
    userAgent,
  ]);
  return r.rows;
}

/** pgauth.login that must succeed: the pair of the new session. */
export async function loginPair(
  db: Queryable,
  username: string,
  password: string = PASSWORD,
): Promise<TokenPair> {
  const rows = await login(db, username, password);
  assert.equal(rows.length, 1, `${username} logs in`);
  return rows[0] as TokenPair;
}

/** A new user with PASSWORD, logged in once: the pair of that session. */
export async function session(db: Queryable, username: string): Promise<TokenPair> {
  await register(db, username);
  return loginPair(db, username);
}

/** pgauth.refresh: the new pair, or none. */
export async function refresh(db: Queryable, token: string | null): Promise<TokenPair[]> {
  return (await db.query<TokenPair>('select * from pgauth.refresh($1)', [token])).rows;
}

/** pgauth.validate: the session of a valid access token, or none. */
export async function validate(db: Queryable, token: unknown): Promise<ValidSession[]> {
  return (await db.query<ValidSession>('select * from pgauth.validate($1)', [token])).rows;
}

/** Whether pgauth.validate accepts the token. */
export async function validates(db: Queryable, token: unknown): Promise<boolean> {
  return (await validate(db, token)).length === 1;
}

/** The column `v` of the first row of `sql`. */
export async function scalar<T>(db: Queryable, sql: string, params: unknown[] = []): Promise<T> {
  const r = await db.query<{ v: T }>(sql, params);
  return r.rows[0]?.v as T;
}

/** The events of the audit log of one user or one session, oldest first. */
export async function auditEvents(
  db: Queryable,
  of: { userId: string } | { sessionId: string },
): Promise<string[]> {
  const [column, id] = 'userId' in of ? ['user_id', of.userId] : ['session_id', of.sessionId];
  const r = await db.query<{ event: string }>(
    `select event from pgauth.audit_log where ${column} = $1 order by id`,
    [id],
  );
  return r.rows.map((x) => x.event);
}

/** Asserts that a call fails with a pgauth SQLSTATE and its stable message (the error code). */
export async function rejects(
  p: Promise<unknown>,
  sqlstate: string,
  message: string,
): Promise<void> {
  await assert.rejects(p, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, sqlstate);
    assert.equal(err.message, message);
    return true;
  });
}

/**
 * Runs `fn` with columns of the pgauth.settings row set to `values`, then puts back the values
 * they had before, whatever `fn` did.
 */
export async function withSettings<T>(
  db: Queryable,
  values: Record<string, string | number | boolean>,
  fn: () => Promise<T>,
): Promise<T> {
  const columns = Object.keys(values);
  assert.ok(
    columns.every((c) => /^[a-z_]+$/.test(c)),
    `settings columns: ${columns.join(', ')}`,
  );
  const set = (row: readonly unknown[]): Promise<unknown> =>
    db.query(
      `update pgauth.settings set ${columns.map((c, i) => `${c} = $${i + 1}`).join(', ')}`,
      row.map((v) => (v === null ? null : String(v))),
    );
  const r = await db.query<Record<string, string | null>>(
    `select ${columns.map((c) => `${c}::text`).join(', ')} from pgauth.settings`,
  );
  const before = columns.map((c) => r.rows[0]?.[c] ?? null);
  await set(Object.values(values));
  try {
    return await fn();
  } finally {
    await set(before);
  }
}

export type LockState = {
  failed_logins: number;
  locked_until: Date | null;
  lock_count: number;
  lock_reason: string | null;
  /** Whether the lock holds now (pgauth.clock()). */
  locked: boolean;
  /** Seconds from now (pgauth.clock()) to the end of the lock: null without one, <= 0 once over. */
  seconds: number | null;
};

/** The failed-login counter and the lock of a user, read against pgauth.clock(). */
export async function lockState(db: Queryable, userId: string): Promise<LockState> {
  const r = await db.query<LockState>(
    `select failed_logins, locked_until, lock_count, lock_reason,
       coalesce(locked_until > pgauth.clock(), false) as locked,
       round(extract(epoch from locked_until - pgauth.clock()))::int as seconds
     from pgauth.users where id = $1`,
    [userId],
  );
  const row = r.rows[0];
  assert.ok(row, `user ${userId} exists`);
  return row;
}

/** Runs `fn` with pgauth.clock() shifted by `offset` (settings.clock_offset), then shifts it back. */
export async function withClock<T>(
  db: Queryable,
  offset: string,
  fn: () => Promise<T>,
): Promise<T> {
  await db.query('update pgauth.settings set clock_offset = $1::interval', [offset]);
  try {
    return await fn();
  } finally {
    await db.exec(`update pgauth.settings set clock_offset = '0'`);
  }
}

/**
 * The helpers above bound to the database of one file, for files that use one throughout:
 * `const { register, session, validates } = sqlOn(t)`. `t.db` is read at each call, so `t` may be
 * the fixture of useTestDatabase() before its database is open.
 */
export function sqlOn(t: { readonly db: Queryable }) {
  return {
    register: (username: string, password: string | null = PASSWORD, email: string | null = null) =>
      register(t.db, username, password, email),
    createUser: (username: string, roles: string[] = [], password: string = PASSWORD) =>
      createUser(t.db, username, roles, password),
    login: (
      username: string,
      password: string = PASSWORD,
      clientIp: string | null = null,
      userAgent: string | null = null,
    ) => login(t.db, username, password, clientIp, userAgent),
    loginPair: (username: string, password: string = PASSWORD) =>
      loginPair(t.db, username, password),
    session: (username: string) => session(t.db, username),
    refresh: (token: string | null) => refresh(t.db, token),
    validate: (token: unknown) => validate(t.db, token),
    validates: (token: unknown) => validates(t.db, token),
    scalar: <T>(sql: string, params: unknown[] = []) => scalar<T>(t.db, sql, params),
    auditEvents: (of: { userId: string } | { sessionId: string }) => auditEvents(t.db, of),
    lockState: (userId: string) => lockState(t.db, userId),
    withClock: <T>(offset: string, fn: () => Promise<T>) => withClock(t.db, offset, fn),
    withSettings: <T>(values: Record<string, string | number | boolean>, fn: () => Promise<T>) =>
      withSettings(t.db, values, fn),
  };
}
