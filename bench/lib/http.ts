/** HTTP servers under load, each in a process of its own: started and found by the URL they print,
 * loaded by autocannon in a process of its own (lib/load.ts), and measured: requests a second,
 * latency, and the server's CPU time per 1,000 requests and RSS after the load (pidusage). */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median, type RunContext, round } from './measure.ts';
import { PASSWORD } from './pg.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Reads /proc/<pid>/stat: ctime is the user + system CPU time of all its threads (ms). */
type Usage = { ctime: number; memory: number };
const pidusage = createRequire(import.meta.url)('pidusage') as (pid: number) => Promise<Usage>;
/** The CPU time and resident set of process `pid` now. */
export const usage = (pid: number) => pidusage(pid);

/** A server process: `command` is how the result files show what started it, `name` the process
 * in the table of resource use, `prefix` that of its settings (`<prefix>P50Ms`, …). */
export type Server = { pid: number; url: string; output: string } & Record<Shown, string>;
type Shown = 'command' | 'name' | 'prefix';

/** Starts `node args…` in the repository (its stderr goes to ours; its command shows database URLs
 * as `<url>`) and waits until its stdout matches `listening`, whose first group is its URL.
 * Stopped after the scenario, even if it never listens; it dies with ctx.signal. */
export async function startServer(
  ctx: RunContext,
  args: string[],
  listening: RegExp,
  [name, prefix]: [string, string],
  env: Record<string, string> = {},
): Promise<Server> {
  const command = `node ${args.join(' ')}`.replace(/postgres(ql)?:\/\/\S+/g, '<url>');
  const stdio: ('ignore' | 'pipe' | 'inherit')[] = ['ignore', 'pipe', 'inherit'];
  const options = { cwd: ROOT, signal: ctx.signal, stdio, env: { ...process.env, ...env } };
  const child = spawn(process.execPath, args, options);
  const exited = once(child, 'exit').catch(() => {});
  ctx.defer(() => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited.finally(() => clearTimeout(timer));
  });
  const server: Server = { pid: child.pid as number, url: '', output: '', command, name, prefix };
  const timer = setTimeout(() => child.kill(), 30_000);
  const listened = new Promise((resolve) => {
    // Read to the end, but kept only until it listens: a full pipe would stall the server.
    child.stdout?.on('data', (d: Buffer) => {
      if (server.url) return;
      server.output += d;
      server.url = listening.exec(server.output)?.[1] ?? '';
      if (server.url) resolve(server);
    });
  });
  await Promise.race([listened, exited]).finally(() => clearTimeout(timer));
  if (!server.url) throw new Error(`${command}: exited before listening:\n${server.output}`);
  return server;
}

/** The gateway's options under a login load: login rate limits out of the way of a load
 * generator that logs in from one address, and as many hashes at once as the baselines run
 * (bcrypt is pure CPU: two keep both cores busy, as scrypt gets both through libuv). */
export const LOGIN_LOAD =
  '--login-rate-ip 1000000 --login-rate-user 1000000 --hash-concurrency 2'.split(' ');

/** The baselines: GET /v1/session answered with a constant body of the shape and size of the
 * gateway's answer, with its `cache-control: no-store`: by `node:http`, or with `fastify` by the
 * gateway's own copy of Fastify at its defaults (logger off), one route, no schema; or with
 * `pg <url>` by node:http and one named (prepared) statement a request on a pg pool of the
 * gateway's default size, the session of the Bearer token as the gateway asks pgauth.validate
 * for it, sent as JSON: the least one database round trip a request costs. */
const BARE_SERVER = `const session = { user_id: '00000000-0000-4000-8000-000000000000', username: 'bench_http_user',
  roles: [], session_id: '00000000-0000-4000-8000-000000000001', expires_at: '2030-01-01T00:00:00.000Z' };
if (process.argv[2] === 'fastify') {
  const app = (await import('fastify')).default({ logger: false });
  app.get('/v1/session', async (req, reply) => reply.header('cache-control', 'no-store').send(session));
  console.log('bare listening on ' + (await app.listen({ port: 0, host: '127.0.0.1' })));
} else {
  const body = JSON.stringify(session);
  const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  let answer = (req, res) => res.writeHead(200, headers).end(body);
  if (process.argv[2] === 'pg') {
    const pool = new (await import('pg')).default.Pool({ connectionString: process.argv[3], max: 10 });
    const text = 'select user_id::text, username, session_id::text, roles, expires_at, aal, subject_type from pgauth.validate($1)';
    answer = (req, res) => pool.query({ name: 'validate', text, values: [req.headers.authorization.slice(7)] }).then(
      (r) => res.writeHead(r.rows.length ? 200 : 401, headers).end(JSON.stringify(r.rows[0] ?? null)),
      () => res.writeHead(500).end());
    process.on('SIGTERM', () => pool.end().then(() => process.exit(0)));
  }
  const server = (await import('node:http')).createServer((req, res) => answer(req, res));
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  console.log('bare listening on http://127.0.0.1:' + server.address().port);
}
`;

/** The bare servers by kind: their process name and settings prefix. */
const BARE = {
  'node:http': ['bare node:http', 'bare'],
  fastify: ['bare Fastify', 'bareFastify'],
  pg: ['node:http + pg', 'nodePg'],
} satisfies Record<string, [string, string]>;

/** Starts a bare server (written into .bench/, in the repository so that fastify and pg resolve):
 * `node:http`, `fastify`, or node:http with `pg` on the database `url`. */
export async function startBare(ctx: RunContext, kind: keyof typeof BARE, url = '') {
  await writeFile(`${ctx.scratchDir}/bare-server.mjs`, BARE_SERVER);
  const args = ['.bench/bare-server.mjs', ...(kind === 'node:http' ? [] : [kind]), url];
  return startServer(ctx, args.filter(Boolean), /bare listening on (http:\/\/\S+)/, BARE[kind]);
}

/** One request of a load; every connection sends all the requests of its list in turn. */
export type Req = { method: string; headers?: Record<string, string>; body?: string };

export const postJson = (bodies: object[], more = {}): Req[] => {
  const headers = { 'content-type': 'application/json', ...more };
  return bodies.map((b) => ({ method: 'POST', headers, body: JSON.stringify(b) }));
};

type Load = { rps: number; requests: number; p50: number; p99: number };

/** One autocannon run in its own process (lib/load.ts); any non-2xx answer is an error. */
async function load(ctx: RunContext, url: string, requests: Req[], c: number, s: number) {
  const args = ['--import', 'tsx', 'bench/lib/load.ts', '-c', `${c}`, '-d', `${s}`, url];
  const run = promisify(execFile)(process.execPath, args, { cwd: ROOT, signal: ctx.signal });
  run.child.stdin?.end(JSON.stringify(requests));
  const r = await run.catch((e) => Promise.reject(new Error(`load: ${e.stderr || e.message}`)));
  return JSON.parse(r.stdout) as Load;
}

/** What an HTTP side loads: `describe` says what the requests are on the recorded command line,
 * `load` names them in the table of resource use (with autocannon's connections). */
export type HttpSpec = { label: string; server: Server; path: string; requests: Req[] } & {
  describe: string;
  load: string;
};
export type Loads = { connections: number; seconds: number; warmup: number };

/** A side that loads one server: first every request once (each must answer 200: a 401 is cheaper
 * than a check), then the warm-up; each measured run keeps its latency and the CPU time the
 * server used meanwhile, per 1,000 requests it answered, which go to the settings and the
 * scenario's resource use after the rounds. */
export function httpSide(ctx: RunContext, spec: HttpSpec, o: Loads) {
  const [url, loads] = [spec.server.url + spec.path, [] as (Load & { cpu: number })[]];
  const line = `node --import tsx bench/lib/load.ts -c ${o.connections} -d ${o.seconds}`;
  const command = `${spec.server.command}; ${line} <url>${spec.path} < requests.json (${spec.describe})`;
  const side = {
    ...spec,
    command,
    warm: async () => {
      for (const [i, req] of side.requests.entries()) {
        ctx.signal.throwIfAborted();
        const res = await fetch(url, req);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`request ${i} of ${url}: ${res.status}`);
      }
      return load(ctx, url, side.requests, o.connections, o.warmup);
    },
    run: async () => {
      const before = (await pidusage(spec.server.pid)).ctime;
      const r = await load(ctx, url, side.requests, o.connections, o.seconds);
      const cpu = (await pidusage(spec.server.pid)).ctime - before;
      loads.push({ ...r, cpu: r.requests ? (cpu * 1000) / r.requests : 0 });
      return r.rps;
    },
    after: async () => {
      const m = (k: 'p50' | 'p99' | 'cpu') => median(loads.map((x) => x[k]));
      const [p50, p99, cpuMsPer1000] = [m('p50'), m('p99'), round(m('cpu'))];
      const rssMiB = round((await pidusage(spec.server.pid)).memory / 2 ** 20);
      ctx.log(`  ${spec.label}: p50/p99 ${p50}/${p99} ms, ${cpuMsPer1000} ms CPU, ${rssMiB} MiB`);
      const [p, load] = [spec.server.prefix, `${spec.load}, autocannon -c ${o.connections}`];
      ctx.result.resources.push({ process: spec.server.name, load, cpuMsPer1000, rssMiB });
      const cpu = { [`${p}CpuMsPer1000`]: cpuMsPer1000, [`${p}RssMiB`]: rssMiB };
      return { [`${p}P50Ms`]: p50, [`${p}P99Ms`]: p99, ...cpu };
    },
  };
  return side;
}

/** The sides of `GET /v1/session` with a Bearer token per request out of `tokens` (1,000): on
 * any server (`side`), on pgauth serve (with `extra` options) with its validation cache or
 * without (`--no-cache`), and on the bare node:http server. */
export function sessionLoad(ctx: RunContext, url: string, tokens: string[], o: Loads) {
  const bearer = (t: string) => ({ method: 'GET', headers: { authorization: `Bearer ${t}` } });
  const requests = tokens.map(bearer);
  const side = (server: Server, how: string, label = server.name) => {
    const [path, load] = ['/v1/session', `GET /v1/session, ${how}, 1,000 tokens`];
    return httpSide(ctx, { label, server, path, requests, describe: '1000 tokens', load }, o);
  };
  // `node packages/pgauth/bin/pgauth.js serve` (the compiled dist/: `npm run build`) on a free
  // port, warnings only, then `extra`; the validation-cache line it prints must say `cache`.
  const gateway = async (cache: boolean, extra: string[] = []) => {
    const args = ['packages/pgauth/bin/pgauth.js', 'serve', '--port', '0', '--database-url', url];
    args.push('--log-level', 'warn', ...(cache ? extra : ['--no-cache', ...extra]));
    const listening = /pgauth listening on (http:\/\/\S+)[\s\S]*validation cache: (\w+)/;
    const server = await startServer(ctx, args, listening, ['pgauth gateway', 'pgauth']);
    const state = listening.exec(server.output)?.[2];
    if (state !== (cache ? 'on' : 'off')) throw new Error(`cache ${state}`);
    return side(server, cache ? 'cache' : 'no cache', `gateway, ${cache ? '' : '--no-'}cache`);
  };
  const bare = async () => side(await startBare(ctx, 'node:http'), 'constant answer');
  return { side, gateway, bare };
}

/** POST /v1/login of `users` in turn on a gateway (every login succeeds). */
export function loginSide(ctx: RunContext, server: Server, users: string[], how: string, o: Loads) {
  const requests = postJson(users.map((username) => ({ username, password: PASSWORD })));
  const [label, n] = ['pgauth logins', users.length];
  const [describe, load] = [`logins of ${n} users`, `POST /v1/login, ${how}, ${n} users`];
  return httpSide(ctx, { label, server, path: '/v1/login', requests, describe, load }, o);
}
