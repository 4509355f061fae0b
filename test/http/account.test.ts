import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withSettings } from '../helpers/sql.ts';
import { isErrorBody, PASSWORD, useBoundApp } from './helpers.ts';

const { a, call, createSession, createUser, login } = useBoundApp();

/** A new user with `roles`, logged in, asks GET `route` with its access token: 200. */
async function getAsNewUser(route: string, username: string, roles: string[]) {
  const id = await createUser(username, roles);
  const tokens = await login(username);
  const r = await call('GET', route, { token: tokens.access_token });
  assert.equal(r.status, 200, r.text);
  return { id, tokens, r };
}

test('POST /v1/users registers a user: 201 with its id', async () => {
  const r = await call('POST', '/v1/users', {
    json: { username: 'reg-alice', password: PASSWORD, email: 'alice@example.com' },
  });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.user_id, /^[0-9a-f-]{36}$/);
});

test('POST /v1/users with a taken username (any case) fails with 409 username_taken', async () => {
  await call('POST', '/v1/users', { json: { username: 'reg-bob', password: PASSWORD } });
  const r = await call('POST', '/v1/users', {
    json: { username: 'REG-Bob', password: PASSWORD },
  });
  assert.equal(r.status, 409);
  assert.ok(isErrorBody(r, 'username_taken'), r.text);
});

test('POST /v1/users refuses a weak password with 400 and the reason code', async () => {
  const cases: [string, string][] = [
    ['short', 'password_too_short'],
    ['qazwsxedcrfv', 'password_common'],
    ['reg-samename', 'password_is_username'],
  ];
  for (const [password, code] of cases) {
    const r = await call('POST', '/v1/users', { json: { username: 'reg-samename', password } });
    assert.equal(r.status, 400, r.text);
    assert.ok(isErrorBody(r, code), r.text);
  }
});

test('POST /v1/users schema violations are 400 invalid_input naming the field', async () => {
  const missing = await call('POST', '/v1/users', { json: { username: 'x' } });
  assert.equal(missing.status, 400);
  assert.ok(isErrorBody(missing, 'invalid_input'));
  assert.match(missing.json.message, /password/);
  const long = await call('POST', '/v1/users', {
    json: { username: 'u'.repeat(65), password: PASSWORD },
  });
  assert.equal(long.status, 400);
  assert.match(long.json.message, /username/);
  const nul = await call('POST', '/v1/users', {
    json: { username: 'a\u0000b', password: PASSWORD },
  });
  assert.equal(nul.status, 400);
  assert.match(nul.json.message, /username/);
  const email = await call('POST', '/v1/users', {
    json: { username: 'reg-mail', password: PASSWORD, email: 'not an address' },
  });
  assert.equal(email.status, 400);
  assert.ok(isErrorBody(email, 'invalid_input'), email.text);
  const uuidish = await call('POST', '/v1/users', {
    json: { username: '0f8fad5b-d9cb-469f-a165-70867728950e', password: PASSWORD },
  });
  assert.equal(uuidish.status, 400);
  assert.ok(isErrorBody(uuidish, 'invalid_input'), uuidish.text);
});

test('POST /v1/users while registration is closed fails with 403 registration_closed', async () => {
  await withSettings(a.t.db, { allow_registration: false }, async () => {
    const r = await call('POST', '/v1/users', {
      json: { username: 'reg-closed', password: PASSWORD },
    });
    assert.equal(r.status, 403);
    assert.ok(isErrorBody(r, 'registration_closed'), r.text);
  });
});

test('POST /v1/login returns a token pair with Cache-Control: no-store', async () => {
  const id = await createUser('login-ok');
  const r = await call('POST', '/v1/login', {
    json: { username: 'Login-OK', password: PASSWORD },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.deepEqual(Object.keys(r.json).sort(), [
    'access_token',
    'expires_in',
    'refresh_expires_in',
    'refresh_token',
    'session_id',
    'token_type',
    'user_id',
  ]);
  assert.equal(r.json.token_type, 'Bearer');
  assert.equal(r.json.user_id, id);
  assert.match(r.json.access_token, /^pga_/);
  assert.match(r.json.refresh_token, /^pgr_/);
  assert.ok(r.json.expires_in > 800 && r.json.expires_in <= 900, String(r.json.expires_in));
  assert.ok(r.json.refresh_expires_in > r.json.expires_in);
});

test('POST /v1/login fails with a byte-identical 401 invalid_credentials for every kind of failure', async () => {
  const locked = await createUser('login-locked');
  await a.t.db.query('select pgauth.lock_user($1)', [locked]);
  await createUser('login-disabled');
  await a.t.db.exec(
    `update pgauth.users set disabled_at = now() where username = 'login-disabled'`,
  );
  await createUser('login-wrong');
  const attempts = [
    { username: 'login-nobody', password: PASSWORD },
    { username: 'login-wrong', password: `${PASSWORD}!` },
    { username: 'login-locked', password: PASSWORD },
    { username: 'login-disabled', password: PASSWORD },
  ];
  const replies = [];
  for (const json of attempts) replies.push(await call('POST', '/v1/login', { json }));
  for (const r of replies) {
    assert.equal(r.status, 401);
    assert.ok(isErrorBody(r, 'invalid_credentials'), r.text);
    assert.equal(r.text, replies[0]?.text);
    assert.equal(r.headers.get('content-type'), replies[0]?.headers.get('content-type'));
    assert.equal(r.headers.get('content-length'), replies[0]?.headers.get('content-length'));
  }
});

test('POST /v1/login with a wrong media type is 415, an oversized body 413, malformed JSON 400', async () => {
  const media = await call('POST', '/v1/login', {
    body: 'username=x',
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(media.status, 415);
  assert.ok(isErrorBody(media, 'unsupported_media_type'), media.text);
  const big = await call('POST', '/v1/login', {
    json: { username: 'x', password: 'p'.repeat(20_000) },
  });
  assert.equal(big.status, 413);
  assert.ok(isErrorBody(big, 'payload_too_large'), big.text);
  const bad = await call('POST', '/v1/login', {
    body: '{"username": ',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(bad.status, 400);
  assert.ok(isErrorBody(bad, 'bad_request'), bad.text);
  const nul = await call('POST', '/v1/login', { json: { username: 'x', password: 'a\u0000b' } });
  assert.equal(nul.status, 400);
  assert.ok(isErrorBody(nul, 'invalid_input'), nul.text);
  const huge = await call('POST', '/v1/login', {
    json: { username: 'x', password: 'p'.repeat(1025) },
  });
  assert.equal(huge.status, 400);
  assert.match(huge.json.message, /password/);
});

test('a JSON body is taken as typed: a number or an array for a string is 400 invalid_input, never its text', async () => {
  // Were 123 turned into "123", this user's password would be tried and a login would succeed.
  await createUser('typed_body', [], '73915028464219');
  for (const password of [73915028464219, ['73915028464219']]) {
    const r = await call('POST', '/v1/login', { json: { username: 'typed_body', password } });
    assert.equal(r.status, 400, r.text);
    assert.ok(isErrorBody(r, 'invalid_input'), r.text);
    assert.match(r.json.message, /body\.password must be string/);
  }
  const ok = await call('POST', '/v1/login', {
    json: { username: 'typed_body', password: '73915028464219' },
  });
  assert.equal(ok.status, 200, ok.text);
});

test('an unknown route is 404 not_found', async () => {
  const r = await call('GET', '/v1/nothing');
  assert.equal(r.status, 404);
  assert.ok(isErrorBody(r, 'not_found'), r.text);
});

test('GET /v1/session returns the session of the Bearer token; 401 invalid_token otherwise', async () => {
  const { id, tokens, r } = await getAsNewUser('/v1/session', 'sess-user', ['reader', 'writer']);
  assert.equal(r.json.user_id, id);
  assert.equal(r.json.username, 'sess-user');
  assert.equal(r.json.session_id, tokens.session_id);
  assert.deepEqual(r.json.roles, ['reader', 'writer']);
  assert.ok(Date.parse(r.json.expires_at) > Date.now());
  const cases: Record<string, string>[] = [
    {},
    { authorization: 'Bearer pga_garbage' },
    { authorization: 'Basic eDp5' },
  ];
  for (const headers of cases) {
    const bad = await call('GET', '/v1/session', { headers });
    assert.equal(bad.status, 401);
    assert.ok(isErrorBody(bad, 'invalid_token'), bad.text);
    assert.equal(bad.headers.get('www-authenticate'), 'Bearer');
  }
});

test('a token in the query string is refused with 400, never read', async () => {
  const tokens = await createSession('query-user');
  for (const q of ['access_token', 'token', 'refresh_token']) {
    const r = await call('GET', `/v1/session?${q}=${tokens.access_token}`);
    assert.equal(r.status, 400, q);
    assert.ok(isErrorBody(r, 'bad_request'), r.text);
  }
});

test('GET /v1/auth/check answers 200 with X-Auth-* headers, or 401', async () => {
  const { id, tokens, r } = await getAsNewUser('/v1/auth/check', 'check user', ['a', 'b']);
  assert.equal(r.headers.get('x-auth-user-id'), id);
  assert.equal(r.headers.get('x-auth-username'), 'check%20user');
  assert.equal(r.headers.get('x-auth-roles'), 'a,b');
  assert.equal(r.headers.get('x-auth-session-id'), tokens.session_id);
  const bad = await call('GET', '/v1/auth/check', { token: 'pga_nope' });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers.get('x-auth-user-id'), null);
});

test('POST /v1/refresh rotates the pair: 200 as login, the old access token stops working; 401 for unknown', async () => {
  const first = await createSession('refresh-user');
  const r = await call('POST', '/v1/refresh', { json: { refresh_token: first.refresh_token } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.json.session_id, first.session_id);
  assert.notEqual(r.json.access_token, first.access_token);
  assert.equal((await call('GET', '/v1/session', { token: first.access_token })).status, 401);
  assert.equal((await call('GET', '/v1/session', { token: r.json.access_token })).status, 200);
  const unknown = await call('POST', '/v1/refresh', { json: { refresh_token: 'pgr_unknown' } });
  assert.equal(unknown.status, 401);
  assert.ok(isErrorBody(unknown, 'invalid_token'), unknown.text);
  const missing = await call('POST', '/v1/refresh', { json: {} });
  assert.equal(missing.status, 400);
  assert.match(missing.json.message, /refresh_token/);
});

test('POST /v1/logout revokes the session: 204, then the token is 401', async () => {
  const tokens = await createSession('logout-user');
  const r = await call('POST', '/v1/logout', { token: tokens.access_token });
  assert.equal(r.status, 204, r.text);
  assert.equal((await call('GET', '/v1/session', { token: tokens.access_token })).status, 401);
  const again = await call('POST', '/v1/logout', { token: tokens.access_token });
  assert.equal(again.status, 401);
  assert.equal((await call('POST', '/v1/logout')).status, 401);
});

test('POST /v1/password changes the password (204) and revokes every session of the user', async () => {
  const one = await createSession('pw-user');
  const two = await login('pw-user');
  const wrong = await call('POST', '/v1/password', {
    token: one.access_token,
    json: { current_password: 'not the password', new_password: 'another fine passphrase' },
  });
  assert.equal(wrong.status, 401);
  assert.ok(isErrorBody(wrong, 'invalid_credentials'), wrong.text);
  const weak = await call('POST', '/v1/password', {
    token: one.access_token,
    json: { current_password: PASSWORD, new_password: 'short' },
  });
  assert.equal(weak.status, 400);
  assert.ok(isErrorBody(weak, 'password_too_short'), weak.text);
  const r = await call('POST', '/v1/password', {
    token: one.access_token,
    json: { current_password: PASSWORD, new_password: 'another fine passphrase' },
  });
  assert.equal(r.status, 204, r.text);
  for (const t of [one, two]) {
    assert.equal((await call('GET', '/v1/session', { token: t.access_token })).status, 401);
  }
  await login('pw-user', 'another fine passphrase');
  const noToken = await call('POST', '/v1/password', {
    json: { current_password: PASSWORD, new_password: 'another fine passphrase' },
  });
  assert.equal(noToken.status, 401);
});
