import assert from 'node:assert/strict';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { openPostgres } from '../packages/client/src/db/postgres.ts';
import type { Database } from '../packages/client/src/db/types.ts';
import {
  FUNCTIONS,
  FUNCTIONS_DIR,
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  migrationStatus,
  pendingMigrations,
} from '../packages/pgauth/src/migrate.ts';
import { VERSION } from '../packages/pgauth/src/version.ts';
import {
  createEmptyDatabase,
  openEmptyTestDatabase,
  openTestDatabase,
  postgresOnly,
} from './helpers/db.ts';
import { PASSWORD } from './helpers/sql.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A fresh, unmigrated database on the engine under test, dropped after the file. */
async function freshDatabase(): Promise<Database> {
  const db = await openEmptyTestDatabase();
  cleanups.push(() => db.close());
  return db;
}

/** A database every migration was applied to by migrate(), closed after the file. */
async function migratedDatabase(): Promise<Database> {
  const t = await openTestDatabase();
  cleanups.push(() => t.close());
  return t.db;
}

/** A new temporary folder, removed after the file. */
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of `from` in a new temporary folder, removed after the file. */
async function copyOf(from: string, prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  await cp(from, dir, { recursive: true });
  return dir;
}

async function routineExists(db: Database, signature: string): Promise<boolean | undefined> {
  const r = await db.query<{ ok: boolean }>('select to_regprocedure($1) is not null as ok', [
    signature,
  ]);
  return r.rows[0]?.ok;
}

async function files(dir = MIGRATIONS_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
}

/**
 * A fresh database migrated by migrate(), and what it said before and while doing so: made once a
 * file, by the first test that asks, and only read after (not a test database: those have the
 * tests' settings).
 */
let freshlyMigrated: Promise<{ db: Database; pending: string[]; applied: string[] }> | undefined;
function freshlyMigratedDatabase() {
  freshlyMigrated ??= freshDatabase().then(async (db) => {
    const pending = await pendingMigrations(db);
    return { db, pending, applied: await migrate(db) };
  });
  return freshlyMigrated;
}

test('a fresh database gets every migration file applied, in order', async () => {
  const { db, pending, applied } = await freshlyMigratedDatabase();
  const all = [...(await files()), FUNCTIONS];
  assert.deepEqual(pending, all);
  assert.deepEqual(applied, all);
  assert.deepEqual(await pendingMigrations(db), []);
  const status = await migrationStatus(db);
  assert.deepEqual(
    status.map((s) => [s.name, s.appliedAt instanceof Date, s.changed]),
    all.map((n) => [n, true, false]),
  );
  const r = await db.query<{ n: number }>('select count(*)::int as n from pgauth.common_passwords');
  assert.ok((r.rows[0]?.n ?? 0) >= 10000);
  assert.equal(await routineExists(db, 'pgauth.validate(text)'), true);
});

test('a second run applies nothing', async () => {
  const db = await migratedDatabase();
  assert.deepEqual(await migrate(db), []);
  const r = await db.query<{ n: number }>('select count(*)::int as n from pgauth.migrations');
  assert.equal(r.rows[0]?.n, (await files()).length + 1, 'each file and the functions');
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
  const all = [...(await files()), FUNCTIONS].sort();
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
  // A folder name that is no URL path as it stands (a space, `#`, `%41`): files are read by path.
  const dir = await copyOf(MIGRATIONS_DIR, 'pgauth mig #%41-');
  const db = await migratedDatabase();
  assert.deepEqual(await migrate(db, dir), [], 'the same files: nothing to apply');
  await appendFile(join(dir, '0018_after_0.2.0.sql'), '\n-- an edit after release\n');
  await assert.rejects(migrate(db, dir), (err: Error) => {
    assert.ok(err instanceof MigrationError);
    assert.match(err.message, /0018_after_0\.2\.0\.sql was changed after it was applied/);
    return true;
  });
  const status = await migrationStatus(db, dir);
  assert.deepEqual(
    status.filter((s) => s.changed).map((s) => s.name),
    ['0018_after_0.2.0.sql'],
  );
  // A new file after an edited one is not applied either.
  await writeFile(join(dir, '0019_new.sql'), 'select 1;');
  await assert.rejects(migrate(db, dir), MigrationError);
  assert.deepEqual(await pendingMigrations(db, dir), ['0019_new.sql']);
});

test('a recorded migration whose file is gone is refused with a MigrationError', async () => {
  const db = await migratedDatabase();
  const dir = await copyOf(MIGRATIONS_DIR, 'pgauth-mig-');
  await rm(join(dir, '0018_after_0.2.0.sql'));
  await assert.rejects(migrate(db, dir), (err: Error) => {
    assert.ok(err instanceof MigrationError);
    assert.match(err.message, /0018_after_0\.2\.0\.sql was applied but its file is missing/);
    return true;
  });
});

// ---- The migrations shipped before the functions moved to sql/functions/ ----------------------

/** The 18 migration files as 0.2.0 (0001–0010) and the commits after it (0011–0018) had them. */
async function earlierMigrations(upTo: string): Promise<string> {
  const texts: Record<string, string> = JSON.parse(
    gunzipSync(
      await readFile(new URL('./fixtures/migrations-0001-0018.json.gz', import.meta.url)),
    ).toString('utf8'),
  );
  const dir = await tempDir('pgauth-mig-old-');
  for (const [name, sql] of Object.entries(texts)) {
    if (name <= upTo) await writeFile(join(dir, name), sql);
  }
  return dir;
}

/**
 * A fresh database migrated by the earlier migration files up to `upTo` (NNNN_…), without the
 * functions, and the folder of those files.
 */
async function migratedUpTo(upTo: string): Promise<{ db: Database; old: string }> {
  const db = await freshDatabase();
  const old = await earlierMigrations(upTo);
  assert.equal((await migrate(db, old, null)).length, Number(upTo.slice(0, 4)), upTo);
  return { db, old };
}

/**
 * Schema pgauth as the catalogs show it: its owner and privileges, pgauth_owner's default
 * privileges, every function's definition, owner, privileges and comment, every relation (owner,
 * privileges, comment), column (type, default, not null, comment), constraint, index and trigger,
 * and the rows of settings and of the common-password list. Two databases with the same fingerprint
 * behave the same.
 */
async function fingerprint(db: Database): Promise<string[]> {
  const r = await db.query<{ x: string }>(
    `with ns as (select 'pgauth'::regnamespace as oid)
     select x from (
       select 'function ' || pg_get_functiondef(p.oid) || ' owner ' || p.proowner::regrole::text
         || ' acl ' || coalesce(p.proacl::text, '')
         || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '') as x
       from pg_proc p, ns where p.pronamespace = ns.oid
       union all
       select 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || c.relpersistence::text
         || ' owner ' || c.relowner::regrole::text || ' acl '
         || coalesce(c.relacl::text, '') || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '')
       from pg_class c, ns where c.relnamespace = ns.oid
       union all
       select 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
         || ' comment ' || coalesce(col_description(c.oid, a.attnum), '')
       from pg_attribute a join pg_class c on c.oid = a.attrelid
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum, ns
       where c.relnamespace = ns.oid and a.attnum > 0 and not a.attisdropped
       union all
       select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(k.oid)
       from pg_constraint k, ns where k.connamespace = ns.oid
       union all
       select 'index ' || pg_get_indexdef(i.indexrelid)
       from pg_index i join pg_class c on c.oid = i.indexrelid, ns where c.relnamespace = ns.oid
       union all
       select 'trigger ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
       from pg_trigger t join pg_class c on c.oid = t.tgrelid, ns
       where c.relnamespace = ns.oid and not t.tgisinternal
       union all
       select 'schema owner ' || n.nspowner::regrole::text || ' acl ' || coalesce(n.nspacl::text, '')
       from pg_namespace n, ns where n.oid = ns.oid
       union all
       select 'default privileges ' || d.defaclrole::regrole::text || ' ' || d.defaclobjtype::text
         || ' ' || d.defaclnamespace::regnamespace::text || ' ' || coalesce(d.defaclacl::text, '')
       from pg_default_acl d
       where d.defaclrole = 'pgauth_owner'::regrole
       union all
       select 'settings ' || (select row_to_json(s)::text from pgauth.settings s)
       union all
       select 'common passwords ' || (select count(*) || ' ' || md5(string_agg(p::text, ',' order by p::text)) from pgauth.common_passwords p)
     ) f order by x`,
  );
  return r.rows.map((row) => row.x);
}

/** The fingerprint of a database migrated anew, taken once a file. */
let fresh: Promise<string[]> | undefined;
function freshFingerprint(): Promise<string[]> {
  fresh ??= freshlyMigratedDatabase().then(({ db }) => fingerprint(db));
  return fresh;
}

async function recorded(db: Database): Promise<string[]> {
  const r = await db.query<{ name: string }>('select name from pgauth.migrations order by name');
  return r.rows.map((row) => row.name);
}

const RELEASE = '0010_release_0.2.0.sql';
const AFTER = '0018_after_0.2.0.sql';

test('a database migrated by 0.2.0 (0001–0010) upgrades to what a fresh one gets, in one step, its users and sessions kept', {
  timeout: 120_000,
}, async () => {
  const { db, old } = await migratedUpTo('0010_revocation_notices.sql');
  const before = await db.query<{ name: string; applied_at: Date }>(
    'select name, applied_at from pgauth.migrations order by name',
  );
  assert.deepEqual(
    await pendingMigrations(db),
    [AFTER, FUNCTIONS],
    `${RELEASE} stands for the ten`,
  );
  // A user and a live session, made by 0.2.0's functions, cross the upgrade.
  await db.query('update pgauth.settings set bcrypt_cost = 4');
  const alice = await db.query<{ id: string }>(`select pgauth.create_user('alice', $1) as id`, [
    PASSWORD,
  ]);
  const session = await db.query<{ access_token: string }>(
    `select access_token from pgauth.login('alice', $1)`,
    [PASSWORD],
  );
  await db.query('update pgauth.settings set bcrypt_cost = 11');

  // A failure in the functions undoes the last migration with them: the database keeps 0.2.0's
  // tables and functions, whole.
  const broken = await copyOf(FUNCTIONS_DIR, 'pgauth-fns-');
  await appendFile(join(broken, '5-console.sql'), '\nselect 1 / 0;\n');
  await assert.rejects(migrate(db, undefined, broken), /division by zero/);
  assert.deepEqual(
    await recorded(db),
    before.rows.map((r) => r.name),
  );
  assert.equal(
    await routineExists(db, 'pgauth.login(text, text, inet, text)'),
    true,
    "0.2.0's login is still there",
  );

  assert.deepEqual(await migrate(db), [AFTER, FUNCTIONS]);
  assert.deepEqual(await fingerprint(db), await freshFingerprint());
  // The ten rows stay, as 0.2.0 wrote them, so that a gateway of 0.2.0 still finds its own
  // migrations applied (its /readyz stays 200 during a rolling upgrade); 0010 stands beside them.
  const rows = await db.query<{ name: string; applied_at: Date }>(
    'select name, applied_at from pgauth.migrations order by name',
  );
  assert.deepEqual(
    rows.rows.filter((r) => before.rows.some((b) => b.name === r.name)),
    before.rows,
  );
  assert.deepEqual(
    rows.rows.map((r) => r.name),
    [...before.rows.map((r) => r.name), RELEASE, AFTER, FUNCTIONS].sort(),
  );
  assert.deepEqual(await pendingMigrations(db, old, null), [], "0.2.0's own view: up to date");
  assert.deepEqual(await pendingMigrations(db), []);

  const valid = await db.query<{ user_id: string; username: string }>(
    'select user_id, username from pgauth.validate($1)',
    [session.rows[0]?.access_token],
  );
  assert.deepEqual(valid.rows, [{ user_id: alice.rows[0]?.id, username: 'alice' }]);
  const login = await db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.login('alice', $1) where access_token is not null`,
    [PASSWORD],
  );
  assert.deepEqual(login.rows, [{ n: 1 }], 'the password of 0.2.0 logs in');
});

test('a database that had all 18 earlier migrations gets only the functions again', {
  timeout: 120_000,
}, async () => {
  const { db } = await migratedUpTo('0018_purge_without_transition_tables.sql');
  assert.deepEqual(await migrate(db), [FUNCTIONS]);
  assert.deepEqual(await fingerprint(db), await freshFingerprint());
  assert.deepEqual(await migrate(db), []);
});

test('a database between two releases (some of the replaced migrations) is refused, untouched', async () => {
  const { db } = await migratedUpTo('0014_console.sql');
  await assert.rejects(migrate(db), (err: Error) => {
    assert.ok(err instanceof MigrationError);
    assert.match(
      err.message,
      /0018_after_0\.2\.0\.sql replaces, and this database has 4 of them \(0011_shared_rate_limits\.sql, .*0014_console\.sql\): it was migrated by a pgauth between two releases\. Migrate it with the pgauth that shipped 0018_purge_without_transition_tables\.sql first/,
    );
    return true;
  });
  assert.equal((await recorded(db)).length, 14, 'nothing recorded');
  const status = await migrationStatus(db);
  assert.deepEqual(
    status.filter((s) => s.changed).map((s) => s.name),
    [
      '0011_shared_rate_limits.sql',
      '0012_account_lifecycle.sql',
      '0013_machine_identity.sql',
      '0014_console.sql',
    ],
  );
  // One of the replaced migrations with another text than the one 0.2.0 shipped.
  await db.query(
    `update pgauth.migrations set checksum = repeat('a', 64) where name = '0003_common_passwords.sql'`,
  );
  await assert.rejects(
    migrate(db),
    /migration 0003_common_passwords\.sql was changed after it was applied \(checksum aaaaaaaaaaaa… recorded, 780532c2abb9… is the text 0010_release_0\.2\.0\.sql replaces\)/,
  );
});

test('the functions are applied again when their files change, and never by an older pgauth', async () => {
  const db = await migratedDatabase();
  const dir = await copyOf(FUNCTIONS_DIR, 'pgauth-fns-');
  assert.deepEqual(await pendingMigrations(db, undefined, dir), [], 'the same files');
  assert.deepEqual(await migrate(db, undefined, dir), []);
  await appendFile(
    join(dir, '1-core.sql'),
    `\ncomment on function pgauth.validate(text) is 'edited';\n`,
  );
  assert.deepEqual(await pendingMigrations(db, undefined, dir), [FUNCTIONS]);
  assert.deepEqual(await migrate(db, undefined, dir), [FUNCTIONS]);
  const comment = async () =>
    (
      await db.query<{ c: string }>(
        `select obj_description('pgauth.validate(text)'::regprocedure, 'pg_proc') as c`,
      )
    ).rows;
  assert.deepEqual(await comment(), [{ c: 'edited' }]);
  // Other functions, of a newer pgauth, stay: this one refuses to replace them.
  await db.query(
    `update pgauth.migrations set checksum = '999.0.0 ' || repeat('0', 64) where name = $1`,
    [FUNCTIONS],
  );
  assert.deepEqual(await pendingMigrations(db, undefined, dir), []);
  await assert.rejects(
    migrate(db, undefined, dir),
    /functions of this database are those of pgauth 999\.0\.0, newer than this pgauth/,
  );
  const status = await migrationStatus(db, undefined, dir);
  assert.ok(status.some((s) => s.name === FUNCTIONS && s.changed));
  assert.deepEqual(await comment(), [{ c: 'edited' }], 'the functions were left as they were');
});

test('the same functions recorded by another version: an older one is brought to this version, a newer one kept; neither runs them again', async () => {
  const db = await migratedDatabase();
  const row = async () =>
    (
      await db.query<{ checksum: string }>(
        'select checksum from pgauth.migrations where name = $1',
        [FUNCTIONS],
      )
    ).rows[0]?.checksum ?? '';
  const setRow = (checksum: string) =>
    db.query('update pgauth.migrations set checksum = $1 where name = $2', [checksum, FUNCTIONS]);
  const [version, hash] = (await row()).split(' ');
  assert.equal(version, VERSION);
  // A mark that running the functions files again would undo.
  await db.exec(`comment on function pgauth.validate(text) is 'mark'`);

  await setRow(`0.0.1 ${hash}`);
  assert.deepEqual(await pendingMigrations(db), []);
  assert.deepEqual(await migrate(db), []);
  assert.equal(await row(), `${VERSION} ${hash}`, 'the row names this version now');

  await setRow(`999.0.0 ${hash}`);
  assert.deepEqual(await migrate(db), []);
  assert.equal(await row(), `999.0.0 ${hash}`, 'a newer version keeps its row');

  const comment = await db.query<{ c: string }>(
    `select obj_description('pgauth.validate(text)'::regprocedure, 'pg_proc') as c`,
  );
  assert.deepEqual(comment.rows, [{ c: 'mark' }], 'the functions did not run again');
});

async function recordedRoutines(db: Database): Promise<string[]> {
  const r = await db.query<{ s: string }>(
    `select key as s from pgauth.migrated_objects where kind = 'routine' order by 1`,
  );
  return r.rows.map((row) => row.s);
}

test('migrate drops a routine the function files no longer make, and the old signature of one whose arguments changed; routines they never made stay', async () => {
  const db = await migratedDatabase();
  const exists = (signature: string) => routineExists(db, signature);
  const made = await recordedRoutines(db);
  assert.ok(made.includes('pgauth.validate(text)'), 'the files made validate');
  assert.ok(made.includes('pgauth.tg_users__revoke_sessions()'), 'and the trigger functions');
  assert.ok(!made.includes('pgauth.clock()'), 'clock() is a migration’s');

  // An operator's own function in the schema, and an overload of a name the files use.
  await db.exec(`
    create function pgauth.operator_own() returns integer language sql as 'select 1';
    create function pgauth.validate(p text, p_strict boolean) returns integer
      language sql as 'select 1'`);
  // A last migration rewrites the catalog rows of clock() and of that overload (a grant does),
  // in the transaction the files then run in; the files gain a function made in a subtransaction.
  const migrations = await copyOf(MIGRATIONS_DIR, 'pgauth-mig-');
  await writeFile(
    join(migrations, '9999_grants.sql'),
    `grant execute on function pgauth.clock() to pgauth_service;
     grant execute on function pgauth.validate(text, boolean) to pgauth_service;`,
  );
  const functions = await copyOf(FUNCTIONS_DIR, 'pgauth-fns-');
  const extra = join(functions, '9-extra.sql');
  await writeFile(
    extra,
    `do $$
     begin
       execute $f$
         create or replace function pgauth.zz_extra(p integer) returns integer
           language sql as 'select p'
       $f$;
     exception when others then raise;
     end
     $$;`,
  );
  assert.deepEqual(await migrate(db, migrations, functions), ['9999_grants.sql', FUNCTIONS]);
  const first = await recordedRoutines(db);
  assert.ok(first.includes('pgauth.zz_extra(integer)'), 'made in a subtransaction: recorded');
  assert.ok(!first.includes('pgauth.clock()'), 'what the migration wrote is not the files’');
  assert.ok(!first.includes('pgauth.validate(text,boolean)'));

  // Its arguments change: create or replace makes a second one; migrate drops the first.
  await writeFile(
    extra,
    `create or replace function pgauth.zz_extra(p integer, q text) returns integer
       language sql as 'select p';`,
  );
  const told: string[][] = [];
  const keptTold: string[][] = [];
  const hooks = {
    dropped: (signatures: string[]) => told.push(signatures),
    kept: (signatures: string[]) => keptTold.push(signatures),
  };
  assert.deepEqual(await migrate(db, migrations, functions, hooks), [FUNCTIONS]);
  assert.deepEqual(told, [['pgauth.zz_extra(integer)']], 'the caller is told what was dropped');
  assert.equal(await exists('pgauth.zz_extra(integer)'), false, 'the old signature is gone');
  assert.equal(await exists('pgauth.zz_extra(integer, text)'), true);

  // Taken out of the files while a view still calls it: refused, whole, naming both.
  await db.exec(`create view pgauth.zz_view as select pgauth.zz_extra(1, 'a') as v`);
  await rm(extra);
  await assert.rejects(migrate(db, migrations, functions, hooks), (err: Error) => {
    assert.ok(err instanceof MigrationError);
    assert.match(
      err.message,
      /^pgauth\.zz_extra\(integer,text\): no longer made by sql\/functions, but not dropped: .*pgauth\.zz_view.*; drop what depends on it in a migration$/,
    );
    return true;
  });
  assert.equal(await exists('pgauth.zz_extra(integer, text)'), true, 'nothing was dropped');
  assert.ok((await recordedRoutines(db)).includes('pgauth.zz_extra(integer,text)'), 'nor recorded');

  assert.equal(told.length, 1, 'nothing told of a drop that was rolled back');

  await db.exec('drop view pgauth.zz_view');
  assert.deepEqual(await migrate(db, migrations, functions, hooks), [FUNCTIONS]);
  assert.deepEqual(told.at(-1), ['pgauth.zz_extra(integer,text)']);
  assert.equal(await exists('pgauth.zz_extra(integer, text)'), false, 'taken out: dropped');

  // Moved out of the files into migrations of one run: one that runs in a transaction of its
  // own before, one in the functions' transaction, inside a subtransaction. Both stay, now the
  // migrations', and the caller is told.
  await writeFile(
    extra,
    `create or replace function pgauth.zz_early() returns integer language sql as 'select 1';
     create or replace function pgauth.zz_moved() returns integer language sql as 'select 1';`,
  );
  assert.deepEqual(await migrate(db, migrations, functions), [FUNCTIONS]);
  const recorded = await recordedRoutines(db);
  assert.ok(recorded.includes('pgauth.zz_early()') && recorded.includes('pgauth.zz_moved()'));
  await rm(extra);
  await writeFile(
    join(migrations, '9999_zz_early.sql'),
    `create or replace function pgauth.zz_early() returns integer language sql as 'select 3';`,
  );
  await writeFile(
    join(migrations, '9999_zz_moved.sql'),
    `do $$
     begin
       execute $f$create or replace function pgauth.zz_moved() returns integer
         language sql as 'select 2'$f$;
     exception when others then raise;
     end
     $$;`,
  );
  assert.deepEqual(await migrate(db, migrations, functions, hooks), [
    '9999_zz_early.sql',
    '9999_zz_moved.sql',
    FUNCTIONS,
  ]);
  assert.deepEqual(keptTold, [['pgauth.zz_early()', 'pgauth.zz_moved()']]);
  const moved = await db.query<{ early: number; moved: number }>(
    'select pgauth.zz_early() as early, pgauth.zz_moved() as moved',
  );
  assert.deepEqual(moved.rows, [{ early: 3, moved: 2 }], "the migrations' functions stay");
  await db.exec('drop function pgauth.zz_early(); drop function pgauth.zz_moved()');
  for (const kept of [
    'pgauth.operator_own()',
    'pgauth.validate(text, boolean)',
    'pgauth.clock()',
    'pgauth._hmac(bytea, bytea, text)',
  ]) {
    assert.equal(await exists(kept), true, `${kept} stays`);
  }
  assert.deepEqual(await recordedRoutines(db), made, 'the record is the files’ again');
});

test('a database without a record of the routines (migrated before 0.3.0) drops none the first time, then has the record', async () => {
  const db = await migratedDatabase();
  const functions = await copyOf(FUNCTIONS_DIR, 'pgauth-fns-');
  const extra = join(functions, '9-extra.sql');
  await writeFile(
    extra,
    `create function pgauth.zz_old() returns integer language sql as 'select 1';`,
  );
  assert.deepEqual(await migrate(db, undefined, functions), [FUNCTIONS]);
  const made = await recordedRoutines(db);
  assert.ok(made.includes('pgauth.zz_old()'));
  await db.exec('drop table pgauth.migrated_objects');
  await rm(extra);
  assert.deepEqual(await migrate(db, undefined, functions), [FUNCTIONS]);
  assert.equal(
    await routineExists(db, 'pgauth.zz_old()'),
    true,
    'nothing recorded, nothing dropped',
  );
  assert.deepEqual(
    await recordedRoutines(db),
    made.filter((s) => s !== 'pgauth.zz_old()'),
    'recorded now',
  );
});

test('migrate drops a trigger the function files no longer make, before its function', async () => {
  const db = await migratedDatabase();
  const triggers = async () =>
    (
      await db.query<{ k: string }>(
        `select key as k from pgauth.migrated_objects where kind = 'trigger' order by 1`,
      )
    ).rows.map((r) => r.k);
  assert.ok(
    (await triggers()).includes('settings_guard on pgauth.settings'),
    'the files’ triggers',
  );
  await db.exec('set role pgauth_owner; create table pgauth.zz_table (a integer); reset role');
  const functions = await copyOf(FUNCTIONS_DIR, 'pgauth-fns-');
  const extra = join(functions, '9-extra.sql');
  const trigger = `create or replace function pgauth.zz_tf() returns trigger
       language plpgsql as 'begin return null; end';
     create or replace trigger zz_t after insert on pgauth.zz_table
       for each statement execute function pgauth.zz_tf();`;
  await writeFile(extra, trigger);
  assert.deepEqual(await migrate(db, undefined, functions), [FUNCTIONS]);
  assert.ok((await triggers()).includes('zz_t on pgauth.zz_table'));

  await rm(extra);
  const told: string[] = [];
  const hooks = { dropped: (objects: string[]) => told.push(...objects) };
  assert.deepEqual(await migrate(db, undefined, functions, hooks), [FUNCTIONS]);
  assert.deepEqual(told, ['trigger zz_t on pgauth.zz_table', 'pgauth.zz_tf()']);
  const left = await db.query<{ n: number }>(
    `select count(*)::int as n from pg_trigger where tgname = 'zz_t'`,
  );
  assert.deepEqual(left.rows, [{ n: 0 }]);
  assert.equal(await routineExists(db, 'pgauth.zz_tf()'), false);
  assert.ok(!(await triggers()).includes('zz_t on pgauth.zz_table'));
  assert.ok((await triggers()).includes('settings_guard on pgauth.settings'), 'the others stay');

  // Made again, then disabled by an operator (which rewrites its row), then taken out: the
  // trigger is kept, and so is its function, which it still uses.
  await writeFile(extra, trigger);
  assert.deepEqual(await migrate(db, undefined, functions), [FUNCTIONS]);
  await db.exec('alter table pgauth.zz_table disable trigger zz_t');
  await rm(extra);
  const kept: string[] = [];
  told.length = 0;
  assert.deepEqual(
    await migrate(db, undefined, functions, { ...hooks, kept: (o) => kept.push(...o) }),
    [FUNCTIONS],
  );
  assert.deepEqual(told, []);
  assert.deepEqual(kept, ['pgauth.zz_tf()', 'trigger zz_t on pgauth.zz_table']);
  assert.equal(await routineExists(db, 'pgauth.zz_tf()'), true);
});

test('migrate refuses function files that make nothing where the database has what they made', async () => {
  const db = await migratedDatabase();
  const empty = await tempDir('pgauth-fns-');
  await assert.rejects(
    migrate(db, undefined, empty),
    /^MigrationError: the function files made no function and no trigger \(is sql\/functions empty\?\): refusing to drop the \d+ they made before$/,
  );
  assert.equal(await routineExists(db, 'pgauth.validate(text)'), true, 'nothing dropped');
});
