/**
 * The one registry of pgauth error codes, shared by the SQL functions (SQLSTATE + message),
 * the gateway (HTTP status + JSON `error`), the CLI (exit message) and the SDK (`AuthError.code`).
 *
 * A SQL function raises `errcode = <sqlstate>` with `message = <code>`: the message *is* the code,
 * so one SQLSTATE (WEAKP) can carry several reasons. Tests pin this table against the SQL source.
 */
export interface ErrorEntry {
  /** The stable code: JSON `error`, SDK `code`, and the SQL message where a SQLSTATE is set. */
  code: string;
  /** HTTP status the gateway answers with. */
  status: number;
  /** Five-character SQLSTATE raised by the pgauth.* functions, when the error comes from SQL. */
  sqlstate?: string;
  /** Stable human text, safe to show to any caller. */
  message: string;
}

const entries = [
  { code: 'invalid_input', status: 400, sqlstate: 'BADIN', message: 'The input is invalid.' },
  {
    code: 'password_too_short',
    status: 400,
    sqlstate: 'WEAKP',
    message: 'The password is too short.',
  },
  {
    code: 'password_too_long',
    status: 400,
    sqlstate: 'WEAKP',
    message: 'The password is too long.',
  },
  {
    code: 'password_common',
    status: 400,
    sqlstate: 'WEAKP',
    message: 'The password is too common.',
  },
  {
    code: 'password_is_username',
    status: 400,
    sqlstate: 'WEAKP',
    message: 'The password must not be the username.',
  },
  { code: 'username_taken', status: 409, sqlstate: 'TAKEN', message: 'The username is taken.' },
  { code: 'user_not_found', status: 404, sqlstate: 'NOUSR', message: 'No such user.' },
  {
    code: 'registration_closed',
    status: 403,
    sqlstate: 'REGOF',
    message: 'Registration is closed.',
  },
  {
    code: 'email_not_verified',
    status: 403,
    sqlstate: 'NOVER',
    message: 'The email address of the account is not verified.',
  },
  {
    code: 'mfa_already_enabled',
    status: 409,
    sqlstate: 'MFAON',
    message: 'A second factor is already on.',
  },
  {
    code: 'mfa_not_enabled',
    status: 409,
    sqlstate: 'MFAOF',
    message: 'No second factor is on or being enrolled.',
  },
  { code: 'invalid_code', status: 400, message: 'The code is wrong or was already used.' },
  { code: 'invalid_link', status: 400, message: 'The link is invalid, expired or already used.' },
  { code: 'name_taken', status: 409, sqlstate: 'TAKEN', message: 'The name is taken.' },
  {
    code: 'service_account_not_found',
    status: 404,
    sqlstate: 'NOSVC',
    message: 'No such service account.',
  },
  {
    code: 'service_account_disabled',
    status: 409,
    sqlstate: 'SVCOF',
    message: 'The service account is disabled.',
  },
  { code: 'api_key_not_found', status: 404, sqlstate: 'NOKEY', message: 'No such API key.' },
  // OAuth 2 token endpoint errors (RFC 6749 §5.2): the code is the RFC's `error` value.
  {
    code: 'invalid_scope',
    status: 400,
    sqlstate: 'SCOPE',
    message: 'The requested scope exceeds the roles the client holds.',
  },
  { code: 'invalid_client', status: 401, message: 'Client authentication failed.' },
  {
    code: 'invalid_request',
    status: 400,
    message: 'The request is missing a parameter, repeats one, or is malformed.',
  },
  {
    code: 'unsupported_grant_type',
    status: 400,
    message: 'The grant type is not supported.',
  },
  {
    code: 'signing_unavailable',
    status: 503,
    message:
      'JWT access tokens need a key-encryption key: start the gateway with --key-encryption-key or PGAUTH_KEY_ENCRYPTION_KEY.',
  },
  { code: 'invalid_credentials', status: 401, message: 'Invalid credentials.' },
  {
    code: 'mfa_required',
    status: 401,
    message: 'The account needs a second factor: finish the login with its challenge.',
  },
  {
    code: 'invalid_token',
    status: 401,
    message: 'The token is missing, invalid, expired or revoked.',
  },
  { code: 'forbidden', status: 403, message: 'The caller lacks the role this needs.' },
  {
    code: 'insufficient_aal',
    status: 403,
    message: 'This needs a session signed in with a second factor.',
  },
  { code: 'not_found', status: 404, message: 'Not found.' },
  { code: 'bad_request', status: 400, message: 'The request is malformed.' },
  { code: 'payload_too_large', status: 413, message: 'The request body is too large.' },
  { code: 'unsupported_media_type', status: 415, message: 'The content type is not supported.' },
  { code: 'rate_limited', status: 429, message: 'Too many requests; retry later.' },
  { code: 'unavailable', status: 503, message: 'The service is unavailable; retry later.' },
  { code: 'internal', status: 500, message: 'Internal error.' },
] as const satisfies readonly ErrorEntry[];

export type ErrorCode = (typeof entries)[number]['code'];

export const ERRORS: Readonly<Record<ErrorCode, ErrorEntry>> = Object.freeze(
  Object.fromEntries(entries.map((e) => [e.code, e])) as Record<ErrorCode, ErrorEntry>,
);

/** SQLSTATEs that pgauth's own functions raise. */
export const PGAUTH_SQLSTATES: ReadonlySet<string> = new Set(
  entries.flatMap((e) => ('sqlstate' in e ? [e.sqlstate] : [])),
);

/**
 * SQLSTATEs the server raises on input it cannot store or read: NUL bytes, invalid UTF-8, bad
 * casts, values out of range (a time zone offset beyond ±15:59, an interval too large).
 */
const INPUT_SQLSTATES = new Set([
  '22021',
  '22P05',
  '22P02',
  '22001',
  '22007',
  '22008',
  '22003',
  '22009',
  '22015',
]);

/** A pgauth failure with a registry code; the gateway, CLI and SDK all throw or map this. */
export class AuthError extends Error {
  override name = 'AuthError';
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message?: string, options?: ErrorOptions) {
    super(message ?? ERRORS[code].message, options);
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

/**
 * The AuthError `mfa_required` of the SDK's `login`: the password was right, and the account has
 * a second factor. Finish with `loginMfa(err.challenge, { code })`.
 */
export class MfaRequiredError extends AuthError {
  override name = 'MfaRequiredError';
  /** Single use; dies after `expiresIn` seconds or five wrong codes. */
  readonly challenge: string;
  readonly expiresIn: number;
  constructor(challenge: string, expiresIn: number) {
    super('mfa_required');
    this.challenge = challenge;
    this.expiresIn = expiresIn;
  }
}

/**
 * Maps an error thrown by a database driver to its registry entry: a pgauth SQLSTATE by its
 * message, invalid input rejected by the server to `invalid_input`. Anything else is not ours
 * (a fault) and yields null.
 */
export function fromDatabaseError(err: unknown): AuthError | null {
  if (typeof err !== 'object' || err === null) return null;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code !== 'string') return null;
  if (PGAUTH_SQLSTATES.has(code) && typeof message === 'string' && message in ERRORS) {
    const entry = ERRORS[message as ErrorCode];
    if (entry.sqlstate === code)
      return new AuthError(message as ErrorCode, undefined, { cause: err });
  }
  if (PGAUTH_SQLSTATES.has(code)) {
    const entry = entries.find((e) => 'sqlstate' in e && e.sqlstate === code);
    if (entry) return new AuthError(entry.code, undefined, { cause: err });
  }
  if (INPUT_SQLSTATES.has(code)) return new AuthError('invalid_input', undefined, { cause: err });
  return null;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * Whether an error means the database cannot serve now (unreachable, shutting down, overloaded,
 * statement timeout): the caller should retry later, so 503 rather than 500.
 */
export function isUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (err instanceof AggregateError && err.errors.some(isUnavailable)) return true;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // 08: connection exception; 53: insufficient resources; 57P0x: shutdown; 57014: timeout;
    // 25006: a write on a read-only server (a hot standby, a primary being demoted, a failover
    // not finished): the write will work again on the next primary.
    if (/^(08...|53...|57P0.|57014|25006)$/.test(code)) return true;
  }
  return (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|Connection ended|PGlite is closed|Client has encountered a connection error/i.test(
      message,
    )
  );
}

/**
 * A driver error as the registry sees it: a pgauth error or invalid input by its SQLSTATE, an
 * unreachable or overloaded database as `unavailable`; null for anything else (a fault).
 */
export function toAuthError(err: unknown): AuthError | null {
  if (err instanceof AuthError) return err;
  return (
    fromDatabaseError(err) ??
    (isUnavailable(err) ? new AuthError('unavailable', undefined, { cause: err }) : null)
  );
}
