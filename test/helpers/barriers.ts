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
 * Makes `n` copies of `call` proceed from one instant, each on a connection of its own (a pool
 * of n): a transaction locks one row of pgauth.<table> FOR UPDATE, the calls are sent (each of
 * them must need that row, in a statement that contains `statement`), and once all of them wait
 * on the lock the transaction commits. Resolves with the outcome of every call.
 */
export async function releaseTogether<T>(
  t: TestDatabase,
  row: { table: 'users' | 'sessions'; id: string },
  statement: string,
  n: number,
  call: (pool: Database) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const pool = t.connect({ max: n });
  let calls: Promise<T>[] = [];
  const held = t.db.transaction(async (tx) => {
    await tx.query(`select 1 from pgauth.${row.table} where id = $1 for update`, [row.id]);
    calls = Array.from({ length: n }, () => call(pool));
    await waitForLockWaiters(t.db, n, statement);
  });
  const [released] = await Promise.allSettled([held]);
  const outcomes = await Promise.allSettled(calls);
  await pool.close();
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
