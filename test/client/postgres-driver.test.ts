/**
 * The PostgreSQL driver's pool (packages/client/src/db/postgres.ts), which the gateway, the CLI
 * and the SDK's SQL mode share: which errors cost a connection and which do not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import type { Database } from '../../packages/client/src/db/types.ts';
import { postgresOnly, useTestDatabase } from '../helpers/db.ts';

const t = useTestDatabase();

/** A pool of its own on the test database. */
function pool(options: { queryDeadlineMs?: number } = {}): Database {
  assert.ok(t.url, 'a PostgreSQL test database has a URL');
  return openPostgres({ connectionString: t.url, max: 1, ...options });
}

async function backend(db: Database): Promise<number> {
  const r = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
  return r.rows[0]?.pid ?? -1;
}

test('an error the server answers leaves the connection in the pool', {
  skip: postgresOnly,
}, async () => {
  const db = pool();
  try {
    const pid = await backend(db);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(db.query(`select pgauth.find_user('nobody-${i}')`), {
        message: 'user_not_found',
      });
      await assert.rejects(db.exec('select 1; select nonsense'), { code: '42703' });
      await assert.rejects(db.query('select $1::int', ['not a number']), { code: '22P02' });
    }
    assert.equal(await backend(db), pid, 'the same server connection after 15 errors');
  } finally {
    await db.close();
  }
});

test('a connection the server closed is replaced, and the pool goes on', {
  skip: postgresOnly,
}, async () => {
  const db = pool();
  try {
    const pid = await backend(db);
    await t.db.query('select pg_terminate_backend($1)', [pid]);
    // The idle connection learns of its end when it next reads: the pool closes it then, and a
    // call made in that window may fail (unavailable); the ones after run on a new connection.
    let after = -1;
    for (let i = 0; i < 50 && after === -1; i++) after = await backend(db).catch(() => -1);
    assert.notEqual(after, -1, 'a call succeeds after the connection was closed');
    assert.notEqual(after, pid);
    assert.equal(await backend(db), after);
  } finally {
    await db.close();
  }
});

test('a statement past its deadline answers the caller at once; its connection serves again once it ends', {
  skip: postgresOnly,
}, async () => {
  const db = pool({ queryDeadlineMs: 200 });
  try {
    const pid = await backend(db);
    const started = performance.now();
    await assert.rejects(db.query('select pg_sleep(0.6)'), { name: 'DeadlineError' });
    assert.ok(
      performance.now() - started < 550,
      'the deadline answered before the statement ended',
    );
    // The one connection is busy until the sleep ends (a call meanwhile misses its deadline);
    // then it serves again, not closed.
    let next = -1;
    for (let i = 0; i < 20 && next === -1; i++) next = await backend(db).catch(() => -1);
    assert.equal(next, pid);
  } finally {
    await db.close();
  }
});
