/**
 * pgauth benchmarks. `npm run bench` runs every scenario and prints one summary table;
 * `npm run bench -- NAME…` runs those named. Options: --rounds N, --quick, --list, --write
 * (then regenerate BENCHMARKS.md from the results of every scenario, the last run of each).
 *
 * Every figure is a ratio against a baseline measured in the same run on the same machine, in
 * interleaved rounds, reported as medians with their spread: absolute numbers on a shared machine
 * mean little. Benchmarks are not tests: a missed target is reported, and the exit code stays 0;
 * only an error (a scenario that could not run) exits 1. See docs/benchmarks.md.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { leftoverDatabases } from './lib/db.ts';
import { writeBenchmarks } from './lib/markdown.ts';
import {
  environment,
  type MeasureRow,
  measuresTable,
  type ResourceRow,
  type Row,
  resourcesTable,
  table,
  writeResult,
} from './lib/report.ts';
import type { Scenario } from './lib/scenario.ts';
import { versions } from './lib/versions.ts';

/** The scenarios, in the order `npm run bench` runs them. One line each; modules load lazily. */
const SCENARIOS: Scenario[] = [
  {
    name: 'sql',
    description: 'pgauth.validate vs pgbench -S, pgauth.login vs bare crypt(), over pgbench',
    run: async (ctx) => (await import('./sql.ts')).run(ctx),
  },
  {
    name: 'http',
    description:
      'gateway GET /v1/session vs bare node:http and bare Fastify, autocannon -c 20; login vs crypt()',
    run: async (ctx) => (await import('./http.ts')).run(ctx),
  },
  {
    name: 'sdk',
    description:
      'SDK cached validate/s, revocation propagation, gateway GET /v1/session with its cache',
    run: async (ctx) => (await import('./sdk.ts')).run(ctx),
  },
  {
    name: 'peer',
    description: 'pgauth side by side with Better Auth: session checks and logins over HTTP',
    run: async (ctx) => (await import('./peer.ts')).run(ctx),
  },
  {
    name: 'scale',
    description:
      'validate with 10,000 and 10,000,000 sessions vs pgbench -S, sizes per million, purge_expired()',
    run: async (ctx) => (await import('./scale.ts')).run(ctx),
  },
];

const SCRATCH_DIR = fileURLToPath(new URL('../.bench/', import.meta.url));
const BENCHMARKS_MD = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

function usage(): string {
  return [
    'usage: npm run bench [-- [NAME…] [--rounds N] [--quick] [--write] [--list]]',
    '',
    '  --write  after the run, regenerate BENCHMARKS.md from .bench/results-<scenario>.json',
    '           (the scenarios run now, and the last results of the others)',
    '',
    'scenarios:',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(8)} ${s.description}`),
  ].join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || values.list) {
    console.log(usage());
    return 0;
  }
  const unknown = positionals.filter((p) => !SCENARIOS.some((s) => s.name === p));
  if (unknown.length) {
    console.error(`unknown scenario: ${unknown.join(', ')}\n\n${usage()}`);
    return 2;
  }
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) {
    console.error('--rounds must be a positive integer');
    return 2;
  }
  const selected = positionals.length
    ? SCENARIOS.filter((s) => positionals.includes(s.name))
    : SCENARIOS;

  // Ctrl-C: abort (kills the running pgbench), let the scenario drop its database, then exit.
  // A second Ctrl-C exits at once.
  const abort = new AbortController();
  process.once('SIGINT', () => {
    console.error('\ninterrupted: cleaning up (Ctrl-C again to quit at once)');
    abort.abort(new Error('interrupted'));
    process.once('SIGINT', () => process.exit(130));
  });

  const leftovers = await leftoverDatabases().catch(() => []);
  if (leftovers.length) {
    console.error(
      `note: benchmark databases left by an earlier run (drop them when no benchmark runs): ${leftovers.join(', ')}`,
    );
  }

  const log = (line: string) => console.error(line);
  const rows: Row[] = [];
  const measureRows: MeasureRow[] = [];
  const resourceRows: ResourceRow[] = [];
  const tools = await versions();
  let errors = 0;
  for (const scenario of selected) {
    const env = { ...environment(), versions: tools };
    const started = Date.now();
    log(`== ${scenario.name}${values.quick ? ' (quick: figures for checking only)' : ''}`);
    try {
      const result = await scenario.run({
        scratchDir: SCRATCH_DIR,
        rounds,
        quick: values.quick,
        signal: abort.signal,
        log,
      });
      const path = await writeResult(SCRATCH_DIR, scenario.name, result, env, {
        quick: values.quick,
        rounds,
        seconds: (Date.now() - started) / 1000,
      });
      log(`   results: ${path}`);
      for (const comparison of result.comparisons)
        rows.push({ scenario: scenario.name, comparison });
      for (const measure of result.measures ?? [])
        measureRows.push({ scenario: scenario.name, measure });
      for (const resource of result.resources ?? [])
        resourceRows.push({ scenario: scenario.name, resource });
    } catch (err) {
      errors++;
      log(`!! ${scenario.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      if (abort.signal.aborted) break;
    }
  }

  if (rows.length) {
    console.log(`\n${table(rows)}`);
    console.log(
      '\nratio: median of the per-round ratios pgauth / baseline; pgauth and baseline: medians of the rounds.' +
        '\nresult: pass = median and every round reach the target; pass? = median does, some round did not;' +
        '\nFAIL? = median misses, some round reached it; FAIL = no round did; info = no target, a figure to read.' +
        '\nSpread: ±half the range of the rounds.',
    );
  }
  if (measureRows.length) console.log(`\n${measuresTable(measureRows)}`);
  if (resourceRows.length) console.log(`\n${resourcesTable(resourceRows)}`);
  if (values.write && !abort.signal.aborted) {
    const held = await writeBenchmarks(BENCHMARKS_MD, SCRATCH_DIR, SCENARIOS);
    const earlier = held.filter((name) => !selected.some((s) => s.name === name));
    log(
      `BENCHMARKS.md written: ${held.join(', ') || 'no results'}${earlier.length ? ` (from earlier runs: ${earlier.join(', ')})` : ''}`,
    );
  }
  return errors ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
