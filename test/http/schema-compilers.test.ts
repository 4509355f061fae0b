/**
 * The gateway's schema compilers (server/compilers.ts): a schema is compiled once a process, and
 * what the memo cannot key (options JSON cannot show) or what Fastify stops doing for compilers of
 * its own (lower-casing header schemas) is refused at start instead of being compiled wrongly.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { Ajv } from '@fastify/ajv-compiler';
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

test('a route with a header schema stops the app at start, whatever case it names', async () => {
  for (const name of ['X-Tenant', 'x-tenant']) {
    const app = Fastify({ schemaController });
    app.get(
      '/h',
      { schema: { headers: { type: 'object', properties: { [name]: { type: 'string' } } } } },
      async () => 'ok',
    );
    await assert.rejects(async () => app.ready(), /\/h: header schemas are not supported/, name);
    await app.close().catch(() => {});
  }
});

test('compiler options JSON cannot show (an Ajv plugin) stop the app at start', async () => {
  const plugin = (ajv: Ajv): Ajv => ajv.addKeyword('even');
  const app = Fastify({ schemaController, ajv: { plugins: [plugin] } });
  app.post('/p', { schema: { body: structuredClone(body) } }, async () => 'ok');
  await assert.rejects(async () => app.ready(), /validator options: only JSON values/);
  await app.close().catch(() => {});
});

test('the compilers are the copies Fastify itself resolves', () => {
  const ours = createRequire(new URL('../../packages/pgauth/package.json', import.meta.url));
  const fastifys = createRequire(ours.resolve('fastify/package.json'));
  for (const name of ['@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler']) {
    assert.equal(ours.resolve(name), fastifys.resolve(name), name);
  }
});
