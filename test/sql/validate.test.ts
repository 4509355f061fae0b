import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestDatabase } from '../helpers/db.ts';
import { loginPair, session, validate, withClock } from '../helpers/sql.ts';

const t = useTestDatabase();

test('validate returns one row with user_id, session_id, username, roles, expires_at, aal and subject_type user', async () => {
  const p = await session(t.db, 'va_ok');
  await t.db.query(`select pgauth.grant_role($1, 'reader')`, [p.user_id]);
  const rows = await validate(t.db, p.access_token);
  assert.deepEqual(rows, [
    {
      user_id: p.user_id,
      session_id: p.session_id,
      username: 'va_ok',
      roles: ['reader'],
      expires_at: p.access_expires_at,
      aal: 1,
      subject_type: 'user',
    },
  ]);
});

test('validate returns zero rows, never raises, for NULL, empty, garbage and a 1 MB string', async () => {
  const p = await session(t.db, 'va_garbage');
  const inputs: unknown[] = [
    null,
    '',
    'garbage',
    'pga_',
    `${p.access_token}x`,
    p.access_token.slice(0, -1),
    p.access_token.toUpperCase(),
    `pga_${'A'.repeat(43)}`,
    "' or 1=1 --",
    'x'.repeat(1024 * 1024),
    p.session_id,
  ];
  for (const input of inputs)
    assert.deepEqual(await validate(t.db, input), [], String(input).slice(0, 40));
});

test('validate returns zero rows for a refresh token', async () => {
  const p = await session(t.db, 'va_refresh');
  assert.deepEqual(await validate(t.db, p.refresh_token), []);
});

test('validate returns zero rows once access_token_ttl (15 min) has passed', async () => {
  const p = await session(t.db, 'va_expired');
  await withClock(t.db, '14 minutes 59 seconds', async () => {
    assert.equal((await validate(t.db, p.access_token)).length, 1);
  });
  await withClock(t.db, '15 minutes 1 second', async () => {
    assert.deepEqual(await validate(t.db, p.access_token), []);
  });
  assert.equal((await validate(t.db, p.access_token)).length, 1, 'the clock is back');
});

test('validate returns zero rows for a revoked (logged out) token', async () => {
  const p = await session(t.db, 'va_revoked');
  const other = await loginPair(t.db, 'va_revoked');
  await t.db.query('select pgauth.logout($1)', [p.access_token]);
  assert.deepEqual(await validate(t.db, p.access_token), []);
  assert.equal(
    (await validate(t.db, other.access_token)).length,
    1,
    'other sessions are untouched',
  );
});

test('validate writes nothing', async () => {
  const p = await session(t.db, 'va_readonly');
  const count = async () =>
    (await t.db.query<{ n: number }>('select count(*)::int as n from pgauth.audit_log')).rows[0]?.n;
  const before = await count();
  await validate(t.db, p.access_token);
  await validate(t.db, 'garbage');
  assert.equal(await count(), before);
  const fn = await t.db.query<{ provolatile: string }>(
    `select provolatile from pg_proc where oid = 'pgauth.validate(text)'::regprocedure`,
  );
  assert.equal(fn.rows[0]?.provolatile, 's', 'validate is STABLE');
});

test('validate_many answers each position as validate does, and only the valid ones', async () => {
  const a = await session(t.db, 'vm_a');
  const b = await session(t.db, 'vm_b');
  const revoked = await session(t.db, 'vm_revoked');
  await t.db.query('select pgauth.logout($1)', [revoked.access_token]);
  const tokens = [
    'garbage',
    a.access_token,
    revoked.access_token,
    b.access_token,
    a.access_token,
    a.refresh_token,
    '',
  ];
  const r = await t.db.query<{ ord: number; user_id: string; session_id: string }>(
    'select ord, user_id, session_id from pgauth.validate_many($1::text[]) order by ord',
    [tokens],
  );
  assert.deepEqual(
    r.rows.map((x) => [x.ord, x.user_id, x.session_id]),
    [
      [2, a.user_id, a.session_id],
      [4, b.user_id, b.session_id],
      [5, a.user_id, a.session_id],
    ],
  );
  for (const [i, token] of tokens.entries()) {
    const single = await validate(t.db, token);
    assert.equal(single.length, r.rows.some((x) => x.ord === i + 1) ? 1 : 0, `position ${i + 1}`);
  }
});

test('validate_many takes an empty array or NULL, and refuses more than 1000 tokens', async () => {
  assert.equal(
    (await t.db.query('select * from pgauth.validate_many($1::text[])', [[]])).rows.length,
    0,
  );
  assert.equal((await t.db.query('select * from pgauth.validate_many(null)')).rows.length, 0);
  await assert.rejects(
    t.db.query('select * from pgauth.validate_many($1::text[])', [
      Array.from({ length: 1001 }, (_, i) => `t${i}`),
    ]),
    (err: { code?: string; message?: string }) =>
      err.code === 'BADIN' && err.message === 'invalid_input',
  );
});

test('a second session with the access or refresh token hash of another is refused (23P01)', async () => {
  const p = await session(t.db, 'va_unique');
  // As the superuser, straight into the table: no pgauth function would ever reuse a hash.
  for (const column of ['access_token_hash', 'refresh_token_hash']) {
    const other = column === 'access_token_hash' ? 'refresh_token_hash' : 'access_token_hash';
    await assert.rejects(
      t.db.query(
        `insert into pgauth.sessions (user_id, username, ${column}, ${other},
           access_expires_at, refresh_expires_at, expires_at)
         select s.user_id, s.username, s.${column}, pgauth._random_bytes(32),
           s.access_expires_at, s.refresh_expires_at, s.expires_at
         from pgauth.sessions s where s.id = $1`,
        [p.session_id],
      ),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, '23P01', `${column}: ${err.message}`);
        return true;
      },
    );
  }
  // The original still validates: the refused inserts changed nothing.
  assert.equal((await validate(t.db, p.access_token)).length, 1);
});
