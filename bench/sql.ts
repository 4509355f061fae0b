/** Scenario `sql`, over pgbench: pgauth.validate on 100,000 sessions vs pgbench -S on as many
 * accounts (≥ 0.85); pgauth.login vs the bare crypt() it contains, cost 10 (≥ 0.9). */
import { measureGroup, type RunContext, roundsOf, secondsOf } from './lib/measure.ts';
import * as pg from './lib/pg.ts';

export const description = `pgauth.validate vs pgbench -S, pgauth.login vs bare crypt(), over pgbench`;
const VALIDATE = `select * from pgauth.validate(token), 100,000 live sessions`;
const LOGIN = `select * from pgauth.login('bench_login_' || :client_id, '${pg.PASSWORD}');\n`;
const CRYPT = `select crypt(prehash, stored hash) = stored hash, cost 10`;

export async function run(ctx: RunContext) {
  const [seconds, warmup] = [secondsOf(ctx, 8, 3), ctx.quick ? 1 : 3];
  const runs = { durationSeconds: seconds, rounds: roundsOf(ctx), warmupSeconds: warmup };
  const dir = `${ctx.scratchDir}/sql`;
  const b = await pg.createDatabase('sql');
  try {
    ctx.log(`database ${b.name}: 100,000 sessions, pgbench -i`);
    await pg.insertSessions(b.db, { prefix: 'bench_user_', from: 1, to: 1e5, times: pg.LIVE });
    await b.db.exec('vacuum (analyze) pgauth.sessions, pgauth.users');
    // Every token the script can draw must validate, else the benchmark measures misses.
    await pg.checkTokens(b.db, 1, 1e5);
    await pg.pgbenchInit(b.url, 1, ctx.signal);
    // Flush what the setup dirtied now rather than in the middle of a measured round.
    await b.db.exec('checkpoint');
    const common = { url: b.url, clients: 4, dir, signal: ctx.signal };
    const script = await pg.writeScript(dir, 'validate.sql', pg.validateScript(1e5));
    const validate = await measureGroup(ctx, {
      unit: 'tps',
      sides: [
        pg.pgbenchSide('pgauth.validate', { ...common, script }, seconds, warmup),
        pg.pgbenchSide('pgbench -S', common, seconds, warmup),
      ],
      rows: [
        ['validate vs pgbench -S', [0, VALIDATE], [1, 'pgbench -S (select-only), scale 1'], 0.85],
      ],
      settings: {
        clients: 4,
        threads: 2,
        ...runs,
        protocol: 'prepared',
        sessions: 1e5,
        pgbenchScale: 1,
      },
    });
    // bcrypt is pure CPU: a client per core, each logging in a user of its own (:client_id), so
    // that concurrent logins never queue on one user row.
    const [user = ''] = await pg.registerUsers(b.db, 'bench_login_', 2, 10);
    const loginRun = {
      ...common,
      clients: 2,
      script: await pg.writeScript(dir, 'login.sql', LOGIN),
    };
    const login = pg.pgbenchSide('pgauth.login', loginRun, seconds, warmup);
    const crypt = await pg.cryptRun(b, user, { ...common, clients: 2 });
    const loginLabel = 'select * from pgauth.login(username, password)';
    const logins = await measureGroup(ctx, {
      unit: '/s',
      sides: [login, pg.pgbenchSide('crypt() cost 10', crypt, seconds, warmup)],
      rows: [['login vs crypt() (bcrypt cost 10)', [0, loginLabel], [1, CRYPT], 0.9]],
      settings: { clients: 2, threads: 2, ...runs, protocol: 'prepared', bcryptCost: 10 },
    });
    // A failed login costs the same bcrypt as a good one: every login must have succeeded.
    const audit = await b.db.query<{ ok: number; failed: number }>(
      `select count(*) filter (where event = 'login_success')::int as ok,
              count(*) filter (where event = 'login_failure')::int as failed from pgauth.audit_log`,
    );
    const { ok, failed } = audit.rows[0] ?? { ok: 0, failed: 0 };
    if (failed > 0 || ok < login.transactions)
      throw new Error(`logins: ${ok} ok, ${failed} failed`);
    return { comparisons: [...validate.comparisons, ...logins.comparisons] };
  } finally {
    await b.drop();
  }
}
