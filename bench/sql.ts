/** Scenario `sql`, over pgbench: pgauth.validate on 100,000 sessions vs pgbench -S on as many
 * accounts (≥ 0.85); pgauth.login vs the bare crypt() it contains, cost 10 (≥ 0.9); then the
 * sessions' size per million with 1,000,000 ended ones added, and purge_expired() deleting them
 * while validate runs: seconds per million (≤ 2), validation p99 during it vs idle (≤ 2).
 * `--quick`: 100,000 ended. */
import { setTimeout as sleep } from 'node:timers/promises';
import { count, measureGroup, percentile, type RunContext, round, timing } from './lib/measure.ts';
import * as pg from './lib/pg.ts';

export const description = `pgauth.validate vs pgbench -S, pgauth.login vs bare crypt(), purge under load, over pgbench`;
const VALIDATE = `select * from pgauth.validate(token), 100,000 live sessions`;
const LOGIN = `select * from pgauth.login('bench_login_' || :client_id, '${pg.PASSWORD}');\n`;
const CRYPT = `select crypt(prehash, stored hash) = stored hash, cost 10`;

export async function run(ctx: RunContext) {
  const t = timing(ctx, 8, 3);
  const { b } = await pg.sessionsDatabase(ctx, 'sql', 1e5);
  // Flush what the setup dirtied now rather than in the middle of a measured round.
  await b.db.exec('checkpoint');
  const common = { url: b.url, clients: 4 };
  const script: [string, string] = ['validate.sql', pg.validateScript(1e5)];
  await measureGroup(ctx, {
    unit: 'tps',
    sides: [
      pg.pgbenchSide(ctx, 'pgauth.validate', { ...common, script }, t),
      pg.pgbenchSide(ctx, 'pgbench -S', common, t),
    ],
    rows: [
      ['validate vs pgbench -S', [0, VALIDATE], [1, 'pgbench -S (select-only), scale 1'], 0.85],
    ],
    settings: { ...pg.pgbenchSettings(4, t.runs), sessions: 1e5, pgbenchScale: 1 },
  });
  // bcrypt is pure CPU: a client per core, each logging in a user of its own (:client_id), so
  // that concurrent logins never queue on one user row.
  const [user = ''] = await pg.registerUsers(b.db, 'bench_login_', 2, 10);
  const loginRun = { ...common, clients: 2, script: ['login.sql', LOGIN] as [string, string] };
  const login = pg.pgbenchSide(ctx, 'pgauth.login', loginRun, t);
  const loginLabel = 'select * from pgauth.login(username, password)';
  await measureGroup(ctx, {
    unit: '/s',
    sides: [login, await pg.cryptSide(ctx, b, user, t)],
    rows: [['login vs crypt() (bcrypt cost 10)', [0, loginLabel], [1, CRYPT], 0.9]],
    settings: { ...pg.pgbenchSettings(2, t.runs), bcryptCost: 10 },
  });
  // A failed login costs the same bcrypt as a good one: every login must have succeeded.
  const audit = await b.db.query<{ ok: number; failed: number }>(
    `select count(*) filter (where event = 'login_success')::int as ok,
            count(*) filter (where event = 'login_failure')::int as failed from pgauth.audit_log`,
  );
  const { ok, failed } = audit.rows[0] ?? { ok: 0, failed: 0 };
  if (failed > 0 || ok < login.transactions) throw new Error(`logins: ${ok} ok, ${failed} failed`);
  await purgeUnderLoad(ctx, b, { ...common, script });
}

/** Adds `ended` abandoned sessions to the 100,000 live ones, measures the sessions' size, then
 * times one purge_expired() started 2 s into a run of the validate load, and compares the p99
 * of the validations that ended during it with that of an idle run just before: three measures
 * of the scenario. */
async function purgeUnderLoad(ctx: RunContext, b: pg.BenchDatabase, load: pg.PgbenchRun) {
  const ended = ctx.quick ? 1e5 : 1e6;
  await pg.addEnded(ctx, b, 1e5, ended);
  const sizeSql = `select pg_total_relation_size('pgauth.sessions')::float8 as total,
    pg_indexes_size('pgauth.sessions')::float8 as indexes, count(*)::float8 as n from pgauth.sessions`;
  const size = (await b.db.query<Record<'total' | 'indexes' | 'n', number>>(sizeSql)).rows[0];
  const perM = (bytes = 0) => round(bytes / 2 ** 20 / ((size?.n ?? 1) / 1e6));
  const latency = ([, ms = 0]: number[]) => ms;
  const p99 = (rows: number[][]) => percentile(rows.map(latency), 99);
  const idle = p99(await pg.pgbenchLatencies(ctx, load, 5));
  const during = pg.pgbenchLatencies(ctx, load, 2 + Math.max(8, Math.ceil((20 * ended) / 1e6)));
  const purge = sleep(2000).then(() => pg.purgeExpired(b, ended));
  const [{ start, end, seconds }, rows] = await Promise.all([purge, during]);
  const inside = rows.filter(([at = 0]) => at >= start && at <= end);
  const last = rows.reduce((m, [at = 0]) => Math.max(m, at), 0);
  const ratio = round(p99(inside) / idle, 2);
  ctx.log(`purge_expired(): ${ended} in ${seconds.toFixed(2)} s; p99 ${p99(inside)} / ${idle} ms`);
  // biome-ignore format: a table, a row a line
  ctx.result.measures.push(
    { name: 'sessions table and indexes per million sessions', value: perM(size?.total), unit: 'MiB', detail: `pg_total_relation_size (indexes ${perM(size?.indexes)} MiB) over ${count(size?.n ?? 0)} sessions after VACUUM; target ≤ 200` },
    { name: 'purge_expired() per million ended sessions, under validation load', value: round((seconds * 1e6) / ended, 2), unit: 's', detail: `one call deleting ${count(ended)} abandoned sessions among 100,000 live ones while 4 clients validate; target ≤ 2` },
    { name: 'validation p99 during the purge / idle', value: ratio, unit: '×', detail: `p99 of the ${count(inside.length)} validations that ended during the purge, ${round(p99(inside), 2)} ms, over an idle 5 s run's, ${round(idle, 2)} ms${last < end ? ' (the load ended before the purge)' : ''}; target ≤ 2` },
  );
}
