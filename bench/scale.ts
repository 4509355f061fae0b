/** Scenario `scale`: validate with 10,000 and 10,000,000 sessions vs pgbench -S on as many rows,
 * and 10M vs 10k (≥ 0.85 each); sizes per million sessions; purge_expired() per million ended
 * sessions. `--quick`: 10,000 and 200,000 sessions, 50,000 ended. */
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import * as m from './lib/measure.ts';
import * as pg from './lib/pg.ts';

export const description = `validate with 10,000 and 10,000,000 sessions vs pgbench -S, sizes per million, purge_expired()`;
const [MIB, GIB] = [2 ** 20, 2 ** 30];
const { count } = m;
/** 10,000 → '10k', 10,000,000 → '10M'. */
const short = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : `${n}`);
const SIZES = `select pg_relation_size('pgauth.sessions')::float8 as heap,
  pg_table_size('pgauth.sessions')::float8 as "table",
  pg_indexes_size('pgauth.sessions')::float8 as indexes,
  pg_total_relation_size('pgauth.sessions')::float8 as total,
  (select json_object_agg(c.relname, pg_relation_size(c.oid) order by c.relname)
   from pg_index i join pg_class c on c.oid = i.indexrelid
   where i.indrelid = 'pgauth.sessions'::regclass) as each,
  pg_total_relation_size('pgbench_accounts')::float8 as accounts,
  pg_database_size(current_database())::float8 as database,
  current_setting('shared_buffers') as buffers, current_setting('autovacuum') as autovacuum`;
type Sizes = Record<'heap' | 'table' | 'indexes' | 'total' | 'accounts' | 'database', number> & {
  each: Record<string, number>;
  buffers: string;
  autovacuum: string;
};

/** Adds `ended` abandoned sessions after the `live` ones, then times one purge_expired() (one
 * call, not rounds: a second would find nothing to delete). It must delete exactly those. */
async function purge(ctx: m.RunContext, b: pg.BenchDatabase, live: number, ended: number) {
  await pg.addEnded(ctx, b, live, ended);
  const { seconds } = await pg.purgeExpired(b, ended, live);
  ctx.log(`purge_expired(): ${count(ended)} of ${count(live + ended)} in ${seconds.toFixed(2)} s`);
  return {
    name: `purge_expired() per million ended sessions, ${short(live)} live`,
    value: m.round((seconds * 1e6) / ended, 3),
    unit: 's',
    detail: `one call deleting ${count(ended)} abandoned sessions of ${count(ended / 10)} users (refresh expired 9 days ago) among ${count(live)} live, ${seconds.toFixed(2)} s`,
  };
}

export async function run(ctx: m.RunContext) {
  const t = m.timing(ctx, 8, 2);
  const [small, large, ended] = ctx.quick ? [1e4, 2e5, 5e4] : [1e4, 1e7, 1e6];
  // About 700 bytes a live session (its row and indexes, its pgbench_accounts row, its share of
  // a user), 500 an ended one, and 4 GiB more for WAL and the rest.
  const [data] = await pg.adminQuery<{ d: string }>(`select current_setting('data_directory') d`);
  const disk = await statfs(data?.d ?? '').catch(() => null); // null: not on this machine
  const free = disk ? disk.bavail * disk.bsize : Number.POSITIVE_INFINITY;
  const need = large * 700 + 2 * ended * 500 + 4 * GIB;
  const gib = (n: number) => `${(n / GIB).toFixed(1)} GiB`;
  if (free < need) throw new Error(`${gib(need)} of disk needed, ${gib(free)} free`);
  const [started, { notes, measures }] = [Date.now(), ctx.result];
  const sized = async (d: { b: pg.BenchDatabase; n: number; insertSeconds: number }) => {
    return { ...d, sizes: (await d.b.db.query<Sizes>(SIZES)).rows[0] as Sizes };
  };
  const s = await sized(await pg.sessionsDatabase(ctx, 'scale_small', small));
  const l = await sized(await pg.sessionsDatabase(ctx, 'scale_large', large));
  await l.b.db.exec('checkpoint');
  const setupSeconds = (Date.now() - started) / 1000;
  const side = (p: typeof s, validate: boolean) => {
    const name = `${validate ? 'validate' : 'select'}-${short(p.n)}.sql`;
    const script = (validate ? pg.validateScript : pg.selectOnlyScript)(p.n);
    const label = validate ? `validate, ${short(p.n)} sessions` : `pgbench -S, ${short(p.n)} rows`;
    return pg.pgbenchSide(ctx, label, { url: p.b.url, clients: 4, script: [name, script] }, t);
  };
  const sides = [side(s, true), side(l, true), side(s, false), side(l, false)];
  const validate = (n: number) => `select * from pgauth.validate(token), ${count(n)} live sessions`;
  const select = (n: number) =>
    `pgbench's select-only statement, ${count(n)} pgbench_accounts rows`;
  const vs = (i: number, j: number) => `${sides[i]?.label} vs ${sides[j]?.label}`;
  const at = (n: number) => ({ sessions: n, accounts: n });
  const same = `the same, ${count(small)} live sessions`;
  // What PostgreSQL's own lookup loses between the two sizes, to read the third row against.
  const scaling = ([, , ss = [], sl = []]: number[][]) => {
    return { small, large, ...m.ratioSettings(sl, ss, 'pgbenchLargeVsSmall', 'Ratio') };
  };
  const order = 'four sides per round, order rotated and reversed every other round';
  await m.measureGroup(ctx, {
    unit: 'tps',
    sides,
    rows: [
      [vs(0, 2), [0, validate(small)], [2, select(small)], 0.85, at(small)],
      [vs(1, 3), [1, validate(large)], [3, select(large)], 0.85, at(large)],
      [vs(1, 0), [1, validate(large)], [0, same], 0.85, scaling],
    ],
    settings: { ...pg.pgbenchSettings(4, t.runs), order },
  });
  const purges = [await purge(ctx, s.b, small, ended), await purge(ctx, l.b, large, ended)];
  const z = l.sizes;
  const perM = (bytes: number) => m.round(bytes / MIB / (large / 1e6));
  const index = ([k, v]: [string, number]) => `${k.replace(/^sessions_/, '')} ${perM(v)}`;
  const each = Object.entries(z.each).map(index);
  const where = `at ${count(large)} sessions, after VACUUM`;
  const perMillion = l.insertSeconds / (large / 1e6);
  const mib = (bytes: number) => `${count(Math.round(bytes / MIB))} MiB`;
  const smallMiB = [s.sizes.total, s.sizes.accounts].map((x) => (x / MIB).toFixed(1));
  notes.push(
    `Sizes against shared_buffers (${z.buffers}): at ${count(large)} sessions the sessions table with its indexes takes ${mib(z.total)} and pgbench_accounts ${mib(z.accounts)}, at ${count(small)} ${smallMiB[0]} and ${smallMiB[1]} MiB. A page not in shared buffers is read from the operating system's cache (${(totalmem() / GIB).toFixed(1)} GiB of memory here).`,
    `The sessions are inserted straight into pgauth.sessions (1,000,000 per statement, 10 per user, users inserted directly too): ${count(large)} took ${l.insertSeconds} s (${perMillion.toFixed(1)} s per million), the whole setup ${setupSeconds.toFixed(0)} s.`,
    `purge_expired() is measured once per database, not in rounds: ${count(ended)} abandoned sessions on ${count(ended / 10)} users of their own. Their access tokens have expired: the delete trigger announces none of them.`,
  );
  if (z.autovacuum === 'off')
    notes.push('autovacuum is off on this server; the setup vacuums explicitly.');
  const quick = `Quick run: ${count(small)} and ${count(large)} sessions, ${count(ended)} purged; the figures check that the scenario works.`;
  if (ctx.quick) notes.push(quick);
  // biome-ignore format: a table, a row a line
  const sizes: [string, number, string, string][] = [
    ['sessions table per million sessions', perM(z.table), 'MiB', `pg_table_size (heap ${perM(z.heap)} MiB, with TOAST, free space and visibility maps), ${where}`],
    ['sessions indexes per million sessions', perM(z.indexes), 'MiB', `pg_indexes_size; MiB each: ${each.join(', ')}`],
    ['sessions total per million sessions', perM(z.total), 'MiB', `pg_total_relation_size, ${where}; pgbench_accounts: ${perM(z.accounts)} MiB per million rows`],
    [`database size at ${short(large)} sessions`, m.round(z.database / MIB), 'MiB', `pg_database_size: sessions, ${count(large / 10)} users, ${count(large)} pgbench_accounts rows`],
    ['inserting sessions, per million (setup)', m.round(perMillion), 's', 'INSERT … SELECT from generate_series, 1,000,000 rows a statement, indexes in place'],
  ];
  measures.push(...sizes.map(([name, value, unit, detail]) => ({ name, value, unit, detail })));
  measures.push(...purges);
}
