#!/usr/bin/env node
// Runs the whole suite once per engine: PostgreSQL (required: the run fails when it cannot be
// reached) and the embedded PGlite. PGAUTH_TEST_ENGINES=pglite (or =postgres) runs one engine;
// extra arguments are passed to node's test runner, e.g. a file to run alone.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const engines = (process.env.PGAUTH_TEST_ENGINES ?? 'postgres,pglite').split(',').filter(Boolean);
const adminUrl =
  process.env.PGAUTH_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'helpers' ? [] : testFiles(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const files = args.some((a) => !a.startsWith('-')) ? [] : testFiles('test').sort();

if (engines.includes('postgres')) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.end();
  } catch (err) {
    console.error(
      `PostgreSQL is required for the tests and cannot be reached at ${adminUrl}: ${err.message}`,
    );
    console.error(
      'Start it (see README), set PGAUTH_TEST_DATABASE_URL, or run PGAUTH_TEST_ENGINES=pglite npm test.',
    );
    process.exit(1);
  }
}

// The CLI and gateway run as processes from the compiled packages: build them from the sources first.
if (spawnSync(process.execPath, ['scripts/build.js'], { stdio: 'inherit' }).status !== 0)
  process.exit(1);

let failed = false;
for (const engine of engines) {
  console.log(`\n=== engine: ${engine} ===`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@pgauth/source',
      '--test',
      '--test-concurrency=2',
      ...args,
      ...files,
    ],
    { stdio: 'inherit', env: { ...process.env, PGAUTH_TEST_ENGINE: engine } },
  );
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
