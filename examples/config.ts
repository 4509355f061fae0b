/**
 * The configuration the three example services share, read once at start: SQL mode
 * (DATABASE_URL, with a cache that revocations evict) or the gateway (PGAUTH_URL, default the one
 * of `npm start`). Never both: which one answers would be a guess.
 */
import { type AuthClient, createAuthClient } from '@pgauth/client';

export interface Config {
  port: number;
  client: AuthClient;
  mode: string;
}

export function readConfig(env: NodeJS.ProcessEnv, defaultPort: number): Config {
  const port = Number(env.PORT ?? defaultPort);
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
