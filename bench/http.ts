/** Scenario `http`: GET /v1/session on `pgauth serve --no-cache` (a database check a request) vs
 * bare node:http (≥ 0.30), node:http with one prepared pg query a request (≥ 0.85: the limit of
 * one round trip) and bare Fastify (no target: the framework's share), in the same rounds;
 * POST /v1/login vs bare crypt() in PostgreSQL at the same cost (≥ 0.9); then the resident memory
 * of `pgauth serve` on the embedded engine, idle and after the same GET load (≤ 200 MiB). */
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPostgres } from '../packages/client/src/db/postgres.ts';
import * as http from './lib/http.ts';
import {
  count,
  measureGroup,
  median,
  type RunContext,
  round,
  type Timing,
  timing,
} from './lib/measure.ts';
import * as pg from './lib/pg.ts';

export const description = `gateway GET /v1/session vs bare node:http, node:http + pg, bare Fastify, autocannon -c 20; login vs crypt(); memory on the embedded engine`;
const GATEWAY = `pgauth serve --no-cache, GET /v1/session, a Bearer token per request out of 1000 live sessions (pgauth.validate / validate_many on every request)`;
const BARE = `node:http server answering a constant JSON body, same requests`;
const ABOVE = `${GATEWAY} (the rounds of the row above)`;
const PG = `node:http server, a pg Pool of 10 (the gateway's default), one named prepared statement a request: select … from pgauth.validate($1) of the Bearer token, the row sent as JSON; same requests`;
const FASTIFY = `Fastify at its defaults (logger off), one route GET /v1/session sending a constant JSON body, same requests: the gateway's framework doing nothing else`;
const LOGIN = `pgauth serve, POST /v1/login of 20 users in turn (every login succeeds; rate limits raised)`;
const CRYPT = `select crypt(prehash, stored hash) = stored hash in PostgreSQL, cost 10, pgbench -c 2`;

export async function run(ctx: RunContext) {
  const { seconds, warmup, runs } = timing(ctx, 8, 3);
  const b = await pg.createDatabase(ctx, 'http');
  const tokens = await pg.loginSessions(b.db, 1000, 'bench_http_', 10);
  const load = http.sessionLoad(ctx, b.url, tokens, { connections: 20, seconds, warmup });
  const [gateway, bare] = [await load.gateway(false, http.LOGIN_LOAD), await load.bare()];
  const withPg = load.side(await http.startBare(ctx, 'pg', b.url), 'one prepared query');
  const fastify = load.side(await http.startBare(ctx, 'fastify'), 'constant answer');
  const sides = [gateway, bare, fastify, withPg];
  // Each row is named after its baseline side.
  const vs = (j: number) => `GET /v1/session (no cache) vs ${sides[j]?.label}`;
  const nodeHttp = ([, node = []]: number[][]) => ({
    bareNodeHttpReqPerSec: Math.round(median(node)),
  });
  await measureGroup(ctx, {
    unit: 'req/s',
    sides,
    rows: [
      [vs(1), [0, GATEWAY], [1, BARE], 0.3, { gatewayRssTargetMiB: 100 }],
      [vs(3), [0, ABOVE], [3, PG], 0.85],
      [vs(2), [0, ABOVE], [2, FASTIFY], undefined, nodeHttp],
    ],
    settings: { connections: 20, ...runs, tokens: 1000 },
  });
  // Logins of 20 users in turn, 8 connections so that the hashing slots never wait for one.
  const users = await pg.registerUsers(b.db, 'bench_http_login_', 20, 10);
  const loginLoad = { connections: 8, seconds, warmup };
  await measureGroup(ctx, {
    unit: '/s',
    sides: [
      http.loginSide(ctx, gateway.server, users, 'bcrypt cost 10', loginLoad),
      await pg.cryptSide(ctx, b, users[0] as string, { seconds, warmup }),
    ],
    rows: [['POST /v1/login vs crypt() (bcrypt cost 10)', [0, LOGIN], [1, CRYPT], 0.9]],
    settings: { connections: 8, cryptClients: 2, ...runs, bcryptCost: 10, hashConcurrency: 2 },
  });
  await embeddedMemory(ctx, { seconds, warmup });
}

/** `pgauth serve` on a new embedded data folder: its resident memory once ready and idle (2 s
 * after /readyz first answers 200), then after the warm-up and a run of every round of GET
 * /v1/session over 1,000 sessions (no cache: the embedded engine has no revocation feed). */
async function embeddedMemory(ctx: RunContext, t: Timing) {
  const dir = `${ctx.scratchDir}/embedded-${process.pid}-${Date.now()}`;
  const args = ['packages/pgauth/bin/pgauth.js', 'serve', '--port', '0', '--data-dir', dir];
  args.push('--log-level', 'warn');
  const listening = /pgauth listening on (http:\/\/\S+)[\s\S]*psql "([^"]+)"/;
  const name: [string, string] = ['pgauth gateway, embedded engine', 'embedded'];
  const server = await http.startServer(ctx, args, listening, name);
  ctx.defer(() => rm(dir, { recursive: true, force: true }));
  const until = Date.now() + 30_000;
  while ((await fetch(`${server.url}/readyz`)).status !== 200) {
    if (Date.now() > until) throw new Error(`${server.command}: /readyz not 200 within 30 s`);
    await sleep(100);
  }
  await sleep(2000);
  const idle = round((await http.usage(server.pid)).memory / 2 ** 20);
  const db = openPostgres({ connectionString: listening.exec(server.output)?.[2] ?? '' });
  const tokens = await pg.loginSessions(db, 1000, 'bench_embedded_', 10).finally(() => db.close());
  const side = http
    .sessionLoad(ctx, '', tokens, { connections: 20, ...t })
    .side(server, 'no cache');
  await side.warm();
  const rps: number[] = [];
  for (let r = 0; r < ctx.rounds; r++) rps.push(await side.run());
  const { embeddedRssMiB: loaded } = (await side.after()) as { embeddedRssMiB: number };
  ctx.log(`embedded engine: ${idle} MiB idle, ${loaded} MiB after the load`);
  const how = `pgauth serve --data-dir <new folder>; resident set (pidusage)`;
  const load = `${count(Math.round(median(rps)))} req/s, median of ${ctx.rounds} runs of ${t.seconds} s`;
  // biome-ignore format: a table, a row a line
  ctx.result.measures.push(
    { name: 'gateway RSS on the embedded engine, idle', value: idle, unit: 'MiB', detail: `${how} 2 s after /readyz first answered 200; target ≤ 200` },
    { name: 'gateway RSS on the embedded engine, after the load', value: loaded, unit: 'MiB', detail: `${how} after GET /v1/session with 1,000 tokens, autocannon -c 20 (${load}); target ≤ 200` },
  );
}
