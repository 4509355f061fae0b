/**
 * User administration for a caller holding the role `admin`: each route is one pgauth.* admin
 * function. Rows come back as JSON built by the database (to_json), so times are RFC 3339 and an
 * endless lock is "infinity" on both engines.
 */
import { AuthError } from '@pgauth/client/internal';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { LIST_DEFAULT, LIST_MAX, type Settings } from '../../operations.ts';
import type { Gateway } from '../context.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { byIp } from '../rate-limit.ts';
import {
  auditEvent,
  bearer,
  dateTime,
  errors,
  noContent,
  page,
  session,
  settings,
  text,
  user,
  uuid,
} from '../schemas.ts';
import { serviceAccountRoutes } from './service-accounts.ts';

interface IdParams {
  id: string;
}

const idParams = {
  type: 'object',
  properties: { id: uuid },
  required: ['id'],
} as const;

interface RoleParams extends IdParams {
  role: string;
}

const roleParams = {
  type: 'object',
  properties: { id: uuid, role: text(63, 1) },
  required: ['id', 'role'],
} as const;

const adminErrors = errors(400, 401, 403, 404, 413, 415, 503);

/**
 * The admin routes as one encapsulated plugin: its onRequest hook checks the caller's `admin` role
 * before anything else runs, so no route can forget it, and an unauthenticated caller gets 401
 * before its body is even parsed.
 */
export function adminRoutes(gw: Gateway): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', async (request) => {
      await gw.authorize(request, 'admin');
    });
    const ops = gw.admin;
    const base = { tags: ['admin'], security: bearer };

    app.get<{ Querystring: { limit: number; offset: number; q?: string; after?: string } }>(
      '/v1/admin/users',
      {
        schema: {
          ...base,
          summary: 'List or search users (pgauth.list_users, pgauth.search_users)',
          description:
            'Without q and after: a page by offset (pgauth.list_users). With q (the start of a username, or of an email when it holds an @, any case; empty for all) or after (the `next` of the page before): a keyset page (pgauth.search_users), as fast on page 1,000 as on page 1, and `next` names the page after it (null on the last).',
          querystring: {
            type: 'object',
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: LIST_MAX, default: LIST_DEFAULT },
              offset: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0 },
              q: text(254),
              after: text(1024, 1),
            },
          },
          response: {
            200: page('users', user, true),
            ...adminErrors,
          },
        },
      },
      async (request) => {
        const { limit, offset, q, after } = request.query;
        if (q === undefined && after === undefined) {
          return { users: await ops.listUsers(limit, offset) };
        }
        if (offset > 0) {
          throw new AuthError(
            'invalid_input',
            'The input is invalid: querystring.offset does not go with q or after.',
          );
        }
        const found = await ops.searchUsers({ query: q, after: decodeCursor(after), limit });
        return { users: found.rows, next: encodeCursor(found.next) };
      },
    );

    app.post<{ Body: { username: string; password: string; email?: string; roles?: string[] } }>(
      '/v1/admin/users',
      {
        schema: {
          ...base,
          summary: 'Create a user with roles (pgauth.create_user), registration open or not',
          body: {
            type: 'object',
            properties: {
              username: text(64, 1),
              password: text(1024, 1),
              email: text(254, 1),
              roles: { type: 'array', items: text(63, 1), maxItems: 50 },
            },
            required: ['username', 'password'],
            additionalProperties: false,
          },
          response: {
            201: { type: 'object', properties: { user_id: uuid }, required: ['user_id'] },
            ...errors(400, 401, 403, 409, 413, 415, 503),
          },
        },
      },
      async (request, reply) => {
        const id = await gw.hashing(() => ops.createUser(request.body), byIp(request));
        return reply.code(201).send({ user_id: id });
      },
    );

    app.get<{ Params: IdParams }>(
      '/v1/admin/users/:id',
      {
        schema: {
          ...base,
          summary: 'One user (pgauth.get_user)',
          params: idParams,
          response: { 200: user, ...adminErrors },
        },
      },
      (request) => ops.getUser(request.params.id),
    );

    /** A route that changes a user and answers 204. */
    const command = <P extends IdParams, B = unknown>(
      method: 'POST' | 'DELETE',
      url: string,
      summary: string,
      run: (params: P, body: B, request: FastifyRequest) => Promise<unknown>,
      options: { params?: object; body?: object } = {},
    ): void => {
      app.route<{ Params: P; Body: B }>({
        method,
        url,
        schema: {
          ...base,
          summary,
          params: options.params ?? idParams,
          ...(options.body ? { body: options.body } : {}),
          response: { 204: noContent, ...adminErrors },
        },
        handler: async (request, reply) => {
          await run(request.params as P, request.body as B, request);
          return reply.code(204).send();
        },
      });
    };

    command('DELETE', '/v1/admin/users/:id', 'Delete a user (pgauth.delete_user)', (p) =>
      ops.deleteUser(p.id),
    );
    command<IdParams, { until?: string; reason?: string } | null>(
      'POST',
      '/v1/admin/users/:id/lock',
      'Lock a user until a time, default until unlocked (pgauth.lock_user)',
      (p, body) =>
        ops.lockUser(p.id, {
          until: body?.until ? { at: body.until, interval: null } : null,
          reason: body?.reason ?? null,
        }),
      {
        body: {
          type: ['object', 'null'],
          properties: { until: dateTime, reason: text(200, 1) },
          additionalProperties: false,
        },
      },
    );
    command('POST', '/v1/admin/users/:id/unlock', 'Unlock a user (pgauth.unlock_user)', (p) =>
      ops.unlockUser(p.id),
    );
    command(
      'DELETE',
      '/v1/admin/users/:id/mfa',
      'Remove every second factor of a user: TOTP and recovery codes (pgauth.reset_mfa, audited)',
      (p) => ops.resetMfa(p.id),
    );
    command<IdParams, { password: string }>(
      'POST',
      '/v1/admin/users/:id/password',
      'Set a new password without the current one (pgauth.set_password)',
      (p, body, request) => gw.hashing(() => ops.setPassword(p.id, body.password), byIp(request)),
      {
        body: {
          type: 'object',
          properties: { password: text(1024, 1) },
          required: ['password'],
          additionalProperties: false,
        },
      },
    );
    command<RoleParams>(
      'POST',
      '/v1/admin/users/:id/roles/:role',
      'Grant a role (pgauth.grant_role)',
      (p) => ops.grantRole(p.id, p.role),
      { params: roleParams },
    );
    command<RoleParams>(
      'DELETE',
      '/v1/admin/users/:id/roles/:role',
      'Revoke a role (pgauth.revoke_role)',
      (p) => ops.revokeRole(p.id, p.role),
      { params: roleParams },
    );

    app.get<{ Params: IdParams }>(
      '/v1/admin/users/:id/sessions',
      {
        schema: {
          ...base,
          summary: 'Live sessions of a user (pgauth.list_sessions)',
          params: idParams,
          response: {
            200: {
              type: 'object',
              properties: { sessions: { type: 'array', items: session } },
              required: ['sessions'],
            },
            ...adminErrors,
          },
        },
      },
      async (request) => ({ sessions: await ops.listSessions(request.params.id) }),
    );

    app.delete<{ Params: IdParams }>(
      '/v1/admin/users/:id/sessions',
      {
        schema: {
          ...base,
          summary: 'Revoke every session of a user (pgauth.revoke_user_sessions)',
          params: idParams,
          response: {
            200: {
              type: 'object',
              properties: { revoked: { type: 'integer' } },
              required: ['revoked'],
            },
            ...adminErrors,
          },
        },
      },
      async (request) => ({ revoked: await ops.revokeUserSessions(request.params.id) }),
    );

    app.get<{
      Querystring: {
        user_id?: string;
        since?: string;
        until?: string;
        event?: string;
        after?: string;
        limit: number;
      };
    }>(
      '/v1/admin/audit',
      {
        schema: {
          ...base,
          summary: 'Audit events, newest first (pgauth.search_audit)',
          description:
            'Filters: user_id, event, since (at or after), until (before). A keyset page: `next` names the page after it (pass it as after; null on the last).',
          querystring: {
            type: 'object',
            properties: {
              user_id: uuid,
              event: text(64, 1),
              since: dateTime,
              until: dateTime,
              after: text(1024, 1),
              limit: { type: 'integer', minimum: 1, maximum: LIST_MAX, default: LIST_DEFAULT },
            },
          },
          response: {
            200: page('events', auditEvent),
            ...adminErrors,
          },
        },
      },
      async (request) => {
        const { user_id, since, until, event, after, limit } = request.query;
        const found = await ops.searchAudit({
          userId: user_id,
          event,
          from: since,
          to: until,
          after: decodeCursor(after),
          limit,
        });
        return { events: found.rows, next: encodeCursor(found.next) };
      },
    );

    app.delete<{ Params: IdParams }>(
      '/v1/admin/sessions/:id',
      {
        schema: {
          ...base,
          summary: 'Revoke one session (pgauth.revoke_session)',
          params: idParams,
          response: {
            200: {
              type: 'object',
              properties: {
                revoked: { type: 'boolean', description: 'false: it was not live' },
              },
              required: ['revoked'],
            },
            ...adminErrors,
          },
        },
      },
      async (request) => ({ revoked: await ops.revokeSession(request.params.id) }),
    );

    app.get<{ Querystring: { hours: number } }>(
      '/v1/admin/stats/logins',
      {
        schema: {
          ...base,
          summary: 'Logins, failed logins and lockouts per minute (pgauth.login_stats)',
          description: 'Of the last `hours` (default 24); minutes without any are left out.',
          querystring: {
            type: 'object',
            properties: { hours: { type: 'integer', minimum: 1, maximum: 168, default: 24 } },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                minutes: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      minute: dateTime,
                      logins: { type: 'integer' },
                      failures: { type: 'integer' },
                      lockouts: { type: 'integer' },
                    },
                    required: ['minute', 'logins', 'failures', 'lockouts'],
                  },
                },
              },
              required: ['minutes'],
            },
            ...adminErrors,
          },
        },
      },
      async (request) => ({ minutes: await ops.loginStats(request.query.hours) }),
    );

    app.get(
      '/v1/admin/settings',
      {
        schema: {
          ...base,
          summary: 'The policy settings (pgauth.get_settings)',
          response: { 200: settings, ...adminErrors },
        },
      },
      () => ops.getSettings(),
    );

    app.patch<{ Body: Partial<Settings> }>(
      '/v1/admin/settings',
      {
        schema: {
          ...base,
          summary: 'Change policy settings (pgauth.update_settings)',
          description:
            'Only the fields given change. A value outside its range, or a pair that breaks a rule (lockout_max_seconds below lockout_seconds), is a 400 naming it, and changes nothing. Answers the settings as they now are.',
          body: { ...settings, required: [], minProperties: 1, additionalProperties: false },
          response: { 200: settings, ...adminErrors },
        },
      },
      async (request) => {
        try {
          await ops.updateSettings(request.body);
        } catch (err) {
          // The database names the rule broken (its own text, never input): shown as is.
          const detail = (err as { cause?: { detail?: unknown } }).cause?.detail;
          if (
            err instanceof AuthError &&
            err.code === 'invalid_input' &&
            typeof detail === 'string'
          )
            throw new AuthError('invalid_input', `The input is invalid: ${detail}.`);
          throw err;
        }
        return ops.getSettings();
      },
    );

    serviceAccountRoutes(app, gw);
  };
}
