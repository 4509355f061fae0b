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
import { sessionJwtIds } from './jwt.ts';
import type {
  LoginContext,
  MfaChallenge,
  SecondFactor,
  Session,
  SubjectType,
  TokenPair,
} from './types.ts';

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

/** Runs `select <call> as ok` (`call` a constant of this code, its values in `params`): whether
 * the function answered true (not false, not null). */
export async function selectOk(
  db: Queryable,
  call: string,
  params: readonly unknown[],
): Promise<boolean> {
  const rows = await run<{ ok: boolean }>(db, `select ${call} as ok`, params);
  return rows[0]?.ok === true;
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
  aal: number;
  subject_type: SubjectType;
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

const SESSION_COLUMNS =
  'user_id::text, username, session_id::text, roles, expires_at, aal, subject_type';
const PAIR_COLUMNS =
  'user_id::text, session_id::text, access_token, access_expires_at, refresh_token, refresh_expires_at';

function sessionOf(row: SessionRow): Session {
  return {
    userId: row.user_id,
    username: row.username,
    sessionId: row.session_id,
    subjectType: row.subject_type,
    roles: row.roles,
    expiresAt: row.expires_at,
    aal: row.aal === 2 ? 2 : 1,
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

interface LoginRow extends PairRow {
  mfa_challenge: string | null;
  mfa_expires_at: Date | null;
}

/** A TOTP enrolment's secret, shown once. */
export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
}

/** The second factors of an account. */
export interface MfaStatus {
  totp: boolean;
  totpPending: boolean;
  recoveryCodesLeft: number;
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

/** A public signing key as the JWKS publishes it. */
export interface PublishedKey {
  kid: string;
  alg: string;
  public_jwk: Record<string, unknown>;
}

/** The signing key, its private part encrypted under the gateway's key-encryption key. */
export interface ActiveKey {
  kid: string;
  alg: string;
  private_key_encrypted: string;
}

/** What pgauth.client_credentials grants: an opaque token, or what a JWT must carry. */
export interface ClientGrant {
  serviceAccountId: string;
  clientId: string;
  apiKeyId: string;
  /** The jti of a JWT, the id of an opaque token. */
  tokenId: string;
  /** The opaque token (pgs_…); null when the format is jwt (the caller signs one). */
  accessToken: string | null;
  tokenFormat: 'opaque' | 'jwt';
  /** The roles granted: the scope asked for, or every role of the account. */
  roles: string[];
  expiresAt: Date;
}

interface GrantRow extends Row {
  service_account_id: string;
  api_key_id: string;
  token_id: string;
  access_token: string | null;
  token_format: 'opaque' | 'jwt';
  roles: string[];
  expires_at: Date;
}

/** What the gateway signs into a session's JWT access token (pgauth.session_token_claims). */
export interface SessionTokenClaims {
  tokenFormat: 'opaque' | 'jwt';
  jti: string;
  userId: string;
  sessionId: string;
  username: string;
  roles: string[];
  aal: 1 | 2;
  expiresAt: Date;
}

interface ClaimsRow extends Row {
  token_format: 'opaque' | 'jwt';
  jti: string;
  user_id: string;
  session_id: string;
  username: string;
  roles: string[];
  aal: number;
  expires_at: Date;
}

/** The service API (`pgauth_service`): what a front door or a service calls. */
export function serviceOperations(db: Queryable, hooks: OperationHooks = {}) {
  const logoutJwt = ({ sid, jti }: { sid: string; jti: string }): Promise<boolean> =>
    revoking(hooks, { sessionId: sid }, () =>
      selectOk(db, 'pgauth.logout_jwt($1::uuid, $2::uuid)', [sid, jti]),
    );
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
     * pgauth.login_durably: a new session's pair; a challenge when the account has a second
     * factor (finish with loginMfa); null for every kind of failure. A procedure: it commits the
     * password check before it answers (migration 0009), so no caller can roll a failure back;
     * its one row holds NULLs on any failure. email_not_verified when the password is right but
     * the settings require a verified address.
     */
    async login(
      username: string,
      password: string,
      context: LoginContext = {},
    ): Promise<TokenPair | MfaChallenge | null> {
      const rows = await run<LoginRow>(db, 'call pgauth.login_durably($1, $2, $3, $4)', [
        username,
        password,
        context.ip ?? null,
        context.userAgent ?? null,
      ]);
      const row = rows[0];
      if (row?.mfa_challenge && row.mfa_expires_at) {
        return {
          mfaRequired: true,
          challenge: row.mfa_challenge,
          expiresIn: secondsUntil(row.mfa_expires_at),
        };
      }
      return row?.user_id ? pairOf(row) : null;
    },

    /**
     * pgauth.login_mfa_durably: the pair of a session of aal 2 for a challenge and a right second
     * factor, or null (wrong or used code, dead challenge: the failure is committed and counts
     * toward the account's lockout).
     */
    async loginMfa(
      challenge: string,
      second: SecondFactor,
      context: LoginContext = {},
    ): Promise<TokenPair | null> {
      const rows = await run<PairRow>(db, 'call pgauth.login_mfa_durably($1, $2, $3, $4, $5)', [
        challenge,
        'code' in second ? second.code : null,
        'recoveryCode' in second ? second.recoveryCode : null,
        context.ip ?? null,
        context.userAgent ?? null,
      ]);
      return rows[0]?.user_id ? pairOf(rows[0]) : null;
    },

    /** pgauth.request_email_verification: whether a mail was queued. */
    async requestEmailVerification(userId: string): Promise<boolean> {
      return selectOk(db, 'pgauth.request_email_verification($1)', [userId]);
    },

    /** pgauth.verify_email: whether the token verified an address (once). */
    async verifyEmail(token: string): Promise<boolean> {
      return selectOk(db, 'pgauth.verify_email($1)', [token]);
    },

    /** pgauth.request_password_reset: answers nothing, whether or not an account matched. */
    async requestPasswordReset(emailOrUsername: string, context: LoginContext = {}): Promise<void> {
      await run(db, 'select pgauth.request_password_reset($1, $2)', [
        emailOrUsername,
        context.ip ?? null,
      ]);
    },

    /**
     * pgauth.reset_password: whether the token set the new password (once). Every session of the
     * user is revoked (their caches hear it from the revocation events).
     */
    async resetPassword(token: string, newPassword: string): Promise<boolean> {
      return selectOk(db, 'pgauth.reset_password($1, $2)', [token, newPassword]);
    },

    /** pgauth.totp_enroll: a new secret, shown once; TOTP is off until totpConfirm. */
    async totpEnroll(userId: string): Promise<TotpEnrolment> {
      const rows = await run<{ secret: string; otpauth_uri: string }>(
        db,
        'select secret, otpauth_uri from pgauth.totp_enroll($1)',
        [userId],
      );
      const row = rows[0] as { secret: string; otpauth_uri: string };
      return { secret: row.secret, otpauthUri: row.otpauth_uri };
    },

    /** pgauth.totp_confirm: the ten recovery codes (shown once), or null for a wrong code. */
    async totpConfirm(userId: string, code: string): Promise<string[] | null> {
      const rows = await run<{ codes: string[] | null }>(
        db,
        'select pgauth.totp_confirm($1, $2) as codes',
        [userId, code],
      );
      return rows[0]?.codes ?? null;
    },

    /** pgauth.totp_remove: whether the code (TOTP or recovery) was right and TOTP is off. */
    async totpRemove(userId: string, code: string): Promise<boolean> {
      return selectOk(db, 'pgauth.totp_remove($1, $2)', [userId, code]);
    },

    /** pgauth.mfa_status: the second factors of an account. */
    async mfaStatus(userId: string): Promise<MfaStatus> {
      const rows = await run<{ totp: boolean; totp_pending: boolean; recovery_codes_left: number }>(
        db,
        'select totp, totp_pending, recovery_codes_left from pgauth.mfa_status($1)',
        [userId],
      );
      const row = rows[0];
      return {
        totp: row?.totp === true,
        totpPending: row?.totp_pending === true,
        recoveryCodesLeft: row?.recovery_codes_left ?? 0,
      };
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

    /**
     * pgauth.logout: whether a live session was ended. A session's JWT access token is ended by
     * pgauth.logout_jwt with its sid and jti (the database checks they name its current token).
     */
    logout(accessToken: string): Promise<boolean> {
      const jwt = sessionJwtIds(accessToken);
      if (jwt) return logoutJwt(jwt);
      return revoking(hooks, { token: accessToken }, () =>
        selectOk(db, 'pgauth.logout($1)', [accessToken]),
      );
    },

    /**
     * pgauth.revoke_token (RFC 7009): an access or refresh token; unknown ones are no error. A
     * session's JWT access token: pgauth.logout_jwt.
     */
    async revokeToken(token: string): Promise<void> {
      const jwt = sessionJwtIds(token);
      if (jwt) {
        await logoutJwt(jwt);
        return;
      }
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

    /**
     * pgauth.client_credentials (OAuth 2 client credentials): the grant, or null when the client
     * does not authenticate (the failure is audited); AuthError invalid_scope when the scope asks
     * for a role the client does not hold.
     */
    async clientCredentials(
      clientId: string,
      clientSecret: string,
      scope: readonly string[] | null,
      ip?: string,
    ): Promise<ClientGrant | null> {
      const [row] = await run<GrantRow>(
        db,
        `select service_account_id::text, api_key_id::text, token_id::text, access_token,
           token_format, roles, expires_at
         from pgauth.client_credentials($1, $2, $3::text[], $4::inet)`,
        [clientId, clientSecret, scope ? [...scope] : null, ip ?? null],
      );
      if (!row) return null;
      return {
        serviceAccountId: row.service_account_id,
        clientId,
        apiKeyId: row.api_key_id,
        tokenId: row.token_id,
        accessToken: row.access_token,
        tokenFormat: row.token_format,
        roles: row.roles,
        expiresAt: row.expires_at,
      };
    },

    /**
     * pgauth.validate_jti: for a JWT access token whose signature checked out, its session while
     * the token with this jti is live (not revoked, account not disabled), else null.
     */
    async validateJti(jti: string): Promise<Session | null> {
      const sql = `select ${SESSION_COLUMNS} from pgauth.validate_jti($1::uuid)`;
      const row = (await run<SessionRow>(db, sql, [jti], VALIDATE_DEADLINE_MS))[0];
      return row ? sessionOf(row) : null;
    },

    /**
     * pgauth.validate_session_jwt: for a session's JWT access token whose signature checked out,
     * the session while that token is its current one and it is live, else null.
     */
    async validateSessionJwt(sessionId: string, jti: string): Promise<Session | null> {
      const sql = `select ${SESSION_COLUMNS} from pgauth.validate_session_jwt($1::uuid, $2::uuid)`;
      const row = (await run<SessionRow>(db, sql, [sessionId, jti], VALIDATE_DEADLINE_MS))[0];
      return row ? sessionOf(row) : null;
    },

    /**
     * pgauth.session_token_claims: the access token format, and what a JWT standing for this
     * opaque access token carries; null when the token is not live.
     */
    async sessionTokenClaims(accessToken: string): Promise<SessionTokenClaims | null> {
      const [row] = await run<ClaimsRow>(
        db,
        'select token_format, jti::text, user_id::text, session_id::text, username, roles, aal, expires_at from pgauth.session_token_claims($1)',
        [accessToken],
      );
      if (!row) return null;
      return {
        tokenFormat: row.token_format,
        jti: row.jti,
        userId: row.user_id,
        sessionId: row.session_id,
        username: row.username,
        roles: row.roles,
        aal: row.aal === 2 ? 2 : 1,
        expiresAt: row.expires_at,
      };
    },

    /** pgauth.published_signing_keys: the public JWKs that verify access tokens. */
    async publishedSigningKeys(): Promise<PublishedKey[]> {
      return run<PublishedKey & Row>(
        db,
        'select kid, alg, public_jwk from pgauth.published_signing_keys()',
        [],
      );
    },

    /** pgauth.active_signing_key: the key that signs, its private part encrypted; or null. */
    async activeSigningKey(): Promise<ActiveKey | null> {
      const [row] = await run<ActiveKey & Row>(
        db,
        'select kid, alg, private_key_encrypted from pgauth.active_signing_key()',
        [],
      );
      return row ?? null;
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
