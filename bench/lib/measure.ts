/** How figures become comparisons: the sides of a group run once a round in interleaved rounds;
 * each row compares two of them by the medians of their rounds and the median of the per-round
 * ratios pgauth / baseline, against its target. Medians, never means: one bad round on a noisy
 * machine must not move a figure. */
import { measure } from 'mitata';

export type RunContext = {
  scratchDir: string;
  /** --rounds, or 5 (2 with --quick). */
  rounds: number;
  quick: boolean;
  /** --seconds: the length of every measured run instead of the scenario's. */
  seconds?: number;
  /** Aborted on Ctrl-C: child processes die with it, and the scenario cleans up. */
  signal: AbortSignal;
  log(line: string): void;
  /** Cleans up after the scenario, done or failed: the last registered first (servers stop
   * before the database they use is dropped). */
  defer(cleanup: () => unknown): void;
  /** What the scenario found: measureGroup adds its comparisons, an HTTP side its server's
   * resource use, the scenario its measures and notes. */
  result: Required<ScenarioResult>;
};
/** A scenario's measured runs and warm-ups (s), and the settings that record them. */
export type Timing = { seconds: number; warmup: number };
export function timing(ctx: RunContext, full: number, quick: number, warm = 3, quickWarm = 1) {
  const seconds = ctx.seconds ?? (ctx.quick ? quick : full);
  const warmup = ctx.quick ? quickWarm : warm;
  const runs = { durationSeconds: seconds, rounds: ctx.rounds, warmupSeconds: warmup };
  return { seconds, warmup, runs };
}

/** Calls a second of `call` over `seconds` of CPU time, measured by mitata: it times calls in
 * batches of thousands, so that reading the clock weighs nothing on calls of ~100 ns. */
export async function callsPerSecond(call: () => unknown, seconds: number): Promise<number> {
  return 1e9 / (await measure(call, { min_cpu_time: seconds * 1e9 })).avg;
}

/** The rounds of a side; spreadPct = (max − min) / median, in percent. */
type Summary = { values: number[]; median: number; min: number; max: number; spreadPct: number };
export type Settings = Record<string, string | number | boolean>;
/** A row of every table; target null: a figure to read the others by, verdict 'info'. */
export type Comparison = {
  name: string;
  unit: string;
  pgauth: Summary & { label: string };
  baseline: Summary & { label: string };
  ratio: Summary;
  target: number | null;
  verdict: string;
  settings: Settings;
  commands?: { pgauth: string; baseline: string };
};
/** A figure without a baseline (a size, a duration). */
export type Measure = { name: string; value: number; unit: string; detail: string };
/** A server process under a load: CPU ms per 1,000 requests, RSS after it. */
export type Resource = { process: string; load: string; cpuMsPer1000?: number; rssMiB?: number };
/** `notes`: what a reader of the figures must know about this run. */
export type ScenarioResult = {
  comparisons: Comparison[];
  measures?: Measure[];
  resources?: Resource[];
  notes?: string[];
};

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const [m, min, max] = [median(values), Math.min(...values), Math.max(...values)];
  return { values: [...values], median: m, min, max, spreadPct: m ? ((max - min) / m) * 100 : 0 };
}

/** The per-round ratios a / b as settings `<name><median>`, `<name>Min`, `<name>Max`. */
export function ratioSettings(a: number[], b: number[], name: string, median = 'Median') {
  const r = summarize(a.map((x, i) => x / (b[i] as number)));
  const [mid, min, max] = [r.median, r.min, r.max].map((x) => round(x, 3));
  return { [`${name}${median}`]: mid, [`${name}Min`]: min, [`${name}Max`]: max };
}

/** The p-th percentile by the nearest rank: a value that occurred (p 0: the lowest). */
export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1] as number;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
/** 10,000,000: a count as the text prints it. */
export const count = (n: number) => n.toLocaleString('en-US');

/** 31,515 · 633 · 21.8 · 0.80: a figure as the tables print it. */
export function formatFigure(n: number): string {
  if (n >= 1000) return count(Math.round(n));
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** A side of a group: `run` is one measured run and returns its figure, after one unmeasured
 * `warm` run; `command` is what it runs, for the record; `after` the rounds gives settings for
 * its rows. */
export type Side = {
  label: string;
  command: string;
  run(): Promise<number>;
  warm?(): Promise<unknown>;
  after?(): Promise<Settings>;
};

/** Two sides of a group compared: the row's name, the sides' indexes and what each is, its
 * target (none: verdict 'info'), settings on top of the group's and both sides' (or made of every
 * side's rounds and settings). `absolute`: a target figure shown as the baseline of every round
 * (the baseline side goes to the settings only); the ratio is figure / target, or target /
 * figure when `lower` is better (a latency), so that ≥ 1 meets it either way. */
export type Row = [
  name: string,
  pgauth: [side: number, label: string],
  baseline: [side: number, label: string],
  target?: number,
  settings?: Settings | ((values: number[][], sides: Settings[]) => Settings),
  absolute?: { value: number; lower?: boolean },
];

/** pass: the median ratio and every round reach the target; pass?: the median does, some round
 * did not; FAIL?: the median misses, some round reached it; FAIL: no round did. */
function judge(ratio: Summary, target: number | null): string {
  if (target === null) return 'info';
  if (ratio.median >= target) return ratio.min >= target ? 'pass' : 'pass?';
  return ratio.max >= target ? 'FAIL?' : 'FAIL';
}

/** Warms every side up, runs the rounds, adds the rows as comparisons to the scenario's result.
 * The order changes every round so that a drift of the machine (another tenant, a checkpoint, a
 * CPU clocking down) weighs on every side alike: two sides alternate (AB, BA…); more are rotated
 * every other round and reversed every other round. */
export async function measureGroup(
  ctx: RunContext,
  g: { unit: string; sides: Side[]; rows: Row[]; settings: Settings },
) {
  ctx.log(`${g.rows.map((r) => r[0]).join('; ')}: warm-up`);
  for (const side of g.sides) await side.warm?.();
  const [n, rounds, values] = [g.sides.length, ctx.rounds, g.sides.map(() => [] as number[])];
  for (let r = 0; r < rounds; r++) {
    const order = g.sides.map((_, i) => (i + (n > 2 ? Math.floor(r / 2) : 0)) % n);
    for (const i of r % 2 ? order.reverse() : order) {
      ctx.signal.throwIfAborted();
      const side = g.sides[i] as Side;
      values[i]?.push(await side.run());
      const figure = `${formatFigure(values[i]?.at(-1) as number)} ${g.unit}`;
      ctx.log(`  round ${r + 1}/${rounds}  ${side.label.padEnd(28)} ${figure}`);
    }
  }
  const own: Settings[] = [];
  for (const side of g.sides) own.push((await side.after?.()) ?? {});
  const comparisons = g.rows.map((row): Comparison => {
    const [name, [i, mine], [j, theirs], target = null, more, abs] = row;
    const a = values[i] as number[];
    const b = abs ? a.map(() => abs.value) : (values[j] as number[]);
    const lower = (x: number, k: number) => (b[k] as number) / Math.max(x, Number.EPSILON);
    const ratio = summarize(a.map((x, k) => (abs?.lower ? lower(x, k) : x / (b[k] as number))));
    const extra = typeof more === 'function' ? more(values, own) : more;
    const commands = { pgauth: g.sides[i]?.command ?? '', baseline: g.sides[j]?.command ?? '' };
    const settings = { ...g.settings, ...own[i], ...own[j], ...extra };
    const pgauth = { label: mine, ...summarize(a) };
    const baseline = { label: theirs, ...summarize(b) };
    const [unit, verdict] = [g.unit, judge(ratio, target)];
    return { name, unit, pgauth, baseline, ratio, target, verdict, settings, commands };
  });
  ctx.result.comparisons.push(...comparisons);
}
