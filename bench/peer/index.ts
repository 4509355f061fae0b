/** Scenario `peer`: pgauth (the "pgauth" side) against Better Auth (the "baseline" side, served by
 * bench/peer/better-auth-server.ts, the only code that loads it), each at its defaults in a
 * database of its own: session checks without caches (a), with them (b), logins (c); parity
 * targets, so a ratio above 1 means pgauth answered more a second. Bare node:http for scale. */
import { randomBytes } from 'node:crypto';
import * as http from '../lib/http.ts';
import * as m from '../lib/measure.ts';
import * as pg from '../lib/pg.ts';

export const description = `pgauth side by side with Better Auth: session checks and logins over HTTP`;
const MAX_AGE = 300; // Better Auth's default cookie cache maxAge, s
const ROWS = {
  a: `GET /v1/session --no-cache vs BA getSession`,
  plain: `pgauth serve --no-cache, GET /v1/session, a Bearer token per request out of 1000 (pgauth.validate / validate_many on every request)`,
  off: `Better Auth, cookie cache off (its default): GET /session calling auth.api.getSession({ headers }), a session_token cookie per request out of 1000 (a session + user lookup in PostgreSQL on every request)`,
  b: `GET /v1/session cache vs BA cookie cache`,
  cached: `pgauth serve (validation cache on, the default), GET /v1/session, a Bearer token per request out of 1000`,
  on: `Better Auth, cookie cache on (maxAge ${MAX_AGE} s, compact strategy): GET /session calling auth.api.getSession({ headers }), per request the session_token and session_data cookies of one of 1000 sessions (HMAC checks, no database)`,
  c: `POST /v1/login vs BA sign-in/email`,
  login: `pgauth serve, POST /v1/login of 20 users in turn (bcrypt cost 11, every login succeeds)`,
  signIn: `Better Auth (cookie cache off), POST /api/auth/sign-in/email of 20 users in turn (scrypt, every sign-in succeeds)`,
};
const SETTINGS = {
  rateLimits: `off on both: Better Auth rateLimit.enabled false; pgauth serve --login-rate-ip and --login-rate-user 1000000 (its only per-request limits are on login, register, refresh)`,
  plain: `off (--no-cache): a revocation holds at once`,
  off: `cookie cache off: a revoked session is refused at once (the session row is read on every request)`,
  cached: `on (default: 10000 entries, 60 s): a revocation evicts the entry within milliseconds (NOTIFY pgauth_revocations; see scenario sdk)`,
  on: `cookie cache on, maxAge ${MAX_AGE} s (its default when enabled): a revoked session stays valid for up to ${MAX_AGE} s wherever its session_data cookie is presented`,
  pgauthHash: `bcrypt cost 11 (pgcrypto, in PostgreSQL; pgauth's default bcrypt_cost), of the SHA-256 pre-hash`,
  betterAuthHash: `scrypt N=16384 r=16 p=1 dkLen=64 (node:crypto, libuv thread pool) (its default)`,
  pgauthHashConcurrency: `2 (--hash-concurrency 2: both cores, as scrypt gets both through libuv)`,
};

export async function run(ctx: m.RunContext) {
  const { seconds, warmup, runs } = m.timing(ctx, 4, 2, 2);
  // 1,000 sessions on each side, 10 for each of 100 users; 20 login users at the default cost.
  const b = await pg.createDatabase(ctx, 'peer');
  const peer = await pg.createDatabase(ctx, 'peer_betterauth', true);
  const tokens = await pg.loginSessions(b.db, 1000, 'bench_peer_', 100);
  const logins = await pg.registerUsers(b.db, 'bench_peer_login_', 20, 11);
  await b.db.exec('vacuum analyze');
  // Better Auth without its cookie cache first: it creates its tables. Both servers sign with
  // one secret, 32 random bytes in their environment.
  const env = { BETTER_AUTH_SECRET: randomBytes(32).toString('base64url') };
  const startBa = (...extra: string[]) => {
    const args = ['--import', 'tsx', 'bench/peer/better-auth-server.ts', '--database-url'];
    const listening = /better-auth listening on (\S+)\n/;
    args.push(peer.url, ...extra);
    return http.startServer(ctx, args, listening, ['Better Auth', 'betterAuth'], env);
  };
  const baOff = await startBa('--migrate');
  const load = { connections: 20, seconds, warmup };
  const pgauth = http.sessionLoad(ctx, b.url, tokens, load);
  const [cached, plain, baOn, bare] = await Promise.all([
    pgauth.gateway(true, http.LOGIN_LOAD),
    pgauth.gateway(false, http.LOGIN_LOAD),
    startBa('--cookie-cache-max-age', `${MAX_AGE}`),
    pgauth.bare(),
  ]);
  const post = async <T>(server: http.Server, path: string, body?: object): Promise<T> => {
    const res = await fetch(server.url + path, { method: 'POST', body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const email = (i: number) => `bench_peer_${`${i}`.padStart(2, '0')}@bench.test`;
  const emails = [...Array(100).keys()].map(email);
  const body = { emails, password: pg.PASSWORD, count: 1000 };
  const setup = await post<{ cookies: string[]; verifyMs: number[] }>(baOff, '/bench/setup', body);
  await peer.db.exec('vacuum analyze');
  await b.db.exec('checkpoint');
  // One password check of each, one at a time, to read the login row against.
  const check = `select pgauth.crypt(pgauth._prehash($1), password_hash) from pgauth.users`;
  const bcryptMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await b.db.query(`${check} where username = $2`, [pg.PASSWORD, logins[0]]);
    bcryptMs.push(performance.now() - t);
  }
  // a and b: five sides in the same rounds, in the order of the table of resource use.
  const cookies = (all: string[]) => all.map((cookie) => ({ method: 'GET', headers: { cookie } }));
  const ba = (label: string, server: http.Server, how: string, describe: string) => {
    const requests = cookies(setup.cookies.map((c) => `better-auth.session_token=${c}`));
    const spec = { label, server, path: '/session', requests, describe };
    const what = `GET /session (getSession), cookie cache ${how}, 1,000 cookies`;
    return http.httpSide(ctx, { ...spec, load: what }, load);
  };
  const onCookies = '1000 cookie headers: session_token and session_data';
  const off = ba('Better Auth, no cookie cache', baOff, 'off', '1000 session_token cookies');
  const on = ba('Better Auth, cookie cache', baOn, 'on', onCookies);
  // Its session_data cookies (those getSession sets, as a sign-in would) expire after maxAge:
  // made again before a run that could outlive them, which would quietly go to the database.
  let madeAt = 0;
  const fresh = async () => {
    if (Date.now() - madeAt < (MAX_AGE - seconds - 30) * 1000) return;
    on.requests = cookies(await post(baOn, '/bench/cache-cookies', { cookies: setup.cookies }));
    madeAt = Date.now();
  };
  // Its checks over the whole run, and those that went to the database (a new session_data
  // cookie): at most one in a thousand.
  const stats = { sessions: 0, cacheFills: 0 };
  const [onRun, onWarm, onAfter] = [on.run, on.warm, on.after];
  on.run = () => fresh().then(onRun);
  on.warm = () => fresh().then(onWarm);
  on.after = async () => {
    Object.assign(stats, await post(baOn, '/bench/stats'));
    const fills = `${stats.cacheFills} of ${stats.sessions} checks went to the database`;
    if (stats.cacheFills > stats.sessions / 1000) throw new Error(fills);
    return onAfter();
  };
  // Each side's cache, and the bare server's figures for scale, in both rows.
  const caches =
    (pgauthCache: string, betterAuthCache: string, fills = false) =>
    ([, , , , bare = []]: number[][], sides: m.Settings[]) => {
      const rest = { rateLimits: SETTINGS.rateLimits, pgauthCache, betterAuthCache };
      const [betterAuthCacheFills, betterAuthCachedChecks] = [stats.cacheFills, stats.sessions];
      const more: m.Settings = fills ? { betterAuthCacheFills, betterAuthCachedChecks } : {};
      return { bareNodeHttpReqPerSec: Math.round(m.median(bare)), ...sides[4], ...rest, ...more };
    };
  await m.measureGroup(ctx, {
    unit: 'req/s',
    sides: [plain, off, cached, on, bare],
    rows: [
      [ROWS.a, [0, ROWS.plain], [1, ROWS.off], 1, caches(SETTINGS.plain, SETTINGS.off)],
      [ROWS.b, [2, ROWS.cached], [3, ROWS.on], 1, caches(SETTINGS.cached, SETTINGS.on, true)],
    ],
    settings: { connections: 20, ...runs, sessionsEachSide: 1000, usersEachSide: 100 },
  });
  // c: 20 users in turn on each side, every login succeeding; Better Auth's with the Origin a
  // browser sends (it checks it against its base URL).
  const loginLoad = { connections: 8, seconds, warmup: 1 };
  const signIns = emails.slice(0, 20).map((email) => ({ email, password: pg.PASSWORD }));
  const signIn = {
    label: 'Better Auth sign-ins',
    server: baOff,
    path: '/api/auth/sign-in/email',
    requests: http.postJson(signIns, { origin: baOff.url }),
    describe: 'sign-ins of 20 users',
    load: 'POST /api/auth/sign-in/email, scrypt in process, 20 users',
  };
  await m.measureGroup(ctx, {
    unit: '/s',
    sides: [
      http.loginSide(ctx, cached.server, logins, 'bcrypt cost 11 in PostgreSQL', loginLoad),
      http.httpSide(ctx, signIn, loginLoad),
    ],
    rows: [[ROWS.c, [0, ROWS.login], [1, ROWS.signIn], 1]],
    settings: {
      connections: 8,
      ...runs,
      warmupSeconds: 1,
      pgauthHash: SETTINGS.pgauthHash,
      betterAuthHash: SETTINGS.betterAuthHash,
      pgauthVerifyMs: m.round(m.median(bcryptMs)),
      betterAuthVerifyMs: m.round(m.median(setup.verifyMs)),
      pgauthHashConcurrency: SETTINGS.pgauthHashConcurrency,
      rateLimits: SETTINGS.rateLimits,
    },
  });
}
