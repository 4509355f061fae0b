/**
 * Figures judged against a fixed target instead of a baseline (a rate of the SDK's in-memory
 * cache, a propagation delay), and the percentiles they are made of.
 *
 * The summary table has one shape for every comparison — pgauth, baseline, ratio ≥ target — so an
 * absolute target is shown in it as a baseline that equals the target in every round, and the
 * per-round ratio is how far each round went past it: figure / target when higher is better,
 * target / figure when lower is better (a latency). Either way a ratio ≥ 1 meets the target, and
 * the verdict rules (the median, every round) apply unchanged.
 */
import type { Paired } from './rounds.ts';
import { summarize } from './stats.ts';

export function againstTarget(
  figures: readonly number[],
  target: number,
  better: 'higher' | 'lower',
): Paired {
  const ratio = figures.map((f) =>
    better === 'higher' ? f / target : target / Math.max(f, Number.EPSILON),
  );
  return {
    pgauth: summarize(figures),
    baseline: summarize(figures.map(() => target)),
    ratio: summarize(ratio),
  };
}

/** The p-th percentile (0 < p ≤ 100) by the nearest-rank method: a value that occurred. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}
