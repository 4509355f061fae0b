/**
 * Comparison c of scenario `peer`: pgauth `POST /v1/login` against Better Auth
 * `POST /api/auth/sign-in/email`, each side at its default password hash (bcrypt cost 11 in
 * PostgreSQL; scrypt N=16384 r=16 p=1 in the Node.js process), 20 users in turn, every login
 * succeeding, in interleaved rounds.
 */
import { autocannonRequests, type Load } from '../lib/autocannon.ts';
import { formatFigure } from '../lib/report.ts';
import { interleave } from '../lib/rounds.ts';
import type { Comparison, Resource, RunContext } from '../lib/scenario.ts';
import { rssMiB, withCpu } from '../lib/server.ts';
import { BENCH_PASSWORD } from '../lib/sessions.ts';
import { median } from '../lib/stats.ts';
import {
  baCommand,
  type Facts,
  gwCommand,
  LOGIN_COST,
  LOGIN_USERS,
  rateLimits,
  round1,
  SCRYPT,
  type Servers,
  type Settings,
} from './common.ts';

export async function measureLogin(
  ctx: RunContext,
  s: Settings,
  sv: Servers,
  pgauthUsers: string[],
  baEmails: string[],
  facts: Facts,
): Promise<{ comparison: Comparison; resources: Resource[] }> {
  const pgauthRequests = pgauthUsers.map((username) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: BENCH_PASSWORD }),
  }));
  // With the Origin header a browser sends (Better Auth checks it against its base URL).
  const baRequests = baEmails.map((email) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: sv.baOff.url },
    body: JSON.stringify({ email, password: BENCH_PASSWORD }),
  }));
  const login = (duration: number) =>
    autocannonRequests(
      `${sv.cached.url}/v1/login`,
      {
        connections: s.login.connections,
        duration,
        requests: pgauthRequests,
        describe: `logins of ${LOGIN_USERS} users`,
      },
      ctx.signal,
    );
  const signIn = (duration: number) =>
    autocannonRequests(
      `${sv.baOff.url}/api/auth/sign-in/email`,
      {
        connections: s.login.connections,
        duration,
        requests: baRequests,
        describe: `sign-ins of ${LOGIN_USERS} users`,
      },
      ctx.signal,
    );
  ctx.log(`peer: login vs sign-in, warm-up ${s.login.warmup} s each`);
  await login(s.login.warmup);
  await signIn(s.login.warmup);
  // With the CPU time of each server process, as the session checks (PostgreSQL's work, and so
  // pgauth's bcrypt, is not in it; Better Auth's scrypt runs in its own process and is).
  type Measured = Load & { cpuMsPer1000: number };
  const loads = { pgauth: [] as Measured[], baseline: [] as Measured[] };
  const result = await interleave(
    s.rounds,
    {
      label: 'pgauth POST /v1/login',
      run: async () => {
        const r = await withCpu(sv.cached.child.pid as number, () => login(s.login.duration));
        loads.pgauth.push(r);
        return r.rps;
      },
    },
    {
      label: 'Better Auth sign-in/email',
      run: async () => {
        const r = await withCpu(sv.baOff.child.pid as number, () => signIn(s.login.duration));
        loads.baseline.push(r);
        return r.rps;
      },
    },
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} /s` },
  );
  const lat = (xs: Load[]) => `${median(xs.map((x) => x.p50))}/${median(xs.map((x) => x.p99))}`;
  const cpu = (xs: Measured[]) => round1(median(xs.map((x) => x.cpuMsPer1000)));
  const rss = {
    pgauth: round1(await rssMiB(sv.cached.child.pid as number)),
    betterAuth: round1(await rssMiB(sv.baOff.child.pid as number)),
  };
  ctx.log(
    `server CPU ms per 1,000 logins: pgauth ${cpu(loads.pgauth)} (bcrypt in PostgreSQL, not counted), Better Auth ${cpu(loads.baseline)} (scrypt included); RSS MiB after them: pgauth ${rss.pgauth}, Better Auth ${rss.betterAuth}`,
  );
  const comparison: Comparison = {
    name: 'POST /v1/login vs BA sign-in/email',
    unit: '/s',
    pgauthLabel: `pgauth serve, POST /v1/login of ${LOGIN_USERS} users in turn (bcrypt cost ${LOGIN_COST}, every login succeeds)`,
    baselineLabel: `Better Auth (cookie cache off), POST /api/auth/sign-in/email of ${LOGIN_USERS} users in turn (scrypt, every sign-in succeeds)`,
    result,
    target: 1,
    settings: {
      connections: s.login.connections,
      durationSeconds: s.login.duration,
      rounds: s.rounds,
      warmupSeconds: s.login.warmup,
      pgauthHash: `bcrypt cost ${LOGIN_COST} (pgcrypto, in PostgreSQL; pgauth's default bcrypt_cost), of the SHA-256 pre-hash`,
      betterAuthHash: `${SCRYPT} (its default)`,
      pgauthVerifyMs: facts.bcryptVerifyMs,
      betterAuthVerifyMs: facts.scryptVerifyMs,
      pgauthHashConcurrency:
        '2 (--hash-concurrency 2: both cores, as scrypt gets both through libuv)',
      pgauthP50P99Ms: lat(loads.pgauth),
      betterAuthP50P99Ms: lat(loads.baseline),
      pgauthCpuMsPer1000: cpu(loads.pgauth),
      betterAuthCpuMsPer1000: cpu(loads.baseline),
      pgauthRssMiB: rss.pgauth,
      betterAuthRssMiB: rss.betterAuth,
      betterAuthVersion: facts.betterAuth,
      pgauthVersion: facts.pgauth,
      node: facts.node,
      postgres: facts.postgres,
      rateLimits,
    },
    commands: {
      pgauth: gwCommand(sv.cached, [], loads.pgauth),
      baseline: baCommand(sv.baOff, '', loads.baseline),
    },
  };
  const c = `${LOGIN_USERS} users, autocannon -c ${s.login.connections}`;
  const resources: Resource[] = [
    {
      process: 'pgauth gateway',
      load: `POST /v1/login, bcrypt cost ${LOGIN_COST} in PostgreSQL, ${c}`,
      cpuMsPer1000: cpu(loads.pgauth),
      rssMiB: rss.pgauth,
    },
    {
      process: 'Better Auth',
      load: `POST /api/auth/sign-in/email, scrypt in process, ${c}`,
      cpuMsPer1000: cpu(loads.baseline),
      rssMiB: rss.betterAuth,
    },
  ];
  return { comparison, resources };
}
