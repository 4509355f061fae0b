/**
 * What the Express, Fastify and Hono middleware share: reading the Bearer token, turning a
 * validation into a session or a rejection (401 / 403 / 503), and the JSON error body. The
 * adapters only move these decisions onto their framework's request and response, so the three
 * cannot drift apart on the error contract.
 *
 * Threat model: a request either proves a live session or gets nothing. A missing or malformed
 * header, an unknown, expired or revoked token are all the same 401, so a caller learns nothing
 * about why. A validator that fails (database down, a bug) must never let a request through and
 * never leak a stack: it is a 503 with the registry's generic text.
 */
import { AuthError, ERRORS } from '../errors.ts';
import { parseBearer } from '../tokens.ts';
import type { Session, TokenValidator } from '../types.ts';

/** Same rule as the gateway: scheme case-insensitive (RFC 7235), one token of visible ASCII. */
export { parseBearer };

/** The codes a middleware answers with; every other outcome passes the request on. */
export type RejectionCode = 'invalid_token' | 'forbidden' | 'insufficient_aal' | 'unavailable';

/** The gateway's error shape: exactly `error` and `message`, from the registry. */
export interface ErrorBody {
  error: RejectionCode;
  message: string;
}

/** A response the middleware sends instead of calling the route. */
export interface Rejection {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: ErrorBody;
}

export type Authentication =
  | { session: Session; rejection: null }
  | { session: null; rejection: Rejection };

/** Told about every validator failure that became a 503 (for logs and metrics). */
export type FaultReporter = (err: unknown) => void;

export interface AuthOptions {
  /**
   * Called with the error whenever the validator throws (the request gets a 503). Default: only
   * errors that are not an AuthError (a bug, not an outage) are written with `console.error`
   * (Fastify: `request.log.error`); an AuthError `unavailable` is already the validator's own
   * verdict, and logging each one during an outage would flood the log.
   */
  onError?: FaultReporter;
}

/**
 * Seconds a client should wait after a 503. Short, because a validator outage (a pool reconnect,
 * a failover) is usually over within a second and every request of the service waits on it.
 */
export const RETRY_AFTER_SECONDS = 1;

/** The registry body of a code: the same `{error, message}` the gateway answers with. */
export function errorBody(code: RejectionCode): ErrorBody {
  return { error: code, message: ERRORS[code].message };
}

/** The full response for a code, with the headers RFC 6750 and RFC 9110 ask for. */
export function rejection(code: RejectionCode): Rejection {
  const headers: Record<string, string> =
    code === 'invalid_token'
      ? { 'www-authenticate': 'Bearer' }
      : code === 'unavailable'
        ? { 'retry-after': String(RETRY_AFTER_SECONDS) }
        : {};
  return { status: ERRORS[code].status, headers, body: errorBody(code) };
}

/** The default fault reporter: a bug gets logged, an outage the validator recognised does not. */
export function reportUnexpectedFault(log: (message: string, err: unknown) => void): FaultReporter {
  return (err) => {
    if (!(err instanceof AuthError)) log('pgauth: token validation failed', err);
  };
}

/**
 * Validates the request's Authorization header. Never throws: a fault of the validator (an
 * AuthError of any code, or anything else) becomes a 503 and is handed to `onError`, because a
 * request must not pass, nor get a 500 with a stack, when nobody could say whether it is valid.
 */
export async function authenticateHeader(
  validator: TokenValidator,
  header: string | readonly string[] | null | undefined,
  onError: FaultReporter,
): Promise<Authentication> {
  const token = parseBearer(header);
  if (token === null) return { session: null, rejection: rejection('invalid_token') };
  let session: Session | null;
  try {
    session = await validator.validate(token);
  } catch (err) {
    safely(onError, err);
    return { session: null, rejection: rejection('unavailable') };
  }
  return session
    ? { session, rejection: null }
    : { session: null, rejection: rejection('invalid_token') };
}

/** Calls a reporter without letting its own failure turn the 503 into a 500. */
function safely(report: FaultReporter, err: unknown): void {
  try {
    report(err);
  } catch {
    // A broken logger must not change the answer; there is nowhere left to report it.
  }
}

/**
 * A guard's decision on the session an earlier `authenticate` set: null to pass the request on, or
 * the rejection to answer with (401 when there is no session at all).
 */
export type Guard = (session: Session | null | undefined) => Rejection | null;

/**
 * The guard of `requireRole`: passes a session holding any of `roles`, 403 `forbidden` when it
 * holds none. The roles are checked now, when the guard is built: a guard with no role would
 * either let everyone through or nobody, and either is a mistake in the route table.
 */
export function roleGuard(roles: readonly string[]): Guard {
  if (roles.length === 0) throw new TypeError('requireRole needs at least one role');
  for (const role of roles) {
    if (typeof role !== 'string' || role === '') {
      throw new TypeError('requireRole takes non-empty role names');
    }
  }
  const needed = [...roles];
  return (session) => {
    if (!session) return rejection('invalid_token');
    return session.roles.some((role) => needed.includes(role)) ? null : rejection('forbidden');
  };
}

/**
 * The guard of `requireAal`: passes a session whose login reached `level` (2: a second factor),
 * 403 `insufficient_aal` below it. The level (1 or 2) is checked when the guard is built.
 */
export function aalGuard(level: number): Guard {
  if (level !== 1 && level !== 2) throw new TypeError('requireAal takes 1 or 2');
  return (session) => {
    if (!session) return rejection('invalid_token');
    return (session.aal ?? 1) >= level ? null : rejection('insufficient_aal');
  };
}
