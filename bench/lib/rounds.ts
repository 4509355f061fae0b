/**
 * Interleaved rounds: pgauth, baseline, baseline, pgauth, pgauth, baseline… The order flips every
 * round so that a drift of the machine (another tenant starting, caches warming, the CPU clocking
 * down) weighs on both sides alike instead of always on the second one.
 */
import { ratios, type Summary, summarize } from './stats.ts';

export interface Side {
  label: string;
  /** One measured run; returns its figure (higher is better). */
  run(round: number): Promise<number>;
}

export interface Paired {
  pgauth: Summary;
  baseline: Summary;
  /** Per-round pgauth / baseline. */
  ratio: Summary;
}

export async function interleave(
  rounds: number,
  pgauth: Side,
  baseline: Side,
  options: {
    signal?: AbortSignal;
    log?: (line: string) => void;
    /** Formats a figure for the progress lines. */
    format?: (n: number) => string;
  } = {},
): Promise<Paired> {
  const a: number[] = [];
  const b: number[] = [];
  const fmt = options.format ?? ((n: number) => n.toFixed(1));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [pgauth, baseline] : [baseline, pgauth];
    const got = new Map<Side, number>();
    for (const side of order) {
      options.signal?.throwIfAborted();
      const figure = await side.run(round);
      got.set(side, figure);
      options.log?.(`  round ${round + 1}/${rounds}  ${side.label.padEnd(28)} ${fmt(figure)}`);
    }
    a.push(got.get(pgauth) as number);
    b.push(got.get(baseline) as number);
  }
  return { pgauth: summarize(a), baseline: summarize(b), ratio: summarize(ratios(a, b)) };
}
