import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestDatabase } from '../helpers/db.ts';
import { type NotificationLog, recordNotifications } from '../helpers/notifications.ts';
import { loginPair, register, rejects, scalar, validate } from '../helpers/sql.ts';

type Revocation = { user_id: string; session_ids: string[]; reason: string };
let channel: NotificationLog<Revocation>;
const t = useTestDatabase({
  async setup({ db }) {
    channel = await recordNotifications<Revocation>(db, 'pgauth_revocations');
  },
  teardown: () => channel.close(),
});

async function revokedReasons(userId: string): Promise<(string | null)[]> {
  const r = await t.db.query<{ revoked_reason: string | null }>(
    'select revoked_reason from pgauth.sessions where user_id = $1 order by created_at, id',
    [userId],
  );
  return r.rows.map((x) => x.revoked_reason);
}

/** Every notification about the user committed so far (a marker proves that none is missing). */
async function messagesFor(userId: string): Promise<Revocation[]> {
  return (await channel.settle()).filter((m) => m.user_id === userId);
}

test('logout revokes the session: access and refresh tokens stop working; a second logout returns false', async () => {
  const id = await register(t.db, 'rv_logout');
  const p = await loginPair(t.db, 'rv_logout');
  const keep = await loginPair(t.db, 'rv_logout');
  assert.equal(await scalar(t.db, 'select pgauth.logout($1) as v', [p.access_token]), true);
  assert.deepEqual(await validate(t.db, p.access_token), []);
  assert.deepEqual(
    (await t.db.query('select * from pgauth.refresh($1)', [p.refresh_token])).rows,
    [],
  );
  assert.equal((await validate(t.db, keep.access_token)).length, 1);
  assert.equal(await scalar(t.db, 'select pgauth.logout($1) as v', [p.access_token]), false);
  assert.equal(await scalar(t.db, 'select pgauth.logout($1) as v', [p.refresh_token]), false);
  assert.equal(await scalar(t.db, 'select pgauth.logout($1) as v', [null]), false);
  assert.equal(await scalar(t.db, 'select pgauth.logout($1) as v', ['garbage']), false);
  const n = await scalar<number>(
    t.db,
    `select count(*)::int as v from pgauth.audit_log where event = 'logout' and user_id = $1`,
    [id],
  );
  assert.equal(n, 1);
});

test('revoke_token revokes by access or refresh token; unknown or rotated tokens return false', async () => {
  await register(t.db, 'rv_token');
  const a = await loginPair(t.db, 'rv_token');
  assert.equal(await scalar(t.db, 'select pgauth.revoke_token($1) as v', [a.access_token]), true);
  assert.deepEqual(await validate(t.db, a.access_token), []);
  const b = await loginPair(t.db, 'rv_token');
  assert.equal(await scalar(t.db, 'select pgauth.revoke_token($1) as v', [b.refresh_token]), true);
  assert.deepEqual(await validate(t.db, b.access_token), []);
  const c = await loginPair(t.db, 'rv_token');
  await t.db.query('select * from pgauth.refresh($1)', [c.refresh_token]);
  assert.equal(await scalar(t.db, 'select pgauth.revoke_token($1) as v', [c.refresh_token]), false);
  for (const token of [null, '', 'pgr_unknown']) {
    assert.equal(await scalar(t.db, 'select pgauth.revoke_token($1) as v', [token]), false);
  }
});

test('revoke_user_sessions revokes every live session and returns the count', async () => {
  const id = await register(t.db, 'rv_user');
  const a = await loginPair(t.db, 'rv_user');
  const b = await loginPair(t.db, 'rv_user');
  assert.equal(await scalar(t.db, 'select pgauth.revoke_user_sessions($1) as v', [id]), 2);
  assert.deepEqual(await validate(t.db, a.access_token), []);
  assert.deepEqual(await validate(t.db, b.access_token), []);
  assert.deepEqual(await revokedReasons(id), ['admin', 'admin']);
  await loginPair(t.db, 'rv_user');
  assert.equal(
    await scalar(t.db, `select pgauth.revoke_user_sessions($1, 'compromised') as v`, [id]),
    1,
  );
  assert.deepEqual(await revokedReasons(id), ['admin', 'admin', 'compromised']);
  assert.equal(await scalar(t.db, 'select pgauth.revoke_user_sessions($1) as v', [id]), 0);
});

test('revoke_user_sessions of an unknown user fails with NOUSR; a bad reason with BADIN', async () => {
  const id = await register(t.db, 'rv_user_bad');
  await rejects(
    t.db.query('select pgauth.revoke_user_sessions(gen_random_uuid())'),
    'NOUSR',
    'user_not_found',
  );
  for (const reason of [null, '', 'r'.repeat(65)]) {
    await rejects(
      t.db.query('select pgauth.revoke_user_sessions($1, $2)', [id, reason]),
      'BADIN',
      'invalid_input',
    );
  }
});

test('revoke_session revokes one session by id: true once, then false; unknown id false', async () => {
  await register(t.db, 'rv_session');
  const a = await loginPair(t.db, 'rv_session');
  const b = await loginPair(t.db, 'rv_session');
  assert.equal(await scalar(t.db, 'select pgauth.revoke_session($1) as v', [a.session_id]), true);
  assert.deepEqual(await validate(t.db, a.access_token), []);
  assert.equal((await validate(t.db, b.access_token)).length, 1);
  assert.equal(await scalar(t.db, 'select pgauth.revoke_session($1) as v', [a.session_id]), false);
  assert.equal(await scalar(t.db, 'select pgauth.revoke_session(gen_random_uuid()) as v'), false);
});

test('a raw UPDATE of password_hash revokes every session of the user', async () => {
  const id = await register(t.db, 'rv_raw_pw');
  const a = await loginPair(t.db, 'rv_raw_pw');
  const b = await loginPair(t.db, 'rv_raw_pw');
  await t.db.query(
    `update pgauth.users set password_hash = pgauth._hash_password('another long passphrase', 4)
     where id = $1`,
    [id],
  );
  assert.deepEqual(await validate(t.db, a.access_token), []);
  assert.deepEqual(await validate(t.db, b.access_token), []);
  assert.deepEqual(await revokedReasons(id), ['password_changed', 'password_changed']);
  const audit = await t.db.query(
    `select detail from pgauth.audit_log where event = 'sessions_revoked' and user_id = $1`,
    [id],
  );
  assert.deepEqual(audit.rows, [{ detail: { reason: 'password_changed', count: 2 } }]);
});

test('a raw UPDATE of locked_until into the future revokes; into the past does not', async () => {
  const id = await register(t.db, 'rv_raw_lock');
  const a = await loginPair(t.db, 'rv_raw_lock');
  await t.db.query(
    `update pgauth.users set locked_until = now() - interval '1 hour' where id = $1`,
    [id],
  );
  assert.equal((await validate(t.db, a.access_token)).length, 1);
  await t.db.query(
    `update pgauth.users set locked_until = now() + interval '1 hour' where id = $1`,
    [id],
  );
  assert.deepEqual(await validate(t.db, a.access_token), []);
  assert.deepEqual(await revokedReasons(id), ['user_locked']);
});

test('a raw UPDATE that mimics the automatic lockout exactly does not revoke (documented exception)', async () => {
  const id = await register(t.db, 'rv_raw_autolock');
  const a = await loginPair(t.db, 'rv_raw_autolock');
  await t.db.query(
    `update pgauth.users set locked_until = now() + interval '5 minutes',
       lock_reason = 'too_many_failures', lock_count = lock_count + 1 where id = $1`,
    [id],
  );
  assert.equal((await validate(t.db, a.access_token)).length, 1);
});

test('raw UPDATEs of disabled_at and deleted_at revoke every session', async () => {
  const d = await register(t.db, 'rv_raw_disabled');
  const a = await loginPair(t.db, 'rv_raw_disabled');
  await t.db.query('update pgauth.users set disabled_at = now() where id = $1', [d]);
  assert.deepEqual(await validate(t.db, a.access_token), []);
  assert.deepEqual(await revokedReasons(d), ['user_disabled']);
  const x = await register(t.db, 'rv_raw_deleted');
  const b = await loginPair(t.db, 'rv_raw_deleted');
  await t.db.query('update pgauth.users set deleted_at = now() where id = $1', [x]);
  assert.deepEqual(await validate(t.db, b.access_token), []);
  assert.deepEqual(await revokedReasons(x), ['user_deleted']);
});

test('grant_role and revoke_role change the roles validate returns for live sessions at once', async () => {
  const id = await register(t.db, 'rv_roles');
  const a = await loginPair(t.db, 'rv_roles');
  assert.deepEqual((await validate(t.db, a.access_token))[0]?.roles, []);
  await t.db.query(`select pgauth.grant_role($1, 'writer')`, [id]);
  await t.db.query(`select pgauth.grant_role($1, 'admin')`, [id]);
  assert.deepEqual((await validate(t.db, a.access_token))[0]?.roles, ['admin', 'writer']);
  await t.db.query(`select pgauth.revoke_role($1, 'admin')`, [id]);
  assert.deepEqual((await validate(t.db, a.access_token))[0]?.roles, ['writer']);
  const b = await loginPair(t.db, 'rv_roles');
  assert.deepEqual((await validate(t.db, b.access_token))[0]?.roles, ['writer']);
});

test('renaming or deleting a role in pgauth.roles reaches the roles of live sessions at once', async () => {
  const id = await register(t.db, 'rv_role_rename');
  await t.db.query(`select pgauth.grant_role($1, 'rv.old')`, [id]);
  const a = await loginPair(t.db, 'rv_role_rename');
  assert.deepEqual((await validate(t.db, a.access_token))[0]?.roles, ['rv.old']);
  await t.db.exec(`update pgauth.roles set name = 'rv.new' where name = 'rv.old'`);
  assert.deepEqual((await validate(t.db, a.access_token))[0]?.roles, ['rv.new']);
  await t.db.exec(`delete from pgauth.roles where name = 'rv.new'`);
  assert.deepEqual((await validate(t.db, a.access_token))[0]?.roles, []);
});

test('a username change updates the snapshot validate returns', async () => {
  const id = await register(t.db, 'rv_rename');
  const a = await loginPair(t.db, 'rv_rename');
  await t.db.query(`update pgauth.users set username = 'rv_renamed' where id = $1`, [id]);
  const v = await validate(t.db, a.access_token);
  assert.equal(v.length, 1, 'a rename does not revoke');
  assert.equal(v[0]?.username, 'rv_renamed');
});

test('revocation notifies pgauth_revocations with user_id, session_ids and reason', async () => {
  const id = await register(t.db, 'rv_notify');
  const a = await loginPair(t.db, 'rv_notify');
  const b = await loginPair(t.db, 'rv_notify');
  await t.db.query('select pgauth.revoke_session($1)', [a.session_id]);
  const first = { user_id: id, session_ids: [a.session_id], reason: 'admin' };
  assert.deepEqual(await messagesFor(id), [first]);
  await t.db.query('select pgauth.logout($1)', [b.access_token]);
  assert.deepEqual(await messagesFor(id), [
    first,
    { user_id: id, session_ids: [b.session_id], reason: 'logout' },
  ]);
});

test('one password change notifies once with every session id of the user', async () => {
  const id = await register(t.db, 'rv_notify_pw');
  const ids = [
    (await loginPair(t.db, 'rv_notify_pw')).session_id,
    (await loginPair(t.db, 'rv_notify_pw')).session_id,
  ];
  await t.db.query('select pgauth.set_password($1, $2)', [id, 'a brand new passphrase']);
  assert.deepEqual(await messagesFor(id), [
    { user_id: id, session_ids: ids.sort(), reason: 'password_changed' },
  ]);
});

test('rotation, role and username changes notify with reasons rotated and snapshot', async () => {
  const id = await register(t.db, 'rv_notify_snap');
  const a = await loginPair(t.db, 'rv_notify_snap');
  await t.db.query('select * from pgauth.refresh($1)', [a.refresh_token]);
  await t.db.query(`select pgauth.grant_role($1, 'viewer')`, [id]);
  await t.db.query(`update pgauth.users set username = 'rv_notify_snap2' where id = $1`, [id]);
  assert.deepEqual(
    (await messagesFor(id)).map((m) => [m.reason, m.session_ids]),
    [
      ['rotated', [a.session_id]],
      ['snapshot', [a.session_id]],
      ['snapshot', [a.session_id]],
    ],
  );
});

test('a revocation in a transaction that rolls back sends nothing and revokes nothing', async () => {
  const id = await register(t.db, 'rv_rollback');
  const a = await loginPair(t.db, 'rv_rollback');
  await assert.rejects(
    t.db.transaction(async (tx) => {
      await tx.query('select pgauth.revoke_user_sessions($1)', [id]);
      throw new Error('roll back');
    }),
    /roll back/,
  );
  assert.deepEqual(await messagesFor(id), [], 'nothing before the marker sent after it');
  assert.equal((await validate(t.db, a.access_token)).length, 1);
  // The channel still works: a committed revocation arrives.
  await t.db.query('select pgauth.revoke_user_sessions($1)', [id]);
  assert.equal((await messagesFor(id)).length, 1);
});
