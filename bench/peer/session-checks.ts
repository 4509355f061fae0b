/**
 * Comparisons a and b of scenario `peer`: session checks, five sides in interleaved rounds (pgauth
 * with and without its cache, Better Auth with and without its cookie cache, a bare node:http
 * server for scale), each loaded by the same autocannon process with one session per request out
 * of 1,000. A cookie-cache run must be answered from the cookie: the Better Auth server counts the
 * checks that went to its database, and more than one in a thousand is an error.
 */
import { autocannonRequests, autocannonTokens, type Load } from '../lib/autocannon.ts';
import { formatFigure } from '../lib/report.ts';
import { interleaveMany, pair } from '../lib/rounds-many.ts';
import type { Comparison, Resource, RunContext } from '../lib/scenario.ts';
import { rssMiB, type Server, withCpu } from '../lib/server.ts';
import { median } from '../lib/stats.ts';
import {
  cacheCookieHeaders,
  checkSessions,
  SESSION_COOKIE,
  serverStats,
} from './better-auth-client.ts';
import {
  baCommand,
  COOKIE_CACHE_MAX_AGE,
  type Facts,
  gwCommand,
  PGAUTH_CACHE,
  rateLimits,
  round1,
  SESSIONS,
  type Servers,
  type Settings,
  USERS,
} from './common.ts';

/** A load's result with the CPU time its server process used, per 1,000 requests. */
type Measured = Load & { cpuMsPer1000: number };

export async function measureSessions(
  ctx: RunContext,
  s: Settings,
  sv: Servers,
  tokens: string[],
  baCookies: string[],
  facts: Facts,
): Promise<{ comparisons: Comparison[]; resources: Resource[]; info: Record<string, unknown> }> {
  type Get = { method: string; headers: Record<string, string> };
  const offRequests: Get[] = baCookies.map((c) => ({
    method: 'GET',
    headers: { cookie: `${SESSION_COOKIE}=${c}` },
  }));
  // The session_data cookies expire after maxAge: made again before a run that could outlive them
  // (a request with an expired one would quietly go to the database).
  let onRequests: Get[] = [];
  let madeAt = 0;
  const freshOnRequests = async (duration: number): Promise<Get[]> => {
    if (Date.now() - madeAt > (COOKIE_CACHE_MAX_AGE - duration - 30) * 1000) {
      const headers = await cacheCookieHeaders(sv.baOn.url, baCookies, ctx.signal);
      await checkSessions(sv.baOn.url, headers, ctx.signal);
      onRequests = headers.map((cookie) => ({ method: 'GET', headers: { cookie } }));
      madeAt = Date.now();
    }
    return onRequests;
  };
  const fills = { total: 0, requests: 0 };

  const load = (url: string, duration: number, requests: Get[], what: string) =>
    autocannonRequests(
      url,
      { connections: s.session.connections, duration, requests, describe: what },
      ctx.signal,
    );
  const gateway = (label: string, server: Server) => ({
    label,
    server,
    run: (d: number) =>
      autocannonTokens(
        `${server.url}/v1/session`,
        { connections: s.session.connections, duration: d, tokens },
        ctx.signal,
      ),
  });
  const sides = [
    gateway('pgauth, cache', sv.cached),
    gateway('pgauth, --no-cache', sv.plain),
    {
      label: 'Better Auth, cookie cache',
      server: sv.baOn,
      run: async (d: number) => {
        const requests = await freshOnRequests(d);
        const before = await serverStats(sv.baOn.url, ctx.signal);
        const r = await load(
          `${sv.baOn.url}/session`,
          d,
          requests,
          `${SESSIONS} cookie headers: session_token and session_data`,
        );
        const after = await serverStats(sv.baOn.url, ctx.signal);
        fills.total += after.cacheFills - before.cacheFills;
        fills.requests += after.sessions - before.sessions;
        return r;
      },
    },
    {
      label: 'Better Auth, no cookie cache',
      server: sv.baOff,
      run: (d: number) =>
        load(`${sv.baOff.url}/session`, d, offRequests, `${SESSIONS} session_token cookies`),
    },
    {
      label: 'bare node:http',
      server: sv.bare,
      run: (d: number) =>
        autocannonTokens(
          `${sv.bare.url}/v1/session`,
          { connections: s.session.connections, duration: d, tokens },
          ctx.signal,
        ),
    },
  ];

  ctx.log(`peer: session checks, warm-up ${s.session.warmup} s each`);
  for (const side of sides) await side.run(s.session.warmup);
  fills.total = 0;
  fills.requests = 0;
  const loads = sides.map(() => [] as Measured[]);
  const figures = await interleaveMany(
    s.rounds,
    sides.map((side, i) => ({
      label: side.label,
      run: async () => {
        const r = await withCpu(side.server.child.pid as number, () =>
          side.run(s.session.duration),
        );
        loads[i]?.push(r);
        return r.rps;
      },
    })),
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} req/s` },
  );
  // A cookie-cache run must be answered from the cookie: a fill is a database lookup.
  if (fills.total > fills.requests * 0.001) {
    throw new Error(
      `Better Auth cookie cache: ${fills.total} of ${fills.requests} session checks went to the database`,
    );
  }
  const rss: Record<string, number> = {};
  for (const [key, server] of Object.entries(sv) as [string, Server][]) {
    rss[key] = round1(await rssMiB(server.child.pid as number));
  }
  const [cachedL, plainL, onL, offL, bareL] = loads as [
    Measured[],
    Measured[],
    Measured[],
    Measured[],
    Measured[],
  ];
  const [cachedF, plainF, onF, offF, bareF] = figures as [
    number[],
    number[],
    number[],
    number[],
    number[],
  ];
  const lat = (xs: Load[]) => `${median(xs.map((x) => x.p50))}/${median(xs.map((x) => x.p99))}`;
  const cpu = (xs: Measured[]) => round1(median(xs.map((x) => x.cpuMsPer1000)));
  ctx.log(
    `latency p50/p99 ms: pgauth cache ${lat(cachedL)}, --no-cache ${lat(plainL)}; Better Auth cookie cache ${lat(onL)}, none ${lat(offL)}; bare ${lat(bareL)}`,
  );
  ctx.log(
    `server CPU ms per 1,000 requests: pgauth cache ${cpu(cachedL)}, --no-cache ${cpu(plainL)}; Better Auth cookie cache ${cpu(onL)}, none ${cpu(offL)}; bare ${cpu(bareL)}`,
  );
  ctx.log(
    `RSS MiB after the load: pgauth cache ${rss.cached}, --no-cache ${rss.plain}; Better Auth cookie cache ${rss.baOn}, none ${rss.baOff}`,
  );
  const c = `autocannon -c ${s.session.connections}`;
  const gwLoad = (cache: string) =>
    `GET /v1/session, ${cache}, ${formatFigure(SESSIONS)} tokens, ${c}`;
  const baLoad = (cache: string) =>
    `GET /session (getSession), cookie cache ${cache}, ${formatFigure(SESSIONS)} cookies, ${c}`;
  const common = {
    connections: s.session.connections,
    durationSeconds: s.session.duration,
    rounds: s.rounds,
    warmupSeconds: s.session.warmup,
    sessionsEachSide: SESSIONS,
    usersEachSide: USERS,
    bareNodeHttpReqPerSec: Math.round(median(bareF)),
    bareP50P99Ms: lat(bareL),
    bareCpuMsPer1000: cpu(bareL),
    betterAuthVersion: facts.betterAuth,
    pgauthVersion: facts.pgauth,
    node: facts.node,
    postgres: facts.postgres,
    rateLimits,
  };
  return {
    comparisons: [
      {
        name: 'GET /v1/session --no-cache vs BA getSession',
        unit: 'req/s',
        pgauthLabel: `pgauth serve --no-cache, GET /v1/session, a Bearer token per request out of ${SESSIONS} (pgauth.validate / validate_many on every request)`,
        baselineLabel: `Better Auth, cookie cache off (its default): GET /session calling auth.api.getSession({ headers }), a session_token cookie per request out of ${SESSIONS} (a session + user lookup in PostgreSQL on every request)`,
        result: pair(plainF, offF),
        target: 1,
        settings: {
          ...common,
          pgauthCache: 'off (--no-cache): a revocation holds at once',
          betterAuthCache:
            'cookie cache off: a revoked session is refused at once (the session row is read on every request)',
          pgauthP50P99Ms: lat(plainL),
          betterAuthP50P99Ms: lat(offL),
          pgauthCpuMsPer1000: cpu(plainL),
          betterAuthCpuMsPer1000: cpu(offL),
          pgauthRssMiB: rss.plain as number,
          betterAuthRssMiB: rss.baOff as number,
        },
        commands: {
          pgauth: gwCommand(sv.plain, ['--no-cache'], plainL),
          baseline: baCommand(sv.baOff, '', offL),
        },
      },
      {
        name: 'GET /v1/session cache vs BA cookie cache',
        unit: 'req/s',
        pgauthLabel: `pgauth serve (validation cache on, the default), GET /v1/session, a Bearer token per request out of ${SESSIONS}`,
        baselineLabel: `Better Auth, cookie cache on (maxAge ${COOKIE_CACHE_MAX_AGE} s, compact strategy): GET /session calling auth.api.getSession({ headers }), per request the session_token and session_data cookies of one of ${SESSIONS} sessions (HMAC checks, no database)`,
        result: pair(cachedF, onF),
        target: 1,
        settings: {
          ...common,
          pgauthCache: `on (default: ${PGAUTH_CACHE.entries} entries, ${PGAUTH_CACHE.maxAgeSeconds} s): a revocation evicts the entry within milliseconds (NOTIFY pgauth_revocations; see scenario sdk)`,
          betterAuthCache: `cookie cache on, maxAge ${COOKIE_CACHE_MAX_AGE} s (its default when enabled): a revoked session stays valid for up to ${COOKIE_CACHE_MAX_AGE} s wherever its session_data cookie is presented`,
          betterAuthCacheFills: fills.total,
          betterAuthCachedChecks: fills.requests,
          pgauthP50P99Ms: lat(cachedL),
          betterAuthP50P99Ms: lat(onL),
          pgauthCpuMsPer1000: cpu(cachedL),
          betterAuthCpuMsPer1000: cpu(onL),
          pgauthRssMiB: rss.cached as number,
          betterAuthRssMiB: rss.baOn as number,
        },
        commands: {
          pgauth: gwCommand(sv.cached, [], cachedL),
          baseline: baCommand(sv.baOn, ` --cookie-cache-max-age ${COOKIE_CACHE_MAX_AGE}`, onL),
        },
      },
    ],
    resources: [
      {
        process: 'pgauth gateway',
        load: gwLoad('no cache'),
        cpuMsPer1000: cpu(plainL),
        rssMiB: rss.plain,
      },
      { process: 'Better Auth', load: baLoad('off'), cpuMsPer1000: cpu(offL), rssMiB: rss.baOff },
      {
        process: 'pgauth gateway',
        load: gwLoad('cache'),
        cpuMsPer1000: cpu(cachedL),
        rssMiB: rss.cached,
      },
      { process: 'Better Auth', load: baLoad('on'), cpuMsPer1000: cpu(onL), rssMiB: rss.baOn },
      {
        process: 'bare node:http',
        load: gwLoad('constant answer'),
        cpuMsPer1000: cpu(bareL),
        rssMiB: rss.bare,
      },
    ],
    info: {
      rounds: {
        pgauthCache: cachedF,
        pgauthNoCache: plainF,
        betterAuthCookieCache: onF,
        betterAuthNoCookieCache: offF,
        bare: bareF,
      },
      perRound: Object.fromEntries(
        sides.map((side, i) => [
          side.label,
          (loads[i] as Measured[]).map(({ p50, p99, cpuMsPer1000 }) => ({
            p50,
            p99,
            cpuMsPer1000: round1(cpuMsPer1000),
          })),
        ]),
      ),
      rssMiBAfterLoad: rss,
      betterAuthCookieCache: { fills: fills.total, checks: fills.requests },
    },
  };
}
