#!/usr/bin/env node
// Runs the whole suite once per engine: PostgreSQL (required: the run fails when it cannot be
// reached) and the embedded PGlite. PGAUTH_TEST_ENGINES=pglite (or =postgres) runs one engine;
// extra arguments go to node's test runner (a file or folder to run alone, --test-name-pattern …).
// Builds the packages first: the CLI and the gateway run as processes from the compiled code.
// A run in which no test ran on any engine (a pattern that matches nothing) fails.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const engines = (process.env.PGAUTH_TEST_ENGINES ?? 'postgres,pglite').split(',').filter(Boolean);
const adminUrl =
  process.env.PGAUTH_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function testFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) =>
    name === 'helpers'
      ? []
      : statSync(join(path, name)).isDirectory() || name.endsWith('.test.ts')
        ? testFiles(join(path, name))
        : [],
  );
}

const args = process.argv.slice(2);
const paths = args.filter(
  (a, i) => !a.startsWith('-') && !/^--test-[a-z-]+$/.test(args[i - 1] ?? ''),
);
const options = args.filter((a) => !paths.includes(a));
const files = (paths.length ? paths : ['test']).flatMap(testFiles).sort();

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

if (spawnSync(process.execPath, ['scripts/build.js'], { stdio: 'inherit' }).status !== 0) {
  process.exit(1);
}

/** Runs the files on one engine, echoing the runner's output; its summary counts. */
function runEngine(engine) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@pgauth/source',
        '--test',
        '--test-reporter=tap',
        '--test-concurrency=2',
        ...options,
        ...files,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PGAUTH_TEST_ENGINE: engine } },
    );
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk).slice(-4096);
    });
    child.on('close', (code) => {
      const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tail)?.[1] ?? 0);
      resolve({ code, pass: count('pass'), fail: count('fail'), skipped: count('skipped') });
    });
  });
}

const total = { pass: 0, fail: 0, skipped: 0 };
let failed = false;
for (const engine of engines) {
  console.log(`\n=== engine: ${engine} ===`);
  const r = await runEngine(engine);
  if (r.code !== 0) failed = true;
  // Some folders hold PostgreSQL-only tests (test/topology): nothing on one engine is fine, as
  // long as something ran on another.
  if (r.pass + r.fail === 0) console.log(`no test ran on ${engine}`);
  total.pass += r.pass;
  total.fail += r.fail;
  total.skipped += r.skipped;
}
if (total.pass + total.fail === 0) {
  console.error(`no test ran: nothing matched ${args.join(' ') || 'test/'}`);
  failed = true;
}
console.log(`\n${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
process.exit(failed ? 1 : 0);
