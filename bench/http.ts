/** Scenario `http`: GET /v1/session on `pgauth serve --no-cache` (a database check a request) vs
 * bare node:http (≥ 0.30), node:http with one prepared pg query a request (≥ 0.85: the limit of
 * one round trip) and bare Fastify (no target: the framework's share), in the same rounds;
 * POST /v1/login vs bare crypt() in PostgreSQL at the same cost (≥ 0.9). */
import * as http from './lib/http.ts';
import { measureGroup, median, type RunContext, timing } from './lib/measure.ts';
import * as pg from './lib/pg.ts';

export const description = `gateway GET /v1/session vs bare node:http, node:http + pg, bare Fastify, autocannon -c 20; login vs crypt()`;
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
}
