/**
 * User administration for a caller holding the role `admin`: each route is one pgauth.* admin
 * function. Rows come back as JSON built by the database (to_json), so times are RFC 3339 and an
 * endless lock is "infinity" on both engines.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../context.ts';
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

interface IdParams {
  id: string;
}

const idParams = {
  type: 'object',
  properties: { id: uuid },
  required: ['id'],
} as const;

const roleParams = {
  type: 'object',
  properties: { id: uuid, role: text(63, 1) },
  required: ['id', 'role'],
} as const;

const adminErrors = errors(400, 401, 403, 404, 413, 415, 503);

export function adminRoutes(app: FastifyInstance, gw: Gateway): void {
  const admin = (request: FastifyRequest): Promise<unknown> => gw.authorize(request, 'admin');
  const rows = async <R>(sql: string, params: readonly unknown[]): Promise<R[]> =>
    (await gw.query<{ row: R }>(sql, params)).map((r) => r.row);
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
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
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
    async (request) => {
      await admin(request);
      const { limit, offset } = request.query;
      return {
        users: await rows('select to_json(u) as row from pgauth.list_users($1, $2) u', [
          limit,
          offset,
        ]),
      };
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
      await admin(request);
      const { username, password, email, roles } = request.body;
      const r = await gw.hashing(() =>
        gw.query<{ user_id: string }>(
          'select pgauth.create_user($1, $2, $3, $4::text[])::text as user_id',
          [username, password, email ?? null, roles ?? []],
        ),
      );
      return reply.code(201).send({ user_id: r[0]?.user_id });
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
    async (request) => {
      await admin(request);
      const r = await rows('select to_json(u) as row from pgauth.get_user($1) u', [
        request.params.id,
      ]);
      return r[0];
    },
  );

  const command = (
    method: 'POST' | 'DELETE',
    url: string,
    summary: string,
    sql: string,
    options: {
      params?: object;
      body?: object;
      args?: (request: FastifyRequest) => unknown[];
      hashes?: boolean;
    } = {},
  ): void => {
    app.route({
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
        await admin(request);
        const params = request.params as IdParams;
        const args = options.args ? options.args(request) : [params.id];
        const run = (): Promise<unknown> => gw.query(sql, args);
        await (options.hashes ? gw.hashing(run) : run());
        return reply.code(204).send();
      },
    });
  };

  command(
    'DELETE',
    '/v1/admin/users/:id',
    'Delete a user (pgauth.delete_user)',
    'select pgauth.delete_user($1)',
  );
  command(
    'POST',
    '/v1/admin/users/:id/lock',
    'Lock a user until a time, default until unlocked (pgauth.lock_user)',
    `select pgauth.lock_user($1, coalesce($2::timestamptz, 'infinity'), $3)`,
    {
      body: {
        type: ['object', 'null'],
        properties: { until: dateTime, reason: text(200, 1) },
        additionalProperties: false,
      },
      args: (request) => {
        const body = (request.body ?? {}) as { until?: string; reason?: string };
        return [(request.params as IdParams).id, body.until ?? null, body.reason ?? null];
      },
    },
  );
  command(
    'POST',
    '/v1/admin/users/:id/unlock',
    'Unlock a user (pgauth.unlock_user)',
    'select pgauth.unlock_user($1)',
  );
  command(
    'POST',
    '/v1/admin/users/:id/password',
    'Set a new password without the current one (pgauth.set_password)',
    'select pgauth.set_password($1, $2)',
    {
      body: {
        type: 'object',
        properties: { password: text(1024, 1) },
        required: ['password'],
        additionalProperties: false,
      },
      args: (request) => [
        (request.params as IdParams).id,
        (request.body as { password: string }).password,
      ],
      hashes: true,
    },
  );
  const roleArgs = (request: FastifyRequest): unknown[] => {
    const p = request.params as { id: string; role: string };
    return [p.id, p.role];
  };
  command(
    'POST',
    '/v1/admin/users/:id/roles/:role',
    'Grant a role (pgauth.grant_role)',
    'select pgauth.grant_role($1, $2)',
    { params: roleParams, args: roleArgs },
  );
  command(
    'DELETE',
    '/v1/admin/users/:id/roles/:role',
    'Revoke a role (pgauth.revoke_role)',
    'select pgauth.revoke_role($1, $2)',
    { params: roleParams, args: roleArgs },
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
    async (request) => {
      await admin(request);
      return {
        sessions: await rows('select to_json(s) as row from pgauth.list_sessions($1) s', [
          request.params.id,
        ]),
      };
    },
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
    async (request) => {
      await admin(request);
      const r = await gw.query<{ n: number }>(
        `select pgauth.revoke_user_sessions($1, 'admin') as n`,
        [request.params.id],
      );
      return { revoked: r[0]?.n ?? 0 };
    },
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
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
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
      await admin(request);
      const { user_id, since, limit } = request.query;
      return {
        events: await rows('select to_json(a) as row from pgauth.audit_events($1, $2, $3) a', [
          user_id ?? null,
          since ?? null,
          limit,
        ]),
      };
    },
  );
}
