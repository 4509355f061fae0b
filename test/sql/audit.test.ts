import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestDatabase } from '../helpers/db.ts';
import {
  auditEvents,
  login,
  loginPair,
  PASSWORD,
  register,
  rejects,
  WRONG_PASSWORD,
  withClock,
} from '../helpers/sql.ts';

const t = useTestDatabase();
const events = (userId: string): Promise<string[]> => auditEvents(t.db, { userId });

test('every event writes exactly one audit row of its type', async () => {
  const id = await register(t.db, 'au_all');
  assert.deepEqual(await events(id), ['register']);
  const s1 = await loginPair(t.db, 'au_all');
  assert.deepEqual((await events(id)).slice(-1), ['login_success']);
  await login(t.db, 'au_all', WRONG_PASSWORD);
  assert.deepEqual((await events(id)).slice(-1), ['login_failure']);
  await t.db.query('select * from pgauth.refresh($1)', [s1.refresh_token]);
  assert.deepEqual((await events(id)).slice(-1), ['refresh']);
  await withClock(t.db, '11 seconds', () =>
    t.db.query('select * from pgauth.refresh($1)', [s1.refresh_token]),
  );
  assert.deepEqual((await events(id)).slice(-1), ['refresh_reuse']);
  const s3 = await loginPair(t.db, 'au_all');
  await t.db.query('select pgauth.logout($1)', [s3.access_token]);
  assert.deepEqual((await events(id)).slice(-2), ['login_success', 'logout']);
  await loginPair(t.db, 'au_all');
  await t.db.query('select pgauth.revoke_user_sessions($1)', [id]);
  assert.deepEqual((await events(id)).slice(-2), ['login_success', 'sessions_revoked']);
  await t.db.query('select pgauth.change_password($1, $2, $3)', [
    id,
    PASSWORD,
    'second passphrase!',
  ]);
  assert.deepEqual((await events(id)).slice(-1), ['password_changed']);
  await t.db.query('select pgauth.lock_user($1)', [id]);
  assert.deepEqual((await events(id)).slice(-1), ['user_locked']);
  await t.db.query('select pgauth.unlock_user($1)', [id]);
  assert.deepEqual((await events(id)).slice(-1), ['user_unlocked']);
  await t.db.query(`select pgauth.grant_role($1, 'auditor')`, [id]);
  assert.deepEqual((await events(id)).slice(-1), ['role_granted']);
  await t.db.query(`select pgauth.revoke_role($1, 'auditor')`, [id]);
  assert.deepEqual((await events(id)).slice(-1), ['role_revoked']);
  for (let i = 0; i < 10; i++) await login(t.db, 'au_all', WRONG_PASSWORD);
  assert.deepEqual((await events(id)).slice(-2), ['lockout', 'login_failure']);
  await t.db.query('select pgauth.delete_user($1)', [id]);
  assert.deepEqual((await events(id)).slice(-1), ['user_deleted']);
  const all = await events(id);
  const counts = Object.fromEntries(
    [...new Set(all)].map((e) => [e, all.filter((x) => x === e).length]),
  );
  assert.deepEqual(counts, {
    register: 1,
    login_success: 3,
    login_failure: 11,
    refresh: 1,
    refresh_reuse: 1,
    logout: 1,
    sessions_revoked: 1,
    password_changed: 1,
    user_locked: 1,
    user_unlocked: 1,
    role_granted: 1,
    role_revoked: 1,
    lockout: 1,
    user_deleted: 1,
  });
});

test('a login audit row carries the session, client address and user agent', async () => {
  await t.db.query(`select pgauth.register('au_ip', $1)`, [PASSWORD]);
  const [s] = await login(t.db, 'au_ip', PASSWORD, '2001:db8::7', 'test-agent/1.0');
  assert.ok(s, 'au_ip logs in');
  const r = await t.db.query(
    `select event, user_id, session_id, host(client_ip) as ip, user_agent from pgauth.audit_log
     where event = 'login_success' and session_id = $1`,
    [s.session_id],
  );
  assert.deepEqual(r.rows, [
    {
      event: 'login_success',
      user_id: s.user_id,
      session_id: s.session_id,
      ip: '2001:db8::7',
      user_agent: 'test-agent/1.0',
    },
  ]);
});

test('audit_events returns events newest first, filtered by user and since, at most p_limit', async () => {
  const a = await register(t.db, 'au_ev_a');
  const b = await register(t.db, 'au_ev_b');
  await loginPair(t.db, 'au_ev_a');
  await login(t.db, 'au_ev_a', WRONG_PASSWORD);
  await loginPair(t.db, 'au_ev_b');
  const mine = await t.db.query<{ event: string; user_id: string }>(
    'select * from pgauth.audit_events($1)',
    [a],
  );
  assert.deepEqual(
    mine.rows.map((r) => r.event),
    ['login_failure', 'login_success', 'register'],
  );
  assert.ok(mine.rows.every((r) => r.user_id === a));
  const all = await t.db.query<{ user_id: string; event: string }>(
    'select * from pgauth.audit_events()',
  );
  assert.deepEqual(
    all.rows.filter((r) => r.user_id === a || r.user_id === b).map((r) => [r.user_id, r.event]),
    [
      [b, 'login_success'],
      [a, 'login_failure'],
      [a, 'login_success'],
      [b, 'register'],
      [a, 'register'],
    ],
  );
  const times = all.rows.map((r) => (r as unknown as { at: Date }).at.getTime());
  assert.deepEqual(
    times,
    [...times].sort((x, y) => y - x),
    'newest first',
  );
  const limited = await t.db.query('select * from pgauth.audit_events(null, null, 2)');
  assert.equal(limited.rows.length, 2);
  const future = await t.db.query(
    `select * from pgauth.audit_events(null, now() + interval '1 minute')`,
  );
  assert.equal(future.rows.length, 0);
  const since = await t.db.query(
    `select * from pgauth.audit_events($1, now() - interval '1 hour')`,
    [b],
  );
  assert.equal(since.rows.length, 2);
  assert.deepEqual(Object.keys(mine.rows[0] ?? {}).sort(), [
    'at',
    'client_ip',
    'detail',
    'event',
    'session_id',
    'user_id',
  ]);
});

test('audit_events fails with BADIN for a limit outside 1 to 10000', async () => {
  for (const limit of [0, 10001, null]) {
    await rejects(
      t.db.query('select * from pgauth.audit_events(null, null, $1)', [limit]),
      'BADIN',
      'invalid_input',
    );
  }
});

test('raw UPDATE, DELETE and TRUNCATE of pgauth.audit_log fail with BADIN (append-only)', async () => {
  await register(t.db, 'au_append_only'); // a row of its own to try to change
  const before = (
    await t.db.query<{ n: number }>('select count(*)::int as n from pgauth.audit_log')
  ).rows[0]?.n;
  assert.ok(before && before > 0);
  for (const sql of [
    `update pgauth.audit_log set event = 'forged'`,
    `update pgauth.audit_log set detail = '{}' where id = (select max(id) from pgauth.audit_log)`,
    'delete from pgauth.audit_log',
    'delete from pgauth.audit_log where id = (select min(id) from pgauth.audit_log)',
    'truncate pgauth.audit_log',
  ]) {
    await rejects(t.db.query(sql), 'BADIN', 'invalid_input');
  }
  const afterCount = (
    await t.db.query<{ n: number }>('select count(*)::int as n from pgauth.audit_log')
  ).rows[0]?.n;
  assert.equal(afterCount, before);
  assert.equal(
    (await t.db.query(`select 1 from pgauth.audit_log where event = 'forged'`)).rows.length,
    0,
  );
});

test('purge_audit fails with BADIN for less than one day', async () => {
  for (const older of [null, '23 hours', '0', '-1 day']) {
    await rejects(
      t.db.query('select pgauth.purge_audit($1::interval)', [older]),
      'BADIN',
      'invalid_input',
    );
  }
});

// Last: it deletes the rows the tests above wrote.
test('purge_audit deletes only rows older than the interval, audits audit_purged, and re-arms the guard', async () => {
  const total = (await t.db.query<{ n: number }>('select count(*)::int as n from pgauth.audit_log'))
    .rows[0]?.n as number;
  assert.equal(await scalarPurge('1 day'), 0, 'nothing is a day old yet');
  const purged = await withClock(t.db, '2 days', async () => {
    await t.db.query(`select pgauth.register('au_recent', $1)`, [PASSWORD]);
    return scalarPurge('1 day');
  });
  assert.equal(purged, total + 1, 'every row older than one day, including the first audit_purged');
  const left = await t.db.query<{ event: string; detail: { count: number } }>(
    'select event, detail from pgauth.audit_log order by id',
  );
  assert.deepEqual(
    left.rows.map((r) => r.event),
    ['register', 'audit_purged'],
  );
  assert.equal(left.rows[1]?.detail.count, total + 1);
  // In the same transaction after a purge, a raw DELETE is refused again.
  await assert.rejects(
    t.db.transaction(async (tx) => {
      await tx.query(`select pgauth.purge_audit('1 day')`);
      await tx.query('delete from pgauth.audit_log');
    }),
    (err: { code?: string }) => err.code === 'BADIN',
  );
});

async function scalarPurge(older: string): Promise<number> {
  const r = await t.db.query<{ n: number }>('select pgauth.purge_audit($1::interval) as n', [
    older,
  ]);
  return r.rows[0]?.n as number;
}
