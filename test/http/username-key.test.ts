/**
 * The per-username rate limits count a username the way the database folds it: pgauth compares
 * usernames with PostgreSQL's lower(), and the limiter asks the database for that very folding.
 * JavaScript's toLowerCase() folds differently ('İ' becomes 'i' + U+0307 there, 'i' in the
 * database), which let one account's guesses spread over several buckets.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, createUser, PASSWORD, startApp, type TestApp } from './helpers.ts';

let a: TestApp;
before(async () => {
  a = await startApp({
    rateLimit: {
      loginPerIp: 1_000,
      loginPerUser: 2,
      registerPerIp: 1_000,
      registerPerUser: 2,
      refreshPerIp: 1_000,
    },
  });
});
after(() => a.close());

test('spellings the database folds together share one per-username bucket: İVAN, ivan and IVAN are one account and one budget', async () => {
  await createUser(a, 'ivan');
  const folded = await a.t.db.query<{ a: string; b: string }>(
    `select lower('İVAN') as a, lower('ivan') as b`,
  );
  assert.equal(folded.rows[0]?.a, folded.rows[0]?.b, 'the database folds İVAN to ivan');
  assert.notEqual('İVAN'.toLowerCase(), 'ivan', 'JavaScript does not');

  const attempt = (username: string, password = 'not the password of ivan') =>
    call(a, 'POST', '/v1/login', { json: { username, password } });
  // The database takes İVAN for ivan: the right password logs in.
  assert.equal((await attempt('İVAN', PASSWORD)).status, 200);
  assert.equal((await attempt('ivan')).status, 401);
  const third = await attempt('IVAN');
  assert.equal(third.status, 429, 'the third attempt on one account within the window');
  assert.ok(Number(third.headers.get('retry-after')) > 0);
  assert.equal((await attempt('İvan')).status, 429);
  // Another account is untouched.
  await createUser(a, 'ivana');
  assert.equal((await attempt('ivana', PASSWORD)).status, 200);
});

test('registration attempts are counted by the database folding of the username too', async () => {
  const register = (username: string) =>
    call(a, 'POST', '/v1/users', { json: { username, password: PASSWORD } });
  assert.equal((await register('İLKER')).status, 201);
  assert.equal((await register('ilker')).status, 409, 'the database sees the same name');
  assert.equal((await register('ILKER')).status, 429);
});
