import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Unlisten } from '../../packages/client/src/db/types.ts';
import { cacheKey } from '../../packages/client/src/revocations.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { type TokenPair as Pair, rejects, sqlOn } from '../helpers/sql.ts';

let unlisten: Unlisten;
/** Every message on pgauth_revocations (migration 0010: the cache keys of stale access tokens). */
const messages: { keys: string[] }[] = [];
const t = useTestDatabase({
  async setup(t) {
    unlisten = await t.db.listen('pgauth_revocations', (payload) => {
      messages.push(JSON.parse(payload));
    });
  },
  teardown: () => unlisten(),
});
const { register, loginPair: login, validate, scalar } = sqlOn(t);

async function revokedReasons(userId: string): Promise<(string | null)[]> {
  const r = await t.db.query<{ revoked_reason: string | null }>(
    'select revoked_reason from pgauth.sessions where user_id = $1 order by created_at, id',
    [userId],
  );
  return r.rows.map((x) => x.revoked_reason);
}

/**
 * Waits until `atLeast` messages naming one of these access tokens have arrived (or the timeout
 * passes) and returns them all.
 */
async function messagesFor(tokens: string[], atLeast = 1, ms = 2000) {
  const keys = tokens.map(cacheKey);
  const deadline = Date.now() + ms;
  for (;;) {
    const mine = messages.filter((m) => m.keys?.some((k) => keys.includes(k)));
    if (mine.length >= atLeast || Date.now() > deadline) return mine;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('logout revokes the session: access and refresh tokens stop working; a second logout returns false', async () => {
  const id = await register('rv_logout');
  const p = await login('rv_logout');
  const keep = await login('rv_logout');
  assert.equal(await scalar('select pgauth.logout($1) as v', [p.access_token]), true);
  assert.deepEqual(await validate(p.access_token), []);
  assert.deepEqual(
    (await t.db.query('select * from pgauth.refresh($1)', [p.refresh_token])).rows,
    [],
  );
  assert.equal((await validate(keep.access_token)).length, 1);
  assert.equal(await scalar('select pgauth.logout($1) as v', [p.access_token]), false);
  assert.equal(await scalar('select pgauth.logout($1) as v', [p.refresh_token]), false);
  assert.equal(await scalar('select pgauth.logout($1) as v', [null]), false);
  assert.equal(await scalar('select pgauth.logout($1) as v', ['garbage']), false);
  const n = await scalar<number>(
    `select count(*)::int as v from pgauth.audit_log where event = 'logout' and user_id = $1`,
    [id],
  );
  assert.equal(n, 1);
});

test('revoke_token revokes by access or refresh token; unknown or rotated tokens return false', async () => {
  await register('rv_token');
  const a = await login('rv_token');
  assert.equal(await scalar('select pgauth.revoke_token($1) as v', [a.access_token]), true);
  assert.deepEqual(await validate(a.access_token), []);
  const b = await login('rv_token');
  assert.equal(await scalar('select pgauth.revoke_token($1) as v', [b.refresh_token]), true);
  assert.deepEqual(await validate(b.access_token), []);
  const c = await login('rv_token');
  await t.db.query('select * from pgauth.refresh($1)', [c.refresh_token]);
  assert.equal(await scalar('select pgauth.revoke_token($1) as v', [c.refresh_token]), false);
  for (const token of [null, '', 'pgr_unknown']) {
    assert.equal(await scalar('select pgauth.revoke_token($1) as v', [token]), false);
  }
});

test('revoke_user_sessions revokes every live session and returns the count', async () => {
  const id = await register('rv_user');
  const a = await login('rv_user');
  const b = await login('rv_user');
  assert.equal(await scalar('select pgauth.revoke_user_sessions($1) as v', [id]), 2);
  assert.deepEqual(await validate(a.access_token), []);
  assert.deepEqual(await validate(b.access_token), []);
  assert.deepEqual(await revokedReasons(id), ['admin', 'admin']);
  await login('rv_user');
  assert.equal(await scalar(`select pgauth.revoke_user_sessions($1, 'compromised') as v`, [id]), 1);
  assert.deepEqual(await revokedReasons(id), ['admin', 'admin', 'compromised']);
  assert.equal(await scalar('select pgauth.revoke_user_sessions($1) as v', [id]), 0);
});

test('revoke_user_sessions of an unknown user fails with NOUSR; a bad reason with BADIN', async () => {
  const id = await register('rv_user_bad');
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
  await register('rv_session');
  const a = await login('rv_session');
  const b = await login('rv_session');
  assert.equal(await scalar('select pgauth.revoke_session($1) as v', [a.session_id]), true);
  assert.deepEqual(await validate(a.access_token), []);
  assert.equal((await validate(b.access_token)).length, 1);
  assert.equal(await scalar('select pgauth.revoke_session($1) as v', [a.session_id]), false);
  assert.equal(await scalar('select pgauth.revoke_session(gen_random_uuid()) as v'), false);
});

test('a raw UPDATE of password_hash revokes every session of the user', async () => {
  const id = await register('rv_raw_pw');
  const a = await login('rv_raw_pw');
  const b = await login('rv_raw_pw');
  await t.db.query(
    `update pgauth.users set password_hash = pgauth._hash_password('another long passphrase', 4)
     where id = $1`,
    [id],
  );
  assert.deepEqual(await validate(a.access_token), []);
  assert.deepEqual(await validate(b.access_token), []);
  assert.deepEqual(await revokedReasons(id), ['password_changed', 'password_changed']);
  const audit = await t.db.query(
    `select detail from pgauth.audit_log where event = 'sessions_revoked' and user_id = $1`,
    [id],
  );
  assert.deepEqual(audit.rows, [{ detail: { reason: 'password_changed', count: 2 } }]);
});

test('a raw UPDATE of locked_until into the future revokes; into the past does not', async () => {
  const id = await register('rv_raw_lock');
  const a = await login('rv_raw_lock');
  await t.db.query(
    `update pgauth.users set locked_until = now() - interval '1 hour' where id = $1`,
    [id],
  );
  assert.equal((await validate(a.access_token)).length, 1);
  await t.db.query(
    `update pgauth.users set locked_until = now() + interval '1 hour' where id = $1`,
    [id],
  );
  assert.deepEqual(await validate(a.access_token), []);
  assert.deepEqual(await revokedReasons(id), ['user_locked']);
});

test('a raw UPDATE that mimics the automatic lockout exactly does not revoke (documented exception)', async () => {
  const id = await register('rv_raw_autolock');
  const a = await login('rv_raw_autolock');
  await t.db.query(
    `update pgauth.users set locked_until = now() + interval '5 minutes',
       lock_reason = 'too_many_failures', lock_count = lock_count + 1 where id = $1`,
    [id],
  );
  assert.equal((await validate(a.access_token)).length, 1);
});

test('raw UPDATEs of disabled_at and deleted_at revoke every session', async () => {
  const d = await register('rv_raw_disabled');
  const a = await login('rv_raw_disabled');
  await t.db.query('update pgauth.users set disabled_at = now() where id = $1', [d]);
  assert.deepEqual(await validate(a.access_token), []);
  assert.deepEqual(await revokedReasons(d), ['user_disabled']);
  const x = await register('rv_raw_deleted');
  const b = await login('rv_raw_deleted');
  await t.db.query('update pgauth.users set deleted_at = now() where id = $1', [x]);
  assert.deepEqual(await validate(b.access_token), []);
  assert.deepEqual(await revokedReasons(x), ['user_deleted']);
});

test('grant_role and revoke_role change the roles validate returns for live sessions at once', async () => {
  const id = await register('rv_roles');
  const a = await login('rv_roles');
  assert.deepEqual((await validate(a.access_token))[0]?.roles, []);
  await t.db.query(`select pgauth.grant_role($1, 'writer')`, [id]);
  await t.db.query(`select pgauth.grant_role($1, 'admin')`, [id]);
  assert.deepEqual((await validate(a.access_token))[0]?.roles, ['admin', 'writer']);
  await t.db.query(`select pgauth.revoke_role($1, 'admin')`, [id]);
  assert.deepEqual((await validate(a.access_token))[0]?.roles, ['writer']);
  const b = await login('rv_roles');
  assert.deepEqual((await validate(b.access_token))[0]?.roles, ['writer']);
});

test('renaming or deleting a role in pgauth.roles reaches the roles of live sessions at once', async () => {
  const id = await register('rv_role_rename');
  await t.db.query(`select pgauth.grant_role($1, 'rv.old')`, [id]);
  const a = await login('rv_role_rename');
  assert.deepEqual((await validate(a.access_token))[0]?.roles, ['rv.old']);
  await t.db.exec(`update pgauth.roles set name = 'rv.new' where name = 'rv.old'`);
  assert.deepEqual((await validate(a.access_token))[0]?.roles, ['rv.new']);
  await t.db.exec(`delete from pgauth.roles where name = 'rv.new'`);
  assert.deepEqual((await validate(a.access_token))[0]?.roles, []);
});

test('a username change updates the snapshot validate returns', async () => {
  const id = await register('rv_rename');
  const a = await login('rv_rename');
  await t.db.query(`update pgauth.users set username = 'rv_renamed' where id = $1`, [id]);
  const v = await validate(a.access_token);
  assert.equal(v.length, 1, 'a rename does not revoke');
  assert.equal(v[0]?.username, 'rv_renamed');
});

test('revocation notifies pgauth_revocations with the cache key of the access token', async () => {
  await register('rv_notify');
  const a = await login('rv_notify');
  const b = await login('rv_notify');
  await t.db.query('select pgauth.revoke_session($1)', [a.session_id]);
  assert.deepEqual(await messagesFor([a.access_token, b.access_token], 1), [
    { keys: [cacheKey(a.access_token)] },
  ]);
  await t.db.query('select pgauth.logout($1)', [b.access_token]);
  assert.deepEqual((await messagesFor([a.access_token, b.access_token], 2))[1], {
    keys: [cacheKey(b.access_token)],
  });
});

test('one password change notifies once with the key of every session of the user', async () => {
  const id = await register('rv_notify_pw');
  const tokens = [
    (await login('rv_notify_pw')).access_token,
    (await login('rv_notify_pw')).access_token,
  ];
  await t.db.query('select pgauth.set_password($1, $2)', [id, 'a brand new passphrase']);
  // A later revocation must come after every message of the password change.
  await register('rv_notify_pw_later');
  const later = await login('rv_notify_pw_later');
  await t.db.query('select pgauth.logout($1)', [later.access_token]);
  await messagesFor([later.access_token], 1);
  assert.deepEqual(await messagesFor(tokens, 1), [{ keys: tokens.map(cacheKey).sort() }]);
});

test('rotation, role and username changes each notify with the key of the token they made stale', async () => {
  const id = await register('rv_notify_snap');
  const a = await login('rv_notify_snap');
  const r = await t.db.query<Pair>('select * from pgauth.refresh($1)', [a.refresh_token]);
  const next = r.rows[0]?.access_token as string;
  await t.db.query(`select pgauth.grant_role($1, 'viewer')`, [id]);
  await t.db.query(`update pgauth.users set username = 'rv_notify_snap2' where id = $1`, [id]);
  const mine = await messagesFor([a.access_token, next], 3);
  assert.deepEqual(mine, [
    { keys: [cacheKey(a.access_token)] },
    { keys: [cacheKey(next)] },
    { keys: [cacheKey(next)] },
  ]);
});

test('a revocation in a transaction that rolls back sends nothing and revokes nothing', async () => {
  const id = await register('rv_rollback');
  const a = await login('rv_rollback');
  await assert.rejects(
    t.db.transaction(async (tx) => {
      await tx.query('select pgauth.revoke_user_sessions($1)', [id]);
      throw new Error('roll back');
    }),
    /roll back/,
  );
  assert.equal((await validate(a.access_token)).length, 1);
  // The committed revocation arrives, then a later one that must come after everything before
  // it: the committed one is the only message that named the token.
  await t.db.query('select pgauth.revoke_user_sessions($1)', [id]);
  await register('rv_rollback_later');
  const later = await login('rv_rollback_later');
  await t.db.query('select pgauth.logout($1)', [later.access_token]);
  await messagesFor([later.access_token], 1);
  assert.deepEqual(await messagesFor([a.access_token], 1), [{ keys: [cacheKey(a.access_token)] }]);
});
