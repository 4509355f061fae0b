import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isErrorBody, PASSWORD, type Tokens, useBoundApp } from './helpers.ts';

let admin: Tokens;
let introspector: Tokens;
let plain: Tokens;
const { call, createSession, createUser, login } = useBoundApp({}, async (app) => {
  await app.createUser('root', ['admin']);
  await app.createUser('gateway', ['introspect']);
  await app.createUser('plain');
  admin = await app.login('root');
  introspector = await app.login('gateway');
  plain = await app.login('plain');
});

test('POST /oauth2/introspect describes a valid access token (form-encoded)', async () => {
  const r = await call('POST', '/oauth2/introspect', {
    token: introspector.access_token,
    form: { token: plain.access_token, token_type_hint: 'access_token' },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.active, true);
  assert.equal(r.json.sub, plain.user_id);
  assert.equal(r.json.username, 'plain');
  assert.equal(r.json.sid, plain.session_id);
  assert.ok(r.json.exp > Date.now() / 1000);
  assert.equal(r.headers.get('cache-control'), 'no-store');
});

test('POST /oauth2/introspect answers exactly {"active":false} for every token that is not valid', async () => {
  const revoked = await createSession('gone');
  await call('POST', '/v1/logout', { token: revoked.access_token });
  for (const token of [
    'garbage',
    'pga_x',
    revoked.access_token,
    plain.refresh_token,
    'x'.repeat(4000),
  ]) {
    const r = await call('POST', '/oauth2/introspect', {
      token: introspector.access_token,
      form: { token },
    });
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"active":false}');
  }
});

test('POST /oauth2/introspect needs a caller: 401 without a valid Bearer, 403 without role introspect', async () => {
  const none = await call('POST', '/oauth2/introspect', { form: { token: plain.access_token } });
  assert.equal(none.status, 401);
  assert.ok(isErrorBody(none, 'invalid_token'), none.text);
  const weak = await call('POST', '/oauth2/introspect', {
    token: plain.access_token,
    form: { token: plain.access_token },
  });
  assert.equal(weak.status, 403);
  assert.ok(isErrorBody(weak, 'forbidden'), weak.text);
  const missing = await call('POST', '/oauth2/introspect', {
    token: introspector.access_token,
    form: { hint: 'x' },
  });
  assert.equal(missing.status, 400);
  assert.match(missing.json.message, /token/);
});

test('POST /oauth2/revoke revokes an access or a refresh token whatever the hint; 200 for unknown', async () => {
  const one = await createSession('revokee');
  const r1 = await call('POST', '/oauth2/revoke', {
    form: { token: one.access_token, token_type_hint: 'refresh_token' },
  });
  assert.equal(r1.status, 200, r1.text);
  assert.equal((await call('GET', '/v1/session', { token: one.access_token })).status, 401);
  const two = await login('revokee');
  const r2 = await call('POST', '/oauth2/revoke', { form: { token: two.refresh_token } });
  assert.equal(r2.status, 200);
  assert.equal((await call('GET', '/v1/session', { token: two.access_token })).status, 401);
  const r3 = await call('POST', '/oauth2/revoke', { form: { token: 'pgr_unknown' } });
  assert.equal(r3.status, 200);
  const r4 = await call('POST', '/oauth2/revoke', { json: { token: 'pga_unknown' } });
  assert.equal(r4.status, 200);
});

test('/v1/admin/* needs role admin: 401 without a token, 403 for another user', async () => {
  const none = await call('GET', '/v1/admin/users');
  assert.equal(none.status, 401);
  const other = await call('GET', '/v1/admin/users', { token: plain.access_token });
  assert.equal(other.status, 403);
  assert.ok(isErrorBody(other, 'forbidden'), other.text);
});

test('admin creates, reads, lists and deletes users', async () => {
  const created = await call('POST', '/v1/admin/users', {
    token: admin.access_token,
    json: { username: 'made-by-admin', password: PASSWORD, email: 'm@example.com', roles: ['ops'] },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.user_id;
  const taken = await call('POST', '/v1/admin/users', {
    token: admin.access_token,
    json: { username: 'made-by-admin', password: PASSWORD },
  });
  assert.equal(taken.status, 409);
  const got = await call('GET', `/v1/admin/users/${id}`, { token: admin.access_token });
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.username, 'made-by-admin');
  assert.deepEqual(got.json.roles, ['ops']);
  assert.equal(got.json.email, 'm@example.com');
  assert.ok(!Number.isNaN(Date.parse(got.json.created_at)));
  assert.equal('password_hash' in got.json, false);
  const list = await call('GET', '/v1/admin/users?limit=500', { token: admin.access_token });
  assert.equal(list.status, 200);
  assert.ok(list.json.users.some((u: { id: string }) => u.id === id));
  const badLimit = await call('GET', '/v1/admin/users?limit=0', { token: admin.access_token });
  assert.equal(badLimit.status, 400);
  assert.match(badLimit.json.message, /limit/);
  const del = await call('DELETE', `/v1/admin/users/${id}`, { token: admin.access_token });
  assert.equal(del.status, 204);
  const gone = await call('GET', `/v1/admin/users/${id}`, { token: admin.access_token });
  assert.equal(gone.status, 404);
  assert.ok(isErrorBody(gone, 'user_not_found'), gone.text);
  const notUuid = await call('GET', '/v1/admin/users/not-a-uuid', { token: admin.access_token });
  assert.equal(notUuid.status, 400);
});

test('admin locks and unlocks, sets a password, grants and revokes roles', async () => {
  const id = await createUser('managed');
  const t = admin.access_token;
  const lock = await call('POST', `/v1/admin/users/${id}/lock`, {
    token: t,
    json: { reason: 'investigation' },
  });
  assert.equal(lock.status, 204, lock.text);
  const locked = await call('GET', `/v1/admin/users/${id}`, { token: t });
  assert.equal(locked.json.locked_until, 'infinity');
  assert.equal(locked.json.lock_reason, 'investigation');
  assert.equal(
    (await call('POST', '/v1/login', { json: { username: 'managed', password: PASSWORD } })).status,
    401,
  );
  const past = await call('POST', `/v1/admin/users/${id}/lock`, {
    token: t,
    json: { until: '2000-01-01T00:00:00Z' },
  });
  assert.equal(past.status, 400);
  assert.ok(isErrorBody(past, 'invalid_input'), past.text);
  assert.equal((await call('POST', `/v1/admin/users/${id}/unlock`, { token: t })).status, 204);
  await login('managed');

  const weak = await call('POST', `/v1/admin/users/${id}/password`, {
    token: t,
    json: { password: 'short' },
  });
  assert.equal(weak.status, 400);
  assert.ok(isErrorBody(weak, 'password_too_short'), weak.text);
  const set = await call('POST', `/v1/admin/users/${id}/password`, {
    token: t,
    json: { password: 'a brand new passphrase' },
  });
  assert.equal(set.status, 204);
  await login('managed', 'a brand new passphrase');

  assert.equal(
    (await call('POST', `/v1/admin/users/${id}/roles/editor`, { token: t })).status,
    204,
  );
  assert.deepEqual((await call('GET', `/v1/admin/users/${id}`, { token: t })).json.roles, [
    'editor',
  ]);
  const badRole = await call('POST', `/v1/admin/users/${id}/roles/Bad%20Role`, { token: t });
  assert.equal(badRole.status, 400);
  assert.equal(
    (await call('DELETE', `/v1/admin/users/${id}/roles/editor`, { token: t })).status,
    204,
  );
  assert.deepEqual((await call('GET', `/v1/admin/users/${id}`, { token: t })).json.roles, []);
  const unknown = await call(
    'POST',
    '/v1/admin/users/0f8fad5b-d9cb-469f-a165-70867728950e/unlock',
    {
      token: t,
    },
  );
  assert.equal(unknown.status, 404);
  assert.ok(isErrorBody(unknown, 'user_not_found'), unknown.text);
});

test('admin lists and revokes the sessions of a user, and reads the audit log', async () => {
  const id = await createUser('sessions-user');
  const s1 = await login('sessions-user');
  await login('sessions-user');
  const t = admin.access_token;
  const list = await call('GET', `/v1/admin/users/${id}/sessions`, { token: t });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.sessions.length, 2);
  assert.ok(list.json.sessions.some((s: { id: string }) => s.id === s1.session_id));
  const revoke = await call('DELETE', `/v1/admin/users/${id}/sessions`, { token: t });
  assert.equal(revoke.status, 200);
  assert.deepEqual(revoke.json, { revoked: 2 });
  assert.equal((await call('GET', '/v1/session', { token: s1.access_token })).status, 401);

  const audit = await call('GET', `/v1/admin/audit?user_id=${id}&limit=10`, { token: t });
  assert.equal(audit.status, 200, audit.text);
  const events = audit.json.events.map((e: { event: string }) => e.event);
  assert.ok(events.includes('sessions_revoked'), events.join());
  assert.ok(events.includes('login_success'), events.join());
  const since = await call('GET', '/v1/admin/audit?since=2999-01-01T00:00:00Z', { token: t });
  assert.deepEqual(since.json.events, []);
  const bad = await call('GET', '/v1/admin/audit?since=yesterday', { token: t });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /since/);
});
