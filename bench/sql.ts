/**
 * Scenario `sql`: pgauth's SQL API against PostgreSQL's own floor, on one server, in one run.
 *
 *   1. validate vs pgbench -S: pgauth.validate on random tokens out of 100,000 live sessions,
 *      against pgbench's select-only script (one primary-key lookup) on its own tables of the
 *      same row count, same clients, both -M prepared, interleaved rounds. Target ≥ 0.85.
 *   2. login vs crypt(): pgauth.login (SHA-256 pre-hash, bcrypt verify, user update, session and
 *      audit inserts, commit) against the bare bcrypt verification it contains, at one cost.
 *      Target ≥ 0.9.
 *
 * See docs/benchmarks.md for why it is measured this way.
 */
import { join } from 'node:path';
import { cryptBaseline } from './lib/crypt.ts';
import { type BenchDatabase, createMigratedDatabase } from './lib/db.ts';
import { countValidTokens, insertSessions, validateScript } from './lib/insert-sessions.ts';
import { pgbench, pgbenchInit, pgbenchVersion, writeScript } from './lib/pgbench.ts';
import { formatFigure } from './lib/report.ts';
import { interleave } from './lib/rounds.ts';
import type { Comparison, RunContext, ScenarioResult } from './lib/scenario.ts';

const SESSIONS = 100_000;
/** Owners of the sessions; validate does not join users, so their number changes nothing. */
const SESSION_USERS = 10;
/**
 * pgbench scale of the baseline: 100,000 pgbench_accounts rows per unit. 1 gives the baseline
 * table the same row count as pgauth.sessions, so that both sides look up one row by a unique
 * index in a table of the same size and both fit in shared_buffers.
 */
const PGBENCH_SCALE = 1;
const PASSWORD = 'bench-password-7f3a9c1d';

interface Settings {
  rounds: number;
  warmup: number;
  validate: { clients: number; threads: number; duration: number };
  login: { clients: number; threads: number; duration: number; bcryptCost: number };
}

function settingsFor(ctx: RunContext): Settings {
  const quick = ctx.quick;
  return {
    rounds: ctx.rounds ?? (quick ? 2 : 5),
    warmup: quick ? 1 : 3,
    validate: { clients: 4, threads: 2, duration: quick ? 3 : 8 },
    // bcrypt is pure CPU: one client per core keeps both cores busy without queueing.
    login: { clients: 2, threads: 2, duration: quick ? 3 : 8, bcryptCost: 10 },
  };
}

async function setupSessions(b: BenchDatabase, ctx: RunContext): Promise<void> {
  const { db } = b;
  await db.exec('update pgauth.settings set bcrypt_cost = 4');
  for (let i = 1; i <= SESSION_USERS; i++) {
    const name = `bench_user_${String(i).padStart(2, '0')}`;
    const r = await db.query<{ id: string }>('select pgauth.register($1, $2) as id', [
      name,
      PASSWORD,
    ]);
    // A role, so that validate returns a non-empty roles array as it would in production.
    await db.query(`select pgauth.grant_role($1, 'member')`, [r.rows[0]?.id]);
  }
  ctx.signal.throwIfAborted();
  // The columns pgauth._start_session fills, for SESSIONS sessions spread over the users; as
  // superuser, straight into the table (100,000 logins would be 100,000 bcrypt hashes).
  await insertSessions(db, { from: 1, to: SESSIONS, userPrefix: 'bench_user_' });
  await db.exec('vacuum (analyze) pgauth.sessions, pgauth.users');
  // Every token the script can draw must validate, else the benchmark measures misses.
  const ok = await countValidTokens(db, 1, SESSIONS);
  if (ok.valid !== SESSIONS) {
    throw new Error(`only ${ok.valid} of ${SESSIONS} bench tokens validate`);
  }
}

async function validateVsSelect(
  b: BenchDatabase,
  ctx: RunContext,
  s: Settings,
): Promise<Comparison> {
  const script = await writeScript(
    join(ctx.scratchDir, 'sql'),
    'validate.sql',
    validateScript(SESSIONS),
  );
  const common = { url: b.url, ...s.validate, signal: ctx.signal };
  const sides = {
    pgauth: { ...common, script },
    baseline: { ...common, builtin: 'select-only' },
  };
  ctx.log(`validate vs pgbench -S: warm-up ${s.warmup} s each`);
  await pgbench({ ...sides.pgauth, duration: s.warmup });
  await pgbench({ ...sides.baseline, duration: s.warmup });
  const commands = { pgauth: '', baseline: '' };
  const result = await interleave(
    s.rounds,
    {
      label: 'pgauth.validate',
      run: async () => {
        const r = await pgbench(sides.pgauth);
        commands.pgauth = r.command;
        return r.tps;
      },
    },
    {
      label: 'pgbench -S',
      run: async () => {
        const r = await pgbench(sides.baseline);
        commands.baseline = r.command;
        return r.tps;
      },
    },
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} tps` },
  );
  return {
    name: 'validate vs pgbench -S',
    unit: 'tps',
    pgauthLabel: `select * from pgauth.validate(token), ${SESSIONS.toLocaleString('en-US')} live sessions`,
    baselineLabel: `pgbench -S (select-only), scale ${PGBENCH_SCALE}`,
    result,
    target: 0.85,
    settings: {
      clients: s.validate.clients,
      threads: s.validate.threads,
      durationSeconds: s.validate.duration,
      rounds: s.rounds,
      warmupSeconds: s.warmup,
      protocol: 'prepared',
      sessions: SESSIONS,
      pgbenchScale: PGBENCH_SCALE,
    },
    commands: {
      pgauth: commands.pgauth.replace(script, 'validate.sql'),
      baseline: commands.baseline,
    },
  };
}

async function loginVsCrypt(b: BenchDatabase, ctx: RunContext, s: Settings): Promise<Comparison> {
  const { db } = b;
  const cost = s.login.bcryptCost;
  await db.query('update pgauth.settings set bcrypt_cost = $1', [cost]);
  // One user per pgbench client (:client_id), so that concurrent logins never queue on one row.
  for (let c = 0; c < s.login.clients; c++) {
    await db.query('select pgauth.register($1, $2)', [`bench_login_${c}`, PASSWORD]);
  }
  const dir = join(ctx.scratchDir, 'sql');
  const loginScript = await writeScript(
    dir,
    'login.sql',
    `select * from pgauth.login('bench_login_' || :client_id, '${PASSWORD}');\n`,
  );
  const crypt = await cryptBaseline(b, {
    username: 'bench_login_0',
    password: PASSWORD,
    cost,
    dir,
    clients: s.login.clients,
    threads: s.login.threads,
    signal: ctx.signal,
  });
  const common = { url: b.url, ...s.login, signal: ctx.signal };
  let logins = 0;
  const runLogin = async (duration: number) => {
    const r = await pgbench({ ...common, duration, script: loginScript });
    logins += r.transactions;
    return r;
  };
  ctx.log(`login vs crypt() at cost ${cost}: warm-up ${s.warmup} s each`);
  await runLogin(s.warmup);
  await crypt.run(s.warmup);
  const commands = { pgauth: '', baseline: '' };
  const result = await interleave(
    s.rounds,
    {
      label: 'pgauth.login',
      run: async () => {
        const r = await runLogin(s.login.duration);
        commands.pgauth = r.command;
        return r.tps;
      },
    },
    {
      label: `crypt() cost ${cost}`,
      run: async () => {
        const r = await crypt.run(s.login.duration);
        commands.baseline = r.command;
        return r.tps;
      },
    },
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} /s` },
  );
  // A failed login costs the same bcrypt as a good one: make sure every login succeeded.
  const check = await db.query<{ ok: number; failed: number }>(
    `select count(*) filter (where a.event = 'login_success')::int as ok,
            count(*) filter (where a.event = 'login_failure')::int as failed
     from pgauth.audit_log a where a.event in ('login_success', 'login_failure')`,
  );
  const { ok = 0, failed = 0 } = check.rows[0] ?? {};
  if (failed > 0 || ok < logins) {
    throw new Error(`logins: ${ok} succeeded, ${failed} failed; pgbench counted ${logins}`);
  }
  return {
    name: `login vs crypt() (bcrypt cost ${cost})`,
    unit: '/s',
    pgauthLabel: 'select * from pgauth.login(username, password)',
    baselineLabel: `select crypt(prehash, stored hash) = stored hash, cost ${cost}`,
    result,
    target: 0.9,
    settings: {
      clients: s.login.clients,
      threads: s.login.threads,
      durationSeconds: s.login.duration,
      rounds: s.rounds,
      warmupSeconds: s.warmup,
      protocol: 'prepared',
      bcryptCost: cost,
    },
    commands: {
      pgauth: commands.pgauth.replace(loginScript, 'login.sql'),
      baseline: crypt.redact(commands.baseline),
    },
  };
}

export async function run(ctx: RunContext): Promise<ScenarioResult> {
  const s = settingsFor(ctx);
  const started = Date.now();
  const b = await createMigratedDatabase('sql');
  try {
    ctx.log(`database ${b.name}: ${SESSIONS.toLocaleString('en-US')} sessions, pgbench -i`);
    await setupSessions(b, ctx);
    ctx.signal.throwIfAborted();
    await pgbenchInit(b.url, PGBENCH_SCALE, ctx.signal);
    // Flush what the setup dirtied now rather than in the middle of a measured round.
    await b.db.exec('checkpoint');
    const setupSeconds = (Date.now() - started) / 1000;
    const version = await b.db.query<{ v: string; sb: string }>(
      `select current_setting('server_version') as v, current_setting('shared_buffers') as sb`,
    );
    const comparisons = [await validateVsSelect(b, ctx, s), await loginVsCrypt(b, ctx, s)];
    return {
      comparisons,
      info: {
        postgres: version.rows[0]?.v,
        sharedBuffers: version.rows[0]?.sb,
        pgbench: await pgbenchVersion(),
        setupSeconds,
        totalSeconds: (Date.now() - started) / 1000,
        quick: ctx.quick,
      },
    };
  } finally {
    await b.drop();
  }
}
