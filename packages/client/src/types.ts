/**
 * The SDK's public types: the same in SQL mode (`databaseUrl`) and HTTP mode (`baseUrl`).
 */

/** Who a valid token speaks for: a user (a login session) or a service account (an API key or a client-credentials token). */
export type SubjectType = 'user' | 'service_account';

/**
 * A valid session, as `pgauth.validate` returns it. For a service account, userId is the
 * account's id, username its name, and sessionId the id of the API key or access token.
 */
export interface Session {
  userId: string;
  username: string;
  sessionId: string;
  subjectType: SubjectType;
  /** The user's roles when the session was validated (role changes notify and evict). */
  roles: string[];
  /** When the access token stops being valid. */
  expiresAt: Date;
  /** Authenticator assurance level of the login: 1 with a password, 2 with a second factor too. */
  aal: 1 | 2;
}

/** What login and refresh return. */
export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshToken: string;
  /** Seconds until the refresh token expires. */
  refreshExpiresIn: number;
  userId: string;
  sessionId: string;
}

/** A right password on an account with a second factor: finish with `loginMfa`. */
export interface MfaChallenge {
  mfaRequired: true;
  /** Single use, for `loginMfa`; dies after `expiresIn` seconds or five wrong codes. */
  challenge: string;
  expiresIn: number;
}

/** The second factor of `loginMfa`: a TOTP code, or one of the recovery codes. */
export type SecondFactor = { code: string } | { recoveryCode: string };

/** Client details recorded with a login (SQL mode; over HTTP the gateway sees its own caller). */
export interface LoginContext {
  ip?: string;
  userAgent?: string;
}

/** Anything that checks an access token: the client, or a stand-in with the same contract. */
export interface TokenValidator {
  /** The session of a valid token, null for any token that is not valid. Throws AuthError on a fault. */
  validate(token: string): Promise<Session | null>;
}

export interface AuthClient extends TokenValidator {
  /**
   * Throws AuthError `invalid_credentials` for every kind of failed login, and MfaRequiredError
   * (`mfa_required`, with its `challenge`) when the account has a second factor.
   */
  login(username: string, password: string, context?: LoginContext): Promise<TokenPair>;
  /**
   * Finishes a login with a second factor: the pair of a session of aal 2. Throws AuthError
   * `invalid_credentials` for a wrong or used code, or a dead challenge.
   */
  loginMfa(challenge: string, second: SecondFactor, context?: LoginContext): Promise<TokenPair>;
  /** Throws AuthError `invalid_token` when the refresh token is not valid. */
  refresh(refreshToken: string): Promise<TokenPair>;
  /** Ends the session of `accessToken`; no error when it is already ended. */
  logout(accessToken: string): Promise<void>;
  /** Changes the password of the token's user; every session of the user is revoked. */
  changePassword(accessToken: string, currentPassword: string, newPassword: string): Promise<void>;
  /** The cache's state, or null when the client has no cache. */
  readonly cache: CacheState | null;
  /** Closes the pool, the subscription and keep-alive connections. */
  close(): Promise<void>;
}

export interface CacheOptions {
  /** Most sessions kept (least recently used goes first). Default 10,000. */
  maxEntries?: number;
  /** Longest a positive validation is served from memory, capped by the session's expires_at. Default 60,000. */
  maxAgeMs?: number;
  /** Longest a "not valid" answer is served from memory. Default 1,000; 0 to never cache one. */
  negativeMaxAgeMs?: number;
}

export interface CacheState {
  /**
   * Whether the cache serves from memory: only while the revocation subscription is live and
   * its probes prove, end to end, that notifications arrive.
   */
  readonly subscribed: boolean;
  /** Why the cache does not serve (null while it does). */
  readonly cause: string | null;
  readonly size: number;
  /**
   * Called on every revocation event, once it is applied, with the ids of the cached sessions it
   * evicted: none when it named nothing cached, every one on a flush. Also called, with every
   * cached session, when the cache empties itself because it turned off or on (onCacheChange).
   */
  onEvict(listener: (sessionIds: readonly string[]) => void): () => void;
  /** Resolves when the cache serves (at once if it does); rejects with the cause after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>;
}
