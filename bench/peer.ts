/**
 * Scenario `peer`: pgauth side by side with Better Auth (email and password, its latest release
 * that runs on Node 20, a devDependency of the benchmark only), on the same PostgreSQL, each in
 * its own database, each served over HTTP in its own process, driven by the same autocannon
 * process and settings, in interleaved rounds. pgauth is the "pgauth" side and Better Auth the
 * "baseline" side of every comparison: a ratio above 1 means pgauth answered more requests.
 *
 *   a. pgauth `GET /v1/session` with `--no-cache` vs Better Auth `auth.api.getSession` with its
 *      cookie cache off: every request asks the database.
 *   b. pgauth `GET /v1/session` with its cache (the default) vs Better Auth `getSession` with its
 *      cookie cache on: neither asks the database once warm.
 *   c. pgauth `POST /v1/login` (bcrypt, pgauth's default cost) vs Better Auth
 *      `POST /api/auth/sign-in/email` (scrypt, its default parameters).
 *
 * A bare node:http server is measured in the same rounds as (a) and (b), for scale. Each side's
 * settings that the figures depend on (hash and cost, cache staleness, rate limits, versions) are
 * kept with each comparison. See docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  adminQuery,
  adminUrl,
  type BenchDatabase,
  createMigratedDatabase,
  DATABASE_PREFIX,
  withDatabase,
} from './lib/db.ts';
import type { RunContext, ScenarioResult } from './lib/scenario.ts';
import {
  GATEWAY_LISTENING,
  gatewayArgs,
  type Server,
  startServer,
  writeBareServer,
} from './lib/server.ts';
import { BENCH_PASSWORD, loginSessions } from './lib/sessions.ts';
import { median } from './lib/stats.ts';
import { checkSessions, SESSION_COOKIE, setupStep, signUp } from './peer/better-auth-client.ts';
import {
  COOKIE_CACHE_MAX_AGE,
  EMAIL_DOMAIN,
  type Facts,
  GATEWAY_OPTIONS,
  LOGIN_COST,
  LOGIN_USERS,
  round1,
  SESSIONS,
  type Servers,
  type Settings,
  USERS,
} from './peer/common.ts';
import { measureSessions } from './peer/session-checks.ts';
import { measureLogin } from './peer/sign-in.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BA_SERVER = join(ROOT, 'bench/peer/better-auth-server.ts');

function settingsFor(ctx: RunContext): Settings {
  return {
    rounds: ctx.rounds ?? (ctx.quick ? 2 : 5),
    // Five sides a round: 4 s each keeps a full run under four minutes.
    session: { connections: 20, duration: ctx.quick ? 2 : 4, warmup: ctx.quick ? 1 : 2 },
    // Password hashing is CPU: 8 connections keep both cores busy on either side.
    login: { connections: 8, duration: ctx.quick ? 2 : 4, warmup: 1 },
  };
}

// ---------------------------------------------------------------------------------------------
// Setup

/** The Better Auth database: named like pgauth's, so that leftovers are recognisable. */
async function createPeerDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${DATABASE_PREFIX}peer_betterauth_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${pg.escapeIdentifier(name)}`);
  let dropped = false;
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await adminQuery(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    },
  };
}

/** Milliseconds of one bcrypt verification at `cost` in PostgreSQL, one at a time (median of 5). */
async function bcryptVerifyMs(b: BenchDatabase, username: string): Promise<number> {
  const r = await b.db.query<{ prehash: string; hash: string }>(
    `select pgauth._prehash($1) as prehash, u.password_hash as hash
     from pgauth.users u where u.username = $2`,
    [BENCH_PASSWORD, username],
  );
  const { prehash, hash } = r.rows[0] ?? { prehash: '', hash: '' };
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const ok = await b.db.query<{ ok: boolean }>('select pgauth.crypt($1, $2) = $2 as ok', [
      prehash,
      hash,
    ]);
    if (ok.rows[0]?.ok !== true) throw new Error('bcrypt verification failed');
    times.push(performance.now() - t);
  }
  return round1(median(times));
}

async function startServers(
  ctx: RunContext,
  b: BenchDatabase,
  baUrl: string,
  secretFile: string,
  bareScript: string,
  servers: Server[],
): Promise<Servers> {
  const start = async (args: string[], listening: RegExp): Promise<Server> => {
    const server = await startServer(process.execPath, args, listening, ctx.signal);
    servers.push(server);
    return server;
  };
  const serve = gatewayArgs(b.url, GATEWAY_OPTIONS);
  const gateway = GATEWAY_LISTENING;
  const ba = ['--import', 'tsx', BA_SERVER, '--database-url', baUrl, '--secret-file', secretFile];
  const baListening = /better-auth listening on (http:\/\/\S+)\ncookie cache: ([^\n]*)\n/;
  // Started together (each takes a second or two to load); all settled before an error is
  // thrown, so that every one that did start is in `servers` and gets stopped.
  const started = await Promise.allSettled([
    start(serve, gateway),
    start([...serve, '--no-cache'], gateway),
    start(ba, baListening),
    start([...ba, '--cookie-cache-max-age', String(COOKIE_CACHE_MAX_AGE)], baListening),
    start([bareScript], /bare listening on (http:\/\/\S+)/),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const [cached, plain, baOff, baOn, bare] = started.map(
    (r) => (r as PromiseFulfilledResult<Server>).value,
  ) as [Server, Server, Server, Server, Server];
  const line = (s: Server, re: RegExp): string => re.exec(s.output)?.[2] ?? '?';
  const lines = [
    line(cached, gateway),
    line(plain, gateway),
    line(baOff, baListening),
    line(baOn, baListening),
  ];
  if (
    !lines[0]?.startsWith('on') ||
    !lines[1]?.startsWith('off') ||
    lines[2] !== 'off' ||
    !lines[3]?.startsWith('on')
  ) {
    throw new Error(`caches: ${lines.join(' / ')} (want on / off / off / on)`);
  }
  ctx.log(
    `pgauth cache ${cached.url}, pgauth --no-cache ${plain.url}, Better Auth ${baOff.url} (cookie cache off), ${baOn.url} (on, maxAge ${COOKIE_CACHE_MAX_AGE} s), bare ${bare.url}`,
  );
  return { cached, plain, baOff, baOn, bare };
}

// ---------------------------------------------------------------------------------------------

export async function run(ctx: RunContext): Promise<ScenarioResult> {
  const s = settingsFor(ctx);
  const started = Date.now();
  const dir = join(ctx.scratchDir, 'peer');
  await mkdir(dir, { recursive: true });
  const bareScript = await writeBareServer(dir);
  const secretFile = join(dir, 'better-auth-secret');
  await writeFile(secretFile, randomBytes(32).toString('base64url'), { mode: 0o600 });

  const b = await createMigratedDatabase('peer');
  const servers: Server[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((x) => x.stop().catch(() => {})));
  };
  const onAbort = (): void => {
    void stopAll();
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let peerDb: Awaited<ReturnType<typeof createPeerDatabase>> | null = null;
  try {
    peerDb = await createPeerDatabase();

    // pgauth: 1,000 sessions of 100 users in SQL (bcrypt cost 4), 20 login users at the default;
    // meanwhile Better Auth's tables, by its migration API, in its own database.
    const pgauthUsers = Array.from({ length: LOGIN_USERS }, (_, i) => `bench_peer_login_${i}`);
    const pgauthSetup = async (): Promise<string[]> => {
      const tokens = await loginSessions(b, SESSIONS, { prefix: 'bench_peer_', users: USERS });
      await b.db.query('update pgauth.settings set bcrypt_cost = $1', [LOGIN_COST]);
      for (const name of pgauthUsers) {
        await b.db.query('select pgauth.register($1, $2)', [name, BENCH_PASSWORD]);
      }
      await b.db.exec('vacuum analyze');
      return tokens;
    };
    const [tokens, migrated] = await Promise.all([
      pgauthSetup(),
      setupStep<{ tables: string[] }>(
        'migrate',
        ['--database-url', peerDb.url, '--secret-file', secretFile],
        ctx.signal,
      ),
    ]);
    ctx.signal.throwIfAborted();
    const sv = await startServers(ctx, b, peerDb.url, secretFile, bareScript, servers);

    // Better Auth: 100 users signed up over HTTP (each also signed in: 100 sessions), then 900
    // more sessions opened as its sign-in opens them (better-auth-setup.ts says why).
    const emails = Array.from(
      { length: USERS },
      (_, i) => `bench_peer_${String(i).padStart(2, '0')}@${EMAIL_DOMAIN}`,
    );
    const signUpStart = Date.now();
    const signedUp = await signUp(sv.baOff.url, emails, BENCH_PASSWORD, ctx.signal);
    const signUpSeconds = (Date.now() - signUpStart) / 1000;
    const more = await setupStep<{ cookies: string[]; verifyMs: number[] }>(
      'sessions',
      [
        '--database-url',
        peerDb.url,
        '--secret-file',
        secretFile,
        '--count',
        String(SESSIONS - USERS),
        '--password',
        BENCH_PASSWORD,
      ],
      ctx.signal,
    );
    const baCookies = [...signedUp, ...more.cookies];
    await checkSessions(
      sv.baOff.url,
      baCookies.map((c) => `${SESSION_COOKIE}=${c}`),
      ctx.signal,
    );
    for (const gw of [sv.cached, sv.plain]) {
      const r = await fetch(`${gw.url}/v1/session`, {
        headers: { authorization: `Bearer ${tokens[0]}` },
        signal: ctx.signal,
      });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`GET /v1/session on ${gw.url}: ${r.status}`);
    }
    const peerPool = new pg.Pool({ connectionString: peerDb.url, max: 1 });
    try {
      await peerPool.query('vacuum analyze');
    } finally {
      await peerPool.end();
    }
    await b.db.exec('checkpoint');

    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const baPkg = JSON.parse(
      await readFile(join(ROOT, 'node_modules/better-auth/package.json'), 'utf8'),
    ) as { version: string };
    const pgVersion = await b.db.query<{ v: string }>(
      "select current_setting('server_version') as v",
    );
    const facts: Facts = {
      betterAuth: baPkg.version,
      pgauth: pkg.version,
      node: process.version,
      postgres: (pgVersion.rows[0] as { v: string } | undefined)?.v ?? '?',
      scryptVerifyMs: round1(median(more.verifyMs)),
      bcryptVerifyMs: await bcryptVerifyMs(b, pgauthUsers[0] as string),
    };
    const setupSeconds = (Date.now() - started) / 1000;
    ctx.log(
      `peer: setup ${setupSeconds.toFixed(1)} s (Better Auth: ${USERS} sign-ups in ${signUpSeconds.toFixed(1)} s, tables ${migrated.tables.join(', ')}); one password check: scrypt ${facts.scryptVerifyMs} ms, bcrypt cost ${LOGIN_COST} ${facts.bcryptVerifyMs} ms`,
    );

    const sessions = await measureSessions(ctx, s, sv, tokens, baCookies, facts);
    const login = await measureLogin(ctx, s, sv, pgauthUsers, emails.slice(0, LOGIN_USERS), facts);
    return {
      comparisons: [...sessions.comparisons, login.comparison],
      resources: [...sessions.resources, ...login.resources],
      info: {
        ...sessions.info,
        versions: facts,
        databases: { pgauth: b.name, betterAuth: peerDb.name },
        setupSeconds,
        betterAuthSignUpSeconds: signUpSeconds,
        totalSeconds: (Date.now() - started) / 1000,
        quick: ctx.quick,
      },
    };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await stopAll();
    const drops = await Promise.allSettled([b.drop(), peerDb?.drop()]);
    for (const d of drops) {
      if (d.status === 'rejected') ctx.log(`peer: could not drop a database: ${String(d.reason)}`);
    }
    await rm(secretFile, { force: true });
  }
}
