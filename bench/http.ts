/**
 * Scenario `http`: the gateway's `GET /v1/session` (token validation over HTTP) against a bare
 * `node:http` server returning a constant JSON body, both driven by autocannon in its own process
 * with the same settings, in interleaved rounds. Target ≥ 0.30 of the bare server's requests/s.
 * Also kept: p50/p99 latency of both sides and the gateway's RSS after the load (target < 150 MiB).
 *
 * See docs/benchmarks.md for why it is measured this way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMigratedDatabase } from './lib/db.ts';
import { formatFigure } from './lib/report.ts';
import { interleave } from './lib/rounds.ts';
import type { RunContext, ScenarioResult } from './lib/scenario.ts';
import { median } from './lib/stats.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const AUTOCANNON = join(ROOT, 'node_modules/autocannon/autocannon.js');
const PGAUTH_BIN = join(ROOT, 'bin/pgauth.js');
const USERNAME = 'bench_http_user';
const PASSWORD = 'bench-password-7f3a9c1d';
const RSS_TARGET_MIB = 150;

/** A constant body of about the size of a /v1/session answer. */
const BARE_SERVER = `import { createServer } from 'node:http';
const body = JSON.stringify({
  user_id: '00000000-0000-4000-8000-000000000000',
  username: 'bench_http_user',
  roles: [],
  session_id: '00000000-0000-4000-8000-000000000001',
  expires_at: '2030-01-01T00:00:00.000Z',
});
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  console.log('bare listening on http://127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

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

interface Server {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Spawns a server and waits for the stdout line matching `listening`, which gives its URL. */
function startServer(
  command: string,
  args: string[],
  listening: RegExp,
  signal: AbortSignal,
): Promise<Server> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<Server>((resolve, reject) => {
    let out = '';
    let err = '';
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (e: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      stop().then(() => reject(e));
    };
    const onAbort = (): void => fail(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.stdout?.on('data', (d: Buffer) => {
      if (done) return; // drained, not kept
      out += d.toString();
      const m = listening.exec(out);
      if (m?.[1]) {
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve({ child, url: m[1], stop });
      }
    });
    child.once('error', fail);
    child.once('exit', (code) =>
      fail(new Error(`${command} ${args.join(' ')} exited (${code}) before listening:\n${err}`)),
    );
    timer = setTimeout(
      () => fail(new Error(`no "listening" line within 30 s:\n${out}\n${err}`)),
      30_000,
    );
  });
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  command: string;
}

async function autocannon(
  url: string,
  s: Settings,
  duration: number,
  headers: string[],
  signal: AbortSignal,
): Promise<Load> {
  const args = [AUTOCANNON, '-j', '-c', String(s.connections), '-d', String(duration)];
  for (const h of headers) args.push('-H', h);
  args.push(url);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  signal.throwIfAborted();
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${err}`);
  const r = JSON.parse(out) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx?: number;
    errors?: number;
    timeouts?: number;
  };
  const bad = (r.non2xx ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0);
  if (bad > 0) {
    throw new Error(`autocannon on ${url}: ${bad} non-2xx answers, errors or timeouts`);
  }
  const command = ['autocannon', ...args.slice(1)]
    .map((a) => (a.startsWith('authorization=') ? 'authorization=Bearer <token>' : a))
    .join(' ');
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, command };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

export async function run(ctx: RunContext): Promise<ScenarioResult> {
  const s = settingsFor(ctx);
  const started = Date.now();
  const dir = join(ctx.scratchDir, 'http');
  await mkdir(dir, { recursive: true });
  const bareScript = join(dir, 'bare-server.mjs');
  await writeFile(bareScript, BARE_SERVER);

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
    const sessionUrl = `${gateway.url}/v1/session`;
    const bareUrl = `${bare.url}/v1/session`;
    const rssBefore = await rssMiB(gateway.child.pid as number);
    ctx.log(`http: warm-up ${s.warmup} s each`);
    await autocannon(sessionUrl, s, s.warmup, auth, ctx.signal);
    await autocannon(bareUrl, s, s.warmup, auth, ctx.signal);

    const loads = { pgauth: [] as Load[], baseline: [] as Load[] };
    const result = await interleave(
      s.rounds,
      {
        label: 'pgauth GET /v1/session',
        run: async () => {
          const r = await autocannon(sessionUrl, s, s.duration, auth, ctx.signal);
          loads.pgauth.push(r);
          return r.rps;
        },
      },
      {
        label: 'bare node:http',
        run: async () => {
          const r = await autocannon(bareUrl, s, s.duration, auth, ctx.signal);
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
