/**
 * The routes a user's client calls: register, login, refresh, logout, the current session, the
 * password change, and the forward-auth check for reverse proxies. Each is one pgauth.* call.
 */

import { AuthError, MAX_TOKEN_LENGTH, type TokenPair } from '@pgauth/client/internal';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenRoutes } from '../access-tokens.ts';
import type { Session } from '../context.ts';
import { bearerToken, loginContext } from '../context.ts';
import { sendError } from '../errors.ts';
import { byIp, byUsername, type KeyOf, limit, limiter } from '../rate-limit.ts';
import {
  bearer,
  errors,
  mfaChallenge,
  noContent,
  sessionInfo,
  text,
  tokenPair,
  uuid,
} from '../schemas.ts';
import { sharedLimit } from '../shared-limit.ts';
import { usernameKey } from '../username-key.ts';

export function sendPair(reply: FastifyReply, pair: TokenPair): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send({
    access_token: pair.accessToken,
    token_type: pair.tokenType,
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
    refresh_expires_in: pair.refreshExpiresIn,
    user_id: pair.userId,
    session_id: pair.sessionId,
  });
}

/** A session as the gateway's JSON names it. */
function sessionBody(s: Session) {
  return {
    user_id: s.userId,
    username: s.username,
    session_id: s.sessionId,
    subject_type: s.subjectType,
    roles: s.roles,
    expires_at: s.expiresAt,
    aal: s.aal,
  };
}

const credentials = {
  type: 'object',
  properties: { username: text(256, 1), password: text(1024, 1) },
  required: ['username', 'password'],
  additionalProperties: false,
} as const;

export const accountRoutes: TokenRoutes = (app, gw, limits, tokens) => {
  const w = limits.windowMs;
  const byUser = byUsername(gw.db);
  const loginLimited = (): void => {
    gw.metrics.logins.inc({ outcome: 'rate_limited' });
  };
  // A full hashing queue refuses at once, before the route asks the database anything (the
  // username fold, the shared limits); an admitted request holds its place until its hashing
  // call, or its end without one. Admission comes after the body is parsed and validated, so
  // that malformed requests, answered 400 anyway, never take a place.
  const admitted = new WeakSet<FastifyRequest>();
  const settle = (request: FastifyRequest): void => {
    if (admitted.delete(request)) gw.hashing.settle(byIp(request));
  };
  const hashingRoom = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!gw.hashing.admit(byIp(request))) throw new AuthError('unavailable');
    admitted.add(request);
    // However the request ends (answered, refused, its connection lost mid-body), once.
    reply.raw.once('close', () => settle(request));
  };
  const hashed = <T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> => {
    settle(request);
    return gw.hashing(fn, byIp(request));
  };

  // Every route that verifies a password spends the login budgets: per client IP, per account.
  const loginPerIp = limiter(app, 'login-ip', limits.loginPerIp, w);
  const loginPerUser = limiter(app, 'login-user', limits.loginPerUser, w);
  /** The session of an authenticated request of /v1/password, for its per-account limit. */
  const sessions = new WeakMap<FastifyRequest, Session>();
  const bySessionUser: KeyOf = (request) => {
    const s = sessions.get(request);
    return s ? usernameKey(gw.db, s.username) : null;
  };
  // The shared counts (in the database, one budget for every gateway) are asked once a hashing
  // slot is held: a flood beyond the hashing queue is refused at once, without a round trip.
  const loginLimit = sharedLimit(gw, {
    scope: 'login',
    perIp: limits.loginPerIp,
    perUser: limits.loginPerUser,
    windowMs: w,
    onLimited: loginLimited,
  });
  const registerLimit = sharedLimit(gw, {
    scope: 'register',
    perIp: limits.registerPerIp,
    perUser: limits.registerPerUser,
    windowMs: w,
  });

  app.post<{ Body: { username: string; password: string; email?: string } }>(
    '/v1/users',
    {
      schema: {
        tags: ['account'],
        summary: 'Register (pgauth.register)',
        body: {
          type: 'object',
          properties: { username: text(64, 1), password: text(1024, 1), email: text(254, 1) },
          required: ['username', 'password'],
          additionalProperties: false,
        },
        response: {
          201: { type: 'object', properties: { user_id: uuid }, required: ['user_id'] },
          ...errors(400, 403, 409, 413, 415, 429, 503),
        },
      },
      onRequest: [limit(app, 'register-ip', limits.registerPerIp, w, byIp)],
      preHandler: [hashingRoom, limit(app, 'register-user', limits.registerPerUser, w, byUser)],
    },
    async (request, reply) => {
      const userId = await hashed(request, async () => {
        await registerLimit(request, reply);
        return gw.ops.register(request.body);
      });
      return reply.code(201).send({ user_id: userId });
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/v1/login',
    {
      schema: {
        tags: ['account'],
        summary: 'Log in (pgauth.login_durably): a new session and token pair, or a challenge',
        description:
          'Every kind of failure (unknown user, wrong password, locked, disabled) gives the same 401 body. When the account has a second factor, 200 with {"mfa_required": true, "challenge", "expires_in"} and no tokens: finish with POST /v1/login/mfa. With the setting require_verified_email, a right password on an unverified address is 403 email_not_verified.',
        body: credentials,
        response: {
          200: { anyOf: [tokenPair, mfaChallenge] },
          ...errors(400, 401, 403, 413, 415, 429, 503),
        },
      },
      onRequest: [loginPerIp(byIp, loginLimited)],
      preHandler: [hashingRoom, loginPerUser(byUser, loginLimited)],
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const pair = await hashed(request, async () => {
        await loginLimit(request, reply);
        return gw.ops.login(username, password, loginContext(request));
      });
      const outcome = !pair ? 'failure' : 'mfaRequired' in pair ? 'mfa_required' : 'success';
      gw.metrics.logins.inc({ outcome });
      if (!pair) return sendError(reply, 'invalid_credentials');
      if ('mfaRequired' in pair) {
        return reply.header('cache-control', 'no-store').send({
          mfa_required: true,
          challenge: pair.challenge,
          expires_in: pair.expiresIn,
        });
      }
      return sendPair(reply, await tokens.session(request, pair));
    },
  );

  app.post<{ Body: { refresh_token: string } }>(
    '/v1/refresh',
    {
      schema: {
        tags: ['account'],
        summary: 'Rotate a refresh token (pgauth.refresh): a new token pair',
        body: {
          type: 'object',
          properties: { refresh_token: text(MAX_TOKEN_LENGTH, 1) },
          required: ['refresh_token'],
          additionalProperties: false,
        },
        response: { 200: tokenPair, ...errors(400, 401, 413, 415, 429, 503) },
      },
      onRequest: [limit(app, 'refresh-ip', limits.refreshPerIp, w, byIp)],
      preHandler: [sharedLimit(gw, { scope: 'refresh', perIp: limits.refreshPerIp, windowMs: w })],
    },
    async (request, reply) => {
      const pair = await gw.ops.refresh(request.body.refresh_token, loginContext(request));
      if (!pair) return sendError(reply, 'invalid_token');
      return sendPair(reply, await tokens.session(request, pair));
    },
  );

  app.post(
    '/v1/logout',
    {
      schema: {
        tags: ['account'],
        summary: 'Log out (pgauth.logout): revokes the session of the Bearer token',
        security: bearer,
        response: { 204: noContent, ...errors(401, 503) },
      },
    },
    async (request, reply) => {
      const token = bearerToken(request);
      if (!token) return sendError(reply, 'invalid_token');
      if (!(await gw.ops.logout(token))) return sendError(reply, 'invalid_token');
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/session',
    {
      schema: {
        tags: ['account'],
        summary: 'The session of the Bearer token (pgauth.validate)',
        security: bearer,
        response: { 200: sessionInfo, ...errors(401, 503) },
      },
    },
    async (request, reply) => {
      const s = await gw.authenticate(request, true);
      return reply.header('cache-control', 'no-store').send(sessionBody(s));
    },
  );

  app.get(
    '/v1/auth/check',
    {
      schema: {
        tags: ['account'],
        summary: 'Forward-auth check for nginx auth_request, Traefik forwardAuth, Envoy ext_authz',
        description:
          'On 200 the headers X-Auth-User-Id, X-Auth-Username (percent-encoded), X-Auth-Roles (comma-separated), X-Auth-Session-Id and X-Auth-Subject-Type (user or service_account) describe the caller.',
        security: bearer,
        response: { 200: sessionInfo, ...errors(401, 503) },
      },
    },
    async (request, reply) => {
      const s = await gw.authenticate(request, true);
      return reply
        .header('cache-control', 'no-store')
        .header('x-auth-user-id', s.userId)
        .header('x-auth-username', encodeURIComponent(s.username))
        .header('x-auth-roles', s.roles.join(','))
        .header('x-auth-session-id', s.sessionId)
        .header('x-auth-subject-type', s.subjectType)
        .send(sessionBody(s));
    },
  );

  app.post<{ Body: { current_password: string; new_password: string } }>(
    '/v1/password',
    {
      schema: {
        tags: ['account'],
        summary:
          'Change the password (pgauth.change_password_durably); revokes every session of the user',
        security: bearer,
        body: {
          type: 'object',
          properties: { current_password: text(1024, 1), new_password: text(1024, 1) },
          required: ['current_password', 'new_password'],
          additionalProperties: false,
        },
        response: { 204: noContent, ...errors(400, 401, 413, 415, 429, 503) },
      },
      // It verifies the current password: the login limits, per IP before anything else, per
      // account once the token says whose it is.
      onRequest: [loginPerIp(byIp)],
      preHandler: [
        hashingRoom,
        async (request) => {
          sessions.set(request, await gw.authenticate(request));
        },
        loginPerUser(bySessionUser),
      ],
    },
    async (request, reply) => {
      const s = sessions.get(request) ?? (await gw.authenticate(request));
      const { current_password, new_password } = request.body;
      const changed = await hashed(request, () =>
        gw.ops.changePassword(s.userId, current_password, new_password),
      );
      if (!changed) throw new AuthError('invalid_credentials');
      return reply.code(204).send();
    },
  );
};
