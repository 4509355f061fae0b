/**
 * Every route that verifies a password is a way to guess one, and every call of it costs a hash:
 * POST /v1/password counts against the login limits (per client IP, per account), and the
 * hashing slots are shared fairly between clients, so that a flood from one client cannot make
 * the logins of others wait behind it or get 503.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { postgresOnly } from '../helpers/db.ts';
import { call, createUser, login, PASSWORD, startApp, type TestApp } from './helpers.ts';

let a: TestApp;
before(async () => {
  a = await startApp({
    trustProxy: '127.0.0.1',
    rateLimit: {
      loginPerIp: 4,
      loginPerUser: 3,
      registerPerIp: 1_000,
      registerPerUser: 1_000,
      refreshPerIp: 1_000,
    },
  });
});
after(() => a.close());

const from = (ip: string) => ({ 'x-forwarded-for': ip });

test('POST /v1/password verifies a password, so it gets the login limits: per client IP and per account, shared with POST /v1/login; 429 rate_limited with Retry-After', async () => {
  await createUser(a, 'pw_guessed');
  const r0 = await call(a, 'POST', '/v1/login', {
    json: { username: 'pw_guessed', password: PASSWORD },
    headers: from('192.0.2.1'),
  });
  assert.equal(r0.status, 200);
  const token = r0.json.access_token as string;
  const guess = (ip: string, current = 'a wrong guess of it') =>
    call(a, 'POST', '/v1/password', {
      token,
      json: { current_password: current, new_password: 'the new long passphrase' },
      headers: from(ip),
    });
  // Per account: the login and two guesses from three other IPs use its budget of 3.
  assert.equal((await guess('192.0.2.2')).status, 401);
  assert.equal((await guess('192.0.2.3')).status, 401);
  const limited = await guess('192.0.2.4', PASSWORD);
  assert.equal(limited.status, 429, limited.text);
  assert.equal(limited.json.error, 'rate_limited');
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
  // The account's budget is the login's too.
  const l = await call(a, 'POST', '/v1/login', {
    json: { username: 'pw_guessed', password: PASSWORD },
    headers: from('192.0.2.5'),
  });
  assert.equal(l.status, 429);

  // Per client IP, counted before the token is even checked, and shared with /v1/login.
  await createUser(a, 'pw_other');
  const other = await login(a, 'pw_other');
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await call(a, 'POST', '/v1/password', {
      token: i === 0 ? other.access_token : 'pga_not-a-token',
      json: { current_password: 'wrong guess', new_password: 'the new long passphrase' },
      headers: from('198.51.100.7'),
    });
    statuses.push(r.status);
  }
  const viaLogin = await call(a, 'POST', '/v1/login', {
    json: { username: 'pw_other', password: 'wrong guess' },
    headers: from('198.51.100.7'),
  });
  statuses.push(viaLogin.status);
  const fifth = await call(a, 'POST', '/v1/password', {
    token: other.access_token,
    json: { current_password: PASSWORD, new_password: 'the new long passphrase' },
    headers: from('198.51.100.7'),
  });
  statuses.push(fifth.status);
  assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
});

// PGlite runs one statement at a time, first come first served: the requests of a flood reach
// the hashing bound one by one (each waits for its username's folding behind the hashes), so no
// queue forms there to share, and the others' logins wait in the engine's own line instead.
test('a flood of logins from one client cannot starve the hashing of others: concurrent logins from another IP all succeed', {
  skip: postgresOnly,
}, async () => {
  const b = await startApp({ trustProxy: '127.0.0.1', hashConcurrency: 1 }, a.t);
  // A hash long enough that the flood is still queued when the others arrive.
  await a.t.db.exec('update pgauth.settings set bcrypt_cost = 8');
  try {
    await createUser(b, 'fair_flooded');
    const others = ['fair_1', 'fair_2', 'fair_3', 'fair_4', 'fair_5'];
    for (const u of others) await createUser(b, u);
    const flood = Array.from({ length: 80 }, () =>
      call(b, 'POST', '/v1/login', {
        json: { username: 'fair_flooded', password: 'a wrong password' },
        headers: from('203.0.113.66'),
      }),
    );
    // The first refusal of the flood: its share of the queue is full.
    await Promise.race(
      flood.map(async (p) => {
        const r = await p;
        if (r.status === 503) return;
        await new Promise(() => {});
      }),
    );
    const logins = await Promise.all(
      others.map((username, i) =>
        call(b, 'POST', '/v1/login', {
          json: { username, password: PASSWORD },
          headers: from(`198.51.100.${i + 10}`),
        }),
      ),
    );
    assert.deepEqual(
      logins.map((r) => r.status),
      [200, 200, 200, 200, 200],
      logins.map((r) => r.text).join('\n'),
    );
    const done = await Promise.all(flood);
    const count = (s: number) => done.filter((r) => r.status === s).length;
    assert.equal(count(401) + count(503), done.length, 'only 401 and 503');
    assert.ok(count(503) > 0 && count(401) > 0);
    for (const r of done.filter((x) => x.status === 503)) {
      assert.equal(r.json.error, 'unavailable');
      assert.ok(r.headers.get('retry-after'));
    }
  } finally {
    await a.t.db.exec('update pgauth.settings set bcrypt_cost = 4');
    await b.close();
  }
});

test('a request admitted to the hashing queue gives its place back however it ends: malformed, refused, or cut mid-body', async () => {
  const b = await startApp({ hashConcurrency: 1 }, a.t);
  try {
    await createUser(b, 'fair_after');
    const { port } = new URL(b.url);
    const cut = (): Promise<void> =>
      new Promise((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(
            'POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
          );
          // Cut the connection mid-body, as a client that gives up does.
          setTimeout(() => socket.destroy(), 20);
        });
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    for (let i = 0; i < 60; i++) await cut();
    for (let i = 0; i < 60; i++) {
      const r = await call(b, 'POST', '/v1/login', {
        body: '{"username":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(r.status, 400);
    }
    const r = await call(b, 'POST', '/v1/login', {
      json: { username: 'fair_after', password: PASSWORD },
    });
    assert.equal(r.status, 200, r.text);
  } finally {
    await b.close();
  }
});
