/**
 * What pgauth_revocations carries since migration 0010: the cache keys of the access tokens a
 * statement made stale (the first 8 bytes of their SHA-256, in hex) and nothing else, or a flush
 * when the sessions are truncated. Any role that can connect hears the channel, so a message must
 * tell an outsider nothing: no user id, no session id, no username, no reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Database, Unlisten } from '../../packages/client/src/db/types.ts';
import { cacheKey } from '../../packages/client/src/revocations.ts';
import { postgresOnly, useTestDatabaseAs } from '../helpers/db.ts';
import { sqlOn } from '../helpers/sql.ts';
import { waitFor } from '../helpers/wait.ts';

let unlisten: Unlisten;
/** Every payload heard on the channel, in order of arrival. */
const heard: string[] = [];

const t = useTestDatabaseAs({
  async setup(t) {
    unlisten = await t.db.listen('pgauth_revocations', (payload) => heard.push(payload));
  },
  teardown: () => unlisten(),
});
const { register, loginPair: login, validates, withClock } = sqlOn(t);

/** Waits for the first payload from index `from` on that `matches`; returns its index. */
function nextMatching(
  from: number,
  matches: (payload: string) => boolean,
  ms = 5_000,
): Promise<number> {
  return waitFor(
    `a matching notification; heard: ${heard.slice(from)}`,
    () => {
      const i = heard.findIndex((p, j) => j >= from && matches(p));
      return i >= 0 ? i : undefined;
    },
    ms,
    10,
  );
}

const naming =
  (...tokens: string[]) =>
  (payload: string): boolean =>
    tokens.every((tk) => payload.includes(cacheKey(tk)));

/** Logs `token` out; resolves with the index of the first payload from `from` on that names it. */
async function logoutHeard(from: number, token: string): Promise<number> {
  await t.db.query('select pgauth.logout($1)', [token]);
  return nextMatching(from, naming(token));
}

test('a revocation notifies {"keys": [...]} with the cache key of the access token and nothing else: no user id, session id, username or reason', async () => {
  const userId = await register('rn_plain');
  const a = await login('rn_plain');
  const from = heard.length;
  await t.db.query('select pgauth.revoke_session($1)', [a.session_id]);
  const i = await nextMatching(from, naming(a.access_token));
  const payload = heard[i] as string;
  assert.deepEqual(JSON.parse(payload), { keys: [cacheKey(a.access_token)] });
  const stored = await t.db.query<{ key: string }>(
    `select encode(substr(access_token_hash, 1, 8), 'hex') as key from pgauth.sessions where id = $1`,
    [a.session_id],
  );
  assert.equal(stored.rows[0]?.key, cacheKey(a.access_token), 'the key is 8 bytes of the hash');
  for (const secret of [userId, a.session_id, 'rn_plain', 'admin', a.access_token]) {
    assert.ok(!payload.includes(secret), `the payload does not carry ${secret}`);
  }
});

test('a rotation names the rotated access token; the next revocation names its successor', async () => {
  await register('rn_rotate');
  const a = await login('rn_rotate');
  let from = heard.length;
  const r = await t.db.query<{ access_token: string }>('select * from pgauth.refresh($1)', [
    a.refresh_token,
  ]);
  const next = r.rows[0]?.access_token as string;
  assert.ok(next, 'refresh returns a new pair');
  let i = await nextMatching(from, naming(a.access_token));
  assert.deepEqual(JSON.parse(heard[i] as string), { keys: [cacheKey(a.access_token)] });
  from = i + 1;
  i = await logoutHeard(from, next);
  assert.deepEqual(JSON.parse(heard[i] as string), { keys: [cacheKey(next)] });
});

test('one statement that revokes 250 sessions sends three messages of at most 100 keys, each key once', async () => {
  const id = await register('rn_many');
  // Ten logins at a time: all 250 at once wait past the pool's connect timeout on a loaded host.
  const logins: Awaited<ReturnType<typeof login>>[] = [];
  while (logins.length < 250) {
    logins.push(...(await Promise.all(Array.from({ length: 10 }, () => login('rn_many')))));
  }
  const want = logins.map((x) => cacheKey(x.access_token)).sort();
  assert.equal(new Set(want).size, 250, '250 sessions, 250 keys');
  const from = heard.length;
  await t.db.query('select pgauth.revoke_user_sessions($1)', [id]);
  const last = await nextMatching(from, (p) => p.includes(want.at(-1) as string));
  await nextMatching(from, (p) => p.includes(want[0] as string));
  const messages = heard.slice(from, last + 1).map((p) => JSON.parse(p) as { keys: string[] });
  assert.deepEqual(
    messages.map((m) => m.keys.length),
    [100, 100, 50],
  );
  assert.deepEqual(messages.flatMap((m) => m.keys).sort(), want);
});

test('a DELETE of live sessions names their keys; a revoked session is not named again', async () => {
  const id = await register('rn_delete');
  const live = await login('rn_delete');
  const revoked = await login('rn_delete');
  const before = heard.length;
  const from = (await logoutHeard(before, revoked.access_token)) + 1;
  await t.db.query('delete from pgauth.sessions where user_id = $1', [id]);
  const i = await nextMatching(from, naming(live.access_token));
  assert.deepEqual(
    heard.slice(from, i + 1).map((p) => JSON.parse(p)),
    [{ keys: [cacheKey(live.access_token)] }],
  );
});

test('a role with nothing but CONNECT hears pgauth_revocations and can send on it: PostgreSQL has no privilege for LISTEN or NOTIFY', {
  skip: postgresOnly,
}, async () => {
  const outsider: Database = await t.connectAs(null, 1);
  const overheard: string[] = [];
  const stop = await outsider.listen('pgauth_revocations', (p) => overheard.push(p));
  try {
    const userId = await register('rn_outsider');
    const a = await login('rn_outsider');
    await t.db.query('select pgauth.logout($1)', [a.access_token]);
    const from = heard.length;
    await outsider.query(`select pg_notify('pgauth_revocations', 'sent by an outsider')`);
    await nextMatching(from, (p) => p === 'sent by an outsider');
    // The outsider hears its own message too, after everything committed before it.
    while (!overheard.includes('sent by an outsider')) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      overheard.filter((p) => p !== 'sent by an outsider').map((p) => JSON.parse(p)),
      [{ keys: [cacheKey(a.access_token)] }],
      'the outsider heard the logout, and only its key',
    );
    for (const secret of [userId, a.session_id, 'rn_outsider', 'logout']) {
      assert.ok(!overheard[0]?.includes(secret), `the outsider did not learn ${secret}`);
    }
  } finally {
    await stop();
    await outsider.close();
  }
});

test('a TRUNCATE that rolls back sends nothing: the next message on the channel is a later revocation', async () => {
  await register('rn_rollback');
  const a = await login('rn_rollback');
  const from = heard.length;
  await assert.rejects(
    t.db.transaction(async (tx) => {
      await tx.query('truncate pgauth.sessions cascade');
      throw new Error('roll back');
    }),
    /roll back/,
  );
  const i = await logoutHeard(from, a.access_token);
  assert.equal(i, from, `nothing came before the logout: ${heard.slice(from, i)}`);
});

test('a DELETE names the deleted sessions whose access token is still valid, and no expired one', async () => {
  await register('rn_delete_expired');
  const live = await login('rn_delete_expired');
  const expired = await login('rn_delete_expired');
  let from = heard.length;
  await t.db.query(
    `update pgauth.sessions set access_expires_at = now() - interval '1 second' where id = $1`,
    [expired.session_id],
  );
  from = (await nextMatching(from, naming(expired.access_token))) + 1;
  await t.db.query('delete from pgauth.sessions where id = any($1::uuid[])', [
    [live.session_id, expired.session_id],
  ]);
  const i = await nextMatching(from, naming(live.access_token));
  assert.deepEqual(JSON.parse(heard[i] as string), { keys: [cacheKey(live.access_token)] });
  assert.ok(!heard.slice(from).some(naming(expired.access_token)), 'the expired one is not named');
});

test('a DELETE reads the pgauth clock: a session whose access token the wall clock calls expired, and pgauth.clock() valid, is named', async () => {
  await register('rn_delete_clock');
  // A day back, the session's 15 minutes are long past by now(), and still to come by clock().
  await withClock('-1 day', async () => {
    const a = await login('rn_delete_clock');
    assert.equal(await validates(a.access_token), true, 'valid on the pgauth clock');
    const from = heard.length;
    await t.db.query('delete from pgauth.sessions where id = $1', [a.session_id]);
    const i = await nextMatching(from, naming(a.access_token));
    assert.deepEqual(JSON.parse(heard[i] as string), { keys: [cacheKey(a.access_token)] });
  });
});

test('purge_expired() sends nothing for the sessions it deletes, live by the wall clock, revoked or not: the next message is a later logout', async () => {
  const id = await register('rn_purge');
  const sessions: Awaited<ReturnType<typeof login>>[] = [];
  while (sessions.length < 30) {
    sessions.push(...(await Promise.all(Array.from({ length: 10 }, () => login('rn_purge')))));
  }
  const before = heard.length;
  const revoked = sessions[0] as (typeof sessions)[number];
  const from = (await logoutHeard(before, revoked.access_token)) + 1;
  // 38 days on, every one of them is past its absolute expiry and the retention.
  const purged = await withClock('38 days', () =>
    t.db.query<{ n: number }>('select pgauth.purge_expired() as n'),
  );
  assert.ok((purged.rows[0]?.n ?? 0) >= 30, 'the purge deleted them');
  const left = await t.db.query('select 1 from pgauth.sessions where user_id = $1', [id]);
  assert.equal(left.rows.length, 0);
  await register('rn_purge_after');
  const after = await login('rn_purge_after');
  const i = await logoutHeard(from, after.access_token);
  assert.equal(i, from, `nothing came before the logout: ${heard.slice(from, i)}`);
});

test('TRUNCATE pgauth.sessions notifies {"flush": true} once and audits sessions_revoked truncated', async () => {
  await register('rn_truncate');
  const a = await login('rn_truncate');
  const from = heard.length;
  await t.db.exec('truncate pgauth.sessions cascade');
  const i = await nextMatching(from, (p) => p.includes('flush'));
  assert.deepEqual(JSON.parse(heard[i] as string), { flush: true });
  assert.equal(i, from, 'the flush is the only message: no key of the truncated rows');
  assert.deepEqual(
    (await t.db.query('select * from pgauth.validate($1)', [a.access_token])).rows,
    [],
  );
  const audit = await t.db.query<{ user_id: string | null; detail: unknown }>(
    `select user_id, detail from pgauth.audit_log where event = 'sessions_revoked'
     and detail->>'reason' = 'truncated'`,
  );
  assert.deepEqual(audit.rows, [{ user_id: null, detail: { reason: 'truncated' } }]);
  // The flush is the last thing the truncate sent: the next message is a later revocation's.
  const b = await login('rn_truncate');
  assert.equal(await logoutHeard(from, b.access_token), from + 1);
});

test('TRUNCATE pgauth.users cascade reaches the sessions and flushes too', async () => {
  await register('rn_users');
  await login('rn_users');
  const from = heard.length;
  await t.db.exec('truncate pgauth.users cascade');
  const i = await nextMatching(from, (p) => p.includes('flush'));
  assert.deepEqual(JSON.parse(heard[i] as string), { flush: true });
  assert.equal(
    (await t.db.query('select 1 from pgauth.sessions')).rows.length,
    0,
    'the sessions went with the users',
  );
});
