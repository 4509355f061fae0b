/**
 * `@pgauth/client/hono`: Hono middleware that checks pgauth access tokens.
 *
 *   const app = new Hono<AuthEnv>();
 *   app.get('/me', authenticate(client), (c) => c.json(c.get('auth')));
 *   app.get('/admin', authenticate(client), requireRole('admin'), handler);
 *
 * The session goes into the context variable `auth`, typed by `AuthEnv`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Session, TokenValidator } from '../types.ts';
import * as core from './common.ts';

export type { AuthOptions, ErrorBody, Rejection } from './common.ts';
export { errorBody, parseBearer, RETRY_AFTER_SECONDS } from './common.ts';

/** The Hono env of an app (or sub-app) whose routes read `c.get('auth')`. */
export interface AuthEnv {
  Variables: {
    /** The session of the request's access token; set by `authenticate`. */
    auth: Session;
  };
}

function rejectionResponse(c: Context, r: core.Rejection): Response {
  // Rejection statuses are 401, 403 and 503, all of which carry a body.
  return c.json(r.body, r.status as ContentfulStatusCode, r.headers);
}

/**
 * Validates `Authorization: Bearer <token>` with `validator`; sets `auth` and passes on, or
 * answers 401 `invalid_token` (WWW-Authenticate: Bearer) or 503 `unavailable` (Retry-After).
 */
export function authenticate(
  validator: TokenValidator,
  options: core.AuthOptions = {},
): MiddlewareHandler<AuthEnv> {
  const onError = options.onError ?? core.reportUnexpectedFault(console.error);
  return createMiddleware<AuthEnv>(async (c, next) => {
    const { session, rejection } = await core.authenticateHeader(
      validator,
      c.req.header('authorization'),
      onError,
    );
    if (rejection) return rejectionResponse(c, rejection);
    c.set('auth', session);
    await next();
  });
}

/** The middleware of a guard: it decides on the session in `auth` and answers the rejection. */
function guard(decide: core.Guard): MiddlewareHandler<AuthEnv> {
  return createMiddleware<AuthEnv>(async (c, next) => {
    // Typed as always set, but it is unset when no `authenticate` ran before this guard.
    const session: Session | undefined = c.get('auth');
    const denied = decide(session);
    if (denied) return rejectionResponse(c, denied);
    await next();
  });
}

/**
 * Passes when `auth` holds any of `roles`; 403 `forbidden` when it holds none, 401
 * `invalid_token` when there is no session (put `authenticate` first).
 */
export function requireRole(...roles: string[]): MiddlewareHandler<AuthEnv> {
  return guard(core.roleGuard(roles));
}

/**
 * Passes when the login of the session in `auth` reached assurance level `level` (2: with a
 * second factor); 403 `insufficient_aal` below it, 401 `invalid_token` without a session.
 */
export function requireAal(level: 1 | 2): MiddlewareHandler<AuthEnv> {
  return guard(core.aalGuard(level));
}
