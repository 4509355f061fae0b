/**
 * `@pgauth/client/express`: Express 5 middleware that checks pgauth access tokens.
 *
 *   app.get('/me', authenticate(client), (req, res) => res.json(req.auth));
 *   app.get('/admin', authenticate(client), requireRole('admin'), handler);
 *
 * The session goes on `req.auth`, not `req.session`, which express-session owns.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Session, TokenValidator } from '../types.ts';
import * as core from './common.ts';

export type { AuthOptions, ErrorBody, Rejection } from './common.ts';
export { errorBody, parseBearer, RETRY_AFTER_SECONDS } from './common.ts';

declare global {
  // Declaration merging into Express's global namespace is how @types/express is extended.
  namespace Express {
    interface Request {
      /** The session of the request's access token; set by `authenticate`. */
      auth?: Session;
    }
  }
}

function sendRejection(res: Response, r: core.Rejection): void {
  res.status(r.status).set(r.headers).json(r.body);
}

/**
 * Validates `Authorization: Bearer <token>` with `validator`; sets `req.auth` and passes on, or
 * answers 401 `invalid_token` (WWW-Authenticate: Bearer) or 503 `unavailable` (Retry-After).
 */
export function authenticate(
  validator: TokenValidator,
  options: core.AuthOptions = {},
): RequestHandler {
  const onError = options.onError ?? core.reportUnexpectedFault(console.error);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const { session, rejection } = await core.authenticateHeader(
      validator,
      req.headers.authorization,
      onError,
    );
    if (rejection) {
      sendRejection(res, rejection);
      return;
    }
    req.auth = session;
    next();
  };
}

/** The middleware of a guard: it decides on `req.auth` and answers the rejection, if any. */
function guard(decide: core.Guard): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const denied = decide(req.auth);
    if (denied) sendRejection(res, denied);
    else next();
  };
}

/**
 * Passes when `req.auth` holds any of `roles`; 403 `forbidden` when it holds none, 401
 * `invalid_token` when there is no session (put `authenticate` first).
 */
export function requireRole(...roles: string[]): RequestHandler {
  return guard(core.roleGuard(roles));
}

/**
 * Passes when the login of `req.auth` reached assurance level `level` (2: with a second factor);
 * 403 `insufficient_aal` below it, 401 `invalid_token` when there is no session.
 */
export function requireAal(level: 1 | 2): RequestHandler {
  return guard(core.aalGuard(level));
}
