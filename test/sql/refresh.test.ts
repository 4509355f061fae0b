import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseTogether } from '../helpers/barriers.ts';
import { postgresOnly, useTestDatabase } from '../helpers/db.ts';
import {
  auditEvents,
  type TokenPair as Pair,
  refresh,
  session,
  validates,
  withClock,
  withSettings,
} from '../helpers/sql.ts';

const t = useTestDatabase();

async function sessionRow(id: string) {
  const r = await t.db.query<{
    refresh_generation: number;
    revoked_reason: string | null;
    expires_at: Date;
  }>('select refresh_generation, revoked_reason, expires_at from pgauth.sessions where id = $1', [
    id,
  ]);
  return r.rows[0] as NonNullable<(typeof r.rows)[0]>;
}

test('refresh rotates: a new pair works, the old access and refresh tokens stop working', async () => {
  const p = await session(t.db, 'rf_rotate');
  const rows = await refresh(t.db, p.refresh_token);
  assert.equal(rows.length, 1);
  const n = rows[0] as Pair;
  assert.equal(n.user_id, p.user_id);
  assert.equal(n.session_id, p.session_id);
  assert.match(n.access_token, /^pga_[A-Za-z0-9_-]{43}$/);
  assert.match(n.refresh_token, /^pgr_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(n.access_token, p.access_token);
  assert.notEqual(n.refresh_token, p.refresh_token);
  assert.ok(await validates(t.db, n.access_token));
  assert.equal(await validates(t.db, p.access_token), false);
  assert.equal((await sessionRow(p.session_id)).refresh_generation, 1);
  // The next rotation works from the new refresh token.
  const third = (await refresh(t.db, n.refresh_token))[0] as Pair;
  assert.ok(await validates(t.db, third.access_token));
  assert.equal(await validates(t.db, n.access_token), false);
  assert.equal((await sessionRow(p.session_id)).refresh_generation, 2);
  assert.deepEqual(await auditEvents(t.db, { sessionId: p.session_id }), [
    'login_success',
    'refresh',
    'refresh',
  ]);
});

test('refresh of NULL, garbage or an access token returns zero rows', async () => {
  const p = await session(t.db, 'rf_garbage');
  for (const token of [null, '', 'garbage', `pgr_${'A'.repeat(43)}`, p.access_token]) {
    assert.deepEqual(await refresh(t.db, token), []);
  }
  assert.ok(await validates(t.db, p.access_token), 'nothing was revoked');
  assert.equal((await sessionRow(p.session_id)).refresh_generation, 0);
});

test('a retry inside refresh_reuse_grace returns the very same new pair and revokes nothing', async () => {
  const p = await session(t.db, 'rf_grace');
  const first = (await refresh(t.db, p.refresh_token))[0] as Pair;
  // Well inside the 10 s window: the clock moves on while the test runs, and a loaded machine
  // once took over a second between the rotation and the retry (9 s then fell outside).
  const again = await withClock(t.db, '7 seconds', () => refresh(t.db, p.refresh_token));
  assert.deepEqual(again, [first]);
  const row = await sessionRow(p.session_id);
  assert.equal(row.refresh_generation, 1);
  assert.equal(row.revoked_reason, null);
  assert.ok(await validates(t.db, first.access_token));
  const a = await t.db.query<{ grace: string }>(
    `select detail->>'grace_retry' as grace from pgauth.audit_log
     where session_id = $1 and event = 'refresh' order by id`,
    [p.session_id],
  );
  assert.deepEqual(
    a.rows.map((r) => r.grace),
    [null, 'true'],
  );
  // The pair the retry returned rotates on normally.
  assert.equal((await refresh(t.db, first.refresh_token)).length, 1);
});

test('reuse of a rotated refresh token after the grace window returns zero rows, revokes the session and audits refresh_reuse', async () => {
  const p = await session(t.db, 'rf_reuse');
  const n = (await refresh(t.db, p.refresh_token))[0] as Pair;
  await withClock(t.db, '11 seconds', async () => {
    assert.deepEqual(await refresh(t.db, p.refresh_token), []);
    assert.equal(await validates(t.db, n.access_token), false, 'the new access token dies too');
  });
  assert.equal((await sessionRow(p.session_id)).revoked_reason, 'refresh_reuse');
  assert.deepEqual(await refresh(t.db, n.refresh_token), [], 'the new refresh token dies too');
  const a = await t.db.query<{ detail: unknown }>(
    `select detail from pgauth.audit_log where session_id = $1 and event = 'refresh_reuse'`,
    [p.session_id],
  );
  assert.deepEqual(a.rows, [{ detail: { generation: 0, current_generation: 1 } }]);
  // Presenting it yet again changes nothing and writes no second reuse row.
  assert.deepEqual(await refresh(t.db, p.refresh_token), []);
  assert.equal(
    (await auditEvents(t.db, { sessionId: p.session_id })).filter((e) => e === 'refresh_reuse')
      .length,
    1,
  );
});

test('a refresh token two generations back is reuse even inside the grace window', async () => {
  const p = await session(t.db, 'rf_two_back');
  const g1 = (await refresh(t.db, p.refresh_token))[0] as Pair;
  const g2 = (await refresh(t.db, g1.refresh_token))[0] as Pair;
  assert.deepEqual(await refresh(t.db, p.refresh_token), []);
  assert.equal(await validates(t.db, g2.access_token), false);
  assert.equal((await sessionRow(p.session_id)).revoked_reason, 'refresh_reuse');
});

test('with refresh_reuse_grace 0 an immediate retry is reuse', async () => {
  const p = await session(t.db, 'rf_nograce');
  await withSettings(t.db, { refresh_reuse_grace: '0' }, async () => {
    const n = (await refresh(t.db, p.refresh_token))[0] as Pair;
    assert.deepEqual(await refresh(t.db, p.refresh_token), []);
    assert.equal(await validates(t.db, n.access_token), false);
  });
});

test('refresh of a logged-out session returns zero rows', async () => {
  const p = await session(t.db, 'rf_logout');
  await t.db.query('select pgauth.logout($1)', [p.access_token]);
  assert.deepEqual(await refresh(t.db, p.refresh_token), []);
});

test('refresh after refresh_token_ttl returns zero rows', async () => {
  const p = await session(t.db, 'rf_ttl');
  await withClock(t.db, '14 days 1 second', async () => {
    assert.deepEqual(await refresh(t.db, p.refresh_token), []);
  });
  assert.equal((await sessionRow(p.session_id)).refresh_generation, 0);
});

test('refresh never extends a session past its absolute expiry (session_max_age)', async () => {
  let p = await withSettings(t.db, { session_max_age: '1 hour' }, () =>
    session(t.db, 'rf_absolute'),
  );
  const { expires_at } = await sessionRow(p.session_id);
  assert.ok(p.refresh_expires_at <= expires_at);
  await withClock(t.db, '50 minutes', async () => {
    const n = (await refresh(t.db, p.refresh_token))[0] as Pair;
    assert.ok(n, 'refresh works before the absolute expiry');
    assert.equal(n.access_expires_at.getTime(), expires_at.getTime(), 'access capped');
    assert.equal(n.refresh_expires_at.getTime(), expires_at.getTime(), 'refresh capped');
    p = n;
  });
  await withClock(t.db, '61 minutes', async () => {
    assert.deepEqual(await refresh(t.db, p.refresh_token), []);
    assert.equal(await validates(t.db, p.access_token), false);
  });
});

test('20 concurrent refreshes of one token: no error, one rotation, every row the same pair', {
  skip: postgresOnly,
}, async () => {
  const p = await session(t.db, 'rf_concurrent');
  // Hold the session row until all 20 calls wait on it, then release them together.
  const settled = await releaseTogether(
    t,
    { table: 'sessions', id: p.session_id },
    'pgauth.refresh(',
    20,
    (pool) => refresh(pool, p.refresh_token),
  );
  const errors = settled.filter((r) => r.status === 'rejected');
  assert.deepEqual(errors, []);
  const rows = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  assert.equal(rows.length, 20, 'design (0004): all queued calls receive the one pair');
  const pairs = new Set(rows.map((r) => `${r.access_token} ${r.refresh_token}`));
  assert.equal(pairs.size, 1, 'every call that returned a row returned the same pair');
  const row = await sessionRow(p.session_id);
  assert.equal(row.refresh_generation, 1);
  assert.equal(row.revoked_reason, null);
  const pair = rows[0] as Pair;
  assert.ok(await validates(t.db, pair.access_token));
  assert.equal((await refresh(t.db, pair.refresh_token)).length, 1, 'the new refresh token works');
});
