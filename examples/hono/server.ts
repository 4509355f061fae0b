/**
 * A small Hono service (on Node) guarded by pgauth: a public route, one for any signed-in user and
 * one for admins. See examples/README.md.
 *
 *   PGAUTH_URL=http://127.0.0.1:8080 node --import tsx examples/hono/server.ts
 *   DATABASE_URL=postgres://orders_service@127.0.0.1/app node --import tsx examples/hono/server.ts
 */
import { serve } from '@hono/node-server';
import { type AuthEnv, authenticate, requireRole } from '@pgauth/client/hono';
import { Hono } from 'hono';
import { readConfig } from '../config.ts';

const { port, client, mode } = readConfig(process.env, 3003);
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
