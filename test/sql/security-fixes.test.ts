/**
 * The SQL side of the security review of issue 14 (migration 0009), one test or more per item:
 * each fails on the functions of 0001–0008 and passes with 0009.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestDatabase, postgresOnly, type TestDatabase } from '../helpers/db.ts';
import { rejects, withClock as shiftClock } from '../helpers/sql.ts';

const PW = 'a long enough passphrase';
let t: TestDatabase;
before(async () => {
  t = await openTestDatabase();
});
after(() => t.close());

function withClock<T>(offset: string, fn: () => Promise<T>): Promise<T> {
  return shiftClock(t.db, offset, fn);
}

type Pair = {
  user_id: string;
  session_id: string;
  access_token: string;
  access_expires_at: Date;
  refresh_token: string;
  refresh_expires_at: Date;
};

async function register(username: string): Promise<string> {
  const r = await t.db.query<{ id: string }>('select pgauth.register($1, $2) as id', [
    username,
    PW,
  ]);
  return r.rows[0]?.id as string;
}

async function session(username: string): Promise<Pair> {
  await register(username);
  const r = await t.db.query<Pair>('select * from pgauth.login($1, $2)', [username, PW]);
  return r.rows[0] as Pair;
}

async function refresh(token: string): Promise<Pair[]> {
  return (await t.db.query<Pair>('select * from pgauth.refresh($1)', [token])).rows;
}

async function validates(token: string): Promise<boolean> {
  return (await t.db.query('select * from pgauth.validate($1)', [token])).rows.length === 1;
}

async function revokedReason(sessionId: string): Promise<string | null> {
  const r = await t.db.query<{ reason: string | null }>(
    'select revoked_reason as reason from pgauth.sessions where id = $1',
    [sessionId],
  );
  return r.rows[0]?.reason ?? null;
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return (await t.db.query<{ n: number }>(`select count(*)::int as n from (${sql}) x`, params))
    .rows[0]?.n as number;
}

// ---- Item 4: purge_audit with a mixed interval ------------------------------------------------

test('purge_audit with a negative part (-1 month +31 days) fails with BADIN invalid_input and deletes nothing', async () => {
  await t.db.query(`select pgauth.register('sf_purge', $1)`, [PW]);
  const rows = await count('select 1 from pgauth.audit_log');
  assert.ok(rows > 0);
  for (const older of ['-1 month +31 days', '-1 year +366 days', '2 days -1 hour', '-14 months']) {
    await rejects(
      t.db.query('select pgauth.purge_audit($1::interval)', [older]),
      'BADIN',
      'invalid_input',
    );
  }
  assert.equal(await count('select 1 from pgauth.audit_log'), rows, 'no audit row was deleted');
});

test('purge_audit checks the cut-off as a point in time: it must lie at least one day back', async () => {
  // 1 month is at least 28 days, whatever the month: accepted, and nothing here is that old.
  const r = await t.db.query<{ n: number }>(`select pgauth.purge_audit('1 month') as n`);
  assert.equal(r.rows[0]?.n, 0);
  for (const older of ['23 hours 59 minutes', '0']) {
    await rejects(
      t.db.query('select pgauth.purge_audit($1::interval)', [older]),
      'BADIN',
      'invalid_input',
    );
  }
});

// ---- Item 7: the grace window is measured at the statement, not at the transaction's start ----

test('a transaction begun inside the grace window cannot replay the rotated refresh token after the window: no row, refresh_reuse', {
  skip: postgresOnly,
}, async () => {
  const p = await session('sf_stale_tx');
  const other = t.connect({ max: 1 });
  const rows = await other.transaction(async (tx) => {
    await tx.query('select 1'); // now() of this transaction is fixed from here on
    // The rotation happens after that, on a clock 10 s behind: its window (10 s) ends now.
    const rotated = await withClock('-10 seconds', () => refresh(p.refresh_token));
    assert.equal(rotated.length, 1);
    return (await tx.query<Pair>('select * from pgauth.refresh($1)', [p.refresh_token])).rows;
  });
  assert.deepEqual(rows, [], 'the old token is not worth a pair once the window has passed');
  assert.equal(await revokedReason(p.session_id), 'refresh_reuse');
});

// ---- Item 8: no stored salt derives the live pair after the grace window ----------------------

async function derivedFromStore(oldRefresh: string, sessionId: string) {
  const r = await t.db.query<{ access: string | null; refresh: string | null; salt: boolean }>(
    `select pgauth._derive_token('pga_', $1, rotation_salt, 'access') as access,
            pgauth._derive_token('pgr_', $1, rotation_salt, 'refresh') as refresh,
            rotation_salt is not null as salt
     from pgauth.sessions where id = $2`,
    [oldRefresh, sessionId],
  );
  return r.rows[0] as NonNullable<(typeof r.rows)[0]>;
}

test('after the grace window purge_expired() wipes the rotation salt: the stored row and the rotated refresh token no longer derive the live pair', async () => {
  const p = await session('sf_salt');
  const n = (await refresh(p.refresh_token))[0] as Pair;
  const inside = await derivedFromStore(p.refresh_token, p.session_id);
  assert.deepEqual(
    [inside.access, inside.refresh],
    [n.access_token, n.refresh_token],
    'inside the window the salt rebuilds the pair: that is what a retry needs',
  );
  await withClock('11 seconds', () => t.db.query('select pgauth.purge_expired()'));
  const afterWindow = await derivedFromStore(p.refresh_token, p.session_id);
  assert.deepEqual(afterWindow, { access: null, refresh: null, salt: false });
  assert.ok(await validates(n.access_token), 'the live pair keeps working');
  assert.equal((await refresh(n.refresh_token)).length, 1, 'and rotates on');
});

test('purge_expired() keeps a salt whose window is still open: a retry at 9 s still gets the same pair', async () => {
  const p = await session('sf_salt_open');
  const n = (await refresh(p.refresh_token))[0] as Pair;
  const again = await withClock('9 seconds', async () => {
    await t.db.query('select pgauth.purge_expired()');
    return refresh(p.refresh_token);
  });
  assert.deepEqual(again, [n]);
});

test('a rotated refresh token presented after the window revokes the session and wipes its salt', async () => {
  const p = await session('sf_salt_reuse');
  await refresh(p.refresh_token);
  await withClock('11 seconds', async () => {
    assert.deepEqual(await refresh(p.refresh_token), []);
  });
  assert.equal(await revokedReason(p.session_id), 'refresh_reuse');
  assert.equal((await derivedFromStore(p.refresh_token, p.session_id)).salt, false);
});
