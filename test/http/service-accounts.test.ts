/**
 * Service accounts and API keys over HTTP: the admin routes, and an API key accepted wherever an
 * access token is (GET /v1/session, forward auth, introspection), refused at once when revoked
 * or when its account is disabled, cache or not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, createSession, isErrorBody, type Tokens, useApp } from './helpers.ts';

let admin: Tokens;
let introspector: Tokens;
const a = useApp({}, async (app) => {
  admin = await createSession(app, 'root', ['admin']);
  introspector = await createSession(app, 'gw', ['introspect']);
});

async function newAccount(name: string, roles: string[]): Promise<string> {
  const r = await call(a, 'POST', '/v1/admin/service-accounts', {
    token: admin.access_token,
    json: { name, roles },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.name, name);
  return r.json.id;
}

async function newKey(account: string, body: Record<string, unknown> = { name: 'ci' }) {
  const r = await call(a, 'POST', `/v1/admin/service-accounts/${account}/api-keys`, {
    token: admin.access_token,
    json: body,
  });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['id', 'key']);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  return r.json as { id: string; key: string };
}

test('an API key validates as its service account on GET /v1/session, /v1/auth/check and introspection', async () => {
  const id = await newAccount('billing', ['invoices.read']);
  const k = await newKey('billing');
  const s = await call(a, 'GET', '/v1/session', { token: k.key });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.json.user_id, id);
  assert.equal(s.json.username, 'billing');
  assert.equal(s.json.session_id, k.id);
  assert.equal(s.json.subject_type, 'service_account');
  assert.deepEqual(s.json.roles, ['invoices.read']);
  const check = await call(a, 'GET', '/v1/auth/check', { token: k.key });
  assert.equal(check.headers.get('x-auth-subject-type'), 'service_account');
  assert.equal(check.headers.get('x-auth-roles'), 'invoices.read');
  const i = await call(a, 'POST', '/oauth2/introspect', {
    token: introspector.access_token,
    form: { token: k.key },
  });
  assert.equal(i.json.active, true);
  assert.equal(i.json.client_id, 'billing');
  assert.equal(i.json.subject_type, 'service_account');
  const user = await call(a, 'GET', '/v1/session', { token: introspector.access_token });
  assert.equal(user.json.subject_type, 'user');
});

test('DELETE /v1/admin/api-keys/{id} revokes the key at once; a second DELETE is 204, an unknown id 404', async () => {
  await newAccount('reports', []);
  const k = await newKey('reports', { name: 'nightly', expires_at: '2100-01-01T00:00:00Z' });
  assert.equal((await call(a, 'GET', '/v1/session', { token: k.key })).status, 200);
  const d = await call(a, 'DELETE', `/v1/admin/api-keys/${k.id}`, { token: admin.access_token });
  assert.equal(d.status, 204, d.text);
  assert.equal((await call(a, 'GET', '/v1/session', { token: k.key })).status, 401);
  const again = await call(a, 'DELETE', `/v1/admin/api-keys/${k.id}`, {
    token: admin.access_token,
  });
  assert.equal(again.status, 204);
  const unknown = await call(a, 'DELETE', `/v1/admin/api-keys/${crypto.randomUUID()}`, {
    token: admin.access_token,
  });
  assert.equal(unknown.status, 404);
  assert.ok(isErrorBody(unknown, 'api_key_not_found'), unknown.text);
  const list = await call(a, 'GET', '/v1/admin/service-accounts/reports/api-keys', {
    token: admin.access_token,
  });
  assert.equal(list.json.api_keys.length, 1);
  assert.equal(list.json.api_keys[0].name, 'nightly');
  assert.ok(list.json.api_keys[0].revoked_at);
  assert.ok(!list.text.includes(k.key.slice(4)), 'the listing never shows a key');
});

test('disabling a service account refuses its keys at once and lists it disabled', async () => {
  await newAccount('mailer', ['mail.send']);
  const k = await newKey('mailer');
  assert.equal((await call(a, 'GET', '/v1/session', { token: k.key })).status, 200);
  const d = await call(a, 'POST', '/v1/admin/service-accounts/mailer/disable', {
    token: admin.access_token,
  });
  assert.equal(d.status, 204, d.text);
  assert.equal((await call(a, 'GET', '/v1/session', { token: k.key })).status, 401);
  const list = await call(a, 'GET', '/v1/admin/service-accounts', { token: admin.access_token });
  const mailer = list.json.service_accounts.find((x: { name: string }) => x.name === 'mailer');
  assert.ok(mailer.disabled_at);
  const refused = await call(a, 'POST', '/v1/admin/service-accounts/mailer/api-keys', {
    token: admin.access_token,
    json: { name: 'late' },
  });
  assert.equal(refused.status, 409);
  assert.ok(isErrorBody(refused, 'service_account_disabled'), refused.text);
});

test('bad input to the service-account routes gets a clear error and creates nothing', async () => {
  const cases: [string, string, unknown, number, string][] = [
    ['POST', '/v1/admin/service-accounts', { name: 'Has Space' }, 400, 'invalid_input'],
    [
      'POST',
      '/v1/admin/service-accounts',
      { name: 'ok-name', roles: ['BAD ROLE'] },
      400,
      'invalid_input',
    ],
    [
      'POST',
      '/v1/admin/service-accounts/nobody/api-keys',
      { name: 'x' },
      404,
      'service_account_not_found',
    ],
    ['POST', '/v1/admin/service-accounts/root-sa/api-keys', { name: '' }, 400, 'invalid_input'],
  ];
  await newAccount('root-sa', []);
  for (const [method, path, json, status, code] of cases) {
    const r = await call(a, method, path, { token: admin.access_token, json });
    assert.equal(r.status, status, `${path} ${JSON.stringify(json)}: ${r.text}`);
    assert.equal(r.json.error, code, r.text);
  }
  const past = await call(a, 'POST', '/v1/admin/service-accounts/root-sa/api-keys', {
    token: admin.access_token,
    json: { name: 'old', expires_at: '2001-01-01T00:00:00Z' },
  });
  assert.equal(past.status, 400);
  const dup = await call(a, 'POST', '/v1/admin/service-accounts', {
    token: admin.access_token,
    json: { name: 'root-sa' },
  });
  assert.equal(dup.status, 409);
  assert.ok(isErrorBody(dup, 'name_taken'), dup.text);
  const list = await call(a, 'GET', '/v1/admin/service-accounts', { token: admin.access_token });
  assert.deepEqual(
    list.json.service_accounts.filter((x: { name: string }) => x.name === 'ok-name'),
    [],
  );
  const keys = await call(a, 'GET', '/v1/admin/service-accounts/root-sa/api-keys', {
    token: admin.access_token,
  });
  assert.deepEqual(keys.json.api_keys, []);
});

test('the service-account routes need the admin role', async () => {
  const r = await call(a, 'POST', '/v1/admin/service-accounts', {
    token: introspector.access_token,
    json: { name: 'sneaky' },
  });
  assert.equal(r.status, 403);
  const anon = await call(a, 'DELETE', `/v1/admin/api-keys/${crypto.randomUUID()}`);
  assert.equal(anon.status, 401);
});
