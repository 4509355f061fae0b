import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgres } from '../../packages/client/src/db/postgres.ts';
import { waitFor } from '../helpers/wait.ts';
import { bindApp, isErrorBody, PASSWORD, startApp, useBoundApp } from './helpers.ts';

const { a, call, createSession, createUser, login } = useBoundApp();

/** The value of one sample of a Prometheus text exposition, 0 when absent. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('GET /healthz is 200 and GET /readyz is 200 when migrations are current', async () => {
  const h = await call('GET', '/healthz');
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok' });
  const r = await call('GET', '/readyz');
  assert.equal(r.status, 200, r.text);
  assert.equal((r.json as { status: string }).status, 'ready');
});

test('GET /readyz is 503 with Retry-After while a migration is pending', async () => {
  const row = await a.t.db.query<{ name: string; checksum: string }>(
    `select name, checksum from pgauth.migrations order by name desc limit 1`,
  );
  const last = row.rows[0];
  assert.ok(last);
  await a.t.db.query('delete from pgauth.migrations where name = $1', [last.name]);
  try {
    const r = await call('GET', '/readyz');
    assert.equal(r.status, 503);
    assert.ok(isErrorBody(r, 'unavailable'), r.text);
    assert.ok(r.headers.get('retry-after'));
  } finally {
    await a.t.db.query('insert into pgauth.migrations (name, checksum) values ($1, $2)', [
      last.name,
      last.checksum,
    ]);
  }
});

test('an unreachable database gives 503 unavailable with Retry-After; /healthz stays 200', async () => {
  const down = openPostgres({ connectionString: 'postgres://postgres@127.0.0.1:1/none', max: 2 });
  const b = bindApp(await startApp({ db: down }, a.t));
  try {
    const s = await b.call('GET', '/v1/session', { token: 'pga_whatever' });
    assert.equal(s.status, 503, s.text);
    assert.ok(isErrorBody(s, 'unavailable'), s.text);
    assert.equal(s.headers.get('retry-after'), '5');
    const l = await b.call('POST', '/v1/login', { json: { username: 'x', password: 'y' } });
    assert.equal(l.status, 503);
    assert.equal((await b.call('GET', '/readyz')).status, 503);
    assert.equal((await b.call('GET', '/healthz')).status, 200);
    for (const body of [s.text, l.text])
      assert.doesNotMatch(body, /ECONNREFUSED|stack|127\.0\.0\.1/);
  } finally {
    await b.a.close();
    await down.close();
  }
});

test('GET /metrics counts requests by route and status, logins and validations by outcome', async () => {
  const before = await call('GET', '/metrics');
  assert.equal(before.status, 200);
  assert.match(before.headers.get('content-type') ?? '', /text\/plain/);
  const tokens = await createSession('metered');
  await call('POST', '/v1/login', {
    json: { username: 'metered', password: 'wrong password!' },
  });
  await call('GET', '/v1/session', { token: tokens.access_token });
  await call('GET', '/v1/session', { token: 'pga_bad' });
  const after = (await call('GET', '/metrics')).text;
  const delta = (name: string, labels: string): number =>
    sample(after, name, labels) - sample(before.text, name, labels);
  assert.equal(delta('pgauth_logins_total', 'outcome="success"'), 1);
  assert.equal(delta('pgauth_logins_total', 'outcome="failure"'), 1);
  assert.equal(delta('pgauth_validations_total', 'outcome="valid"'), 1);
  assert.equal(delta('pgauth_validations_total', 'outcome="invalid"'), 1);
  assert.equal(delta('http_requests_total', 'route="/v1/login",method="POST",status="200"'), 1);
  assert.equal(delta('http_requests_total', 'route="/v1/session",method="GET",status="401"'), 1);
  assert.match(after, /http_request_duration_seconds_bucket\{.*route="\/v1\/session"/);
  assert.match(after, /pgauth_db_pool_size 10/);
  assert.match(after, /pgauth_db_calls_in_flight \d+/);
  // The cache guard's probe (a pg_notify through the pool) may be in flight at any scrape; what
  // must hold is that the gauge comes back to 0, which a call counted up and never down would not.
  await waitFor(
    'pgauth_db_calls_in_flight 0',
    async () => /pgauth_db_calls_in_flight 0\n/.test((await call('GET', '/metrics')).text),
    5_000,
  );
});

test('GET /openapi.json documents every route; GET /docs shows it', async () => {
  const r = await call('GET', '/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.json.openapi, /^3\./);
  const paths = Object.keys(r.json.paths);
  for (const p of [
    '/v1/users',
    '/v1/login',
    '/v1/refresh',
    '/v1/logout',
    '/v1/session',
    '/v1/password',
    '/v1/auth/check',
    '/oauth2/introspect',
    '/oauth2/revoke',
    '/v1/admin/users',
    '/v1/admin/users/{id}',
    '/v1/admin/users/{id}/lock',
    '/v1/admin/users/{id}/unlock',
    '/v1/admin/users/{id}/password',
    '/v1/admin/users/{id}/roles/{role}',
    '/v1/admin/users/{id}/sessions',
    '/v1/admin/audit',
    '/healthz',
    '/readyz',
    '/metrics',
  ]) {
    assert.ok(paths.includes(p), `${p} missing from ${paths.join(' ')}`);
  }
  const login = r.json.paths['/v1/login'].post;
  assert.ok(login.requestBody);
  assert.ok(login.responses['200'] && login.responses['401']);
  const docs = await fetch(`${a.url}/docs`, { redirect: 'follow' });
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger/i);
});

test('logs carry a request id and never a password, a token or an Authorization header', async () => {
  const secret = 'sentinel-password-0123456789';
  await createUser('logged', [], secret);
  const tokens = await login('logged', secret);
  await call('GET', '/v1/session', { token: tokens.access_token });
  await call('GET', `/v1/session?access_token=${tokens.access_token}`);
  await call('POST', '/v1/refresh', { json: { refresh_token: tokens.refresh_token } });
  await call('POST', '/v1/login', {
    json: { username: 'logged', password: secret.repeat(100) },
  });
  const r = await call('GET', '/healthz', { headers: { 'x-request-id': 'trace-me-42' } });
  assert.equal(r.headers.get('x-request-id'), 'trace-me-42');
  const text = a.logs.join('');
  assert.match(text, /"reqId":"trace-me-42"/);
  for (const s of [
    secret,
    tokens.access_token,
    tokens.refresh_token,
    tokens.access_token.slice(4),
  ]) {
    assert.equal(text.includes(s), false, `a log line holds ${s.slice(0, 8)}…`);
  }
});

test('rate limits: login per IP and per username, register per IP, refresh per IP: 429 with Retry-After', async () => {
  const b = bindApp(
    await startApp(
      {
        rateLimit: {
          windowMs: 60_000,
          loginPerIp: 4,
          loginPerUser: 2,
          registerPerIp: 2,
          registerPerUser: 2,
          refreshPerIp: 2,
        },
      },
      a.t,
    ),
  );
  // The counts live in the database, shared by every gateway on it (migration 0011): what the
  // other tests of this file spent from this IP counts too, so this test starts from none.
  await a.t.db.query('delete from pgauth.rate_limits');
  try {
    const statuses = async (path: string, bodies: object[]): Promise<number[]> => {
      const out: number[] = [];
      for (const json of bodies) out.push((await b.call('POST', path, { json })).status);
      return out;
    };
    const wrong = (username: string) => ({ username, password: 'not the right one' });
    assert.deepEqual(
      await statuses('/v1/login', [wrong('rl-a'), wrong('rl-a'), wrong('rl-a')]),
      [401, 401, 429],
    );
    // Another username from the same IP: the per-IP budget (4) has one attempt left.
    assert.deepEqual(await statuses('/v1/login', [wrong('rl-b'), wrong('rl-b')]), [401, 429]);
    const limited = await b.call('POST', '/v1/login', { json: wrong('rl-c') });
    assert.equal(limited.status, 429);
    assert.ok(isErrorBody(limited, 'rate_limited'), limited.text);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);

    assert.deepEqual(
      await statuses('/v1/users', [
        { username: 'rl-r1', password: PASSWORD },
        { username: 'rl-r2', password: PASSWORD },
        { username: 'rl-r3', password: PASSWORD },
      ]),
      [201, 201, 429],
    );
    const token = { refresh_token: 'pgr_nothing' };
    assert.deepEqual(await statuses('/v1/refresh', [token, token, token]), [401, 401, 429]);
    const metrics = (await b.call('GET', '/metrics')).text;
    assert.ok(sample(metrics, 'pgauth_logins_total', 'outcome="rate_limited"') >= 3);
  } finally {
    await b.a.close();
  }
});

test('with --trust-proxy the client IP comes from X-Forwarded-For, otherwise it is ignored', async () => {
  const b = bindApp(await startApp({ trustProxy: true }, a.t));
  try {
    await createUser('proxied');
    await b.call('POST', '/v1/login', {
      json: { username: 'proxied', password: PASSWORD },
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    await call('POST', '/v1/login', {
      json: { username: 'proxied', password: PASSWORD },
      headers: { 'x-forwarded-for': '198.51.100.9' },
    });
    const r = await a.t.db.query<{ ip: string }>(
      `select host(client_ip) as ip from pgauth.audit_log a join pgauth.users u on u.id = a.user_id
       where u.username = 'proxied' and a.event = 'login_success' order by a.id`,
    );
    assert.deepEqual(
      r.rows.map((x) => x.ip),
      ['203.0.113.7', '127.0.0.1'],
    );
  } finally {
    await b.a.close();
  }
});
