/**
 * Scenario `http`: the gateway's `GET /v1/session` (token validation over HTTP) against a bare
 * `node:http` server returning a constant JSON body, both driven by autocannon in its own process
 * with the same settings, in interleaved rounds. Target ≥ 0.30 of the bare server's requests/s.
 * Also kept: p50/p99 latency of both sides and the gateway's RSS after the load (target < 150 MiB).
 *
 * See docs/benchmarks.md for why it is measured this way.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { autocannon, type Load } from './lib/autocannon.ts';
import { createMigratedDatabase } from './lib/db.ts';
import { formatFigure } from './lib/report.ts';
import { interleave } from './lib/rounds.ts';
import type { RunContext, ScenarioResult } from './lib/scenario.ts';
import { rssMiB, type Server, startServer, writeBareServer } from './lib/server.ts';
import { median } from './lib/stats.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PGAUTH_BIN = join(ROOT, 'bin/pgauth.js');
const USERNAME = 'bench_http_user';
const PASSWORD = 'bench-password-7f3a9c1d';
const RSS_TARGET_MIB = 150;

interface Settings {
  rounds: number;
  warmup: number;
  connections: number;
  duration: number;
}

function settingsFor(ctx: RunContext): Settings {
  return {
    rounds: ctx.rounds ?? (ctx.quick ? 2 : 5),
    warmup: ctx.quick ? 1 : 3,
    connections: 20,
    duration: ctx.quick ? 3 : 8,
  };
}

export async function run(ctx: RunContext): Promise<ScenarioResult> {
  const s = settingsFor(ctx);
  const started = Date.now();
  const dir = join(ctx.scratchDir, 'http');
  await mkdir(dir, { recursive: true });
  const bareScript = await writeBareServer(dir);

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
    await b.db.exec('update pgauth.settings set bcrypt_cost = 4');
    await b.db.query('select pgauth.register($1, $2)', [USERNAME, PASSWORD]);
    ctx.signal.throwIfAborted();

    const gateway = await startServer(
      process.execPath,
      [PGAUTH_BIN, 'serve', '--port', '0', '--database-url', b.url, '--log-level', 'warn'],
      /pgauth listening on (http:\/\/\S+)/,
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
    ctx.log(`gateway ${gateway.url} (pid ${gateway.child.pid}), bare ${bare.url}`);

    const login = await fetch(`${gateway.url}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: USERNAME, password: PASSWORD }),
      signal: ctx.signal,
    });
    if (login.status !== 200)
      throw new Error(`POST /v1/login: ${login.status} ${await login.text()}`);
    const token = ((await login.json()) as { access_token: string }).access_token;
    const check = await fetch(`${gateway.url}/v1/session`, {
      headers: { authorization: `Bearer ${token}` },
      signal: ctx.signal,
    });
    if (check.status !== 200) throw new Error(`GET /v1/session: ${check.status}`);
    await check.arrayBuffer();

    const auth = [`authorization=Bearer ${token}`];
    const load = (duration: number) => ({ connections: s.connections, duration, headers: auth });
    const sessionUrl = `${gateway.url}/v1/session`;
    const bareUrl = `${bare.url}/v1/session`;
    const rssBefore = await rssMiB(gateway.child.pid as number);
    ctx.log(`http: warm-up ${s.warmup} s each`);
    await autocannon(sessionUrl, load(s.warmup), ctx.signal);
    await autocannon(bareUrl, load(s.warmup), ctx.signal);

    const loads = { pgauth: [] as Load[], baseline: [] as Load[] };
    const result = await interleave(
      s.rounds,
      {
        label: 'pgauth GET /v1/session',
        run: async () => {
          const r = await autocannon(sessionUrl, load(s.duration), ctx.signal);
          loads.pgauth.push(r);
          return r.rps;
        },
      },
      {
        label: 'bare node:http',
        run: async () => {
          const r = await autocannon(bareUrl, load(s.duration), ctx.signal);
          loads.baseline.push(r);
          return r.rps;
        },
      },
      { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} req/s` },
    );
    const rssAfter = await rssMiB(gateway.child.pid as number);
    const med = (xs: Load[], k: 'p50' | 'p99') => median(xs.map((x) => x[k]));
    const latency = {
      pgauthP50Ms: med(loads.pgauth, 'p50'),
      pgauthP99Ms: med(loads.pgauth, 'p99'),
      bareP50Ms: med(loads.baseline, 'p50'),
      bareP99Ms: med(loads.baseline, 'p99'),
    };
    ctx.log(
      `latency p50/p99 ms: pgauth ${latency.pgauthP50Ms}/${latency.pgauthP99Ms}, bare ${latency.bareP50Ms}/${latency.bareP99Ms}`,
    );
    ctx.log(
      `gateway RSS: ${rssAfter.toFixed(1)} MiB after the load (${rssBefore.toFixed(1)} before; target < ${RSS_TARGET_MIB})`,
    );
    return {
      comparisons: [
        {
          name: 'GET /v1/session vs bare node:http',
          unit: 'req/s',
          pgauthLabel: 'pgauth serve, GET /v1/session with a valid Bearer token (pgauth.validate)',
          baselineLabel: 'node:http server answering a constant JSON body',
          result,
          target: 0.3,
          settings: {
            connections: s.connections,
            durationSeconds: s.duration,
            rounds: s.rounds,
            warmupSeconds: s.warmup,
            ...latency,
            gatewayRssMiB: Math.round(rssAfter * 10) / 10,
            gatewayRssTargetMiB: RSS_TARGET_MIB,
          },
          commands: {
            pgauth: loads.pgauth[0]?.command ?? '',
            baseline: loads.baseline[0]?.command ?? '',
          },
        },
      ],
      info: {
        latencyMs: {
          pgauth: loads.pgauth.map(({ p50, p99 }) => ({ p50, p99 })),
          bare: loads.baseline.map(({ p50, p99 }) => ({ p50, p99 })),
          ...latency,
        },
        gatewayRssMiB: { beforeLoad: rssBefore, afterLoad: rssAfter, target: RSS_TARGET_MIB },
        gatewayRssPass: rssAfter < RSS_TARGET_MIB,
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
