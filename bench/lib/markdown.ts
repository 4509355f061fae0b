/**
 * BENCHMARKS.md, generated from the result files `.bench/results-<scenario>.json`: the summary of
 * every comparison, the figures without a baseline, bar charts (Mermaid `xychart-beta`), the
 * machine and versions, how to reproduce, then each scenario in detail. A pure function of the
 * results: the only dates in it are the runs' own, so the same results give the same file.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatFigure } from './report.ts';
import { type Measure, type Resource, targetText } from './scenario.ts';
import type { Summary } from './stats.ts';

/** A comparison as writeResult stores it. */
export interface StoredComparison {
  name: string;
  unit: string;
  pgauth: Summary & { label: string };
  baseline: Summary & { label: string };
  ratio: Summary;
  /** null: no target (verdict 'info'). */
  target: number | null;
  verdict: string;
  settings?: Record<string, unknown>;
  commands?: { pgauth: string; baseline: string };
  chart?: string;
}

/** A result file; files written before a field existed lack it. */
export interface StoredResult {
  scenario: string;
  run?: { quick: boolean; rounds: number | null; seconds: number };
  environment: Record<string, unknown>;
  info?: Record<string, unknown>;
  comparisons: StoredComparison[];
  measures?: Measure[];
  resources?: Resource[];
  notes?: string[];
}

export interface ScenarioInfo {
  name: string;
  description: string;
}

/** The result files of these scenarios that exist, in this order. */
export async function readResults(dir: string, names: string[]): Promise<StoredResult[]> {
  const out: StoredResult[] = [];
  for (const name of names) {
    try {
      out.push(JSON.parse(await readFile(join(dir, `results-${name}.json`), 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/** Reads the results and writes the file; returns the scenarios it holds. */
export async function writeBenchmarks(
  path: string,
  dir: string,
  scenarios: ScenarioInfo[],
): Promise<string[]> {
  const results = await readResults(
    dir,
    scenarios.map((s) => s.name),
  );
  await writeFile(path, renderBenchmarks(results, scenarios));
  return results.map((r) => r.scenario);
}

// ---------------------------------------------------------------------------------------------
// Helpers

const cell = (s: unknown): string =>
  String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');

function code(s: string): string {
  return s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``;
}

function tableMd(head: string[], align: ('l' | 'r')[], rows: unknown[][]): string {
  const sep = align.map((a) => (a === 'r' ? '--:' : '---'));
  return [head, sep, ...rows.map((r) => r.map(cell))].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const isQuick = (r: StoredResult): boolean => r.run?.quick ?? r.info?.quick === true;

function spread(c: StoredComparison): string {
  const half = (x: Summary) => (x.spreadPct / 2).toFixed(1);
  return `${c.ratio.min.toFixed(3)}–${c.ratio.max.toFixed(3)}; ±${half(c.pgauth)}%, ±${half(c.baseline)}%`;
}

/** '2026-11-29T09:03:36.346Z' → '2026-11-29 09:03 UTC'. */
function day(iso: unknown): string {
  const s = String(iso ?? '');
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(s) ? `${s.slice(0, 10)} ${s.slice(11, 16)} UTC` : '?';
}

function command(r: StoredResult): string {
  const parts = ['npm run bench --', r.scenario];
  if (isQuick(r)) parts.push('--quick');
  if (r.run?.rounds) parts.push('--rounds', String(r.run.rounds));
  return parts.join(' ');
}

function duration(r: StoredResult): string {
  const s = r.run?.seconds ?? (r.info?.totalSeconds as number | undefined);
  if (typeof s !== 'number') return '?';
  const m = Math.floor(s / 60);
  return m ? `${m} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

function load(r: StoredResult): string {
  const a = r.environment.loadavg as number[] | undefined;
  const b = r.environment.loadavgAtEnd as number[] | undefined;
  return `${a?.[0] ?? '?'} → ${b?.[0] ?? '?'}`;
}

function value(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : String(v);
  return String(v);
}

// ---------------------------------------------------------------------------------------------
// Charts

interface Bar {
  label: string;
  value: number;
}

/** The charts a comparison goes to by default, by what its bars count (the y axis). */
const TITLES: Record<string, string> = {
  'validations/s': 'Validations per second: SQL calls (tps) and HTTP requests',
  'logins/s': 'Logins per second',
  'validations/s in process': 'Validations per second answered in process (SDK cache)',
};

/** Which chart a comparison's bars go to; null: none (latencies, sizes). */
function chartOf(c: StoredComparison): string | null {
  if (c.chart) return c.chart;
  if (!['tps', 'req/s', '/s'].includes(c.unit)) return null;
  if (/login|sign-in/i.test(c.name)) return 'logins/s';
  // In-process figures (the SDK's cache) are a thousand times the rest: a chart of their own.
  if (c.pgauth.median >= 1e6) return 'validations/s in process';
  return 'validations/s';
}

/** 'GET /v1/session, cache, vs bare' → ['GET /v1/session, cache', 'bare']. */
function sideNames(name: string): [string, string] {
  const i = name.indexOf(' vs ');
  if (i < 0) return [name, 'baseline'];
  const trim = (s: string) => s.trim().replace(/,$/, '').trim();
  return [trim(name.slice(0, i)), trim(name.slice(i + 4))];
}

function barsByChart(results: StoredResult[]): Map<string, Bar[]> {
  const charts = new Map<string, Bar[]>();
  for (const r of results) {
    for (const c of r.comparisons) {
      const chart = chartOf(c);
      if (!chart) continue;
      const bars = charts.get(chart) ?? [];
      charts.set(chart, bars);
      const [mine, theirs] = sideNames(c.name);
      const add = (label: string, v: number) => {
        const l = `${r.scenario}: ${label}`.replace(/"/g, "'");
        if (!bars.some((b) => b.label === l)) bars.push({ label: l, value: v });
      };
      add(mine, c.pgauth.median);
      // An absolute target is not a measured baseline: no bar for it.
      if (!c.baseline.label.startsWith('absolute target')) add(theirs, c.baseline.median);
    }
  }
  return charts;
}

/** The smallest 1, 2 or 5 × 10^k at or above n. */
function niceMax(n: number): number {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

function chartMd(axis: string, bars: Bar[]): string {
  const num = (v: number) => (v >= 100 ? String(Math.round(v)) : v.toFixed(2));
  const max = niceMax(Math.max(...bars.map((b) => b.value)));
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${(TITLES[axis] ?? axis).replace(/"/g, "'")}"`,
    `  x-axis [${bars.map((b) => `"${b.label}"`).join(', ')}]`,
    `  y-axis "${axis.replace(/"/g, "'")}" 0 --> ${max}`,
    `  bar [${bars.map((b) => num(b.value)).join(', ')}]`,
    '```',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Sections

function summary(results: StoredResult[]): string {
  const rows = results.flatMap((r) =>
    r.comparisons.map((c) => [
      isQuick(r) ? `${r.scenario} (quick)` : r.scenario,
      c.name,
      `${formatFigure(c.pgauth.median)} ${c.unit}`,
      `${formatFigure(c.baseline.median)} ${c.unit}`,
      c.ratio.median.toFixed(3),
      targetText(c.target),
      c.verdict,
      spread(c),
    ]),
  );
  const out = [
    '## Summary',
    '',
    tableMd(
      ['scenario', 'measure', 'pgauth', 'baseline', 'ratio', 'target', 'result', 'spread'],
      ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'l'],
      rows,
    ),
    '',
    '- **pgauth**, **baseline**: medians of the rounds; **ratio**: median of the per-round ratios',
    '  pgauth / baseline (each round runs both sides back to back).',
    '- **result**: `pass` = the median ratio and every round reach the target; `pass?` = the median',
    '  does, some round did not; `FAIL?` = the median misses, some round reached it; `FAIL` = no',
    '  round did; `info` = the row has no target (a second baseline, to read the others by).',
    '- **spread**: the lowest and highest per-round ratio; ± half the range of each side’s rounds,',
    '  in percent of its median.',
  ];
  const measures = results.flatMap((r) => (r.measures ?? []).map((m) => ({ r, m })));
  if (measures.length) {
    out.push(
      '',
      '### Figures without a baseline',
      '',
      tableMd(
        ['scenario', 'figure', 'value', 'how'],
        ['l', 'l', 'r', 'l'],
        measures.map(({ r, m }) => [
          isQuick(r) ? `${r.scenario} (quick)` : r.scenario,
          m.name,
          `${formatFigure(m.value)} ${m.unit}`,
          m.detail ?? '',
        ]),
      ),
    );
  }
  out.push(...resourceUse(results));
  return out.join('\n');
}

/** The server processes' CPU and memory under each load; empty if no result has any. */
function resourceUse(results: StoredResult[]): string[] {
  const rows = results.flatMap((r) =>
    (r.resources ?? []).map((x) => [
      isQuick(r) ? `${r.scenario} (quick)` : r.scenario,
      x.process,
      x.load,
      x.cpuMsPer1000 === undefined ? '' : formatFigure(x.cpuMsPer1000),
      x.rssMiB === undefined ? '' : formatFigure(x.rssMiB),
    ]),
  );
  // Result files written before resources were recorded keep their figures in the settings of
  // their comparisons only: named, so that a missing scenario is not mistaken for one without
  // servers.
  const older = results
    .filter(
      (r) =>
        r.resources === undefined &&
        r.comparisons.some((c) =>
          Object.keys(c.settings ?? {}).some((k) => /CpuMsPer1000$/.test(k)),
        ),
    )
    .map((r) => `\`${r.scenario}\``);
  if (!rows.length && !older.length) return [];
  const out = ['', '### Resource use', ''];
  if (rows.length) {
    out.push(
      tableMd(
        ['scenario', 'process', 'load', 'CPU ms per 1,000 requests', 'RSS MiB after the load'],
        ['l', 'l', 'l', 'r', 'r'],
        rows,
      ),
      '',
      '- One row per server process and load. **CPU**: user + system time of the process (all its',
      '  threads; `/proc/<pid>/stat`, 10 ms ticks) during a measured round, per 1,000 requests it',
      '  answered; the median of the rounds. The work PostgreSQL does for the requests is not in it:',
      '  neither the validations nor pgauth’s bcrypt (Better Auth’s scrypt runs in its own process).',
      '- **RSS**: `VmRSS` of the process after the last round of that load; blank where not measured.',
    );
  }
  if (older.length) {
    if (rows.length) out.push('');
    out.push(
      `Not in this table: ${older.join(', ')}, whose results were written before it existed (their CPU and RSS figures are in their comparisons' settings below); rerun to fill it.`,
    );
  }
  return out;
}

function charts(results: StoredResult[]): string {
  const out = ['## Charts', ''];
  out.push(
    'One chart per kind of operation (their rates differ by orders of magnitude): the medians of',
    'pgauth’s side and of the baseline or peer of each comparison, each bar named `scenario: side`.',
  );
  for (const [axis, bars] of barsByChart(results)) {
    out.push('', `### ${TITLES[axis] ?? axis}`, '', chartMd(axis, bars));
  }
  const quick = results.filter(isQuick).map((r) => r.scenario);
  if (quick.length) {
    out.push('', `Quick runs (figures that only check the scenario works): ${quick.join(', ')}.`);
  }
  return out.join('\n');
}

/** One value per field if every scenario agrees, else each value with its scenarios. */
function agreed(results: StoredResult[], pick: (r: StoredResult) => unknown): string {
  const by = new Map<string, string[]>();
  for (const r of results) {
    const v = pick(r);
    const key = v === undefined || v === null || v === '' ? 'not recorded' : String(v);
    by.set(key, [...(by.get(key) ?? []), r.scenario]);
  }
  if (by.size === 1) return [...by.keys()][0] ?? '';
  return [...by].map(([v, names]) => `${v} (${names.join(', ')})`).join('; ');
}

function machine(results: StoredResult[]): string {
  const env = (k: string) => (r: StoredResult) => r.environment[k];
  const ver = (k: string) => (r: StoredResult) =>
    (r.environment.versions as Record<string, unknown> | undefined)?.[k];
  const pkgs = (r: StoredResult) => {
    const p = (r.environment.versions as { packages?: Record<string, string> } | undefined)
      ?.packages;
    return p
      ? Object.entries(p)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      : undefined;
  };
  const rows = [
    [
      'CPU',
      agreed(results, (r) => `${r.environment.cpuModel ?? '?'} × ${r.environment.cpus} cores`),
    ],
    ['memory', agreed(results, (r) => `${r.environment.memoryGiB} GiB`)],
    ['OS', agreed(results, ver('os'))],
    ['Node.js', agreed(results, env('node'))],
    ['PostgreSQL server', agreed(results, ver('postgres'))],
    ['pgbench', agreed(results, ver('pgbench'))],
    [
      'pgauth',
      agreed(results, (r) => `${ver('pgauth')(r) ?? '?'}, commit ${r.environment.commit ?? '?'}`),
    ],
    ['packages', agreed(results, pkgs)],
  ];
  const runs = results.map((r) => [
    r.scenario,
    day(r.environment.date),
    r.environment.commit ?? '?',
    isQuick(r) ? 'quick' : 'full',
    load(r),
    duration(r),
    code(command(r)),
  ]);
  return [
    '## Machine and versions',
    '',
    tableMd(['', ''], ['l', 'l'], rows),
    '',
    '## Runs',
    '',
    'Load average: the 1-minute load average of the machine at the start and at the end of the',
    'scenario (on two cores, anything above 2 means something else wanted the CPU too).',
    '',
    tableMd(
      ['scenario', 'date', 'commit', 'mode', 'load average', 'took', 'command'],
      ['l', 'l', 'l', 'l', 'l', 'r', 'l'],
      runs,
    ),
  ].join('\n');
}

function reproduce(): string {
  return [
    '## Reproducing',
    '',
    '```sh',
    'npm ci',
    '# a PostgreSQL server (15 or later) reachable as a superuser, pgbench of the same version on the PATH',
    'export PGAUTH_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres   # the default',
    'npm run bench -- --write            # every scenario, then this file',
    'npm run bench -- http --write       # one scenario; the others keep their last results',
    '```',
    '',
    'Each scenario’s command is in the table above; the exact pgbench and load-generator command',
    'lines of each comparison are in its section below. Every run also keeps its raw figures (every',
    'round) in `.bench/results-<scenario>.json`, from which this file is generated.',
  ].join('\n');
}

function comparisonMd(c: StoredComparison): string {
  const rounds = (x: Summary) => x.values.map((v) => formatFigure(v)).join(', ');
  const out = [
    `### ${c.name}: ${c.verdict} (ratio ${c.ratio.median.toFixed(3)}, ${c.target === null || c.target === undefined ? 'no target' : `target ≥ ${c.target}`})`,
    '',
    tableMd(
      ['side', 'median', 'rounds'],
      ['l', 'r', 'l'],
      [
        [
          `pgauth: ${c.pgauth.label}`,
          `${formatFigure(c.pgauth.median)} ${c.unit}`,
          rounds(c.pgauth),
        ],
        [
          `baseline: ${c.baseline.label}`,
          `${formatFigure(c.baseline.median)} ${c.unit}`,
          rounds(c.baseline),
        ],
        [
          'ratio pgauth / baseline',
          c.ratio.median.toFixed(3),
          c.ratio.values.map((v) => v.toFixed(3)).join(', '),
        ],
      ],
    ),
    '',
    `Spread: ${spread(c)}.`,
  ];
  const settings = Object.entries(c.settings ?? {});
  if (settings.length) {
    out.push('', `Settings: ${settings.map(([k, v]) => `${code(k)} ${value(v)}`).join(' · ')}.`);
  }
  if (c.commands) {
    out.push(
      '',
      `- pgauth: ${code(c.commands.pgauth || '?')}`,
      `- baseline: ${code(c.commands.baseline || '?')}`,
    );
  }
  return out.join('\n');
}

function scenarioMd(r: StoredResult, description: string | undefined): string {
  const out = [`## Scenario \`${r.scenario}\``, ''];
  if (description) out.push(`*${description}.*`, '');
  out.push(
    `Run ${day(r.environment.date)}, commit ${r.environment.commit ?? '?'}, ${isQuick(r) ? 'quick' : 'full'}, ${duration(r)}: ${code(command(r))}. Method: [docs/benchmarks.md](docs/benchmarks.md#scenario-${r.scenario}).`,
  );
  for (const c of r.comparisons) out.push('', comparisonMd(c));
  if (r.measures?.length) {
    out.push(
      '',
      '### Figures without a baseline',
      '',
      tableMd(
        ['figure', 'value', 'how'],
        ['l', 'r', 'l'],
        r.measures.map((m) => [m.name, `${formatFigure(m.value)} ${m.unit}`, m.detail ?? '']),
      ),
    );
  }
  if (r.notes?.length) {
    out.push('', '### Notes', '', ...r.notes.map((n) => `- ${n}`));
  }
  return out.join('\n');
}

export function renderBenchmarks(results: StoredResult[], scenarios: ScenarioInfo[]): string {
  const missing = scenarios.filter((s) => !results.some((r) => r.scenario === s.name));
  const head = [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench -- --write` from .bench/results-<scenario>.json: do not edit by hand. -->',
    '',
    'What pgauth costs on top of the floor that PostgreSQL and Node.js set for the same work on the',
    'same machine. Every figure is paired with a baseline measured in the same run, in interleaved',
    'rounds, and judged by the ratio: on a shared machine absolute figures move by tens of percent',
    'from minute to minute. The method of each scenario, and why it is measured that way:',
    '[docs/benchmarks.md](docs/benchmarks.md).',
  ];
  if (missing.length) {
    head.push(
      '',
      `Not run yet: ${missing.map((s) => `\`${s.name}\``).join(', ')} (\`npm run bench -- ${missing.map((s) => s.name).join(' ')} --write\`).`,
    );
  }
  if (!results.length) return `${head.join('\n')}\n`;
  const body = [
    summary(results),
    charts(results),
    machine(results),
    reproduce(),
    ...results.map((r) => scenarioMd(r, scenarios.find((s) => s.name === r.scenario)?.description)),
  ];
  return `${[head.join('\n'), ...body].join('\n\n')}\n`;
}
