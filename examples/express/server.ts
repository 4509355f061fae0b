/**
 * A small Express service guarded by pgauth: a public route, one for any signed-in user and one
 * for admins. See examples/README.md.
 *
 *   PGAUTH_URL=http://127.0.0.1:8080 node --import tsx examples/express/server.ts
 *   DATABASE_URL=postgres://orders_service@127.0.0.1/app node --import tsx examples/express/server.ts
 */

import { authenticate, requireRole } from '@pgauth/client/express';
import express from 'express';
import { readConfig } from '../config.ts';

const { port, client, mode } = readConfig(process.env, 3001);
const app = express();

app.get('/', (_req, res) => {
  res.json({ service: 'express example', public: true });
});

// `authenticate` sets req.auth, or answers 401 / 503 itself; the handler only runs with a session.
app.get('/me', authenticate(client), (req, res) => {
  res.json({ userId: req.auth?.userId, username: req.auth?.username, roles: req.auth?.roles });
});

app.get('/admin', authenticate(client), requireRole('admin'), (req, res) => {
  res.json({ admin: req.auth?.username, message: 'only admins see this' });
});

const server = app.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  console.log(`express example on http://127.0.0.1:${actual} (pgauth: ${mode})`);
});

async function shutDown(): Promise<void> {
  server.close();
  server.closeIdleConnections();
  await client.close();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutDown());
