/**
 * Interleaved rounds of more than two sides, for a scenario that compares two pgauth variants with
 * one baseline measured once per round. The order changes every round: round r runs the sides
 * rotated by ⌊r/2⌋, reversed when r is odd, so that with three sides six rounds run every order
 * once and every side runs first, second and last alike; a drift of the machine weighs on all.
 */
import type { Paired, Side } from './rounds.ts';
import { ratios, summarize } from './stats.ts';

/** Runs `rounds` rounds of every side; returns each side's figures, in the order of `sides`. */
export async function interleaveMany(
  rounds: number,
  sides: readonly Side[],
  options: {
    signal?: AbortSignal;
    log?: (line: string) => void;
    format?: (n: number) => string;
  } = {},
): Promise<number[][]> {
  const figures = sides.map(() => [] as number[]);
  const fmt = options.format ?? ((n: number) => n.toFixed(1));
  const n = sides.length;
  for (let round = 0; round < rounds; round++) {
    const shift = Math.floor(round / 2) % n;
    const order = sides.map((_, i) => (i + shift) % n);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      options.signal?.throwIfAborted();
      const side = sides[i] as Side;
      const figure = await side.run(round);
      (figures[i] as number[]).push(figure);
      options.log?.(`  round ${round + 1}/${rounds}  ${side.label.padEnd(28)} ${fmt(figure)}`);
    }
  }
  return figures;
}

/** Two series of the same rounds as a pgauth / baseline pair (per-round ratios, medians). */
export function pair(pgauth: readonly number[], baseline: readonly number[]): Paired {
  return {
    pgauth: summarize(pgauth),
    baseline: summarize(baseline),
    ratio: summarize(ratios(pgauth, baseline)),
  };
}
