/** What the pages share besides components: text helpers and hooks. */
import { useEffect, useState } from 'preact/hooks';
import type { UserRow } from '../../../src/rows.ts';
import { isApiError } from '../api.ts';

/** A user as the admin routes send it (the row without the SQL-side `locked` flag). */
export type User = Omit<UserRow, 'locked'>;

export function isLocked(u: User): boolean {
  return (
    u.locked_until === 'infinity' || (!!u.locked_until && Date.parse(u.locked_until) > Date.now())
  );
}

/** An error's text for a person. */
export function messageOf(err: unknown): string {
  return isApiError(err) ? err.message : 'Something went wrong.';
}

/** A time as UTC text, e.g. "2026-12-06 05:40:12 UTC". */
export function when(at: string | null): string {
  if (!at) return '—';
  if (at === 'infinity') return 'until unlocked';
  return `${at.slice(0, 19).replace('T', ' ')} UTC`;
}

/** A datetime-local value (taken as UTC) as RFC 3339. */
export function utc(local: string): string | null {
  return local ? `${local.length === 16 ? `${local}:00` : local}Z` : null;
}

/** "a, b ,c" as ["a", "b", "c"]. */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
}

export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · pgauth console`;
  }, [title]);
}

export interface StatusText {
  text: string;
  error: boolean;
}

/**
 * The actions of a page: `act` runs one, then says `done` and counts up `version` (the page's
 * reads depend on it, so they run again), or says what went wrong.
 */
export function useActions() {
  const [status, setStatus] = useState<StatusText>({ text: '', error: false });
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((n) => n + 1);
  const act = async (done: string, call: () => Promise<unknown>): Promise<void> => {
    try {
      await call();
      setStatus({ text: done, error: false });
      reload();
    } catch (err) {
      setStatus({ text: messageOf(err), error: true });
    }
  };
  return { status, setStatus, version, reload, act };
}

/**
 * The text fields (inputs and selects) of a form: their values, `field(name)`, the props that
 * bind a field to one (its id is `<prefix>-<name>`, or `<name>` without a prefix, for the label's
 * `for`), and `set(name, value)`.
 */
export function useForm<F extends Record<string, string>>(initial: F, prefix?: string) {
  const [form, setForm] = useState(initial);
  const set = (name: keyof F & string, value: string) =>
    setForm((now) => ({ ...now, [name]: value }));
  const field = (name: keyof F & string) => ({
    id: prefix ? `${prefix}-${name}` : name,
    value: form[name],
    onInput: (e: Event) =>
      set(name, (e.currentTarget as HTMLInputElement | HTMLSelectElement).value),
  });
  return { form, field, set, reset: () => setForm(initial) };
}
