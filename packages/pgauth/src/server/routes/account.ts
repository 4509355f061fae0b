/**
 * The routes a user's client calls: register, login, refresh, logout, the current session, the
 * password change, and the forward-auth check for reverse proxies. Each is one pgauth.* call.
 */

import { AuthError } from '@pgauth/client/internal';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RateLimitConfig } from '../../config.ts';
import type { Gateway, Session } from '../context.ts';
import { bearerToken, clientIp, MAX_TOKEN_LENGTH, secondsUntil, userAgent } from '../context.ts';
import { sendError } from '../errors.ts';
import { byIp, byUsername, limit } from '../rate-limit.ts';
import { bearer, errors, noContent, sessionInfo, text, tokenPair, uuid } from '../schemas.ts';

interface PairRow {
  user_id: string;
  session_id: string;
  access_token: string;
  access_expires_at: Date;
  refresh_token: string;
  refresh_expires_at: Date;
  [k: string]: unknown;
}

const PAIR_COLUMNS =
  'user_id::text, session_id::text, access_token, access_expires_at, refresh_token, refresh_expires_at';

function sendPair(reply: FastifyReply, row: PairRow): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .send({
      access_token: row.access_token,
      token_type: 'Bearer',
      expires_in: secondsUntil(row.access_expires_at),
      refresh_token: row.refresh_token,
      refresh_expires_in: secondsUntil(row.refresh_expires_at),
      user_id: row.user_id,
      session_id: row.session_id,
    });
}

/** A session as the gateway's JSON names it. */
function sessionBody(s: Session) {
  return {
    user_id: s.userId,
    username: s.username,
    session_id: s.sessionId,
    roles: s.roles,
    expires_at: s.expiresAt,
  };
}

const credentials = {
  type: 'object',
  properties: { username: text(256, 1), password: text(1024, 1) },
  required: ['username', 'password'],
  additionalProperties: false,
} as const;

export function accountRoutes(app: FastifyInstance, gw: Gateway, limits: RateLimitConfig): void {
  const w = limits.windowMs;
  const loginLimited = (): void => {
    gw.metrics.logins.inc({ outcome: 'rate_limited' });
  };

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
      preHandler: [limit(app, 'register-user', limits.registerPerUser, w, byUsername)],
    },
    async (request, reply) => {
      const { username, password, email } = request.body;
      const rows = await gw.hashing(() =>
        gw.query<{ user_id: string }>('select pgauth.register($1, $2, $3)::text as user_id', [
          username,
          password,
          email ?? null,
        ]),
      );
      return reply.code(201).send({ user_id: rows[0]?.user_id });
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/v1/login',
    {
      schema: {
        tags: ['account'],
        summary: 'Log in (pgauth.login_durably): a new session and token pair',
        description:
          'Every kind of failure (unknown user, wrong password, locked, disabled) gives the same 401 body.',
        body: credentials,
        response: { 200: tokenPair, ...errors(400, 401, 413, 415, 429, 503) },
      },
      onRequest: [limit(app, 'login-ip', limits.loginPerIp, w, byIp, loginLimited)],
      preHandler: [limit(app, 'login-user', limits.loginPerUser, w, byUsername, loginLimited)],
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const rows = await gw.hashing(() =>
        gw.query<PairRow>('call pgauth.login_durably($1, $2, $3, $4)', [
          username,
          password,
          clientIp(request),
          userAgent(request),
        ]),
      );
      // The procedure answers one row, all NULL on any failure.
      const row = rows[0]?.user_id ? rows[0] : undefined;
      gw.metrics.logins.inc({ outcome: row ? 'success' : 'failure' });
      if (!row) return sendError(reply, 'invalid_credentials');
      return sendPair(reply, row);
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
    },
    async (request, reply) => {
      const rows = await gw.query<PairRow>(
        `select ${PAIR_COLUMNS} from pgauth.refresh($1, $2, $3)`,
        [request.body.refresh_token, clientIp(request), userAgent(request)],
      );
      const row = rows[0];
      if (!row) return sendError(reply, 'invalid_token');
      // The old access token is dead: this gateway forgets it before the client hears of the new.
      gw.cache?.evict([row.session_id]);
      return sendPair(reply, row);
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
      const rows = await gw.query<{ ok: boolean }>('select pgauth.logout($1) as ok', [token]);
      if (!rows[0]?.ok) return sendError(reply, 'invalid_token');
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
          'On 200 the headers X-Auth-User-Id, X-Auth-Username (percent-encoded), X-Auth-Roles (comma-separated) and X-Auth-Session-Id describe the caller.',
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
        response: { 204: noContent, ...errors(400, 401, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const s = await gw.authenticate(request);
      const rows = await gw.hashing(() =>
        gw.query<{ changed: boolean }>('call pgauth.change_password_durably($1, $2, $3)', [
          s.userId,
          request.body.current_password,
          request.body.new_password,
        ]),
      );
      if (!rows[0]?.changed) throw new AuthError('invalid_credentials');
      gw.cache?.evictUser(s.userId);
      return reply.code(204).send();
    },
  );
}
