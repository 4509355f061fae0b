import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestDatabase } from '../helpers/db.ts';
import { login as loginFrom, refresh, register, type TokenPair } from '../helpers/sql.ts';

const t = useTestDatabase();

const PW1 = 'SENTINEL-pw-one-7f3a9c';
const PW2 = 'SENTINEL-pw-two-b81e44';
const PW3 = 'SENTINEL-pw-wrong-0c5d21';
const PW4 = 'SENTINEL-pw-admin-set-99aa';
const PW5 = 'SENTINEL-pw-created-4e4e';
const WEAK = 'SENTINEL-wk';

/** pgauth.login from a client address and user agent, which the audit log keeps. */
const login = (username: string, password: string): Promise<TokenPair[]> =>
  loginFrom(t.db, username, password, '192.0.2.10', 'agent');

test('no password and no raw token appears anywhere in any pgauth table', async () => {
  const tokens: string[] = [];
  const keep = ([p, ...more]: TokenPair[]): TokenPair => {
    assert.ok(p && more.length === 0, 'one pair');
    tokens.push(p.access_token, p.refresh_token);
    return p;
  };
  const id = await register(t.db, 'sec_user', PW1);
  const a = keep(await login('sec_user', PW1));
  keep(await refresh(t.db, a.refresh_token));
  keep(await refresh(t.db, a.refresh_token)); // grace retry: the same pair again
  keep(await login('SEC_USER', PW1));
  assert.deepEqual(await login('sec_user', PW3), []);
  assert.deepEqual(await login('sec_nobody', PW3), []);
  // Errors must not echo the password either.
  await assert.rejects(
    t.db.query(`select pgauth.register('sec_weak', $1)`, [WEAK]),
    (err: Error & { detail?: string }) =>
      !`${err.message} ${err.detail ?? ''}`.includes('SENTINEL'),
  );
  await assert.rejects(
    t.db.query(`select pgauth.register('sec_weak', $1)`, [`SENTINEL-${'x'.repeat(1100)}`]),
    (err: Error & { detail?: string }) =>
      !`${err.message} ${err.detail ?? ''}`.includes('SENTINEL'),
  );
  await t.db.query('select pgauth.change_password($1, $2, $3)', [id, PW3, PW2]);
  await t.db.query('select pgauth.change_password($1, $2, $3)', [id, PW1, PW2]);
  const d = keep(await login('sec_user', PW2));
  keep(await refresh(t.db, d.refresh_token));
  await t.db.query('select pgauth.set_password($1, $2)', [id, PW4]);
  const e = keep(await login('sec_user', PW4));
  await t.db.query('select pgauth.logout($1)', [e.access_token]);
  const f = keep(await login('sec_user', PW4));
  await t.db.query('select pgauth.revoke_token($1)', [f.refresh_token]);
  await t.db.query(`select pgauth.create_user('sec_created', $1, null, array['admin'])`, [PW5]);
  keep(await login('sec_created', PW5));

  const tables = await t.db.query<{ table_name: string }>(
    `select table_name from information_schema.tables
     where table_schema = 'pgauth' and table_type = 'BASE TABLE' order by table_name`,
  );
  const names = tables.rows.map((r) => r.table_name);
  for (const expected of ['audit_log', 'rotated_refresh_tokens', 'sessions', 'settings', 'users']) {
    assert.ok(names.includes(expected), `${expected} is dumped`);
  }
  const secrets = [
    PW1,
    PW2,
    PW3,
    PW4,
    PW5,
    WEAK,
    'SENTINEL',
    ...tokens,
    ...tokens.map((x) => x.slice(4)),
  ];
  assert.equal(new Set(tokens).size, tokens.length - 2, 'the grace retry repeated one pair');
  let rows = 0;
  for (const name of names) {
    const r = await t.db.query<{ t: string }>(`select x::text as t from pgauth.${name} x`);
    rows += r.rows.length;
    const text = r.rows.map((x) => x.t).join('\n');
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `pgauth.${name} holds a secret (${secret.slice(0, 12)}…)`);
    }
  }
  assert.ok(rows > 10000, 'the dump read the tables');
  const sessions = await t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.sessions where user_id = $1`,
    [id],
  );
  assert.equal(sessions.rows[0]?.n, 5);
});
