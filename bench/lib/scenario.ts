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
  /** The median per-round ratio must reach this. */
  target: number;
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

export interface ScenarioResult {
  comparisons: Comparison[];
  /** Figures without a baseline (sizes, durations), listed after the comparisons. */
  measures?: Measure[];
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

export type Verdict = 'pass' | 'pass?' | 'FAIL?' | 'FAIL';

/**
 * pass: the median ratio reaches the target and so does every round. pass?: the median does but
 * some round did not. FAIL?: the median misses but some round reached it. FAIL: no round did.
 */
export function verdict(c: Comparison): Verdict {
  const { median, min, max } = c.result.ratio;
  if (median >= c.target) return min >= c.target ? 'pass' : 'pass?';
  return max >= c.target ? 'FAIL?' : 'FAIL';
}
