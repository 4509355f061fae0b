import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Database, Queryable } from '@pgauth/client/internal';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../sql/migrations/', import.meta.url));

/** Key of the advisory lock that serialises migrators: two processes migrating at once, one waits. */
const MIGRATION_LOCK_KEY = 7_201_558_901;

export interface MigrationFile {
  name: string;
  checksum: string;
  sql: string;
}

export interface MigrationStatus {
  name: string;
  checksum: string;
  appliedAt: Date | null;
  /** True when the file on disk differs from what was applied. */
  changed: boolean;
}

/** An applied migration whose file changed, or a recorded one whose file is gone. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(
        new URL(name, `file://${dir.endsWith('/') ? dir : `${dir}/`}`),
        'utf8',
      );
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

const BOOKKEEPING = `
  create schema if not exists pgauth;
  create table if not exists pgauth.migrations (
    name text constraint migrations_pkey primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
  );`;

async function applied(q: Queryable): Promise<Map<string, { checksum: string; appliedAt: Date }>> {
  const exists = await q.query<{ t: string | null }>(
    `select to_regclass('pgauth.migrations')::text as t`,
  );
  if (!exists.rows[0]?.t) return new Map();
  const r = await q.query<{ name: string; checksum: string; applied_at: Date }>(
    'select name, checksum, applied_at from pgauth.migrations order by name',
  );
  return new Map(
    r.rows.map((row) => [row.name, { checksum: row.checksum, appliedAt: row.applied_at }]),
  );
}

/** Every migration file with whether and when it was applied. Reads only; takes no lock. */
export async function migrationStatus(db: Database, dir?: string): Promise<MigrationStatus[]> {
  const [files, done] = await Promise.all([readMigrations(dir), applied(db)]);
  const status: MigrationStatus[] = files.map((f) => {
    const a = done.get(f.name);
    return {
      name: f.name,
      checksum: f.checksum,
      appliedAt: a?.appliedAt ?? null,
      changed: !!a && a.checksum !== f.checksum,
    };
  });
  for (const [name, a] of done) {
    if (!files.some((f) => f.name === name)) {
      status.push({ name, checksum: a.checksum, appliedAt: a.appliedAt, changed: true });
    }
  }
  return status;
}

/** Names of the migrations not applied yet. */
export async function pendingMigrations(db: Database, dir?: string): Promise<string[]> {
  return (await migrationStatus(db, dir)).filter((s) => !s.appliedAt).map((s) => s.name);
}

function checkUnchanged(files: MigrationFile[], done: Map<string, { checksum: string }>): void {
  for (const [name, a] of done) {
    const f = files.find((x) => x.name === name);
    if (!f)
      throw new MigrationError(
        `migration ${name} was applied but its file is missing from sql/migrations`,
      );
    if (f.checksum !== a.checksum) {
      throw new MigrationError(
        `migration ${name} was changed after it was applied (checksum ${a.checksum.slice(0, 12)}… recorded, ${f.checksum.slice(0, 12)}… on disk); applied migrations must never be edited: add a new migration instead`,
      );
    }
  }
}

/**
 * Applies every pending migration in name order, each in its own transaction, all under one
 * transaction-level advisory lock per step so that concurrent migrators queue instead of failing.
 * Refuses to run when an applied file has changed. Returns the names applied.
 */
export async function migrate(db: Database, dir?: string): Promise<string[]> {
  const files = await readMigrations(dir);
  const appliedNow: string[] = [];
  for (;;) {
    const name = await db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await tx.exec(BOOKKEEPING);
      const done = await applied(tx);
      checkUnchanged(files, done);
      const next = files.find((f) => !done.has(f.name));
      if (!next) return null;
      await tx.exec(next.sql);
      // A migration may `set local role`; record it as the migrating user.
      await tx.exec('reset role');
      await tx.query('insert into pgauth.migrations (name, checksum) values ($1, $2)', [
        next.name,
        next.checksum,
      ]);
      return next.name;
    });
    if (!name) return appliedNow;
    appliedNow.push(name);
  }
}
