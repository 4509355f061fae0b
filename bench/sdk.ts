/**
 * Scenario `sdk`: the revocation-aware validation cache, in the SDK and in the gateway, each
 * measured against its floor in the same run, in interleaved rounds.
 *
 *   1. Cached validations per second: `await client.validate(token)` of an SDK client
 *      (`createAuthClient({ databaseUrl, cache })`) in a tight loop over 1,000 primed tokens, in a
 *      process of its own. Target ≥ 500,000/s (absolute). Baseline: the same loop over an async
 *      `Map.get` of the same sessions, in a process of its own.
 *   2. Revocation propagation: this process commits `pgauth.logout(token)` on its own connection;
 *      another process, whose SDK client had the token cached, reports when its cache evicted it.
 *      1,000 samples; target p99 < 50 ms (absolute). Baseline: a bare `pg_notify` seen by a bare
 *      LISTEN connection in that other process.
 *   3. `GET /v1/session` through `pgauth serve` with its cache on (the default) and with
 *      `--no-cache`, against a bare node:http server, autocannon with a token per request out of
 *      1,000. Targets ≥ 0.70 (cache) and ≥ 0.30 (no cache, as the http scenario). Also kept: each
 *      server's RSS after the load and CPU time per 1,000 requests (`resources` of the result).
 *
 * This module is also the helper process of 1 and 2: `node --import tsx bench/sdk.ts helper MODE`.
 * See docs/benchmarks.md for why it is measured this way.
 */

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Row } from '../packages/client/src/db/types.ts';
import { createAuthClient } from '../packages/client/src/index.ts';
import type { AuthClient, Session } from '../packages/client/src/types.ts';
import { autocannonTokens, type Load } from './lib/autocannon.ts';
import { type BenchDatabase, createMigratedDatabase } from './lib/db.ts';
import { type Helper, type Message, serveHelper, startHelper } from './lib/helper.ts';
import { formatFigure } from './lib/report.ts';
import { interleave } from './lib/rounds.ts';
import { interleaveMany, pair } from './lib/rounds-many.ts';
import type { Comparison, Resource, RunContext, ScenarioResult } from './lib/scenario.ts';
import {
  GATEWAY_LISTENING,
  gatewayArgs,
  gatewayCommand,
  rssMiB,
  type Server,
  startServer,
  withCpu,
  writeBareServer,
} from './lib/server.ts';
import { loginSessions } from './lib/sessions.ts';
import { median } from './lib/stats.ts';
import { againstTarget, percentile } from './lib/target.ts';

const SELF = fileURLToPath(import.meta.url);
/** Owners of the sessions (10 sessions or more each); the cache does not care how many. */
const USERS = 10;
const TOKENS = 1_000;
const VALIDATE_TARGET = 500_000;
const PROPAGATION_TARGET_MS = 50;
const GATEWAY_TARGET = 0.7;
const NO_CACHE_TARGET = 0.3;
const RSS_TARGET_MIB = 150;
/** The baseline's channel: not pgauth's, so that no pgauth listener hears it. */
const NOTIFY_CHANNEL = 'pgauth_bench_notify';
/** The SDK caches keep their entries for the whole run (the default maxAgeMs is 60 s). */
const CACHE_MAX_AGE_MS = 600_000;
/** A revocation not seen within this is lost: an error, not a slow sample. */
const SEEN_TIMEOUT_MS = 10_000;

interface Settings {
  rounds: number;
  loop: { seconds: number; warmupSeconds: number };
  propagation: { samples: number; perRound: number; warmup: number };
  http: { connections: number; duration: number; warmup: number };
}

function settingsFor(ctx: RunContext): Settings {
  const rounds = ctx.rounds ?? (ctx.quick ? 2 : 5);
  const samples = ctx.quick ? 100 : 1_000;
  return {
    rounds,
    loop: { seconds: ctx.quick ? 1 : 3, warmupSeconds: ctx.quick ? 0.5 : 1 },
    propagation: { samples, perRound: Math.ceil(samples / rounds), warmup: ctx.quick ? 10 : 50 },
    http: { connections: 20, duration: ctx.quick ? 3 : 8, warmup: ctx.quick ? 1 : 3 },
  };
}

/** A time both processes read alike: the wall clock at process start plus a monotonic clock. */
const stamp = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Setup

interface SessionRecord {
  token: string;
  userId: string;
  username: string;
  sessionId: string;
  roles: string[];
  expiresAt: string;
}

async function sessionsOf(b: BenchDatabase, tokens: string[]): Promise<SessionRecord[]> {
  const r = await b.db.query<SessionRecord & Row>(
    `select t.token, v.user_id::text as "userId", v.username, v.session_id::text as "sessionId",
            v.roles, to_json(v.expires_at) #>> '{}' as "expiresAt"
     from unnest($1::text[]) with ordinality t(token, n)
     cross join lateral pgauth.validate(t.token) v
     order by t.n`,
    [tokens],
  );
  if (r.rows.length !== tokens.length) {
    throw new Error(`${tokens.length - r.rows.length} of ${tokens.length} tokens do not validate`);
  }
  return r.rows;
}

// ---------------------------------------------------------------------------------------------
// 1. Cached validations per second

interface LoopRun {
  count: number;
  seconds: number;
  rate: number;
  /** Answers that were not a session: must be 0. */
  nulls: number;
  /** SDK side: the cache's state after the loop (a lost subscription empties it). */
  subscribed?: boolean;
  cacheSize?: number;
  evictions?: number;
}

async function measureValidate(
  ctx: RunContext,
  s: Settings,
  b: BenchDatabase,
  tokens: string[],
  helpers: Helper[],
): Promise<{ comparison: Comparison; info: Record<string, unknown> }> {
  const sessions = await sessionsOf(b, tokens);
  const sdk = await startHelper(SELF, ['helper', 'validate-cached'], ctx.signal);
  helpers.push(sdk);
  const map = await startHelper(SELF, ['helper', 'validate-map'], ctx.signal);
  helpers.push(map);
  await sdk.request({ cmd: 'prime', databaseUrl: b.url, tokens });
  await map.request({ cmd: 'prime', sessions });
  ctx.log(`sdk: validate loop, warm-up ${s.loop.warmupSeconds} s each`);
  await sdk.request({ cmd: 'loop', seconds: s.loop.warmupSeconds });
  await map.request({ cmd: 'loop', seconds: s.loop.warmupSeconds });

  const runs = { sdk: [] as LoopRun[], map: [] as LoopRun[] };
  const measured = async (helper: Helper, into: LoopRun[]): Promise<number> => {
    const r = await helper.request<LoopRun>(
      { cmd: 'loop', seconds: s.loop.seconds },
      s.loop.seconds * 1000 + 30_000,
    );
    if (r.nulls > 0) throw new Error(`${r.nulls} validations of live tokens answered null`);
    if (r.subscribed === false || (r.cacheSize !== undefined && r.cacheSize !== tokens.length)) {
      throw new Error(`the SDK cache was not live and full during the loop: ${JSON.stringify(r)}`);
    }
    into.push(r);
    return r.rate;
  };
  const paired = await interleave(
    s.rounds,
    { label: 'SDK client.validate, cached', run: () => measured(sdk, runs.sdk) },
    { label: 'async Map.get', run: () => measured(map, runs.map) },
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)}/s` },
  );
  await Promise.all([sdk.stop(), map.stop()]);
  ctx.log(
    `sdk: cached validate ${formatFigure(paired.pgauth.median)}/s, async Map.get ${formatFigure(paired.baseline.median)}/s, ratio ${paired.ratio.median.toFixed(3)}`,
  );
  return {
    comparison: {
      name: 'cached validate/s, target 500,000',
      unit: '/s',
      pgauthLabel: `SDK client.validate(token) answered by its cache, ${TOKENS} primed tokens, one process`,
      baselineLabel: `absolute target ${VALIDATE_TARGET}/s (measured baseline, async Map.get: see settings)`,
      result: againstTarget(paired.pgauth.values, VALIDATE_TARGET, 'higher'),
      target: 1,
      settings: {
        tokens: TOKENS,
        secondsPerRound: s.loop.seconds,
        warmupSeconds: s.loop.warmupSeconds,
        rounds: s.rounds,
        targetPerSecond: VALIDATE_TARGET,
        mapGetMedianPerSecond: Math.round(paired.baseline.median),
        mapGetSpreadPct: Math.round(paired.baseline.spreadPct * 10) / 10,
        ratioToMapGetMedian: round3(paired.ratio.median),
        ratioToMapGetMin: round3(paired.ratio.min),
        ratioToMapGetMax: round3(paired.ratio.max),
      },
      commands: {
        pgauth: `loop: await client.validate(tokens[i]) (createAuthClient({ databaseUrl, cache: { maxAgeMs: ${CACHE_MAX_AGE_MS} } })), i cycling over ${TOKENS} tokens, ${s.loop.seconds} s`,
        baseline: `loop: await (async (t) => map.get(t) ?? null)(tokens[i]), same tokens and sessions, ${s.loop.seconds} s`,
      },
    },
    info: { rounds: runs, versusMapGet: paired },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Revocation propagation

interface Seen {
  at: number;
  /** pgauth side: whether the token left the cache (its size went down by one). */
  evicted?: boolean;
}

interface Sample {
  /** Seen in the other process − commit returned here, ms (both on `stamp`). */
  delayMs: number;
  /** Its report arrived here − commit returned here, ms: the same plus one IPC message. */
  viaParentMs: number;
}

/** The other process's clock minus ours, from the ping with the shortest round trip. */
async function clockOffset(helper: Helper): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 50; i++) {
    const t0 = stamp();
    const at = await helper.request<number>({ cmd: 'clock' });
    const t1 = stamp();
    if (t1 - t0 < best.rttMs) best = { offsetMs: at - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  return best;
}

async function measurePropagation(
  ctx: RunContext,
  s: Settings,
  b: BenchDatabase,
  tokens: string[],
  helpers: Helper[],
  clients: pg.Client[],
): Promise<{ comparison: Comparison; info: Record<string, unknown> }> {
  const listener = await startHelper(SELF, ['helper', 'listener'], ctx.signal);
  helpers.push(listener);
  await listener.request({ cmd: 'start', databaseUrl: b.url, channel: NOTIFY_CHANNEL });
  const revoker = new pg.Client({
    connectionString: b.url,
    application_name: 'pgauth-bench:revoker',
  });
  clients.push(revoker);
  await revoker.connect();
  const clock = await clockOffset(listener);
  ctx.log(
    `sdk: clock of the listener process − ours: ${(clock.offsetMs * 1000).toFixed(0)} µs (ping ${(clock.rttMs * 1000).toFixed(0)} µs)`,
  );
  if (Math.abs(clock.offsetMs) > 1) {
    ctx.log(`sdk: warning: the two processes' clocks differ by more than 1 ms`);
  }

  let next = 0;
  const revocation = async (): Promise<Sample> => {
    const token = tokens[next++];
    if (token === undefined) throw new Error('out of sessions to revoke');
    await listener.request({ cmd: 'watch-session', token }); // validated and cached over there
    const seen = listener.request<Seen>({ cmd: 'seen' }, SEEN_TIMEOUT_MS);
    const r = await revoker.query<{ ok: boolean }>('select pgauth.logout($1) as ok', [token]);
    const committed = stamp();
    if (r.rows[0]?.ok !== true) throw new Error('pgauth.logout of a live session returned false');
    const got = await seen;
    const arrived = stamp();
    if (got.evicted !== true) throw new Error('the eviction event came, the token stayed cached');
    return { delayMs: got.at - committed, viaParentMs: arrived - committed };
  };
  const notification = async (): Promise<Sample> => {
    // The size of a pgauth logout event, and unique.
    const payload = JSON.stringify({ keys: [randomBytes(8).toString('hex')] });
    await listener.request({ cmd: 'watch-notify', payload });
    const seen = listener.request<Seen>({ cmd: 'seen' }, SEEN_TIMEOUT_MS);
    await revoker.query('select pg_notify($1, $2)', [NOTIFY_CHANNEL, payload]);
    const committed = stamp();
    const got = await seen;
    const arrived = stamp();
    return { delayMs: got.at - committed, viaParentMs: arrived - committed };
  };
  const series = async (take: () => Promise<Sample>, n: number): Promise<Sample[]> => {
    const out: Sample[] = [];
    for (let i = 0; i < n; i++) {
      ctx.signal.throwIfAborted();
      out.push(await take());
    }
    return out;
  };

  ctx.log(`sdk: revocation propagation, warm-up ${s.propagation.warmup} samples each`);
  await series(revocation, s.propagation.warmup);
  await series(notification, s.propagation.warmup);
  const samples = { pgauth: [] as Sample[][], baseline: [] as Sample[][] };
  const delays = (xs: Sample[]): number[] => xs.map((x) => x.delayMs);
  const p99 = (xs: Sample[]): number => percentile(delays(xs), 99);
  const paired = await interleave(
    s.rounds,
    {
      label: 'logout → SDK cache evicted',
      run: async () => {
        const xs = await series(revocation, s.propagation.perRound);
        samples.pgauth.push(xs);
        return p99(xs);
      },
    },
    {
      label: 'pg_notify → bare LISTEN',
      run: async () => {
        const xs = await series(notification, s.propagation.perRound);
        samples.baseline.push(xs);
        return p99(xs);
      },
    },
    { signal: ctx.signal, log: ctx.log, format: (n) => `p99 ${n.toFixed(2)} ms` },
  );
  await listener.stop();

  const all = (xs: Sample[][], k: keyof Sample): number[] => xs.flat().map((x) => x[k]);
  const figures = {
    samples: all(samples.pgauth, 'delayMs').length,
    p50Ms: round3(percentile(all(samples.pgauth, 'delayMs'), 50)),
    p99Ms: round3(percentile(all(samples.pgauth, 'delayMs'), 99)),
    maxMs: round3(Math.max(...all(samples.pgauth, 'delayMs'))),
    minMs: round3(Math.min(...all(samples.pgauth, 'delayMs'))),
    bareP50Ms: round3(percentile(all(samples.baseline, 'delayMs'), 50)),
    bareP99Ms: round3(percentile(all(samples.baseline, 'delayMs'), 99)),
    viaParentP99Ms: round3(percentile(all(samples.pgauth, 'viaParentMs'), 99)),
    bareViaParentP99Ms: round3(percentile(all(samples.baseline, 'viaParentMs'), 99)),
  };
  ctx.log(
    `sdk: revocation seen after p50 ${figures.p50Ms} ms, p99 ${figures.p99Ms} ms over ${figures.samples} samples (bare NOTIFY: p50 ${figures.bareP50Ms}, p99 ${figures.bareP99Ms} ms)`,
  );
  return {
    comparison: {
      name: 'revocation seen, p99 ms (ratio 50/p99)',
      unit: 'ms',
      pgauthLabel:
        'pgauth.logout committed in this process → eviction seen by the SDK cache (SQL mode) in another, p99 of a round',
      baselineLabel: `absolute target ${PROPAGATION_TARGET_MS} ms (measured baseline, pg_notify → bare LISTEN: see settings)`,
      result: againstTarget(paired.pgauth.values, PROPAGATION_TARGET_MS, 'lower'),
      target: 1,
      settings: {
        samplesPerRound: s.propagation.perRound,
        rounds: s.rounds,
        warmupSamples: s.propagation.warmup,
        targetP99Ms: PROPAGATION_TARGET_MS,
        ...figures,
        bareRoundP99MedianMs: round3(paired.baseline.median),
        clockOffsetUs: Math.round(clock.offsetMs * 1000),
      },
      commands: {
        pgauth: `process A: select pgauth.logout($1) on its own connection; process B: createAuthClient({ databaseUrl, cache: true }), client.cache.onEvict`,
        baseline: `process A: select pg_notify('${NOTIFY_CHANNEL}', $1); process B: a pg.Client with LISTEN ${NOTIFY_CHANNEL}`,
      },
    },
    info: {
      clock,
      samplesMs: {
        pgauth: all(samples.pgauth, 'delayMs').map(round3),
        bare: all(samples.baseline, 'delayMs').map(round3),
      },
      roundP99Ms: { pgauth: paired.pgauth.values, bare: paired.baseline.values },
      roundP50Ms: {
        pgauth: samples.pgauth.map((xs) => percentile(delays(xs), 50)),
        bare: samples.baseline.map((xs) => percentile(delays(xs), 50)),
      },
      ...figures,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 3. GET /v1/session with and without the gateway's cache

async function measureGateway(
  ctx: RunContext,
  s: Settings,
  b: BenchDatabase,
  tokens: string[],
  servers: Server[],
): Promise<{ comparisons: Comparison[]; resources: Resource[]; info: Record<string, unknown> }> {
  const dir = join(ctx.scratchDir, 'sdk');
  await mkdir(dir, { recursive: true });
  const bareScript = await writeBareServer(dir);
  const listening = GATEWAY_LISTENING;
  const cached = await startServer(process.execPath, gatewayArgs(b.url), listening, ctx.signal);
  servers.push(cached);
  const plain = await startServer(
    process.execPath,
    gatewayArgs(b.url, ['--no-cache']),
    listening,
    ctx.signal,
  );
  servers.push(plain);
  const bare = await startServer(
    process.execPath,
    [bareScript],
    /bare listening on (http:\/\/\S+)/,
    ctx.signal,
  );
  servers.push(bare);
  const cacheLine = (x: Server): string => listening.exec(x.output)?.[2] ?? '?';
  if (!cacheLine(cached).startsWith('on') || !cacheLine(plain).startsWith('off')) {
    throw new Error(
      `gateway caches: "${cacheLine(cached)}" (want on), "${cacheLine(plain)}" (want off)`,
    );
  }
  ctx.log(
    `gateway (cache) ${cached.url} pid ${cached.child.pid}, gateway (--no-cache) ${plain.url} pid ${plain.child.pid}, bare ${bare.url}`,
  );
  for (const gw of [cached, plain]) {
    const r = await fetch(`${gw.url}/v1/session`, {
      headers: { authorization: `Bearer ${tokens[0]}` },
      signal: ctx.signal,
    });
    if (r.status !== 200) throw new Error(`GET /v1/session on ${gw.url}: ${r.status}`);
    await r.arrayBuffer();
  }

  const sides = [
    { label: 'gateway, cache', url: `${cached.url}/v1/session`, pid: cached.child.pid as number },
    {
      label: 'gateway, --no-cache',
      url: `${plain.url}/v1/session`,
      pid: plain.child.pid as number,
    },
    { label: 'bare node:http', url: `${bare.url}/v1/session`, pid: bare.child.pid as number },
  ];
  const options = (duration: number) => ({ connections: s.http.connections, duration, tokens });
  const rssBefore = await rssMiB(cached.child.pid as number);
  ctx.log(`sdk: GET /v1/session, warm-up ${s.http.warmup} s each`);
  for (const side of sides) await autocannonTokens(side.url, options(s.http.warmup), ctx.signal);
  const loads = sides.map(() => [] as (Load & { cpuMsPer1000: number })[]);
  const figures = await interleaveMany(
    s.rounds,
    sides.map((side, i) => ({
      label: side.label,
      run: async () => {
        const r = await withCpu(side.pid, () =>
          autocannonTokens(side.url, options(s.http.duration), ctx.signal),
        );
        loads[i]?.push(r);
        return r.rps;
      },
    })),
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} req/s` },
  );
  const rssAfter = await rssMiB(cached.child.pid as number);
  const rssPlain = await rssMiB(plain.child.pid as number);
  const rssBare = await rssMiB(bare.child.pid as number);
  const [cachedLoads, plainLoads, bareLoads] = loads as [
    (typeof loads)[0],
    (typeof loads)[0],
    (typeof loads)[0],
  ];
  const [cachedRps, plainRps, bareRps] = figures as [number[], number[], number[]];
  const med = (xs: Load[], k: 'p50' | 'p99') => median(xs.map((x) => x[k]));
  const latency = (xs: Load[], prefix: string) => ({
    [`${prefix}P50Ms`]: med(xs, 'p50'),
    [`${prefix}P99Ms`]: med(xs, 'p99'),
  });
  ctx.log(
    `latency p50/p99 ms: cache ${med(cachedLoads, 'p50')}/${med(cachedLoads, 'p99')}, --no-cache ${med(plainLoads, 'p50')}/${med(plainLoads, 'p99')}, bare ${med(bareLoads, 'p50')}/${med(bareLoads, 'p99')}`,
  );
  ctx.log(
    `gateway RSS: ${rssAfter.toFixed(1)} MiB after the load (${rssBefore.toFixed(1)} before; target < ${RSS_TARGET_MIB}); --no-cache gateway ${rssPlain.toFixed(1)} MiB`,
  );
  const cpu = (xs: (typeof loads)[0]) => round1(median(xs.map((x) => x.cpuMsPer1000)));
  ctx.log(
    `CPU per 1,000 requests: cache ${cpu(cachedLoads)} ms, --no-cache ${cpu(plainLoads)} ms, bare ${cpu(bareLoads)} ms`,
  );
  const load = (cache: string) =>
    `GET /v1/session, ${cache}, ${formatFigure(tokens.length)} tokens, autocannon -c ${s.http.connections}`;
  const common = {
    connections: s.http.connections,
    durationSeconds: s.http.duration,
    rounds: s.rounds,
    warmupSeconds: s.http.warmup,
    tokens: tokens.length,
    ...latency(bareLoads, 'bare'),
    bareCpuMsPer1000: cpu(bareLoads),
  };
  return {
    comparisons: [
      {
        name: 'GET /v1/session, cache, vs bare',
        unit: 'req/s',
        pgauthLabel: `pgauth serve (validation cache on, the default), GET /v1/session, a Bearer token per request out of ${tokens.length}`,
        baselineLabel: 'node:http server answering a constant JSON body',
        result: pair(cachedRps, bareRps),
        target: GATEWAY_TARGET,
        settings: {
          ...common,
          ...latency(cachedLoads, 'pgauth'),
          gatewayRssMiB: Math.round(rssAfter * 10) / 10,
          gatewayRssTargetMiB: RSS_TARGET_MIB,
          gatewayCpuMsPer1000: cpu(cachedLoads),
        },
        commands: {
          pgauth: `${gatewayCommand(b.url)}; ${cachedLoads[0]?.command ?? ''}`,
          baseline: `node .bench/sdk/bare-server.mjs; ${bareLoads[0]?.command ?? ''}`,
        },
      },
      {
        name: 'GET /v1/session, --no-cache, vs bare',
        unit: 'req/s',
        pgauthLabel: `pgauth serve --no-cache (pgauth.validate on every request), GET /v1/session, a Bearer token per request out of ${tokens.length}`,
        baselineLabel: 'node:http server answering a constant JSON body (the same rounds)',
        result: pair(plainRps, bareRps),
        target: NO_CACHE_TARGET,
        settings: {
          ...common,
          ...latency(plainLoads, 'pgauth'),
          gatewayRssMiB: Math.round(rssPlain * 10) / 10,
          gatewayCpuMsPer1000: cpu(plainLoads),
        },
        commands: {
          pgauth: `${gatewayCommand(b.url, ['--no-cache'])}; ${plainLoads[0]?.command ?? ''}`,
          baseline: `node .bench/sdk/bare-server.mjs; ${bareLoads[0]?.command ?? ''}`,
        },
      },
    ],
    resources: [
      {
        process: 'pgauth gateway',
        load: load('cache'),
        cpuMsPer1000: cpu(cachedLoads),
        rssMiB: round1(rssAfter),
      },
      {
        process: 'pgauth gateway',
        load: load('no cache'),
        cpuMsPer1000: cpu(plainLoads),
        rssMiB: round1(rssPlain),
      },
      {
        process: 'bare node:http',
        load: load('constant answer'),
        cpuMsPer1000: cpu(bareLoads),
        rssMiB: round1(rssBare),
      },
    ],
    info: {
      latencyMs: {
        cache: cachedLoads.map(({ p50, p99 }) => ({ p50, p99 })),
        noCache: plainLoads.map(({ p50, p99 }) => ({ p50, p99 })),
        bare: bareLoads.map(({ p50, p99 }) => ({ p50, p99 })),
      },
      cpuMsPer1000: {
        cache: cachedLoads.map((x) => x.cpuMsPer1000),
        noCache: plainLoads.map((x) => x.cpuMsPer1000),
        bare: bareLoads.map((x) => x.cpuMsPer1000),
      },
      gatewayRssMiB: {
        beforeLoad: rssBefore,
        afterLoad: rssAfter,
        noCacheAfterLoad: rssPlain,
        bareAfterLoad: rssBare,
        target: RSS_TARGET_MIB,
      },
      gatewayRssPass: rssAfter < RSS_TARGET_MIB,
    },
  };
}

// ---------------------------------------------------------------------------------------------

export async function run(ctx: RunContext): Promise<ScenarioResult> {
  const s = settingsFor(ctx);
  const started = Date.now();
  const b = await createMigratedDatabase('sdk');
  const helpers: Helper[] = [];
  const servers: Server[] = [];
  const clients: pg.Client[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all([
      ...helpers.map((h) => h.stop().catch(() => {})),
      ...servers.map((x) => x.stop().catch(() => {})),
      ...clients.map((c) => c.end().catch(() => {})),
    ]);
  };
  const onAbort = (): void => {
    void stopAll();
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const setupStart = Date.now();
    // The validate loop and the gateway use the first TOKENS sessions (never revoked); the
    // propagation samples revoke the others, one each.
    const revocable = s.propagation.perRound * s.rounds + 2 * s.propagation.warmup;
    const tokens = await loginSessions(b, TOKENS + revocable, {
      prefix: 'bench_sdk_',
      users: USERS,
    });
    const live = tokens.slice(0, TOKENS);
    const doomed = tokens.slice(TOKENS);
    await b.db.exec('vacuum analyze');
    await b.db.exec('checkpoint');
    const setupSeconds = (Date.now() - setupStart) / 1000;
    ctx.log(`sdk: ${tokens.length} sessions logged in (${setupSeconds.toFixed(1)} s)`);
    ctx.signal.throwIfAborted();

    const validate = await measureValidate(ctx, s, b, live, helpers);
    const propagation = await measurePropagation(ctx, s, b, doomed, helpers, clients);
    const gateway = await measureGateway(ctx, s, b, live, servers);
    return {
      comparisons: [validate.comparison, propagation.comparison, ...gateway.comparisons],
      resources: gateway.resources,
      info: {
        validate: validate.info,
        propagation: propagation.info,
        gateway: gateway.info,
        setupSeconds,
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

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

// ---------------------------------------------------------------------------------------------
// The helper processes (`node --import tsx bench/sdk.ts helper MODE`)

type Validate = (token: string) => Promise<Session | null>;

/** The measured loop, the same on both sides: only `validate` differs. */
async function loop(
  validate: Validate,
  tokens: readonly string[],
  seconds: number,
): Promise<LoopRun> {
  const n = tokens.length;
  let i = 0;
  let count = 0;
  let nulls = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let j = 0; j < 1024; j++) {
      if ((await validate(tokens[i] as string)) === null) nulls++;
      if (++i === n) i = 0;
    }
    count += 1024;
    now = performance.now();
  }
  const elapsed = (now - start) / 1000;
  return { count, seconds: elapsed, rate: count / elapsed, nulls };
}

function sdkClient(databaseUrl: string): AuthClient {
  return createAuthClient({ databaseUrl, poolSize: 2, cache: { maxAgeMs: CACHE_MAX_AGE_MS } });
}

/** Measure 1, pgauth side: an SDK client whose cache holds every token. */
function validateCachedHelper(): void {
  let client: AuthClient | null = null;
  let tokens: string[] = [];
  let evictions = 0;
  serveHelper(
    async (m: Message) => {
      if (m.cmd === 'prime') {
        client = sdkClient(m.databaseUrl as string);
        const cache = client.cache;
        if (!cache) throw new Error('the client has no cache');
        cache.onEvict(() => {
          evictions++;
        });
        await cache.ready(10_000);
        tokens = m.tokens as string[];
        for (const token of tokens) {
          if (!(await client.validate(token))) throw new Error('a live token did not validate');
        }
        if (cache.size !== tokens.length) {
          throw new Error(`${cache.size} of ${tokens.length} tokens cached after priming`);
        }
        return { size: cache.size };
      }
      if (m.cmd === 'loop' && client) {
        const r = await loop(client.validate, tokens, m.seconds as number);
        return {
          ...r,
          subscribed: client.cache?.subscribed,
          cacheSize: client.cache?.size,
          evictions,
        };
      }
      throw new Error(`unknown request ${JSON.stringify(m)}`);
    },
    async () => {
      await client?.close();
    },
  );
}

/** Measure 1, baseline: the same sessions in a plain Map, behind an async function. */
function validateMapHelper(): void {
  const map = new Map<string, Session>();
  let tokens: string[] = [];
  const lookup: Validate = async (token) => map.get(token) ?? null;
  serveHelper(
    async (m: Message) => {
      if (m.cmd === 'prime') {
        for (const r of m.sessions as SessionRecord[]) {
          map.set(r.token, {
            userId: r.userId,
            username: r.username,
            sessionId: r.sessionId,
            roles: r.roles,
            expiresAt: new Date(r.expiresAt),
          });
        }
        tokens = [...map.keys()];
        return { size: map.size };
      }
      if (m.cmd === 'loop') return loop(lookup, tokens, m.seconds as number);
      throw new Error(`unknown request ${JSON.stringify(m)}`);
    },
    async () => {},
  );
}

/**
 * Measure 2, the process that sees revocations: an SDK client in SQL mode with its cache (pgauth
 * side) and a bare LISTEN connection (baseline). `watch-*` arms one expectation, `seen` answers
 * with the time it was met.
 */
function listenerHelper(): void {
  let client: AuthClient | null = null;
  let bare: pg.Client | null = null;
  let watching: {
    sessionId?: string;
    payload?: string;
    sizeCached?: number;
    done(seen: Seen): void;
  } | null = null;
  let seen: Promise<Seen> = Promise.reject(new Error('nothing watched'));
  seen.catch(() => {});
  const arm = (w: Omit<NonNullable<typeof watching>, 'done'>): void => {
    seen = new Promise<Seen>((done) => {
      watching = { ...w, done };
    });
  };
  serveHelper(
    async (m: Message) => {
      switch (m.cmd) {
        case 'start': {
          const c = sdkClient(m.databaseUrl as string);
          client = c;
          const cache = c.cache;
          if (!cache) throw new Error('the client has no cache');
          cache.onEvict((ids) => {
            const w = watching;
            if (!w?.sessionId || !ids.includes(w.sessionId)) return;
            const at = stamp();
            watching = null;
            w.done({ at, evicted: cache.size === (w.sizeCached as number) - 1 });
          });
          await cache.ready(10_000);
          const channel = m.channel as string;
          bare = new pg.Client({
            connectionString: m.databaseUrl as string,
            application_name: 'pgauth-bench:listen',
          });
          await bare.connect();
          bare.on('notification', (n) => {
            const w = watching;
            if (n.channel !== channel || !w?.payload || n.payload !== w.payload) return;
            const at = stamp();
            watching = null;
            w.done({ at });
          });
          await bare.query(`listen ${pg.escapeIdentifier(channel)}`);
          return {};
        }
        case 'clock':
          return stamp();
        case 'watch-session': {
          const cache = client?.cache;
          if (!client || !cache) throw new Error('not started');
          const before = cache.size;
          const session = await client.validate(m.token as string);
          if (!session) throw new Error('a live token did not validate');
          if (cache.size !== before + 1) throw new Error('the validation was not cached');
          arm({ sessionId: session.sessionId, sizeCached: cache.size });
          return { sessionId: session.sessionId };
        }
        case 'watch-notify':
          arm({ payload: m.payload as string });
          return {};
        case 'seen':
          return seen;
        default:
          throw new Error(`unknown request ${JSON.stringify(m)}`);
      }
    },
    async () => {
      await client?.close();
      await bare?.end();
    },
  );
}

const HELPERS: Record<string, () => void> = {
  'validate-cached': validateCachedHelper,
  'validate-map': validateMapHelper,
  listener: listenerHelper,
};

if (process.argv[1] && resolve(process.argv[1]) === SELF && process.argv[2] === 'helper') {
  const helper = HELPERS[process.argv[3] ?? ''];
  if (!helper) {
    console.error(`unknown helper ${process.argv[3]}; one of ${Object.keys(HELPERS).join(', ')}`);
    process.exit(2);
  }
  helper();
}
