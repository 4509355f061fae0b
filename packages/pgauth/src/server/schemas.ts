/**
 * JSON schemas shared by the routes. Every string field has a length bound and refuses NUL (which
 * PostgreSQL cannot store), so malformed input is a 400 naming the field before any SQL runs.
 */

/** A string without NUL characters, of at most `max` code points. */
export function text(maxLength: number, minLength = 0): Record<string, unknown> {
  return { type: 'string', minLength, maxLength, pattern: '^[^\\u0000]*$' };
}

export const uuid = { type: 'string', format: 'uuid' } as const;
export const dateTime = { type: 'string', format: 'date-time' } as const;
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error: a stable code from the registry and a human text.',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

const ref = { $ref: 'Error#' } as const;

/** Response schemas for the given error statuses, all the shared Error body. */
export function errors(...statuses: number[]): Record<number, typeof ref> {
  return Object.fromEntries(statuses.map((s) => [s, ref]));
}

export const bearer = [{ bearer: [] }];

/**
 * A page of a list: the rows under `key`, and `next`, the cursor of the page after (null on the
 * last page); `next` is always there unless `nextOptional` (a list that also pages by offset).
 */
export function page(key: string, items: object, nextOptional = false): Record<string, unknown> {
  return {
    type: 'object',
    properties: { [key]: { type: 'array', items }, next: { type: ['string', 'null'] } },
    required: nextOptional ? [key] : [key, 'next'],
  };
}

export const tokenPair = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string', enum: ['Bearer'] },
    expires_in: { type: 'integer', description: 'seconds until the access token expires' },
    refresh_token: { type: 'string' },
    refresh_expires_in: { type: 'integer', description: 'seconds until the refresh token expires' },
    user_id: uuid,
    session_id: uuid,
  },
  required: [
    'access_token',
    'token_type',
    'expires_in',
    'refresh_token',
    'refresh_expires_in',
    'user_id',
    'session_id',
  ],
} as const;

export const sessionInfo = {
  type: 'object',
  properties: {
    user_id: uuid,
    username: { type: 'string' },
    session_id: uuid,
    subject_type: {
      type: 'string',
      enum: ['user', 'service_account'],
      description:
        'user: a login session; service_account: an API key or a client-credentials token (user_id is the account id, username its name, session_id the key or token id)',
    },
    roles: { type: 'array', items: { type: 'string' } },
    expires_at: dateTime,
    aal: {
      type: 'integer',
      enum: [1, 2],
      description: 'authenticator assurance level of the login: 1 password, 2 with a second factor',
    },
  },
  required: ['user_id', 'username', 'session_id', 'subject_type', 'roles', 'expires_at', 'aal'],
} as const;

export const user = {
  type: 'object',
  properties: {
    id: uuid,
    username: { type: 'string' },
    email: { type: ['string', 'null'] },
    roles: { type: 'array', items: { type: 'string' } },
    created_at: dateTime,
    last_login_at: nullableDateTime,
    failed_logins: { type: 'integer' },
    locked_until: {
      type: ['string', 'null'],
      description: 'RFC 3339 time, or "infinity" for a lock until unlocked',
    },
    lock_reason: { type: ['string', 'null'] },
    disabled_at: nullableDateTime,
    live_sessions: { type: 'integer' },
  },
  required: ['id', 'username', 'roles', 'created_at', 'failed_logins', 'live_sessions'],
} as const;

export const session = {
  type: 'object',
  properties: {
    id: uuid,
    created_at: dateTime,
    access_expires_at: dateTime,
    refresh_expires_at: dateTime,
    expires_at: dateTime,
    refresh_generation: { type: 'integer' },
    client_ip: { type: ['string', 'null'] },
    user_agent: { type: ['string', 'null'] },
  },
  required: ['id', 'created_at', 'expires_at'],
} as const;

export const auditEvent = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: dateTime,
    event: { type: 'string' },
    user_id: { type: ['string', 'null'] },
    session_id: { type: ['string', 'null'] },
    client_ip: { type: ['string', 'null'] },
    detail: { type: 'object', additionalProperties: true },
  },
  required: ['at', 'event'],
} as const;

/** The policy settings (pgauth.get_settings), each with the range the database keeps. */
export const settings = {
  type: 'object',
  properties: {
    bcrypt_cost: { type: 'integer', minimum: 4, maximum: 16 },
    password_min_length: { type: 'integer', minimum: 8, maximum: 1024 },
    max_failed_logins: { type: 'integer', minimum: 1, maximum: 100 },
    lockout_seconds: { type: 'integer', minimum: 1, maximum: 2147483647 },
    lockout_max_seconds: {
      type: 'integer',
      minimum: 1,
      maximum: 2147483647,
      description: 'at least lockout_seconds',
    },
    access_token_ttl_seconds: { type: 'integer', minimum: 1, maximum: 2147483647 },
    refresh_token_ttl_seconds: { type: 'integer', minimum: 1, maximum: 2147483647 },
    session_max_age_seconds: { type: 'integer', minimum: 1, maximum: 2147483647 },
    refresh_reuse_grace_seconds: { type: 'integer', minimum: 0, maximum: 300 },
    session_retention_seconds: { type: 'integer', minimum: 0, maximum: 2147483647 },
    allow_registration: { type: 'boolean' },
    require_verified_email: { type: 'boolean' },
    email_verification_ttl_seconds: { type: 'integer', minimum: 1, maximum: 2147483647 },
    password_reset_ttl_seconds: { type: 'integer', minimum: 60, maximum: 86400 },
    password_reset_per_address: { type: 'integer', minimum: 1, maximum: 2147483647 },
    password_reset_per_ip: { type: 'integer', minimum: 1, maximum: 2147483647 },
    mfa_challenge_ttl_seconds: { type: 'integer', minimum: 30, maximum: 1800 },
    totp_issuer: { type: 'string', minLength: 1, maxLength: 64 },
    mail_max_attempts: { type: 'integer', minimum: 1, maximum: 100 },
    access_token_format: { type: 'string', enum: ['opaque', 'jwt'] },
    service_token_ttl_seconds: { type: 'integer', minimum: 1, maximum: 86400 },
  },
  required: [
    'bcrypt_cost',
    'password_min_length',
    'max_failed_logins',
    'lockout_seconds',
    'lockout_max_seconds',
    'access_token_ttl_seconds',
    'refresh_token_ttl_seconds',
    'session_max_age_seconds',
    'refresh_reuse_grace_seconds',
    'session_retention_seconds',
    'allow_registration',
    'require_verified_email',
    'email_verification_ttl_seconds',
    'password_reset_ttl_seconds',
    'password_reset_per_address',
    'password_reset_per_ip',
    'mfa_challenge_ttl_seconds',
    'totp_issuer',
    'mail_max_attempts',
    'access_token_format',
    'service_token_ttl_seconds',
  ],
} as const;

/** POST /v1/login on an account with a second factor: no tokens, a challenge for /v1/login/mfa. */
export const mfaChallenge = {
  type: 'object',
  properties: {
    mfa_required: { type: 'boolean', enum: [true] },
    challenge: { type: 'string', description: 'single use, for POST /v1/login/mfa' },
    expires_in: { type: 'integer', description: 'seconds until the challenge dies' },
  },
  required: ['mfa_required', 'challenge', 'expires_in'],
} as const;

/** The 202 of the routes that may send mail: the same body whatever happened. */
export const accepted = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['accepted'] } },
  required: ['status'],
} as const;

export const noContent = { type: 'null', description: 'No content' } as const;
