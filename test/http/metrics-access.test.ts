/**
 * /metrics tells how many logins fail, how busy the pool is, and the process's memory: not for the
 * public port. By default the main port answers it to loopback clients only (a Prometheus agent
 * on the same host); --metrics-listen serves it on an address of its own, and the main port then
 * has none.
 */
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { ConfigError, serveConfig } from '../../packages/pgauth/src/config.ts';
import { buildApp } from '../../packages/pgauth/src/server/app.ts';
import { listenMetrics } from '../../packages/pgauth/src/server/metrics-listener.ts';
import { startGateway } from '../helpers/cluster.ts';
import { openTestDatabase, postgresOnly, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { call, isErrorBody, startApp } from './helpers.ts';

let t: TestDatabase;
before(async () => {
  t = await openTestDatabase();
});
after(() => t.close());

/** An IPv4 address of this host that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
}

test('GET /metrics on the main port answers loopback clients only: 404 to another address or through a proxy', async () => {
  const a = await startApp({}, t);
  try {
    const direct = await call(a, 'GET', '/metrics');
    assert.equal(direct.status, 200);
    assert.match(direct.text, /pgauth_db_pool_size/);
    const proxied: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.9' },
      { forwarded: 'for=203.0.113.9' },
      { 'x-real-ip': '203.0.113.9' },
    ];
    for (const headers of proxied) {
      const r = await call(a, 'GET', '/metrics', { headers });
      assert.equal(r.status, 404, JSON.stringify(headers));
      assert.ok(isErrorBody(r, 'not_found'), r.text);
      assert.doesNotMatch(r.text, /pgauth_/);
    }
  } finally {
    await a.close();
  }
  // Behind a trusted proxy on this host the client is whoever the proxy names.
  const proxied = await startApp({ trustProxy: '127.0.0.1' }, t);
  try {
    const r = await call(proxied, 'GET', '/metrics', {
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(r.status, 404);
  } finally {
    await proxied.close();
  }
  const outside = outsideAddress();
  if (!outside) return;
  // The same gateway on every interface, reached over an address that is not loopback.
  const app = await buildApp({ db: t.db, logger: false });
  await app.listen({ host: '0.0.0.0', port: 0 });
  try {
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const far = await fetch(`http://${outside}:${port}/metrics`);
    assert.equal(far.status, 404);
    assert.equal((await fetch(`http://${outside}:${port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
  } finally {
    await app.close();
  }
});

test('--metrics-listen serves /metrics on its own listener, and the main port then has none', async () => {
  const a = await startApp({ metricsOnMainPort: false }, t);
  const m = await listenMetrics(a.app, { host: '127.0.0.1', port: 0 });
  try {
    assert.equal((await call(a, 'GET', '/metrics')).status, 404);
    await call(a, 'GET', '/healthz');
    const r = await fetch(`${m.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await r.text();
    // The registry of the main app: its requests are counted there.
    assert.match(text, /http_requests_total\{route="\/healthz",method="GET",status="200"\} 1/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const other = await fetch(`${m.url}/v1/session`);
    assert.equal(other.status, 404);
  } finally {
    await a.close();
  }
  // Closing the gateway closes its metrics listener too.
  await assert.rejects(fetch(`${m.url}/metrics`));
});

test('pgauth serve --metrics-listen 127.0.0.1:0 prints the metrics address; the main port has no /metrics', {
  skip: postgresOnly,
  timeout: 60_000,
}, async () => {
  const g = await startGateway(t.url ?? '', ['--metrics-listen', '127.0.0.1:0']);
  try {
    // The start lines follow the listening line; wait for the one naming the metrics.
    const url = await waitFor(
      'the start line naming the metrics listener',
      () => /metrics on (http:\/\/\S+)/.exec(g.stdout())?.[1],
      10_000,
      20,
    );
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /pgauth_db_pool_size/);
    assert.equal((await fetch(`${g.url}/metrics`)).status, 404);
  } finally {
    await g.stop();
  }
});

test('--metrics-listen takes host:port or a port; anything else stops the start', () => {
  assert.deepEqual(serveConfig({ metricsListen: '0.0.0.0:9464' }).metricsListen, {
    host: '0.0.0.0',
    port: 9464,
  });
  assert.deepEqual(serveConfig({ metricsListen: '9464' }).metricsListen, {
    host: '127.0.0.1',
    port: 9464,
  });
  assert.deepEqual(serveConfig({ metricsListen: '[::1]:9464' }).metricsListen, {
    host: '::1',
    port: 9464,
  });
  assert.equal(serveConfig({}).metricsListen, null);
  for (const bad of ['host:', ':9464x', 'a:b:c', '127.0.0.1:70000', 'http://x:1', '[::1]']) {
    assert.throws(() => serveConfig({ metricsListen: bad }), ConfigError, bad);
  }
});
