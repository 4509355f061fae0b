import assert from 'node:assert/strict';
import { appendFile, cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openPostgres } from '../packages/client/src/db/postgres.ts';
import type { Database } from '../packages/client/src/db/types.ts';
import { openPglite } from '../packages/pgauth/src/db/pglite.ts';
import {
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  migrationStatus,
  pendingMigrations,
} from '../packages/pgauth/src/migrate.ts';
import { createEmptyDatabase, onPostgres, openTestDatabase, postgresOnly } from './helpers/db.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A fresh, unmigrated database on the engine under test, dropped after the file. */
async function freshDatabase(): Promise<Database> {
  if (!onPostgres) {
    const db = await openPglite();
    cleanups.push(() => db.close());
    return db;
  }
  const empty = await createEmptyDatabase('pgauth_mig');
  const db = openPostgres({ connectionString: empty.url, max: 2 });
  cleanups.push(async () => {
    await db.close();
    await empty.drop();
  });
  return db;
}

/** A database every migration was applied to by migrate(), closed after the file. */
async function migratedDatabase(): Promise<Database> {
  const t = await openTestDatabase();
  cleanups.push(() => t.close());
  return t.db;
}

async function files(dir = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
}

test('a fresh database gets every migration file applied, in order', async () => {
  const db = await freshDatabase();
  const all = await files();
  assert.deepEqual(await pendingMigrations(db), all);
  assert.deepEqual(await migrate(db), all);
  assert.deepEqual(await pendingMigrations(db), []);
  const status = await migrationStatus(db);
  assert.deepEqual(
    status.map((s) => [s.name, s.appliedAt instanceof Date, s.changed]),
    all.map((n) => [n, true, false]),
  );
  const r = await db.query<{ n: number }>('select count(*)::int as n from pgauth.common_passwords');
  assert.ok((r.rows[0]?.n ?? 0) >= 10000);
  const fn = await db.query(`select to_regprocedure('pgauth.validate(text)') is not null as ok`);
  assert.deepEqual(fn.rows, [{ ok: true }]);
});

test('a second run applies nothing', async () => {
  const db = await migratedDatabase();
  assert.deepEqual(await migrate(db), []);
  const r = await db.query<{ n: number }>('select count(*)::int as n from pgauth.migrations');
  assert.equal(r.rows[0]?.n, (await files()).length);
});

test('two concurrent migrators on one fresh database both succeed; each file is recorded once', {
  skip: postgresOnly,
}, async () => {
  const empty = await createEmptyDatabase('pgauth_mig');
  const a = openPostgres({ connectionString: empty.url, max: 2 });
  const b = openPostgres({ connectionString: empty.url, max: 2 });
  cleanups.push(async () => {
    await Promise.all([a.close(), b.close()]);
    await empty.drop();
  });
  const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
  const all = await files();
  assert.deepEqual([...ra, ...rb].sort(), all, 'between them every file was applied once');
  const r = await a.query<{ name: string; n: number }>(
    'select name, count(*)::int as n from pgauth.migrations group by name order by name',
  );
  assert.deepEqual(
    r.rows,
    all.map((n) => ({ name: n, n: 1 })),
  );
});

test('a migration changed after it was applied is refused with a MigrationError naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-mig-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  const db = await freshDatabase();
  assert.deepEqual(await migrate(db, dir), await files());
  await appendFile(join(dir, '0002_tables.sql'), '\n-- an edit after release\n');
  await assert.rejects(migrate(db, dir), (err: Error) => {
    assert.ok(err instanceof MigrationError);
    assert.match(err.message, /0002_tables\.sql/);
    return true;
  });
  const status = await migrationStatus(db, dir);
  assert.deepEqual(
    status.filter((s) => s.changed).map((s) => s.name),
    ['0002_tables.sql'],
  );
  // A new file after an edited one is not applied either.
  await writeFile(join(dir, '0005_new.sql'), 'select 1;');
  await assert.rejects(migrate(db, dir), MigrationError);
  assert.deepEqual(await pendingMigrations(db, dir), ['0005_new.sql']);
});

test('a recorded migration whose file is gone is refused with a MigrationError', async () => {
  const db = await migratedDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-mig-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  await rm(join(dir, '0003_common_passwords.sql'));
  await assert.rejects(migrate(db, dir), (err: Error) => {
    assert.ok(err instanceof MigrationError);
    assert.match(err.message, /0003_common_passwords\.sql/);
    return true;
  });
});
