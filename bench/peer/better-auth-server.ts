/** Better Auth over node:http for scenario `peer`: its routes through toNodeHandler (sign-up,
 * sign-in); `GET /session`, the check an application writes (getSession: 200 or 401); and the
 * benchmark's setup under /bench/, never measured. At its defaults but rate limits (the load is
 * from one address) and telemetry (no network) off. `--migrate` creates its tables first.
 *
 *   BETTER_AUTH_SECRET=… node --import tsx bench/peer/better-auth-server.ts --database-url URL \
 *     [--cookie-cache-max-age SECONDS] [--migrate] */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { parseArgs } from 'node:util';
import { betterAuth } from 'better-auth';
import { verifyPassword } from 'better-auth/crypto';
import { getMigrations } from 'better-auth/db/migration';
import { fromNodeHeaders, toNodeHandler } from 'better-auth/node';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string', default: '' },
    'cookie-cache-max-age': { type: 'string' },
    migrate: { type: 'boolean', default: false },
  },
});
const maxAge = Number(values['cookie-cache-max-age'] ?? 0);
const secret = process.env.BETTER_AUTH_SECRET ?? '';
const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  const length = Buffer.byteLength(text);
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': length };
  res.writeHead(status, { ...headers, 'cache-control': 'no-store' }).end(text);
};

// Listen first: the base URL, which Better Auth checks origins against, has the port.
let handle = async (_req: IncomingMessage, res: ServerResponse) =>
  json(res, 503, { error: 'start' });
const server = createServer((req, res) => handle(req, res));
await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
// node-postgres's default pool size, as pgauth serve's default --pool-size.
const pool = new pg.Pool({ connectionString: values['database-url'], max: 10 });
const auth = betterAuth({
  database: pool,
  secret,
  baseURL,
  emailAndPassword: { enabled: true },
  session: { cookieCache: maxAge ? { enabled: true, maxAge } : { enabled: false } },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { level: 'warn' },
});
if (values.migrate) await (await getMigrations(auth.options)).runMigrations();
const context = await auth.$context; // initialised now, not during the warm-up
const DATA = 'better-auth.session_data=';
/** Checks answered by GET /session, and those that set a new session_data cookie: with the
 * cookie cache on, the session came from the database. */
const stats = { sessions: 0, cacheFills: 0 };

/** A signed cookie as Better Auth writes it: `token.base64(HMAC-SHA256(secret, token))`. */
const signed = (token: string) =>
  encodeURIComponent(`${token}.${createHmac('sha256', secret).update(token).digest('base64')}`);

const bench: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
  /** Signs up `emails` (a sign-up signs in: a session each; all at once, libuv's four threads
   * run four scrypt hashes at a time), then opens sessions up to `count` with the call its sign-in
   * makes once the password is checked (900 sign-ins would be 900 scrypt hashes, a minute of this
   * machine, for rows that do not depend on how the password was checked), and times one password
   * check five times. Returns the session_token cookie of every session. */
  '/bench/setup': async (body) => {
    const [emails, password] = [body.emails as string[], `${body.password}`];
    const signUp = (email: string) =>
      auth.api.signUpEmail({ body: { email, password, name: email.split('@')[0] ?? '' } });
    const ups = await Promise.all(emails.map(signUp));
    const open = (k: number) =>
      context.internalAdapter.createSession(`${ups[k % ups.length]?.user.id}`);
    const more = await Promise.all([...Array(Number(body.count) - ups.length).keys()].map(open));
    const cookies = [...ups.map((r) => r.token ?? ''), ...more.map((x) => x.token)].map(signed);
    const sql = `select password as hash from account where "providerId" = 'credential' limit 1`;
    const { hash = '' } = (await pool.query<{ hash: string }>(sql)).rows[0] ?? {};
    const verifyMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      if (!(await verifyPassword({ hash, password }))) throw new Error('no match');
      verifyMs.push(performance.now() - t);
    }
    return { cookies, verifyMs };
  },
  /** With the cookie cache on: the Cookie header a browser holds for each session, its token and
   * the session_data cookie that getSession sets for it (as a sign-in would). */
  '/bench/cache-cookies': async (body) => {
    const withData = async (c: string) => {
      const cookie = `better-auth.session_token=${c}`;
      const headers = new Headers({ cookie });
      const r = await auth.api.getSession({ headers, returnHeaders: true });
      const data = r.headers.getSetCookie().find((x) => x.startsWith(DATA));
      if (!data) throw new Error('no session_data cookie');
      return `${cookie}; ${data.split(';')[0]}`;
    };
    return Promise.all((body.cookies as string[]).map(withData));
  },
  '/bench/stats': async () => stats,
};

async function session(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // returnHeaders only to count cache fills: the answer is the session JSON, as an app's.
  const headers = fromNodeHeaders(req.headers);
  const r = await auth.api.getSession({ headers, returnHeaders: true });
  stats.sessions++;
  if (r.headers.getSetCookie().some((c) => c.startsWith(DATA))) stats.cacheFills++;
  json(res, r.response ? 200 : 401, r.response ?? { error: 'unauthorized' });
}

const node = toNodeHandler(auth);
handle = async (req, res) => {
  const [path, route] = [req.url?.split('?')[0], bench[req.url ?? '']];
  try {
    if (req.method === 'GET' && path === '/session') return await session(req, res);
    if (!route) return void (await node(req, res));
    json(res, 200, await route(JSON.parse((await text(req)) || '{}')));
  } catch (err) {
    json(res, 500, { error: `${err}` });
  }
};
console.log(`better-auth listening on ${baseURL}`);
console.log(`cookie cache: ${maxAge ? `on (maxAge ${maxAge} s)` : 'off'}`);
process.once('SIGTERM', () => pool.end().finally(() => process.exit(0)));
