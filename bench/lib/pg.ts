/** Scratch databases on PGAUTH_BENCH_DATABASE_URL's server (as a superuser: the setup writes
 * pgauth's tables), pgbench, and the bench sessions. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import type { Database } from '../../packages/client/src/db/types.ts';
import { migrate } from '../../packages/pgauth/src/migrate.ts';
import { count, type RunContext, round, type Timing } from './measure.ts';

const ADMIN =
  process.env.PGAUTH_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const PASSWORD = 'bench-password-7f3a9c1d';

export async function adminQuery<R extends pg.QueryResultRow>(sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: ADMIN, connectionTimeoutMillis: 5000 });
  await client.connect();
  return (await client.query<R>(sql).finally(() => client.end())).rows;
}

/** A scratch database, and a small pool on it for setup and checks, never the measured work. */
export type BenchDatabase = { name: string; url: string; db: Database };

/** `pgauth_bench_<label>_<random>`, migrated unless `bare`, dropped after the scenario. Ctrl-C
 * cancels its queries: a million-row INSERT is not waited for. */
export async function createDatabase(ctx: RunContext, label: string, bare = false) {
  const name = `pgauth_bench_${label}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = Object.assign(new URL(ADMIN), { pathname: `/${name}` }).toString();
  const db = openPostgres({ connectionString: url, max: 4, application_name: 'pgauth-bench' });
  const sql = `select pg_cancel_backend(pid) from pg_stat_activity where datname = '${name}'`;
  const cancel = () => void adminQuery(sql).catch(() => {});
  ctx.signal.addEventListener('abort', cancel);
  ctx.defer(async () => {
    ctx.signal.removeEventListener('abort', cancel);
    await db.close();
    await adminQuery(`drop database if exists ${name} with (force)`);
  });
  if (!bare) await migrate(db);
  return { name, url, db } satisfies BenchDatabase;
}

/** Runs pgbench (PGBENCH, or the one on the PATH) in `cwd`, where its scripts are. */
async function exec(args: string[], cwd?: string, signal?: AbortSignal): Promise<string> {
  const env = { ...process.env, PGAPPNAME: 'pgauth-bench' };
  const run = promisify(execFile)(process.env.PGBENCH ?? 'pgbench', args, { cwd, signal, env });
  const r = await run.catch((e) => Promise.reject(new Error(`pgbench: ${e.stderr || e.message}`)));
  return r.stdout;
}

export type PgbenchRun = {
  url: string;
  clients: number;
  /** A script (-f), or else the built-in select-only (what -S runs). */
  script?: [name: string, text: string];
  /** -D name=value; the recorded command line shows `name=<name>`. */
  define?: Record<string, string>;
};

/** pgbench -n -M prepared -j2 (the setup vacuumed; how a pooled driver calls a hot query), in
 * .bench/pgbench/ where it writes the script; its output, the folder, its recorded command line. */
async function pgbench(ctx: RunContext, run: PgbenchRun, seconds: number, more: string[] = []) {
  const [dir, script] = [`${ctx.scratchDir}/pgbench`, run.script];
  const args = ['-n', `-c${run.clients}`, '-j2', `-T${seconds}`, '-Mprepared', ...more];
  args.push(...(script ? ['-f', script[0]] : ['-b', 'select-only']));
  await mkdir(dir, { recursive: true });
  if (script) await writeFile(`${dir}/${script[0]}`, script[1]);
  for (const [k, v] of Object.entries(run.define ?? {})) args.push('-D', `${k}=${v}`);
  const out = await exec([...args, run.url], dir, ctx.signal);
  const shown = args.map((a) => a.replace(/^(\w+)=.*/, '$1=<$1>')).join(' ');
  return { out, dir, command: `pgbench ${shown} ${run.url.replace(/:[^:/@]*@/, ':***@')}` };
}

/** The settings of a group of pgbench sides: what every side runs with. */
export const pgbenchSettings = (clients: number, runs: object) => {
  return { clients, threads: 2, ...runs, protocol: 'prepared' };
};

/** A side running pgbench; its figure: tps without the connection time. */
export function pgbenchSide(ctx: RunContext, label: string, run: PgbenchRun, t: Timing) {
  const tps = async (s: number, measured = false) => {
    const { out, command } = await pgbench(ctx, run, s);
    const tps = /^tps = ([\d.]+) \((?:without initial connection time|excluding)/m.exec(out);
    const done = /^number of transactions actually processed: (\d+)/m.exec(out);
    if (!tps || !done || /^number of failed transactions: [1-9]/m.test(out)) {
      throw new Error(`${command}: no tps, or failed transactions:\n${out}`);
    }
    side.command = command;
    if (measured) side.transactions += Number(done[1]);
    return Number(tps[1]);
  };
  const side = {
    label,
    command: '',
    transactions: 0,
    warm: () => tps(t.warmup),
    run: () => tps(t.seconds, true),
  };
  return side;
}

/** pgbench `run.script` for `seconds`, every transaction logged (-l): [end, latency] of each,
 * both in ms, the end since the epoch, to pick the transactions of a window inside the run. */
export async function pgbenchLatencies(ctx: RunContext, run: PgbenchRun, seconds: number) {
  const prefix = `latency-${randomBytes(4).toString('hex')}`;
  const { dir } = await pgbench(ctx, run, seconds, ['-l', `--log-prefix=${prefix}`]);
  const rows: number[][] = [];
  for (const name of (await readdir(dir)).filter((f) => f.startsWith(prefix))) {
    const path = `${dir}/${name}`;
    // A line: client, transaction, latency µs, script, end s, end µs.
    for (const line of (await readFile(path, 'utf8')).split('\n').filter(Boolean)) {
      const [, , us = 0, , s = 0, sus = 0] = line.split(' ').map(Number);
      rows.push([s * 1000 + sus / 1000, us / 1000]);
    }
    await rm(path);
  }
  return rows;
}

export const pgbenchVersion = async () => (await exec(['--version'])).trim();

/** pgbench's select-only statement (what -S runs) over the first `rows` accounts. */
export const selectOnlyScript = (rows: number) =>
  `\\set aid random(1, ${rows})\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n`;

/** Bench session i's token (or API key, `pgk_`): the prefix, length and alphabet of a real one,
 * derived from i so that a pgbench script names one from a random integer (docs/benchmarks.md,
 * scenario `sql`). */
export const tokenSql = (i: string, prefix = 'pga_') => `'${prefix}' || lpad(${i}::text, 43, '0')`;
/** The same token in JavaScript. */
export const benchToken = (i: number, prefix = 'pga_') => `${prefix}${`${i}`.padStart(43, '0')}`;

/** The pgbench script validating a random bench token (or API key) out of 1..n. */
export const validateScript = (n: number, prefix = 'pga_') =>
  `\\set id random(1, ${n})\nselect * from pgauth.validate(${tokenSql(':id', prefix)});\n`;

/** The prefix of bench session i's owner, its creation (in the order of the numbers, as in
 * production) and expiries, in SQL. Live: created a day ago, access valid an hour more. Ended:
 * abandoned 23 days ago. */
const times = (prefix: string, days: number, access: (created: string) => string) => {
  const created = `now() - interval '${days} days' + i * interval '1 millisecond'`;
  const after = (interval: string) => `${created} + interval '${interval}'`;
  return [prefix, created, access(created), after('14 days'), after('30 days')];
};
const LIVE = times('bench_user_', 1, () => `now() + interval '1 hour'`);
const ENDED = times('bench_gone_', 23, (created) => `${created} + interval '1 hour'`);

/** Username of numbered user k (SQL of k): the prefix and 8 digits. */
const userName = (k: string) => `$3 || lpad((${k})::text, 8, '0')`;

/** Inserts users `bench_user_00000001`… (`bench_gone_` for ended sessions; id md5(username)::uuid,
 * so that a session names its owner without a lookup; one bcrypt hash for all), then sessions
 * from..to, 10 a user, straight into the table (a million logins would be a million bcrypt
 * hashes), a million a statement. The owners exist by construction: the foreign key, whose check
 * locks every owner row and doubled the time, is not checked. Returns the sessions' seconds. */
export async function insertSessions(
  ctx: RunContext,
  b: BenchDatabase,
  [from, to]: [number, number],
  ended = false,
): Promise<number> {
  const [prefix, created, access, refresh, end] = ended ? ENDED : LIVE;
  const users = Math.ceil((to - from + 1) / 10);
  await b.db.query(
    `insert into pgauth.users (id, username, password_hash)
     select md5(${userName('i')})::uuid, ${userName('i')},
            (select pgauth.crypt(pgauth._prehash($1), pgauth.gen_salt('bf', 4)))
     from generate_series(1, $2::int) i`,
    [PASSWORD, users, prefix],
  );
  const owner = userName(`1 + i % ${users}`);
  const started = Date.now();
  for (let first = from; first <= to; first += 1e6) {
    const last = Math.min(to, first + 1e6 - 1);
    await b.db.transaction(async (tx) => {
      await tx.exec('set local session_replication_role = replica');
      await tx.query(
        `insert into pgauth.sessions (user_id, username, roles, access_token_hash, access_expires_at,
           refresh_token_hash, refresh_expires_at, expires_at, created_at)
         select md5(${owner})::uuid, ${owner}, '{member}', pgauth._token_hash(${tokenSql('i')}),
           ${access}, pgauth._token_hash(${tokenSql('i', 'pgr_')}), ${refresh}, ${end}, ${created}
         from generate_series($1::int, $2::int) i`,
        [first, last, prefix],
      );
    });
    ctx.signal.throwIfAborted();
    if (to - from >= 1e6)
      ctx.log(`  ${b.name}: ${count(last - from + 1)} / ${count(to - from + 1)} sessions`);
  }
  return (Date.now() - started) / 1000;
}

/** A database with `n` live sessions and exactly `n` pgbench accounts, vacuumed, its tokens
 * checked: all of them up to 100,000, an even sample of 10,000 of more. */
export async function sessionsDatabase(ctx: RunContext, label: string, n: number) {
  const b = await createDatabase(ctx, label);
  ctx.log(`database ${b.name}, ${count(n)} sessions`);
  const insertSeconds = round(await insertSessions(ctx, b, [1, n]));
  // pgbench -i (100,000 accounts per unit of scale, a whole number): keep the first n accounts,
  // rewritten without the rest.
  const scale = Math.ceil(n / 100_000);
  await exec(['-i', '-q', `-s${scale}`, '-Idtgvp', b.url], undefined, ctx.signal);
  await b.db.query('delete from pgbench_accounts where aid > $1', [n]);
  if (n < scale * 100_000) await b.db.exec('vacuum full pgbench_accounts');
  await b.db.exec('vacuum (analyze)');
  // Every token the scripts can draw must validate, else the benchmark measures misses.
  const r = await b.db.query<{ valid: number; asked: number }>(
    `select count(v.session_id)::int as valid, count(*)::int as asked
     from generate_series(1, $1::int, $2::int) i
     left join lateral pgauth.validate(${tokenSql('i')}) v on true`,
    [n, n > 1e5 ? Math.floor(n / 10_000) : 1],
  );
  const { valid, asked } = r.rows[0] ?? { valid: 0, asked: -1 };
  if (valid !== asked) throw new Error(`only ${valid} of ${asked} bench tokens validate`);
  ctx.log(`  inserted in ${insertSeconds} s; pgbench -i -s${scale}; vacuumed; tokens checked`);
  return { b, n, insertSeconds };
}

/** Adds `ended` abandoned sessions after the `live` ones, then VACUUM (ANALYZE) and CHECKPOINT,
 * so that neither falls into what is measured next. */
export async function addEnded(ctx: RunContext, b: BenchDatabase, live: number, ended: number) {
  await insertSessions(ctx, b, [live + 1, live + ended], true);
  await b.db.exec('vacuum (analyze) pgauth.sessions, pgauth.users');
  await b.db.exec('checkpoint');
}

/** One purge_expired(), timed (ms since the epoch); it must delete exactly the `ended` sessions
 * (and leave `live` ones, if given). */
export async function purgeExpired(b: BenchDatabase, ended: number, live?: number) {
  const start = Date.now();
  const r = await b.db.query<{ n: number }>('select pgauth.purge_expired() as n');
  const end = Date.now();
  const left = await b.db.query<{ n: number }>('select count(*)::int as n from pgauth.sessions');
  const [deleted, kept] = [r.rows[0]?.n, left.rows[0]?.n];
  const wrong = deleted !== ended || (live !== undefined && kept !== live);
  if (wrong) throw new Error(`purged ${deleted}, left ${kept}`);
  return { start, end, seconds: (end - start) / 1000 };
}

/** Registers users `<prefix>0`…`<prefix><n-1>` with role `member` (validate returns their
 * roles) at bcrypt cost `cost`; returns their names. */
export async function registerUsers(db: Database, prefix: string, n: number, cost: number) {
  await db.query('update pgauth.settings set bcrypt_cost = $1', [cost]);
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const register = `select pgauth.grant_role(pgauth.register(u, $2), 'member') from unnest($1::text[]) u`;
  await db.query(register, [names, PASSWORD]);
  return names;
}

/** Logs in `count` sessions over `users` new users `<prefix>N` (bcrypt cost 4) in SQL. */
export async function loginSessions(db: Database, count: number, prefix: string, users: number) {
  const names = await registerUsers(db, prefix, users, 4);
  // The user agent names g, so that the lateral call is made once per row, not once in all.
  const r = await db.query<{ token: string }>(
    `select l.access_token as token from generate_series(1, $2::int) g
     cross join lateral pgauth.login(($3::text[])[1 + g % cardinality($3::text[])], $1, null,
                                     'pgauth-bench ' || g) l order by g`,
    [PASSWORD, count, names],
  );
  if (r.rows.length !== count) throw new Error(`${r.rows.length} of ${count} logins succeeded`);
  return r.rows.map((row) => row.token);
}

/** The login baseline: bcrypt in PostgreSQL on what pgauth.login gives it (the pre-hashed password)
 * and `username`'s stored hash, as pgbench variables (-D): crypt() is immutable, and a prepared
 * statement with literals would fold it into a constant once, then measure nothing. Two clients:
 * bcrypt is pure CPU, and the machine has two cores. */
export async function cryptSide(ctx: RunContext, b: BenchDatabase, username: string, t: Timing) {
  const sql =
    'select pgauth._prehash($1) pw, password_hash hash from pgauth.users where username = $2';
  const r = await b.db.query<{ pw: string; hash: string }>(sql, [PASSWORD, username]);
  const script: [string, string] = ['crypt.sql', 'select pgauth.crypt(:pw, :hash) = :hash;\n'];
  const crypt = { url: b.url, clients: 2, script, define: r.rows[0] };
  return pgbenchSide(ctx, 'crypt() cost 10', crypt, t);
}
