#!/usr/bin/env node
// Writes packages/pgauth/sql/schema.sql: schema pgauth as it stands after every migration, so
// that one file shows today's definition of each table, function, trigger and grant (migrations
// replace functions of earlier ones). It migrates a new database with a random name, dumps it
// with `pg_dump --schema-only --schema=pgauth`, drops it, and normalises the dump so that two
// runs give the same bytes: no version lines, no SET preamble, no \restrict keys.
//
//   npm run schema                  regenerate the file
//   npm run schema -- --check       exit 1, saying so, when the committed file is not what the
//                                   migrations give (for CI); writes nothing
//   --file PATH                     another file to write or check
//   --url URL                       the server (a role that may create databases); default
//                                   PGAUTH_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres
//
// pg_dump is $PG_DUMP, else /usr/lib/postgresql/<server major>/bin/pg_dump, else on PATH. The
// migrations run through the built packages (npm run build; npm ci builds them).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';

const DEFAULT_FILE = fileURLToPath(new URL('../packages/pgauth/sql/schema.sql', import.meta.url));

const { values: args } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    file: { type: 'string', default: DEFAULT_FILE },
    url: {
      type: 'string',
      default:
        process.env.PGAUTH_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});

function fail(message) {
  console.error(`schema: ${message}`);
  process.exit(1);
}

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: args.url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function pgDump(serverMajor) {
  const candidates = [
    process.env.PG_DUMP,
    `/usr/lib/postgresql/${serverMajor}/bin/pg_dump`,
    'pg_dump',
  ].filter(Boolean);
  const path = candidates.find((c) => c === 'pg_dump' || existsSync(c));
  const { stdout } = await promisify(execFile)(path, ['--version']).catch((err) =>
    fail(`cannot run ${path} (set PG_DUMP): ${err.message}`),
  );
  const major = Number(/(\d+)(?:\.\d+)?/.exec(stdout)?.[1]);
  return { path, major };
}

async function migrateAndDump() {
  let major;
  try {
    const r = await adminQuery(
      `select current_setting('server_version_num')::int / 10000 as major`,
    );
    major = r.rows[0].major;
  } catch (err) {
    fail(`cannot reach PostgreSQL at ${args.url}: ${err.message}`);
  }
  const dump = await pgDump(major);
  let migrate;
  let openPostgres;
  try {
    ({ migrate } = await import('../packages/pgauth/dist/migrate.js'));
    ({ openPostgres } = await import('@pgauth/client/internal'));
  } catch (err) {
    fail(`the packages are not built (run npm run build): ${err.message}`);
  }
  const name = `pgauth_schema_${randomBytes(6).toString('hex')}`;
  const url = withDatabase(args.url, name);
  await adminQuery(`create database ${name}`);
  try {
    const db = openPostgres({ connectionString: url, max: 1 });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    const { stdout } = await promisify(execFile)(
      dump.path,
      ['--schema-only', '--schema=pgauth', '--dbname', url],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    return { text: stdout, serverMajor: major, dumpMajor: dump.major };
  } finally {
    await adminQuery(`drop database if exists ${name} with (force)`);
  }
}

/** The dump without what varies between runs and versions, and with a header saying what it is. */
function normalise({ text, dumpMajor }) {
  const kept = text
    .split('\n')
    .filter(
      (line) =>
        !/^-- (Dumped from database version|Dumped by pg_dump version) /.test(line) &&
        !/^-- PostgreSQL database dump( complete)?$/.test(line) &&
        !/^\\(un)?restrict /.test(line) &&
        !/^SET [a-z_]+ = /.test(line) &&
        line !== "SELECT pg_catalog.set_config('search_path', '', false);",
    )
    .map((line) => line.replace(/\s+$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
    // the empty comment blocks left of the banners
    .replace(/^(--\n)+/, '')
    .replace(/(\n--)+$/, '')
    .trim();
  const header = [
    '-- GENERATED FILE: do not edit, and never apply it. npm run schema writes it.',
    '--',
    '-- Schema pgauth as it stands after every migration of sql/migrations/, for reading: later',
    '-- migrations replace functions of earlier ones, and this file shows what is current. The',
    '-- migrations are what creates and upgrades a database; this file is not.',
    '--',
    `-- Made by pg_dump ${dumpMajor} --schema-only --schema=pgauth of a freshly migrated database,`,
    '-- without version lines and SET preamble: no rows (no settings, roles or common passwords),',
    '-- and no extension (pgcrypto, which 0001 installs in pgauth, is not listed).',
    '-- After adding a migration: npm run schema. CI runs npm run schema -- --check.',
  ].join('\n');
  return `${header}\n\n${kept}\n`;
}

function firstDifference(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) {
      return `line ${i + 1}:\n  committed: ${x[i] ?? '(end of file)'}\n  generated: ${y[i] ?? '(end of file)'}`;
    }
  }
  return null;
}

const dumped = await migrateAndDump();
const schema = normalise(dumped);
if (args.check) {
  let committed;
  try {
    committed = readFileSync(args.file, 'utf8');
  } catch {
    fail(`${args.file} is missing: run npm run schema and commit it`);
  }
  const diff = firstDifference(committed, schema);
  if (diff) {
    const made = /^-- Made by pg_dump (\d+) /m.exec(committed)?.[1];
    const versions =
      made && Number(made) !== dumped.dumpMajor
        ? ` (the file was made with pg_dump ${made}, this run used ${dumped.dumpMajor}: set PG_DUMP to a pg_dump ${made})`
        : '';
    fail(
      `${args.file} is not what the migrations give${versions}. Run npm run schema and commit the result. First difference at ${diff}`,
    );
  }
  console.log(`schema: ${args.file} is up to date`);
} else {
  writeFileSync(args.file, schema);
  console.log(`schema: wrote ${args.file}`);
}
