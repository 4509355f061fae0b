/** Order statistics of a handful of rounds: medians and spread, never means (one bad round on a
 * noisy machine must not move the figure). */

export interface Summary {
  values: number[];
  median: number;
  min: number;
  max: number;
  /** (max − min) / median, in percent: how far the rounds disagree. */
  spreadPct: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { values: [...values], median: m, min, max, spreadPct: m ? ((max - min) / m) * 100 : 0 };
}

/** Per-round ratios a[i] / b[i]: each pair ran back to back, so they share the machine's mood. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new Error('ratios of series of different lengths');
  return a.map((x, i) => x / (b[i] as number));
}
