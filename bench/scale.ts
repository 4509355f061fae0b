/**
 * Scenario `scale`: does validation stay one cheap lookup when the sessions table is large, what
 * does a session cost on disk, and how long does purging ended sessions take?
 *
 *   1. Validation throughput with 10,000 and with 10,000,000 live sessions, each against
 *      pgbench's select-only statement on pgbench_accounts of the same row count (as scenario
 *      `sql` measures it: pgbench -M prepared, -c4 -j2, the token derived from a random integer),
 *      and 10,000,000 against 10,000: targets ≥ 0.85. Four sides, interleaved rounds.
 *   2. Table and index size per million sessions (pg_table_size, pg_indexes_size,
 *      pg_total_relation_size), after a VACUUM.
 *   3. pgauth.purge_expired() per million ended sessions, in the small and in the large table.
 *
 * Sessions are inserted straight into pgauth.sessions as the superuser (bench/lib/insert-sessions.ts),
 * a million per statement, 10 per user. `--quick` runs 10,000 and 200,000 sessions and purges
 * 50,000. The large count shrinks, and the notes say so, when the database's disk could not
 * hold it with a margin. See docs/benchmarks.md.
 */
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { adminQuery, type BenchDatabase, createMigratedDatabase } from './lib/db.ts';
import {
  countValidTokens,
  insertNumberedUsers,
  insertSessions,
  type SessionTimes,
  validateScript,
} from './lib/insert-sessions.ts';
import {
  pgbench,
  pgbenchInit,
  pgbenchVersion,
  selectOnlyScript,
  writeScript,
} from './lib/pgbench.ts';
import { formatFigure } from './lib/report.ts';
import { interleaveMany, pair } from './lib/rounds-many.ts';
import type { Comparison, Measure, RunContext, ScenarioResult } from './lib/scenario.ts';

const TARGET = 0.85;
const SESSIONS_PER_USER = 10;
/** Rows per INSERT statement: one progress line each. */
const BATCH = 1_000_000;
const MIB = 2 ** 20;
const GIB = 2 ** 30;
/**
 * Disk per live session on this schema, its pgbench_accounts row and its share of a user
 * (measured: about 440 + 150 + 25 bytes), rounded up; and per ended session (and user).
 */
const BYTES_PER_LIVE = 700;
const BYTES_PER_ENDED = 500;
/** Free space kept beyond the estimate: WAL (max_wal_size), temporary files, anything else. */
const DISK_MARGIN = 4 * GIB;

/** Live through the run, created a day ago in the order of their numbers (as in production,
 * expires_at grows with time), access tokens valid for another hour. */
const LIVE: SessionTimes = {
  createdAt: `now() - interval '1 day' + i * interval '1 millisecond'`,
  accessExpiresAt: `now() + interval '1 hour'`,
  refreshExpiresAt: `now() - interval '1 day' + i * interval '1 millisecond' + interval '14 days'`,
  expiresAt: `now() - interval '1 day' + i * interval '1 millisecond' + interval '30 days'`,
};

/** Abandoned: created 23 days ago, never refreshed, refresh token expired 9 days ago (past the
 * 7-day session_retention), absolute expiry still ahead: what purge_expired() deletes most. */
const ENDED: SessionTimes = {
  createdAt: `now() - interval '23 days' + i * interval '1 millisecond'`,
  accessExpiresAt: `now() - interval '23 days' + i * interval '1 millisecond' + interval '1 hour'`,
  refreshExpiresAt: `now() - interval '23 days' + i * interval '1 millisecond' + interval '14 days'`,
  expiresAt: `now() - interval '23 days' + i * interval '1 millisecond' + interval '30 days'`,
};

interface Settings {
  small: number;
  large: number;
  /** Ended sessions purged in each database. */
  ended: number;
  rounds: number;
  warmup: number;
  clients: number;
  threads: number;
  duration: number;
}

function settingsFor(ctx: RunContext): Settings {
  const quick = ctx.quick;
  return {
    small: 10_000,
    large: quick ? 200_000 : 10_000_000,
    ended: quick ? 50_000 : 1_000_000,
    rounds: ctx.rounds ?? (quick ? 2 : 5),
    warmup: quick ? 1 : 3,
    clients: 4,
    threads: 2,
    duration: quick ? 2 : 8,
  };
}

/** 10,000 → '10k', 10,000,000 → '10M'. */
function compact(n: number): string {
  if (n >= 1e6) return `${n / 1e6}M`;
  if (n >= 1e3) return `${n / 1e3}k`;
  return String(n);
}

const count = (n: number): string => n.toLocaleString('en-US');
const round1 = (n: number): number => Math.round(n * 10) / 10;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;
const seconds = (since: number): number => (Date.now() - since) / 1000;

// ---------------------------------------------------------------------------------------------
// Disk

interface Disk {
  path: string;
  freeBytes: number;
}

/** Free space of the filesystem holding PostgreSQL's data directory, if this machine sees it. */
async function dataDisk(): Promise<Disk | null> {
  const rows = await adminQuery<{ dir: string }>(`select current_setting('data_directory') as dir`);
  const path = rows[0]?.dir;
  if (!path) return null;
  try {
    const s = await statfs(path);
    return { path, freeBytes: s.bavail * s.bsize };
  } catch {
    return null; // another machine's path, or not readable: unknown
  }
}

/** The large session count that fits: the wanted one, or fewer (whole batches) when it would not. */
function fitLarge(s: Settings, disk: Disk | null): { large: number; note?: string } {
  if (!disk) return { large: s.large };
  const need = (n: number) => n * BYTES_PER_LIVE + 2 * s.ended * BYTES_PER_ENDED + DISK_MARGIN;
  if (disk.freeBytes >= need(s.large)) return { large: s.large };
  const room = disk.freeBytes - need(0);
  const large = Math.floor(room / BYTES_PER_LIVE / BATCH) * BATCH;
  if (large < Math.max(BATCH, s.small * 10)) {
    throw new Error(
      `not enough disk for the scale scenario: ${(disk.freeBytes / GIB).toFixed(1)} GiB free on ${disk.path}`,
    );
  }
  return {
    large,
    note: `Scaled down from ${count(s.large)} to ${count(large)} live sessions: the filesystem of PostgreSQL's data directory had ${(disk.freeBytes / GIB).toFixed(1)} GiB free, and ${count(s.large)} would need about ${(need(s.large) / GIB).toFixed(1)} GiB with the margin.`,
  };
}

// ---------------------------------------------------------------------------------------------
// Setup

/** Inserts sessions from..to in statements of BATCH rows, with a progress line each. */
async function insertBatches(
  ctx: RunContext,
  b: BenchDatabase,
  range: { from: number; to: number; userPrefix: string; users: number; times: SessionTimes },
): Promise<number> {
  const started = Date.now();
  const total = range.to - range.from + 1;
  for (let from = range.from; from <= range.to; from += BATCH) {
    ctx.signal.throwIfAborted();
    const to = Math.min(range.to, from + BATCH - 1);
    const t = Date.now();
    await insertSessions(b.db, { ...range, numberedUsers: range.users, from, to });
    if (total > BATCH) {
      ctx.log(
        `  ${b.name}: ${count(to - range.from + 1)} / ${count(total)} sessions (${seconds(t).toFixed(1)} s for these ${count(to - from + 1)}, ${seconds(started).toFixed(0)} s so far)`,
      );
    }
  }
  return seconds(started);
}

interface Prepared {
  b: BenchDatabase;
  sessions: number;
  timings: Record<string, number>;
}

/**
 * A migrated database with `n` live sessions (10 per user) and pgbench's tables holding exactly
 * `n` accounts, vacuumed and analysed, every token (or an even sample of 10,000) checked.
 */
async function prepare(ctx: RunContext, label: string, n: number): Promise<Prepared> {
  const b = await createMigratedDatabase(`scale_${label}`);
  const timings: Record<string, number> = {};
  try {
    ctx.log(`scale: database ${b.name}, ${count(n)} sessions`);
    let t = Date.now();
    const users = Math.ceil(n / SESSIONS_PER_USER);
    await insertNumberedUsers(b.db, 'bench_user_', users);
    timings.usersSeconds = round1(seconds(t));
    timings.sessionsSeconds = round1(
      await insertBatches(ctx, b, {
        from: 1,
        to: n,
        userPrefix: 'bench_user_',
        users,
        times: LIVE,
      }),
    );
    ctx.log(`  ${count(n)} sessions inserted in ${timings.sessionsSeconds} s`);
    ctx.signal.throwIfAborted();
    t = Date.now();
    const scale = Math.ceil(n / 100_000);
    await pgbenchInit(b.url, scale, ctx.signal);
    if (n < scale * 100_000) {
      // pgbench's scale is a whole number: keep the first n accounts, rewritten without the rest.
      await b.db.query('delete from pgbench_accounts where aid > $1', [n]);
      await b.db.exec('vacuum full pgbench_accounts');
    }
    timings.pgbenchInitSeconds = round1(seconds(t));
    ctx.log(
      `  pgbench_accounts: ${count(n)} rows (pgbench -i -s${scale}, ${timings.pgbenchInitSeconds} s)`,
    );
    t = Date.now();
    await b.db.exec('vacuum (analyze)');
    timings.vacuumSeconds = round1(seconds(t));
    ctx.signal.throwIfAborted();
    // Every token the script can draw must validate: all of 10,000, an even sample of 10,000 of
    // more (checking 10,000,000 would take minutes).
    const step = Math.max(1, Math.floor(n / 10_000));
    const ok = await countValidTokens(b.db, 1, n, step);
    if (ok.valid !== ok.asked) {
      throw new Error(`only ${ok.valid} of ${ok.asked} bench tokens validate in ${b.name}`);
    }
    ctx.log(`  vacuum ${timings.vacuumSeconds} s; ${count(ok.asked)} tokens checked`);
    return { b, sessions: n, timings };
  } catch (err) {
    await b.drop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

async function measureThroughput(
  ctx: RunContext,
  s: Settings,
  small: Prepared,
  large: Prepared,
): Promise<Comparison[]> {
  const dir = join(ctx.scratchDir, 'scale');
  const side = async (p: Prepared, kind: 'validate' | 'select') => {
    const name = `${kind}-${compact(p.sessions)}.sql`;
    const text = kind === 'validate' ? validateScript(p.sessions) : selectOnlyScript(p.sessions);
    const script = await writeScript(dir, name, text);
    const run = (duration: number) =>
      pgbench({
        url: p.b.url,
        clients: s.clients,
        threads: s.threads,
        duration,
        script,
        signal: ctx.signal,
      });
    const label =
      kind === 'validate'
        ? `validate, ${compact(p.sessions)} sessions`
        : `pgbench -S, ${compact(p.sessions)} rows`;
    return { label, name, script, run, command: '' };
  };
  const sides = [
    await side(small, 'validate'),
    await side(large, 'validate'),
    await side(small, 'select'),
    await side(large, 'select'),
  ];
  ctx.log(
    `scale: validate vs pgbench -S at ${compact(small.sessions)} and ${compact(large.sessions)}, warm-up ${s.warmup} s each`,
  );
  for (const x of sides) await x.run(s.warmup);
  const figures = await interleaveMany(
    s.rounds,
    sides.map((x) => ({
      label: x.label,
      run: async () => {
        const r = await x.run(s.duration);
        x.command = r.command.replace(x.script, x.name);
        return r.tps;
      },
    })),
    { signal: ctx.signal, log: ctx.log, format: (n) => `${formatFigure(n)} tps` },
  );
  const [vSmall, vLarge, sSmall, sLarge] = figures as [number[], number[], number[], number[]];
  const [xvSmall, xvLarge, xsSmall, xsLarge] = sides as [
    (typeof sides)[0],
    (typeof sides)[0],
    (typeof sides)[0],
    (typeof sides)[0],
  ];
  const common = {
    clients: s.clients,
    threads: s.threads,
    durationSeconds: s.duration,
    rounds: s.rounds,
    warmupSeconds: s.warmup,
    protocol: 'prepared',
    order: 'four sides per round, order rotated and reversed every other round',
  };
  const baselineScaling = pair(sLarge, sSmall);
  type Side = (typeof sides)[0];
  /** validate against select-only on one database: `n` sessions and as many accounts. */
  const versusSelect = (
    n: number,
    validate: number[],
    select: number[],
    xv: Side,
    xs: Side,
  ): Comparison => ({
    name: `${xv.label} vs ${xs.label}`,
    unit: 'tps',
    pgauthLabel: `select * from pgauth.validate(token), ${count(n)} live sessions`,
    baselineLabel: `pgbench's select-only statement, ${count(n)} pgbench_accounts rows`,
    result: pair(validate, select),
    target: TARGET,
    settings: { ...common, sessions: n, accounts: n },
    commands: { pgauth: xv.command, baseline: xs.command },
  });
  return [
    versusSelect(small.sessions, vSmall, sSmall, xvSmall, xsSmall),
    versusSelect(large.sessions, vLarge, sLarge, xvLarge, xsLarge),
    {
      name: `${xvLarge.label} vs ${xvSmall.label}`,
      unit: 'tps',
      pgauthLabel: `select * from pgauth.validate(token), ${count(large.sessions)} live sessions`,
      baselineLabel: `the same, ${count(small.sessions)} live sessions`,
      result: pair(vLarge, vSmall),
      target: TARGET,
      settings: {
        ...common,
        small: small.sessions,
        large: large.sessions,
        // What PostgreSQL itself loses between the two sizes, for comparison.
        pgbenchLargeVsSmallRatio: round3(baselineScaling.ratio.median),
        pgbenchLargeVsSmallMin: round3(baselineScaling.ratio.min),
        pgbenchLargeVsSmallMax: round3(baselineScaling.ratio.max),
      },
      commands: { pgauth: xvLarge.command, baseline: xvSmall.command },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// 2. Sizes

// A type, not an interface: query<R> wants rows indexable by any column name.
type Sizes = {
  heap: number;
  table: number;
  indexes: number;
  total: number;
  each: Record<string, number>;
  accounts: number;
  users: number;
  database: number;
};

async function sizes(b: BenchDatabase): Promise<Sizes> {
  const r = await b.db.query<Sizes>(
    `select pg_relation_size('pgauth.sessions')::float8 as heap,
            pg_table_size('pgauth.sessions')::float8 as "table",
            pg_indexes_size('pgauth.sessions')::float8 as indexes,
            pg_total_relation_size('pgauth.sessions')::float8 as total,
            (select json_object_agg(c.relname, pg_relation_size(c.oid) order by c.relname)
             from pg_index i join pg_class c on c.oid = i.indexrelid
             where i.indrelid = 'pgauth.sessions'::regclass) as each,
            pg_total_relation_size('pgbench_accounts')::float8 as accounts,
            pg_total_relation_size('pgauth.users')::float8 as users,
            pg_database_size(current_database())::float8 as database`,
  );
  const row = r.rows[0];
  if (!row) throw new Error('no sizes');
  return row;
}

function sizeMeasures(at: number, z: Sizes): Measure[] {
  const perM = (bytes: number) => round1(bytes / MIB / (at / 1e6));
  const each = Object.entries(z.each)
    .map(([name, bytes]) => `${name.replace(/^sessions_/, '')} ${perM(bytes)}`)
    .join(', ');
  const where = `at ${count(at)} sessions, after VACUUM`;
  return [
    {
      name: 'sessions table per million sessions',
      value: perM(z.table),
      unit: 'MiB',
      detail: `pg_table_size (heap ${perM(z.heap)} MiB, with TOAST, free space and visibility maps), ${where}`,
    },
    {
      name: 'sessions indexes per million sessions',
      value: perM(z.indexes),
      unit: 'MiB',
      detail: `pg_indexes_size; MiB each: ${each}`,
    },
    {
      name: 'sessions total per million sessions',
      value: perM(z.total),
      unit: 'MiB',
      detail: `pg_total_relation_size, ${where}; pgbench_accounts: ${perM(z.accounts)} MiB per million rows`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// 3. purge_expired()

interface Purge {
  live: number;
  ended: number;
  deleted: number;
  insertSeconds: number;
  purgeSeconds: number;
  perMillionSeconds: number;
}

/**
 * Adds `ended` abandoned sessions (10 per user, on users of their own) after the live ones,
 * vacuums and checkpoints, then times one `select pgauth.purge_expired()`: it must delete exactly
 * those, and leave every live session.
 */
async function measurePurge(ctx: RunContext, p: Prepared, ended: number): Promise<Purge> {
  const { b, sessions: live } = p;
  ctx.log(`scale: ${count(ended)} ended sessions in ${b.name} (${count(live)} live)`);
  const users = Math.ceil(ended / SESSIONS_PER_USER);
  await insertNumberedUsers(b.db, 'bench_gone_', users);
  const insertSeconds = await insertBatches(ctx, b, {
    from: live + 1,
    to: live + ended,
    userPrefix: 'bench_gone_',
    users,
    times: ENDED,
  });
  await b.db.exec('vacuum (analyze) pgauth.sessions, pgauth.users');
  await b.db.exec('checkpoint');
  ctx.signal.throwIfAborted();
  const t = Date.now();
  const r = await b.db.query<{ n: number }>('select pgauth.purge_expired() as n');
  const purgeSeconds = seconds(t);
  const deleted = r.rows[0]?.n ?? 0;
  const left = await b.db.query<{ n: number }>('select count(*)::int as n from pgauth.sessions');
  if (deleted !== ended || left.rows[0]?.n !== live) {
    throw new Error(
      `purge_expired() deleted ${deleted} of ${ended} ended sessions and left ${left.rows[0]?.n} of ${live} live`,
    );
  }
  const perMillionSeconds = (purgeSeconds * 1e6) / ended;
  ctx.log(
    `  purge_expired(): ${count(deleted)} deleted in ${purgeSeconds.toFixed(2)} s (${perMillionSeconds.toFixed(2)} s per million)`,
  );
  return {
    live,
    ended,
    deleted,
    insertSeconds: round1(insertSeconds),
    purgeSeconds,
    perMillionSeconds,
  };
}

function purgeMeasure(x: Purge): Measure {
  return {
    name: `purge_expired() per million ended sessions, ${compact(x.live)} live`,
    value: round3(x.perMillionSeconds),
    unit: 's',
    detail: `one call deleting ${count(x.deleted)} abandoned sessions of ${count(x.ended / SESSIONS_PER_USER)} users (refresh expired 9 days ago) among ${count(x.live)} live, ${x.purgeSeconds.toFixed(2)} s; its delete trigger sends one NOTIFY per user`,
  };
}

// ---------------------------------------------------------------------------------------------

export async function run(ctx: RunContext): Promise<ScenarioResult> {
  const wanted = settingsFor(ctx);
  const started = Date.now();
  const notes: string[] = [];
  const diskBefore = await dataDisk();
  const fit = fitLarge(wanted, diskBefore);
  const s = { ...wanted, large: fit.large };
  if (fit.note) {
    notes.push(fit.note);
    ctx.log(`scale: ${fit.note}`);
  }
  if (diskBefore) {
    ctx.log(
      `scale: ${(diskBefore.freeBytes / GIB).toFixed(1)} GiB free on the filesystem of ${diskBefore.path}`,
    );
  }
  const prepared: Prepared[] = [];
  // Ctrl-C: a batch INSERT runs for tens of seconds; cancel it rather than wait for it.
  const onAbort = (): void => {
    void adminQuery(
      `select pg_cancel_backend(pid) from pg_stat_activity
       where starts_with(datname, 'pgauth_bench_scale_') and application_name = 'pgauth-bench'`,
    ).catch(() => {});
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const small = await prepare(ctx, 'small', s.small);
    prepared.push(small);
    const large = await prepare(ctx, 'large', s.large);
    prepared.push(large);
    await large.b.db.exec('checkpoint');
    const diskAfterSetup = await dataDisk();
    const setupSeconds = seconds(started);
    const smallSizes = await sizes(small.b);
    const largeSizes = await sizes(large.b);
    ctx.log(
      `scale: setup ${setupSeconds.toFixed(0)} s; database ${(largeSizes.database / GIB).toFixed(2)} GiB at ${count(s.large)} sessions; sessions ${(largeSizes.total / MIB / (s.large / 1e6)).toFixed(1)} MiB per million`,
    );

    const comparisons = await measureThroughput(ctx, s, small, large);
    const purgeSmall = await measurePurge(ctx, small, s.ended);
    const purgeLarge = await measurePurge(ctx, large, s.ended);
    const diskAfter = await dataDisk();

    const server = await large.b.db.query<Record<string, string>>(
      `select current_setting('server_version') as postgres,
              current_setting('shared_buffers') as "sharedBuffers",
              current_setting('max_wal_size') as "maxWalSize",
              current_setting('autovacuum') as autovacuum`,
    );
    const pgSettings = server.rows[0] ?? {};
    const insertPerMillion = (large.timings.sessionsSeconds as number) / (s.large / 1e6);
    const mib = (bytes: number) => `${count(Math.round(bytes / MIB))} MiB`;
    notes.push(
      `Sizes against shared_buffers (${pgSettings.sharedBuffers}): at ${count(s.large)} sessions the sessions table with its indexes takes ${mib(largeSizes.total)} and pgbench_accounts ${mib(largeSizes.accounts)}, at ${count(s.small)} ${(smallSizes.total / MIB).toFixed(1)} and ${(smallSizes.accounts / MIB).toFixed(1)} MiB. A page not in shared buffers is read from the operating system's cache (${(totalmem() / GIB).toFixed(1)} GiB of memory here).`,
      `The sessions are inserted straight into pgauth.sessions (${count(BATCH)} per statement, ${SESSIONS_PER_USER} per user, users inserted directly too): ${count(s.large)} took ${large.timings.sessionsSeconds} s (${insertPerMillion.toFixed(1)} s per million), the whole setup ${setupSeconds.toFixed(0)} s.`,
      `purge_expired() is measured once per database, not in rounds: ${count(s.ended)} abandoned sessions on ${count(s.ended / SESSIONS_PER_USER)} users of their own. Its cost includes the statement trigger's NOTIFYs (one per user and 100 sessions): ended sessions spread over more users cost more.`,
    );
    if (pgSettings.autovacuum === 'off') {
      notes.push('autovacuum is off on this server; the setup vacuums explicitly.');
    }
    if (ctx.quick) {
      notes.push(
        `Quick run: ${count(s.small)} and ${count(s.large)} sessions, ${count(s.ended)} purged; the figures check that the scenario works.`,
      );
    }
    const measures: Measure[] = [
      ...sizeMeasures(s.large, largeSizes),
      {
        name: `database size at ${compact(s.large)} sessions`,
        value: round1(largeSizes.database / MIB),
        unit: 'MiB',
        detail: `pg_database_size: sessions, ${count(s.large / SESSIONS_PER_USER)} users, ${count(s.large)} pgbench_accounts rows`,
      },
      {
        name: 'inserting sessions, per million (setup)',
        value: round1(insertPerMillion),
        unit: 's',
        detail: `INSERT … SELECT from generate_series, ${count(BATCH)} rows a statement, indexes in place`,
      },
      purgeMeasure(purgeSmall),
      purgeMeasure(purgeLarge),
    ];
    return {
      comparisons,
      measures,
      notes,
      info: {
        ...pgSettings,
        pgbench: await pgbenchVersion(),
        sessions: { small: s.small, large: s.large, wantedLarge: wanted.large, ended: s.ended },
        timings: { small: small.timings, large: large.timings },
        sizesBytes: { small: smallSizes, large: largeSizes },
        purge: { small: purgeSmall, large: purgeLarge },
        disk: {
          path: diskBefore?.path ?? null,
          freeGiBBefore: diskBefore && round1(diskBefore.freeBytes / GIB),
          freeGiBAfterSetup: diskAfterSetup && round1(diskAfterSetup.freeBytes / GIB),
          freeGiBAtEnd: diskAfter && round1(diskAfter.freeBytes / GIB),
        },
        setupSeconds: round1(setupSeconds),
        totalSeconds: round1(seconds(started)),
        quick: ctx.quick,
      },
    };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    for (const p of prepared) await p.b.drop();
  }
}
