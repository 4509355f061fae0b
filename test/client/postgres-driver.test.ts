/**
 * The PostgreSQL driver's pool (packages/client/src/db/postgres.ts), which the gateway, the CLI
 * and the SDK's SQL mode share: which errors cost a connection and which do not.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import type { Database } from '../../packages/client/src/db/types.ts';
import { postgresOnly, useTestDatabase } from '../helpers/db.ts';

const t = useTestDatabase();

/** Runs `fn` on a pool of one connection of its own, given the server process behind it. */
async function onPool(
  options: { queryDeadlineMs?: number },
  fn: (db: Database, pid: number) => Promise<void>,
): Promise<void> {
  assert.ok(t.url, 'a PostgreSQL test database has a URL');
  const db = openPostgres({ connectionString: t.url, max: 1, ...options });
  try {
    await fn(db, await backend(db));
  } finally {
    await db.close();
  }
}

async function backend(db: Database): Promise<number> {
  const r = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
  return r.rows[0]?.pid ?? -1;
}

/** The server process of the first call that succeeds, of up to 50 (-1: none did). */
async function nextBackend(db: Database): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const pid = await backend(db).catch(() => -1);
    if (pid !== -1) return pid;
  }
  return -1;
}

describe('the pool', { skip: postgresOnly }, () => {
  test('an error the server answers to a statement with parameters leaves the connection in the pool', () =>
    onPool({}, async (db, pid) => {
      for (let i = 0; i < 5; i++) {
        await assert.rejects(db.query('select pgauth.find_user($1)', [`nobody-${i}`]), {
          message: 'user_not_found',
        });
        await assert.rejects(db.query('select $1::int', ['not a number']), { code: '22P02' });
      }
      assert.equal(await backend(db), pid, 'the same server connection after 10 errors');
    }));

  test('statements without parameters that fail inside their own transaction leave no failed session behind', () =>
    onPool({}, async (db, pid) => {
      await assert.rejects(db.exec('begin; select 1/0; commit'), { code: '22012' });
      // Kept, the connection would answer every call with 25P02 (current transaction is aborted).
      const after = await backend(db);
      assert.notEqual(after, pid, 'that connection was closed');
      await assert.rejects(db.query("begin; select 'x'::int"), { code: '22P02' });
      assert.equal((await db.query<{ n: number }>('select 1 as n')).rows[0]?.n, 1);
    }));

  test('a connection the server ends during a statement is not handed to the next caller', () =>
    onPool({}, async (db, pid) => {
      // Its failure is taken at once (settled before it is awaited, it would be unhandled).
      const sleeping = db.query('select pg_sleep(5)').then(
        () => null,
        (err: unknown) => err,
      );
      // Waits for the one connection of the pool.
      const waiting = backend(db);
      // Ended once the sleep runs (the first tries may come before it started).
      let ended = false;
      for (const started = performance.now(); !ended && performance.now() - started < 4_000; ) {
        const r = await t.db.query<{ n: number }>(
          `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
           where pid = $1 and state = 'active' and query = 'select pg_sleep(5)'`,
          [pid],
        );
        ended = r.rows[0]?.n === 1;
      }
      assert.ok(ended, 'the statement was ended by the server');
      // 57P01, or the connection's end if pg reads that first.
      assert.ok((await sleeping) instanceof Error, 'the statement failed');
      const next = await waiting;
      assert.ok(next > 0 && next !== pid, 'the waiting call ran on a new connection');
    }));

  test('a connection the server closed is replaced, and the pool goes on', () =>
    onPool({}, async (db, pid) => {
      await t.db.query('select pg_terminate_backend($1)', [pid]);
      // The idle connection learns of its end when it next reads: the pool closes it then, and a
      // call made in that window may fail (unavailable); the ones after get a new connection.
      const after = await nextBackend(db);
      assert.notEqual(after, -1, 'a call succeeds after the connection was closed');
      assert.notEqual(after, pid);
      assert.equal(await backend(db), after);
    }));

  test('a statement past its deadline answers the caller at once; its connection serves again once it ends', () =>
    onPool({ queryDeadlineMs: 200 }, async (db, pid) => {
      await assert.rejects(db.query('select pg_sleep(3)'), { name: 'DeadlineError' });
      const active = await t.db.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
         where pid = $1 and state = 'active' and query = 'select pg_sleep(3)'`,
        [pid],
      );
      assert.equal(active.rows[0]?.n, 1, 'the statement still ran when the caller was answered');
      // The one connection is busy until the sleep ends (a call meanwhile misses its deadline);
      // then it serves again, not closed.
      assert.equal(await nextBackend(db), pid);
    }));
});
