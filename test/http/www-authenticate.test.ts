/**
 * RFC 9110 §15.5.2: a 401 carries a WWW-Authenticate challenge. docs/http.md promises
 * `WWW-Authenticate: Bearer` on every 401 of the gateway, whatever made it a 401: a missing or
 * dead token (invalid_token) or a wrong password (invalid_credentials).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, createUser, login, PASSWORD, type RequestOptions, useApp } from './helpers.ts';

const a = useApp();

const ID = '00000000-0000-4000-8000-000000000000';
const DEAD = `pga_${'A'.repeat(43)}`;

test('every 401 of every route carries WWW-Authenticate: Bearer (invalid_token and invalid_credentials)', async () => {
  await createUser(a, 'challenged');
  const live = await login(a, 'challenged');
  const wrong = { username: 'challenged', password: 'not the password at all' };
  const cases: [method: string, path: string, options: RequestOptions, code: string][] = [
    ['POST', '/v1/login', { json: wrong }, 'invalid_credentials'],
    [
      'POST',
      '/v1/login',
      { json: { username: 'nobody-here', password: PASSWORD } },
      'invalid_credentials',
    ],
    ['POST', '/v1/refresh', { json: { refresh_token: `pgr_${'A'.repeat(43)}` } }, 'invalid_token'],
    ['POST', '/v1/logout', {}, 'invalid_token'],
    ['POST', '/v1/logout', { token: DEAD }, 'invalid_token'],
    ['GET', '/v1/session', {}, 'invalid_token'],
    ['GET', '/v1/session', { token: DEAD }, 'invalid_token'],
    ['GET', '/v1/auth/check', { token: DEAD }, 'invalid_token'],
    [
      'POST',
      '/v1/password',
      { json: { current_password: PASSWORD, new_password: 'another long passphrase' } },
      'invalid_token',
    ],
    [
      'POST',
      '/v1/password',
      {
        token: live.access_token,
        json: { current_password: 'not the password at all', new_password: 'another passphrase' },
      },
      'invalid_credentials',
    ],
    ['POST', '/oauth2/introspect', { form: { token: DEAD } }, 'invalid_token'],
    ['GET', '/v1/revocations', {}, 'invalid_token'],
    ['GET', '/v1/admin/users', {}, 'invalid_token'],
    ['POST', '/v1/admin/users', { json: { username: 'x', password: PASSWORD } }, 'invalid_token'],
    ['GET', `/v1/admin/users/${ID}`, { token: DEAD }, 'invalid_token'],
    ['DELETE', `/v1/admin/users/${ID}`, {}, 'invalid_token'],
    ['POST', `/v1/admin/users/${ID}/lock`, {}, 'invalid_token'],
    ['POST', `/v1/admin/users/${ID}/unlock`, {}, 'invalid_token'],
    ['POST', `/v1/admin/users/${ID}/password`, { json: { password: PASSWORD } }, 'invalid_token'],
    ['POST', `/v1/admin/users/${ID}/roles/reader`, {}, 'invalid_token'],
    ['DELETE', `/v1/admin/users/${ID}/roles/reader`, {}, 'invalid_token'],
    ['GET', `/v1/admin/users/${ID}/sessions`, {}, 'invalid_token'],
    ['DELETE', `/v1/admin/users/${ID}/sessions`, {}, 'invalid_token'],
    ['GET', '/v1/admin/audit', {}, 'invalid_token'],
    ['DELETE', `/v1/admin/sessions/${ID}`, { token: DEAD }, 'invalid_token'],
    ['GET', '/v1/admin/stats/logins', {}, 'invalid_token'],
    ['GET', '/v1/admin/settings', { token: DEAD }, 'invalid_token'],
    ['PATCH', '/v1/admin/settings', { json: { bcrypt_cost: 10 } }, 'invalid_token'],
    ['GET', '/v1/admin/revocations', {}, 'invalid_token'],
    ['GET', '/v1/admin/service-accounts', {}, 'invalid_token'],
    ['POST', '/v1/admin/service-accounts', { json: { name: 'x' } }, 'invalid_token'],
    ['POST', '/v1/admin/service-accounts/x/disable', {}, 'invalid_token'],
    ['GET', '/v1/admin/service-accounts/x/api-keys', {}, 'invalid_token'],
    ['POST', '/v1/admin/service-accounts/x/api-keys', { json: { name: 'k' } }, 'invalid_token'],
    ['DELETE', `/v1/admin/api-keys/${ID}`, { token: DEAD }, 'invalid_token'],
    [
      'POST',
      '/v1/login/mfa',
      { json: { challenge: `pgm_${'A'.repeat(43)}`, code: '123456' } },
      'invalid_credentials',
    ],
    ['POST', '/v1/email/verify/request', {}, 'invalid_token'],
    ['POST', '/v1/mfa/totp', { token: DEAD }, 'invalid_token'],
    ['POST', '/v1/mfa/totp/confirm', { json: { code: '123456' } }, 'invalid_token'],
    ['DELETE', '/v1/mfa/totp', { token: DEAD, json: { code: '123456' } }, 'invalid_token'],
    ['DELETE', `/v1/admin/users/${ID}/mfa`, {}, 'invalid_token'],
  ];
  // The token endpoint authenticates clients, not Bearer tokens: its 401 challenges Basic
  // (RFC 6749 §5.2), tested in oauth-token.test.ts.
  const basicChallenge = new Set(['POST /oauth2/token']);

  // The cases cover every route whose OpenAPI document lists a 401.
  const doc = (await call(a, 'GET', '/openapi.json')).json as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  const with401 = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([, op]) => op.responses?.['401'])
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  );
  const covered = new Set(
    cases.map(
      ([method, path]) =>
        `${method} ${path.replace(ID, '{id}').replace('/reader', '/{role}').replace('/x/', '/{name}/')}`,
    ),
  );
  for (const route of with401) {
    assert.ok(covered.has(route) || basicChallenge.has(route), `no 401 case for ${route}`);
  }

  for (const [method, path, options, code] of cases) {
    const r = await call(a, method, path, options);
    assert.equal(r.status, 401, `${method} ${path}: ${r.status} ${r.text}`);
    assert.equal(r.json?.error, code, `${method} ${path}: ${r.text}`);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer', `${method} ${path} (${code})`);
  }
});
