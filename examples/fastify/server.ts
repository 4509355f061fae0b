/**
 * A small Fastify service guarded by pgauth: a public route, one for any signed-in user and one
 * for admins. See examples/README.md.
 *
 *   PGAUTH_URL=http://127.0.0.1:8080 node --import tsx examples/fastify/server.ts
 *   DATABASE_URL=postgres://orders_service@127.0.0.1/app node --import tsx examples/fastify/server.ts
 */

import { pgauthPlugin } from '@pgauth/client/fastify';
import Fastify from 'fastify';
import { readConfig } from '../config.ts';

const { port, client, mode } = readConfig(process.env, 3002);
const app = Fastify({ logger: { level: 'warn' } });

// Decorates request.auth, app.authenticate and app.requireRole; faults are logged per request.
await app.register(pgauthPlugin, { validator: client });
app.addHook('onClose', () => client.close());

app.get('/', async () => ({ service: 'fastify example', public: true }));

app.get('/me', { preHandler: app.authenticate }, async (request) => ({
  userId: request.auth?.userId,
  username: request.auth?.username,
  roles: request.auth?.roles,
}));

app.get(
  '/admin',
  { preHandler: [app.authenticate, app.requireRole('admin')] },
  async (request) => ({
    admin: request.auth?.username,
    message: 'only admins see this',
  }),
);

const url = await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify example on ${url} (pgauth: ${mode})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
