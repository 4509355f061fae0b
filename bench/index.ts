/** pgauth benchmarks (docs/benchmarks.md): every figure is a ratio against a baseline measured in
 * the same run, in interleaved rounds, reported as medians with their spread. A missed target is
 * reported, not an error: the exit code is 1 only when a scenario could not run. */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as http from './http.ts';
import * as md from './lib/markdown.ts';
import { type RunContext, round } from './lib/measure.ts';
import { adminQuery, pgbenchVersion } from './lib/pg.ts';
import * as machine from './machine.ts';
import * as peer from './peer/index.ts';
import * as scale from './scale.ts';
import * as sdk from './sdk.ts';
import * as sql from './sql.ts';

type Scenario = { description: string; run(ctx: RunContext): Promise<void> };
/** The scenarios, in the order `npm run bench` runs them. */
const SCENARIOS: Record<string, Scenario> = { sql, http, sdk, machine, peer, scale };
const NAMES = Object.keys(SCENARIOS);
const ROOT = new URL('../', import.meta.url);
const SCRATCH = fileURLToPath(new URL('.bench', ROOT));
const USAGE = `usage: npm run bench [-- [NAME…] [--rounds N] [--seconds S] [--quick] [--write] [--list]]

  --rounds N   rounds of every comparison (default 5; 2 with --quick)
  --seconds S  length of every measured run, in whole seconds (default: the scenario's)
  --quick      short runs: checks that a scenario works; its figures mean little
  --write      then regenerate BENCHMARKS.md from .bench/results-<scenario>.json
               (the scenarios run now, and the last results of the others)

scenarios:
${NAMES.map((n) => `  ${n.padEnd(8)} ${SCENARIOS[n]?.description}`).join('\n')}`;

const load = () => loadavg().map((l) => round(l, 2));
const version = async (path: string) =>
  JSON.parse(await readFile(new URL(path, ROOT), 'utf8').catch(() => '{}')).version ?? null;

/** Where and with what a scenario ran: the figures mean nothing without it. */
async function environment(): Promise<Record<string, unknown>> {
  const names = ['fastify', 'pg', 'better-auth', 'autocannon', '@electric-sql/pglite'];
  const found = await Promise.all(names.map((n) => version(`node_modules/${n}/package.json`)));
  const packages = Object.fromEntries(names.map((n, i) => [n, found[i]]).filter(([, v]) => v));
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const os = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? process.platform;
  const [server] = await adminQuery<{ v: string }>(`select current_setting('server_version') v`);
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const commit = git.status === 0 ? git.stdout.trim() : null;
  return {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    memoryGiB: round(totalmem() / 2 ** 30),
    loadavg: load(),
    versions: {
      os: `${os}, kernel ${release()}`,
      postgres: server?.v ?? null,
      pgbench: await pgbenchVersion().catch(() => null),
      pgauth: await version('package.json'),
      packages,
    },
  };
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const whole = (v?: string) => (v === undefined ? undefined : Number(v));
  const [rounds, seconds] = [whole(values.rounds), whole(values.seconds)];
  const bad = [rounds, seconds].some((n) => n !== undefined && !(n >= 1 && Number.isInteger(n)));
  const unknown = positionals.filter((p) => !NAMES.includes(p));
  if (values.help || values.list) return console.log(USAGE) ?? 0;
  if (bad || unknown.length)
    return console.error(`bad arguments: ${process.argv.slice(2).join(' ')}\n${USAGE}`) ?? 2;
  // Ctrl-C: abort (kills pgbench, servers, load generators), let the scenario drop its databases.
  const abort = new AbortController();
  process.once('SIGINT', () => {
    console.error('\ninterrupted: cleaning up (Ctrl-C again to quit at once)');
    abort.abort(new Error('interrupted'));
    process.once('SIGINT', () => process.exit(130));
  });
  const like = `datname like 'pgauth\\_bench\\_%'`;
  const left = await adminQuery<{ n: string }>(`select datname n from pg_database where ${like}`);
  if (left.length) console.error(`note: databases left by an earlier run: ${left.map((r) => r.n)}`);
  const log = (line: string) => console.error(line);
  const [quick, signal, results] = [values.quick, abort.signal, [] as md.StoredResult[]];
  const cleanups: (() => unknown)[] = [];
  const defer = (cleanup: () => unknown) => void cleanups.push(cleanup);
  const ctx = { scratchDir: SCRATCH, rounds: rounds ?? (quick ? 2 : 5), seconds, quick, log };
  const run = { quick, rounds, measureSeconds: seconds };
  let errors = 0;
  await mkdir(SCRATCH, { recursive: true });
  for (const name of NAMES.filter((n) => !positionals.length || positionals.includes(n))) {
    const [env, started] = [await environment(), Date.now()];
    log(`== ${name}${values.quick ? ' (quick: figures for checking only)' : ''}`);
    let ok = true;
    const failed = (err: unknown) => {
      [errors, ok] = [errors + 1, false];
      log(`!! ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    };
    const result = { comparisons: [], measures: [], resources: [], notes: [] };
    await (SCENARIOS[name] as Scenario).run({ ...ctx, signal, defer, result }).catch(failed);
    // The scenario's servers, processes and databases, the last started first.
    for (const cleanup of cleanups.splice(0).reverse()) {
      await Promise.resolve().then(cleanup).catch(failed);
    }
    if (ok) {
      const took = { ...run, seconds: Math.round((Date.now() - started) / 1000) };
      const environment = { ...env, loadavgAtEnd: load() };
      const stored = { scenario: name, run: took, environment, ...result };
      await writeFile(`${SCRATCH}/results-${name}.json`, `${JSON.stringify(stored, null, 2)}\n`);
      log(`   results: .bench/results-${name}.json`);
      results.push(stored);
    }
    if (abort.signal.aborted) break;
  }
  if (results.length) console.log(`\n${md.summary(results)}`);
  if (values.write && !abort.signal.aborted) {
    const held = await md.readResults(SCRATCH, NAMES);
    await writeFile(new URL('BENCHMARKS.md', ROOT), md.render(held, SCENARIOS));
    log(`BENCHMARKS.md written from the results of ${held.map((r) => r.scenario).join(', ')}`);
  }
  return errors ? 1 : 0;
}

process.exitCode = await main();
