/**
 * Service accounts and their API keys, for a caller holding the role `admin`: registered inside
 * the admin plugin (admin.ts), whose onRequest hook checks the role first. Each route is one
 * pgauth.* admin function. An API key is in exactly one answer, the one that creates it.
 */
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../context.ts';
import { bearer, dateTime, errors, noContent, nullableDateTime, text, uuid } from '../schemas.ts';

const accountName = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z][a-z0-9_.-]*$' };
const nameParams = {
  type: 'object',
  properties: { name: accountName },
  required: ['name'],
} as const;

const serviceAccount = {
  type: 'object',
  properties: {
    id: uuid,
    name: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    access_token_format: { type: ['string', 'null'], enum: ['opaque', 'jwt', null] },
    created_at: dateTime,
    disabled_at: nullableDateTime,
    live_api_keys: { type: 'integer' },
  },
  required: ['id', 'name', 'roles', 'created_at', 'disabled_at', 'live_api_keys'],
} as const;

const apiKey = {
  type: 'object',
  properties: {
    id: uuid,
    name: { type: 'string' },
    created_at: dateTime,
    expires_at: nullableDateTime,
    last_used_at: nullableDateTime,
    revoked_at: nullableDateTime,
  },
  required: ['id', 'name', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'],
} as const;

export function serviceAccountRoutes(app: FastifyInstance, gw: Gateway): void {
  const ops = gw.admin;
  const base = { tags: ['service accounts'], security: bearer };

  app.get(
    '/v1/admin/service-accounts',
    {
      schema: {
        ...base,
        summary: 'List service accounts (pgauth.list_service_accounts)',
        response: {
          200: {
            type: 'object',
            properties: { service_accounts: { type: 'array', items: serviceAccount } },
            required: ['service_accounts'],
          },
          ...errors(401, 403, 503),
        },
      },
    },
    async () => ({ service_accounts: await ops.listServiceAccounts() }),
  );

  app.post<{ Body: { name: string; roles?: string[] } }>(
    '/v1/admin/service-accounts',
    {
      schema: {
        ...base,
        summary: 'Create a service account holding roles (pgauth.create_service_account)',
        body: {
          type: 'object',
          properties: {
            name: accountName,
            roles: { type: 'array', items: text(63, 1), maxItems: 50 },
          },
          required: ['name'],
          additionalProperties: false,
        },
        response: {
          201: {
            type: 'object',
            properties: { id: uuid, name: { type: 'string' } },
            required: ['id', 'name'],
          },
          ...errors(400, 401, 403, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { name, roles } = request.body;
      const id = await ops.createServiceAccount(name, roles ?? []);
      return reply.code(201).send({ id, name });
    },
  );

  app.post<{ Params: { name: string } }>(
    '/v1/admin/service-accounts/:name/disable',
    {
      schema: {
        ...base,
        summary:
          'Disable a service account (pgauth.disable_service_account): its keys and tokens stop validating at once',
        params: nameParams,
        response: { 204: noContent, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await ops.disableServiceAccount(request.params.name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v1/admin/service-accounts/:name/api-keys',
    {
      schema: {
        ...base,
        summary:
          'The API keys of a service account, never the keys themselves (pgauth.list_api_keys)',
        params: nameParams,
        response: {
          200: {
            type: 'object',
            properties: { api_keys: { type: 'array', items: apiKey } },
            required: ['api_keys'],
          },
          ...errors(400, 401, 403, 404, 503),
        },
      },
    },
    async (request) => ({ api_keys: await ops.listApiKeys(request.params.name) }),
  );

  app.post<{ Params: { name: string }; Body: { name: string; expires_at?: string } }>(
    '/v1/admin/service-accounts/:name/api-keys',
    {
      schema: {
        ...base,
        summary: 'Create an API key (pgauth.create_api_key); the key is in this answer only',
        params: nameParams,
        body: {
          type: 'object',
          properties: { name: text(64, 1), expires_at: dateTime },
          required: ['name'],
          additionalProperties: false,
        },
        response: {
          201: {
            type: 'object',
            properties: {
              id: uuid,
              key: { type: 'string', description: 'pgk_…: shown once, stored only hashed' },
            },
            required: ['id', 'key'],
          },
          ...errors(400, 401, 403, 404, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { name, expires_at } = request.body;
      const key = await ops.createApiKey(
        request.params.name,
        name,
        expires_at ? { at: expires_at, interval: null } : null,
      );
      return reply.code(201).header('cache-control', 'no-store').send(key);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/admin/api-keys/:id',
    {
      schema: {
        ...base,
        summary:
          'Revoke an API key and the access tokens issued for it (pgauth.revoke_api_key); 204 when already revoked',
        params: { type: 'object', properties: { id: uuid }, required: ['id'] },
        response: { 204: noContent, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await ops.revokeApiKey(request.params.id);
      return reply.code(204).send();
    },
  );
}
