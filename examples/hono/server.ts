/**
 * A small Hono service (on Node) guarded by pgauth: a public route, one for any signed-in user and
 * one for admins. See examples/README.md.
 *
 *   PGAUTH_URL=http://127.0.0.1:8080 node --import tsx examples/hono/server.ts
 *   DATABASE_URL=postgres://orders_service@127.0.0.1/app node --import tsx examples/hono/server.ts
 */
import { serve } from '@hono/node-server';
import { type AuthClient, createAuthClient } from '@pgauth/client';
import { type AuthEnv, authenticate, requireRole } from '@pgauth/client/hono';
import { Hono } from 'hono';

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
  const port = Number(env.PORT ?? 3003);
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
// AuthEnv types c.get('auth') as the Session that `authenticate` sets.
const app = new Hono<AuthEnv>();

app.get('/', (c) => c.json({ service: 'hono example', public: true }));

app.get('/me', authenticate(client), (c) => {
  const { userId, username, roles } = c.get('auth');
  return c.json({ userId, username, roles });
});

app.get('/admin', authenticate(client), requireRole('admin'), (c) =>
  c.json({ admin: c.get('auth').username, message: 'only admins see this' }),
);

const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  console.log(`hono example on http://127.0.0.1:${info.port} (pgauth: ${mode})`);
});

async function shutDown(): Promise<void> {
  server.close();
  await client.close();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutDown());
