import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postgresOnly, useTestDatabase } from '../helpers/db.ts';
import { PASSWORD, register, rejects, withSettings } from '../helpers/sql.ts';

const t = useTestDatabase();

test('register returns the new user id and stores the user with email and no roles', async () => {
  const id = await register(t.db, 'reg_alice', PASSWORD, 'alice@example.com');
  assert.match(id, /^[0-9a-f-]{36}$/);
  const u = await t.db.query('select * from pgauth.get_user($1)', [id]);
  assert.equal(u.rows.length, 1);
  assert.equal(u.rows[0]?.username, 'reg_alice');
  assert.equal(u.rows[0]?.email, 'alice@example.com');
  assert.deepEqual(u.rows[0]?.roles, []);
  assert.equal(u.rows[0]?.failed_logins, 0);
});

test('register with a taken username fails with TAKEN, case-insensitively', async () => {
  await register(t.db, 'reg_Taken');
  await rejects(register(t.db, 'reg_Taken'), 'TAKEN', 'username_taken');
  await rejects(register(t.db, 'REG_taken'), 'TAKEN', 'username_taken');
  const n = await t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.users where lower(username) = 'reg_taken'`,
  );
  assert.equal(n.rows[0]?.n, 1);
});

test('register frees the username of a deleted user', async () => {
  const old = await register(t.db, 'reg_reused');
  await t.db.query('select pgauth.delete_user($1)', [old]);
  const fresh = await register(t.db, 'reg_reused');
  assert.notEqual(fresh, old);
});

test('register with a malformed username fails with BADIN invalid_input', async () => {
  const bad: (string | null)[] = [
    null,
    '',
    'x'.repeat(65),
    'tab\there',
    'nl\nhere',
    ' leading',
    'trailing ',
    '0b9e2f3a-1c4d-4e5f-8a6b-7c8d9e0f1a2b',
    '0B9E2F3A1C4D4E5F8A6B7C8D9E0F1A2B',
  ];
  for (const username of bad) {
    await rejects(
      t.db.query('select pgauth.register($1, $2)', [username, PASSWORD]),
      'BADIN',
      'invalid_input',
    );
  }
});

test('register accepts a 64-character, non-ASCII or injection-shaped username literally', async () => {
  for (const username of ['y'.repeat(64), 'Zoë Ünïcødé 名前', `x'); drop table pgauth.users; --`]) {
    const id = await register(t.db, username);
    const u = await t.db.query<{ username: string }>('select * from pgauth.get_user($1)', [id]);
    assert.equal(u.rows[0]?.username, username);
  }
});

test('register with a malformed email fails with BADIN invalid_input', async () => {
  for (const email of ['no-at-sign', 'two@@example.com', 'sp ace@example.com', '@x', 'x@']) {
    await rejects(register(t.db, 'reg_mail', PASSWORD, email), 'BADIN', 'invalid_input');
  }
  await rejects(
    register(t.db, 'reg_mail', PASSWORD, `${'a'.repeat(250)}@b.cd`),
    'BADIN',
    'invalid_input',
  );
});

test('register with a weak password fails with WEAKP password_too_short', async () => {
  await rejects(register(t.db, 'reg_weak', 'short'), 'WEAKP', 'password_too_short');
});

test('register while registration is closed fails with REGOF; create_user still works', async () => {
  await withSettings(t.db, { allow_registration: false }, async () => {
    await rejects(register(t.db, 'reg_closed'), 'REGOF', 'registration_closed');
    const r = await t.db.query<{ id: string }>('select pgauth.create_user($1, $2) as id', [
      'reg_closed',
      PASSWORD,
    ]);
    assert.ok(r.rows[0]?.id);
  });
  const none = await t.db.query(`select 1 from pgauth.audit_log where event = 'register'
    and detail->>'username' = 'reg_closed'`);
  assert.equal(none.rows.length, 0);
});

test('create_user grants the given roles and audits user_created', async () => {
  const r = await t.db.query<{ id: string }>(
    `select pgauth.create_user('reg_admin', $1, 'admin@example.com', array['admin', 'reports.read']) as id`,
    [PASSWORD],
  );
  const id = r.rows[0]?.id;
  const u = await t.db.query('select * from pgauth.get_user($1)', [id]);
  assert.deepEqual(u.rows[0]?.roles, ['admin', 'reports.read']);
  const a = await t.db.query<{ event: string }>(
    'select event from pgauth.audit_log where user_id = $1 order by id',
    [id],
  );
  assert.deepEqual(
    a.rows.map((x) => x.event),
    ['user_created', 'role_granted', 'role_granted'],
  );
});

test('create_user fails with TAKEN, WEAKP and BADIN like register', async () => {
  await register(t.db, 'reg_ct');
  await rejects(
    t.db.query('select pgauth.create_user($1, $2)', ['REG_CT', PASSWORD]),
    'TAKEN',
    'username_taken',
  );
  await rejects(
    t.db.query('select pgauth.create_user($1, $2)', ['reg_ct2', 'reg_ct2']),
    'WEAKP',
    'password_too_short',
  );
  await rejects(
    t.db.query('select pgauth.create_user($1, $2)', ['', PASSWORD]),
    'BADIN',
    'invalid_input',
  );
});

test('create_user with an invalid role name fails with BADIN and creates no user', async () => {
  await rejects(
    t.db.query(`select pgauth.create_user('reg_badrole', $1, null, array['Not A Role'])`, [
      PASSWORD,
    ]),
    'BADIN',
    'invalid_input',
  );
  const n = await t.db.query(`select 1 from pgauth.users where username = 'reg_badrole'`);
  assert.equal(n.rows.length, 0);
});

test('concurrent registrations of one username: exactly one succeeds, the rest fail with TAKEN', {
  skip: postgresOnly,
}, async () => {
  const pool = t.connect({ max: 10 });
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) =>
      pool.query('select pgauth.register($1, $2)', [i % 2 ? 'reg_race' : 'REG_RACE', PASSWORD]),
    ),
  );
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 1);
  for (const r of results) {
    if (r.status === 'rejected') {
      assert.equal(r.reason.code, 'TAKEN');
      assert.equal(r.reason.message, 'username_taken');
    }
  }
});
