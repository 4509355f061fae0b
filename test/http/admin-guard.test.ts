/**
 * The admin routes' guard: one onRequest hook checks the caller before anything else runs, so an
 * unauthenticated or non-admin caller is refused before its body or parameters are even read.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, createUser, isErrorBody, login, startApp, type TestApp } from './helpers.ts';

let a: TestApp;
let userToken: string;
before(async () => {
  a = await startApp();
  await createUser(a, 'plain');
  userToken = (await login(a, 'plain')).access_token;
});
after(() => a.close());

const badRequests = [
  {
    name: 'POST /v1/admin/users with a body the schema refuses',
    method: 'POST',
    path: '/v1/admin/users',
    body: '{"nope": 1}',
  },
  {
    name: 'POST /v1/admin/users with malformed JSON',
    method: 'POST',
    path: '/v1/admin/users',
    body: '{"username":',
  },
  {
    name: 'GET /v1/admin/users/:id with an id that is no UUID',
    method: 'GET',
    path: '/v1/admin/users/not-a-uuid',
  },
  {
    name: 'GET /v1/admin/users with a limit out of range',
    method: 'GET',
    path: '/v1/admin/users?limit=0',
  },
];

for (const r of badRequests) {
  test(`${r.name}: 401 invalid_token without a token, 403 forbidden for a non-admin`, async () => {
    const headers = r.body ? { 'content-type': 'application/json' } : undefined;
    const anonymous = await call(a, r.method, r.path, { body: r.body, headers });
    assert.equal(anonymous.status, 401);
    assert.ok(isErrorBody(anonymous, 'invalid_token'), anonymous.text);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
    const plain = await call(a, r.method, r.path, { body: r.body, headers, token: userToken });
    assert.equal(plain.status, 403);
    assert.ok(isErrorBody(plain, 'forbidden'), plain.text);
  });
}

test('an admin with the same bad requests gets 400 invalid_input: the guard lets admins through', async () => {
  await createUser(a, 'boss', ['admin']);
  const token = (await login(a, 'boss')).access_token;
  const r = await call(a, 'GET', '/v1/admin/users?limit=0', { token });
  assert.equal(r.status, 400);
  assert.ok(isErrorBody(r, 'invalid_input'), r.text);
});
