/**
 * Scenario `http`: the gateway without its cache, so that every request is checked in the
 * database.
 *
 *   1. `GET /v1/session` (pgauth serve --no-cache) against two baselines returning a constant
 *      JSON body: a bare `node:http` server (target ≥ 0.30) and a bare Fastify server, the
 *      gateway's framework at its defaults (no target: it says how much of the gap is Fastify's).
 *      All three are driven by the same autocannon process, settings and requests (a Bearer token
 *      per request out of 1,000 live sessions), in interleaved rounds of the three. Also kept:
 *      p50/p99 latency of each, the gateway's RSS after the load (< 150 MiB), and the CPU time
 *      per 1,000 requests and RSS of each server.
 *   2. `POST /v1/login` over HTTP against bare bcrypt verifications (pgbench, crypt() in the same
 *      PostgreSQL) at the same cost, 10. Target ≥ 0.9. Also kept: the gateway's CPU time per 1,000
 *      logins and its RSS after them.
 *
 * See docs/benchmarks.md for why it is measured this way.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { autocannonRequests, autocannonTokens, type Load } from './lib/autocannon.ts';
import { cryptBaseline } from './lib/crypt.ts';
import { type BenchDatabase, createMigratedDatabase } from './lib/db.ts';
import { formatFigure } from './lib/report.ts';
import { interleave } from './lib/rounds.ts';
import { interleaveMany, pair } from './lib/rounds-many.ts';
import type { Comparison, Resource, RunContext, ScenarioResult } from './lib/scenario.ts';
import {
  GATEWAY_LISTENING,
  gatewayArgs,
  NO_LOGIN_LIMITS,
  rssMiB,
  type Server,
  startServer,
  withCpu,
  writeBareFastifyServer,
  writeBareServer,
} from './lib/server.ts';
import { BENCH_PASSWORD, loginSessions } from './lib/sessions.ts';
import { median } from './lib/stats.ts';

const RSS_TARGET_MIB = 150;
/** Live sessions whose tokens the validation load cycles through. */
const TOKENS = 1_000;
/** Users the login load cycles through, so that logins do not queue on one user row. */
const LOGIN_USERS = 20;
const LOGIN_COST = 10;

interface Settings {
  rounds: number;
  warmup: number;
  connections: number;
  duration: number;
  login: { connections: number; duration: number; cryptClients: number };
}

function settingsFor(ctx: RunContext): Settings {
  return {
    rounds: ctx.rounds ?? (ctx.quick ? 2 : 5),
    warmup: ctx.quick ? 1 : 3,
    connections: 20,
    duration: ctx.quick ? 3 : 8,
    // bcrypt is pure CPU: two verifications at once keep both cores busy (as in scenario sql);
    // the gateway gets a few more connections so that its hashing slots never wait for a request.
    login: { connections: 8, duration: ctx.quick ? 3 : 8, cryptClients: 2 },
  };
}

/** The session load as the table of resource use names it; `how`: what the server does. */
const sessionLoad = (s: Settings, how: string): string =>
  `GET /v1/session, ${how}, ${formatFigure(TOKENS)} tokens, autocannon -c ${s.connections}`;

async function sessionVsBare(
  ctx: RunContext,
  s: Settings,
  gateway: Server,
  bare: Server,
  bareFastify: Server,
  tokens: string[],
): Promise<{ comparisons: Comparison[]; resources: Resource[]; info: Record<string, unknown> }> {
  const load = (duration: number) => ({ connections: s.connections, duration, tokens });
  const sides = [
    { label: 'pgauth GET /v1/session (no cache)', server: gateway },
    { label: 'bare node:http', server: bare },
    { label: 'bare Fastify', server: bareFastify },
  ].map((x) => ({ ...x, url: `${x.server.url}/v1/session`, pid: x.server.child.pid as number }));
  const rssBefore = await rssMiB(gateway.child.pid as number);
  ctx.log(`http: warm-up ${s.warmup} s each`);
  for (const side of sides) await autocannonTokens(side.url, load(s.warmup), ctx.signal);

  type Measured = Load & { cpuMsPer1000: number };
  const loads = sides.map(() => [] as Measured[]);
  // The three sides in every round, in an order that changes each round: a drift of the machine
  // weighs on both baselines as on the gateway.
  const figures = await interleaveMany(
    s.rounds,
    sides.map((side, i) => ({
      label: side.label,
      run: async () => {
        const r = await withCpu(side.pid, () =>
          autocannonTokens(side.url, load(s.duration), ctx.signal),
        );
        loads[i]?.push(r);
        return r.rps;
      },
    })),
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} req/s` },
  );
  const [rssAfter, bareRss, fastifyRss] = await Promise.all(sides.map((x) => rssMiB(x.pid)));
  const [gatewayLoads, bareLoads, fastifyLoads] = loads as [Measured[], Measured[], Measured[]];
  const [gatewayRps, bareRps, fastifyRps] = figures as [number[], number[], number[]];
  const med = (xs: Load[], k: 'p50' | 'p99') => median(xs.map((x) => x[k]));
  const latency = {
    pgauthP50Ms: med(gatewayLoads, 'p50'),
    pgauthP99Ms: med(gatewayLoads, 'p99'),
    bareP50Ms: med(bareLoads, 'p50'),
    bareP99Ms: med(bareLoads, 'p99'),
  };
  const fastifyLatency = {
    bareFastifyP50Ms: med(fastifyLoads, 'p50'),
    bareFastifyP99Ms: med(fastifyLoads, 'p99'),
  };
  ctx.log(
    `latency p50/p99 ms: pgauth ${latency.pgauthP50Ms}/${latency.pgauthP99Ms}, bare node:http ${latency.bareP50Ms}/${latency.bareP99Ms}, bare Fastify ${fastifyLatency.bareFastifyP50Ms}/${fastifyLatency.bareFastifyP99Ms}`,
  );
  ctx.log(
    `gateway RSS: ${(rssAfter as number).toFixed(1)} MiB after the load (${rssBefore.toFixed(1)} before; target < ${RSS_TARGET_MIB})`,
  );
  const cpuOf = (xs: Measured[]) => round1(median(xs.map((x) => x.cpuMsPer1000)));
  const cpu = {
    gatewayCpuMsPer1000: cpuOf(gatewayLoads),
    bareCpuMsPer1000: cpuOf(bareLoads),
  };
  const bareFastifyCpuMsPer1000 = cpuOf(fastifyLoads);
  ctx.log(
    `CPU per 1,000 requests: gateway ${cpu.gatewayCpuMsPer1000} ms, bare node:http ${cpu.bareCpuMsPer1000} ms, bare Fastify ${bareFastifyCpuMsPer1000} ms`,
  );
  const common = {
    connections: s.connections,
    durationSeconds: s.duration,
    rounds: s.rounds,
    warmupSeconds: s.warmup,
    tokens: TOKENS,
  };
  const gatewayLabel = `pgauth serve --no-cache, GET /v1/session, a Bearer token per request out of ${TOKENS} live sessions (pgauth.validate / validate_many on every request)`;
  return {
    comparisons: [
      {
        name: 'GET /v1/session (no cache) vs bare node:http',
        unit: 'req/s',
        pgauthLabel: gatewayLabel,
        baselineLabel: 'node:http server answering a constant JSON body, same requests',
        result: pair(gatewayRps, bareRps),
        target: 0.3,
        settings: {
          ...common,
          ...latency,
          gatewayRssMiB: round1(rssAfter as number),
          gatewayRssTargetMiB: RSS_TARGET_MIB,
          ...cpu,
        },
        commands: {
          pgauth: gatewayLoads[0]?.command ?? '',
          baseline: bareLoads[0]?.command ?? '',
        },
      },
      {
        name: 'GET /v1/session (no cache) vs bare Fastify',
        unit: 'req/s',
        pgauthLabel: `${gatewayLabel} (the rounds of the row above)`,
        baselineLabel: `Fastify at its defaults (logger off), one route GET /v1/session sending a constant JSON body, same requests: the gateway's framework doing nothing else`,
        result: pair(gatewayRps, fastifyRps),
        settings: {
          ...common,
          pgauthP50Ms: latency.pgauthP50Ms,
          pgauthP99Ms: latency.pgauthP99Ms,
          ...fastifyLatency,
          gatewayCpuMsPer1000: cpu.gatewayCpuMsPer1000,
          bareFastifyCpuMsPer1000,
          bareFastifyRssMiB: round1(fastifyRss as number),
          bareNodeHttpReqPerSec: Math.round(median(bareRps)),
        },
        commands: {
          pgauth: gatewayLoads[0]?.command ?? '',
          baseline: `node .bench/http/bare-fastify-server.mjs; ${fastifyLoads[0]?.command ?? ''}`,
        },
      },
    ],
    resources: [
      {
        process: 'pgauth gateway',
        load: sessionLoad(s, 'no cache'),
        cpuMsPer1000: cpu.gatewayCpuMsPer1000,
        rssMiB: round1(rssAfter as number),
      },
      {
        process: 'bare node:http',
        load: sessionLoad(s, 'constant answer'),
        cpuMsPer1000: cpu.bareCpuMsPer1000,
        rssMiB: round1(bareRss as number),
      },
      {
        process: 'bare Fastify',
        load: sessionLoad(s, 'constant answer'),
        cpuMsPer1000: bareFastifyCpuMsPer1000,
        rssMiB: round1(fastifyRss as number),
      },
    ],
    info: {
      latencyMs: {
        pgauth: gatewayLoads.map(({ p50, p99 }) => ({ p50, p99 })),
        bare: bareLoads.map(({ p50, p99 }) => ({ p50, p99 })),
        bareFastify: fastifyLoads.map(({ p50, p99 }) => ({ p50, p99 })),
        ...latency,
        ...fastifyLatency,
      },
      gatewayRssMiB: { beforeLoad: rssBefore, afterLoad: rssAfter, target: RSS_TARGET_MIB },
      bareRssMiBAfterLoad: { nodeHttp: bareRss, fastify: fastifyRss },
      cpuMsPer1000: {
        gateway: gatewayLoads.map((x) => x.cpuMsPer1000),
        bare: bareLoads.map((x) => x.cpuMsPer1000),
        bareFastify: fastifyLoads.map((x) => x.cpuMsPer1000),
      },
      gatewayRssPass: (rssAfter as number) < RSS_TARGET_MIB,
    },
  };
}

async function loginVsCrypt(
  ctx: RunContext,
  s: Settings,
  b: BenchDatabase,
  gateway: Server,
): Promise<{ comparison: Comparison; resources: Resource[] }> {
  await b.db.query('update pgauth.settings set bcrypt_cost = $1', [LOGIN_COST]);
  const names = Array.from({ length: LOGIN_USERS }, (_, i) => `bench_http_login_${i}`);
  for (const name of names) {
    await b.db.query('select pgauth.register($1, $2)', [name, BENCH_PASSWORD]);
  }
  const crypt = await cryptBaseline(b, {
    username: names[0] as string,
    password: BENCH_PASSWORD,
    cost: LOGIN_COST,
    dir: join(ctx.scratchDir, 'http'),
    clients: s.login.cryptClients,
    threads: s.login.cryptClients,
    signal: ctx.signal,
  });
  const requests = names.map((username) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: BENCH_PASSWORD }),
  }));
  const loginUrl = `${gateway.url}/v1/login`;
  const login = (duration: number) =>
    autocannonRequests(
      loginUrl,
      {
        connections: s.login.connections,
        duration,
        requests,
        describe: `logins of ${LOGIN_USERS} users`,
      },
      ctx.signal,
    );
  ctx.log(`http: login vs crypt() at cost ${LOGIN_COST}, warm-up ${s.warmup} s each`);
  await login(s.warmup);
  await crypt.run(s.warmup);
  const commands = { pgauth: '', baseline: '' };
  const cpu: number[] = [];
  const result = await interleave(
    s.rounds,
    {
      label: 'pgauth POST /v1/login',
      run: async () => {
        const r = await withCpu(gateway.child.pid as number, () => login(s.login.duration));
        commands.pgauth = r.command;
        cpu.push(r.cpuMsPer1000);
        return r.rps;
      },
    },
    {
      label: `crypt() cost ${LOGIN_COST}`,
      run: async () => {
        const r = await crypt.run(s.login.duration);
        commands.baseline = crypt.redact(r.command);
        return r.tps;
      },
    },
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} /s` },
  );
  const rss = await rssMiB(gateway.child.pid as number);
  ctx.log(
    `gateway CPU per 1,000 logins: ${median(cpu).toFixed(1)} ms; RSS after the logins: ${rss.toFixed(1)} MiB`,
  );
  const comparison: Comparison = {
    name: `POST /v1/login vs crypt() (bcrypt cost ${LOGIN_COST})`,
    unit: '/s',
    pgauthLabel: `pgauth serve, POST /v1/login of ${LOGIN_USERS} users in turn (every login succeeds; rate limits raised)`,
    baselineLabel: `select crypt(prehash, stored hash) = stored hash in PostgreSQL, cost ${LOGIN_COST}, pgbench -c ${s.login.cryptClients}`,
    result,
    target: 0.9,
    settings: {
      connections: s.login.connections,
      cryptClients: s.login.cryptClients,
      durationSeconds: s.login.duration,
      rounds: s.rounds,
      warmupSeconds: s.warmup,
      bcryptCost: LOGIN_COST,
      hashConcurrency: s.login.cryptClients,
      gatewayCpuMsPer1000: round1(median(cpu)),
      gatewayRssMiB: round1(rss),
    },
    commands,
  };
  const resources: Resource[] = [
    {
      process: 'pgauth gateway',
      load: `POST /v1/login, bcrypt cost ${LOGIN_COST}, ${LOGIN_USERS} users, autocannon -c ${s.login.connections}`,
      cpuMsPer1000: round1(median(cpu)),
      rssMiB: round1(rss),
    },
  ];
  return { comparison, resources };
}

export async function run(ctx: RunContext): Promise<ScenarioResult> {
  const s = settingsFor(ctx);
  const started = Date.now();
  const dir = join(ctx.scratchDir, 'http');
  await mkdir(dir, { recursive: true });
  const bareScript = await writeBareServer(dir);
  const bareFastifyScript = await writeBareFastifyServer(dir);

  const b = await createMigratedDatabase('http');
  const servers: Server[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((x) => x.stop().catch(() => {})));
  };
  const onAbort = (): void => {
    void stopAll();
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const tokens = await loginSessions(b, TOKENS, { prefix: 'bench_http_', users: 10 });
    ctx.signal.throwIfAborted();

    const gateway = await startServer(
      process.execPath,
      gatewayArgs(b.url, [
        '--no-cache',
        ...NO_LOGIN_LIMITS,
        // As many hashes at once as the baseline runs (the default keeps a core for validations).
        '--hash-concurrency',
        String(s.login.cryptClients),
      ]),
      GATEWAY_LISTENING,
      ctx.signal,
    );
    servers.push(gateway);
    const bare = await startServer(
      process.execPath,
      [bareScript],
      /bare listening on (http:\/\/\S+)/,
      ctx.signal,
    );
    servers.push(bare);
    const bareFastify = await startServer(
      process.execPath,
      [bareFastifyScript],
      /bare-fastify listening on (http:\/\/\S+)/,
      ctx.signal,
    );
    servers.push(bareFastify);
    ctx.log(
      `gateway ${gateway.url} (pid ${gateway.child.pid}), bare node:http ${bare.url}, bare Fastify ${bareFastify.url}`,
    );

    const check = await fetch(`${gateway.url}/v1/session`, {
      headers: { authorization: `Bearer ${tokens[0]}` },
      signal: ctx.signal,
    });
    if (check.status !== 200) throw new Error(`GET /v1/session: ${check.status}`);
    await check.arrayBuffer();

    const session = await sessionVsBare(ctx, s, gateway, bare, bareFastify, tokens);
    const login = await loginVsCrypt(ctx, s, b, gateway);
    return {
      comparisons: [...session.comparisons, login.comparison],
      resources: [...session.resources, ...login.resources],
      info: {
        ...session.info,
        node: process.version,
        totalSeconds: (Date.now() - started) / 1000,
        quick: ctx.quick,
      },
    };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await stopAll();
    await b.drop();
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
