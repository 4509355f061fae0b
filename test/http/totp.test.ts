import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditEvents } from '../helpers/sql.ts';
import { stepAt, totpCode } from '../helpers/totp.ts';
import { isErrorBody, PASSWORD, useBoundApp, withTotp as withTotpIn } from './helpers.ts';

const { a, call, createSession, createUser, login } = useBoundApp();

function withTotp(username: string) {
  return withTotpIn(a, username);
}

function passwordStep(username: string) {
  return call('POST', '/v1/login', { json: { username, password: PASSWORD } });
}

test('POST /v1/mfa/totp returns otpauth_uri and secret once, no-store; confirm with a wrong code is 400 invalid_code', async () => {
  await createUser('ht_enrol');
  const { access_token } = await login('ht_enrol');
  const r = await call('POST', '/v1/mfa/totp', { token: access_token });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['otpauth_uri', 'secret']);
  assert.match(r.json.otpauth_uri, /^otpauth:\/\/totp\/pgauth:ht_enrol\?secret=[A-Z2-7]{32}&/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const wrong = await call('POST', '/v1/mfa/totp/confirm', {
    token: access_token,
    json: { code: totpCode(r.json.secret, stepAt() + 4) },
  });
  assert.equal(wrong.status, 400);
  assert.ok(isErrorBody(wrong, 'invalid_code'), wrong.text);
  const malformed = await call('POST', '/v1/mfa/totp/confirm', {
    token: access_token,
    json: { code: '12ab56' },
  });
  assert.equal(malformed.status, 400);
  assert.ok(isErrorBody(malformed, 'invalid_input'));
  const anonymous = await call('POST', '/v1/mfa/totp');
  assert.equal(anonymous.status, 401);
});

test('with TOTP on, POST /v1/login answers 200 with mfa_required, challenge and expires_in, and no tokens', async () => {
  const { recovery } = await withTotp('ht_login');
  assert.equal(recovery.length, 10);
  const r = await passwordStep('ht_login');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['challenge', 'expires_in', 'mfa_required']);
  assert.equal(r.json.mfa_required, true);
  assert.ok(r.json.expires_in > 200 && r.json.expires_in <= 300, String(r.json.expires_in));
});

test('POST /v1/login/mfa with the challenge and a code gives a pair whose session has aal 2 (session, introspection)', async () => {
  const { secret, userId } = await withTotp('ht_aal');
  const { challenge } = (await passwordStep('ht_aal')).json;
  const r = await call('POST', '/v1/login/mfa', {
    json: { challenge, code: totpCode(secret, stepAt() + 1) },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.user_id, userId);
  const s = await call('GET', '/v1/session', { token: r.json.access_token });
  assert.equal(s.json.aal, 2);
  const introspector = await createSession('ht_introspector', ['introspect']);
  const i = await call('POST', '/oauth2/introspect', {
    token: introspector.access_token,
    form: { token: r.json.access_token },
  });
  assert.equal(i.json.active, true);
  assert.equal(i.json.aal, 2);
  const plain = await call('GET', '/v1/session', { token: introspector.access_token });
  assert.equal(plain.json.aal, 1);
  const reused = await call('POST', '/v1/login/mfa', {
    json: { challenge, code: totpCode(secret, stepAt()) },
  });
  assert.equal(reused.status, 401);
  assert.ok(isErrorBody(reused, 'invalid_credentials'));
});

test('POST /v1/login/mfa with a wrong code is 401 and counts a failed login; a recovery code works once', async () => {
  const { recovery, userId } = await withTotp('ht_recovery');
  const { challenge } = (await passwordStep('ht_recovery')).json;
  const wrong = await call('POST', '/v1/login/mfa', { json: { challenge, code: '000000' } });
  assert.equal(wrong.status, 401);
  assert.ok(isErrorBody(wrong, 'invalid_credentials'));
  const ok = await call('POST', '/v1/login/mfa', {
    json: { challenge, recovery_code: recovery[0] },
  });
  assert.equal(ok.status, 200, ok.text);
  const second = (await passwordStep('ht_recovery')).json.challenge;
  const again = await call('POST', '/v1/login/mfa', {
    json: { challenge: second, recovery_code: recovery[0] },
  });
  assert.equal(again.status, 401);
  const events = await auditEvents(a.t.db, { userId });
  const expected = [
    'totp_enrolment_started',
    'totp_enabled',
    'mfa_challenge',
    'login_failure',
    'recovery_code_used',
    'login_success',
  ];
  for (const e of expected) assert.ok(events.includes(e), `${e} in ${events.join(', ')}`);
});

test('POST /v1/login/mfa needs exactly one of code and recovery_code', async () => {
  const bodies = [
    { challenge: 'pgm_x' },
    { challenge: 'pgm_x', code: '123456', recovery_code: 'a' },
  ];
  for (const json of bodies) {
    const r = await call('POST', '/v1/login/mfa', { json });
    assert.equal(r.status, 400, JSON.stringify(json));
    assert.ok(isErrorBody(r, 'invalid_input'));
  }
});

test('POST /v1/mfa/totp again with TOTP on is 409 mfa_already_enabled; DELETE needs a right code', async () => {
  const { secret, access_token } = await withTotp('ht_remove');
  const again = await call('POST', '/v1/mfa/totp', { token: access_token });
  assert.equal(again.status, 409);
  assert.ok(isErrorBody(again, 'mfa_already_enabled'));
  const remove = (code: string) =>
    call('DELETE', '/v1/mfa/totp', { token: access_token, json: { code } });
  const wrong = await remove('000000');
  assert.equal(wrong.status, 400);
  assert.ok(isErrorBody(wrong, 'invalid_code'));
  const r = await remove(totpCode(secret, stepAt() + 1));
  assert.equal(r.status, 204, r.text);
  const off = await remove('000000');
  assert.equal(off.status, 409);
  assert.ok(isErrorBody(off, 'mfa_not_enabled'));
  const pair = await passwordStep('ht_remove');
  assert.ok(pair.json.access_token, 'the password alone logs in again');
});

test('DELETE /v1/admin/users/:id/mfa removes the factors of a user (admins only), audited', async () => {
  const { userId } = await withTotp('ht_admin_reset');
  const admin = await createSession('ht_admin', ['admin']);
  const other = await createSession('ht_not_admin');
  const path = `/v1/admin/users/${userId}/mfa`;
  const denied = await call('DELETE', path, { token: other.access_token });
  assert.equal(denied.status, 403);
  const r = await call('DELETE', path, { token: admin.access_token });
  assert.equal(r.status, 204, r.text);
  assert.ok((await passwordStep('ht_admin_reset')).json.access_token);
  assert.ok((await auditEvents(a.t.db, { userId })).includes('mfa_reset'));
});
