/**
 * pgauth.throttle (migration 0011): attempts counted in the database, per client network and per
 * username (folded by lower(), as pgauth.users compares usernames), in fixed windows that every
 * caller shares; past a limit it answers the seconds until the window ends.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { rejects, withClock } from '../helpers/sql.ts';

let t: TestDatabase;
before(async () => {
  t = await openTestDatabase();
});
after(() => t.close());

async function throttle(
  ip: string | null,
  username: string | null,
  ipMax = 1000,
  userMax = 3,
  windowMs = 60_000,
  scope = 'login',
): Promise<number> {
  const r = await t.db.query<{ wait: number }>(
    'select pgauth.throttle($1, $2, $3, $4, $5, $6) as wait',
    [scope, ip, ip === null ? null : ipMax, username, username === null ? null : userMax, windowMs],
  );
  return r.rows[0]?.wait as number;
}

test('throttle lets a username through up to its limit, then answers the seconds left in the window', async () => {
  assert.deepEqual(
    [
      await throttle('192.0.2.1', 'limit_a'),
      await throttle('192.0.2.2', 'limit_a'),
      await throttle('192.0.2.3', 'limit_a'),
    ],
    [0, 0, 0],
  );
  const wait = await throttle('192.0.2.4', 'limit_a');
  assert.ok(wait >= 59 && wait <= 60, `${wait} s`);
});

test('throttle folds the username with lower(), as pgauth.users compares usernames', async () => {
  for (const name of ['Folded_B', 'folded_b', 'FOLDED_B']) {
    assert.equal(await throttle(null, name), 0);
  }
  assert.ok((await throttle(null, 'fOlDeD_b')) > 0);
  const rows = await t.db.query<{ key: string }>(
    `select key from pgauth.rate_limits where bucket = 'login:user' and key = lower('FOLDED_B')`,
  );
  assert.equal(rows.rows.length, 1);
});

test('throttle counts per client network, and each scope has its own budget', async () => {
  for (let i = 0; i < 2; i++) assert.equal(await throttle('198.51.100.7', null, 2), 0);
  assert.ok((await throttle('198.51.100.7', null, 2)) > 0);
  assert.equal(await throttle('198.51.100.8', null, 2), 0, 'another network');
  assert.equal(await throttle('198.51.100.7', null, 2, 3, 60_000, 'register'), 0);
});

test('throttle starts a new window when the old one ended', async () => {
  for (let i = 0; i < 3; i++) await throttle(null, 'window_c', 1000, 3, 1_000);
  assert.ok((await throttle(null, 'window_c', 1000, 3, 1_000)) > 0);
  await withClock(t.db, '2 seconds', async () => {
    assert.equal(await throttle(null, 'window_c', 1000, 3, 1_000), 0);
  });
});

test('throttle refuses bad arguments with BADIN', async () => {
  await rejects(throttle('192.0.2.9', null, 1, 1, 0), 'BADIN', 'invalid_input');
  await rejects(throttle('192.0.2.9', null, 0), 'BADIN', 'invalid_input');
  await rejects(throttle('x'.repeat(101), null), 'BADIN', 'invalid_input');
  await rejects(throttle(null, 'u', 1, 1, 1000, 'Bad Scope'), 'BADIN', 'invalid_input');
});
