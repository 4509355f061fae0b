/** Keyset paging of a list page (users, audit events): a cursor, the trail back, and the buttons. */
import { useState } from 'preact/hooks';

/** Keyset pages: the cursor of the page shown ('' is the first) and the way back and forth. */
export interface KeysetPages {
  cursor: string;
  hasPrevious: boolean;
  /** Back to the first page (a new search or filter). */
  reset(): void;
  previous(): void;
  next(cursor: string): void;
}

export function useKeysetPages(): KeysetPages {
  // The cursors of the pages before this one: Previous pops one.
  const [trail, setTrail] = useState<string[]>([]);
  const [cursor, setCursor] = useState('');
  return {
    cursor,
    hasPrevious: trail.length > 0,
    reset() {
      setTrail([]);
      setCursor('');
    },
    previous() {
      setCursor(trail.at(-1) ?? '');
      setTrail(trail.slice(0, -1));
    },
    next(to) {
      setTrail([...trail, cursor]);
      setCursor(to);
    },
  };
}

/** Previous and Next buttons over keyset pages; Next goes to `next`, when the page named one. */
export function Pager(props: {
  label: string;
  pages: KeysetPages;
  next: string | null | undefined;
}) {
  const { pages, next } = props;
  return (
    <nav class="pager" aria-label={props.label}>
      <button type="button" disabled={!pages.hasPrevious} onClick={pages.previous}>
        Previous page
      </button>
      <button type="button" disabled={!next} onClick={() => next && pages.next(next)}>
        Next page
      </button>
    </nav>
  );
}
