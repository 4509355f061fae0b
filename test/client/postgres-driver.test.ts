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
  test('an error the server answers leaves the connection in the pool', () =>
    onPool({}, async (db, pid) => {
      for (let i = 0; i < 5; i++) {
        await assert.rejects(db.query(`select pgauth.find_user('nobody-${i}')`), {
          message: 'user_not_found',
        });
        await assert.rejects(db.exec('select 1; select nonsense'), { code: '42703' });
        await assert.rejects(db.query('select $1::int', ['not a number']), { code: '22P02' });
      }
      assert.equal(await backend(db), pid, 'the same server connection after 15 errors');
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
      const started = performance.now();
      await assert.rejects(db.query('select pg_sleep(0.6)'), { name: 'DeadlineError' });
      assert.ok(performance.now() - started < 550, 'the deadline answered first');
      // The one connection is busy until the sleep ends (a call meanwhile misses its deadline);
      // then it serves again, not closed.
      assert.equal(await nextBackend(db), pid);
    }));
});
