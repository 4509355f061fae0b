/**
 * The admin routes the console calls: user search and audit pages by keyset (`next` → `after`),
 * one session revoked, logins per minute, the policy settings with their rules, and the admin
 * revocation stream's guard.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, createUser, isErrorBody, login, PASSWORD, type TestApp, useApp } from './helpers.ts';

let token = '';
const a: TestApp = useApp({}, async (app) => {
  await createUser(app, 'chief', ['admin']);
  token = (await login(app, 'chief')).access_token;
  for (let i = 0; i < 23; i++) {
    const n = String(i).padStart(2, '0');
    await app.t.db.query('select pgauth.create_user($1, $2, $3)', [
      `Pager${n}`,
      PASSWORD,
      `pager${n}@example.org`,
    ]);
  }
});

const get = (path: string) => call(a, 'GET', path, { token });

test('GET /v1/admin/users?q= pages by keyset: every match once, in order, then next is null', async () => {
  const seen: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const r = await get(`/v1/admin/users?q=pAGer&limit=10${after ? `&after=${after}` : ''}`);
    assert.equal(r.status, 200, r.text);
    seen.push(...r.json.users.map((u: { username: string }) => u.username));
    after = r.json.next;
    if (!after) break;
  }
  const expected = Array.from({ length: 23 }, (_, i) => `Pager${String(i).padStart(2, '0')}`);
  assert.deepEqual(seen, expected);
  // By email when the query holds an @.
  const email = await get('/v1/admin/users?q=pager07@');
  assert.deepEqual(
    email.json.users.map((u: { email: string }) => u.email),
    ['pager07@example.org'],
  );
  assert.equal(email.json.next, null);
});

test('a cursor the gateway did not give, or offset with q, is 400 invalid_input', async () => {
  for (const path of [
    '/v1/admin/users?q=&after=not-a-cursor',
    `/v1/admin/users?q=&after=${Buffer.from('["a", "not-a-uuid"]').toString('base64url')}`,
    '/v1/admin/users?q=a&offset=10',
    '/v1/admin/audit?after=AAAA',
  ]) {
    const r = await get(path);
    assert.equal(r.status, 400, `${path}: ${r.text}`);
    assert.ok(isErrorBody(r, 'invalid_input'), r.text);
  }
});

test('GET /v1/admin/audit filters by event, user and time, newest first, in keyset pages', async () => {
  const id = await createUser(a, 'audited');
  for (let i = 0; i < 3; i++) await login(a, 'audited');
  const r = await get(`/v1/admin/audit?user_id=${id}&event=login_success&limit=2`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.events.length, 2);
  assert.ok(r.json.events.every((e: { event: string }) => e.event === 'login_success'));
  const rest = await get(
    `/v1/admin/audit?user_id=${id}&event=login_success&limit=2&after=${r.json.next}`,
  );
  assert.equal(rest.json.events.length, 1);
  const ids = [...r.json.events, ...rest.json.events].map((e: { id: number }) => e.id);
  assert.deepEqual(
    ids,
    [...ids].sort((x, y) => y - x),
  );
  const future = await get(`/v1/admin/audit?user_id=${id}&since=2999-01-01T00:00:00Z`);
  assert.deepEqual(future.json.events, []);
  const past = await get(`/v1/admin/audit?user_id=${id}&until=2000-01-01T00:00:00Z`);
  assert.deepEqual(past.json.events, []);
});

test('DELETE /v1/admin/sessions/:id revokes that session only: true, then false', async () => {
  await createUser(a, 'twice');
  const one = await login(a, 'twice');
  const two = await login(a, 'twice');
  const r = await call(a, 'DELETE', `/v1/admin/sessions/${one.session_id}`, { token });
  assert.deepEqual([r.status, r.json], [200, { revoked: true }]);
  const again = await call(a, 'DELETE', `/v1/admin/sessions/${one.session_id}`, { token });
  assert.deepEqual(again.json, { revoked: false });
  assert.equal((await call(a, 'GET', '/v1/session', { token: one.access_token })).status, 401);
  assert.equal((await call(a, 'GET', '/v1/session', { token: two.access_token })).status, 200);
});

test('GET /v1/admin/stats/logins counts logins, failures and lockouts per minute', async () => {
  await a.t.db.exec('update pgauth.settings set max_failed_logins = 2');
  try {
    await createUser(a, 'counted');
    await login(a, 'counted');
    for (let i = 0; i < 2; i++) {
      await call(a, 'POST', '/v1/login', { json: { username: 'counted', password: 'wrong one!' } });
    }
  } finally {
    await a.t.db.exec('update pgauth.settings set max_failed_logins = 10');
  }
  const r = await get('/v1/admin/stats/logins?hours=1');
  assert.equal(r.status, 200, r.text);
  const sum = (k: string) =>
    r.json.minutes.reduce((n: number, m: Record<string, number>) => n + (m[k] ?? 0), 0);
  assert.ok(sum('logins') >= 2, r.text);
  assert.ok(sum('failures') >= 2, r.text);
  assert.ok(sum('lockouts') >= 1, r.text);
  assert.equal((await get('/v1/admin/stats/logins?hours=0')).status, 400);
});

test('PATCH /v1/admin/settings changes the fields given; a broken rule is 400 naming it and changes nothing', async () => {
  const before = (await get('/v1/admin/settings')).json;
  assert.equal(typeof before.password_min_length, 'number');
  const r = await call(a, 'PATCH', '/v1/admin/settings', {
    token,
    json: { password_min_length: 13, allow_registration: false },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { ...before, password_min_length: 13, allow_registration: false });
  const rule = await call(a, 'PATCH', '/v1/admin/settings', {
    token,
    json: { lockout_seconds: 600, lockout_max_seconds: 60, password_min_length: 20 },
  });
  assert.equal(rule.status, 400);
  assert.ok(isErrorBody(rule, 'invalid_input'), rule.text);
  assert.match(rule.json.message, /lockout_max_seconds_range/);
  for (const json of [{}, { bcrypt_cost: 3 }, { nope: 1 }, { clock_offset: 5 }]) {
    const bad = await call(a, 'PATCH', '/v1/admin/settings', { token, json });
    assert.equal(bad.status, 400, JSON.stringify(json));
  }
  assert.equal((await get('/v1/admin/settings')).json.password_min_length, 13);
  const audit = await get('/v1/admin/audit?event=settings_changed&limit=1');
  assert.deepEqual(audit.json.events[0].detail, {
    fields: ['allow_registration', 'password_min_length'],
  });
  await call(a, 'PATCH', '/v1/admin/settings', { token, json: before });
});

test('GET /v1/admin/revocations: 401 without a token, 403 without the role admin', async () => {
  assert.equal((await call(a, 'GET', '/v1/admin/revocations')).status, 401);
  await createUser(a, 'nosy', ['introspect']);
  const nosy = await login(a, 'nosy');
  const r = await call(a, 'GET', '/v1/admin/revocations', { token: nosy.access_token });
  assert.equal(r.status, 403);
});
