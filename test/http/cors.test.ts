/**
 * CORS: a browser page of another origin may call the gateway only when --cors-origin names that
 * exact origin. The gateway authenticates by the Authorization header, never by cookies, so it
 * never allows credentials, and never answers with a wildcard.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pgauth } from '../cli/harness.ts';
import { onPostgres } from '../helpers/db.ts';
import { call, createUser, login, startApp, type TestApp } from './helpers.ts';

const APP = 'https://app.example.com';
const ADMIN = 'http://localhost:5173';
const OTHER = 'https://evil.example.net';

let a: TestApp;
let plain: TestApp;
before(async () => {
  a = await startApp({ corsOrigins: [APP, ADMIN] });
  plain = await startApp({}, a.t);
});
after(async () => {
  await plain.close();
  await a.close();
});

function preflight(t: TestApp, path: string, origin: string, method = 'POST') {
  return call(t, 'OPTIONS', path, {
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type',
    },
  });
}

const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'access-control-max-age',
];

test('a preflight from a --cors-origin origin gets 204 with that exact origin, the methods and headers, never a wildcard or credentials', async () => {
  for (const [origin, path, method] of [
    [APP, '/v1/login', 'POST'],
    [ADMIN, '/v1/session', 'GET'],
    [APP, '/v1/admin/users/00000000-0000-4000-8000-000000000000', 'DELETE'],
  ] as const) {
    const r = await preflight(a, path, origin, method);
    assert.equal(r.status, 204, `${path}: ${r.text}`);
    assert.equal(r.headers.get('access-control-allow-origin'), origin);
    const methods = (r.headers.get('access-control-allow-methods') ?? '').split(/,\s*/);
    assert.ok(methods.includes(method), `${method} in ${methods}`);
    const allowed = (r.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    assert.match(allowed, /authorization/);
    assert.match(allowed, /content-type/);
    assert.ok(Number(r.headers.get('access-control-max-age')) > 0);
    assert.equal(r.headers.get('access-control-allow-credentials'), null);
    assert.match(r.headers.get('vary') ?? '', /origin/i);
  }
});

test('a preflight or a request from any other origin gets no CORS header; without --cors-origin there are none at all', async () => {
  for (const origin of [
    OTHER,
    'null',
    `${APP}.evil.net`,
    APP.replace('https', 'http'),
    `${APP}:443`,
  ]) {
    const r = await preflight(a, '/v1/login', origin);
    assert.equal(r.status, 204, origin);
    for (const h of CORS_HEADERS) assert.equal(r.headers.get(h), null, `${origin}: ${h}`);
    const g = await call(a, 'GET', '/healthz', { headers: { origin } });
    for (const h of CORS_HEADERS) assert.equal(g.headers.get(h), null, `${origin}: ${h}`);
  }
  const p = await preflight(plain, '/v1/login', APP);
  assert.equal(p.status, 204);
  const g = await call(plain, 'GET', '/healthz', { headers: { origin: APP } });
  for (const r of [p, g]) {
    for (const h of CORS_HEADERS) assert.equal(r.headers.get(h), null, h);
  }
});

test('an answer to an allowed origin names it and exposes Retry-After, WWW-Authenticate and X-Request-Id, errors included', async () => {
  await createUser(a, 'cors_user');
  const tokens = await login(a, 'cors_user');
  const ok = await call(a, 'GET', '/v1/session', {
    token: tokens.access_token,
    headers: { origin: APP },
  });
  const denied = await call(a, 'GET', '/v1/session', { headers: { origin: ADMIN } });
  assert.equal(ok.status, 200);
  assert.equal(denied.status, 401);
  for (const [r, origin] of [
    [ok, APP],
    [denied, ADMIN],
  ] as const) {
    assert.equal(r.headers.get('access-control-allow-origin'), origin);
    assert.equal(r.headers.get('access-control-allow-credentials'), null);
    assert.match(r.headers.get('vary') ?? '', /origin/i);
    const exposed = (r.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    for (const h of ['retry-after', 'www-authenticate', 'x-request-id'])
      assert.match(exposed, new RegExp(h));
  }
});

test('--cors-origin takes exact origins only: a wildcard, null, a path or another scheme stops the start', {
  skip: onPostgres ? false : 'engine-independent: runs in the postgres pass',
}, async () => {
  for (const bad of [
    '*',
    'null',
    'https://app.example.com/',
    'https://app.example.com/path',
    'ftp://x.example',
    'app.example.com',
  ]) {
    const r = await pgauth([
      'serve',
      '--cors-origin',
      bad,
      '--database-url',
      'postgres://nobody@127.0.0.1:1/none',
    ]);
    assert.equal(r.code, 1, `${bad}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /--cors-origin \/ PGAUTH_CORS_ORIGIN/, bad);
  }
  // Repeated and comma-separated origins pass the check: the start goes on to the database.
  const ok = await pgauth([
    'serve',
    '--cors-origin',
    APP,
    '--cors-origin',
    `${ADMIN},https://b.example:8443`,
    '--database-url',
    'postgres://nobody@127.0.0.1:1/none',
  ]);
  assert.equal(ok.code, 1);
  assert.doesNotMatch(ok.stderr, /cors/i);
  assert.match(ok.stderr, /database/i);
});
