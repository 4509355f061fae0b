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
import {
  type AuthOptions,
  authenticateHeader,
  authorizeAal,
  authorizeRoles,
  checkAal,
  checkRoleList,
  type Rejection,
  reportUnexpectedFault,
} from './common.ts';

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

function sendRejection(res: Response, r: Rejection): void {
  res.status(r.status).set(r.headers).json(r.body);
}

/**
 * Validates `Authorization: Bearer <token>` with `validator`; sets `req.auth` and passes on, or
 * answers 401 `invalid_token` (WWW-Authenticate: Bearer) or 503 `unavailable` (Retry-After).
 */
export function authenticate(validator: TokenValidator, options: AuthOptions = {}): RequestHandler {
  const onError = options.onError ?? reportUnexpectedFault(console.error);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const { session, rejection } = await authenticateHeader(
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

/**
 * Passes when `req.auth` holds any of `roles`; 403 `forbidden` when it holds none, 401
 * `invalid_token` when there is no session (put `authenticate` first).
 */
export function requireRole(...roles: string[]): RequestHandler {
  const needed = checkRoleList(roles);
  return (req: Request, res: Response, next: NextFunction): void => {
    const denied = authorizeRoles(req.auth, needed);
    if (denied) sendRejection(res, denied);
    else next();
  };
}

/**
 * Passes when the login of `req.auth` reached assurance level `level` (2: with a second factor);
 * 403 `insufficient_aal` below it, 401 `invalid_token` when there is no session.
 */
export function requireAal(level: 1 | 2): RequestHandler {
  const needed = checkAal(level);
  return (req: Request, res: Response, next: NextFunction): void => {
    const denied = authorizeAal(req.auth, needed);
    if (denied) sendRejection(res, denied);
    else next();
  };
}
