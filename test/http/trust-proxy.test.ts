/**
 * --trust-proxy: which X-Forwarded-For entry is the client. The client writes the header as it
 * likes and each proxy appends the address it saw, so only entries counted from the right, as
 * far as the trusted proxies go, can be believed. `true` believes the leftmost entry, which the
 * client chose: it is kept for compatibility and warned about at start.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError, serveConfig } from '../../packages/pgauth/src/config.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { call, createUser, PASSWORD, startApp } from './helpers.ts';

let t: TestDatabase;
before(async () => {
  t = await openTestDatabase();
});
after(() => t.close());

/** The client IP the gateway records for a login sent with this X-Forwarded-For. */
async function recordedIp(trustProxy: string, forwardedFor: string): Promise<string | undefined> {
  const a = await startApp({ trustProxy: serveConfig({ trustProxy }).trustProxy }, t);
  try {
    const username = `tp_${Math.random().toString(36).slice(2, 10)}`;
    await createUser(a, username);
    const r = await call(a, 'POST', '/v1/login', {
      json: { username, password: PASSWORD },
      headers: { 'x-forwarded-for': forwardedFor },
    });
    assert.equal(r.status, 200, r.text);
    const row = await t.db.query<{ ip: string }>(
      `select host(a.client_ip) as ip from pgauth.audit_log a join pgauth.users u on u.id = a.user_id
       where u.username = $1 and a.event = 'login_success'`,
      [username],
    );
    return row.rows[0]?.ip;
  } finally {
    await a.close();
  }
}

test('--trust-proxy 1 (a hop count) takes the entry one proxy back, never the leftmost one the client wrote', async () => {
  assert.equal(serveConfig({ trustProxy: '1' }).trustProxy, 1);
  assert.equal(serveConfig({ trustProxy: '2' }).trustProxy, 2);
  assert.equal(serveConfig({ trustProxy: '0' }).trustProxy, false);
  // The client wrote 6.6.6.6; the one proxy (the TCP peer) appended what it saw: 203.0.113.7.
  assert.equal(await recordedIp('1', '6.6.6.6, 203.0.113.7'), '203.0.113.7');
  // Two proxies: the outer one appended the client, the inner one (the TCP peer) the outer one.
  assert.equal(await recordedIp('2', '6.6.6.6, 203.0.113.7, 10.0.0.5'), '203.0.113.7');
});

test('--trust-proxy with proxy addresses believes X-Forwarded-For only through them, from the right', async () => {
  assert.equal(await recordedIp('127.0.0.1', '6.6.6.6, 203.0.113.7'), '203.0.113.7');
  assert.equal(
    await recordedIp('127.0.0.1, 10.0.0.0/8', '6.6.6.6, 203.0.113.7, 10.0.0.5'),
    '203.0.113.7',
  );
  assert.equal(await recordedIp('loopback', '6.6.6.6, 198.51.100.4'), '198.51.100.4');
  // Not from a trusted proxy: the header is ignored.
  assert.equal(await recordedIp('10.0.0.0/8', '6.6.6.6'), '127.0.0.1');
});

test('--trust-proxy true believes the leftmost entry, and the gateway warns at start that any client can choose its IP', async () => {
  const a = await startApp({ trustProxy: serveConfig({ trustProxy: 'true' }).trustProxy }, t);
  try {
    const warning = a.logs.find((l) => /"level":40/.test(l) && /trust-proxy/.test(l));
    assert.ok(warning, a.logs.join(''));
    assert.match(warning, /X-Forwarded-For/);
  } finally {
    await a.close();
  }
  const quiet = await startApp({ trustProxy: serveConfig({ trustProxy: '1' }).trustProxy }, t);
  try {
    assert.equal(quiet.logs.filter((l) => /trust-proxy/.test(l)).length, 0);
  } finally {
    await quiet.close();
  }
});

test('--trust-proxy refuses anything but true, false, a hop count or addresses/CIDRs', () => {
  for (const bad of [
    'yes',
    '1.2.3.4/99',
    '999.1.1.1',
    'true,1.2.3.4',
    '-1',
    '1.5',
    '100',
    'fe80::/200',
  ]) {
    assert.throws(() => serveConfig({ trustProxy: bad }), ConfigError, bad);
  }
  assert.equal(serveConfig({ trustProxy: '10.0.0.0/8, ::1' }).trustProxy, '10.0.0.0/8, ::1');
});
