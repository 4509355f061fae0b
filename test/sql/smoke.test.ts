import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
before(async () => {
  t = await openTestDatabase();
});
after(() => t.close());

test('register, login and validate round trip', async () => {
  const { rows } = await t.db.query<{ id: string }>(
    `select pgauth.register('smoke', 'a long enough passphrase') as id`,
  );
  const login = await t.db.query<{ access_token: string }>(
    `select * from pgauth.login('smoke', 'a long enough passphrase')`,
  );
  assert.equal(login.rows.length, 1);
  const v = await t.db.query<{ user_id: string }>('select * from pgauth.validate($1)', [
    login.rows[0]?.access_token,
  ]);
  assert.equal(v.rows[0]?.user_id, rows[0]?.id);
});
