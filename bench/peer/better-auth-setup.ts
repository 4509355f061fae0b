/**
 * One-shot setup steps of Better Auth for scenario `peer`, each run as a process of its own (so
 * that the benchmark process never loads Better Auth) printing one JSON line:
 *
 *   node --import tsx bench/peer/better-auth-setup.ts migrate --database-url URL --secret-file FILE
 *     Creates its tables with its own migration API (getMigrations → runMigrations).
 *     → {"tables": [...]}
 *   node --import tsx bench/peer/better-auth-setup.ts sessions --database-url URL --secret-file FILE
 *       --count N --password PW
 *     Opens N sessions spread over the users already signed up, with the call its sign-in makes
 *     once the password has been checked (internalAdapter.createSession), and signs each token as
 *     its session cookie is signed; times its password check (scrypt) one call at a time.
 *     → {"cookies": ["<session_token cookie value>", …], "verifyMs": [...]}
 *
 * Why not N sign-ins: each costs one scrypt (about 70 ms of CPU here), so 1,000 would take about a
 * minute of a two-core machine; a session row and its cookie do not depend on how the password was
 * checked. The benchmark checks every cookie against the server before measuring.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { verifyPassword } from 'better-auth/crypto';
import { getMigrations } from 'better-auth/db/migration';
import { createBenchAuth } from './better-auth.ts';

/**
 * The value of a signed cookie as Better Auth (better-call's signCookieValue) writes it:
 * `token.base64(HMAC-SHA256(secret, token))`, percent-encoded.
 */
function signedCookieValue(token: string, secret: string): string {
  const signature = createHmac('sha256', secret).update(token).digest('base64');
  return encodeURIComponent(`${token}.${signature}`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'database-url': { type: 'string' },
      'secret-file': { type: 'string' },
      count: { type: 'string' },
      password: { type: 'string' },
    },
  });
  const command = positionals[0];
  const databaseUrl = values['database-url'];
  const secretFile = values['secret-file'];
  if (!databaseUrl || !secretFile || (command !== 'migrate' && command !== 'sessions')) {
    throw new Error(
      'usage: better-auth-setup.ts migrate|sessions --database-url URL --secret-file FILE [--count N --password PW]',
    );
  }
  const secret = (await readFile(secretFile, 'utf8')).trim();
  const { auth, pool } = createBenchAuth({
    databaseUrl,
    secret,
    baseURL: 'http://127.0.0.1',
    cookieCacheMaxAge: null,
  });
  try {
    if (command === 'migrate') {
      const migrations = await getMigrations(auth.options);
      await migrations.runMigrations();
      const tables = migrations.toBeCreated.map((t) => t.table);
      process.stdout.write(`${JSON.stringify({ tables })}\n`);
      return;
    }
    const count = Number(values.count);
    const password = values.password;
    if (!(Number.isInteger(count) && count >= 0) || !password) {
      throw new Error('sessions: --count N and --password PW are required');
    }
    const users = await pool.query<{ id: string; password: string }>(
      `select u.id, a.password from "user" u
       join account a on a."userId" = u.id and a."providerId" = 'credential'
       order by u.email`,
    );
    if (users.rows.length === 0) throw new Error('no user signed up');
    const ctx = await auth.$context;
    const cookies: string[] = new Array(count);
    // A few at a time: round trips, not CPU.
    for (let start = 0; start < count; start += 8) {
      const batch = Array.from({ length: Math.min(8, count - start) }, (_, k) => start + k);
      await Promise.all(
        batch.map(async (i) => {
          const user = users.rows[i % users.rows.length] as { id: string };
          const session = await ctx.internalAdapter.createSession(user.id);
          cookies[i] = signedCookieValue(session.token, secret);
        }),
      );
    }
    const hash = (users.rows[0] as { password: string }).password;
    const verifyMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      if (!(await verifyPassword({ hash, password }))) throw new Error('password check failed');
      verifyMs.push(Math.round((performance.now() - t) * 10) / 10);
    }
    process.stdout.write(`${JSON.stringify({ cookies, verifyMs })}\n`);
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
