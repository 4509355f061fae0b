/**
 * A small Fastify service guarded by pgauth: a public route, one for any signed-in user and one
 * for admins. See examples/README.md.
 *
 *   PGAUTH_URL=http://127.0.0.1:8080 node --import tsx examples/fastify/server.ts
 *   DATABASE_URL=postgres://orders_service@127.0.0.1/app node --import tsx examples/fastify/server.ts
 */

import { type AuthClient, createAuthClient } from '@pgauth/client';
import { pgauthPlugin } from '@pgauth/client/fastify';
import Fastify from 'fastify';

interface Config {
  port: number;
  client: AuthClient;
  mode: string;
}

/**
 * Read once, at start: SQL mode (DATABASE_URL, with a cache that revocations evict) or the
 * gateway (PGAUTH_URL, default the one of `npm start`). Never both: which one answers would be a
 * guess.
 */
function readConfig(env: NodeJS.ProcessEnv): Config {
  const port = Number(env.PORT ?? 3002);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, not ${env.PORT}`);
  }
  if (env.DATABASE_URL && env.PGAUTH_URL) {
    throw new Error('set DATABASE_URL (SQL mode) or PGAUTH_URL (gateway), not both');
  }
  if (env.DATABASE_URL) {
    const client = createAuthClient({
      databaseUrl: env.DATABASE_URL,
      cache: { maxEntries: 10_000, maxAgeMs: 60_000 },
    });
    return { port, client, mode: 'SQL (DATABASE_URL)' };
  }
  const baseUrl = env.PGAUTH_URL ?? 'http://127.0.0.1:8080';
  return { port, client: createAuthClient({ baseUrl }), mode: `gateway ${baseUrl}` };
}

const { port, client, mode } = readConfig(process.env);
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
