/**
 * The gateway's schema compilers (server/compilers.ts): a schema is compiled once a process, and
 * what Fastify stops doing for a compilers factory of its own (lower-casing header schemas) is
 * refused at start instead of failing every request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { schemaController } from '../../packages/pgauth/src/server/compilers.ts';

const body = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 2 } },
  required: ['name'],
  additionalProperties: false,
} as const;

/** An app with one route whose body schema is `body` (a copy, as every app builds its own). */
function appWithRoute(): FastifyInstance {
  const app = Fastify({ schemaController });
  app.post(
    '/echo',
    {
      schema: {
        body: structuredClone(body),
        response: { 200: { type: 'object', properties: { name: { type: 'string' } } } },
      },
    },
    async (request) => ({ name: (request.body as { name: string }).name, dropped: 'x' }),
  );
  return app;
}

test('two apps given equal schemas validate and serialize with the same compiled functions', async () => {
  const [a, b] = [appWithRoute(), appWithRoute()];
  try {
    const validators: unknown[] = [];
    for (const app of [a, b]) {
      app.addHook('preHandler', async (request) => {
        validators.push(request.getValidationFunction('body'));
      });
      const ok = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'ab' } });
      assert.equal(ok.statusCode, 200, ok.body);
      // The response schema's serializer ran: the field it does not name is left out.
      assert.deepEqual(ok.json(), { name: 'ab' });
      const bad = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'a' } });
      assert.equal(bad.statusCode, 400, bad.body);
    }
    assert.equal(validators.length, 2);
    assert.equal(typeof validators[0], 'function');
    assert.equal(validators[0], validators[1]);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('a header schema naming a header in upper case stops the app at start', async () => {
  const app = Fastify({ schemaController });
  app.get(
    '/h',
    {
      schema: {
        headers: { type: 'object', properties: { 'X-Tenant': { type: 'string' } } },
      },
    },
    async () => 'ok',
  );
  await assert.rejects(
    async () => app.ready(),
    /header schema properties must be lower case: X-Tenant/,
  );
  await app.close().catch(() => {});
});

test('a lower-case header schema validates the header as received', async () => {
  const app = Fastify({ schemaController });
  app.get(
    '/h',
    {
      schema: {
        headers: {
          type: 'object',
          properties: { 'x-tenant': { type: 'string', pattern: '^[a-z]+$' } },
          required: ['x-tenant'],
        },
      },
    },
    async () => 'ok',
  );
  try {
    const ok = await app.inject({ url: '/h', headers: { 'X-Tenant': 'acme' } });
    assert.equal(ok.statusCode, 200, ok.body);
    const bad = await app.inject({ url: '/h', headers: { 'X-Tenant': 'ACME' } });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal((await app.inject({ url: '/h' })).statusCode, 400);
  } finally {
    await app.close();
  }
});
