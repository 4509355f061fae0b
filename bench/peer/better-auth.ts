/**
 * The peer of scenario `peer`: Better Auth (a devDependency of the benchmark only) configured for
 * email and password on its own PostgreSQL database, the one configuration shared by its server
 * and its setup. Everything left at Better Auth's defaults except what a benchmark must change:
 * rate limits off (the load is thousands of requests a second from one address) and telemetry off
 * (no network here). Its password hash is its default: scrypt through node:crypto.
 */
import { betterAuth } from 'better-auth';
import pg from 'pg';

/** Better Auth's default password hash (@better-auth/utils/password, node build), for the record. */
export const BETTER_AUTH_SCRYPT = { N: 16384, r: 16, p: 1, dkLen: 64 } as const;

export interface BenchAuthOptions {
  databaseUrl: string;
  /** 32 bytes or more: it signs the session cookie and the cookie cache. */
  secret: string;
  baseURL: string;
  /** Seconds a session_data cookie is trusted without asking the database; null: cache off. */
  cookieCacheMaxAge: number | null;
}

/** A Better Auth instance and the node-postgres pool it runs its queries on. */
export function createBenchAuth(options: BenchAuthOptions) {
  // node-postgres's default pool size (10), as pgauth serve's default --pool-size.
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: 10,
    application_name: 'pgauth-bench-better-auth',
  });
  const auth = betterAuth({
    database: pool,
    secret: options.secret,
    baseURL: options.baseURL,
    emailAndPassword: { enabled: true },
    session: {
      cookieCache:
        options.cookieCacheMaxAge === null
          ? { enabled: false }
          : { enabled: true, maxAge: options.cookieCacheMaxAge },
    },
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { level: 'warn' },
  });
  return { auth, pool };
}

export type BenchAuth = ReturnType<typeof createBenchAuth>['auth'];
