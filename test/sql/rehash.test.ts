import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseTogether } from '../helpers/barriers.ts';
import { postgresOnly, useTestDatabase } from '../helpers/db.ts';
import {
  login,
  PASSWORD,
  register,
  validates,
  WRONG_PASSWORD,
  withSettings,
} from '../helpers/sql.ts';

// The test database starts at bcrypt cost 4 (TEST_SETTINGS); these tests raise it to 5 at most,
// so that both engines stay fast.
const t = useTestDatabase();

async function account(id: string) {
  const r = await t.db.query<{ hash: string; changed: Date }>(
    'select password_hash as hash, password_changed_at as changed from pgauth.users where id = $1',
    [id],
  );
  return r.rows[0] as { hash: string; changed: Date };
}

async function lastLoginDetail(id: string): Promise<unknown> {
  const r = await t.db.query<{ detail: unknown }>(
    `select detail from pgauth.audit_log where user_id = $1 and event = 'login_success'
     order by id desc limit 1`,
    [id],
  );
  return r.rows[0]?.detail;
}

test('after bcrypt_cost rises, a successful login stores the hash at the new cost and revokes nothing', async () => {
  const id = await register(t.db, 'rh_up');
  const before = await account(id);
  assert.match(before.hash, /^\$2a\$04\$/);
  const [held] = await login(t.db, 'rh_up', PASSWORD);
  assert.ok(held);
  await withSettings(t.db, { bcrypt_cost: 5 }, async () => {
    assert.equal((await login(t.db, 'rh_up', PASSWORD)).length, 1);
    const after = await account(id);
    assert.match(after.hash, /^\$2a\$05\$/, 'upgraded to the setting’s cost');
    assert.deepEqual(after.changed, before.changed, 'an upgrade is not a password change');
    assert.ok(await validates(t.db, held.access_token), 'the session held before still validates');
    assert.deepEqual(await lastLoginDetail(id), { rehashed: true });
    // The same password still logs in, and once upgraded it is not hashed again.
    assert.equal((await login(t.db, 'rh_up', PASSWORD)).length, 1);
    assert.equal((await account(id)).hash, after.hash);
    assert.deepEqual(await lastLoginDetail(id), {});
    assert.equal((await login(t.db, 'rh_up', WRONG_PASSWORD)).length, 0);
  });
});

test('a failed login on an account hashed below the cost leaves its hash as it was', async () => {
  const id = await register(t.db, 'rh_fail');
  const before = await account(id);
  await withSettings(t.db, { bcrypt_cost: 5 }, async () => {
    assert.equal((await login(t.db, 'rh_fail', WRONG_PASSWORD)).length, 0);
    assert.equal((await account(id)).hash, before.hash);
    await t.db.query('select pgauth.lock_user($1)', [id]);
    assert.equal(
      (await login(t.db, 'rh_fail', PASSWORD)).length,
      0,
      'locked: no login, no upgrade',
    );
    assert.equal((await account(id)).hash, before.hash);
  });
});

test('lowering bcrypt_cost keeps the stronger hash an account already has', async () => {
  const id = await withSettings(t.db, { bcrypt_cost: 5 }, () => register(t.db, 'rh_down'));
  const before = await account(id);
  assert.match(before.hash, /^\$2a\$05\$/);
  assert.equal((await login(t.db, 'rh_down', PASSWORD)).length, 1);
  assert.equal((await account(id)).hash, before.hash);
});

test('a failed login two costs below the setting pads without error and changes nothing', async () => {
  const id = await register(t.db, 'rh_two');
  const before = await account(id);
  await withSettings(t.db, { bcrypt_cost: 6 }, async () => {
    assert.equal((await login(t.db, 'rh_two', WRONG_PASSWORD)).length, 0);
    await t.db.query('select pgauth.lock_user($1)', [id]);
    assert.equal((await login(t.db, 'rh_two', PASSWORD)).length, 0);
    assert.equal((await account(id)).hash, before.hash);
  });
});

test('a stored hash that is not bcrypt is upgraded to bcrypt at the next successful login', async () => {
  const id = await register(t.db, 'rh_md5');
  await t.db.query(
    `update pgauth.users set password_hash = pgauth._crypt(pgauth._prehash($2), '$1$saltsalt$')
     where id = $1`,
    [id, PASSWORD],
  );
  assert.match((await account(id)).hash, /^\$1\$/);
  assert.equal((await login(t.db, 'rh_md5', WRONG_PASSWORD)).length, 0);
  assert.match((await account(id)).hash, /^\$1\$/, 'a failed login upgrades nothing');
  assert.equal((await login(t.db, 'rh_md5', PASSWORD)).length, 1);
  assert.match((await account(id)).hash, /^\$2a\$04\$/);
  assert.deepEqual(await lastLoginDetail(id), { rehashed: true });
});

test('a re-hashing login then a password change in the same transaction revokes every session', async () => {
  const id = await register(t.db, 'rh_same_tx');
  const [held] = await login(t.db, 'rh_same_tx', PASSWORD);
  assert.ok(held);
  await withSettings(t.db, { bcrypt_cost: 5 }, async () => {
    await t.db.transaction(async (tx) => {
      const r = await tx.query('select * from pgauth.login($1, $2)', ['rh_same_tx', PASSWORD]);
      assert.equal(r.rows.length, 1);
      await tx.query(`select pgauth.set_password($1, 'another long passphrase')`, [id]);
    });
  });
  assert.equal(await validates(t.db, held.access_token), false);
});

test('after a re-hashing login on a connection, a raw UPDATE of password_hash on it still revokes', async () => {
  // One connection throughout (PGlite has only one): the setting pgauth.rehash was set and reset
  // on it, so it reads '' from then on.
  const id = await register(t.db, 'rh_raw');
  await withSettings(t.db, { bcrypt_cost: 5 }, async () => {
    assert.equal((await login(t.db, 'rh_raw', PASSWORD)).length, 1);
  });
  assert.deepEqual(await lastLoginDetail(id), { rehashed: true });
  const [held] = await login(t.db, 'rh_raw', PASSWORD);
  assert.ok(held);
  await t.db.query(`update pgauth.users set password_hash = '' where id = $1`, [id]);
  assert.equal(await validates(t.db, held.access_token), false);
});

test('an announced hash is no pass for a password change: set_password still revokes', async () => {
  const id = await register(t.db, 'rh_change');
  const [held] = await login(t.db, 'rh_change', PASSWORD);
  assert.ok(held);
  const announced = `${id}:${(await account(id)).hash}`;
  await t.db.transaction(async (tx) => {
    // The new hash is salted inside set_password: no caller can announce it in advance.
    await tx.query(`select set_config('pgauth.rehash', $1, true)`, [announced]);
    await tx.query(`select pgauth.set_password($1, 'another long passphrase')`, [id]);
  });
  assert.equal(await validates(t.db, held.access_token), false);
});

test('concurrent correct logins during the upgrade all succeed, and one of them re-hashes', {
  skip: postgresOnly,
}, async () => {
  const id = await register(t.db, 'rh_parallel');
  // The user's row is held until all six logins wait on it (to record the login), then released.
  const results = await withSettings(t.db, { bcrypt_cost: 5 }, () =>
    releaseTogether(t, { table: 'users', id }, 'pgauth.login(', 6, (pool) =>
      login(pool, 'rh_parallel', PASSWORD),
    ),
  );
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value.length : r.reason)),
    [1, 1, 1, 1, 1, 1],
  );
  assert.match((await account(id)).hash, /^\$2a\$05\$/);
  const r = await t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.audit_log
     where user_id = $1 and event = 'login_success' and detail = '{"rehashed": true}'`,
    [id],
  );
  assert.equal(r.rows[0]?.n, 1);
});
