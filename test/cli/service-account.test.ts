/**
 * `pgauth service-account` and `pgauth api-key` spawned as the real binary: the key printed once
 * validates as its service account, listings never show it, revoke and disable take effect.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validate } from '../helpers/sql.ts';
import { useCliTarget } from './harness.ts';

const t = useCliTarget();
const { cli, fails } = t;

test('service-account create, list and disable; api-key create, list and revoke', async () => {
  const id = (await cli(['service-account', 'create', 'etl', '--role', 'warehouse.write'])).trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  const key = (await cli(['api-key', 'create', 'etl', 'nightly', '--expires', '30d'])).trim();
  assert.match(key, /^pgk_[A-Za-z0-9_-]{43}$/);
  const [row] = await validate(t.target.db, key);
  assert.equal(row?.user_id, id);
  assert.equal(row?.subject_type, 'service_account');
  assert.deepEqual(row?.roles, ['warehouse.write']);

  const listed = JSON.parse(await cli(['api-key', 'list', 'etl', '--json']));
  assert.equal(listed.length, 1);
  assert.equal(listed[0].name, 'nightly');
  assert.ok(listed[0].expires_at);
  assert.ok(!(await cli(['api-key', 'list', 'etl'])).includes(key.slice(4)));
  assert.match(await cli(['service-account', 'list']), /etl .*warehouse\.write/);

  assert.equal((await cli(['api-key', 'revoke', listed[0].id])).trim(), 'revoked');
  assert.deepEqual(await validate(t.target.db, key), []);
  assert.equal((await cli(['api-key', 'revoke', listed[0].id])).trim(), 'already revoked');

  const second = (await cli(['api-key', 'create', 'etl', 'adhoc'])).trim();
  assert.equal((await validate(t.target.db, second)).length, 1);
  await cli(['service-account', 'disable', 'etl']);
  assert.deepEqual(await validate(t.target.db, second), []);
  const accounts = JSON.parse(await cli(['service-account', 'list', '--json']));
  assert.ok(accounts.find((a: { name: string }) => a.name === 'etl').disabled_at);
});

test('bad input fails with one line naming the error code', async () => {
  assert.match(await fails(['service-account', 'create', 'Bad Name']), /invalid_input/);
  assert.match(await fails(['api-key', 'create', 'nobody', 'x']), /service_account_not_found/);
  await cli(['service-account', 'create', 'dup']);
  assert.match(await fails(['service-account', 'create', 'dup']), /name_taken/);
  assert.match(
    await fails(['api-key', 'revoke', '00000000-0000-4000-8000-000000000000']),
    /api_key_not_found/,
  );
});

test('keys rotate stores an encrypted key that signs from now on and retires the previous one', async () => {
  const kek = Buffer.alloc(32, 7).toString('base64');
  assert.match(await fails(['keys', 'rotate']), /key-encryption key/);
  assert.match(await fails(['keys', 'rotate', '--key-encryption-key', 'short']), /32 random bytes/);
  const first = (await cli(['keys', 'rotate', '--key-encryption-key', kek])).trim();
  const second = (
    await cli(['keys', 'rotate', '--key-encryption-key', kek, '--alg', 'EdDSA'])
  ).trim();
  assert.notEqual(first, second);
  const rows = await t.target.db.query<{ kid: string; alg: string; retired: boolean; enc: string }>(
    `select kid, alg, retired_at is not null as retired, private_key_encrypted as enc
     from pgauth.signing_keys order by created_at`,
  );
  assert.deepEqual(
    rows.rows.map((r) => [r.kid, r.alg, r.retired]),
    [
      [first, 'ES256', true],
      [second, 'EdDSA', false],
    ],
  );
  assert.ok(rows.rows.every((r) => r.enc.startsWith('v1.') && !r.enc.includes('PRIVATE')));
});
