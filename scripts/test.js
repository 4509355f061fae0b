#!/usr/bin/env node
// Runs the suite on both engines at once: PostgreSQL (required: the run fails when it cannot be
// reached) and the embedded PGlite. PGAUTH_TEST_ENGINES=pglite (or =postgres) runs one engine;
// extra arguments go to node's test runner (a file or folder to run alone, --test-name-pattern …).
// Builds the packages first, unless nothing changed since the last build: the CLI and the
// gateway run as processes from the compiled code.
// A test database on PostgreSQL is a copy of a template migrated once per run (dropped at the end);
// on PGlite, a copy of a migrated data folder kept under .test-cache/ (test/helpers/db.ts).
//
// Each test file is bundled first (with the repository's code it imports, from source; packages
// from node_modules stay imports), and runs as a process of its own, once per engine,
// PGAUTH_TEST_JOBS of them at a time (default 4), the files that took longest last time first
// (their times are kept in .test-cache/test-durations.json), so that no long file starts last. A
// file's output is printed as one block when it ends, under a line naming its engine, counts and
// time; the slowest files follow, then one line `N passed, N failed, N skipped`. A run in which
// no test ran on any engine (a pattern that matches nothing) fails.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import pg from 'pg';

/** The engines the suite knows, all of them run unless PGAUTH_TEST_ENGINES names some. */
const ENGINES = ['postgres', 'pglite'];
const engines = (process.env.PGAUTH_TEST_ENGINES ?? ENGINES.join(',')).split(',').filter(Boolean);
const jobs = Math.max(1, Number(process.env.PGAUTH_TEST_JOBS ?? 4) || 4);
const adminUrl =
  process.env.PGAUTH_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DURATIONS = '.test-cache/test-durations.json';

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
// A file runs as a process of its own: the runner's own concurrency means nothing there.
const options = args.filter((a) => !paths.includes(a) && !a.startsWith('--test-concurrency'));
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

/**
 * The migrated database the test databases of this run are copies of: made by the first file that
 * needs one (test/helpers/db.ts), dropped at the end.
 */
const template = `pgauth_template_${randomBytes(6).toString('hex')}`;

if (
  spawnSync(process.execPath, ['scripts/build.js', '--if-changed'], { stdio: 'inherit' }).status !==
  0
) {
  process.exit(1);
}

/**
 * The test files as plain JavaScript, one file each with all it imports from this repository
 * (test helpers, the packages' sources under the `@pgauth/source` condition), built in one esbuild
 * run: a test process then loads one module and no TypeScript loader. Through tsx, loading took
 * 1.1 of the 2.2 CPU-seconds of a small test file (test/http/request-id.test.ts on PostgreSQL);
 * the suite's CPU fell from 935 to 780-841 seconds with bundles. What comes from node_modules stays an import (one copy, as in
 * production). A module's `import.meta.url`, `dirname` and `filename` are its own source file's,
 * so that what a test finds next to it is where it was. Written under .test-cache/ (packages
 * resolve from there) and removed at the end of the run.
 */
const bundles = join('.test-cache', `bundles-${randomBytes(4).toString('hex')}`);
// Those of a run that was killed outright stay behind: a day later they go.
for (const name of existsSync('.test-cache') ? readdirSync('.test-cache') : []) {
  const old = join('.test-cache', name);
  if (name.startsWith('bundles-') && Date.now() - statSync(old).mtimeMs > 86_400_000) {
    rmSync(old, { recursive: true, force: true });
  }
}

async function bundleTestFiles() {
  const sourceMeta = {
    name: 'source-meta',
    setup(build) {
      // Bare imports other than the workspace's own packages stay imports.
      build.onResolve({ filter: /^[^./]/ }, (args) =>
        /^(@pgauth\/|pgauth(\/|$))/.test(args.path)
          ? undefined
          : { path: args.path, external: true },
      );
      build.onLoad({ filter: /\.tsx?$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        const other = /import\.meta\.(?!url\b|dirname\b|filename\b)\w+/.exec(text);
        if (other) {
          throw new Error(`${other[0]} would answer for the bundle: use import.meta.url instead`);
        }
        return {
          loader: args.path.endsWith('.tsx') ? 'tsx' : 'ts',
          contents: text
            .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
            .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
            .replaceAll('import.meta.filename', JSON.stringify(args.path)),
        };
      });
    },
  };
  try {
    await esbuild.build({
      entryPoints: files,
      outdir: bundles,
      outbase: '.',
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      conditions: ['@pgauth/source'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      // Failures point at the test's own lines (node --enable-source-maps).
      sourcemap: 'inline',
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [sourceMeta],
    });
  } catch (err) {
    for (const e of err.errors ?? [err]) {
      const at = e.location ? `${e.location.file}:${e.location.line}: ` : '';
      console.error(`${at}${e.text ?? e.message}`);
    }
    return false;
  }
  return true;
}

/** The bundle of a test file. */
const bundleOf = (file) => join(bundles, relative('.', resolve(file))).replace(/\.tsx?$/, '.mjs');

/**
 * On the embedded engine, V8 compiles PGlite's WebAssembly with its baseline compiler only: a test
 * file lives seconds, and the optimising compiles it would start cost more CPU than they save
 * (test/sql/validate.test.ts: 5.0 → 3.7 CPU-seconds). The pgauth processes a test starts inherit it
 * (test/helpers/processes.ts).
 */
const LIFTOFF = ['--liftoff-only'];

/**
 * The TMPDIR of the test processes (and of the programs they start): a folder of this run, in
 * memory (/dev/shm) where the machine has one with 2 GiB free, since tests copy and delete a data
 * folder of 44 MB at a time (half the CPU of doing so on disk here). Removed at the end with
 * whatever a test left in it, also when the run is interrupted. World-writable and sticky like
 * /tmp: tests run clusters as the postgres user in it.
 */
function scratchFolder() {
  let root = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK);
    const { bavail, bsize } = statfsSync('/dev/shm');
    if (bavail * bsize >= 2 * 1024 ** 3) root = '/dev/shm';
  } catch {}
  const folder = mkdtempSync(join(root, 'pgauth-test-'));
  chmodSync(folder, 0o1777);
  return folder;
}
const scratch = scratchFolder();
/** Removes what this run wrote: the scratch folder (with whatever a test left in it), the bundles. */
function cleanUp() {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(bundles, { recursive: true, force: true });
}
/** The test processes running now: stopped with the run when it is interrupted. */
const children = new Set();
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGTERM');
    cleanUp();
    process.exit(code);
  });
}

/** Seconds each `engine file` took on the last run that ran it whole; {} at first. */
function readDurations() {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8'));
  } catch {
    return {};
  }
}

/**
 * Runs one file on one engine, its output collected: the counts of its summary, its exit code,
 * its time and its output.
 */
function runFile(engine, file) {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(
      process.execPath,
      [
        ...(engine === 'pglite' ? LIFTOFF : []),
        '--enable-source-maps',
        '--test-reporter=tap',
        ...options,
        bundleOf(file),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          PGAUTH_TEST_ENGINE: engine,
          PGAUTH_TEST_TEMPLATE: template,
          TMPDIR: scratch,
        },
      },
    );
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
      resolve({
        engine,
        file,
        code: code ?? (signal ? 1 : 0),
        signal,
        seconds: (performance.now() - start) / 1000,
        pass: count('pass'),
        // A file that died before its summary failed, whatever it printed.
        fail: count('fail') + (code !== 0 && count('fail') === 0 ? 1 : 0),
        skipped: count('skipped'),
        out,
        err,
      });
    });
  });
}

const before = readDurations();
/**
 * Files that measure time (latency bounds, equal timings, outage and failover windows) say so
 * with a line `// timing-sensitive: <why>` at the top: such a file runs alone, after all the
 * others. Sharing the cores with other files, a "latency within 3 x idle" bound failed now and
 * then (the idle p99 itself 50-65 ms, where alone it is a few ms). A file that measures on some
 * engines only (it needs real connections: it skips everything on PGlite) names them,
 * `// timing-sensitive on postgres: <why>`, and is an ordinary file on the others.
 */
const timedOn = new Map(
  files.flatMap((f) => {
    const text = readFileSync(f, 'utf8');
    const m = /^\/\/ timing-sensitive(?: on ([^:]+))?:/.exec(text);
    const named = m?.[1]?.split(',').map((e) => e.trim());
    const unknown = named?.filter((e) => !ENGINES.includes(e)) ?? [];
    const refuse = (why) => {
      console.error(`${f}: ${why}`);
      cleanUp();
      process.exit(1);
    };
    if (unknown.length) refuse(`timing-sensitive on an unknown engine: ${unknown.join(', ')}`);
    // Anywhere else the marker would be read as an ordinary line and the file left untimed.
    if (!m && /^\/\/ timing-sensitive/m.test(text)) {
      refuse(
        'a timing-sensitive marker must be the first line, `// timing-sensitive[ on <engines>]: <why>`',
      );
    }
    return m ? [[f, named ?? engines]] : [];
  }),
);
const timed = (job) => timedOn.get(job.file)?.includes(job.engine) === true;
// Longest first; a file never timed before goes first of all (it may be long), the larger of
// two such files first (on a fresh clone, size is the only hint there is).
const size = (file) => statSync(file).size;
const queue = engines
  .flatMap((engine) => files.map((file) => ({ engine, file })))
  .map((job) => ({ ...job, weight: timed(job) ? jobs : 1 }))
  .sort(
    (x, y) =>
      Number(timed(x)) - Number(timed(y)) ||
      (before[`${y.engine} ${y.file}`] ?? Number.POSITIVE_INFINITY) -
        (before[`${x.engine} ${x.file}`] ?? Number.POSITIVE_INFINITY) ||
      size(y.file) - size(x.file) ||
      x.file.localeCompare(y.file),
  );

if (!(await bundleTestFiles())) {
  cleanUp();
  process.exit(1);
}

const results = [];
const started = performance.now();
await new Promise((done) => {
  let load = 0;
  let running = 0;
  const dispatch = () => {
    // In queue order; a file that does not fit yet holds back the ones after it, so that the
    // longest files still start first.
    while (queue.length > 0 && load + queue[0].weight <= Math.max(jobs, queue[0].weight)) {
      const job = queue.shift();
      load += job.weight;
      running++;
      void runFile(job.engine, job.file).then((r) => {
        load -= job.weight;
        running--;
        results.push(r);
        const state = r.code === 0 ? 'ok' : `FAILED (exit ${r.signal ?? r.code})`;
        process.stdout.write(
          `\n### ${r.engine} ${r.file}: ${state}, ${r.pass} passed, ${r.fail} failed, ${r.skipped} skipped (${r.seconds.toFixed(1)} s)\n${r.out}`,
        );
        if (r.err) process.stdout.write(`--- stderr of ${r.engine} ${r.file}\n${r.err}`);
        dispatch();
      });
    }
    if (running === 0 && queue.length === 0) done();
  };
  dispatch();
});
const wall = (performance.now() - started) / 1000;
cleanUp();
if (engines.includes('postgres')) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`drop database if exists ${template} with (force)`);
  await client.end();
}

const total = { pass: 0, fail: 0, skipped: 0 };
let failed = false;
for (const r of results) {
  if (r.code !== 0) failed = true;
  total.pass += r.pass;
  total.fail += r.fail;
  total.skipped += r.skipped;
}
// Some folders hold PostgreSQL-only tests (test/topology): nothing on one engine is fine, as
// long as something ran on another.
for (const engine of engines) {
  const ran = results.filter((r) => r.engine === engine).reduce((n, r) => n + r.pass + r.fail, 0);
  if (ran === 0) console.log(`no test ran on ${engine}`);
}
if (total.pass + total.fail === 0) {
  console.error(`no test ran: nothing matched ${args.join(' ') || 'test/'}`);
  failed = true;
}

// Times are kept only from runs of whole files (no pattern), for the order of the next run.
if (!options.some((o) => o.startsWith('--test-name-pattern') || o.startsWith('--test-only'))) {
  const after = { ...before };
  for (const r of results) after[`${r.engine} ${r.file}`] = Math.round(r.seconds * 10) / 10;
  mkdirSync('.test-cache', { recursive: true });
  writeFileSync(DURATIONS, `${JSON.stringify(after, null, 1)}\n`);
}

const slowest = [...results].sort((x, y) => y.seconds - x.seconds).slice(0, 10);
console.log(`\nslowest files (${jobs} at a time, ${wall.toFixed(0)} s in all):`);
for (const r of slowest)
  console.log(`  ${r.seconds.toFixed(1).padStart(6)} s  ${r.engine} ${r.file}`);
for (const r of results.filter((x) => x.code !== 0)) {
  console.log(`failed: ${r.engine} ${r.file}`);
}
console.log(`\n${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped`);
process.exit(failed ? 1 : 0);
