/**
 * Scratch databases for benchmarks: a random name on the server of PGAUTH_BENCH_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres, a superuser: the benchmarks write pgauth's
 * tables directly and create databases), created, migrated and dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import type { Database } from '../../packages/client/src/db/types.ts';
import { migrate } from '../../packages/pgauth/src/migrate.ts';

export const adminUrl =
  process.env.PGAUTH_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Every benchmark database is named with this prefix, so that leftovers are easy to spot. */
export const DATABASE_PREFIX = 'pgauth_bench_';

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  params?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  name: string;
  /** Connection URL of this database (for pgbench, psql, other pools). */
  url: string;
  /** A small pool on it, for setup and checks (not for the measured work). */
  db: Database;
  /** Closes the pool and drops the database; safe to call twice. */
  drop(): Promise<void>;
}

/** Creates a database with a random name and applies every pgauth migration to it. */
export async function createMigratedDatabase(label: string): Promise<BenchDatabase> {
  const name = `${DATABASE_PREFIX}${label}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${pg.escapeIdentifier(name)}`);
  const url = withDatabase(adminUrl, name);
  const db = openPostgres({ connectionString: url, max: 4, application_name: 'pgauth-bench' });
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    await db.close().catch(() => {});
    await adminQuery(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  };
  try {
    await migrate(db);
  } catch (err) {
    await drop();
    throw err;
  }
  return { name, url, db, drop };
}

/** Benchmark databases left on the server, by a run that was killed before it could drop them. */
export async function leftoverDatabases(): Promise<string[]> {
  const rows = await adminQuery<{ datname: string }>(
    `select datname from pg_database where starts_with(datname, $1) order by datname`,
    [DATABASE_PREFIX],
  );
  return rows.map((r) => r.datname);
}
