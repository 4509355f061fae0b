import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Queryable } from '../../packages/client/src/db/types.ts';
import { useTestDatabase } from '../helpers/db.ts';
import {
  login,
  loginPair,
  PASSWORD,
  register,
  rejects,
  scalar,
  validates,
  withClock,
} from '../helpers/sql.ts';

const NEW_PW = 'a different passphrase';
const NOBODY = '00000000-0000-4000-8000-000000000000';
const t = useTestDatabase();

/** Asserts that a call fails with NOUSR user_not_found. */
const rejectsUnknownUser = (p: Promise<unknown>): Promise<void> =>
  rejects(p, 'NOUSR', 'user_not_found');

async function lastEvent(userId: string) {
  const r = await t.db.query<{ event: string; detail: unknown }>(
    'select event, detail from pgauth.audit_log where user_id = $1 order by id desc limit 1',
    [userId],
  );
  return r.rows[0];
}

test('change_password with the right current password: true, every session revoked, the new one works', async () => {
  const id = await register(t.db, 'ad_change');
  const s = await loginPair(t.db, 'ad_change');
  await login(t.db, 'ad_change', 'wrong passphrase here');
  assert.equal(
    await scalar(t.db, 'select pgauth.change_password($1, $2, $3) as v', [id, PASSWORD, NEW_PW]),
    true,
  );
  assert.equal(await validates(t.db, s?.access_token), false);
  assert.deepEqual(await login(t.db, 'ad_change', PASSWORD), []);
  assert.equal((await login(t.db, 'ad_change', NEW_PW)).length, 1);
  const a = await t.db.query(
    `select detail from pgauth.audit_log where user_id = $1 and event = 'password_changed'`,
    [id],
  );
  assert.deepEqual(a.rows, [{ detail: { by: 'user' } }]);
});

test('change_password with a wrong current password returns false and counts a failure', async () => {
  const id = await register(t.db, 'ad_change_wrong');
  assert.equal(
    await scalar(t.db, 'select pgauth.change_password($1, $2, $3) as v', [
      id,
      'wrong passphrase!',
      NEW_PW,
    ]),
    false,
  );
  assert.equal(
    await scalar(t.db, 'select failed_logins as v from pgauth.users where id = $1', [id]),
    1,
  );
  assert.deepEqual(await lastEvent(id), {
    event: 'login_failure',
    detail: { reason: 'bad_password', via: 'change_password' },
  });
  assert.equal(
    (await login(t.db, 'ad_change_wrong', PASSWORD)).length,
    1,
    'the password is unchanged',
  );
});

test('change_password of a locked or disabled user returns false', async () => {
  for (const [reason, sql] of [
    ['locked', 'select pgauth.lock_user($1)'],
    ['disabled', 'update pgauth.users set disabled_at = now() where id = $1'],
  ] as const) {
    const id = await register(t.db, `ad_change_${reason}`);
    await t.db.query(sql, [id]);
    assert.equal(
      await scalar(t.db, 'select pgauth.change_password($1, $2, $3) as v', [id, PASSWORD, NEW_PW]),
      false,
      reason,
    );
    assert.deepEqual((await lastEvent(id))?.detail, { reason, via: 'change_password' });
  }
});

test('change_password fails with NOUSR for an unknown user and BADIN for a missing current password', async () => {
  await rejectsUnknownUser(
    t.db.query('select pgauth.change_password($1, $2, $3)', [NOBODY, PASSWORD, NEW_PW]),
  );
  const id = await register(t.db, 'ad_change_badin');
  for (const current of [null, 'c'.repeat(1025)]) {
    await rejects(
      t.db.query('select pgauth.change_password($1, $2, $3)', [id, current, NEW_PW]),
      'BADIN',
      'invalid_input',
    );
  }
});

test('set_password resets without the current password and revokes every session; NOUSR for nobody', async () => {
  const id = await register(t.db, 'ad_set');
  const s = await loginPair(t.db, 'ad_set');
  await t.db.query('select pgauth.set_password($1, $2)', [id, NEW_PW]);
  assert.equal(await validates(t.db, s?.access_token), false);
  assert.deepEqual(await login(t.db, 'ad_set', PASSWORD), []);
  assert.equal((await login(t.db, 'ad_set', NEW_PW)).length, 1);
  assert.ok(
    (
      await t.db.query(
        `select 1 from pgauth.audit_log where user_id = $1 and event = 'password_changed'
         and detail->>'by' = 'admin'`,
        [id],
      )
    ).rows.length === 1,
  );
  await rejectsUnknownUser(t.db.query('select pgauth.set_password($1, $2)', [NOBODY, NEW_PW]));
});

test('lock_user locks until unlocked by default and revokes every session; unlock_user lifts it', async () => {
  const id = await register(t.db, 'ad_lock');
  const s = await loginPair(t.db, 'ad_lock');
  await t.db.query(`select pgauth.lock_user($1, p_reason => 'fraud')`, [id]);
  assert.equal(await validates(t.db, s?.access_token), false);
  const u = await t.db.query(
    `select locked_until = 'infinity' as forever, lock_reason from pgauth.get_user($1)`,
    [id],
  );
  assert.deepEqual(u.rows, [{ forever: true, lock_reason: 'fraud' }]);
  assert.deepEqual(await login(t.db, 'ad_lock'), []);
  for (let i = 0; i < 3; i++) await login(t.db, 'ad_lock', 'wrong passphrase here');
  await t.db.query('select pgauth.unlock_user($1)', [id]);
  const v = await t.db.query(
    'select failed_logins, lock_count, locked_until, lock_reason from pgauth.users where id = $1',
    [id],
  );
  assert.deepEqual(v.rows, [
    { failed_logins: 0, lock_count: 0, locked_until: null, lock_reason: null },
  ]);
  assert.equal((await login(t.db, 'ad_lock')).length, 1);
  assert.deepEqual(await lastEvent(id), { event: 'login_success', detail: {} });
});

test('lock_user until a time: login works again once it has passed', async () => {
  const id = await register(t.db, 'ad_lock_until');
  await t.db.query(`select pgauth.lock_user($1, now() + interval '1 hour')`, [id]);
  assert.deepEqual(await login(t.db, 'ad_lock_until'), []);
  await withClock(t.db, '61 minutes', async () => {
    assert.equal((await login(t.db, 'ad_lock_until')).length, 1);
  });
});

test('lock_user fails with BADIN for a time not in the future or a long reason, NOUSR for nobody', async () => {
  const id = await register(t.db, 'ad_lock_bad');
  for (const until of [null, new Date(Date.now() - 60_000)]) {
    await rejects(
      t.db.query('select pgauth.lock_user($1, $2)', [id, until]),
      'BADIN',
      'invalid_input',
    );
  }
  await rejects(
    t.db.query(`select pgauth.lock_user($1, 'infinity', $2)`, [id, 'r'.repeat(201)]),
    'BADIN',
    'invalid_input',
  );
  await rejectsUnknownUser(t.db.query('select pgauth.lock_user($1)', [NOBODY]));
  await rejectsUnknownUser(t.db.query('select pgauth.unlock_user($1)', [NOBODY]));
  assert.equal((await login(t.db, 'ad_lock_bad')).length, 1, 'nothing was locked');
});

test('grant_role is idempotent and creates the role; revoke_role of a role not held is a no-op', async () => {
  const id = await register(t.db, 'ad_roles');
  await t.db.query(`select pgauth.grant_role($1, 'billing:write')`, [id]);
  await t.db.query(`select pgauth.grant_role($1, 'billing:write')`, [id]);
  assert.equal(
    await scalar(t.db, `select count(*)::int as v from pgauth.roles where name = 'billing:write'`),
    1,
  );
  assert.deepEqual(await scalar(t.db, 'select roles as v from pgauth.get_user($1)', [id]), [
    'billing:write',
  ]);
  const events = async () =>
    (
      await t.db.query<{ event: string }>(
        `select event from pgauth.audit_log where user_id = $1 and event like 'role_%' order by id`,
        [id],
      )
    ).rows.map((r) => r.event);
  assert.deepEqual(await events(), ['role_granted']);
  await t.db.query(`select pgauth.revoke_role($1, 'never-held')`, [id]);
  await t.db.query(`select pgauth.revoke_role($1, 'billing:write')`, [id]);
  await t.db.query(`select pgauth.revoke_role($1, 'billing:write')`, [id]);
  assert.deepEqual(await events(), ['role_granted', 'role_revoked']);
  assert.deepEqual(await scalar(t.db, 'select roles as v from pgauth.get_user($1)', [id]), []);
});

test('grant_role fails with BADIN for a malformed role name and NOUSR for nobody; revoke_role NOUSR', async () => {
  const id = await register(t.db, 'ad_roles_bad');
  for (const role of [null, '', 'Admin', '1role', 'has space', 'r'.repeat(64)]) {
    await rejects(
      t.db.query('select pgauth.grant_role($1, $2)', [id, role]),
      'BADIN',
      'invalid_input',
    );
  }
  await rejectsUnknownUser(t.db.query(`select pgauth.grant_role($1, 'admin')`, [NOBODY]));
  await rejectsUnknownUser(t.db.query(`select pgauth.revoke_role($1, 'admin')`, [NOBODY]));
});

test('delete_user revokes sessions, hides the user and keeps the audit rows; a second delete fails with NOUSR', async () => {
  const id = await register(t.db, 'ad_delete');
  const s = await loginPair(t.db, 'ad_delete');
  await t.db.query('select pgauth.delete_user($1)', [id]);
  assert.equal(await validates(t.db, s?.access_token), false);
  await rejectsUnknownUser(t.db.query('select * from pgauth.get_user($1)', [id]));
  await rejectsUnknownUser(t.db.query(`select pgauth.find_user('ad_delete')`));
  await rejectsUnknownUser(t.db.query('select pgauth.delete_user($1)', [id]));
  const events = await t.db.query<{ event: string }>(
    'select event from pgauth.audit_log where user_id = $1 order by id',
    [id],
  );
  assert.deepEqual(
    events.rows.map((r) => r.event),
    ['register', 'login_success', 'sessions_revoked', 'user_deleted'],
  );
});

test('find_user finds by username case-insensitively or by id, with or without hyphens; NOUSR otherwise', async () => {
  const id = await register(t.db, 'Ad_Find');
  for (const key of ['ad_find', 'AD_FIND', id, id.toUpperCase(), id.replaceAll('-', '')]) {
    assert.equal(await scalar(t.db, 'select pgauth.find_user($1) as v', [key]), id, key);
  }
  for (const key of [null, '', 'ad_nobody', NOBODY]) {
    await rejectsUnknownUser(t.db.query('select pgauth.find_user($1)', [key]));
  }
});

test('list_users lists users not deleted by username, with roles and live sessions, never a hash', async () => {
  const a = await register(t.db, 'ad_list_b');
  const b = await register(t.db, 'AD_LIST_A');
  const c = await register(t.db, 'ad_list_c');
  await t.db.query('select pgauth.delete_user($1)', [c]);
  await t.db.query(`select pgauth.grant_role($1, 'admin')`, [a]);
  await loginPair(t.db, 'ad_list_b');
  await loginPair(t.db, 'ad_list_b');
  const r = await t.db.query<{ id: string; username: string; live_sessions: string | number }>(
    'select * from pgauth.list_users(10000)',
  );
  const mine = r.rows.filter((x) => x.username.toLowerCase().startsWith('ad_list_'));
  assert.deepEqual(
    mine.map((x) => [x.username, Number(x.live_sessions)]),
    [
      ['AD_LIST_A', 0],
      ['ad_list_b', 2],
    ],
  );
  assert.deepEqual(
    mine[1] && { id: mine[1].id, roles: (mine[1] as Record<string, unknown>).roles },
    {
      id: a,
      roles: ['admin'],
    },
  );
  assert.equal(mine[0]?.id, b);
  assert.deepEqual(Object.keys(r.rows[0] ?? {}).sort(), [
    'created_at',
    'disabled_at',
    'email',
    'failed_logins',
    'id',
    'last_login_at',
    'live_sessions',
    'lock_reason',
    'locked_until',
    'roles',
    'username',
  ]);
  const sorted = r.rows.map((x) => x.username.toLowerCase());
  assert.deepEqual(sorted, [...sorted].sort());
  const page = await t.db.query<{ username: string }>('select * from pgauth.list_users(1, 1)');
  assert.equal(page.rows.length, 1);
  assert.equal(page.rows[0]?.username, r.rows[1]?.username);
});

test('list_users fails with BADIN for a limit outside 1 to 10000 or a negative offset', async () => {
  for (const [limit, offset] of [
    [0, 0],
    [10001, 0],
    [null, 0],
    [10, -1],
    [10, null],
  ]) {
    await rejects(
      t.db.query('select * from pgauth.list_users($1, $2)', [limit, offset]),
      'BADIN',
      'invalid_input',
    );
  }
});

test('get_user returns one user as list_users shows it; NOUSR for nobody', async () => {
  const id = await register(t.db, 'ad_get');
  await loginPair(t.db, 'ad_get');
  const r = await t.db.query('select * from pgauth.get_user($1)', [id]);
  assert.equal(r.rows.length, 1);
  const l = await t.db.query('select * from pgauth.list_users(10000) where id = $1', [id]);
  assert.deepEqual(r.rows, l.rows);
  await rejectsUnknownUser(t.db.query('select * from pgauth.get_user($1)', [NOBODY]));
});

test('list_sessions lists live sessions newest first, without token hashes; NOUSR for nobody', async () => {
  const id = await register(t.db, 'ad_sessions');
  const a = await loginPair(t.db, 'ad_sessions');
  const b = await withClock(t.db, '1 second', () => loginPair(t.db, 'ad_sessions'));
  const c = await loginPair(t.db, 'ad_sessions');
  await t.db.query('select pgauth.logout($1)', [c?.access_token]);
  const r = await t.db.query<{ id: string }>('select * from pgauth.list_sessions($1)', [id]);
  assert.deepEqual(
    r.rows.map((x) => x.id),
    [b?.session_id, a?.session_id],
  );
  assert.deepEqual(Object.keys(r.rows[0] ?? {}).sort(), [
    'access_expires_at',
    'client_ip',
    'created_at',
    'expires_at',
    'id',
    'refresh_expires_at',
    'refresh_generation',
    'user_agent',
  ]);
  await rejectsUnknownUser(t.db.query('select * from pgauth.list_sessions($1)', [NOBODY]));
});

test('purge_expired deletes sessions ended longer than session_retention ago and returns the count', async () => {
  const id = await register(t.db, 'ad_purge');
  const live = await loginPair(t.db, 'ad_purge');
  const revoked = await loginPair(t.db, 'ad_purge');
  await t.db.query('select pgauth.logout($1)', [revoked?.access_token]);
  // Nothing ended 7 days ago yet.
  await t.db.query('select pgauth.purge_expired()');
  assert.equal(
    await scalar(t.db, 'select count(*)::int as v from pgauth.sessions where user_id = $1', [id]),
    2,
  );
  await withClock(t.db, '7 days 1 minute', async () => {
    const later = await loginPair(t.db, 'ad_purge');
    // The revoked session ended more than 7 days ago; the live one has valid refresh (14 days).
    const n = await scalar<number>(t.db, 'select pgauth.purge_expired() as v');
    assert.ok(n >= 1);
    const left = await t.db.query<{ id: string }>(
      'select id from pgauth.sessions where user_id = $1 order by created_at',
      [id],
    );
    assert.deepEqual(
      left.rows.map((x) => x.id),
      [live?.session_id, later?.session_id],
    );
  });
  await withClock(t.db, '38 days', async () => {
    await t.db.query('select pgauth.purge_expired()');
    assert.equal(
      await scalar(t.db, 'select count(*)::int as v from pgauth.sessions where user_id = $1', [id]),
      0,
      'every session is past its absolute expiry plus retention',
    );
  });
});

test('purge_expired deletes exactly the sessions whose absolute expiry, revocation, or both refresh and access expiries are past the retention', async () => {
  const id = await register(t.db, 'ad_purge_grid');
  // Every combination of each time being well before the cutoff (now - 7 days), just after it,
  // or in the future, and revoked or not: 3 × 3 × 3 × 4 = 108 sessions, raw, as the superuser.
  await t.db.query(
    `insert into pgauth.sessions (user_id, username, access_token_hash, refresh_token_hash,
       access_expires_at, refresh_expires_at, expires_at, created_at, revoked_at, revoked_reason)
     select $1, 'ad_purge_grid', pgauth._random_bytes(32), pgauth._random_bytes(32),
       least(a.t, e.t), least(r.t, e.t), e.t, now() - interval '60 days',
       v.t, case when v.t is null then null else 'logout' end
     from (values (now() - interval '20 days'), (now() - interval '6 days'), (now() + interval '1 day')) a(t),
          (values (now() - interval '20 days'), (now() - interval '6 days'), (now() + interval '1 day')) r(t),
          (values (now() - interval '20 days'), (now() - interval '6 days'), (now() + interval '1 day')) e(t),
          (values (null::timestamptz), (now() - interval '20 days'), (now() - interval '6 days'),
                  (now() - interval '1 hour')) v(t)`,
    [id],
  );
  // What the three conditions of the documentation select, written out as such (a NULL
  // revoked_at makes its condition unknown: not ended by it).
  const expected = await t.db.query<{ id: string }>(
    `select s.id from pgauth.sessions s
     where s.user_id = $1
       and not coalesce(s.expires_at < now() - interval '7 days'
                        or s.revoked_at < now() - interval '7 days'
                        or (s.refresh_expires_at < now() - interval '7 days'
                            and s.access_expires_at < now() - interval '7 days'), false)
     order by s.id`,
    [id],
  );
  const purged = await scalar<number>(t.db, 'select pgauth.purge_expired() as v');
  const left = await t.db.query<{ id: string }>(
    'select id from pgauth.sessions where user_id = $1 order by id',
    [id],
  );
  assert.deepEqual(left.rows, expected.rows);
  assert.equal(purged, 108 - expected.rows.length);
  assert.ok(expected.rows.length > 0 && expected.rows.length < 108, 'both kinds are present');
});

/** How many rotated refresh tokens of a session are kept. */
const rotated = (id: string, db: Queryable = t.db) =>
  scalar<number>(
    db,
    'select count(*)::int as v from pgauth.rotated_refresh_tokens where session_id = $1',
    [id],
  );

/** Registers a user and logs in a session that then rotates twice; its first pair. */
async function rotate(username: string) {
  await register(t.db, username);
  const p = await loginPair(t.db, username);
  const r = await t.db.query<{ refresh_token: string }>('select * from pgauth.refresh($1)', [
    p.refresh_token,
  ]);
  await t.db.query('select * from pgauth.refresh($1)', [r.rows[0]?.refresh_token]);
  assert.equal(await rotated(p.session_id), 2, `${username}: two rotations`);
  return p;
}

test('purge_expired deletes the rotated refresh tokens of a session it deletes unrevoked; a DELETE after it in its transaction still takes its own along', async () => {
  const purged = await rotate('ad_rot_expired');
  // 21 days on, the refresh token (14 days) of the first ended more than 7 days ago.
  await withClock(t.db, '21 days 1 minute', async () => {
    const kept = await rotate('ad_rot_after');
    await t.db.transaction(async (tx) => {
      assert.ok((await scalar<number>(tx, 'select pgauth.purge_expired() as v')) >= 1);
      assert.equal(await rotated(purged.session_id, tx), 0, 'gone with the purged session');
      assert.equal(await rotated(kept.session_id, tx), 2, 'a live session keeps its own');
      await tx.query('delete from pgauth.sessions where id = $1', [kept.session_id]);
      assert.equal(await rotated(kept.session_id, tx), 0, 'the DELETE after the purge took them');
    });
  });
});

// Last: it truncates every session of the test database.
test('deleting sessions deletes their rotated refresh tokens: by purge_expired, by a user deletion, by TRUNCATE', async () => {
  const purged = await rotate('ad_rot_purge');
  const kept = await rotate('ad_rot_kept');
  await t.db.query('select pgauth.revoke_session($1)', [purged.session_id]);
  await withClock(t.db, '7 days 1 minute', () => t.db.query('select pgauth.purge_expired()'));
  assert.equal(await rotated(purged.session_id), 0, 'the purged session takes its tokens along');
  assert.equal(await rotated(kept.session_id), 2, 'a live session keeps its own');
  await t.db.query('delete from pgauth.users where id = $1', [kept.user_id]);
  assert.equal(await rotated(kept.session_id), 0, 'a deleted user takes them along');
  const last = await rotate('ad_rot_truncate');
  await t.db.exec('truncate pgauth.sessions cascade');
  assert.equal(await rotated(last.session_id), 0, 'TRUNCATE takes them along');
});
