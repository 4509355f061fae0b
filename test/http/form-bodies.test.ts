/**
 * A web page can POST an HTML form to any origin without a CORS preflight: accepting
 * application/x-www-form-urlencoded on /v1/login would let any site log a visitor's browser in
 * (login CSRF) or register accounts from it. Only the two routes whose RFCs require form bodies
 * take them (RFC 7662 introspection, RFC 7009 revocation); every other route answers 415.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, createUser, isErrorBody, login, PASSWORD, useApp } from './helpers.ts';

const a = useApp();

async function logins(username: string): Promise<number> {
  const r = await a.t.db.query<{ n: number }>(
    `select count(*)::int as n from pgauth.audit_log l join pgauth.users u on u.id = l.user_id
     where u.username = $1 and l.event = 'login_success'`,
    [username],
  );
  return r.rows[0]?.n ?? 0;
}

test('a form body on any route but /oauth2/introspect and /oauth2/revoke is 415 unsupported_media_type, and nothing runs', async () => {
  await createUser(a, 'form_user', ['admin']);
  const tokens = await login(a, 'form_user');
  const before = await logins('form_user');
  const cases: [string, string, Record<string, string>, string?][] = [
    ['POST', '/v1/login', { username: 'form_user', password: PASSWORD }],
    ['POST', '/v1/users', { username: 'form_new', password: PASSWORD }],
    ['POST', '/v1/refresh', { refresh_token: tokens.refresh_token }],
    [
      'POST',
      '/v1/password',
      { current_password: PASSWORD, new_password: 'a new long passphrase' },
      tokens.access_token,
    ],
    [
      'POST',
      '/v1/admin/users',
      { username: 'form_admin', password: PASSWORD },
      tokens.access_token,
    ],
    ['POST', '/v1/logout', { anything: 'x' }, tokens.access_token],
  ];
  for (const [method, path, form, token] of cases) {
    const r = await call(a, method, path, { form, ...(token ? { token } : {}) });
    assert.equal(r.status, 415, `${method} ${path}: ${r.status} ${r.text}`);
    assert.ok(isErrorBody(r, 'unsupported_media_type'), r.text);
  }
  // Nothing of it ran: no login, no user, the refresh token and the session still good.
  assert.equal(await logins('form_user'), before);
  const created = await a.t.db.query(
    `select 1 from pgauth.users where username in ('form_new', 'form_admin')`,
  );
  assert.equal(created.rows.length, 0);
  assert.equal((await call(a, 'GET', '/v1/session', { token: tokens.access_token })).status, 200);
  const refreshed = await call(a, 'POST', '/v1/refresh', {
    json: { refresh_token: tokens.refresh_token },
  });
  assert.equal(refreshed.status, 200, refreshed.text);
});

test('a JSON body still works everywhere, and a charset or case variant of the form type is refused too', async () => {
  await createUser(a, 'form_json');
  const ok = await call(a, 'POST', '/v1/login', {
    json: { username: 'form_json', password: PASSWORD },
  });
  assert.equal(ok.status, 200);
  for (const type of [
    'application/x-www-form-urlencoded; charset=utf-8',
    'Application/X-WWW-Form-URLEncoded',
  ]) {
    const r = await call(a, 'POST', '/v1/login', {
      headers: { 'content-type': type },
      body: new URLSearchParams({ username: 'form_json', password: PASSWORD }).toString(),
    });
    assert.equal(r.status, 415, `${type}: ${r.status} ${r.text}`);
  }
});

test('POST /oauth2/introspect and /oauth2/revoke take form bodies (RFC 7662, RFC 7009)', async () => {
  await createUser(a, 'form_introspector', ['introspect']);
  await createUser(a, 'form_target');
  const caller = await login(a, 'form_introspector');
  const target = await login(a, 'form_target');
  const i = await call(a, 'POST', '/oauth2/introspect', {
    form: { token: target.access_token },
    token: caller.access_token,
  });
  assert.equal(i.status, 200, i.text);
  assert.equal(i.json.active, true);
  const r = await call(a, 'POST', '/oauth2/revoke', { form: { token: target.access_token } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await call(a, 'GET', '/v1/session', { token: target.access_token })).status, 401);
});
