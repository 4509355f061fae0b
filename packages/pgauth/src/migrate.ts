import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database, Queryable } from '@pgauth/client/internal';
import { VERSION } from './version.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../sql/migrations/', import.meta.url));
export const FUNCTIONS_DIR = fileURLToPath(new URL('../sql/functions/', import.meta.url));

/**
 * The row of pgauth.migrations that records the functions: its checksum column holds the pgauth
 * version that applied them and the SHA-256 of their files (`0.3.0 9f2c…`).
 */
export const FUNCTIONS = 'functions';

/** Key of the advisory lock that serialises migrators: two processes migrating at once, one waits. */
const MIGRATION_LOCK_KEY = 7_201_558_901;

export interface MigrationFile {
  name: string;
  checksum: string;
  sql: string;
  /** The earlier migrations this file stands for (`-- replaces NAME SHA256` lines), if any. */
  replaces: { name: string; checksum: string }[];
}

export interface MigrationStatus {
  name: string;
  checksum: string;
  appliedAt: Date | null;
  /**
   * True when what was applied is not this file: it was edited since, its file is gone (or it is
   * one of an incomplete set that a file replaces), or the functions are a newer pgauth's.
   */
  changed: boolean;
}

/**
 * A database this pgauth does not migrate: an applied migration whose file changed or is gone,
 * some of the migrations a file replaces but not all, or the functions of a newer pgauth.
 */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

async function readSqlFiles(
  dir: string,
): Promise<{ name: string; sql: string; checksum: string }[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * The files of the package's own folders are read once a process (GET /readyz asks on every
 * probe); a read that fails is tried again next time. Other folders are read at every call.
 */
const packageFiles = new Map<string, Promise<unknown>>();
function readOnce<T>(dir: string, own: string, read: (dir: string) => Promise<T>): Promise<T> {
  if (dir !== own) return read(dir);
  let p = packageFiles.get(dir) as Promise<T> | undefined;
  if (!p) {
    p = read(dir);
    packageFiles.set(dir, p);
    p.catch(() => packageFiles.delete(dir));
  }
  return p;
}

export function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  return readOnce(dir, MIGRATIONS_DIR, readMigrationFiles);
}

async function readMigrationFiles(dir: string): Promise<MigrationFile[]> {
  return (await readSqlFiles(dir)).map((f) => ({
    ...f,
    replaces: [...f.sql.matchAll(/^-- replaces (\S+\.sql) ([0-9a-f]{64})$/gm)].map((m) => ({
      name: m[1] as string,
      checksum: m[2] as string,
    })),
  }));
}

export interface FunctionFiles {
  /** The files in the order they are applied, as one script. */
  sql: string;
  /** SHA-256 of the files (names and contents). */
  hash: string;
  /** What pgauth.migrations records once they are applied: `VERSION HASH`. */
  checksum: string;
}

/** The files of sql/functions/ (or `dir`), applied after the migrations whenever they changed. */
export function readFunctions(dir = FUNCTIONS_DIR): Promise<FunctionFiles> {
  return readOnce(dir, FUNCTIONS_DIR, readFunctionFiles);
}

async function readFunctionFiles(dir: string): Promise<FunctionFiles> {
  const files = await readSqlFiles(dir);
  const sha = createHash('sha256');
  for (const f of files) sha.update(`${f.name}\0${f.sql}\0`);
  const hash = sha.digest('hex');
  return { sql: files.map((f) => f.sql).join('\n'), hash, checksum: `${VERSION} ${hash}` };
}

/**
 * Compares two versions `major.minor.patch[-pre]`: <0, 0, >0. A pre-release comes before its
 * release (1.0.0-rc.1 < 1.0.0); two pre-releases compare as text.
 */
function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core = '', pre = ''] = v.split('+')[0]?.split(/-(.*)/s) ?? [];
    return { nums: core.split('.').map(Number), pre };
  };
  const [x, y] = [split(a), split(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (!x.pre) return 1;
  if (!y.pre) return -1;
  return x.pre < y.pre ? -1 : 1;
}

type Applied = Map<string, { checksum: string; appliedAt: Date }>;

const BOOKKEEPING = `
  create schema if not exists pgauth;
  create table if not exists pgauth.migrations (
    name text constraint migrations_pkey primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
  );`;

async function applied(q: Queryable): Promise<Applied> {
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

/**
 * What is applied, reading a file that replaces earlier migrations as applied when the database
 * has every one of them with the checksum the file lists; the replaced rows are then left out of
 * the answer (they stay in the table, so that a pgauth of the earlier release still reads its
 * own files as applied). A database with some of them only keeps them, for checkUnchanged.
 */
function resolveReplaced(files: MigrationFile[], done: Applied): Applied {
  const resolved = new Map(done);
  for (const f of files) {
    const same = f.replaces.filter((r) => done.get(r.name)?.checksum === r.checksum);
    if (same.length === 0 || (!done.has(f.name) && same.length < f.replaces.length)) continue;
    let appliedAt = new Date(0);
    for (const r of same) {
      const a = done.get(r.name) as { appliedAt: Date };
      if (a.appliedAt > appliedAt) appliedAt = a.appliedAt;
      resolved.delete(r.name);
    }
    if (!done.has(f.name)) resolved.set(f.name, { checksum: f.checksum, appliedAt });
  }
  return resolved;
}

/** The recorded functions: the version of the pgauth that applied them, and their hash. */
function recordedFunctions(done: Applied): { version: string; hash: string } | null {
  const c = done.get(FUNCTIONS)?.checksum;
  if (!c) return null;
  const [version = '0.0.0', hash = ''] = c.split(' ');
  return { version, hash };
}

/** Other functions than these, applied by a newer pgauth: its version, else null. */
function newerFunctions(done: Applied, hash: string): string | null {
  const r = recordedFunctions(done);
  return r && r.hash !== hash && compareVersions(r.version, VERSION) > 0 ? r.version : null;
}

/**
 * Every migration file with whether and when it was applied, then the functions (unless
 * `functionsDir` is null): pending when the database holds other functions than these files,
 * except those of a newer pgauth (`changed`: this one does not replace them). Reads only; takes
 * no lock.
 */
export async function migrationStatus(
  db: Database,
  dir?: string,
  functionsDir: string | null = FUNCTIONS_DIR,
): Promise<MigrationStatus[]> {
  const [files, recorded, functions] = await Promise.all([
    readMigrations(dir),
    applied(db),
    functionsDir === null ? null : readFunctions(functionsDir),
  ]);
  const done = resolveReplaced(files, recorded);
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
    if (name !== FUNCTIONS && !files.some((f) => f.name === name)) {
      status.push({ name, checksum: a.checksum, appliedAt: a.appliedAt, changed: true });
    }
  }
  if (functions) {
    const { hash, checksum } = functions;
    const a = done.get(FUNCTIONS);
    const newer = newerFunctions(done, hash) !== null;
    status.push({
      name: FUNCTIONS,
      checksum,
      appliedAt: a && (newer || recordedFunctions(done)?.hash === hash) ? a.appliedAt : null,
      changed: newer,
    });
  }
  return status;
}

/** Names of the migrations not applied yet, and `functions` when they are to be applied. */
export async function pendingMigrations(
  db: Database,
  dir?: string,
  functionsDir?: string | null,
): Promise<string[]> {
  return (await migrationStatus(db, dir, functionsDir))
    .filter((s) => !s.appliedAt)
    .map((s) => s.name);
}

/** Throws for a recorded migration `name` that has no file: why, and what to do. */
function refuseMissing(files: MigrationFile[], done: Applied, name: string): never {
  const by = files.find((x) => x.replaces.some((r) => r.name === name));
  if (!by)
    throw new MigrationError(
      `migration ${name} was applied but its file is missing from sql/migrations`,
    );
  const edited = by.replaces.find(
    (r) => done.has(r.name) && done.get(r.name)?.checksum !== r.checksum,
  );
  if (edited) {
    const recorded = done.get(edited.name)?.checksum ?? '';
    throw new MigrationError(
      `migration ${edited.name} was changed after it was applied (checksum ${recorded.slice(0, 12)}… recorded, ${edited.checksum.slice(0, 12)}… is the text ${by.name} replaces): this database was migrated by a pgauth between two releases; create it anew`,
    );
  }
  const have = by.replaces.filter((r) => done.has(r.name)).map((r) => r.name);
  throw new MigrationError(
    `migration ${name} is one of the ${by.replaces.length} that ${by.name} replaces, and this database has ${have.length} of them (${have.join(', ')}): it was migrated by a pgauth between two releases. Migrate it with the pgauth that shipped ${by.replaces.at(-1)?.name} first, or create the database anew`,
  );
}

function checkUnchanged(files: MigrationFile[], done: Applied, functionsHash: string | null): void {
  for (const [name, a] of done) {
    if (name === FUNCTIONS) continue;
    const f = files.find((x) => x.name === name);
    if (!f) refuseMissing(files, done, name);
    if (f.checksum !== a.checksum) {
      throw new MigrationError(
        `migration ${name} was changed after it was applied (checksum ${a.checksum.slice(0, 12)}… recorded, ${f.checksum.slice(0, 12)}… on disk); applied migrations must never be edited: add a new migration instead`,
      );
    }
  }
  const newer = functionsHash === null ? null : newerFunctions(done, functionsHash);
  if (newer)
    throw new MigrationError(
      `the functions of this database are those of pgauth ${newer}, newer than this pgauth (${VERSION}): it does not replace them; run the newer pgauth`,
    );
}

/** A line for an object a functions step dropped: `pgauth.f(integer)`, `trigger t on pgauth.t`. */
function droppedLine(object: string): string {
  return `dropped ${object}: no longer in sql/functions`;
}

/** A line for an object the files no longer make, kept because its row changed. */
function keptLine(object: string): string {
  return `kept ${object}: no longer in sql/functions, but changed since they made it (by a migration, or by hand); drop it if nothing needs it`;
}

export interface MigrateHooks {
  /**
   * Told, once their step has committed, the routines and triggers a functions step dropped
   * (made by the function files when last applied, no longer made by them).
   */
  dropped?(objects: string[]): void;
  /** Likewise, those it kept because their catalog row changed since the files made them. */
  kept?(objects: string[]): void;
}

/**
 * Hooks that add a line to `lines` for each object a functions step dropped or kept, as `pgauth
 * migrate` prints them and `serve` at start.
 */
export function reportTo(lines: string[]): MigrateHooks {
  return {
    dropped: (objects) => lines.push(...objects.map(droppedLine)),
    kept: (objects) => lines.push(...objects.map(keptLine)),
  };
}

/**
 * Applies every pending migration in name order, each in its own transaction, the last one in
 * the same transaction as the functions (unless `functionsDir` is null), which are also applied
 * alone when their files differ from what the database holds; all under a transaction-level
 * advisory lock per step, so that concurrent migrators queue instead of failing. A file that
 * replaces earlier migrations a database has all of is recorded beside them, not run. Refuses to
 * run when an applied file has changed. Returns the names applied.
 */
export async function migrate(
  db: Database,
  dir?: string,
  functionsDir: string | null = FUNCTIONS_DIR,
  hooks: MigrateHooks = {},
): Promise<string[]> {
  const files = await readMigrations(dir);
  const functions = functionsDir === null ? null : await readFunctions(functionsDir);
  const appliedNow: string[] = [];
  for (;;) {
    const step = await db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      await tx.exec(BOOKKEEPING);
      const recorded = await applied(tx);
      const done = resolveReplaced(files, recorded);
      checkUnchanged(files, done, functions?.hash ?? null);
      for (const [name, a] of done) {
        if (!recorded.has(name)) await record(tx, name, a.checksum, a.appliedAt);
      }
      const pending = files.filter((f) => !done.has(f.name));
      const names: string[] = [];
      const next = pending[0];
      if (next) {
        await tx.exec(next.sql);
        // A migration may `set local role`; record it as the migrating user.
        await tx.exec('reset role');
        await record(tx, next.name, next.checksum);
        names.push(next.name);
        if (pending.length > 1) return { names, more: true, dropped: [], kept: [] };
      }
      // After the last migration, in its transaction, or alone when only they changed: the
      // functions. A database never holds the tables of one release and the functions of another.
      const had = recordedFunctions(done);
      if (!functions || (!next && had?.hash === functions.hash)) {
        if (functions && had && compareVersions(had.version, VERSION) < 0) {
          await record(tx, FUNCTIONS, functions.checksum);
        }
        return { names, more: false, dropped: [], kept: [] };
      }
      // create or replace trigger locks its table: wait for a long writer 10 s at most.
      await tx.exec(`set local lock_timeout = '10s'`);
      await makeObjectsTable(tx);
      const before = await objectVersions(tx);
      await tx.exec(functions.sql);
      await tx.exec('reset role');
      const objects = await dropObjectsGone(tx, functions.sql, before);
      await record(tx, FUNCTIONS, functions.checksum);
      names.push(FUNCTIONS);
      return { names, more: false, ...objects };
    });
    appliedNow.push(...step.names);
    if (step.dropped.length > 0) hooks.dropped?.(step.dropped);
    if (step.kept.length > 0) hooks.kept?.(step.kept);
    if (!step.more) return appliedNow;
  }
}

async function record(tx: Queryable, name: string, checksum: string, at?: Date): Promise<void> {
  await tx.query(
    `insert into pgauth.migrations (name, checksum, applied_at) values ($1, $2, coalesce($3, now()))
     on conflict (name) do update set checksum = excluded.checksum, applied_at = excluded.applied_at`,
    [name, checksum, at ?? null],
  );
}

/**
 * What the function files make that `create or replace` cannot take away: routines and triggers
 * of schema pgauth. For each kind: its catalog rows (`key`, how a line and a drop name it; `name`,
 * as a `create` statement of the files does; `v`, `oid ctid`, which any rewrite of the row changes,
 * even by the same transaction, to tell what the files wrote from what ran before them; `rv`, `oid
 * xmin`, the version recorded and compared across runs, which VACUUM FULL and freezing keep;
 * `uses`, a trigger's function), the statements of the files that make one (at the start of a
 * line, so not a name that a comment or a string mentions), and how to drop some.
 */
interface ObjectKind {
  kind: 'routine' | 'trigger';
  catalog: string;
  creates: RegExp;
  drop(keys: string[]): string[];
  /** How a line names one. */
  show(key: string): string;
}

const OBJECT_KINDS: ObjectKind[] = [
  // Triggers first: a trigger depends on its function. Not the copies a trigger of a partitioned
  // table gets on each partition (tgparentid): they go with it.
  {
    kind: 'trigger',
    catalog: `select pg_catalog.format('%I on %s', t.tgname, t.tgrelid::regclass) as key,
        t.tgname::text as name, t.oid::text || ' ' || t.ctid::text as v,
        t.oid::text || ' ' || t.xmin::text as rv, t.tgfoid::regprocedure::text as uses
      from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid
      where c.relnamespace = pg_catalog.to_regnamespace('pgauth') and not t.tgisinternal
        and t.tgparentid = 0`,
    creates: /^\s*create\s+(?:or\s+replace\s+)?(?:constraint\s+)?trigger\s+(\w+)/gim,
    drop: (keys) => keys.map((k) => `drop trigger ${k}`),
    show: (key) => `trigger ${key}`,
  },
  {
    kind: 'routine',
    catalog: `select p.oid::regprocedure::text as key, p.proname::text as name,
        p.oid::text || ' ' || p.ctid::text as v, p.oid::text || ' ' || p.xmin::text as rv,
        null as uses
      from pg_catalog.pg_proc p where p.pronamespace = pg_catalog.to_regnamespace('pgauth')`,
    creates: /^\s*create\s+(?:or\s+replace\s+)?(?:function|procedure)\s+pgauth\.(\w+)/gim,
    // One statement: routines that go together may depend on each other.
    drop: (keys) => [`drop routine ${keys.join(', ')}`],
    show: (key) => key,
  },
];

/**
 * The table of what the function files made, with the version (`oid xmin`) of each one's catalog
 * row as they left it: created (as pgauth_owner, like every table of the schema) by the first
 * functions step of a new database or of one migrated before 0.3.0.
 */
async function makeObjectsTable(tx: Queryable): Promise<void> {
  await tx.exec(`
    set local role pgauth_owner;
    create table if not exists pgauth.migrated_objects (
      kind text not null,
      key text not null,
      version text not null,
      constraint migrated_objects_pkey primary key (kind, key)
    );
    reset role`);
}

/** The `oid ctid` of every routine's and trigger's row in schema pgauth. */
async function objectVersions(tx: Queryable): Promise<Set<string>> {
  const versions = new Set<string>();
  for (const k of OBJECT_KINDS) {
    const r = await tx.query<{ v: string }>(`select v from (${k.catalog}) o`);
    for (const row of r.rows) versions.add(row.v);
  }
  return versions;
}

/**
 * Just after the function files ran, in their transaction: drops every routine and trigger they
 * made when last applied (pgauth.migrated_objects) and did not make now — one taken out of the
 * files, or the old signature of a function whose argument types changed, which `create or
 * replace` leaves in place, still callable, with its grants — then records what they made now.
 * Made by the files: an object of schema pgauth that they name in a `create` statement and whose
 * catalog row was written while they ran (new, or rewritten since `before`, so that what a
 * migration of the same transaction wrote is not theirs). Dropped only as the files left it: one
 * whose row anything rewrote since (a migration that took it over, in this run or an earlier one;
 * an operator's ALTER or GRANT) is kept, and leaves the record. Never touched: an object the
 * record does not name (a migration's, such as pgauth.clock(), an operator's own, any on a
 * database whose record is new). A drop that something depends on (a view, a default) stops the
 * migration, whole, with a MigrationError naming both. Returns what was dropped and what kept.
 */
async function dropObjectsGone(
  tx: Queryable,
  sql: string,
  before: Set<string>,
): Promise<{ dropped: string[]; kept: string[] }> {
  // Keys as text, schema-qualified whatever the session's search path (until commit).
  await tx.exec('set local search_path = pg_catalog, pg_temp');
  const recorded = await tx.query<{ kind: string; key: string; version: string }>(
    'select kind, key, version from pgauth.migrated_objects',
  );
  const kept: string[] = [];
  const made: { kind: string; key: string; rv: string }[] = [];
  const drops: { k: ObjectKind; keys: string[] }[] = [];
  // The functions of the triggers kept: they stay too.
  const stillUsed = new Set<string>();
  for (const k of OBJECT_KINDS) {
    const names = new Set([...sql.matchAll(k.creates)].map((m) => (m[1] as string).toLowerCase()));
    type Row = { key: string; name: string; v: string; rv: string; uses: string | null };
    const rows = (await tx.query<Row>(k.catalog)).rows;
    const now = rows.filter((r) => names.has(r.name) && !before.has(r.v));
    made.push(...now.map((r) => ({ kind: k.kind, key: r.key, rv: r.rv })));
    const madeKeys = new Set(now.map((r) => r.key));
    const was = new Map(
      recorded.rows.filter((r) => r.kind === k.kind).map((r) => [r.key, r.version]),
    );
    // Found through the catalog, never by parsing a key (to_regprocedure raises when an
    // argument's type is gone). As the files left it: the same row, not rewritten since (xmin
    // stays through VACUUM FULL and freezing; ctid does not).
    const gone = rows.filter((r) => was.has(r.key) && !madeKeys.has(r.key));
    const asLeft = (r: Row) => was.get(r.key) === r.rv && !stillUsed.has(r.key);
    drops.push({
      k,
      keys: gone
        .filter(asLeft)
        .map((r) => r.key)
        .sort(),
    });
    for (const r of gone.filter((x) => !asLeft(x))) {
      kept.push(k.show(r.key));
      if (r.uses) stillUsed.add(r.uses);
    }
  }
  if (made.length === 0 && recorded.rows.length > 0) {
    throw new MigrationError(
      `the function files made no function and no trigger (is sql/functions empty?): refusing to drop the ${recorded.rows.length} they made before`,
    );
  }
  const dropped: string[] = [];
  for (const { k, keys } of drops.filter((d) => d.keys.length > 0)) {
    try {
      for (const statement of k.drop(keys)) await tx.exec(statement);
    } catch (err) {
      const e = err as { code?: string; message?: string; detail?: string };
      const detail = e.detail ? ` (${e.detail.replaceAll('\n', '; ')})` : '';
      const hint = e.code === '2BP01' ? '; drop what depends on it in a migration' : '';
      throw new MigrationError(
        `${keys.map(k.show).join(', ')}: no longer made by sql/functions, but not dropped: ${e.message ?? String(err)}${detail}${hint}`,
      );
    }
    dropped.push(...keys.map(k.show));
  }
  await tx.exec('delete from pgauth.migrated_objects');
  await tx.query(
    `insert into pgauth.migrated_objects (kind, key, version)
     select * from unnest($1::text[], $2::text[], $3::text[])`,
    [made.map((m) => m.kind), made.map((m) => m.key), made.map((m) => m.rv)],
  );
  return { dropped, kept: kept.sort() };
}
