/**
 * Service accounts, API keys and client credentials at the SQL level (migration 0013): keys are
 * shown once and stored hashed, validate accepts them with one lookup and reports a service
 * account, and every revocation notifies the caches with the keys' cache keys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheKey } from '../../packages/client/src/revocations.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { type NotificationLog, recordNotifications } from '../helpers/notifications.ts';
import { rejects, scalar, session, validate, withClock, withSettings } from '../helpers/sql.ts';

let log: NotificationLog<{ keys?: string[]; flush?: boolean }>;
const t = useTestDatabase({
  async setup(db) {
    log = await recordNotifications(db.db, 'pgauth_revocations');
  },
  async teardown() {
    await log.close();
  },
});

type Key = { id: string; key: string };

async function account(name: string, roles: string[] = []): Promise<string> {
  return scalar<string>(t.db, 'select pgauth.create_service_account($1, $2::text[]) as v', [
    name,
    roles,
  ]);
}

async function apiKey(accountName: string, expiresAt: string | null = null): Promise<Key> {
  const r = await t.db.query<Key>('select * from pgauth.create_api_key($1, $2, $3)', [
    accountName,
    'ci',
    expiresAt,
  ]);
  return r.rows[0] as Key;
}

type Grant = {
  service_account_id: string;
  api_key_id: string;
  token_id: string;
  access_token: string | null;
  token_format: string;
  roles: string[];
  expires_at: Date;
};

async function clientCredentials(
  clientId: string,
  secret: string,
  scope: string[] | null = null,
): Promise<Grant[]> {
  return (
    await t.db.query<Grant>('select * from pgauth.client_credentials($1, $2, $3::text[])', [
      clientId,
      secret,
      scope,
    ])
  ).rows;
}

/** Whether a message heard after `from` named the cache key of `token`. */
async function notified(from: number, token: string): Promise<boolean> {
  const heard = (await log.settle()).slice(from);
  return heard.some((m) => m.keys?.includes(cacheKey(token)));
}

test('create_api_key returns a pgk_ key of 256 bits once and stores only its SHA-256', async () => {
  await account('sa-store', ['reader']);
  const k = await apiKey('sa-store');
  assert.match(k.key, /^pgk_[A-Za-z0-9_-]{43}$/);
  const stored = await t.db.query<{ hex: string; name: string }>(
    `select encode(key_hash, 'hex') as hex, name from pgauth.api_keys where id = $1`,
    [k.id],
  );
  assert.equal(
    stored.rows[0]?.hex,
    await scalar<string>(t.db, `select encode(sha256(convert_to($1, 'UTF8')), 'hex') as v`, [
      k.key,
    ]),
  );
  const dump = await scalar<string>(
    t.db,
    'select row_to_json(k)::text as v from pgauth.api_keys k',
  );
  assert.ok(!dump.includes(k.key), 'the key is not stored');
});

test('validate accepts an API key and reports the service account and its roles', async () => {
  const id = await account('sa-validate', ['writer', 'reader', 'reader']);
  const k = await apiKey('sa-validate');
  const rows = await validate(t.db, k.key);
  assert.equal(rows.length, 1);
  assert.deepEqual(
    { ...rows[0], expires_at: undefined },
    {
      user_id: id,
      session_id: k.id,
      username: 'sa-validate',
      roles: ['reader', 'writer'],
      expires_at: undefined,
      aal: 1,
      subject_type: 'service_account',
    },
  );
  assert.equal(rows[0]?.expires_at.getUTCFullYear(), 9999, 'no expiry: year 9999');
  const many = await t.db.query<{ ord: number; subject_type: string }>(
    'select ord, subject_type from pgauth.validate_many($1::text[])',
    [['garbage', k.key]],
  );
  assert.deepEqual(many.rows, [{ ord: 2, subject_type: 'service_account' }]);
  const user = await session(t.db, 'mi_user');
  assert.equal((await validate(t.db, user.access_token))[0]?.subject_type, 'user');
});

test('validate refuses an expired, revoked or garbled key, and a key of a disabled account', async () => {
  await account('sa-refuse');
  const soon = await apiKey('sa-refuse', new Date(Date.now() + 3_600_000).toISOString());
  assert.equal((await validate(t.db, soon.key)).length, 1);
  await withClock(t.db, '2 hours', async () => {
    assert.deepEqual(await validate(t.db, soon.key), []);
  });
  for (const garbled of [`${soon.key}x`, soon.key.slice(0, -1), 'pgk_', 'pgs_', soon.id])
    assert.deepEqual(await validate(t.db, garbled), []);
  const revoked = await apiKey('sa-refuse');
  const from = log.received.length;
  assert.equal(await scalar(t.db, 'select pgauth.revoke_api_key($1) as v', [revoked.id]), true);
  assert.deepEqual(await validate(t.db, revoked.key), []);
  assert.ok(await notified(from, revoked.key), 'the revocation notified the key');
  assert.equal(await scalar(t.db, 'select pgauth.revoke_api_key($1) as v', [revoked.id]), false);
  const live = await apiKey('sa-refuse');
  const before = log.received.length;
  await t.db.query(`select pgauth.disable_service_account('sa-refuse')`);
  assert.deepEqual(await validate(t.db, live.key), []);
  assert.ok(await notified(before, live.key), 'disabling the account notified its keys');
  await rejects(apiKey('sa-refuse'), 'SVCOF', 'service_account_disabled');
});

test('a raw UPDATE of the account roles reaches its keys and notifies them', async () => {
  await account('sa-roles', ['a']);
  const k = await apiKey('sa-roles');
  const from = log.received.length;
  await t.db.query(`update pgauth.service_accounts set roles = '{b}' where name = 'sa-roles'`);
  assert.deepEqual((await validate(t.db, k.key))[0]?.roles, ['b']);
  assert.ok(await notified(from, k.key));
});

test('last_used_at is written by a validation at most once a minute', async () => {
  await account('sa-used');
  const k = await apiKey('sa-used');
  const lastUsed = () =>
    scalar<Date | null>(t.db, 'select last_used_at as v from pgauth.api_keys where id = $1', [
      k.id,
    ]);
  assert.equal(await lastUsed(), null);
  await validate(t.db, k.key);
  const first = await lastUsed();
  assert.ok(first instanceof Date);
  await validate(t.db, k.key);
  assert.deepEqual(await lastUsed(), first, 'not written again within the minute');
  await withClock(t.db, '2 minutes', async () => {
    await validate(t.db, k.key);
    assert.ok(((await lastUsed()) as Date) > first);
  });
});

test('a read-only transaction validates an API key without writing', async () => {
  await account('sa-readonly');
  const k = await apiKey('sa-readonly');
  const rows = await t.db.transaction(async (tx) => {
    await tx.exec('set transaction read only');
    return (await tx.query('select * from pgauth.validate($1)', [k.key])).rows;
  });
  assert.equal(rows.length, 1);
});

test('bad input to the admin functions fails with a clear code and changes nothing', async () => {
  await rejects(account('Bad Name'), 'BADIN', 'invalid_input');
  await rejects(account('sa-badroles', ['NOT OK']), 'BADIN', 'invalid_input');
  await account('sa-taken');
  await rejects(account('sa-taken'), 'TAKEN', 'name_taken');
  await rejects(apiKey('sa-nobody'), 'NOSVC', 'service_account_not_found');
  await rejects(apiKey('sa-taken', '2000-01-01T00:00:00Z'), 'BADIN', 'invalid_input');
  await rejects(
    t.db.query('select pgauth.revoke_api_key(gen_random_uuid())'),
    'NOKEY',
    'api_key_not_found',
  );
  assert.equal(
    await scalar<number>(
      t.db,
      `select count(*)::int as v from pgauth.service_accounts where name in ('sa-badroles', 'Bad Name')`,
    ),
    0,
  );
  const keys = await t.db.query(`select pgauth.list_api_keys('sa-taken')`);
  assert.equal(keys.rows.length, 0);
});

test('client_credentials issues a pgs_ token limited to the scope, and fails closed', async () => {
  const id = await account('sa-cc', ['orders.read', 'orders.write']);
  const k = await apiKey('sa-cc');
  const [all] = await clientCredentials('sa-cc', k.key);
  assert.equal(all?.service_account_id, id);
  assert.equal(all?.token_format, 'opaque');
  assert.match(all?.access_token ?? '', /^pgs_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(all?.roles, ['orders.read', 'orders.write']);
  const [narrow] = await clientCredentials('sa-cc', k.key, ['orders.read']);
  const v = await validate(t.db, narrow?.access_token);
  assert.deepEqual(v[0]?.roles, ['orders.read']);
  assert.equal(v[0]?.subject_type, 'service_account');
  assert.equal(v[0]?.session_id, narrow?.token_id);
  await rejects(clientCredentials('sa-cc', k.key, ['admin']), 'SCOPE', 'invalid_scope');
  assert.deepEqual(await clientCredentials('sa-other', k.key), [], 'another client_id');
  assert.deepEqual(await clientCredentials('sa-cc', `${k.key}x`), [], 'a wrong secret');
  assert.deepEqual(await clientCredentials('sa-cc', narrow?.access_token as string), []);
  const failures = await scalar<number>(
    t.db,
    `select count(*)::int as v from pgauth.audit_log where event = 'client_authentication_failed'`,
  );
  assert.ok(failures >= 3);
  const audit = await scalar<string>(
    t.db,
    `select coalesce(string_agg(detail::text, ' '), '') as v from pgauth.audit_log`,
  );
  assert.ok(!audit.includes(k.key.slice(4)), 'no key in the audit log');
  const from = log.received.length;
  await t.db.query('select pgauth.revoke_api_key($1)', [k.id]);
  assert.deepEqual(await validate(t.db, narrow?.access_token), [], 'the token went with its key');
  assert.ok(await notified(from, narrow?.access_token as string));
});

test('client_credentials in jwt format returns no token but a jti whose cache key notifies', async () => {
  await account('sa-jwt', ['r']);
  await t.db.query(`select pgauth.set_service_account_token_format('sa-jwt', 'jwt')`);
  const k = await apiKey('sa-jwt');
  const [g] = await withSettings(t.db, { service_token_ttl: '2 minutes' }, () =>
    clientCredentials('sa-jwt', k.key),
  );
  assert.equal(g?.token_format, 'jwt');
  assert.equal(g?.access_token, null);
  const live = await t.db.query('select * from pgauth.validate_jti($1)', [g?.token_id]);
  assert.equal(live.rows.length, 1);
  const from = log.received.length;
  await t.db.query(`select pgauth.disable_service_account('sa-jwt')`);
  assert.ok(await notified(from, `pgj_${g?.token_id}`), 'the jti key was notified');
  assert.equal(
    (await t.db.query('select * from pgauth.validate_jti($1)', [g?.token_id])).rows.length,
    0,
  );
});

test('purge_service_tokens deletes expired token rows only, silently', async () => {
  await account('sa-purge', ['r']);
  const k = await apiKey('sa-purge');
  const [g] = await clientCredentials('sa-purge', k.key);
  assert.equal(await scalar(t.db, 'select pgauth.purge_service_tokens() as v'), 0);
  await withClock(t.db, '2 days', async () => {
    const from = log.received.length;
    assert.ok((await scalar<number>(t.db, 'select pgauth.purge_service_tokens() as v')) >= 1);
    assert.ok(!(await notified(from, g?.access_token as string)), 'an expired row is in no cache');
    assert.equal((await validate(t.db, k.key)).length, 1, 'the key itself stays');
  });
  await rejects(
    t.db.query(`select pgauth.purge_service_tokens('-1 day')`),
    'BADIN',
    'invalid_input',
  );
});
