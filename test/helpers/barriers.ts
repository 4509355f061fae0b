/**
 * Barriers for tests of concurrent calls (PostgreSQL only): the calls are made to overlap, and
 * the overlap is proven from the server's own view (pg_stat_activity), never assumed after a
 * sleep.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, Queryable } from '../../packages/client/src/db/types.ts';
import type { TestDatabase } from './db.ts';

/** The longest a barrier waits for the calls to arrive. */
const ARRIVAL_MS = 20_000;

/**
 * Waits until `count` backends of this database wait on a lock while running a statement that
 * contains `statement`; fails after ARRIVAL_MS, naming how many did.
 */
export async function waitForLockWaiters(
  db: Queryable,
  count: number,
  statement: string,
): Promise<void> {
  const deadline = Date.now() + ARRIVAL_MS;
  for (;;) {
    const r = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
       where datname = current_database() and wait_event_type = 'Lock'
         and strpos(query, $1) > 0`,
      [statement],
    );
    const n = r.rows[0]?.n ?? 0;
    if (n >= count) return;
    assert.ok(
      Date.now() < deadline,
      `only ${n} of ${count} calls of ${statement} reached the lock`,
    );
    await sleep(10);
  }
}

/**
 * Runs the calls `start` makes so that they all proceed from one instant: a transaction of its
 * own locks the rows `lockSql` selects FOR UPDATE, `start` sends the calls (each of which must
 * need one of those rows), and once all of them wait on the lock the transaction commits.
 * Resolves with the outcome of every call.
 */
export async function releaseTogether<T>(
  t: TestDatabase,
  lock: { sql: string; params: unknown[] },
  statement: string,
  start: () => Promise<T>[],
): Promise<PromiseSettledResult<T>[]> {
  let calls: Promise<T>[] = [];
  const held = t.db.transaction(async (tx) => {
    await tx.query(lock.sql, lock.params);
    calls = start();
    await waitForLockWaiters(t.db, calls.length, statement);
  });
  const [released] = await Promise.allSettled([held]);
  const outcomes = await Promise.allSettled(calls);
  if (released.status === 'rejected') throw released.reason;
  return outcomes;
}

/**
 * Makes the pool of `db` hold `n` connections at once (each in a transaction that waits until all
 * n are open), so that calls made next do not wait for a connection to be established. `n` must
 * not exceed the pool's size; past ARRIVAL_MS it fails.
 */
export async function openConnections(db: Database, n: number): Promise<void> {
  let opened = 0;
  /** How many were open together when they were let go: n, unless the wait timed out. */
  let together = -1;
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = () => {
      if (together < 0) together = opened;
      resolve();
    };
  });
  const timer = setTimeout(release, ARRIVAL_MS);
  try {
    await Promise.all(
      Array.from({ length: n }, () =>
        db.transaction(async (tx) => {
          await tx.query('select 1');
          if (++opened === n) release();
          await released;
        }),
      ),
    );
  } finally {
    clearTimeout(timer);
  }
  assert.equal(together, n, `the pool held only ${together} of ${n} connections at once`);
}
