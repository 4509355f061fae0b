import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestDatabase, postgresOnly, type TestDatabase } from '../helpers/db.ts';

// The test database starts at bcrypt cost 4 (TEST_SETTINGS); these tests raise it to 5 at most,
// so that both engines stay fast.
const PW = 'a long enough passphrase';
const WRONG = 'not the right passphrase';
let t: TestDatabase;
before(async () => {
  t = await openTestDatabase();
});
after(() => t.close());

const setCost = (cost: number) => t.db.query('update pgauth.settings set bcrypt_cost = $1', [cost]);

async function register(username: string): Promise<string> {
  const r = await t.db.query<{ id: string }>('select pgauth.register($1, $2) as id', [
    username,
    PW,
  ]);
  return r.rows[0]?.id as string;
}

async function login(username: string, password: string): Promise<{ access_token: string }[]> {
  const r = await t.db.query<{ access_token: string }>('select * from pgauth.login($1, $2)', [
    username,
    password,
  ]);
  return r.rows;
}

async function account(id: string) {
  const r = await t.db.query<{ hash: string; changed: Date }>(
    'select password_hash as hash, password_changed_at as changed from pgauth.users where id = $1',
    [id],
  );
  return r.rows[0] as { hash: string; changed: Date };
}

async function validates(token: string): Promise<boolean> {
  return (await t.db.query('select * from pgauth.validate($1)', [token])).rows.length === 1;
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
  const id = await register('rh_up');
  const before = await account(id);
  assert.match(before.hash, /^\$2a\$04\$/);
  const [held] = await login('rh_up', PW);
  assert.ok(held);
  await setCost(5);
  try {
    assert.equal((await login('rh_up', PW)).length, 1);
    const after = await account(id);
    assert.match(after.hash, /^\$2a\$05\$/, 'upgraded to the setting’s cost');
    assert.deepEqual(after.changed, before.changed, 'an upgrade is not a password change');
    assert.ok(await validates(held.access_token), 'the session held before still validates');
    assert.deepEqual(await lastLoginDetail(id), { rehashed: true });
    // The same password still logs in, and once upgraded it is not hashed again.
    assert.equal((await login('rh_up', PW)).length, 1);
    assert.equal((await account(id)).hash, after.hash);
    assert.deepEqual(await lastLoginDetail(id), {});
    assert.equal((await login('rh_up', WRONG)).length, 0);
  } finally {
    await setCost(4);
  }
});

test('a failed login on an account hashed below the cost leaves its hash as it was', async () => {
  const id = await register('rh_fail');
  const before = await account(id);
  await setCost(5);
  try {
    assert.equal((await login('rh_fail', WRONG)).length, 0);
    assert.equal((await account(id)).hash, before.hash);
    await t.db.query('select pgauth.lock_user($1)', [id]);
    assert.equal((await login('rh_fail', PW)).length, 0, 'locked: no login, no upgrade');
    assert.equal((await account(id)).hash, before.hash);
  } finally {
    await setCost(4);
  }
});

test('lowering bcrypt_cost keeps the stronger hash an account already has', async () => {
  await setCost(5);
  let id: string;
  try {
    id = await register('rh_down');
  } finally {
    await setCost(4);
  }
  const before = await account(id);
  assert.match(before.hash, /^\$2a\$05\$/);
  assert.equal((await login('rh_down', PW)).length, 1);
  assert.equal((await account(id)).hash, before.hash);
});

test('a failed login two costs below the setting pads without error and changes nothing', async () => {
  const id = await register('rh_two');
  const before = await account(id);
  await setCost(6);
  try {
    assert.equal((await login('rh_two', WRONG)).length, 0);
    await t.db.query('select pgauth.lock_user($1)', [id]);
    assert.equal((await login('rh_two', PW)).length, 0);
    assert.equal((await account(id)).hash, before.hash);
  } finally {
    await setCost(4);
  }
});

test('a stored hash that is not bcrypt is upgraded to bcrypt at the next successful login', async () => {
  const id = await register('rh_md5');
  await t.db.query(
    `update pgauth.users set password_hash = pgauth._crypt(pgauth._prehash($2), '$1$saltsalt$')
     where id = $1`,
    [id, PW],
  );
  assert.match((await account(id)).hash, /^\$1\$/);
  assert.equal((await login('rh_md5', WRONG)).length, 0);
  assert.match((await account(id)).hash, /^\$1\$/, 'a failed login upgrades nothing');
  assert.equal((await login('rh_md5', PW)).length, 1);
  assert.match((await account(id)).hash, /^\$2a\$04\$/);
  assert.deepEqual(await lastLoginDetail(id), { rehashed: true });
});

test('a re-hashing login then a password change in the same transaction revokes every session', async () => {
  const id = await register('rh_same_tx');
  const [held] = await login('rh_same_tx', PW);
  assert.ok(held);
  await setCost(5);
  try {
    await t.db.transaction(async (tx) => {
      const r = await tx.query('select * from pgauth.login($1, $2)', ['rh_same_tx', PW]);
      assert.equal(r.rows.length, 1);
      await tx.query(`select pgauth.set_password($1, 'another long passphrase')`, [id]);
    });
  } finally {
    await setCost(4);
  }
  assert.equal(await validates(held.access_token), false);
});

test('after a re-hashing login on a connection, a raw UPDATE of password_hash on it still revokes', async () => {
  // One connection throughout (PGlite has only one): the setting pgauth.rehash was set and reset
  // on it, so it reads '' from then on.
  const id = await register('rh_raw');
  await setCost(5);
  try {
    assert.equal((await login('rh_raw', PW)).length, 1);
  } finally {
    await setCost(4);
  }
  assert.deepEqual(await lastLoginDetail(id), { rehashed: true });
  const [held] = await login('rh_raw', PW);
  assert.ok(held);
  await t.db.query(`update pgauth.users set password_hash = '' where id = $1`, [id]);
  assert.equal(await validates(held.access_token), false);
});

test('an announced hash is no pass for a password change: set_password still revokes', async () => {
  const id = await register('rh_change');
  const [held] = await login('rh_change', PW);
  assert.ok(held);
  const announced = `${id}:${(await account(id)).hash}`;
  await t.db.transaction(async (tx) => {
    // The new hash is salted inside set_password: no caller can announce it in advance.
    await tx.query(`select set_config('pgauth.rehash', $1, true)`, [announced]);
    await tx.query(`select pgauth.set_password($1, 'another long passphrase')`, [id]);
  });
  assert.equal(await validates(held.access_token), false);
});

test('concurrent correct logins during the upgrade all succeed, and one of them re-hashes', {
  skip: postgresOnly,
}, async () => {
  const id = await register('rh_parallel');
  const pool = t.connect({ max: 6 });
  await setCost(5);
  try {
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        pool.query('select * from pgauth.login($1, $2)', ['rh_parallel', PW]),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.rows.length),
      [1, 1, 1, 1, 1, 1],
    );
  } finally {
    await setCost(4);
    await pool.close();
  }
  assert.match((await account(id)).hash, /^\$2a\$05\$/);
  const r = await t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.audit_log
     where user_id = $1 and event = 'login_success' and detail = '{"rehashed": true}'`,
    [id],
  );
  assert.equal(r.rows[0]?.n, 1);
});
