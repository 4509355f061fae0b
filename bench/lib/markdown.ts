/** BENCHMARKS.md, a function of the result files `.bench/results-<scenario>.json` alone: its only
 * dates are the runs' own, so the same results give the same file, and a diff of BENCHMARKS.md
 * shows what the figures did. Its summary is also what a run prints. */
import { readFile } from 'node:fs/promises';
import type { Comparison, Measure, Resource, ScenarioResult } from './measure.ts';
import { count, formatFigure as f } from './measure.ts';

/** A result file; `run` holds its options and how long it took (s). */
export type StoredResult = ScenarioResult & {
  scenario: string;
  run?: { quick: boolean; rounds?: number | null; measureSeconds?: number | null; seconds: number };
  environment: Record<string, unknown>;
};

/** The result files of these scenarios that exist, in this order. */
export async function readResults(dir: string, names: string[]): Promise<StoredResult[]> {
  const read = (name: string) =>
    readFile(`${dir}/results-${name}.json`, 'utf8').then(JSON.parse, (err) => {
      if (err.code !== 'ENOENT') throw err;
    });
  return (await Promise.all(names.map(read))).filter(Boolean);
}

/** A table: its head as markdown, each column's alignment ('l' or 'r'), its rows. */
function table(head: string, align: string, rows: string[][]): string {
  const rule = `| ${[...align].map((a) => (a === 'r' ? '--:' : '---')).join(' | ')} |`;
  const cells = rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  return [`| ${head} |`, rule, ...cells].join('\n');
}

const code = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);
const quick = (r: StoredResult) => r.run?.quick === true;
const name = (r: StoredResult) => (quick(r) ? `${r.scenario} (quick)` : r.scenario);
/** A ratio; null where the result file has none (JSON writes a division by zero as null). */
const r3 = (n: number | null) => (n === null ? 'n/a' : n.toFixed(3));
const half = (c: Comparison['pgauth']) => `±${(c.spreadPct / 2).toFixed(1)}%`;
const spread = (c: Comparison) =>
  `${r3(c.ratio.min)}–${r3(c.ratio.max)}; ${half(c.pgauth)}, ${half(c.baseline)}`;
const measureRow = (m: Measure) => [m.name, `${f(m.value)} ${m.unit}`, m.detail];
const optional = (n?: number) => (n === undefined ? '' : f(n));
const med = (c: Comparison, k: 'pgauth' | 'baseline') => `${f(c[k].median)} ${c.unit}`;

/** Every comparison, the figures without a baseline, and the resource use of the servers: each a
 * table of every scenario's rows, led by its name. */
export function summary(results: StoredResult[]): string {
  const rows = <T>(items: (r: StoredResult) => T[] | undefined, row: (x: T) => string[]) =>
    results.flatMap((r) => (items(r) ?? []).map((x) => [name(r), ...row(x)]));
  const comparison = (c: Comparison) => {
    const [ratio, target] = [r3(c.ratio.median), c.target === null ? '—' : `≥ ${c.target}`];
    return [c.name, med(c, 'pgauth'), med(c, 'baseline'), ratio, target, c.verdict, spread(c)];
  };
  const use = (x: Resource) => [x.process, x.load, optional(x.cpuMsPer1000), optional(x.rssMiB)];
  const head = 'scenario | measure | pgauth | baseline | ratio | target | result | spread';
  const comparisons = rows((r) => r.comparisons, comparison);
  const out = ['## Summary', '', table(head, 'llrrrrll', comparisons), '', LEGEND];
  const measures = rows((r) => r.measures, measureRow);
  const figures = table('scenario | figure | value | how', 'llrl', measures);
  if (measures.length) out.push('', '### Figures without a baseline', '', figures);
  const resources = rows((r) => r.resources, use);
  const h = 'scenario | process | load | CPU ms per 1,000 requests | RSS MiB after the load';
  if (resources.length) out.push('', '### Resource use', '', table(h, 'lllrr', resources), '', USE);
  return out.join('\n');
}

const LEGEND = `- **pgauth**, **baseline**: medians of the rounds; **ratio**: median of the per-round ratios
  pgauth / baseline (each round runs both sides back to back).
- **result**: \`pass\` = the median ratio and every round reach the target; \`pass?\` = the median
  does, some round did not; \`FAIL?\` = the median misses, some round reached it; \`FAIL\` = no
  round did; \`info\` = the row has no target (a second baseline, to read the others by).
- **spread**: the lowest and highest per-round ratio; ± half the range of each side’s rounds,
  in percent of its median.`;

const USE = `- One row per server process and load. **CPU**: user + system time of the process (all its
  threads; \`/proc/<pid>/stat\`, 10 ms ticks) during a measured round, per 1,000 requests it
  answered; the median of the rounds. The work PostgreSQL does for the requests is not in it:
  neither the validations nor pgauth’s bcrypt (Better Auth’s scrypt runs in its own process).
- **RSS**: resident set of the process after the last round of that load; blank where not measured.`;

/** The charts, by what their bars count (the y axis), and their titles. */
const TITLES: Record<string, string> = {
  'validations/s': 'Validations per second: SQL calls (tps) and HTTP requests',
  'logins/s': 'Logins per second',
  'validations/s in process': 'Validations per second answered in process (SDK cache)',
};
function chartOf(c: Comparison): string | null {
  if (!['tps', 'req/s', '/s'].includes(c.unit)) return null; // latencies, sizes
  if (/login|sign-in/i.test(c.name)) return 'logins/s';
  // In-process figures (the SDK's cache) are a thousand times the rest: a chart of their own.
  return c.pgauth.median >= 1e6 ? 'validations/s in process' : 'validations/s';
}

/** Mermaid bar charts: two bars a comparison, the medians of both sides, named `scenario: side`
 * after its name ('GET /v1/session, cache, vs bare' → 'GET /v1/session, cache' and 'bare'); an
 * absolute target gets no bar, and a bar two comparisons share is drawn once. */
function charts(results: StoredResult[]): string {
  const charts = new Map<string, { label: string; value: number }[]>();
  for (const r of results) {
    for (const c of r.comparisons) {
      const bars = charts.get(chartOf(c) ?? '') ?? [];
      if (chartOf(c)) charts.set(chartOf(c) as string, bars);
      const [mine = '', theirs = 'baseline'] = c.name.split(' vs ').map((s) => s.replace(/,$/, ''));
      const add = (side: string, value: number) => {
        const label = `${r.scenario}: ${side}`.replace(/"/g, "'");
        if (!bars.some((b) => b.label === label)) bars.push({ label, value });
      };
      add(mine, c.pgauth.median);
      if (!c.baseline.label.startsWith('absolute target')) add(theirs, c.baseline.median);
    }
  }
  const out = [
    '## Charts',
    '',
    'One chart per kind of operation (their rates differ by orders of magnitude): the medians of',
    'pgauth’s side and of the baseline or peer of each comparison, each bar named `scenario: side`.',
  ];
  for (const [axis, bars] of charts) {
    // The y axis ends at the smallest 1, 2 or 5 × 10^k at or above the highest bar.
    const top = Math.max(...bars.map((b) => b.value));
    const p = 10 ** Math.floor(Math.log10(top > 0 ? top : 1));
    const max = top > 0 ? ([1, 2, 5, 10].find((k) => k * p >= top) as number) * p : 1;
    const values = bars.map(({ value: v }) => (v >= 100 ? `${Math.round(v)}` : v.toFixed(2)));
    const [title, quote] = [TITLES[axis] ?? axis, (s: string) => `"${s.replace(/"/g, "'")}"`];
    out.push('', `### ${title}`, '', '```mermaid', 'xychart-beta', `  title ${quote(title)}`);
    out.push(`  x-axis [${bars.map((b) => `"${b.label}"`).join(', ')}]`);
    out.push(`  y-axis ${quote(axis)} 0 --> ${max}`, `  bar [${values.join(', ')}]`, '```');
  }
  const some = results.filter(quick).map((r) => r.scenario);
  const note = `Quick runs (figures that only check the scenario works): ${some.join(', ')}.`;
  if (some.length) out.push('', note);
  return out.join('\n');
}

/** '2026-11-29T09:03:36.346Z' → '2026-11-29 09:03 UTC'. */
const day = (iso: unknown) => {
  const s = `${iso}`;
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(s) ? `${s.slice(0, 16).replace('T', ' ')} UTC` : '?';
};

function command(r: StoredResult): string {
  const rounds = r.run?.rounds ? ` --rounds ${r.run.rounds}` : '';
  const seconds = r.run?.measureSeconds ? ` --seconds ${r.run.measureSeconds}` : '';
  return `npm run bench -- ${r.scenario}${quick(r) ? ' --quick' : ''}${rounds}${seconds}`;
}

function took(r: StoredResult): string {
  const s = r.run?.seconds;
  if (typeof s !== 'number') return '?';
  return s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

function machine(results: StoredResult[]): string {
  const ver = (r: StoredResult) => (r.environment.versions ?? {}) as Record<string, unknown>;
  const packages = (r: StoredResult) =>
    Object.entries((ver(r).packages ?? {}) as Record<string, string>).map((e) => e.join(' '));
  /** One value if every scenario's run agrees, else each value with its scenarios. */
  const agreed = (label: string, pick: (r: StoredResult) => unknown) => {
    const by = new Map<string, string[]>();
    for (const r of results) {
      const v = `${pick(r) ?? ''}`;
      by.set(v || 'not recorded', [...(by.get(v || 'not recorded') ?? []), r.scenario]);
    }
    const one = by.size === 1 ? [...by.keys()] : [...by].map(([v, n]) => `${v} (${n.join(', ')})`);
    return [label, one.join('; ')];
  };
  const rows = [
    agreed('CPU', (r) => `${r.environment.cpuModel ?? '?'} × ${r.environment.cpus} cores`),
    agreed('memory', (r) => `${r.environment.memoryGiB} GiB`),
    agreed('OS', (r) => ver(r).os),
    agreed('Node.js', (r) => r.environment.node),
    agreed('PostgreSQL server', (r) => ver(r).postgres),
    agreed('pgbench', (r) => ver(r).pgbench),
    agreed('pgauth', (r) => `${ver(r).pgauth ?? '?'}, commit ${r.environment.commit ?? '?'}`),
    agreed('packages', (r) => packages(r).join(', ')),
  ];
  const first = (loadavg: unknown) => (loadavg as number[] | undefined)?.[0] ?? '?';
  const runs = results.map((r) => {
    const load = `${first(r.environment.loadavg)} → ${first(r.environment.loadavgAtEnd)}`;
    const [commit, mode] = [`${r.environment.commit ?? '?'}`, quick(r) ? 'quick' : 'full'];
    return [r.scenario, day(r.environment.date), commit, mode, load, took(r), code(command(r))];
  });
  return `## Machine and versions

${table(' | ', 'll', rows)}

## Runs

Load average: the 1-minute load average of the machine at the start and at the end of the
scenario (on two cores, anything above 2 means something else wanted the CPU too).

${table('scenario | date | commit | mode | load average | took | command', 'lllllrl', runs)}`;
}

const REPRODUCE = `## Reproducing

\`\`\`sh
npm ci
# a PostgreSQL server (15 or later) reachable as a superuser, pgbench of the same version on the PATH
export PGAUTH_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres   # the default
npm run bench -- --write            # every scenario, then this file
npm run bench -- http --write       # one scenario; the others keep their last results
\`\`\`

Each scenario’s command is in the table above; the exact pgbench and load-generator command
lines of each comparison are in its section below. Every run also keeps its raw figures (every
round) in \`.bench/results-<scenario>.json\`, from which this file is generated.`;

function comparison(c: Comparison): string {
  const target = c.target === null ? 'no target' : `target ≥ ${c.target}`;
  const rounds = (k: 'pgauth' | 'baseline') => c[k].values.map((v) => f(v)).join(', ');
  const side = (k: 'pgauth' | 'baseline') => [`${k}: ${c[k].label}`, med(c, k), rounds(k)];
  const ratio = ['ratio pgauth / baseline', r3(c.ratio.median), c.ratio.values.map(r3).join(', ')];
  const out = [`### ${c.name}: ${c.verdict} (ratio ${r3(c.ratio.median)}, ${target})`, ''];
  out.push(table('side | median | rounds', 'lrl', [side('pgauth'), side('baseline'), ratio]));
  out.push('', `Spread: ${spread(c)}.`);
  const value = (v: unknown) => (Number.isInteger(v) ? count(v as number) : v);
  const settings = Object.entries(c.settings ?? {}).map(([k, v]) => `${code(k)} ${value(v)}`);
  if (settings.length) out.push('', `Settings: ${settings.join(' · ')}.`);
  const command = (k: 'pgauth' | 'baseline') => `- ${k}: ${code(c.commands?.[k] || '?')}`;
  if (c.commands) out.push('', command('pgauth'), command('baseline'));
  return out.join('\n');
}

function scenario(r: StoredResult, description?: string): string {
  const out = [`## Scenario \`${r.scenario}\``, ''];
  if (description) out.push(`*${description}.*`, '');
  const run = `Run ${day(r.environment.date)}, commit ${r.environment.commit ?? '?'}`;
  const method = `[docs/benchmarks.md](docs/benchmarks.md#scenario-${r.scenario})`;
  const mode = quick(r) ? 'quick' : 'full';
  out.push(`${run}, ${mode}, ${took(r)}: ${code(command(r))}. Method: ${method}.`);
  for (const c of r.comparisons) out.push('', comparison(c));
  const measures = table('figure | value | how', 'lrl', (r.measures ?? []).map(measureRow));
  if (r.measures?.length) out.push('', '### Figures without a baseline', '', measures);
  if (r.notes?.length) out.push('', '### Notes', '', ...r.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

/** BENCHMARKS.md from the results of the registered scenarios that have any. */
export function render(
  results: StoredResult[],
  scenarios: Record<string, { description: string }>,
) {
  const missing = Object.keys(scenarios).filter((n) => !results.some((r) => r.scenario === n));
  const rerun = code(`npm run bench -- ${missing.join(' ')} --write`);
  const notRun = `\n\nNot run yet: ${missing.map(code).join(', ')} (${rerun}).`;
  const head = `# Benchmarks

<!-- Generated by \`npm run bench -- --write\` from .bench/results-<scenario>.json: do not edit by hand. -->

What pgauth costs on top of the floor that PostgreSQL and Node.js set for the same work on the
same machine. Every figure is paired with a baseline measured in the same run, in interleaved
rounds, and judged by the ratio: on a shared machine absolute figures move by tens of percent
from minute to minute. The method of each scenario, and why it is measured that way:
[docs/benchmarks.md](docs/benchmarks.md).${missing.length ? notRun : ''}`;
  if (!results.length) return `${head}\n`;
  const sections = results.map((r) => scenario(r, scenarios[r.scenario]?.description));
  const all = [head, summary(results), charts(results), machine(results), REPRODUCE, ...sections];
  return `${all.join('\n\n')}\n`;
}
