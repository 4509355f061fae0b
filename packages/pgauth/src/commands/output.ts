import { InvalidArgumentError } from 'commander';
import type { TimeArg } from '../operations.ts';

/** Prints rows as left-aligned columns under a header; the last column is not padded. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** Prints `key  value` pairs with the keys aligned. */
export function formatPairs(pairs: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

/** A time as the JSON of a UTC timestamptz gives it, shortened for people: `2025-06-01 10:00:00Z`. */
export function humanTime(value: string | null | undefined, none = '-'): string {
  if (value === null || value === undefined) return none;
  if (value === 'infinity') return 'forever';
  const m = /^(\d{4,}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(value);
  return m ? `${m[1]} ${m[2]}Z` : value;
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Prints `value` as JSON when `json` (the --json flag) is set, else as `human` prints it. */
export function printAs<T>(json: boolean | undefined, value: T, human: (value: T) => void): void {
  if (json) printJson(value);
  else human(value);
}

/** Prints `rows` as a table under `header`, the `cells` of one row a line; `none` when empty. */
export function printTable<T>(
  rows: readonly T[],
  none: string,
  header: readonly string[],
  cells: (row: T) => readonly string[],
): void {
  if (rows.length === 0) {
    console.log(none);
    return;
  }
  for (const line of formatTable(header, rows.map(cells))) console.log(line);
}

const UNITS: Record<string, string> = {
  s: 'seconds',
  m: 'minutes',
  h: 'hours',
  d: 'days',
  w: 'weeks',
};

/**
 * Commander parser for `--until` / `--since`: an ISO 8601 time (`2030-01-31T12:00:00Z`, a date,
 * `infinity`) or a duration `<n>s|m|h|d|w`, which the SQL side adds to or takes from pgauth.clock().
 */
export function parseTimeArg(value: string): TimeArg {
  const v = value.trim();
  const d = /^(\d{1,9})\s*([smhdw])$/i.exec(v);
  if (d) return { interval: `${d[1]} ${UNITS[(d[2] ?? 's').toLowerCase()]}`, at: null };
  if (/^[+-]?infinity$/i.test(v) || !Number.isNaN(Date.parse(v))) return { interval: null, at: v };
  throw new InvalidArgumentError(
    'expected a time (2030-01-31, 2030-01-31T12:00:00Z, infinity) or a duration (30m, 12h, 7d, 2w)',
  );
}

/** Commander parser of a repeatable option: every value given, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Commander parser for a positive integer option. */
export function parsePositiveInt(value: string): number {
  if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < 1) {
    throw new InvalidArgumentError('expected a positive whole number');
  }
  return Number(value);
}
