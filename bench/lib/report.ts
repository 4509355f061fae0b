/** The summary table and the JSON result files. */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Comparison, Measure, Resource, ScenarioResult } from './scenario.ts';
import { targetText, verdict } from './scenario.ts';

export function formatFigure(n: number): string {
  if (n >= 1000) return Math.round(n).toLocaleString('en-US');
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export interface Row {
  scenario: string;
  comparison: Comparison;
}

/** A plain-text table, one row per comparison. */
export function table(rows: Row[]): string {
  const head = [
    'scenario',
    'measure',
    'pgauth',
    'baseline',
    'ratio',
    'target',
    'result',
    'spread (ratio range; pgauth, baseline)',
  ];
  const body = rows.map(({ scenario, comparison: c }) => {
    const r = c.result;
    return [
      scenario,
      c.name,
      `${formatFigure(r.pgauth.median)} ${c.unit}`,
      `${formatFigure(r.baseline.median)} ${c.unit}`,
      r.ratio.median.toFixed(3),
      targetText(c.target),
      verdict(c),
      `${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)}; ±${(r.pgauth.spreadPct / 2).toFixed(1)}%, ±${(r.baseline.spreadPct / 2).toFixed(1)}%`,
    ];
  });
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((b) => (b[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i >= 2 && i <= 5 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number),
      )
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export interface MeasureRow {
  scenario: string;
  measure: Measure;
}

/** The figures without a baseline, one row each. */
export function measuresTable(rows: MeasureRow[]): string {
  const head = ['scenario', 'figure', 'value', 'how'];
  const body = rows.map(({ scenario, measure: m }) => [
    scenario,
    m.name,
    `${formatFigure(m.value)} ${m.unit}`,
    m.detail ?? '',
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((b) => (b[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export interface ResourceRow {
  scenario: string;
  resource: Resource;
}

/** CPU and memory of each server process under each load, one row each; blank: not measured. */
export function resourcesTable(rows: ResourceRow[]): string {
  const head = ['scenario', 'process', 'load', 'CPU ms / 1,000 requests', 'RSS MiB after'];
  const body = rows.map(({ scenario, resource: x }) => [
    scenario,
    x.process,
    x.load,
    x.cpuMsPer1000 === undefined ? '' : formatFigure(x.cpuMsPer1000),
    x.rssMiB === undefined ? '' : formatFigure(x.rssMiB),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((b) => (b[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** Where and when it ran: the figures mean nothing without it. */
export function environment(): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    commit: gitCommit(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** How a scenario was run: its command line options and how long it took. */
export interface RunOptions {
  quick: boolean;
  rounds?: number;
  seconds: number;
}

/** Writes .bench/results-<scenario>.json and returns its path. */
export async function writeResult(
  dir: string,
  scenario: string,
  result: ScenarioResult,
  env: Record<string, unknown>,
  run?: RunOptions,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `results-${scenario}.json`);
  const json = {
    scenario,
    run: run && {
      quick: run.quick,
      rounds: run.rounds ?? null,
      seconds: Math.round(run.seconds),
    },
    environment: { ...env, loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    info: result.info ?? {},
    comparisons: result.comparisons.map((c) => ({
      name: c.name,
      unit: c.unit,
      pgauth: { label: c.pgauthLabel, ...c.result.pgauth },
      baseline: { label: c.baselineLabel, ...c.result.baseline },
      ratio: c.result.ratio,
      target: c.target ?? null,
      verdict: verdict(c),
      settings: c.settings,
      commands: c.commands,
      chart: c.chart,
    })),
    measures: result.measures ?? [],
    resources: result.resources ?? [],
    notes: result.notes ?? [],
  };
  await writeFile(path, `${JSON.stringify(json, null, 2)}\n`);
  return path;
}
