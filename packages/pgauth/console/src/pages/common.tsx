/** Small pieces the pages share. */
import type { ComponentChildren } from 'preact';
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

/** Status text read out by screen readers when it changes. */
export function Status(props: { text: string; error?: boolean }) {
  return (
    <p class={props.error ? 'status error' : 'status'} role={props.error ? 'alert' : 'status'}>
      {props.text}
    </p>
  );
}

export function Pager(props: {
  label: string;
  hasPrevious: boolean;
  hasNext: boolean;
  onPrevious: () => void;
  onNext: () => void;
  children?: ComponentChildren;
}) {
  return (
    <nav class="pager" aria-label={props.label}>
      <button type="button" disabled={!props.hasPrevious} onClick={props.onPrevious}>
        Previous page
      </button>
      {props.children}
      <button type="button" disabled={!props.hasNext} onClick={props.onNext}>
        Next page
      </button>
    </nav>
  );
}

/**
 * A destructive action asked twice: the first button only shows the confirm button and a button
 * that keeps things as they are.
 */
export function Confirmed(props: {
  label: string;
  confirm: string;
  keep: string;
  onConfirm: () => Promise<unknown>;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <>
      <button
        type="button"
        class="danger"
        onClick={() => void props.onConfirm().finally(() => setAsking(false))}
      >
        {props.confirm}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        {props.keep}
      </button>
    </>
  );
}
