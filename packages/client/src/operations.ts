/**
 * The one place a service-side `pgauth.*` function is called: one typed function per SQL function,
 * with its arguments, its row mapping and its error mapping. The SDK's SQL mode, the gateway and
 * the CLI all call these; none writes the SQL again.
 *
 * An operation that revokes something reports it through `onRevoked` (see Revoked): a cache
 * drops what it made stale, before the call (so nothing is served from memory while it runs) and
 * after it (what a concurrent validation put back meanwhile).
 */
import { withDeadline } from './db/deadline.ts';
import type { Queryable, Row } from './db/types.ts';
import { toAuthError } from './errors.ts';
import type { LoginContext, Session, TokenPair } from './types.ts';

/**
 * What a revoking operation made stale, for the caches of this process: a token's session, a
 * session, every session of a user, or every session of the user of an access token.
 */
export type Revoked =
  | { token: string }
  | { sessionId: string }
  | { userId: string }
  | { userOf: string };

export interface OperationHooks {
  /** Told what an operation revokes, before and after the call. */
  onRevoked?: (revoked: Revoked) => void;
}

/** A validation answers within this, or fails with `unavailable` (fail closed, and fast). */
export const VALIDATE_DEADLINE_MS = 1_500;

/**
 * Runs one statement. Errors the registry knows (a pgauth SQLSTATE, invalid input, a database
 * that cannot serve) become AuthError; anything else is a fault and is thrown as it is.
 */
export async function run<R extends Row>(
  db: Queryable,
  sql: string,
  params: readonly unknown[],
  deadlineMs?: number,
): Promise<R[]> {
  try {
    return (await withDeadline(db.query<R>(sql, params), deadlineMs)).rows;
  } catch (err) {
    throw toAuthError(err) ?? err;
  }
}

/** Runs `call`, reporting `revoked` before and after it. */
export async function revoking<T>(
  hooks: OperationHooks,
  revoked: Revoked,
  call: () => Promise<T>,
): Promise<T> {
  hooks.onRevoked?.(revoked);
  const result = await call();
  hooks.onRevoked?.(revoked);
  return result;
}

/** Seconds from now until `at`, never negative. */
export function secondsUntil(at: Date): number {
  return Math.max(0, Math.floor((at.getTime() - Date.now()) / 1000));
}

interface SessionRow extends Row {
  user_id: string;
  username: string;
  session_id: string;
  roles: string[];
  expires_at: Date;
}

/** One row of pgauth.login or pgauth.refresh, as the driver returns it. */
export interface PairRow extends Row {
  user_id: string;
  session_id: string;
  access_token: string;
  access_expires_at: Date;
  refresh_token: string;
  refresh_expires_at: Date;
}

const SESSION_COLUMNS = 'user_id::text, username, session_id::text, roles, expires_at';
const PAIR_COLUMNS =
  'user_id::text, session_id::text, access_token, access_expires_at, refresh_token, refresh_expires_at';

function sessionOf(row: SessionRow): Session {
  return {
    userId: row.user_id,
    username: row.username,
    sessionId: row.session_id,
    roles: row.roles,
    expiresAt: row.expires_at,
  };
}

function pairOf(row: PairRow): TokenPair {
  return {
    accessToken: row.access_token,
    tokenType: 'Bearer',
    expiresIn: secondsUntil(row.access_expires_at),
    refreshToken: row.refresh_token,
    refreshExpiresIn: secondsUntil(row.refresh_expires_at),
    userId: row.user_id,
    sessionId: row.session_id,
  };
}

/** The keys of an attempt and the limit of each (an undefined key is not counted). */
export interface ThrottleLimits {
  ip?: string | undefined;
  ipMax?: number;
  username?: string | undefined;
  userMax?: number;
  windowMs: number;
}

export interface NewAccount {
  username: string;
  password: string;
  email?: string | null | undefined;
}

/** The service API (`pgauth_service`): what a front door or a service calls. */
export function serviceOperations(db: Queryable, hooks: OperationHooks = {}) {
  return {
    /** pgauth.validate: the session of an access token, or null. */
    async validate(token: string): Promise<Session | null> {
      const sql = `select ${SESSION_COLUMNS} from pgauth.validate($1)`;
      const row = (await run<SessionRow>(db, sql, [token], VALIDATE_DEADLINE_MS))[0];
      return row ? sessionOf(row) : null;
    },

    /** pgauth.validate_many: the answer for each token, in order. */
    async validateMany(tokens: readonly string[]): Promise<(Session | null)[]> {
      const sql = `select ord, ${SESSION_COLUMNS} from pgauth.validate_many($1::text[])`;
      const rows = await run<SessionRow & { ord: number }>(db, sql, [tokens], VALIDATE_DEADLINE_MS);
      const answers: (Session | null)[] = tokens.map(() => null);
      for (const row of rows) answers[row.ord - 1] = sessionOf(row);
      return answers;
    },

    /**
     * pgauth.login_durably: a new session's pair, or null for every kind of failure. A procedure:
     * it commits the password check before it answers (migration 0009), so no caller can roll a
     * failure back; its one row holds NULLs on any failure.
     */
    async login(
      username: string,
      password: string,
      context: LoginContext = {},
    ): Promise<TokenPair | null> {
      const rows = await run<PairRow>(db, 'call pgauth.login_durably($1, $2, $3, $4)', [
        username,
        password,
        context.ip ?? null,
        context.userAgent ?? null,
      ]);
      return rows[0]?.user_id ? pairOf(rows[0]) : null;
    },

    /** pgauth.refresh: the rotated pair, or null; the old access token is dead at once. */
    async refresh(refreshToken: string, context: LoginContext = {}): Promise<TokenPair | null> {
      const rows = await run<PairRow>(
        db,
        `select ${PAIR_COLUMNS} from pgauth.refresh($1, $2, $3)`,
        [refreshToken, context.ip ?? null, context.userAgent ?? null],
      );
      const pair = rows[0] ? pairOf(rows[0]) : null;
      if (pair) hooks.onRevoked?.({ sessionId: pair.sessionId });
      return pair;
    },

    /** pgauth.logout: whether a live session was ended. */
    logout(accessToken: string): Promise<boolean> {
      return revoking(hooks, { token: accessToken }, async () => {
        const rows = await run<{ ok: boolean }>(db, 'select pgauth.logout($1) as ok', [
          accessToken,
        ]);
        return rows[0]?.ok === true;
      });
    },

    /** pgauth.revoke_token (RFC 7009): an access or refresh token; unknown ones are no error. */
    revokeToken(token: string): Promise<void> {
      return revoking(hooks, { token }, async () => {
        await run(db, 'select pgauth.revoke_token($1)', [token]);
      });
    },

    /**
     * pgauth.change_password_durably (a procedure, committed before it answers, like login):
     * false when the current password is wrong. Every session of the user is revoked.
     */
    changePassword(userId: string, currentPassword: string, newPassword: string): Promise<boolean> {
      return revoking(hooks, { userId }, async () => {
        const rows = await run<{ changed: boolean }>(
          db,
          'call pgauth.change_password_durably($1, $2, $3)',
          [userId, currentPassword, newPassword],
        );
        return rows[0]?.changed === true;
      });
    },

    /**
     * pgauth.throttle: counts one attempt of `scope` under the client's network and the
     * username, in windows shared by every caller of the database; 0 to go on, else the
     * seconds to wait.
     */
    async throttle(scope: string, limits: ThrottleLimits): Promise<number> {
      const rows = await run<{ wait: number }>(
        db,
        'select pgauth.throttle($1, $2, $3, $4, $5, $6) as wait',
        [
          scope,
          limits.ip ?? null,
          limits.ip === undefined ? null : limits.ipMax,
          limits.username ?? null,
          limits.username === undefined ? null : limits.userMax,
          limits.windowMs,
        ],
      );
      return rows[0]?.wait ?? 0;
    },

    /** pgauth.register (self-registration): the new user's id. */
    async register(account: NewAccount): Promise<string> {
      const rows = await run<{ user_id: string }>(
        db,
        'select pgauth.register($1, $2, $3)::text as user_id',
        [account.username, account.password, account.email ?? null],
      );
      return rows[0]?.user_id as string;
    },
  };
}

export type ServiceOperations = ReturnType<typeof serviceOperations>;
