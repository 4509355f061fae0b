import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRORS, fromDatabaseError, PGAUTH_SQLSTATES } from '../packages/client/src/errors.ts';
import { readFunctions, readMigrations } from '../packages/pgauth/src/migrate.ts';

async function sqlSource(): Promise<string> {
  const [migrations, functions] = await Promise.all([readMigrations(), readFunctions()]);
  return [...migrations.map((m) => m.sql), functions.sql].join('\n');
}

test('the registry pins every code, status and SQLSTATE', () => {
  const pinned = Object.values(ERRORS).map((e) => `${e.code} ${e.status} ${e.sqlstate ?? '-'}`);
  assert.deepEqual(pinned.sort(), [
    'api_key_not_found 404 NOKEY',
    'bad_request 400 -',
    'email_not_verified 403 NOVER',
    'forbidden 403 -',
    'insufficient_aal 403 -',
    'internal 500 -',
    'invalid_client 401 -',
    'invalid_code 400 -',
    'invalid_credentials 401 -',
    'invalid_input 400 BADIN',
    'invalid_link 400 -',
    'invalid_request 400 -',
    'invalid_scope 400 SCOPE',
    'invalid_token 401 -',
    'mfa_already_enabled 409 MFAON',
    'mfa_not_enabled 409 MFAOF',
    'mfa_required 401 -',
    'name_taken 409 TAKEN',
    'not_found 404 -',
    'password_common 400 WEAKP',
    'password_is_username 400 WEAKP',
    'password_too_long 400 WEAKP',
    'password_too_short 400 WEAKP',
    'payload_too_large 413 -',
    'rate_limited 429 -',
    'registration_closed 403 REGOF',
    'service_account_disabled 409 SVCOF',
    'service_account_not_found 404 NOSVC',
    'signing_unavailable 503 -',
    'unavailable 503 -',
    'unsupported_grant_type 400 -',
    'unsupported_media_type 415 -',
    'user_not_found 404 NOUSR',
    'username_taken 409 TAKEN',
  ]);
});

test('every error the SQL raises is in the registry with the same SQLSTATE, and the reverse', async () => {
  const source = await sqlSource();
  const raised = [...source.matchAll(/errcode = '([A-Z0-9]{5})', message = '([a-z_]+)'/g)].map(
    ([, sqlstate, code]) => `${code} ${sqlstate}`,
  );
  assert.ok(raised.length > 5, 'found the raise statements');
  for (const r of new Set(raised)) {
    const [code, sqlstate] = r.split(' ') as [keyof typeof ERRORS, string];
    assert.equal(
      ERRORS[code]?.sqlstate,
      sqlstate,
      `${code} is registered with SQLSTATE ${sqlstate}`,
    );
  }
  const raisedCodes = new Set(raised.map((r) => r.split(' ')[0]));
  for (const e of Object.values(ERRORS).filter((e) => e.sqlstate)) {
    assert.ok(
      raisedCodes.has(e.code),
      `${e.code} (${e.sqlstate}) is raised somewhere in sql/functions or sql/migrations`,
    );
  }
  assert.deepEqual([...PGAUTH_SQLSTATES].sort(), [
    'BADIN',
    'MFAOF',
    'MFAON',
    'NOKEY',
    'NOSVC',
    'NOUSR',
    'NOVER',
    'REGOF',
    'SCOPE',
    'SVCOF',
    'TAKEN',
    'WEAKP',
  ]);
});

test('database errors map to registry codes by SQLSTATE and message; faults map to nothing', () => {
  assert.equal(
    fromDatabaseError({ code: 'WEAKP', message: 'password_common' })?.code,
    'password_common',
  );
  assert.equal(fromDatabaseError({ code: 'TAKEN', message: 'username_taken' })?.status, 409);
  assert.equal(
    fromDatabaseError({ code: '22021', message: 'invalid byte sequence' })?.code,
    'invalid_input',
  );
  assert.equal(fromDatabaseError({ code: '57P01', message: 'terminating connection' }), null);
  assert.equal(fromDatabaseError(new Error('boom')), null);
});
