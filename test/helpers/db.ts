/**
 * Test databases on the engine named by PGAUTH_TEST_ENGINE (postgres | pglite).
 *
 * PostgreSQL: every call creates a database with a random name on the server of
 * PGAUTH_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), migrated (a copy
 * of the run's migrated template, see postgresTemplate), and drops it on close. PGlite: every call opens a copy, in a temporary folder, of a data folder that
 * is migrated once and kept under .test-cache/ (creating and migrating one costs seconds).
 * Both get bcrypt cost 4, so that hashing does not dominate the suite.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import type { Database } from '../../packages/client/src/db/types.ts';
import { writeSnapshot } from '../../packages/pgauth/src/db/embedded.ts';
import { createPglite, fromPglite } from '../../packages/pgauth/src/db/pglite.ts';
import { migrate, readFunctions, readMigrations } from '../../packages/pgauth/src/migrate.ts';
import { useFileFixture } from './fixture.ts';

export type Engine = 'postgres' | 'pglite';

export const engine: Engine = process.env.PGAUTH_TEST_ENGINE === 'pglite' ? 'pglite' : 'postgres';
export const adminUrl =
  process.env.PGAUTH_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const onPostgres = engine === 'postgres';
/** For `test(name, { skip: postgresOnly }, fn)`: tests that need real connections or roles. */
export const postgresOnly: string | false = onPostgres ? false : 'PostgreSQL only';

export interface TestDatabase {
  db: Database;
  engine: Engine;
  /** PostgreSQL only: the URL of this test's database (for extra connections, psql, roles). */
  url?: string;
  /** Opens another pool on the same database (PostgreSQL only). */
  connect(options?: { max?: number; user?: string }): Database;
  close(): Promise<void>;
}

/** Settings that make tests fast and deterministic; individual tests change more. */
export const TEST_SETTINGS = 'update pgauth.settings set bcrypt_cost = 4';

function withDatabase(url: string, name: string, user?: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  if (user) {
    u.username = user;
    u.password = '';
  }
  return u.toString();
}

export function randomName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** One statement as the administrator of the PostgreSQL server of the tests, on its own connection. */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the server of the tests, as `user` if given. */
export function databaseUrl(name: string, user?: string): string {
  return withDatabase(adminUrl, name, user);
}

export interface LoginRole {
  name: string;
  drop(): Promise<void>;
}

/** A new login role on the server of the tests (no password: trust), member of `group`. */
export async function createLoginRole(group: string, prefix = 'pgauth_t'): Promise<LoginRole> {
  const name = randomName(prefix);
  await adminQuery(`create role ${name} login in role ${group}`);
  return { name, drop: () => adminQuery(`drop role if exists ${name}`) };
}

/** What useTestDatabaseAs() gives: the file's database, and pools on it as roles of the file. */
export interface DatabaseWithRoles extends TestDatabase {
  /**
   * PostgreSQL only: a new login role, member of `group` (none: no grant at all), and a pool of
   * `max` connections on this database as it. The role is dropped after the file's last test.
   */
  connectAs(group: string | null, max?: number): Promise<Database>;
}

export interface EmptyDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new database with no migration applied, on the PostgreSQL server of the tests. */
export async function createEmptyDatabase(prefix = 'pgauth_test'): Promise<EmptyDatabase> {
  const name = randomName(prefix);
  await adminQuery(`create database ${name}`);
  return {
    name,
    url: databaseUrl(name),
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

/**
 * The migrated database that scripts/test.js names in PGAUTH_TEST_TEMPLATE (and drops after the
 * run), made by the first file that asks for it: a test database is then a copy of it, which
 * costs the server about half of what migrating one does. Null when a file runs on its own.
 */
async function postgresTemplate(): Promise<string | null> {
  const name = process.env.PGAUTH_TEST_TEMPLATE;
  if (!name) return null;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [name]);
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      // Built under another name and renamed when complete: a failed build leaves no template.
      const building = `${name}_building`;
      await client.query(`drop database if exists ${building} with (force)`);
      await client.query(`create database ${building}`);
      const db = openPostgres({ connectionString: withDatabase(adminUrl, building), max: 1 });
      try {
        await migrate(db);
        await db.exec(TEST_SETTINGS);
      } finally {
        await db.close();
      }
      await client.query(`alter database ${building} rename to ${name}`);
    }
    return name;
  } finally {
    await client.end();
  }
}

async function openPostgresTest(): Promise<TestDatabase> {
  const name = randomName('pgauth_test');
  const template = await postgresTemplate();
  await adminQuery(`create database ${name}${template ? ` template ${template}` : ''}`);
  const url = withDatabase(adminUrl, name);
  const db = openPostgres({ connectionString: url, max: 30 });
  const extra: Database[] = [];
  try {
    if (!template) {
      await migrate(db);
      await db.exec(TEST_SETTINGS);
    }
  } catch (err) {
    await db.close();
    await adminQuery(`drop database if exists ${name} with (force)`);
    throw err;
  }
  return {
    db,
    engine: 'postgres',
    url,
    connect(options = {}) {
      const other = openPostgres({
        connectionString: withDatabase(adminUrl, name, options.user),
        max: options.max ?? 10,
      });
      extra.push(other);
      return other;
    },
    async close() {
      await Promise.all(extra.map((d) => d.close().catch(() => {})));
      await db.close();
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

const CACHE_DIR = fileURLToPath(new URL('../../.test-cache/', import.meta.url));
const PGLITE_VERSION: string = JSON.parse(
  readFileSync(
    new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url),
    'utf8',
  ),
).version;

/**
 * A migrated PGlite data folder (bcrypt cost 4) under .test-cache/, made once for this PGlite
 * version, these migrations (names and checksums) and this migration runner, then only copied: a
 * test database opens a copy of its own, which costs about a second less than loading a dump into
 * memory. It is built in a folder of this process's own and renamed into place, so that files
 * starting at once never see half of one.
 */
async function pgliteTemplate(): Promise<string> {
  const checksums = [
    ...(await readMigrations()).map((m) => `${m.name}:${m.checksum}`),
    `functions:${(await readFunctions()).checksum}`,
    // The runner's own tables and records are its code's.
    readFileSync(new URL('../../packages/pgauth/src/migrate.ts', import.meta.url), 'utf8'),
  ].join('\n');
  const key = createHash('sha256').update(`${PGLITE_VERSION}\n${checksums}`).digest('hex');
  return cachedFolder(`pglite-${key.slice(0, 16)}`, (building) =>
    writeSnapshot(building, (db) => db.exec(TEST_SETTINGS)),
  );
}

/**
 * The folder `name` under .test-cache/, made by `build` when it is not there yet: in a folder of
 * this process's own, then renamed into place, so that files starting at once never see half of
 * one (another file may have put its own in place meanwhile: then this one goes).
 */
async function cachedFolder(name: string, build: (dir: string) => Promise<void>): Promise<string> {
  const dir = `${CACHE_DIR}${name}`;
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  await mkdir(CACHE_DIR, { recursive: true });
  const building = `${dir}.${process.pid}.tmp`;
  await build(building);
  await rename(building, dir).catch(() => rm(building, { recursive: true, force: true }));
  return dir;
}

/**
 * A new PGlite data folder, nothing migrated, kept under .test-cache/ for this PGlite version: a
 * new in-memory PGlite runs initdb, about 3 CPU-seconds; a copy of this folder opens in a third.
 */
function pgliteEmptyTemplate(): Promise<string> {
  return cachedFolder(`pglite-empty-${PGLITE_VERSION}`, async (building) => {
    const pglite = await createPglite({ dataDir: building });
    await pglite.close();
  });
}

/** PGlite open on `dataDir`, a copy of the data folder `template`. */
async function openCopy(
  template: string,
  dataDir: string,
): Promise<{ pglite: PGlite; db: Database }> {
  // cpSync: a quarter of the CPU of fs/promises' cp for the 1,100 files of a data folder (88
  // against 358 ms here), for an event loop held ~80 ms while a test sets up.
  cpSync(template, dataDir, { recursive: true });
  const pglite = await createPglite({ dataDir });
  return { pglite, db: fromPglite(pglite) };
}

/** An open PGlite database in a temporary copy of `template`, removed by close(). */
async function openPgliteCopy(template: string): Promise<Database> {
  const dir = await mkdtemp(join(tmpdir(), 'pgauth-pglite-'));
  try {
    const { db } = await openCopy(template, dir);
    return {
      ...db,
      async close() {
        await db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A migrated PGlite data folder at `dataDir` (bcrypt cost 4), a copy of the same folder as the
 * test databases, open in this process.
 */
export async function openPgliteFolder(dataDir: string): Promise<{ pglite: PGlite; db: Database }> {
  return openCopy(await pgliteTemplate(), dataDir);
}

async function openPgliteTest(): Promise<TestDatabase> {
  const db = await openPgliteCopy(await pgliteTemplate());
  return {
    db,
    engine: 'pglite',
    connect() {
      throw new Error('connect() is PostgreSQL only');
    },
    close: () => db.close(),
  };
}

/**
 * A new database with nothing migrated on the engine under test (for the migrations themselves);
 * its close() removes it.
 */
export async function openEmptyTestDatabase(): Promise<Database> {
  if (!onPostgres) return openPgliteCopy(await pgliteEmptyTemplate());
  const empty = await createEmptyDatabase('pgauth_empty');
  const db = openPostgres({ connectionString: empty.url, max: 2 });
  return {
    ...db,
    async close() {
      await db.close();
      await empty.drop();
    },
  };
}

/** A fresh, migrated database on the engine under test. */
export function openTestDatabase(): Promise<TestDatabase> {
  return onPostgres ? openPostgresTest() : openPgliteTest();
}

/** What a file does with its database right after it opened and right before it closes. */
export interface FileHooks {
  setup?(t: TestDatabase): Promise<void>;
  teardown?(t: TestDatabase): Promise<void>;
}

/**
 * One test database for the whole file: opened (then `setup`) before its first test, closed
 * (after `teardown`) after its last. The object returned stands for it at once.
 */
export function useTestDatabase(hooks: FileHooks = {}): TestDatabase {
  return useFileFixture(
    'the test database',
    async () => {
      const t = await openTestDatabase();
      await hooks.setup?.(t);
      return t;
    },
    async (t) => {
      try {
        await hooks.teardown?.(t);
      } finally {
        await t.close();
      }
    },
  );
}

/**
 * useTestDatabase for a file that also connects as login roles of its own (privileges, what an
 * outsider may do): `t.connectAs(group)`. After the file's last test the database is closed,
 * then the roles are dropped.
 */
export function useTestDatabaseAs(hooks: FileHooks = {}): DatabaseWithRoles {
  const roles: string[] = [];
  return useFileFixture(
    'the test database',
    async () => {
      const t = await openTestDatabase();
      await hooks.setup?.(t);
      const connectAs = async (group: string | null, max = 2): Promise<Database> => {
        const name = randomName('pgauth_t');
        await adminQuery(`create role ${name} login${group ? ` in role ${group}` : ''}`);
        roles.push(name);
        return t.connect({ user: name, max });
      };
      return Object.assign(t, { connectAs });
    },
    async (t) => {
      try {
        await hooks.teardown?.(t);
      } finally {
        await t.close();
        if (roles.length > 0) {
          await adminQuery(roles.map((r) => `drop role if exists ${r};`).join('\n'));
        }
      }
    },
  );
}
