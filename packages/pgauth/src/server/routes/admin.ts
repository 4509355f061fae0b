/**
 * User administration for a caller holding the role `admin`: each route is one pgauth.* admin
 * function. Rows come back as JSON built by the database (to_json), so times are RFC 3339 and an
 * endless lock is "infinity" on both engines.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { LIST_DEFAULT, LIST_MAX } from '../../operations.ts';
import type { Gateway } from '../context.ts';
import { byIp } from '../rate-limit.ts';
import {
  auditEvent,
  bearer,
  dateTime,
  errors,
  noContent,
  session,
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

    app.get<{ Querystring: { limit: number; offset: number } }>(
      '/v1/admin/users',
      {
        schema: {
          ...base,
          summary: 'List users (pgauth.list_users)',
          querystring: {
            type: 'object',
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: LIST_MAX, default: LIST_DEFAULT },
              offset: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0 },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: { users: { type: 'array', items: user } },
              required: ['users'],
            },
            ...adminErrors,
          },
        },
      },
      async (request) => ({
        users: await ops.listUsers(request.query.limit, request.query.offset),
      }),
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

    app.get<{ Querystring: { user_id?: string; since?: string; limit: number } }>(
      '/v1/admin/audit',
      {
        schema: {
          ...base,
          summary: 'Audit events, newest first (pgauth.audit_events)',
          querystring: {
            type: 'object',
            properties: {
              user_id: uuid,
              since: dateTime,
              limit: { type: 'integer', minimum: 1, maximum: LIST_MAX, default: LIST_DEFAULT },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: { events: { type: 'array', items: auditEvent } },
              required: ['events'],
            },
            ...adminErrors,
          },
        },
      },
      async (request) => {
        const { user_id, since, limit } = request.query;
        return {
          events: await ops.auditEvents({
            userId: user_id,
            since: since ? { at: since, interval: null } : null,
            limit,
          }),
        };
      },
    );

    serviceAccountRoutes(app, gw);
  };
}
