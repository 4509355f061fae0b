/** What a scenario module gets and gives back. */
import type { Paired } from './rounds.ts';

export interface RunContext {
  /** Scratch folder (.bench/ at the repository root): scripts, logs, result files. */
  scratchDir: string;
  /** Overrides the scenario's number of rounds per comparison. */
  rounds?: number;
  /** Shorter runs, for checking that a scenario works at all; its figures mean little. */
  quick: boolean;
  /** Aborted on Ctrl-C: stop at the next step and clean up. */
  signal: AbortSignal;
  /** Progress lines (stderr). */
  log(line: string): void;
}

/** One comparison: a pgauth figure against a baseline measured in the same run. */
export interface Comparison {
  /** Short name of what is compared, e.g. 'validate vs pgbench -S'. */
  name: string;
  /** Unit of both figures, e.g. 'tps'. */
  unit: string;
  pgauthLabel: string;
  baselineLabel: string;
  result: Paired;
  /**
   * The median per-round ratio must reach this. None: a figure to read next to the others (a
   * second baseline, for scale), reported with the verdict 'info' and never a pass or a fail.
   */
  target?: number;
  /** How it was run: clients, duration, rounds, … (printed in docs and kept in the JSON). */
  settings: Record<string, string | number | boolean>;
  /** The pgbench command lines or queries of both sides. */
  commands?: { pgauth: string; baseline: string };
  /**
   * The chart of BENCHMARKS.md its bars go to, named by what they count (e.g. 'validations/s');
   * by default one is chosen from its name and unit (bench/lib/markdown.ts).
   */
  chart?: string;
}

/** A figure with neither baseline nor target (a size, a duration): reported as measured. */
export interface Measure {
  name: string;
  value: number;
  /** e.g. 'MiB', 's'. */
  unit: string;
  /** How it was measured, or what it is made of; one line. */
  detail?: string;
}

/** What one server process used under one load of a run: a row of the table of resource use. */
export interface Resource {
  /** Which process: 'pgauth gateway', 'bare node:http', 'bare Fastify', 'Better Auth'. */
  process: string;
  /** The load it served, e.g. 'GET /v1/session, no cache, autocannon -c 20'. */
  load: string;
  /** CPU time (user + system) per 1,000 requests served, ms: the median of the rounds. */
  cpuMsPer1000?: number;
  /** Resident set size after the load, MiB. */
  rssMiB?: number;
}

export interface ScenarioResult {
  comparisons: Comparison[];
  /** Figures without a baseline (sizes, durations), listed after the comparisons. */
  measures?: Measure[];
  /** CPU and memory of every server process that took load (scenarios with servers only). */
  resources?: Resource[];
  /** What a reader of the figures must know about this run (scaled down, a caveat), one each. */
  notes?: string[];
  /** Anything else worth keeping in the JSON file (server version, setup times, …). */
  info?: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  /** One line for --list. */
  description: string;
  run(ctx: RunContext): Promise<ScenarioResult>;
}

export type Verdict = 'pass' | 'pass?' | 'FAIL?' | 'FAIL' | 'info';

/**
 * pass: the median ratio reaches the target and so does every round. pass?: the median does but
 * some round did not. FAIL?: the median misses but some round reached it. FAIL: no round did.
 * info: the comparison has no target.
 */
export function verdict(c: Comparison): Verdict {
  const { median, min, max } = c.result.ratio;
  if (c.target === undefined) return 'info';
  if (median >= c.target) return min >= c.target ? 'pass' : 'pass?';
  return max >= c.target ? 'FAIL?' : 'FAIL';
}

/** The target column: '≥ 0.3', or '—' for a comparison without one. */
export function targetText(target: number | null | undefined): string {
  return target === undefined || target === null ? '—' : `≥ ${target}`;
}
