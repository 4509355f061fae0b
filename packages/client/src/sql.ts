/**
 * SQL mode: each call is one `pgauth.*` function over the client's own pool. The gateway's hot
 * path uses the same validate call, so a service calling SQL and one calling HTTP see the same
 * answers.
 */

import { type CoalesceOptions, coalesce } from './batch.ts';
import { withDeadline } from './db/deadline.ts';
import type { Database, Row } from './db/types.ts';
import { AuthError, toAuthError } from './errors.ts';
import { plausibleToken } from './tokens.ts';
import type { LoginContext, Session, TokenPair } from './types.ts';

export { MAX_TOKEN_LENGTH, plausibleToken } from './tokens.ts';

interface SessionRow extends Row {
  user_id: string;
  username: string;
  session_id: string;
  roles: string[];
  expires_at: Date;
}

interface PairRow extends Row {
  user_id: string;
  session_id: string;
  access_token: string;
  access_expires_at: Date;
  refresh_token: string;
  refresh_expires_at: Date;
}

const VALIDATE =
  'select user_id::text, username, session_id::text, roles, expires_at from pgauth.validate($1)';
const VALIDATE_MANY =
  'select ord, user_id::text, username, session_id::text, roles, expires_at from pgauth.validate_many($1::text[])';
const PAIR_COLUMNS =
  'user_id::text, session_id::text, access_token, access_expires_at, refresh_token, refresh_expires_at';

/** Seconds from now until `at`, never negative. */
export function secondsUntil(at: Date): number {
  return Math.max(0, Math.floor((at.getTime() - Date.now()) / 1000));
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

/** Runs a database call; driver errors become AuthError (a fault: `internal`, with its cause). */
async function call<R extends Row>(
  db: Database,
  sql: string,
  params: readonly unknown[],
  deadlineMs?: number,
): Promise<R[]> {
  try {
    return (await withDeadline(db.query<R>(sql, params), deadlineMs)).rows;
  } catch (err) {
    throw toAuthError(err) ?? new AuthError('internal', undefined, { cause: err });
  }
}

function sessionOf(row: SessionRow): Session {
  return {
    userId: row.user_id,
    username: row.username,
    sessionId: row.session_id,
    roles: row.roles,
    expiresAt: row.expires_at,
  };
}

/** A validation answers within this, or fails with `unavailable` (fail closed, and fast). */
export const VALIDATE_DEADLINE_MS = 1_500;

export interface SqlOptions {
  /**
   * Coalesce concurrent validations into pgauth.validate_many calls (batch.ts); false sends each
   * alone. Default on.
   */
  batch?: CoalesceOptions | false;
}

/** The uncached operations of SQL mode, on any Database (pool, PGlite, a test database). */
export function sqlOperations(db: Database, options: SqlOptions = {}) {
  const validateOne = async (token: string): Promise<Session | null> => {
    const row = (await call<SessionRow>(db, VALIDATE, [token], VALIDATE_DEADLINE_MS))[0];
    return row ? sessionOf(row) : null;
  };
  /** False once the schema turned out to predate validate_many (migration 0005). */
  let manyExists = true;
  const validateMany = async (tokens: string[]): Promise<(Session | null)[]> => {
    if (tokens.length === 1 || !manyExists) return Promise.all(tokens.map(validateOne));
    let rows: (SessionRow & { ord: number })[];
    try {
      rows = (
        await withDeadline(
          db.query<SessionRow & { ord: number }>(VALIDATE_MANY, [tokens]),
          VALIDATE_DEADLINE_MS,
        )
      ).rows;
    } catch (err) {
      if ((err as { code?: unknown }).code !== '42883') {
        throw toAuthError(err) ?? new AuthError('internal', undefined, { cause: err });
      }
      manyExists = false;
      return Promise.all(tokens.map(validateOne));
    }
    const answers: (Session | null)[] = tokens.map(() => null);
    for (const row of rows) answers[row.ord - 1] = sessionOf(row);
    return answers;
  };
  const batched = options.batch === false ? null : coalesce(validateMany, options.batch);
  const validate = (token: string): Promise<Session | null> => {
    if (!plausibleToken(token)) return Promise.resolve(null);
    return batched ? batched(token) : validateOne(token);
  };
  return {
    validate,
    async login(username: string, password: string, context: LoginContext = {}) {
      // A procedure: it commits the check before it answers (migration 0009). Its one row holds
      // NULLs on any failure.
      const rows = await call<PairRow>(db, 'call pgauth.login_durably($1, $2, $3, $4)', [
        username,
        password,
        context.ip ?? null,
        context.userAgent ?? null,
      ]);
      if (!rows[0]?.user_id) throw new AuthError('invalid_credentials');
      return pairOf(rows[0]);
    },
    async refresh(refreshToken: string, context: LoginContext = {}) {
      if (!plausibleToken(refreshToken)) throw new AuthError('invalid_token');
      const rows = await call<PairRow>(
        db,
        `select ${PAIR_COLUMNS} from pgauth.refresh($1, $2, $3)`,
        [refreshToken, context.ip ?? null, context.userAgent ?? null],
      );
      if (!rows[0]) throw new AuthError('invalid_token');
      return pairOf(rows[0]);
    },
    async logout(accessToken: string): Promise<void> {
      if (!plausibleToken(accessToken)) return;
      await call(db, 'select pgauth.logout($1)', [accessToken]);
    },
    async changePassword(accessToken: string, currentPassword: string, newPassword: string) {
      const session = await validate(accessToken);
      if (!session) throw new AuthError('invalid_token');
      const rows = await call<{ changed: boolean }>(
        db,
        'call pgauth.change_password_durably($1, $2, $3)',
        [session.userId, currentPassword, newPassword],
      );
      if (!rows[0]?.changed) throw new AuthError('invalid_credentials');
    },
  };
}

export type Operations = ReturnType<typeof sqlOperations>;
