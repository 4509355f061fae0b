/**
 * `@pgauth/client/fastify`: a Fastify plugin that checks pgauth access tokens.
 *
 *   await app.register(pgauthPlugin, { validator: client });
 *   app.get('/me', { preHandler: app.authenticate }, async (request) => request.auth);
 *   app.get('/admin', { preHandler: [app.authenticate, app.requireRole('admin')] }, handler);
 *
 * The plugin decorates `request.auth` (the session) and the instance with `authenticate` and
 * `requireRole`; the same two are exported as functions for use without the plugin.
 */
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import type { Session, TokenValidator } from '../types.ts';
import * as core from './common.ts';

export type { AuthOptions, ErrorBody, Rejection } from './common.ts';
export { errorBody, parseBearer, RETRY_AFTER_SECONDS } from './common.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session of the request's access token; set by `authenticate`. */
    auth?: Session;
  }
  interface FastifyInstance {
    /** preHandler: validates the Bearer token (set by `pgauthPlugin`). */
    authenticate: preHandlerAsyncHookHandler;
    /** preHandler factory: passes sessions holding any of `roles` (set by `pgauthPlugin`). */
    requireRole(...roles: string[]): preHandlerAsyncHookHandler;
    /** preHandler factory: passes sessions of assurance level `level` (set by `pgauthPlugin`). */
    requireAal(level: 1 | 2): preHandlerAsyncHookHandler;
  }
}

export interface PgauthPluginOptions extends core.AuthOptions {
  /** Checks the tokens: a pgauth client, or anything with the same `validate`. */
  validator: TokenValidator;
}

function sendRejection(reply: FastifyReply, r: core.Rejection): FastifyReply {
  return reply.code(r.status).headers(r.headers).send(r.body);
}

/** By default a fault goes to the request's own logger, so it carries the request id. */
function faultReporter(
  request: FastifyRequest,
  onError: core.FaultReporter | undefined,
): core.FaultReporter {
  return (
    onError ?? core.reportUnexpectedFault((message, err) => request.log.error({ err }, message))
  );
}

/**
 * preHandler: validates `Authorization: Bearer <token>` with `validator`; sets `request.auth` and
 * passes on, or answers 401 `invalid_token` (WWW-Authenticate: Bearer) or 503 `unavailable`
 * (Retry-After).
 */
export function authenticate(
  validator: TokenValidator,
  options: core.AuthOptions = {},
): preHandlerAsyncHookHandler {
  return async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    const { session, rejection } = await core.authenticateHeader(
      validator,
      request.headers.authorization,
      faultReporter(request, options.onError),
    );
    if (rejection) return sendRejection(reply, rejection);
    request.auth = session;
    return undefined;
  };
}

/** The preHandler of a guard: it decides on `request.auth` and answers the rejection, if any. */
function guard(decide: core.Guard): preHandlerAsyncHookHandler {
  return async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    const denied = decide(request.auth);
    return denied ? sendRejection(reply, denied) : undefined;
  };
}

/**
 * preHandler: passes when `request.auth` holds any of `roles`; 403 `forbidden` when it holds none,
 * 401 `invalid_token` when there is no session (put `authenticate` first).
 */
export function requireRole(...roles: string[]): preHandlerAsyncHookHandler {
  return guard(core.roleGuard(roles));
}

/**
 * Passes when the login of `request.auth` reached assurance level `level` (2: with a second
 * factor); 403 `insufficient_aal` below it, 401 `invalid_token` when there is no session.
 */
export function requireAal(level: 1 | 2): preHandlerAsyncHookHandler {
  return guard(core.aalGuard(level));
}

const plugin: FastifyPluginAsync<PgauthPluginOptions> = async (
  app: FastifyInstance,
  options: PgauthPluginOptions,
): Promise<void> => {
  if (typeof options.validator?.validate !== 'function') {
    throw new TypeError('pgauthPlugin needs { validator }, e.g. a client of createAuthClient');
  }
  // Declared up front so every request object has the same shape (Fastify's advice for speed).
  app.decorateRequest('auth', undefined);
  app.decorate('authenticate', authenticate(options.validator, { onError: options.onError }));
  app.decorate('requireRole', requireRole);
  app.decorate('requireAal', requireAal);
};

/**
 * Registers `request.auth`, `app.authenticate`, `app.requireRole` and `app.requireAal` for the
 * whole app. Registered without encapsulation, so that the decorators reach the routes of the
 * instance that registered it: the symbols Fastify reads for that (what the fastify-plugin
 * package sets), here without a runtime dependency on that package.
 */
export const pgauthPlugin: FastifyPluginAsync<PgauthPluginOptions> = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'pgauth-auth',
});
