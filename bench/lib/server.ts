/**
 * Servers under load in their own process: started from a command, found by the URL in the line
 * they print when listening, measured (RSS, CPU time) and stopped. Used by every HTTP scenario.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Server {
  child: ChildProcess;
  url: string;
  /** Its stdout up to and including the match of `listening`. */
  output: string;
  stop(): Promise<void>;
}

/**
 * Spawns a server and waits for its stdout to match `listening`, whose first group is its URL.
 * The pattern may span several lines (e.g. the listening line and a line printed after it).
 */
export function startServer(
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
        resolve({ child, url: m[1], output: out, stop });
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

/** Resident set size of a process (VmRSS of /proc/<pid>/status), in MiB. Linux only. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat's times (`getconf CLK_TCK`; 100 nearly always). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
    if (!(Number.isInteger(n) && n > 0)) throw new Error(`getconf CLK_TCK: ${n}`);
    clockTicks = n;
  }
  return clockTicks;
}

/**
 * CPU time a process has used so far, user and system, all its threads (utime + stime of
 * /proc/<pid>/stat), in seconds; a resolution of one clock tick (10 ms). Linux only.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: state is field
  // 3, utime 14 and stime 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!(Number.isFinite(utime) && Number.isFinite(stime))) {
    throw new Error(`no utime/stime in /proc/${pid}/stat`);
  }
  return (utime + stime) / ticksPerSecond();
}

/**
 * Runs a load and returns its result and the CPU the process `pid` used meanwhile, in ms per
 * 1,000 of the requests it served (`requests` of the result).
 */
export async function withCpu<T extends { requests: number }>(
  pid: number,
  load: () => Promise<T>,
): Promise<T & { cpuMsPer1000: number }> {
  const before = await cpuSeconds(pid);
  const result = await load();
  const used = (await cpuSeconds(pid)) - before;
  return { ...result, cpuMsPer1000: result.requests ? (used * 1e6) / result.requests : 0 };
}

const PGAUTH_BIN = fileURLToPath(new URL('../../packages/pgauth/bin/pgauth.js', import.meta.url));

/** What `pgauth serve` prints once listening: its URL (group 1), then its validation-cache line
 * (group 2). */
export const GATEWAY_LISTENING =
  /pgauth listening on (http:\/\/\S+)[\s\S]*validation cache: ([^\n]*)\n/;

/** Login rate limits raised out of the way of a load generator that logs in from one address. */
export const NO_LOGIN_LIMITS = ['--login-rate-ip', '1000000', '--login-rate-user', '1000000'];

/** `node` arguments of `pgauth serve` on a free port of `databaseUrl`, warnings only, then `extra`. */
export function gatewayArgs(databaseUrl: string, extra: readonly string[] = []): string[] {
  return [
    PGAUTH_BIN,
    'serve',
    '--port',
    '0',
    '--database-url',
    databaseUrl,
    '--log-level',
    'warn',
    ...extra,
  ];
}

/** How a result reports gatewayArgs(databaseUrl, extra): `node bin/pgauth.js serve …`, the
 * database URL as `<url>`. */
export function gatewayCommand(databaseUrl: string, extra: readonly string[] = []): string {
  const args = gatewayArgs(databaseUrl, extra).slice(1);
  return ['node', 'packages/pgauth/bin/pgauth.js', ...args].join(' ').replace(databaseUrl, '<url>');
}

/** The answer of both bare servers: a constant JSON body of the shape and size of a /v1/session
 * answer. */
const SESSION_BODY = JSON.stringify({
  user_id: '00000000-0000-4000-8000-000000000000',
  username: 'bench_http_user',
  roles: [],
  session_id: '00000000-0000-4000-8000-000000000001',
  expires_at: '2030-01-01T00:00:00.000Z',
});

/** The baseline server: node:http answering every request with SESSION_BODY. It prints
 * `bare listening on <url>`. */
const BARE_SERVER = `import { createServer } from 'node:http';
const body = JSON.stringify(${SESSION_BODY});
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  console.log('bare listening on http://127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/**
 * The second baseline: Fastify (the gateway's version, from the repository's node_modules) at
 * its defaults, logger off, one route GET /v1/session sending the same body as an object, with
 * the header the gateway sets; no schema, so Fastify's default serializer (JSON.stringify). It
 * prints `bare-fastify listening on <url>`.
 */
const BARE_FASTIFY_SERVER = `import Fastify from 'fastify';
const session = ${SESSION_BODY};
const app = Fastify({ logger: false });
app.get('/v1/session', async (request, reply) =>
  reply.header('cache-control', 'no-store').send(session),
);
const address = await app.listen({ port: 0, host: '127.0.0.1' });
console.log('bare-fastify listening on ' + address);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

/** Writes the bare node:http server script as `bare-server.mjs` in `dir` and returns its path. */
export async function writeBareServer(dir: string): Promise<string> {
  const path = join(dir, 'bare-server.mjs');
  await writeFile(path, BARE_SERVER);
  return path;
}

/**
 * Writes the bare Fastify server script as `bare-fastify-server.mjs` in `dir` and returns its
 * path. `dir` must be inside the repository, so that the script's `import 'fastify'` resolves to
 * the gateway's own copy.
 */
export async function writeBareFastifyServer(dir: string): Promise<string> {
  const path = join(dir, 'bare-fastify-server.mjs');
  await writeFile(path, BARE_FASTIFY_SERVER);
  return path;
}
